"""What ``dataset-builder serve`` keeps in its data folder: the state file and the 0600 secret files.

Shared by :mod:`.server` (which writes them) and :mod:`.connection` (which reads the URL and the
token of a local server from them).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

DEFAULT_DATA_DIR = Path(".ls-data")

STATE_FILE = "server.json"
TOKEN_FILE = "api_token"
PASSWORD_FILE = "password"
LOG_FILE = "label-studio.log"
DATABASE_FILE = "database.json"  # the PostgreSQL database of this folder's server (no password)
PGPASS_FILE = "pgpass"  # its password, in libpq's password file format (mode 0600)


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
