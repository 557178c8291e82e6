"""Label Studio: a local server, push (segments -> tasks) and pull (raw export snapshots).

This is the only module of the package that touches the network or imports
``label_studio_sdk``; SDK objects never leave it (functions return this module's records).

Input
    Segments (JSONL rows of :class:`~dataset_builder.records.Segment`, optionally with ``title``,
    ``date`` and, for a config with a given target, ``target``/``target_start``/``target_end``),
    a labelling config (:mod:`dataset_builder.schema`), optional predictions (JSONL).
Output
    A Label Studio project with one task per segment (task ``data``: ``text``, ``segment_id``,
    ``article_id``, ``start``, ``end``, ``title``, ``date`` and the target fields), and raw export
    snapshots kept byte-for-byte under ``exports/<project-slug>/<UTC time>-<sha256[:12]>/``.

Invariants
    * Push is idempotent: a project never gets two tasks with the same ``segment_id`` from us.
      The server is the source of truth: before importing, push lists the ``segment_id`` of the
      tasks already there, so re-running a push after a crash imports only what is missing.
    * Retries with exponential back-off on connection errors and 5xx/429 answers. A batch whose
      outcome is unknown (the request may have reached the server) is re-checked against the
      server before it is sent again.
    * The API key is never printed, logged or written anywhere but the 0600 token file that
      ``serve`` creates in its data folder; it is excluded from every ``repr``.
    * Offsets: records use Python code points, and so does Label Studio 1.23.2 for text regions,
      both in what its editor stores and in how it draws regions sent through the API (seen in a
      real browser, see ``docs/label_studio_offsets.md``): regions are sent as code points, with
      ``value.text`` as the cross-check.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import html
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from .errors import DatasetBuilderError, ExportError, InputError, LabelStudioError, SchemaError
from .jsonl import read_jsonl
from .records import Rejection, Segment
from .schema import LabelSchema, list_configs, load_schema, parse_schema

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LS_BIN = REPO_ROOT / ".venv-ls" / "bin" / "label-studio"
"""Where ``.ci/run`` installs the Label Studio server (its own virtual environment)."""
LS_BIN_ENV = "DATASET_BUILDER_LS_BIN"
DEFAULT_DATA_DIR = Path(".ls-data")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_USERNAME = "admin@localhost"
DEFAULT_CONFIG_FILE = Path(".dataset-builder.toml")
TARGET_MODEL_VERSION = "target-premark"
"""``model_version`` of the prediction that pre-marks the given target in ``target_stance`` tasks."""

STATE_FILE = "server.json"
TOKEN_FILE = "api_token"
PASSWORD_FILE = "password"
LOG_FILE = "label-studio.log"

_TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
FIRST_CONTACT_RETRIES = 2
"""Retries of the first request of a session: a server never reached is reported quickly."""


# --------------------------------------------------------------------------------------------
# Connection settings
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Connection:
    """Where Label Studio is and the key to talk to it. The key never shows in ``repr``/``str``."""

    url: str
    api_key: str = field(repr=False)
    source: str = ""  # where the settings came from, for messages (never the key itself)

    def __post_init__(self) -> None:
        if not re.match(r"^https?://[^/\s]+", self.url or ""):
            raise LabelStudioError(
                f"Label Studio URL must start with http:// or https://; got {self.url!r} ({self.source}). "
                "Set LABEL_STUDIO_URL, e.g. http://127.0.0.1:8080."
            )
        object.__setattr__(self, "url", self.url.rstrip("/"))
        if not self.api_key or not self.api_key.strip():
            raise LabelStudioError(f"empty Label Studio API key ({self.source}); set LABEL_STUDIO_API_KEY.")
        object.__setattr__(self, "api_key", self.api_key.strip())

    @property
    def safe_url(self) -> str:
        """The URL without any ``user:password@`` part, fit for messages and manifests."""
        return re.sub(r"^(https?://)[^/@]*@", r"\1", self.url)


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the connection config ({exc.strerror}).") from None
    try:
        if path.suffix == ".json":
            data = json.loads(raw.decode("utf-8"))
        else:
            data = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'TOML'} ({exc}).") from None
    section = data.get("label_studio", data) if isinstance(data, dict) else None
    if not isinstance(section, dict):
        raise InputError(f"{path}: expected a [label_studio] table with url and api_key/api_key_file.")
    unknown = sorted(set(section) - {"url", "api_key", "api_key_file", "data_dir"})
    if unknown and "label_studio" in data:
        raise InputError(
            f"{path}: unknown key(s) {', '.join(unknown)} in [label_studio]; expected url, api_key, api_key_file, data_dir."
        )
    return section


def resolve_connection(
    *,
    config_file: str | Path | None = None,
    data_dir: str | Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Connection:
    """Find the Label Studio URL and API key.

    Each of the two is taken from the first place that has it:

    1. the environment: ``LABEL_STUDIO_URL``, ``LABEL_STUDIO_API_KEY``;
    2. the config file: ``config_file`` if given, else ``./.dataset-builder.toml`` if it exists;
       a ``[label_studio]`` table (TOML, or the same keys in JSON) with ``url`` and ``api_key`` or
       ``api_key_file`` (a path to a file holding the key), optionally ``data_dir``;
    3. the local server that ``dataset-builder serve`` started in ``data_dir`` (default
       ``./.ls-data``): its recorded URL and its token file.

    Raises
    ------
    LabelStudioError
        No URL or no key anywhere (the message lists where it looked), or an unreadable key file.
    """
    env = os.environ if env is None else env
    cfg: dict[str, Any] = {}
    cfg_name = ""
    if config_file is not None:
        cfg = _read_config_file(Path(config_file))
        cfg_name = str(config_file)
    elif DEFAULT_CONFIG_FILE.is_file():
        cfg = _read_config_file(DEFAULT_CONFIG_FILE)
        cfg_name = str(DEFAULT_CONFIG_FILE)
    ddir = Path(data_dir if data_dir is not None else cfg.get("data_dir") or DEFAULT_DATA_DIR)
    state = _read_state(ddir)

    url, url_from = None, ""
    if env.get("LABEL_STUDIO_URL"):
        url, url_from = env["LABEL_STUDIO_URL"], "LABEL_STUDIO_URL"
    elif cfg.get("url"):
        url, url_from = str(cfg["url"]), cfg_name
    elif state.get("url"):
        url, url_from = state["url"], str(ddir / STATE_FILE)

    key, key_from = None, ""
    if env.get("LABEL_STUDIO_API_KEY"):
        key, key_from = env["LABEL_STUDIO_API_KEY"], "LABEL_STUDIO_API_KEY"
    elif cfg.get("api_key"):
        key, key_from = str(cfg["api_key"]), cfg_name
    elif cfg.get("api_key_file"):
        key_path = Path(str(cfg["api_key_file"])).expanduser()
        try:
            key = key_path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise LabelStudioError(f"{cfg_name}: cannot read api_key_file {key_path} ({exc.strerror}).") from None
        key_from = str(key_path)
    elif (ddir / TOKEN_FILE).is_file():
        key = (ddir / TOKEN_FILE).read_text(encoding="utf-8").strip()
        key_from = str(ddir / TOKEN_FILE)

    looked = f"the environment, {cfg_name or DEFAULT_CONFIG_FILE}, {ddir}"
    if not url:
        raise LabelStudioError(
            f"no Label Studio URL found (looked in {looked}); set LABEL_STUDIO_URL or start a local server "
            "with `dataset-builder serve`."
        )
    if not key:
        raise LabelStudioError(
            f"no Label Studio API key found (looked in {looked}); set LABEL_STUDIO_API_KEY to the token shown "
            "under Account & Settings in Label Studio."
        )
    return Connection(url=url, api_key=key, source=f"url from {url_from}, key from {key_from}")


# --------------------------------------------------------------------------------------------
# Local server: serve / stop
# --------------------------------------------------------------------------------------------


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

    def connection(self) -> Connection:
        return Connection(url=self.url, api_key=self.api_key, source=f"local server in {self.data_dir}")


@dataclass(frozen=True)
class StopReport:
    data_dir: Path
    pid: int | None
    was_running: bool
    killed: bool  # True when SIGTERM was not enough


def _read_state(data_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((data_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_secret(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value + "\n")
    os.chmod(path, 0o600)


def _secret(path: Path, make: Callable[[], str]) -> str:
    if path.is_file():
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return value
    value = make()
    _write_secret(path, value)
    return value


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
) -> ServerInfo:
    """Start a local Label Studio (SQLite in ``data_dir``) in the background, or reuse it.

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
        More environment for the server (for example ``DJANGO_DB``/``POSTGRE_*`` for PostgreSQL).
    stop_with_pid : int, optional
        Stop the server when this process ends, even if it is killed without cleaning up (the
        test session passes its own pid). A small watchdog process polls it once a second.

    Raises
    ------
    LabelStudioError
        Executable missing, port taken, or the server exits or does not answer in time (the
        message quotes the end of its log).
    """
    data_dir = Path(data_dir).absolute()
    state = _read_state(data_dir)
    token_file, password_file, log_file = data_dir / TOKEN_FILE, data_dir / PASSWORD_FILE, data_dir / LOG_FILE

    pid = state.get("pid")
    if isinstance(pid, int) and _pid_alive(pid) and _is_our_server(pid):
        url = state["url"]
        deadline = time.monotonic() + timeout
        while not health(url):
            if not _pid_alive(pid):
                break
            if time.monotonic() > deadline:
                raise LabelStudioError(
                    f"the Label Studio recorded in {data_dir / STATE_FILE} (pid {pid}) does not answer {url}/health "
                    f"after {timeout:.0f} s; run `dataset-builder stop` then `serve` again."
                )
            time.sleep(0.5)
        else:
            return ServerInfo(
                url=url, pid=pid, data_dir=data_dir, username=state.get("username", username),
                password_file=password_file, token_file=token_file, log_file=log_file, reused=True,
                api_key=token_file.read_text(encoding="utf-8").strip(),
            )

    binary = ls_binary(ls_bin)
    if port == 0:
        port = free_port(host)
    if _port_in_use(host, port) or _port_in_use("127.0.0.1", port):
        raise LabelStudioError(
            f"port {port} is already in use by another program; pass another --port (or 0 for a free one)."
        )
    if (data_dir / "label_studio.sqlite3").is_file() and not token_file.is_file():
        raise LabelStudioError(
            f"{data_dir} holds a Label Studio database but no {TOKEN_FILE} file, so the token of its user is unknown; "
            f"write that user's token (Account & Settings) into {token_file}, or use a new --data-dir."
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    api_key = _secret(token_file, lambda: secrets.token_hex(20))
    password = _secret(password_file, lambda: secrets.token_urlsafe(18))
    username = state.get("username", username)

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
    url = f"http://{host}:{port}"
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(  # noqa: S603 (fixed argv, no shell)
            [str(binary), "start", "--no-browser", "--internal-host", host, "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(data_dir),
            start_new_session=True,  # survives the CLI's Ctrl-C; stopped with `stop`
        )
    if stop_with_pid is not None:
        _start_watchdog(stop_with_pid, proc.pid)
    state = {"pid": proc.pid, "url": url, "host": host, "port": port, "username": username,
             "started_at": _utc_now_iso()}
    (data_dir / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")

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
    return ServerInfo(
        url=url, pid=proc.pid, data_dir=data_dir, username=username, password_file=password_file,
        token_file=token_file, log_file=log_file, reused=False, api_key=api_key,
    )


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
    state = _read_state(Path(data_dir).absolute())
    pid = state.get("pid")
    if isinstance(pid, int) and _pid_alive(pid) and _is_our_server(pid):
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
    pid = state.get("pid")
    if not isinstance(pid, int) or not _pid_alive(pid) or not _is_our_server(pid):
        (data_dir / STATE_FILE).unlink(missing_ok=True)
        return StopReport(data_dir=data_dir, pid=pid if isinstance(pid, int) else None, was_running=False, killed=False)
    killed = _terminate(pid, grace=grace)
    (data_dir / STATE_FILE).unlink(missing_ok=True)
    return StopReport(data_dir=data_dir, pid=pid, was_running=True, killed=killed)


# --------------------------------------------------------------------------------------------
# API session: errors, retries, back-off
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off: wait ``min(base * 2**k, cap)`` seconds before retry ``k + 1``."""

    retries: int = 6
    base: float = 0.5
    cap: float = 30.0

    def __post_init__(self) -> None:
        if not isinstance(self.retries, int) or self.retries < 0:
            raise ValueError(f"The 'retries' parameter of RetryPolicy must be an int >= 0. Got {self.retries!r} instead.")
        if self.base < 0 or self.cap < 0:
            raise ValueError(f"RetryPolicy base and cap must be >= 0. Got {self.base!r}, {self.cap!r} instead.")

    def delay(self, attempt: int) -> float:
        return min(self.base * (2**attempt), self.cap)


class _Transient(Exception):
    """A failure worth retrying; ``sent`` says whether the request may have reached the server."""

    def __init__(self, message: str, *, sent: bool):
        super().__init__(message)
        self.sent = sent


class _Session:
    """The SDK client plus the error mapping and retry loop. Never leaves this module."""

    def __init__(self, conn: Connection, *, retry: RetryPolicy | None = None, timeout: float = 300.0,
                 sleep: Callable[[float], None] = time.sleep):
        import httpx
        from label_studio_sdk import LabelStudio

        self.conn = conn
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self._httpx = httpx
        self.client = LabelStudio(base_url=conn.url, api_key=conn.api_key, timeout=timeout)
        self._download_http = None
        # Our own retry loop decides what is safe to resend, so the SDK must not resend by itself.
        self.opts: dict[str, Any] = {"max_retries": 0}
        self.reached = False

    def download_client(self):
        """A client whose read timeout is unlimited: a large export may take long to stream."""
        from label_studio_sdk import LabelStudio

        if self._download_http is None:
            http = self._httpx.Client(timeout=self._httpx.Timeout(30.0, read=None), follow_redirects=True)
            self._download_http = LabelStudio(base_url=self.conn.url, api_key=self.conn.api_key, httpx_client=http)
        return self._download_http

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client._client_wrapper.httpx_client.httpx_client.close()
        if self._download_http is not None:
            with contextlib.suppress(Exception):
                self._download_http._client_wrapper.httpx_client.httpx_client.close()

    def classify(self, exc: BaseException, what: str) -> BaseException:
        """Map an SDK/httpx exception to :class:`_Transient` or a one-line :class:`LabelStudioError`."""
        from label_studio_sdk.core.api_error import ApiError

        httpx = self._httpx
        url = self.conn.safe_url
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            return _Transient(f"cannot connect to Label Studio at {url} ({what}: {type(exc).__name__})", sent=False)
        if isinstance(exc, httpx.TransportError):
            return _Transient(f"connection to Label Studio at {url} broke ({what}: {type(exc).__name__})", sent=True)
        if isinstance(exc, ApiError):
            code = exc.status_code
            if code in (401, 403):
                return LabelStudioError(
                    f"Label Studio at {url} rejected the API key (HTTP {code} on {what}); set LABEL_STUDIO_API_KEY "
                    "to a valid token (Account & Settings > Access Token, or the api_token file of `dataset-builder serve`)."
                )
            if code is not None and code in _TRANSIENT_STATUS:
                return _Transient(f"Label Studio at {url} answered HTTP {code} ({what})", sent=True)
            body = exc.body if isinstance(exc.body, str) else json.dumps(exc.body, ensure_ascii=False, default=str)
            body = " ".join(str(body).split())[:240]
            if code == 404:
                return LabelStudioError(
                    f"Label Studio at {url} answered HTTP 404 on {what}; check that LABEL_STUDIO_URL is the "
                    f"Label Studio base URL (answer: {body})."
                )
            return LabelStudioError(f"Label Studio at {url} answered HTTP {code} on {what}: {body}")
        # pydantic / JSON errors: the URL answers, but not like Label Studio.
        name = type(exc).__name__
        if name in ("ValidationError", "JSONDecodeError", "ParsingError"):
            return LabelStudioError(
                f"the server at {url} did not answer like Label Studio on {what} ({name}); check LABEL_STUDIO_URL."
            )
        return exc

    def call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` with retries on transient failures; safe only for idempotent calls."""
        attempt = 0
        while True:
            try:
                out = fn(*args, request_options=self.opts, **kwargs)
                self.reached = True
                return out
            except Exception as exc:  # noqa: BLE001 (classified just below)
                mapped = self.classify(exc, what)
                if not isinstance(mapped, _Transient):
                    if mapped is exc:
                        raise
                    raise mapped from None
                # A server never reached in this session is most likely down or the URL wrong:
                # say so after a few seconds, not after the full back-off.
                limit = self.retry.retries if self.reached else min(self.retry.retries, FIRST_CONTACT_RETRIES)
                if attempt >= limit:
                    raise _give_up(mapped, attempt) from None
                self.sleep(self.retry.delay(attempt))
                attempt += 1


def _give_up(exc: _Transient, attempt: int) -> LabelStudioError:
    return LabelStudioError(
        f"{exc} after {attempt + 1} attempt(s); check that Label Studio is running (`dataset-builder serve`) "
        "and LABEL_STUDIO_URL is right. Nothing is lost: run the same command again to resume."
    )


@contextlib.contextmanager
def _session(conn: Connection, **kwargs: Any) -> Iterator[_Session]:
    s = _Session(conn, **kwargs)
    try:
        yield s
    finally:
        s.close()


def check_connection(conn: Connection) -> dict[str, Any]:
    """Ask the server who we are; returns ``{"url", "user_email", "projects"}``.

    Raises
    ------
    LabelStudioError
        Server down or wrong URL, or wrong key: one clear line.
    """
    with _session(conn, retry=RetryPolicy(retries=1, base=0.2)) as s:
        me = s.call("whoami", s.client.users.whoami)
        n = sum(1 for _ in s.call("list projects", s.client.projects.list, page_size=100))
        return {"url": conn.safe_url, "user_email": getattr(me, "email", None), "projects": n}


# --------------------------------------------------------------------------------------------
# Projects
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectInfo:
    id: int
    title: str
    created: bool
    task_number: int | None


def _instructions_html(schema: LabelSchema) -> str:
    return "".join(f"<p>{html.escape(line)}</p>" for line in schema.instructions.splitlines() if line.strip())


def _find_projects(s: _Session, title: str) -> list[Any]:
    pager = s.call("list projects", s.client.projects.list, title=title, page_size=100)
    return [p for p in pager if p.title == title]


def _check_project_schema(project: Any, schema: LabelSchema) -> None:
    on_server = parse_schema(
        (project.label_config or "").encode("utf-8"), name=f"project {project.id}", path=Path(f"project-{project.id}")
    )
    mine = (schema.entity_labels, schema.stance_labels, schema.entity_from_name, schema.stance_from_name,
            schema.to_name, schema.stance_per_region, schema.has_target)
    theirs = (on_server.entity_labels, on_server.stance_labels, on_server.entity_from_name,
              on_server.stance_from_name, on_server.to_name, on_server.stance_per_region, on_server.has_target)
    if mine != theirs:
        raise LabelStudioError(
            f"project {project.title!r} (id {project.id}) has labels {on_server.labels} and controls "
            f"{on_server.entity_from_name}/{on_server.stance_from_name}, but config {schema.name!r} has "
            f"{schema.labels} and {schema.entity_from_name}/{schema.stance_from_name}; push with the config the "
            "project was made with, or choose another --project-title."
        )


def ensure_project(conn: Connection, schema: LabelSchema, title: str, *,
                   retry: RetryPolicy | None = None) -> ProjectInfo:
    """Find the project called exactly ``title``, or create it with ``schema``'s config.

    Raises
    ------
    LabelStudioError
        Several projects have that title, or the existing one's labels differ from ``schema``'s.
    """
    with _session(conn, retry=retry) as s:
        return _ensure_project(s, schema, title)


def _ensure_project(s: _Session, schema: LabelSchema, title: str) -> ProjectInfo:
    if not title or not title.strip():
        raise LabelStudioError("the project title is empty; pass --project-title.")
    found = _find_projects(s, title)
    if len(found) > 1:
        ids = ", ".join(str(p.id) for p in found)
        raise LabelStudioError(f"{len(found)} projects are titled {title!r} (ids {ids}); rename all but one.")
    if found:
        project = s.call("get project", s.client.projects.get, id=found[0].id)
        _check_project_schema(project, schema)
        return ProjectInfo(id=project.id, title=title, created=False, task_number=getattr(found[0], "task_number", None))
    # Creating is not idempotent: no automatic resend (a retry could make two projects).
    try:
        project = s.client.projects.create(
            title=title,
            label_config=schema.xml,
            description=f"dataset-builder config {schema.name} (sha256 {schema.config_hash[:12]})",
            expert_instruction=_instructions_html(schema),
            show_instruction=True,
            request_options=s.opts,
        )
    except Exception as exc:  # noqa: BLE001
        mapped = s.classify(exc, "create project")
        if isinstance(mapped, _Transient):
            raise _give_up(mapped, 0) from None
        if mapped is exc:
            raise
        raise mapped from None
    return ProjectInfo(id=project.id, title=title, created=True, task_number=0)


def _project_by_title(s: _Session, title: str) -> Any:
    found = _find_projects(s, title)
    if not found:
        raise LabelStudioError(f"no project titled {title!r} at {s.conn.safe_url}; check --project-title.")
    if len(found) > 1:
        ids = ", ".join(str(p.id) for p in found)
        raise LabelStudioError(f"{len(found)} projects are titled {title!r} (ids {ids}); rename all but one.")
    return s.call("get project", s.client.projects.get, id=found[0].id)


# --------------------------------------------------------------------------------------------
# Push
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PushReport:
    """What a push did. Invariant: ``read == already_present + imported + len(rejections)``.

    ``rejections`` holds every row not turned into a task, with its reason: ``invalid_segment``,
    ``duplicate_in_input``, ``missing_target``, ``conflicts_with_existing_task`` (the project has a
    task with this ``segment_id`` but another text) and ``import_failed`` (the server refused the
    batch; counted in ``failed``).
    """

    project_id: int
    project_title: str
    project_created: bool
    config_name: str
    read: int
    already_present: int
    imported: int
    failed: int
    predictions: int
    rejections: tuple[Rejection, ...] = ()

    def __post_init__(self) -> None:
        if self.read != self.already_present + self.imported + len(self.rejections):
            raise DatasetBuilderError(
                f"PushReport does not add up: read {self.read} != already_present {self.already_present} + "
                f"imported {self.imported} + rejected {len(self.rejections)}."
            )

    @property
    def rejected(self) -> int:
        return len(self.rejections)

    def reasons(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rejections:
            out[r.reason] = out.get(r.reason, 0) + 1
        return dict(sorted(out.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "project_title": self.project_title,
            "project_created": self.project_created,
            "config": self.config_name,
            "read": self.read,
            "already_present": self.already_present,
            "imported": self.imported,
            "failed": self.failed,
            "rejected": self.rejected,
            "rejected_by_reason": self.reasons(),
            "predictions": self.predictions,
        }


def _text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _region_id(*parts: Any) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).hexdigest()[:10]


def prediction_result(schema: LabelSchema, segment_id: str, text: str, row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Turn one predictions row into Label Studio ``result`` items.

    A row either carries ``result`` (Label Studio items, passed through as given)
    or ``entities`` (``start``, ``end``, ``label``; code points) and ``stances`` (``label`` and,
    for per-region stance, ``target_start``/``target_end`` naming one of the entities; for a
    task-level stance no target). Region ids are derived from the content, so they are stable.

    Raises
    ------
    SchemaError
        A label not in the config, offsets outside the text, or a per-region stance whose target is
        not one of the row's entities.
    """
    if "result" in row:
        if not isinstance(row["result"], list):
            raise SchemaError(f"prediction for {segment_id!r}: 'result' must be a list; got {type(row['result']).__name__}.")
        return list(row["result"])
    out: list[dict[str, Any]] = []
    regions: dict[tuple[int, int], str] = {}
    for ent in row.get("entities", ()):
        start, end, label = ent.get("start"), ent.get("end"), ent.get("label")
        if label not in schema.entity_labels:
            raise SchemaError(
                f"prediction for {segment_id!r}: entity label {label!r} is not in config {schema.name!r} "
                f"({', '.join(schema.entity_labels) or 'no entity labels'})."
            )
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
            raise SchemaError(
                f"prediction for {segment_id!r}: entity offsets [{start}, {end}) do not fit a text of {len(text)} code points."
            )
        rid = _region_id(segment_id, start, end, label)
        regions[(start, end)] = rid
        out.append({
            "id": rid, "from_name": schema.entity_from_name, "to_name": schema.to_name, "type": "labels",
            "value": {"start": start, "end": end,
                      "text": text[start:end], "labels": [label]},
        })
    for st in row.get("stances", ()):
        label = st.get("label")
        if label not in schema.stance_labels:
            raise SchemaError(
                f"prediction for {segment_id!r}: stance label {label!r} is not in config {schema.name!r} "
                f"({', '.join(schema.stance_labels) or 'no stance labels'})."
            )
        if schema.stance_per_region:
            key = (st.get("target_start"), st.get("target_end"))
            if key not in regions:
                raise SchemaError(
                    f"prediction for {segment_id!r}: stance target {list(key)} is not one of the predicted entities; "
                    "a per-region stance needs its entity span in 'entities'."
                )
            s0, e0 = key
            out.append({
                "id": regions[key], "from_name": schema.stance_from_name, "to_name": schema.to_name, "type": "choices",
                "value": {"start": s0, "end": e0,
                          "text": text[s0:e0], "choices": [label]},
            })
        else:
            out.append({"id": _region_id(segment_id, "stance", label), "from_name": schema.stance_from_name,
                        "to_name": schema.to_name, "type": "choices", "value": {"choices": [label]}})
    return out


def _target_region(schema: LabelSchema, segment_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
    text, s0, e0 = data["text"], data["target_start"], data["target_end"]
    return {
        "id": _region_id(segment_id, "target", s0, e0), "from_name": schema.target_from_name,
        "to_name": schema.to_name, "type": "labels", "readonly": True,
        "value": {"start": s0, "end": e0,
                  "text": text[s0:e0], "labels": ["TARGET"]},
    }


def task_data(schema: LabelSchema, segment: Segment, row: Mapping[str, Any],
              article_meta: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The task ``data`` for one segment (keys in a fixed order).

    ``title``/``date`` come from the row, else from ``article_meta[article_id]``, else ``""``
    (Label Studio needs every variable the config shows). With a given target the row must carry
    ``target``, ``target_start``, ``target_end`` (code points in the segment text).

    Raises
    ------
    SchemaError
        Missing or inconsistent target fields.
    """
    meta = (article_meta or {}).get(segment.article_id, {})
    data: dict[str, Any] = {
        "text": segment.text,
        "segment_id": segment.id,
        "article_id": segment.article_id,
        "start": segment.start,
        "end": segment.end,
        "title": row.get("title") or meta.get("title") or "",
        "date": row.get("date") or meta.get("date") or "",
    }
    if schema.has_target:
        tgt, ts, te = row.get("target"), row.get("target_start"), row.get("target_end")
        if not isinstance(tgt, str) or not isinstance(ts, int) or not isinstance(te, int):
            raise SchemaError(
                f"segment {segment.id!r}: config {schema.name!r} needs target, target_start, target_end in the row; "
                f"got {tgt!r}, {ts!r}, {te!r}."
            )
        if not (0 <= ts < te <= len(segment.text)) or segment.text[ts:te] != tgt:
            raise SchemaError(
                f"segment {segment.id!r}: text[{ts}:{te}] is {segment.text[ts:te] if 0 <= ts <= te else ''!r}, "
                f"not the target {tgt!r}; target offsets are code points in the segment text."
            )
        data.update({"target": tgt, "target_start": ts, "target_end": te})
    for name in schema.data_fields:
        data.setdefault(name, "")
    return data


def _existing_segments(s: _Session, project_id: int, page_size: int = 5000) -> dict[str, str]:
    """``segment_id -> sha256(text)`` of the project's tasks, read from the server (with retries)."""

    def read(request_options: Any) -> dict[str, str]:
        out: dict[str, str] = {}
        for task in s.client.tasks.list(project=project_id, fields="task_only", include="id,data",
                                        page_size=page_size, request_options=request_options):
            data = task.data or {}
            sid = data.get("segment_id")
            if isinstance(sid, str):
                out[sid] = _text_digest(str(data.get("text", "")))
        return out

    # The whole listing is retried, not one page: a half-read listing is never used.
    return s.call("list tasks", read)


def _read_articles_meta(path: str | Path | None) -> dict[str, dict[str, Any]]:
    if path is None:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for lineno, row in read_jsonl(path):
        if "id" not in row:
            raise InputError(f"{path}:{lineno}: article row without 'id'.")
        out[str(row["id"])] = {"title": row.get("title"), "date": row.get("date")}
    return out


def _read_predictions(path: str | Path | None) -> dict[str, tuple[int, dict[str, Any]]]:
    if path is None:
        return {}
    out: dict[str, tuple[int, dict[str, Any]]] = {}
    for lineno, row in read_jsonl(path):
        sid = row.get("segment_id")
        if not isinstance(sid, str):
            raise InputError(f"{path}:{lineno}: prediction row without a string 'segment_id'.")
        if sid in out:
            raise InputError(f"{path}:{lineno}: second prediction for segment {sid!r} (first at line {out[sid][0]}).")
        out[sid] = (lineno, row)
    return out


def push_segments(
    conn: Connection,
    segments: str | Path | Iterable[Mapping[str, Any]],
    config: str | Path | LabelSchema,
    *,
    project_title: str | None = None,
    articles: str | Path | None = None,
    predictions: str | Path | None = None,
    model_version: str | None = None,
    batch_size: int = 5000,
    retry: RetryPolicy | None = None,
    on_batch: Callable[[int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> PushReport:
    """Import segments as tasks into the project ``project_title`` (created from ``config`` if absent).

    Parameters
    ----------
    segments : path or iterable of dict
        ``segments.jsonl`` (rows of Segment, optionally with ``title``/``date`` and target fields).
    config : str, path or LabelSchema
        A bundled config name, a config path, or a loaded schema.
    project_title : str, optional
        Defaults to the config name.
    articles : path, optional
        ``articles.jsonl`` to take ``title``/``date`` from, by ``article_id``.
    predictions : path, optional
        JSONL of pre-annotations, one row per ``segment_id`` (see :func:`prediction_result`);
        attached to newly imported tasks only.
    model_version : str, optional
        Required with ``predictions``.
    batch_size : int
        Tasks per import request.
    on_batch : callable, optional
        Called with the number of rows settled after each batch (for a progress bar).

    Returns
    -------
    PushReport

    Raises
    ------
    LabelStudioError
        Server unreachable after the retries (nothing is lost: run again to resume), wrong key,
        project title ambiguous or bound to another config.
    InputError, SchemaError
        Unreadable input files, predictions that do not fit the config.
    """
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"The 'batch_size' parameter of push_segments must be an int >= 1. Got {batch_size!r} instead.")
    if predictions is not None and not model_version:
        raise InputError("--predictions needs --model-version (Label Studio groups pre-annotations by model version).")
    schema = config if isinstance(config, LabelSchema) else load_schema(config)
    title = project_title or schema.name
    meta = _read_articles_meta(articles)
    preds = _read_predictions(predictions)

    if isinstance(segments, (str, Path)):
        src = str(segments)
        rows: Iterable[tuple[str, Mapping[str, Any]]] = ((f"{src}:{ln}", r) for ln, r in read_jsonl(segments))
    else:
        rows = ((f"row {i}", r) for i, r in enumerate(segments, start=1))

    rejections: list[Rejection] = []
    pending: list[tuple[str, str, dict[str, Any]]] = []  # (where, segment_id, task)
    seen: dict[str, str] = {}
    read = 0
    n_preds = 0
    for where, row in rows:
        read += 1
        try:
            seg = Segment.from_dict(row)
        except (DatasetBuilderError, KeyError, TypeError) as exc:
            rejections.append(Rejection("push", where, "invalid_segment", str(exc)))
            continue
        if seg.id in seen:
            rejections.append(Rejection("push", where, "duplicate_in_input", f"segment {seg.id!r} first at {seen[seg.id]}"))
            continue
        seen[seg.id] = where
        try:
            data = task_data(schema, seg, row, meta)
        except SchemaError as exc:
            rejections.append(Rejection("push", where, "missing_target", str(exc)))
            continue
        task: dict[str, Any] = {"data": data}
        result: list[dict[str, Any]] = []
        if seg.id in preds:
            result = prediction_result(schema, seg.id, seg.text, preds[seg.id][1])
        if schema.has_target and schema.target_from_name:
            result = [_target_region(schema, seg.id, data)] + [r for r in result if r.get("from_name") != schema.target_from_name]
        if result:
            version = model_version if seg.id in preds else (model_version or TARGET_MODEL_VERSION)
            pred: dict[str, Any] = {"model_version": version, "result": result}
            score = preds.get(seg.id, (0, {}))[1].get("score")
            if isinstance(score, (int, float)) and not isinstance(score, bool):
                pred["score"] = float(score)
            task["predictions"] = [pred]
        pending.append((where, seg.id, task))

    with _session(conn, retry=retry, sleep=sleep) as s:
        project = _ensure_project(s, schema, title)
        existing = {} if project.created or project.task_number == 0 else _existing_segments(s, project.id)
        already = 0
        todo: list[tuple[str, str, dict[str, Any]]] = []
        for where, sid, task in pending:
            if sid in existing:
                if existing[sid] != _text_digest(task["data"]["text"]):
                    rejections.append(_conflict(project.id, where, sid))
                else:
                    already += 1
            else:
                todo.append((where, sid, task))
        settled_early = len(pending) - len(todo) + (read - len(pending))
        if on_batch is not None and settled_early:
            on_batch(settled_early)

        imported = failed = 0
        for batch, done, bad, present in _import_in_batches(s, project.id, todo, batch_size, rejections):
            imported += len(done)
            failed += bad
            already += present
            n_preds += sum(1 for _, sid, _t in done if sid in preds)
            if on_batch is not None:
                on_batch(len(batch))

    return PushReport(
        project_id=project.id, project_title=title, project_created=project.created, config_name=schema.name,
        read=read, already_present=already, imported=imported, failed=failed, predictions=n_preds,
        rejections=tuple(rejections),
    )


def _conflict(project_id: int, where: str, sid: str) -> Rejection:
    """The project already has a task for ``sid`` with another text: never imported again."""
    return Rejection(
        "push", where, "conflicts_with_existing_task",
        f"project {project_id} has a task for segment {sid!r} with another text; "
        "segment ids must be stable, or push into a new project",
    )


def _import_in_batches(s: _Session, project_id: int, todo: list[tuple[str, str, dict[str, Any]]], batch_size: int,
                       rejections: list[Rejection]) -> Iterator[tuple[list[Any], list[Any], int, int]]:
    """Import ``todo`` in batches; yield ``(batch, done, failed, already_present)`` per batch."""
    for i in range(0, len(todo), batch_size):
        batch = todo[i : i + batch_size]
        yield (batch, *_import_batch(s, project_id, batch, rejections))


def _import_batch(s: _Session, project_id: int, batch: list[tuple[str, str, dict[str, Any]]],
                  rejections: list[Rejection]) -> tuple[list[tuple[str, str, dict[str, Any]]], int, int]:
    """Import one batch, retrying; returns ``(imported items, failed count, found already present)``."""
    from label_studio_sdk.core.api_error import ApiError

    attempt = 0
    present = 0
    while True:
        try:
            s.client.projects.import_tasks(id=project_id, request=[t for _, _, t in batch], request_options=s.opts)
            return batch, 0, present
        except Exception as exc:  # noqa: BLE001
            mapped = s.classify(exc, f"import of {len(batch)} tasks")
            if isinstance(mapped, _Transient):
                if attempt >= s.retry.retries:
                    raise _give_up(mapped, attempt) from None
                s.sleep(s.retry.delay(attempt))
                attempt += 1
                if mapped.sent:
                    # The server may have imported the batch before failing: check before resending.
                    existing = _existing_segments(s, project_id)
                    before = len(batch)
                    batch = [b for b in batch if b[1] not in existing]
                    present += before - len(batch)
                    if not batch:
                        return [], 0, present
                continue
            if isinstance(exc, ApiError) and exc.status_code == 400:
                for where, sid, _ in batch:
                    rejections.append(Rejection("push", where, "import_failed", str(mapped)))
                return [], len(batch), present
            if mapped is exc:
                raise
            raise mapped from None


# --------------------------------------------------------------------------------------------
# Pull
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PullReport:
    """Where a raw export snapshot was saved and what it holds (the manifest's content)."""

    export_path: Path
    manifest_path: Path
    label_config_path: Path
    manifest: Mapping[str, Any]

    @property
    def task_count(self) -> int:
        return int(self.manifest["task_count"])

    @property
    def annotation_count(self) -> int:
        return int(self.manifest["annotation_count"])


def slugify(title: str) -> str:
    """``"News NER (v2)" -> "news-ner-v2"``; never empty."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return slug or "project"


def _utc_now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _count_export(path: Path) -> dict[str, int]:
    """Count tasks, annotations and predictions of an export, streaming (ijson): memory stays flat."""
    import ijson


    counts = {"task_count": 0, "annotation_count": 0, "cancelled_annotation_count": 0,
              "prediction_count": 0, "tasks_with_annotations": 0}
    try:
        with path.open("rb") as fh:
            head = fh.read(64).lstrip()
            if not head.startswith(b"["):
                raise ExportError(f"{path}: expected a JSON list of tasks, the export starts with {head[:20]!r}.")
            fh.seek(0)
            for task in ijson.items(fh, "item"):
                if not isinstance(task, dict):
                    raise ExportError(f"{path}: task {counts['task_count']} is a {type(task).__name__}, not an object.")
                annotations = task.get("annotations") or []
                counts["task_count"] += 1
                counts["annotation_count"] += len(annotations)
                counts["cancelled_annotation_count"] += sum(1 for a in annotations if a.get("was_cancelled"))
                counts["prediction_count"] += len(task.get("predictions") or [])
                counts["tasks_with_annotations"] += bool(annotations)
    except ijson.JSONError as exc:
        raise ExportError(f"{path}: the downloaded export is not a valid JSON list of tasks ({exc}); pull again.") from None
    return counts


def pull_export(
    conn: Connection,
    project_title: str,
    *,
    out_dir: str | Path = "exports",
    retry: RetryPolicy | None = None,
    export_timeout: float = 3600.0,
    chunk_size: int = 1 << 20,
    now: Callable[[], datetime] | None = None,
) -> PullReport:
    """Snapshot a project's annotations and keep the raw JSON byte-for-byte.

    Creates an export snapshot on the server, waits until it is complete, streams it to a
    temporary file (no read timeout: a large export is never cut by the client), then moves it to
    ``<out_dir>/<project-slug>/<UTC time>-<sha256[:12]>/export.json`` next to ``label_config.xml``
    (the project's config as the server holds it) and ``manifest.json`` (project id and title,
    bundled config name and hash when the project's config is one of them, task/annotation counts,
    time, sha256 and size of the export).

    Raises
    ------
    LabelStudioError
        Unknown or ambiguous title, the export failed or did not finish within ``export_timeout``,
        server unreachable, wrong key.
    ExportError
        The downloaded file is not a JSON list of tasks.
    """
    now = now or (lambda: datetime.now(timezone.utc))
    with _session(conn, retry=retry) as s:
        project = _project_by_title(s, project_title)
        label_config = project.label_config or ""
        taken = now()
        stamp = taken.strftime("%Y%m%dT%H%M%SZ")
        # Full prediction and draft bodies (the server's default is their ids only).
        snap = s.call("create export", s.client.projects.exports.create, id=project.id,
                      title=f"dataset-builder pull {stamp}",
                      serialization_options={"predictions": {"only_id": False}, "drafts": {"only_id": False}})
        deadline = time.monotonic() + export_timeout
        status = getattr(snap, "status", None)
        while status != "completed":
            if status == "failed":
                raise LabelStudioError(f"Label Studio export {snap.id} of project {project.id} failed; try pull again.")
            if time.monotonic() > deadline:
                raise LabelStudioError(
                    f"Label Studio export {snap.id} of project {project.id} still {status!r} after {export_timeout:.0f} s."
                )
            s.sleep(1.0)
            snap = s.call("check export", s.client.projects.exports.get, id=project.id, export_pk=snap.id)
            status = getattr(snap, "status", None)

        base = Path(out_dir) / slugify(project.title)
        base.mkdir(parents=True, exist_ok=True)
        tmp = base / f".partial-{stamp}-{os.getpid()}.json"
        digest = hashlib.sha256()
        size = 0
        attempt = 0
        while True:
            try:
                dl = s.download_client()
                with tmp.open("wb") as fh:
                    for chunk in dl.projects.exports.download(
                        id=project.id, export_pk=snap.id, export_type="JSON",
                        request_options={"max_retries": 0, "chunk_size": chunk_size},
                    ):
                        fh.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
                break
            except Exception as exc:  # noqa: BLE001
                tmp.unlink(missing_ok=True)
                digest, size = hashlib.sha256(), 0
                mapped = s.classify(exc, "download export")
                if not isinstance(mapped, _Transient):
                    if mapped is exc:
                        raise
                    raise mapped from None
                if attempt >= s.retry.retries:
                    raise _give_up(mapped, attempt) from None
                s.sleep(s.retry.delay(attempt))
                attempt += 1

    sha = digest.hexdigest()
    counts = _count_export(tmp)
    final_dir = base / f"{stamp}-{sha[:12]}"
    final_dir.mkdir(parents=True, exist_ok=True)
    export_path = final_dir / "export.json"
    os.replace(tmp, export_path)

    # The server keeps the config text without its final newline: match bundled configs on the
    # stripped text, and keep the server's own text next to the export for offline normalisation.
    config_path = final_dir / "label_config.xml"
    config_path.write_bytes(label_config.encode("utf-8"))
    bundled, bundled_hash = None, None
    for name in list_configs():
        try:
            candidate = load_schema(name)
        except SchemaError:
            continue
        if candidate.xml.strip() == label_config.strip():
            bundled, bundled_hash = name, candidate.config_hash
            break
    manifest = {
        "format": "label-studio-json",
        "project_id": project.id,
        "project_title": project.title,
        "config_name": bundled,
        "config_hash": bundled_hash,
        "label_config_file": config_path.name,
        "label_config_sha256": hashlib.sha256(label_config.encode("utf-8")).hexdigest(),
        "export_id": snap.id,
        "created_at": taken.replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        **counts,
        "bytes": size,
        "sha256": sha,
        "label_studio_url": conn.safe_url,
    }
    manifest_path = final_dir / "manifest.json"
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return PullReport(export_path=export_path, manifest_path=manifest_path, label_config_path=config_path,
                      manifest=manifest)


# --------------------------------------------------------------------------------------------
# Helpers for tests and benchmarks (they must not import the SDK themselves)
# --------------------------------------------------------------------------------------------


def list_task_data(conn: Connection, project_title: str) -> list[dict[str, Any]]:
    """``[{"id": task_id, "data": {...}}, ...]`` of a project, in id order."""
    with _session(conn) as s:
        project = _project_by_title(s, project_title)
        out = []
        for task in s.client.tasks.list(project=project.id, fields="task_only", include="id,data",
                                        page_size=5000, request_options=s.opts):
            out.append({"id": task.id, "data": dict(task.data or {})})
        return sorted(out, key=lambda t: t["id"])


def submit_annotation(conn: Connection, task_id: int, result: Sequence[Mapping[str, Any]], *,
                      lead_time: float = 1.0, was_cancelled: bool = False, completed_by: int | None = None,
                      ground_truth: bool = False) -> int:
    """Create an annotation as an annotator's browser does on Submit; returns its id.

    ``completed_by`` attributes it to another user (an id from :func:`ensure_users`); by default
    it belongs to the owner of the API key. ``ground_truth`` marks an adjudicated annotation.
    """
    with _session(conn) as s:
        extra = {} if completed_by is None else {"completed_by": completed_by}
        ann = s.call("create annotation", s.client.annotations.create, id=task_id, result=[dict(r) for r in result],
                     lead_time=lead_time, was_cancelled=was_cancelled, ground_truth=ground_truth, **extra)
        return int(ann.id)


def ensure_users(conn: Connection, emails: Sequence[str]) -> dict[str, int]:
    """Find or create a Label Studio user for each e-mail; returns ``{email: user id}``.

    Users are created without a password (an administrator sets one, or they sign up with that
    e-mail); they exist so that annotations can be attributed to them.
    """
    with _session(conn) as s:
        existing = {u.email: int(u.id) for u in s.call("list users", s.client.users.list)}
        out: dict[str, int] = {}
        for email in emails:
            if email not in existing:
                name = email.split("@", 1)[0]
                existing[email] = int(s.call("create user", s.client.users.create, email=email, username=name,
                                             first_name=name).id)
            out[email] = existing[email]
        return out


def _annotated_tasks(s: _Session, project_id: int) -> tuple[dict[str, int], set[tuple[int, int]]]:
    """``({segment_id: task id}, {(task id, user id of an annotation on it)})`` for a project's tasks.

    What re-submitting annotations needs to resume without making the same annotation twice.
    """
    by_segment: dict[str, int] = {}
    annotated: set[tuple[int, int]] = set()
    for task in s.client.tasks.list(project=project_id, fields="all", page_size=5000, request_options=s.opts):
        seg = (task.data or {}).get("segment_id")
        if isinstance(seg, str):
            by_segment[seg] = int(task.id)
        for ann in task.annotations or ():
            ann = ann if isinstance(ann, dict) else ann.dict()
            who = ann.get("completed_by")
            who = who.get("id") if isinstance(who, dict) else who
            if who is not None:
                annotated.add((int(task.id), int(who)))
    return by_segment, annotated


def submit_export_annotations(conn: Connection, project_title: str, export: str | Path,
                              annotators: Mapping[str, str] | None = None) -> dict[str, int]:
    """Submit the annotations of a Label Studio JSON export to a project, as their annotators.

    Each exported task is matched to the project's task with the same ``data.segment_id``; each
    of its annotations is created there as the user whose e-mail ``annotators`` gives for the
    exported ``completed_by`` id (default: ``annotators.json`` beside the export, else
    ``annotator-<id>@localhost``). Idempotent: an annotation is skipped when that user already
    has one on that task, so running twice submits nothing twice.

    Returns
    -------
    dict
        ``read`` (annotations in the export) = ``submitted`` + ``already_present`` + ``no_task``
        (no task with that segment id in the project).

    Raises
    ------
    ExportError
        The export is not a JSON list of tasks, or a task lacks ``data.segment_id``.
    """
    export = Path(export)
    try:
        tasks = json.loads(export.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExportError(f"{export}: cannot read the annotations export ({exc}).") from None
    if not isinstance(tasks, list):
        raise ExportError(f"{export}: expected Label Studio's JSON export (a list of tasks); got {type(tasks).__name__}.")
    if annotators is None:
        sidecar = export.with_name("annotators.json")
        annotators = json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.exists() else {}
    wanted: list[tuple[str, Mapping[str, Any], str]] = []
    for n, task in enumerate(tasks):
        seg = (task.get("data") or {}).get("segment_id") if isinstance(task, dict) else None
        if not isinstance(seg, str):
            raise ExportError(f"{export}: task #{n} (id {task.get('id') if isinstance(task, dict) else '?'}) has no data.segment_id.")
        for ann in task.get("annotations") or ():
            who = ann.get("completed_by")
            uid = who.get("id") if isinstance(who, dict) else who
            wanted.append((seg, ann, annotators.get(str(uid)) or f"annotator-{uid}@localhost"))
    users = ensure_users(conn, sorted({email for _, _, email in wanted}))
    counts = {"read": len(wanted), "submitted": 0, "already_present": 0, "no_task": 0}
    with _session(conn) as s:
        project = _project_by_title(s, project_title)
        by_segment, done = _annotated_tasks(s, project.id)
        for seg, ann, email in wanted:
            task_id = by_segment.get(seg)
            if task_id is None:
                counts["no_task"] += 1
                continue
            if (task_id, users[email]) in done:
                counts["already_present"] += 1
                continue
            s.call("create annotation", s.client.annotations.create, id=task_id, result=list(ann.get("result") or []),
                   lead_time=ann.get("lead_time") or 0.0, was_cancelled=bool(ann.get("was_cancelled")),
                   ground_truth=bool(ann.get("ground_truth")), completed_by=users[email])
            done.add((task_id, users[email]))
            counts["submitted"] += 1
    return counts


@dataclass(frozen=True)
class CorpusPushReport:
    """What :func:`push_corpus` did: the tasks (``push``) and the corpus labels they carry.

    For the labels: ``labels_read == with_new_tasks + added_to_existing + already_present +
    skipped``, where ``skipped`` counts labels not sent: of rejected rows, empty pre-annotations,
    and pre-annotations for tasks that were already there (as ``push`` does, predictions go
    with new tasks only).
    """

    push: PushReport
    mode: str
    annotator: str  # e-mail of the source annotator (annotations) or the model_version (predictions)
    annotator_id: int | None
    ground_truth: bool | None
    labels_read: int
    with_new_tasks: int
    added_to_existing: int
    already_present: int
    skipped: int

    def __post_init__(self) -> None:
        total = self.with_new_tasks + self.added_to_existing + self.already_present + self.skipped
        if self.labels_read != total:
            raise DatasetBuilderError(f"CorpusPushReport does not add up: labels read {self.labels_read} != {total}.")

    def to_dict(self) -> dict[str, Any]:
        return {**self.push.to_dict(), "mode": self.mode, "annotator": self.annotator,
                "annotator_id": self.annotator_id, "ground_truth": self.ground_truth,
                "labels_read": self.labels_read, "labels_with_new_tasks": self.with_new_tasks,
                "labels_added_to_existing_tasks": self.added_to_existing,
                "labels_already_present": self.already_present, "labels_skipped": self.skipped}


def push_corpus(
    conn: Connection,
    segments: Iterable[Mapping[str, Any]],
    labels: Mapping[str, Mapping[str, Any]],
    config: str | Path | LabelSchema,
    *,
    project_title: str | None = None,
    mode: str = "annotations",
    annotator: str = "corpus-gold@localhost",
    model_version: str | None = None,
    ground_truth: bool = True,
    batch_size: int = 5000,
    retry: RetryPolicy | None = None,
    on_batch: Callable[[int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> CorpusPushReport:
    """Push segments with labels from an existing corpus, as annotations or as pre-annotations.

    Tasks are built as :func:`push_segments` builds them (same data, same target pre-mark) and
    carry ``labels[segment_id]`` (a row of :func:`prediction_result`: ``entities``/``stances``,
    code points) in the same ``import_tasks`` request: one request per ``batch_size`` tasks,
    not one per annotation. An empty label row is an annotation with no region (the corpus says
    "nothing here"), which normalise turns into gold with no entity.

    ``mode="annotations"``: each label row is an annotation ``completed_by`` the user ``annotator``
    (an e-mail; created if missing) with ``ground_truth`` as given (Label Studio 1.23.2 marks an
    imported annotation ground truth unless told otherwise, so it is always sent explicitly).
    ``mode="predictions"``: a prediction with ``model_version`` (default: ``annotator``).

    Idempotent like :func:`push_segments`: segments already in the project are not imported again;
    in annotations mode such a task gets the annotation (one API call each) unless ``annotator``
    already has one on it.

    Raises
    ------
    LabelStudioError
        As :func:`push_segments`.
    ValueError
        Bad ``mode`` or ``batch_size``.
    """
    if mode not in ("annotations", "predictions"):
        raise ValueError(f"The 'mode' parameter of push_corpus must be one of annotations, predictions. Got {mode!r} instead.")
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"The 'batch_size' parameter of push_corpus must be an int >= 1. Got {batch_size!r} instead.")
    schema = config if isinstance(config, LabelSchema) else load_schema(config)
    title = project_title or schema.name
    version = model_version or annotator
    uid = ensure_users(conn, [annotator])[annotator] if mode == "annotations" else None

    rejections: list[Rejection] = []
    pending: list[tuple[str, str, dict[str, Any]]] = []
    results: dict[str, list[dict[str, Any]]] = {}  # segment id -> annotation result, for existing tasks
    carries: set[str] = set()  # segment ids whose task carries the corpus label
    seen: dict[str, str] = {}
    read = labelled = with_new = skipped = 0
    for i, row in enumerate(segments, start=1):
        read += 1
        where = f"row {i}"
        sid = row.get("id")
        has_label = isinstance(sid, str) and sid in labels
        labelled += has_label
        try:
            seg = Segment.from_dict(row)
        except (DatasetBuilderError, KeyError, TypeError) as exc:
            rejections.append(Rejection("push", where, "invalid_segment", str(exc)))
            skipped += has_label
            continue
        if seg.id in seen:
            rejections.append(Rejection("push", where, "duplicate_in_input", f"segment {seg.id!r} first at {seen[seg.id]}"))
            skipped += has_label
            continue
        seen[seg.id] = where
        try:
            data = task_data(schema, seg, row)
            result = prediction_result(schema, seg.id, seg.text, labels[seg.id]) if has_label else []
        except SchemaError as exc:
            rejections.append(Rejection("push", where, "invalid_labels" if has_label else "missing_target", str(exc)))
            skipped += has_label
            continue
        task: dict[str, Any] = {"data": data}
        target = [_target_region(schema, seg.id, data)] if schema.has_target and schema.target_from_name else []
        if mode == "annotations":
            if target:
                task["predictions"] = [{"model_version": TARGET_MODEL_VERSION, "result": target}]
            if has_label:
                # what an annotator's submission of a pre-marked task holds: the target region too
                results[seg.id] = target + result
                task["annotations"] = [{"result": results[seg.id], "completed_by": uid, "ground_truth": ground_truth}]
                carries.add(seg.id)
        elif result:
            task["predictions"] = [{"model_version": version, "result": target + result}]
            carries.add(seg.id)
        elif target:
            task["predictions"] = [{"model_version": TARGET_MODEL_VERSION, "result": target}]
        pending.append((where, seg.id, task))

    added = present = 0
    with _session(conn, retry=retry, sleep=sleep) as s:
        project = _ensure_project(s, schema, title)
        existing = {} if project.created or project.task_number == 0 else _existing_segments(s, project.id)
        already = 0
        todo: list[tuple[str, str, dict[str, Any]]] = []
        on_existing: list[str] = []
        for where, sid, task in pending:
            if sid not in existing:
                todo.append((where, sid, task))
            elif existing[sid] != _text_digest(task["data"]["text"]):
                rejections.append(_conflict(project.id, where, sid))
                skipped += sid in labels
            else:
                already += 1
                if sid in labels:
                    on_existing.append(sid)
        if on_batch is not None and read - len(todo):
            on_batch(read - len(todo))
        imported = failed = 0
        for batch, done, bad, found in _import_in_batches(s, project.id, todo, batch_size, rejections):
            imported += len(done)
            failed += bad
            already += found
            done_ids = {sid for _, sid, _ in done}
            with_new += len(done_ids & carries)
            skipped += sum(1 for sid in done_ids if sid in labels and sid not in carries)  # empty pre-annotation
            not_done = sum(1 for _, sid, _ in batch if sid not in done_ids and sid in labels)
            if bad:
                skipped += not_done  # the server refused the batch (rejections say why)
            else:
                present += not_done  # imported, with its label, by an attempt whose answer was lost
            if on_batch is not None:
                on_batch(len(batch))

        if on_existing and mode == "annotations":
            by_segment, annotated = _annotated_tasks(s, project.id)
            has_ours = {task_id for task_id, who in annotated if who == uid}
            for sid in on_existing:
                task_id = by_segment[sid]
                if task_id in has_ours:
                    present += 1
                    continue
                # Not resent automatically (a resend could make two annotations); running again resumes.
                try:
                    s.client.annotations.create(id=task_id, result=results[sid], completed_by=uid,
                                                ground_truth=ground_truth, request_options=s.opts)
                except Exception as exc:  # noqa: BLE001
                    mapped = s.classify(exc, f"create annotation on task {task_id}")
                    if isinstance(mapped, _Transient):
                        raise _give_up(mapped, 0) from None
                    if mapped is exc:
                        raise
                    raise mapped from None
                added += 1
        else:
            skipped += len(on_existing)

    report = PushReport(
        project_id=project.id, project_title=title, project_created=project.created, config_name=schema.name,
        read=read, already_present=already, imported=imported, failed=failed,
        predictions=with_new if mode == "predictions" else 0, rejections=tuple(rejections),
    )
    return CorpusPushReport(
        push=report, mode=mode, annotator=annotator if mode == "annotations" else version, annotator_id=uid,
        ground_truth=ground_truth if mode == "annotations" else None, labels_read=labelled,
        with_new_tasks=with_new, added_to_existing=added, already_present=present, skipped=skipped,
    )


def raw_import(conn: Connection, project_title: str, config: str | Path | LabelSchema,
               tasks: Sequence[Mapping[str, Any]]) -> int:
    """One plain ``import_tasks`` call into a new project (the benchmark's baseline); returns its id."""
    schema = config if isinstance(config, LabelSchema) else load_schema(config)
    with _session(conn, timeout=3600.0) as s:
        project = s.client.projects.create(title=project_title, label_config=schema.xml, request_options=s.opts)
        s.client.projects.import_tasks(id=project.id, request=list(tasks), request_options=s.opts)
        return int(project.id)


def delete_project(conn: Connection, project_title: str) -> None:
    with _session(conn) as s:
        project = _project_by_title(s, project_title)
        s.call("delete project", s.client.projects.delete, id=project.id)


def asdict(obj: Any) -> dict[str, Any]:
    """Public fields of a report record (never a key)."""
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.repr}
