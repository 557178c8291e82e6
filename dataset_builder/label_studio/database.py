"""The database of the local server: SQLite in the data folder (default) or a PostgreSQL server.

``serve --database postgresql://USER@HOST:PORT/NAME`` runs Label Studio on PostgreSQL. The URL
never holds the password (it would show in ``ps`` and the shell history): the password comes from
``--database-password-file`` or the environment variable ``DATASET_BUILDER_DB_PASSWORD``, and is
kept only in the data folder, in a libpq password file (``pgpass``, mode 0600) that Label Studio's
database driver reads through ``PGPASSFILE``: it is in no command line, no environment variable of
the server and no output. The database (without password) is recorded in ``database.json``, so the
next ``serve`` on the same data folder uses it again.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from ..errors import LabelStudioError
from .data_dir import DATABASE_FILE, PGPASS_FILE, _write_secret

PASSWORD_ENV = "DATASET_BUILDER_DB_PASSWORD"
"""Environment variable holding the PostgreSQL password for ``serve --database``."""
DATABASE_ENV = "DATASET_BUILDER_DATABASE"
"""Environment variable holding the ``--database`` URL."""

_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# Label Studio reads each of its settings from LABEL_STUDIO_<NAME>, HEARTEX_<NAME> or <NAME>, in
# that order (core/utils/params.py get_env): the prefixed ones must not override ours.
_LS_DB_SETTINGS = ("DJANGO_DB", "POSTGRE_NAME", "POSTGRE_USER", "POSTGRE_PASSWORD", "POSTGRE_HOST", "POSTGRE_PORT",
                   "DATABASE_NAME")


@dataclass(frozen=True)
class Database:
    """A PostgreSQL database for Label Studio. ``password`` never shows in ``repr`` or :attr:`url`."""

    host: str
    port: int
    name: str
    user: str
    sslmode: str = ""
    password: str | None = field(default=None, repr=False, compare=False)

    @property
    def url(self) -> str:
        """``postgresql://user@host:port/name`` (never the password), for messages and the record."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        query = f"?sslmode={self.sslmode}" if self.sslmode else ""
        return f"postgresql://{urllib.parse.quote(self.user, safe='')}@{host}:{self.port}/" \
               f"{urllib.parse.quote(self.name, safe='')}{query}"

    def record(self) -> dict[str, object]:
        return {"engine": "postgresql", "host": self.host, "port": self.port, "name": self.name, "user": self.user,
                "sslmode": self.sslmode}

    def with_password(self, password: str | None) -> Database:
        return Database(self.host, self.port, self.name, self.user, self.sslmode, password)


def parse_database_url(url: str, *, password: str | None = None) -> Database:
    """``postgresql://USER@HOST[:PORT]/NAME[?sslmode=...]`` as a :class:`Database`.

    Raises
    ------
    LabelStudioError
        Not a PostgreSQL URL, a part missing, an unknown query option, or a password in the URL.
    """
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("postgresql", "postgres"):
        raise LabelStudioError(
            f"--database must be a PostgreSQL URL like postgresql://labelstudio@127.0.0.1:5432/labelstudio; "
            f"got scheme {parts.scheme or '(none)'!r} (leave --database out for SQLite in the data folder)."
        )
    if parts.password is not None:
        raise LabelStudioError(
            "--database must not contain the password (it would show in the process list and the shell history); "
            f"put it in a file for --database-password-file or in the environment variable {PASSWORD_ENV}."
        )
    try:
        port = parts.port or 5432
    except ValueError:
        raise LabelStudioError(f"--database: the port in {_without_password(url)!r} is not a number 1-65535.") from None
    name = urllib.parse.unquote(parts.path.lstrip("/"))
    user = urllib.parse.unquote(parts.username or "")
    missing = [what for what, value in (("user", user), ("host", parts.hostname), ("database name", name)) if not value]
    if missing:
        raise LabelStudioError(
            f"--database {_without_password(url)!r} lacks the {' and the '.join(missing)}; "
            "write it as postgresql://USER@HOST:PORT/NAME."
        )
    query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"sslmode"})
    if unknown:
        raise LabelStudioError(f"--database: unknown option(s) {', '.join(unknown)}; only sslmode is understood.")
    sslmode = (query.get("sslmode") or [""])[-1]
    if sslmode and sslmode not in _SSLMODES:
        raise LabelStudioError(f"--database: sslmode must be one of {', '.join(_SSLMODES)}; got {sslmode!r}.")
    return Database(host=parts.hostname or "", port=port, name=name, user=user, sslmode=sslmode, password=password)


def database_from_options(url: str | None, password_file: str | Path | None = None,
                          env: Mapping[str, str] | None = None) -> Database | None:
    """``serve``'s ``--database`` and ``--database-password-file`` as a :class:`Database` (None: none given)."""
    if not url:
        if password_file:
            raise LabelStudioError("--database-password-file needs --database postgresql://USER@HOST:PORT/NAME.")
        return None
    return parse_database_url(url, password=read_password(password_file, env))


def _without_password(url: str) -> str:
    return re.sub(r"^([a-z]+://[^:/@]*):[^@]*@", r"\1:***@", url.strip())


def read_password(password_file: str | Path | None, env: Mapping[str, str] | None = None) -> str | None:
    """The database password: ``password_file`` (first line), else ``$DATASET_BUILDER_DB_PASSWORD``, else ``$PGPASSWORD``.

    None when there is none: libpq then tries ``$PGPASSFILE`` or ``~/.pgpass``, or the server trusts the connection.
    """
    env = os.environ if env is None else env
    if password_file:
        try:
            lines = Path(password_file).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise LabelStudioError(f"--database-password-file {password_file}: cannot read it ({exc.strerror}).") from None
        if not lines or not lines[0]:
            raise LabelStudioError(f"--database-password-file {password_file}: the first line (the password) is empty.")
        return lines[0]
    return env.get(PASSWORD_ENV) or env.get("PGPASSWORD") or None


def recorded_database(data_dir: Path) -> Database | None:
    """The database recorded in ``data_dir/database.json`` by an earlier ``serve``, if any."""
    try:
        rec = json.loads((data_dir / DATABASE_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise LabelStudioError(f"{data_dir / DATABASE_FILE}: cannot be read ({exc}); fix or remove it.") from None
    try:
        return Database(host=str(rec["host"]), port=int(rec["port"]), name=str(rec["name"]), user=str(rec["user"]),
                        sslmode=str(rec.get("sslmode", "")))
    except (KeyError, TypeError, ValueError):
        raise LabelStudioError(f"{data_dir / DATABASE_FILE}: not a database record; fix or remove it.") from None


def choose_database(data_dir: Path, database: Database | None) -> Database | None:
    """The database ``serve`` uses for ``data_dir``: ``database`` or the recorded one (None: SQLite).

    A data folder keeps the database it was first started on: another one, or PostgreSQL for a
    folder that holds a SQLite database, is refused (its projects and token belong elsewhere).
    """
    recorded = recorded_database(data_dir)
    if database is None:
        return recorded
    if recorded is not None and recorded != database:
        raise LabelStudioError(
            f"{data_dir} belongs to the database {recorded.url}, not {database.url}; "
            "use another --data-dir for another database (or leave --database out to use the recorded one)."
        )
    if recorded is None and (data_dir / "label_studio.sqlite3").is_file():
        raise LabelStudioError(
            f"{data_dir} holds a SQLite Label Studio database; use a new --data-dir for PostgreSQL "
            "(the SQLite projects are not moved)."
        )
    return database


def prepare_database(data_dir: Path, database: Database) -> None:
    """Record ``database`` (no password) and, when it has one, write the 0600 libpq password file."""
    (data_dir / DATABASE_FILE).write_text(json.dumps(database.record(), indent=2) + "\n", encoding="utf-8")
    if database.password is not None:
        if "\n" in database.password or "\r" in database.password:
            raise LabelStudioError("the database password must be one line.")
        _write_secret(data_dir / PGPASS_FILE, ":".join(_pgpass_field(x) for x in (
            database.host, str(database.port), database.name, database.user, database.password)))


def _pgpass_field(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


def server_env(data_dir: Path, database: Database | None, base: Mapping[str, str]) -> dict[str, str]:
    """Label Studio's database settings for ``database`` (None: leave ``base`` as it is).

    The password is not among them: ``POSTGRE_PASSWORD`` is empty, so the driver takes it from
    ``PGPASSFILE`` (the data folder's ``pgpass``), or from ``~/.pgpass`` when ``serve`` was given none.
    """
    env = dict(base)
    if database is None:
        return env
    for name in _LS_DB_SETTINGS:
        for prefix in ("LABEL_STUDIO_", "HEARTEX_"):
            env.pop(prefix + name, None)
    env.pop("PGPASSWORD", None)  # read by read_password, then passed on through the password file only
    env.update({"DJANGO_DB": "postgresql", "POSTGRE_HOST": database.host, "POSTGRE_PORT": str(database.port),
                "POSTGRE_NAME": database.name, "POSTGRE_USER": database.user, "POSTGRE_PASSWORD": ""})
    if (data_dir / PGPASS_FILE).is_file():
        env["PGPASSFILE"] = str(data_dir / PGPASS_FILE)
    if database.sslmode:
        env["PGSSLMODE"] = database.sslmode
    return env
