"""Shared fixtures.

``label_studio``: ONE real Label Studio server per test session and database, started from the
Label Studio virtual environment (``.venv-ls/bin/label-studio`` at the repository root, or env
``DATASET_BUILDER_LS_BIN``) on 127.0.0.1 and a free port, with a temporary data folder. The
fixture is parametrized over the database, so every test that uses it runs twice: ``[sqlite]``
(SQLite in the data folder) and ``[postgresql]`` (the ``postgres`` fixture: a throwaway PostgreSQL
server from the system's binaries, in a temporary folder on 127.0.0.1). pytest runs all the tests
of one database, then those of the other, so one server is up at a time. ``-k "not postgresql"``
runs the SQLite half only. Tests that use it are marked ``@pytest.mark.label_studio``. Without the
executable, or without PostgreSQL for the second half, the tests are skipped with the reason,
except under ``CI=true`` where that is a failure.
"""

from __future__ import annotations

import os

import pytest

from dataset_builder import label_studio as ls
from dataset_builder.label_studio.postgres import LocalPostgres

LS_DATABASES = ("sqlite", "postgresql")


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


class LabelStudioServer:
    """The session's server: ``.url``, ``.api_key``, ``.data_dir``, ``.pid``, ``.connection()``.

    ``kill()`` crashes it (SIGKILL) and ``restart()`` starts it again on the same data folder and
    port, for the crash/resume test; the handle stays valid across a restart. A watchdog stops the
    server should the test process die without running its teardown (killed by a timeout).
    """

    def __init__(self, data_dir, port: int, postgres: LocalPostgres | None = None):
        self.data_dir = data_dir
        self.port = port
        self.postgres = postgres  # the PostgreSQL server under it, None on SQLite
        self.database = "sqlite" if postgres is None else "postgresql"
        self._info: ls.ServerInfo | None = None

    def start(self) -> None:
        self._info = ls.start_server(self.data_dir, port=self.port, timeout=300.0, stop_with_pid=os.getpid(),
                                     database=self.postgres.database if self.postgres else None)

    @property
    def url(self) -> str:
        assert self._info is not None
        return self._info.url

    @property
    def api_key(self) -> str:
        assert self._info is not None
        return self._info.api_key

    @property
    def pid(self) -> int:
        assert self._info is not None
        return self._info.pid

    def connection(self) -> ls.Connection:
        return ls.Connection(url=self.url, api_key=self.api_key, source="test server")

    def kill(self) -> None:
        ls.kill_server(self.data_dir)

    def restart(self) -> None:
        self.start()

    def stop(self) -> None:
        ls.stop_server(self.data_dir, grace=10.0)


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL server for the session (``LocalPostgres``), removed at the end."""
    try:
        server = LocalPostgres(fsync=False, stop_with_pid=os.getpid())
    except ls.LabelStudioError as exc:
        if _ci():
            pytest.fail(f"CI=true but PostgreSQL is not installed: {exc}")
        pytest.skip(f"PostgreSQL not installed: {exc}")
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="session", params=LS_DATABASES)
def label_studio(request, tmp_path_factory):
    """Start one Label Studio per database for the session; stop it by its pid at the end."""
    try:
        ls.ls_binary()
    except ls.LabelStudioError as exc:
        if _ci():
            pytest.fail(f"CI=true but Label Studio is not installed: {exc}")
        pytest.skip(f"Label Studio not installed: {exc}")
    pg = request.getfixturevalue("postgres") if request.param == "postgresql" else None
    server = LabelStudioServer(tmp_path_factory.mktemp(f"ls-data-{request.param}"), ls.free_port(), postgres=pg)
    try:
        server.start()
        yield server
    finally:
        server.stop()
