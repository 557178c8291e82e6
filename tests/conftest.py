"""Shared fixtures.

``label_studio``: ONE real Label Studio server per test session, started from the Label Studio
virtual environment (``.venv-ls/bin/label-studio`` at the repository root, or env
``DATASET_BUILDER_LS_BIN``) on 127.0.0.1 and a free port, with SQLite in a temporary data folder.
Tests that use it are marked ``@pytest.mark.label_studio``. Without the executable the tests are
skipped with the reason, except under ``CI=true`` where that is a failure.
"""

from __future__ import annotations

import os

import pytest

from dataset_builder import label_studio as ls


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


class LabelStudioServer:
    """The session's server: ``.url``, ``.api_key``, ``.data_dir``, ``.pid``, ``.connection()``.

    ``kill()`` crashes it (SIGKILL) and ``restart()`` starts it again on the same data folder and
    port, for the crash/resume test; the handle stays valid across a restart. A watchdog stops the
    server should the test process die without running its teardown (killed by a timeout).
    """

    def __init__(self, data_dir, port: int):
        self.data_dir = data_dir
        self.port = port
        self._info: ls.ServerInfo | None = None

    def start(self) -> None:
        self._info = ls.start_server(self.data_dir, port=self.port, timeout=180.0, stop_with_pid=os.getpid())

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
def label_studio(tmp_path_factory):
    """Start one Label Studio for the whole session; stop it by its pid at the end."""
    try:
        ls.ls_binary()
    except ls.LabelStudioError as exc:
        if _ci():
            pytest.fail(f"CI=true but Label Studio is not installed: {exc}")
        pytest.skip(f"Label Studio not installed: {exc}")
    server = LabelStudioServer(tmp_path_factory.mktemp("ls-data"), ls.free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()
