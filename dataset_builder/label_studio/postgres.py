"""A throwaway PostgreSQL server in a folder of its own, on 127.0.0.1 (tests and benchmarks).

It runs the system's own binaries: Debian's ``postgresql`` package puts them in
``/usr/lib/postgresql/<version>/bin`` (``DATASET_BUILDER_PG_BIN`` names another folder; else
``initdb`` on ``PATH``). It is not the system service: ``initdb`` makes a new cluster in the folder,
``postgres`` serves it on a free TCP port of 127.0.0.1 (its Unix socket in the folder), and one
role and one database, both ``labelstudio``, are created with a random password, as a team would
set up its Label Studio database. PostgreSQL refuses to run as root: under root the cluster
belongs to the ``postgres`` system user that the package creates, and the folder is made outside
any private temporary folder so that this user can reach it.

:meth:`LocalPostgres.kill` is a crash (SIGKILL to the postmaster and its backends at once);
:meth:`LocalPostgres.start` afterwards recovers the cluster from its write-ahead log, as a real
server does.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from ..errors import LabelStudioError
from .database import Database
from .server import _start_watchdog, free_port

PG_BIN_ENV = "DATASET_BUILDER_PG_BIN"
DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")
_NEEDED = ("initdb", "postgres", "pg_isready", "psql")
DB_NAME = DB_USER = "labelstudio"


def find_pg_bin(path: str | Path | None = None) -> Path:
    """The folder of PostgreSQL's server binaries: ``path``, ``$DATASET_BUILDER_PG_BIN``, Debian's newest, ``PATH``.

    Raises
    ------
    LabelStudioError
        None found (the message says how to install them).
    """
    explicit = path or os.environ.get(PG_BIN_ENV)
    if explicit:
        candidates = [Path(explicit)]
    else:
        def version(p: Path) -> tuple[int, ...]:
            return tuple(int(x) for x in re.findall(r"\d+", p.parent.name)) or (0,)

        candidates = sorted(DEBIAN_PG_ROOT.glob("*/bin"), key=version, reverse=True)
        on_path = shutil.which("initdb")
        if on_path:
            candidates.append(Path(on_path).resolve().parent)
    for folder in candidates:
        if all((folder / name).is_file() for name in _NEEDED):
            return folder
    where = str(candidates[0]) if explicit else f"{DEBIAN_PG_ROOT}/<version>/bin or on PATH"
    raise LabelStudioError(
        f"PostgreSQL's server binaries ({', '.join(_NEEDED)}) are not in {where}; install them "
        f"(Debian: apt-get install postgresql; scripts/setup.sh does it as root) or set {PG_BIN_ENV}."
    )


def _run_as(os_user: str | None) -> dict[str, Any]:
    """Popen arguments that run a command as the cluster's owner (``postgres`` under root)."""
    if os.geteuid() != 0:
        return {}
    name = os_user or "postgres"
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise LabelStudioError(
            f"PostgreSQL refuses to run as root, and there is no system user {name!r} to run it as "
            "(Debian's postgresql package creates 'postgres')."
        ) from None
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


class LocalPostgres:
    """A PostgreSQL cluster in ``root`` (a new temporary folder by default) on 127.0.0.1:``port``.

    ``database`` is the Label Studio database on it, password included (random, never printed).
    ``fsync=False`` is for tests: it only matters when the machine itself crashes, not when the
    server process is killed. ``stop_with_pid``: stop it once that process is gone (a watchdog).
    Use as a context manager, or call :meth:`start` and :meth:`remove`.
    """

    def __init__(self, root: str | Path | None = None, *, port: int = 0, fsync: bool = True,
                 bin_dir: str | Path | None = None, os_user: str | None = None, stop_with_pid: int | None = None):
        self.bin = find_pg_bin(bin_dir)
        self._as = _run_as(os_user)
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="dataset-builder-pg-"))
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        if self._as:
            os.chown(self.root, self._as["user"], self._as["group"])
        self.port = port or free_port()
        self.fsync = fsync
        self.stop_with_pid = stop_with_pid
        self.data = self.root / "data"
        self.log_file = self.root / "postgres.log"
        self._proc: subprocess.Popen | None = None
        self._password = secrets.token_urlsafe(18)

    def __repr__(self) -> str:
        return f"LocalPostgres(root={str(self.root)!r}, port={self.port}, pid={self.pid})"

    @property
    def database(self) -> Database:
        return Database(host="127.0.0.1", port=self.port, name=DB_NAME, user=DB_USER, password=self._password)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def __enter__(self) -> LocalPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    # ---- lifecycle --------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        """Create the cluster (first time), start the server, wait until it accepts connections."""
        if self.pid is not None:
            return
        first = not (self.data / "PG_VERSION").is_file()
        if first:
            self._initdb()
        argv = [str(self.bin / "postgres"), "-D", str(self.data), "-c", f"port={self.port}",
                "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.root}"]
        if not self.fsync:
            argv += ["-c", "fsync=off"]
        with open(self.log_file, "ab") as log:
            self._proc = subprocess.Popen(  # noqa: S603 (fixed argv)
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=str(self.root),
                start_new_session=True, **self._as)
        if self.stop_with_pid is not None:
            _start_watchdog(self.stop_with_pid, self._proc.pid)
        self._wait_ready(timeout)
        if first:
            self._create_database()

    def _initdb(self) -> None:
        pwfile = self.root / "superuser-password"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(18) + "\n")
        if self._as:
            os.chown(pwfile, self._as["user"], self._as["group"])
        # Local (Unix socket, in the 0700 folder) connections are trusted; TCP needs a password.
        argv = [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--pwfile", str(pwfile),
                "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--no-locale", "--no-sync"]
        done = subprocess.run(argv, cwd=str(self.root), capture_output=True, text=True, **self._as)  # noqa: S603
        if done.returncode != 0:
            raise LabelStudioError(f"initdb failed in {self.data}: {(done.stderr or done.stdout).strip()[-500:]}")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            ready = subprocess.run([str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],  # noqa: S603
                                   capture_output=True)
            if ready.returncode == 0:
                return
            assert self._proc is not None
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self._kill_group()
                raise LabelStudioError(
                    f"PostgreSQL did not start on 127.0.0.1:{self.port} within {timeout:.0f} s; end of {self.log_file}: "
                    + " | ".join(self.log_file.read_text(errors="replace").splitlines()[-4:]))
            time.sleep(0.2)

    def psql(self, sql: str, *, database: str = "postgres") -> str:
        """Run ``sql`` as the superuser (through the Unix socket); returns the output (tuples only)."""
        argv = [str(self.bin / "psql"), "-h", str(self.root), "-p", str(self.port), "-U", "postgres", "-d", database,
                "-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t", "-f", "-"]
        done = subprocess.run(argv, input=sql, capture_output=True, text=True, cwd=str(self.root))  # noqa: S603
        if done.returncode != 0:
            raise LabelStudioError(f"psql failed on {self!r}: {done.stderr.strip()[-500:]}")
        return done.stdout

    def _create_database(self) -> None:
        # The password goes through stdin, never on a command line; token_urlsafe has no quote.
        self.psql(f"CREATE ROLE {DB_USER} LOGIN PASSWORD '{self._password}';\n"
                  f"CREATE DATABASE {DB_NAME} OWNER {DB_USER};\n")

    def kill(self) -> None:
        """Crash the server: SIGKILL the postmaster and all its backends at once."""
        self._kill_group()

    def _kill_group(self) -> None:
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=10)
        deadline = time.monotonic() + 5.0  # the backends: no longer our children
        while time.monotonic() < deadline and _group_alive(self._proc.pid):
            time.sleep(0.05)

    def stop(self, grace: float = 20.0) -> None:
        """Fast shutdown (SIGINT: sessions are ended, the cluster is left clean); SIGKILL after ``grace`` s."""
        if self.pid is None:
            return
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._proc.pid, signal.SIGINT)
        try:
            self._proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self._kill_group()

    def remove(self) -> None:
        """Stop the server and delete its folder."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def _group_alive(pgid: int) -> bool:
    """True while a process of group ``pgid`` is alive and not a zombie."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[-1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False
