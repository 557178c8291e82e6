"""The local Label Studio server: its executable, start (or reuse), stop, kill, and the watchdog.

``serve`` runs Label Studio in the background with SQLite in a data folder (:mod:`.data_dir`), or
on a PostgreSQL database (:mod:`.database`); the server is found again by the pid and URL
recorded there, and stopped by that pid.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from ..errors import LabelStudioError
from .connection import Connection
from .database import Database, choose_database, prepare_database, server_env
from .data_dir import DEFAULT_DATA_DIR, LOG_FILE, PASSWORD_FILE, STATE_FILE, TOKEN_FILE, _read_state, _secret

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_LS_BIN = REPO_ROOT / ".venv-ls" / "bin" / "label-studio"
"""Where ``.ci/run`` installs the Label Studio server (its own virtual environment)."""
LS_BIN_ENV = "DATASET_BUILDER_LS_BIN"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_USERNAME = "admin@localhost"


@dataclass(frozen=True)
class ServerInfo:
    """A local Label Studio started (or found running) by :func:`start_server`.

    The password and token live in 0600 files in ``data_dir``; ``api_key`` is excluded from repr.
    """

    url: str
    pid: int
    data_dir: Path
    username: str
    password_file: Path
    token_file: Path
    log_file: Path
    reused: bool
    api_key: str = field(repr=False)
    database: str = "sqlite"  # or the PostgreSQL URL, without password


    def connection(self) -> Connection:
        return Connection(url=self.url, api_key=self.api_key, source=f"local server in {self.data_dir}")


@dataclass(frozen=True)
class StopReport:
    data_dir: Path
    pid: int | None
    was_running: bool
    killed: bool  # True when SIGTERM was not enough


def _utc_now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------------------------
# Processes and ports
# --------------------------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive for our purposes.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[-1].split()[0] == "Z":
            return False
    return True


def _is_our_server(pid: int) -> bool:
    """True when ``pid`` runs Label Studio (guards against a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return _pid_alive(pid)  # no /proc: trust the pid file
    return b"label-studio" in cmdline or b"label_studio" in cmdline


def _recorded_server(state: Mapping[str, Any]) -> int | None:
    """The pid in ``state`` when it is a live Label Studio, else None."""
    pid = state.get("pid")
    if isinstance(pid, int) and _pid_alive(pid) and _is_our_server(pid):
        return pid
    return None


def health(url: str, *, timeout: float = 2.0) -> bool:
    """True when ``GET {url}/health`` answers 200."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/health", timeout=timeout) as resp:  # noqa: S310 (http only)
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def free_port(host: str = DEFAULT_HOST) -> int:
    """A TCP port nobody listens on right now (for tests and ``serve --port 0``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def ls_binary(path: str | Path | None = None) -> Path:
    """The ``label-studio`` executable: ``path``, else env ``DATASET_BUILDER_LS_BIN``, else ``.venv-ls``.

    Raises
    ------
    LabelStudioError
        The executable does not exist.
    """
    chosen = Path(path) if path else Path(os.environ.get(LS_BIN_ENV) or DEFAULT_LS_BIN)
    if not chosen.is_file():
        raise LabelStudioError(
            f"Label Studio executable not found at {chosen}; install it in its own virtual environment "
            f"(python -m venv .venv-ls && .venv-ls/bin/pip install label-studio) or set {LS_BIN_ENV}."
        )
    return chosen


# --------------------------------------------------------------------------------------------
# Start
# --------------------------------------------------------------------------------------------


def start_server(
    data_dir: str | Path = DEFAULT_DATA_DIR,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    username: str = DEFAULT_USERNAME,
    ls_bin: str | Path | None = None,
    timeout: float = 120.0,
    extra_env: Mapping[str, str] | None = None,
    stop_with_pid: int | None = None,
    database: Database | None = None,
) -> ServerInfo:
    """Start a local Label Studio (SQLite in ``data_dir``, or PostgreSQL) in the background, or reuse it.

    On first start this creates ``data_dir`` (mode 0700), a random password and a random 40-hex
    API token (files ``password`` and ``api_token``, mode 0600), and the first user ``username``
    with that token. The server's output goes to ``label-studio.log``; its pid and URL to
    ``server.json``. If the server recorded there is alive and healthy, it is reused.

    Parameters
    ----------
    port : int
        0 picks a free port. A port already taken by another program is an error (Label Studio
        itself would silently move to the next port).
    timeout : float
        Seconds to wait for ``/health``.
    extra_env : mapping
        More environment for the server.
    database : Database, optional
        Run on this PostgreSQL database (:func:`~.database.parse_database_url`) instead of SQLite.
        It is recorded in ``database.json`` and its password, if any, in ``pgpass`` (0600), so a
        later start on the same folder without ``database`` uses it again; another database for
        the same folder is an error.
    stop_with_pid : int, optional
        Stop the server when this process ends, even if it is killed without cleaning up (the
        test session passes its own pid). A small watchdog process polls it once a second.

    Raises
    ------
    LabelStudioError
        Executable missing, port taken, the server exits or does not answer in time (the
        message quotes the end of its log), or, on PostgreSQL, the database already had the user
        with another token.
    """
    data_dir = Path(data_dir).absolute()
    db = choose_database(data_dir, database)
    db_label = db.url if db is not None else "sqlite"
    state = _read_state(data_dir)
    token_file, password_file, log_file = data_dir / TOKEN_FILE, data_dir / PASSWORD_FILE, data_dir / LOG_FILE

    pid = _recorded_server(state)
    if pid is not None:
        url = state["url"]
        if _wait_for_running(data_dir, pid, url, timeout):
            return ServerInfo(
                url=url, pid=pid, data_dir=data_dir, username=state.get("username", username),
                password_file=password_file, token_file=token_file, log_file=log_file, reused=True,
                api_key=token_file.read_text(encoding="utf-8").strip(), database=db_label,
            )

    binary = ls_binary(ls_bin)
    port = _usable_port(host, port)
    api_key, password = _prepare_data_dir(data_dir)
    if db is not None:
        prepare_database(data_dir, db)
    username = state.get("username", username)
    url = f"http://{host}:{port}"
    env = server_env(data_dir, db, _server_env(data_dir, username, password, api_key, extra_env))
    proc = _spawn(binary, host, port, data_dir, env)
    if stop_with_pid is not None:
        _start_watchdog(stop_with_pid, proc.pid)
    state = {"pid": proc.pid, "url": url, "host": host, "port": port, "username": username,
             "started_at": _utc_now_iso()}
    (data_dir / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    _wait_for_started(proc, data_dir, url, timeout)
    if db is not None and not _token_accepted(url, api_key):
        _terminate(proc.pid)
        (data_dir / STATE_FILE).unlink(missing_ok=True)
        raise LabelStudioError(
            f"Label Studio on {db.url} rejects the token in {token_file}, so it was stopped: the database already has "
            f"the user {username} (a new data folder on a database used before), whose own token Label Studio keeps. "
            f"Write that user's token (Account & Settings) into {token_file} and run serve again, "
            "or pass another --username."
        )
    return ServerInfo(
        url=url, pid=proc.pid, data_dir=data_dir, username=username, password_file=password_file,
        token_file=token_file, log_file=log_file, reused=False, api_key=api_key, database=db_label,
    )


def _token_accepted(url: str, api_key: str) -> bool:
    """False when the server answers 401/403 to ``api_key`` (other failures are not this question)."""
    req = urllib.request.Request(f"{url}/api/current-user/whoami", headers={"Authorization": f"Token {api_key}"})
    try:
        with urllib.request.urlopen(req, timeout=30):  # noqa: S310 (http only)
            return True
    except urllib.error.HTTPError as exc:
        return exc.code not in (401, 403)
    except (urllib.error.URLError, OSError):
        return True


def _wait_for_running(data_dir: Path, pid: int, url: str, timeout: float) -> bool:
    """Wait until the recorded server ``pid`` answers ``/health`` (True), or has exited (False).

    Raises
    ------
    LabelStudioError
        It is alive but does not answer within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while not health(url):
        if not _pid_alive(pid):
            return False
        if time.monotonic() > deadline:
            raise LabelStudioError(
                f"the Label Studio recorded in {data_dir / STATE_FILE} (pid {pid}) does not answer {url}/health "
                f"after {timeout:.0f} s; run `dataset-builder stop` then `serve` again."
            )
        time.sleep(0.5)
    return True


def _usable_port(host: str, port: int) -> int:
    """``port``, or a free one for 0; a port taken by another program is an error."""
    if port == 0:
        port = free_port(host)
    if _port_in_use(host, port) or _port_in_use("127.0.0.1", port):
        raise LabelStudioError(
            f"port {port} is already in use by another program; pass another --port (or 0 for a free one)."
        )
    return port


def _prepare_data_dir(data_dir: Path) -> tuple[str, str]:
    """Create ``data_dir`` (0700) and its token and password files if missing; returns ``(token, password)``."""
    token_file = data_dir / TOKEN_FILE
    if (data_dir / "label_studio.sqlite3").is_file() and not token_file.is_file():
        raise LabelStudioError(
            f"{data_dir} holds a Label Studio database but no {TOKEN_FILE} file, so the token of its user is unknown; "
            f"write that user's token (Account & Settings) into {token_file}, or use a new --data-dir."
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    api_key = _secret(token_file, lambda: secrets.token_hex(20))
    password = _secret(data_dir / PASSWORD_FILE, lambda: secrets.token_urlsafe(18))
    return api_key, password


def _server_env(data_dir: Path, username: str, password: str, api_key: str,
                extra_env: Mapping[str, str] | None) -> dict[str, str]:
    """The server's environment: ours without the client's settings, plus the server's own."""
    env = dict(os.environ)
    # The client's settings must not leak into the server, whose own settings follow.
    for name in ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY"):
        env.pop(name, None)
    env.update(
        {
            "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
            "LABEL_STUDIO_USERNAME": username,
            "LABEL_STUDIO_PASSWORD": password,
            "LABEL_STUDIO_USER_TOKEN": api_key,
            "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
            "LATEST_VERSION_CHECK": "false",  # no call to pypi.org at start
            "COLLECT_ANALYTICS": "false",
        }
    )
    env.update(extra_env or {})
    return env


def _spawn(binary: Path, host: str, port: int, data_dir: Path, env: Mapping[str, str]) -> subprocess.Popen:
    """Run ``label-studio start`` in its own session, its output appended to the log file."""
    with open(data_dir / LOG_FILE, "ab") as log:
        return subprocess.Popen(  # noqa: S603 (fixed argv, no shell)
            [str(binary), "start", "--no-browser", "--internal-host", host, "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(data_dir),
            start_new_session=True,  # survives the CLI's Ctrl-C; stopped with `stop`
        )


def _wait_for_started(proc: subprocess.Popen, data_dir: Path, url: str, timeout: float) -> None:
    """Wait for the new server's ``/health``; on exit or timeout, forget it and raise with its log tail."""
    log_file = data_dir / LOG_FILE
    deadline = time.monotonic() + timeout
    while not health(url):
        if proc.poll() is not None:
            (data_dir / STATE_FILE).unlink(missing_ok=True)
            raise LabelStudioError(
                f"Label Studio exited with code {proc.returncode} while starting; end of {log_file}: {_log_tail(log_file)}"
            )
        if time.monotonic() > deadline:
            _terminate(proc.pid)
            (data_dir / STATE_FILE).unlink(missing_ok=True)
            raise LabelStudioError(
                f"Label Studio did not answer {url}/health within {timeout:.0f} s and was stopped; "
                f"end of {log_file}: {_log_tail(log_file)}"
            )
        time.sleep(0.5)


_WATCHDOG = """
import os, signal, sys, time
owner, server = int(sys.argv[1]), int(sys.argv[2])
def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True
while alive(server):
    if not alive(owner):
        os.kill(server, signal.SIGTERM)
        for _ in range(100):
            if not alive(server):
                break
            time.sleep(0.2)
        else:
            os.kill(server, signal.SIGKILL)
        break
    time.sleep(1.0)
"""


def _start_watchdog(owner_pid: int, server_pid: int) -> None:
    """A detached process that stops ``server_pid`` once ``owner_pid`` is gone, then exits."""
    subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", _WATCHDOG, str(owner_pid), str(server_pid)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )


def _log_tail(path: Path, n: int = 300) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return " | ".join(text[-n:].splitlines()[-4:]) or "(empty log)"


# --------------------------------------------------------------------------------------------
# Stop
# --------------------------------------------------------------------------------------------


def _terminate(pid: int, *, grace: float = 20.0) -> bool:
    """SIGTERM then, after ``grace`` seconds, SIGKILL. Returns True when SIGKILL was needed."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if _wait_gone(pid, grace, 0.2):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    _wait_gone(pid, 5.0, 0.1)
    return True


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _wait_gone(pid: int, timeout: float, interval: float) -> bool:
    """Reap and poll ``pid`` until it is gone (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while True:
        _reap(pid)
        if not _pid_alive(pid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def kill_server(data_dir: str | Path) -> int | None:
    """SIGKILL the recorded server at once, as a crash would (for tests). Returns its pid."""
    pid = _recorded_server(_read_state(Path(data_dir).absolute()))
    if pid is not None:
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, 5.0, 0.05)
        return pid
    return None


def stop_server(data_dir: str | Path = DEFAULT_DATA_DIR, *, grace: float = 20.0) -> StopReport:
    """Stop the server recorded in ``data_dir`` by its pid (SIGTERM, then SIGKILL after ``grace`` s).

    Stopping a server that is not running is not an error (``was_running`` is False). Data,
    password and token stay, so the next ``serve`` finds the same projects and key.
    """
    data_dir = Path(data_dir).absolute()
    state = _read_state(data_dir)
    pid = _recorded_server(state)
    if pid is None:
        (data_dir / STATE_FILE).unlink(missing_ok=True)
        recorded = state.get("pid")
        return StopReport(data_dir=data_dir, pid=recorded if isinstance(recorded, int) else None,
                          was_running=False, killed=False)
    killed = _terminate(pid, grace=grace)
    (data_dir / STATE_FILE).unlink(missing_ok=True)
    return StopReport(data_dir=data_dir, pid=pid, was_running=True, killed=killed)


def asdict(obj: Any) -> dict[str, Any]:
    """Public fields of a report record (never a key)."""
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.repr}
