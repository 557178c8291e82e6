"""Label Studio on PostgreSQL: the database URL, ``serve --database``, and PostgreSQL killed mid-push.

The server tests use the session's ``label_studio[postgresql]`` (a real PostgreSQL started by
``tests/conftest.py`` in a temporary folder, with a Label Studio on it); every other Label Studio
integration test runs on it too, through the parametrized fixture.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from dataset_builder import label_studio as ls
from dataset_builder.cli import cli
from dataset_builder.errors import LabelStudioError
from dataset_builder.label_studio.database import (
    PASSWORD_ENV,
    choose_database,
    parse_database_url,
    prepare_database,
    read_password,
    server_env,
)
from test_label_studio import count_by_segment, synthetic_segments

on_postgresql = pytest.mark.parametrize("label_studio", ["postgresql"], indirect=True)


# ---------------------------------------------------------------------------------------------
# The database URL and the password (no server)
# ---------------------------------------------------------------------------------------------


def test_database_url_parts_and_defaults():
    db = parse_database_url("postgresql://label%40studio@db.internal:6543/ls_prod?sslmode=require", password="pw")
    assert (db.host, db.port, db.name, db.user, db.sslmode) == ("db.internal", 6543, "ls_prod", "label@studio", "require")
    assert db.url == "postgresql://label%40studio@db.internal:6543/ls_prod?sslmode=require"
    assert "pw" not in repr(db) and "pw" not in db.url
    assert parse_database_url("postgres://ls@127.0.0.1/ls").port == 5432
    assert parse_database_url("postgresql://ls@[::1]:5433/ls").url == "postgresql://ls@[::1]:5433/ls"


@pytest.mark.parametrize(("url", "match"), [
    ("sqlite:///x.db", r"must be a PostgreSQL URL like postgresql://.*got scheme 'sqlite'"),
    ("postgresql://ls:s3cret@db/ls", r"must not contain the password .*--database-password-file .*DATASET_BUILDER_DB_PASSWORD"),
    ("postgresql://db:5432/ls", r"lacks the user; write it as postgresql://USER@HOST:PORT/NAME"),
    ("postgresql://ls@db:5432/", r"lacks the database name"),
    ("postgresql://ls@db:99999/ls", r"the port in 'postgresql://ls@db:99999/ls' is not a number"),
    ("postgresql://ls@db/ls?sslmode=always", r"sslmode must be one of disable, .*got 'always'"),
    ("postgresql://ls@db/ls?connect_timeout=3", r"unknown option\(s\) connect_timeout; only sslmode"),
])
def test_bad_database_urls_are_refused(url, match):
    with pytest.raises(LabelStudioError, match=match) as info:
        parse_database_url(url)
    assert "s3cret" not in str(info.value)


def test_password_comes_from_the_file_then_the_environment(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("from-file\nignored\n")
    assert read_password(pw, env={PASSWORD_ENV: "from-env"}) == "from-file"
    assert read_password(None, env={PASSWORD_ENV: "from-env", "PGPASSWORD": "pg"}) == "from-env"
    assert read_password(None, env={"PGPASSWORD": "pg"}) == "pg"
    assert read_password(None, env={}) is None
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(LabelStudioError, match=r"empty: the first line \(the password\) is empty"):
        read_password(tmp_path / "empty")
    with pytest.raises(LabelStudioError, match=r"nope: cannot read it"):
        read_password(tmp_path / "nope")


def test_the_password_reaches_the_server_only_through_the_0600_file(tmp_path):
    db = parse_database_url("postgresql://ls@db:5433/ls", password="pa:ss\\word")
    prepare_database(tmp_path, db)
    assert (tmp_path / "pgpass").read_text() == "db:5433:ls:ls:pa\\:ss\\\\word\n"  # libpq's escaping
    assert os.stat(tmp_path / "pgpass").st_mode & 0o777 == 0o600
    assert json.loads((tmp_path / "database.json").read_text()) == {
        "engine": "postgresql", "host": "db", "port": 5433, "name": "ls", "user": "ls", "sslmode": ""}
    base = {"PATH": "/bin", "PGPASSWORD": "pa:ss\\word", "LABEL_STUDIO_POSTGRE_HOST": "elsewhere",
            "HEARTEX_POSTGRE_NAME": "other", "POSTGRE_PASSWORD": "pa:ss\\word"}
    env = server_env(tmp_path, db, base)
    assert "pa:ss" not in json.dumps(env)
    assert {k: env[k] for k in ("DJANGO_DB", "POSTGRE_HOST", "POSTGRE_PORT", "POSTGRE_NAME", "POSTGRE_USER",
                                "POSTGRE_PASSWORD", "PGPASSFILE")} == {
        "DJANGO_DB": "postgresql", "POSTGRE_HOST": "db", "POSTGRE_PORT": "5433", "POSTGRE_NAME": "ls",
        "POSTGRE_USER": "ls", "POSTGRE_PASSWORD": "", "PGPASSFILE": str(tmp_path / "pgpass")}
    assert "LABEL_STUDIO_POSTGRE_HOST" not in env and "HEARTEX_POSTGRE_NAME" not in env
    assert server_env(tmp_path, None, base) == base  # SQLite: the environment as it is


def test_a_data_folder_keeps_its_database(tmp_path):
    db = parse_database_url("postgresql://ls@db/ls")
    assert choose_database(tmp_path, None) is None
    prepare_database(tmp_path, db)
    assert choose_database(tmp_path, None) == db == choose_database(tmp_path, parse_database_url("postgresql://ls@db/ls"))
    with pytest.raises(LabelStudioError, match=r"belongs to the database postgresql://ls@db:5432/ls, not "
                                               r"postgresql://ls@db:5432/other; use another --data-dir"):
        choose_database(tmp_path, parse_database_url("postgresql://ls@db/other"))
    sqlite = tmp_path / "sqlite"
    sqlite.mkdir()
    (sqlite / "label_studio.sqlite3").write_bytes(b"")
    with pytest.raises(LabelStudioError, match=r"holds a SQLite Label Studio database; use a new --data-dir"):
        choose_database(sqlite, db)
    (tmp_path / "database.json").write_text("{")
    with pytest.raises(LabelStudioError, match=r"database\.json: cannot be read"):
        choose_database(tmp_path, None)


def test_cli_serve_refuses_a_password_in_the_url_in_one_line(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["serve", "--data-dir", str(tmp_path / "d"), "--database",
                                 "postgresql://ls:s3cret@127.0.0.1:1/ls"])
    assert result.exit_code == 1
    assert result.output.startswith("error: --database must not contain the password") and "s3cret" not in result.output
    assert not (tmp_path / "d").exists()
    (tmp_path / "pw").write_text("x\n")
    result = runner.invoke(cli, ["serve", "--data-dir", str(tmp_path / "d"), "--database-password-file",
                                 str(tmp_path / "pw")])
    assert result.exit_code == 1 and result.output == (
        "error: --database-password-file needs --database postgresql://USER@HOST:PORT/NAME.\n")


def test_missing_postgresql_binaries_say_how_to_install(tmp_path):
    from dataset_builder.label_studio.postgres import find_pg_bin

    with pytest.raises(LabelStudioError, match=r"not in .*/nope; install them \(Debian: apt-get install postgresql"):
        find_pg_bin(tmp_path / "nope")


# ---------------------------------------------------------------------------------------------
# On the real PostgreSQL
# ---------------------------------------------------------------------------------------------


@pytest.mark.label_studio
@on_postgresql
def test_label_studio_keeps_its_projects_in_postgresql(label_studio):
    conn = label_studio.connection()
    rows = synthetic_segments(30, "in-pg")
    assert ls.push_segments(conn, rows, "entities", project_title="in postgresql").imported == 30
    pg = label_studio.postgres
    count = pg.psql("SELECT count(*) FROM task t JOIN project p ON p.id = t.project_id "
                    "WHERE p.title = 'in postgresql';", database=pg.database.name)
    assert count.strip() == "30"


def _wait_for_tasks(pg, title: str, at_least: int, timeout: float = 120.0) -> None:
    """Poll PostgreSQL itself until the project holds ``at_least`` tasks (then the push is mid-way)."""
    sql = f"SELECT count(*) FROM task t JOIN project p ON p.id = t.project_id WHERE p.title = '{title}';"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if int(pg.psql(sql, database=pg.database.name).strip() or 0) >= at_least:
                return
        except (LabelStudioError, ValueError):
            pass
        time.sleep(0.05)


@pytest.mark.label_studio
@on_postgresql
def test_postgresql_killed_mid_push_then_resumed_gives_each_segment_once(label_studio):
    """PostgreSQL (not Label Studio) crashes mid-push: the push fails, and once PostgreSQL is
    back, running it again imports exactly what is missing."""
    conn, pg = label_studio.connection(), label_studio.postgres
    rows = synthetic_segments(3000, "pgkill")
    killed = threading.Event()

    def killer():
        _wait_for_tasks(pg, "pgkill", 250)
        pg.kill()
        killed.set()

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        with pytest.raises(LabelStudioError, match=r"Label Studio at .*HTTP 5\d\d|Label Studio at .*after \d attempt"):
            ls.push_segments(conn, rows, "entities", project_title="pgkill", batch_size=250,
                             retry=ls.RetryPolicy(retries=1, base=0.2))
    finally:
        thread.join(timeout=130)
        pg.start()  # crash recovery from the write-ahead log
    assert killed.is_set()
    before = count_by_segment(conn, "pgkill")
    assert 0 < sum(before.values()) < len(rows) and max(before.values()) == 1
    resumed = ls.push_segments(conn, rows, "entities", project_title="pgkill", batch_size=250)
    assert resumed.already_present == sum(before.values())
    assert resumed.imported == len(rows) - resumed.already_present
    assert count_by_segment(conn, "pgkill") == Counter(r["id"] for r in rows)


@pytest.mark.label_studio
@on_postgresql
def test_postgresql_restarted_while_push_retries_gives_each_segment_once(label_studio):
    """PostgreSQL crashes mid-push and comes back 2 s later: one push, with its retries, ends
    with every segment exactly once (a batch in flight when it died is re-checked, not doubled)."""
    conn, pg = label_studio.connection(), label_studio.postgres
    rows = synthetic_segments(2000, "pgblip")
    pushing, killed_mid_push = threading.Event(), []

    def blip():
        _wait_for_tasks(pg, "pgblip", 200)
        killed_mid_push.append(pushing.is_set())
        pg.kill()
        time.sleep(2.0)
        pg.start()

    thread = threading.Thread(target=blip, daemon=True)
    thread.start()
    pushing.set()
    try:
        report = ls.push_segments(conn, rows, "entities", project_title="pgblip", batch_size=200,
                                  retry=ls.RetryPolicy(retries=8, base=0.5, cap=4.0))
        pushing.clear()
    finally:
        thread.join(timeout=130)
        pg.start()
    assert killed_mid_push == [True]
    assert (report.read, report.imported + report.already_present, report.rejected) == (2000, 2000, 0)
    assert count_by_segment(conn, "pgblip") == Counter(r["id"] for r in rows)


@pytest.mark.label_studio
@on_postgresql
def test_cli_serve_on_postgresql_keeps_the_password_in_the_data_folder(label_studio, tmp_path):
    """``serve --database`` on the session's database (already migrated): a second Label Studio
    on the same PostgreSQL sees the same projects, and the password shows nowhere but ``pgpass``."""
    db = label_studio.postgres.database
    password = db.password
    runner = CliRunner()
    env = {PASSWORD_ENV: password, "LABEL_STUDIO_URL": None, "LABEL_STUDIO_API_KEY": None}

    # A new data folder on a database whose admin@localhost has another token: refused, stopped.
    clash = runner.invoke(cli, ["serve", "--data-dir", str(tmp_path / "clash"), "--port", "0",
                                "--database", db.url], env=env)
    assert clash.exit_code == 1
    assert re.search(r"^error: Label Studio on postgresql://labelstudio@127\.0\.0\.1:\d+/labelstudio rejects the "
                     r"token in .*clash/api_token, so it was stopped: the database already has the user "
                     r"admin@localhost", clash.output), clash.output
    assert ls.stop_server(tmp_path / "clash").was_running is False

    data = tmp_path / "team"
    (tmp_path / "pw").write_text(password + "\n")
    args = ["serve", "--data-dir", str(data), "--port", "0", "--username", "team@localhost"]
    started = runner.invoke(cli, [*args, "--database", db.url, "--database-password-file", str(tmp_path / "pw")],
                            env={"LABEL_STUDIO_URL": None, "LABEL_STUDIO_API_KEY": None})
    try:
        assert started.exit_code == 0, started.output
        assert f"database: {db.url}" in started.output and "Label Studio started at" in started.output
        again = runner.invoke(cli, args)  # the recorded database, no password needed again
        assert again.exit_code == 0 and "already running" in again.output and f"database: {db.url}" in again.output
        other = runner.invoke(cli, [*args, "--database", db.url.replace("/labelstudio", "/other")])
        assert other.exit_code == 1 and "belongs to the database" in other.output

        team = ls.resolve_connection(data_dir=data, env={})
        ls.push_segments(team, synthetic_segments(5, "team"), "entities", project_title="team project")
        assert sum(count_by_segment(label_studio.connection(), "team project").values()) == 5  # one database
        pid = json.loads((data / ls.STATE_FILE).read_text())["pid"]
        assert password.encode() not in Path(f"/proc/{pid}/environ").read_bytes()
        assert password.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
    finally:
        stopped = runner.invoke(cli, ["stop", "--data-dir", str(data)])
    assert "stopped Label Studio" in stopped.output
    for result in (clash, started, again, other, stopped):
        assert password not in result.output
    assert os.stat(data / "pgpass").st_mode & 0o777 == 0o600
    holders = [p.relative_to(tmp_path) for p in tmp_path.rglob("*")
               if p.is_file() and p.name != "pw" and password.encode() in p.read_bytes()]
    assert sorted(holders) == [Path("clash/pgpass"), Path("team/pgpass")]


@pytest.mark.label_studio
@on_postgresql
def test_pg_dump_and_pg_restore_bring_back_the_projects(label_studio, tmp_path):
    """The backup of docs/label_studio.md, on the real server: dump, restore into a new database."""
    import subprocess

    conn, pg = label_studio.connection(), label_studio.postgres
    ls.push_segments(conn, synthetic_segments(40, "backup"), "entities", project_title="backed up")
    db = pg.database
    env = {**os.environ, "PGPASSWORD": db.password}
    dump = tmp_path / "labelstudio.dump"
    common = ["--host", db.host, "--port", str(db.port), "--username", db.user]
    subprocess.run([str(pg.bin / "pg_dump"), "--format=custom", *common, "--dbname", db.name, "--file", str(dump)],
                   env=env, check=True, capture_output=True)
    pg.psql(f"CREATE DATABASE labelstudio_restored OWNER {db.user};")
    subprocess.run([str(pg.bin / "pg_restore"), "--no-owner", "--role", db.user, *common,
                    "--dbname", "labelstudio_restored", str(dump)], env=env, check=True, capture_output=True)
    sql = ("SELECT count(*) FROM task t JOIN project p ON p.id = t.project_id WHERE p.title = 'backed up';")
    assert pg.psql(sql, database="labelstudio_restored").strip() == pg.psql(sql, database=db.name).strip() == "40"
    pg.psql("DROP DATABASE labelstudio_restored;")
