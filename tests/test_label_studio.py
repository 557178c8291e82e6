"""Label Studio: connection settings, push, pull, serve, against a real server where it matters.

Tests marked ``label_studio`` share the one server started by ``tests/conftest.py``; the crash
test kills and restarts it on the same data folder, so it runs last in this file.
"""

from __future__ import annotations

import http.server
import json
import logging
import os
import socket
import sys
import threading
import unicodedata
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from dataset_builder import label_studio as ls
from dataset_builder.cli import cli
from dataset_builder.errors import InputError, LabelStudioError, SchemaError
from dataset_builder.jsonl import write_jsonl
from dataset_builder.label_studio.index import CACHE_ENV
from dataset_builder.records import Article, Segment
from dataset_builder.schema import list_configs, load_schema
from dataset_builder.segment import segment_article

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted((ROOT / "data" / "sample_articles").glob("*.txt"))


def seed_segments() -> list[dict]:
    """Segments of the seed articles, with title and date as push expects them."""
    rows = []
    for path in SAMPLES:
        text = unicodedata.normalize("NFC", path.read_text(encoding="utf-8")).replace("\r\n", "\n")
        article = Article(id=path.stem, text=text, title=f"Seed article {path.stem}", date="2017-10-02")
        for seg in segment_article(article):
            rows.append({**seg.to_dict(), "title": article.title, "date": article.date})
    return rows


def synthetic_segments(n: int, prefix: str) -> list[dict]:
    rows = []
    for i in range(n):
        text = f"Segment {i}: the minister of {prefix} met Maduro in Caracas."
        rows.append(Segment(id=f"{prefix}-{i:06d}", article_id=f"{prefix}-a{i // 25}", index=i % 25,
                            start=0, end=len(text), text=text).to_dict())
    return rows


def free_url() -> str:
    return f"http://127.0.0.1:{ls.free_port()}"


# ---------------------------------------------------------------------------------------------
# No server needed
# ---------------------------------------------------------------------------------------------


def test_connection_hides_the_key():
    conn = ls.Connection(url="http://127.0.0.1:1/", api_key="s3cr3t-key-value", source="test")
    assert conn.url == "http://127.0.0.1:1"
    assert "s3cr3t" not in repr(conn) and "s3cr3t" not in str(conn)
    with pytest.raises(LabelStudioError, match=r"must start with http:// or https://; got 'localhost:8080'"):
        ls.Connection(url="localhost:8080", api_key="k", source="env")
    with pytest.raises(LabelStudioError, match=r"empty Label Studio API key"):
        ls.Connection(url="http://x", api_key=" ", source="env")
    assert ls.Connection(url="http://u:p@host:1", api_key="k").safe_url == "http://host:1"


def test_resolve_connection_order_env_then_file_then_local_server(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "ls"
    data.mkdir()
    (data / ls.STATE_FILE).write_text(json.dumps({"url": "http://127.0.0.1:9001", "pid": 1}))
    (data / ls.TOKEN_FILE).write_text("token-from-data-dir\n")
    conn = ls.resolve_connection(data_dir=data, env={})
    assert (conn.url, conn.api_key) == ("http://127.0.0.1:9001", "token-from-data-dir")

    keyfile = tmp_path / "key.txt"
    keyfile.write_text("token-from-key-file\n")
    toml = tmp_path / "ls.toml"
    toml.write_text(f'[label_studio]\nurl = "http://10.0.0.1:8080"\napi_key_file = "{keyfile}"\n')
    conn = ls.resolve_connection(config_file=toml, data_dir=data, env={})
    assert (conn.url, conn.api_key) == ("http://10.0.0.1:8080", "token-from-key-file")

    js = tmp_path / "ls.json"
    js.write_text(json.dumps({"label_studio": {"url": "http://10.0.0.2:8080", "api_key": "token-from-json"}}))
    conn = ls.resolve_connection(config_file=js, data_dir=data, env={})
    assert (conn.url, conn.api_key) == ("http://10.0.0.2:8080", "token-from-json")

    env = {"LABEL_STUDIO_URL": "http://env:1", "LABEL_STUDIO_API_KEY": "token-from-env"}
    conn = ls.resolve_connection(config_file=toml, data_dir=data, env=env)
    assert (conn.url, conn.api_key) == ("http://env:1", "token-from-env")
    assert "token-from" not in conn.source  # says where, never what

    # ./.dataset-builder.toml is read when no file is named
    Path(".dataset-builder.toml").write_text('[label_studio]\nurl = "http://dot:2"\napi_key = "token-dot"\n')
    conn = ls.resolve_connection(data_dir=tmp_path / "none", env={})
    assert (conn.url, conn.api_key) == ("http://dot:2", "token-dot")


def test_resolve_connection_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LabelStudioError, match=r"no Label Studio URL found .*set LABEL_STUDIO_URL"):
        ls.resolve_connection(data_dir=tmp_path, env={})
    with pytest.raises(LabelStudioError, match=r"no Label Studio API key found .*set LABEL_STUDIO_API_KEY"):
        ls.resolve_connection(data_dir=tmp_path, env={"LABEL_STUDIO_URL": "http://x:1"})
    bad = tmp_path / "bad.toml"
    bad.write_text("[label_studio\n")
    with pytest.raises(InputError, match=r"bad\.toml: not valid TOML"):
        ls.resolve_connection(config_file=bad, env={})
    typo = tmp_path / "typo.toml"
    typo.write_text('[label_studio]\nurl = "http://x:1"\napikey = "k"\n')
    with pytest.raises(InputError, match=r"unknown key\(s\) apikey"):
        ls.resolve_connection(config_file=typo, env={})


def test_server_down_is_one_clear_error():
    conn = ls.Connection(url=free_url(), api_key="0" * 40)
    sleeps: list[float] = []
    with pytest.raises(LabelStudioError, match=r"cannot connect to Label Studio at http://127\.0\.0\.1:\d+ .*after 3 attempt"):
        ls.push_segments(conn, synthetic_segments(3, "down"), "entities", retry=ls.RetryPolicy(retries=2, base=0.25),
                         sleep=sleeps.append)
    assert sleeps == [0.25, 0.5]  # exponential back-off


def test_retry_policy_backs_off_exponentially_up_to_the_cap():
    policy = ls.RetryPolicy(retries=8, base=0.5, cap=4.0)
    assert [policy.delay(k) for k in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    with pytest.raises(ValueError, match=r"The 'retries' parameter of RetryPolicy must be an int >= 0"):
        ls.RetryPolicy(retries=-1)


def test_prediction_result_keeps_code_points_and_shares_region_ids():
    schema = load_schema("entities_stance")
    text = "😀 Maduro met Putin."
    start = text.index("Putin")
    row = {"entities": [{"start": start, "end": start + 5, "label": "PER"}],
           "stances": [{"target_start": start, "target_end": start + 5, "label": "against"}]}
    span, stance = ls.prediction_result(schema, "s1", text, row)
    # Label Studio 1.23.2 counts code points (docs/label_studio_offsets.md): no conversion.
    assert (span["value"]["start"], span["value"]["end"]) == (start, start + 5)
    assert text[span["value"]["start"]:span["value"]["end"]] == span["value"]["text"] == "Putin"
    assert span["value"]["labels"] == ["PER"]
    assert stance["id"] == span["id"] and stance["value"]["choices"] == ["against"]
    assert stance["from_name"] == schema.stance_from_name and span["from_name"] == schema.entity_from_name
    assert ls.prediction_result(schema, "s1", text, row) == [span, stance]  # stable ids
    with pytest.raises(SchemaError, match=r"entity label 'PERSON' is not in config 'entities_stance'"):
        ls.prediction_result(schema, "s1", text, {"entities": [{"start": 0, "end": 1, "label": "PERSON"}]})
    with pytest.raises(SchemaError, match=r"stance target \[0, 1\] is not one of the predicted entities"):
        ls.prediction_result(schema, "s1", text, {"stances": [{"target_start": 0, "target_end": 1, "label": "favor"}]})
    with pytest.raises(SchemaError, match=r"do not fit a text of 19 code points"):
        ls.prediction_result(schema, "s1", text, {"entities": [{"start": 5, "end": 99, "label": "PER"}]})


def test_task_data_checks_the_target():
    schema = load_schema("target_stance")
    seg = Segment(id="s", article_id="a", index=0, start=10, end=26, text="Maduro met Putin")
    data = ls.task_data(schema, seg, {"target": "Putin", "target_start": 11, "target_end": 16, "title": "T"})
    assert data == {"text": "Maduro met Putin", "segment_id": "s", "article_id": "a", "start": 10, "end": 26,
                    "title": "T", "date": "", "source": "", "meta": "", "context_before": "", "context_after": "",
                    "target": "Putin", "target_start": 11, "target_end": 16}
    with pytest.raises(SchemaError, match=r"text\[0:5\] is 'Madur', not the target 'Putin'"):
        ls.task_data(schema, seg, {"target": "Putin", "target_start": 0, "target_end": 5})
    with pytest.raises(SchemaError, match=r"needs target, target_start, target_end"):
        ls.task_data(schema, seg, {})


def test_the_servers_note_vouches_only_for_exactly_the_segments_it_was_written_for():
    from dataset_builder.label_studio.index import SegmentIndex, Stamp, _from_note, _make_note
    from dataset_builder.label_studio.tasks import _text_digest

    texts = {f"s{i}": f"text {i}" for i in range(5)}
    index = SegmentIndex(project_id=1, stamp=Stamp(total=5, max_id=9, annotations=2))
    for tid, (sid, text) in zip((3, 4, 6, 8, 9), texts.items()):
        index.add(sid, tid, _text_digest(text), (7,) if sid in ("s0", "s1") else ())
    assert index.matches_stamp()
    note = _make_note(index)
    texts = {sid: _text_digest(t) for sid, t in texts.items()}  # what a push passes: (segment id, text digest)
    vouched = _from_note(1, index.stamp, note, texts.items(), (7, ["s0", "s1"]))
    assert vouched is not None and not vouched.ids_known
    assert all(vouched.digest(sid) == digest for sid, digest in texts.items())
    assert vouched.annotated_by("s1", 7) and not vouched.annotated_by("s2", 7)
    assert _from_note(1, index.stamp, note, texts.items(), None) is not None
    # anything else: not vouched for (the project is listed)
    assert _from_note(1, Stamp(total=5, max_id=10, annotations=2), note, texts.items(), None) is None
    # annotations submitted since the note: still vouches for the segments, not for who annotated what
    later = Stamp(total=index.stamp.total, max_id=index.stamp.max_id, annotations=index.stamp.annotations + 3)
    assert _from_note(1, later, note, texts.items(), None) is not None
    assert _from_note(1, later, note, texts.items(), (7, ["s0", "s1"])) is None
    assert _from_note(1, index.stamp, note, {**texts, "s4": _text_digest("changed")}.items(), None) is None
    assert _from_note(1, index.stamp, note, list(texts.items())[:4], None) is None
    assert _from_note(1, index.stamp, note, texts.items(), (7, ["s0"])) is None
    assert _from_note(1, index.stamp, note, texts.items(), (5, [])) is not None  # user 5 annotated none
    assert _from_note(1, index.stamp, None, texts.items(), None) is None
    # an index that is not the project at its stamp (a task missing, or a newer one) gives no note
    index.tasks.pop("s4")
    assert not index.matches_stamp()


def test_push_report_must_add_up():
    with pytest.raises(Exception, match=r"does not add up: read 3 != already_present 1 \+ imported 1 \+ rejected 0"):
        ls.PushReport(project_id=1, project_title="t", project_created=False, config_name="c", read=3,
                      already_present=1, imported=1, failed=0, predictions=0)


def test_missing_label_studio_binary_and_taken_port(tmp_path, monkeypatch):
    monkeypatch.setenv(ls.LS_BIN_ENV, str(tmp_path / "nope" / "label-studio"))
    with pytest.raises(LabelStudioError, match=r"Label Studio executable not found at .*nope/label-studio"):
        ls.start_server(tmp_path / "data", port=0)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(LabelStudioError, match=rf"port {port} is already in use"):
            ls.start_server(tmp_path / "data", port=port, ls_bin=sys.executable)


def test_stop_without_a_server_says_so(tmp_path):
    result = CliRunner().invoke(cli, ["stop", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0 and "no Label Studio running" in result.output


# ---------------------------------------------------------------------------------------------
# A proxy that injects faults between the client and the real server
# ---------------------------------------------------------------------------------------------


class FaultyProxy:
    """Forwards HTTP to ``upstream``; ``plan`` maps the n-th import request to a fault.

    ``"503"``: answer 503 without forwarding. ``"forward-then-502"``: forward (the server imports
    the tasks) and answer 502, as a proxy that lost the server's answer would.
    """

    def __init__(self, upstream: str, plan: dict[int, str]):
        self.upstream, self.plan, self.imports = upstream, plan, 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def _handle(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fault = None
                if self.path.startswith("/api/projects/") and "/import" in self.path and self.command == "POST":
                    proxy.imports += 1
                    fault = proxy.plan.get(proxy.imports)
                if fault == "503":
                    return self._reply(503, b'{"detail": "unavailable"}', "application/json")
                req = urllib.request.Request(proxy.upstream + self.path, data=body or None, method=self.command,
                                             headers={k: v for k, v in self.headers.items()
                                                      if k.lower() not in ("host", "accept-encoding")})
                try:
                    with urllib.request.urlopen(req, timeout=120) as resp:
                        status, data, ctype = resp.status, resp.read(), resp.headers.get("Content-Type", "")
                except urllib.error.HTTPError as exc:
                    status, data, ctype = exc.code, exc.read(), exc.headers.get("Content-Type", "")
                if fault == "forward-then-502":
                    return self._reply(502, b"bad gateway", "text/plain")
                self._reply(status, data, ctype)

            def _reply(self, status, data, ctype):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def count_by_segment(conn, title) -> Counter:
    return Counter(t["data"]["segment_id"] for t in ls.list_task_data(conn, title))


# ---------------------------------------------------------------------------------------------
# Against the real server
# ---------------------------------------------------------------------------------------------


@pytest.mark.label_studio
@pytest.mark.parametrize("name", list_configs())
def test_every_config_is_accepted_by_the_server(label_studio, name):
    conn = label_studio.connection()
    project = ls.ensure_project(conn, load_schema(name), f"accept-{name}")
    assert project.created
    again = ls.ensure_project(conn, load_schema(name), f"accept-{name}")  # reused, and its labels check out
    assert (again.id, again.created) == (project.id, False)


@pytest.mark.label_studio
def test_reusing_a_project_with_another_config_is_refused(label_studio):
    conn = label_studio.connection()
    ls.ensure_project(conn, load_schema("entities"), "config-clash")
    with pytest.raises(LabelStudioError, match=r"project 'config-clash' .* has labels .* but config 'target_stance'"):
        ls.ensure_project(conn, load_schema("target_stance"), "config-clash")


@pytest.mark.label_studio
def test_an_older_presentation_of_the_same_config_is_brought_up_to_date(label_studio):
    """A project made before an upgrade changed only how the config looks (same labels and controls)
    gets the current config, so pull's manifest names it again; a second push writes nothing."""
    import dataclasses

    from label_studio_sdk import LabelStudio

    conn = label_studio.connection()
    schema = load_schema("entities")
    older = dataclasses.replace(schema, xml=schema.xml.replace("<View", "<View className=\"older\"", 1))
    made = ls.ensure_project(conn, older, "config-upgrade")
    client = LabelStudio(base_url=label_studio.url, api_key=label_studio.api_key)
    assert client.projects.get(id=made.id).label_config.strip() == older.xml.strip()
    again = ls.ensure_project(conn, schema, "config-upgrade")
    assert (again.id, again.created) == (made.id, False)
    project = client.projects.get(id=made.id)
    assert project.label_config.strip() == schema.xml.strip() and schema.config_hash[:12] in project.description
    updated = project.updated_at if hasattr(project, "updated_at") else None
    ls.ensure_project(conn, schema, "config-upgrade")
    if updated is not None:
        assert client.projects.get(id=made.id).updated_at == updated


@pytest.mark.label_studio
def test_push_twice_gives_one_task_per_segment(label_studio, tmp_path):
    conn = label_studio.connection()
    rows = seed_segments()
    path = tmp_path / "segments.jsonl"
    write_jsonl(path, rows + [rows[0]])  # plus one duplicate line
    first = ls.push_segments(conn, path, "entities_stance", project_title="seed", batch_size=7)
    assert (first.read, first.imported, first.already_present) == (len(rows) + 1, len(rows), 0)
    assert first.reasons() == {"duplicate_in_input": 1} and first.project_created
    second = ls.push_segments(conn, path, "entities_stance", project_title="seed", batch_size=7)
    assert (second.imported, second.already_present, second.project_created) == (0, len(rows), False)
    counts = count_by_segment(conn, "seed")
    assert counts == Counter(r["id"] for r in rows)
    tasks = {t["data"]["segment_id"]: t["data"] for t in ls.list_task_data(conn, "seed")}
    for row in rows:
        data = tasks[row["id"]]
        assert (data["text"], data["article_id"], data["start"], data["end"], data["title"], data["date"]) == (
            row["text"], row["article_id"], row["start"], row["end"], row["title"], row["date"])


@pytest.mark.label_studio
def test_a_batch_the_server_refuses_counts_each_of_its_rows_as_import_failed(label_studio):
    from dataset_builder.label_studio.client import _session
    from dataset_builder.label_studio.projects import _ensure_project
    from dataset_builder.label_studio.push import _import_batch, _Pending
    from dataset_builder.label_studio.spool import TaskSpool
    from dataset_builder.schema import load_schema

    rejections: list = []
    with _session(label_studio.connection()) as s, TaskSpool() as spool:
        project = _ensure_project(s, load_schema("entities_stance"), "refused batch", annotators=None)
        batch = [_Pending("f.jsonl:1", "s1", "d1", spool.add({"data": "not an object"})),
                 _Pending("f.jsonl:2", "s2", "d2", spool.add({"data": {"text": "fine"}}))]
        assert _import_batch(s, project.id, batch, rejections, spool) == ([], 2, 0, None)
    assert [(r.source, r.reason) for r in rejections] == [("f.jsonl:1", "import_failed"), ("f.jsonl:2", "import_failed")]
    assert all("HTTP 400" in r.detail for r in rejections)


@pytest.mark.label_studio
def test_push_reports_a_changed_segment_text_instead_of_doubling_it(label_studio):
    conn = label_studio.connection()
    rows = synthetic_segments(3, "changed")
    ls.push_segments(conn, rows, "entities", project_title="changed")
    edited = [dict(rows[0], text=rows[0]["text"].upper())] + rows[1:]
    report = ls.push_segments(conn, edited, "entities", project_title="changed")
    assert report.reasons() == {"conflicts_with_existing_task": 1} and report.already_present == 2
    assert sum(count_by_segment(conn, "changed").values()) == 3


@pytest.mark.label_studio
def test_retries_5xx_and_never_doubles_a_batch_whose_answer_was_lost(label_studio):
    conn = label_studio.connection()
    rows = synthetic_segments(40, "faulty")
    sleeps: list[float] = []
    with FaultyProxy(label_studio.url, {1: "503", 2: "503", 4: "forward-then-502"}) as proxy:
        via = ls.Connection(url=proxy.url, api_key=conn.api_key)
        report = ls.push_segments(via, rows, "entities", project_title="faulty", batch_size=10,
                                  retry=ls.RetryPolicy(retries=3, base=0.01), sleep=sleeps.append)
    # batch 1: 503, 503, ok; batch 2: forwarded but answered 502 -> found present, not resent
    assert sleeps[:2] == [0.01, 0.02]
    assert (report.read, report.imported + report.already_present, report.failed) == (40, 40, 0)
    assert report.already_present == 10
    assert count_by_segment(conn, "faulty") == Counter(r["id"] for r in rows)


@pytest.mark.label_studio
def test_annotations_submitted_like_a_browser_come_back_in_the_raw_export(label_studio, tmp_path):
    conn = label_studio.connection()
    rows = seed_segments()[:5]
    ls.push_segments(conn, rows, "entities_stance", project_title="annotated")
    tasks = ls.list_task_data(conn, "annotated")
    task = next(t for t in tasks if "Maduro" in t["data"]["text"])
    text = task["data"]["text"]
    s = text.index("Maduro")
    value = {"start": s, "end": s + len("Maduro"), "text": "Maduro"}
    result = [
        {"id": "reg1", "from_name": "entity", "to_name": "text", "type": "labels", "origin": "manual",
         "value": {**value, "labels": ["PER"]}},
        {"id": "reg1", "from_name": "stance", "to_name": "text", "type": "choices", "origin": "manual",
         "value": {**value, "choices": ["against"]}},
    ]
    ann_id = ls.submit_annotation(conn, task["id"], result, lead_time=12.5)
    skipped = next(t for t in tasks if t["id"] != task["id"])
    ls.submit_annotation(conn, skipped["id"], [], was_cancelled=True)

    report = ls.pull_export(conn, "annotated", out_dir=tmp_path / "exports")
    assert report.export_path.parent.parent == tmp_path / "exports" / "annotated"
    raw = report.export_path.read_bytes()
    import hashlib

    assert report.manifest["sha256"] == hashlib.sha256(raw).hexdigest()
    assert report.export_path.parent.name.endswith(report.manifest["sha256"][:12])
    assert report.manifest["bytes"] == len(raw)
    exported = json.loads(raw)
    assert report.manifest["task_count"] == len(exported) == 5
    assert (report.manifest["annotation_count"], report.manifest["cancelled_annotation_count"]) == (2, 1)
    assert (report.manifest["submitted_annotation_count"], report.submitted_count, report.cancelled_count) == (1, 1, 1)
    assert report.manifest["config_name"] == "entities_stance"
    assert report.manifest["config_hash"] == load_schema("entities_stance").config_hash
    assert load_schema(report.label_config_path).labels == load_schema("entities_stance").labels
    on_disk = json.loads(report.manifest_path.read_text())
    assert on_disk == dict(report.manifest)
    got = next(t for t in exported if t["id"] == task["id"])
    ann = next(a for a in got["annotations"] if a["id"] == ann_id)
    assert ann["result"] == result and ann["was_cancelled"] is False and ann["lead_time"] == 12.5
    assert got["data"]["segment_id"] == task["data"]["segment_id"]


@pytest.mark.label_studio
def test_target_stance_task_comes_with_the_target_premarked(label_studio, tmp_path):
    conn = label_studio.connection()
    text = "😀 Maduro met Putin in Moscow."
    s = text.index("Putin")
    row = {**Segment(id="tgt-0", article_id="tgt", index=0, start=0, end=len(text), text=text).to_dict(),
           "target": "Putin", "target_start": s, "target_end": s + 5}
    report = ls.push_segments(conn, [row], "target_stance", project_title="target")
    assert report.imported == 1
    exported = json.loads(ls.pull_export(conn, "target", out_dir=tmp_path).export_path.read_bytes())
    (pred,) = exported[0]["predictions"]
    (region,) = pred["result"]
    assert pred["model_version"] == ls.TARGET_MODEL_VERSION
    assert region["from_name"] == "target" and region["value"]["labels"] == ["TARGET"]
    # code points, as Label Studio 1.23.2 draws them (docs/label_studio_offsets.md)
    assert (region["value"]["start"], region["value"]["end"]) == (s, s + 5)
    assert text[region["value"]["start"]:region["value"]["end"]] == region["value"]["text"] == "Putin"
    assert exported[0]["data"]["target_start"] == s  # task data keeps code points


@pytest.mark.label_studio
def test_cli_push_with_predictions_and_pull_never_show_the_key(label_studio, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    rows = seed_segments()[:4]
    write_jsonl(tmp_path / "segments.jsonl", rows)
    first = rows[0]
    word = first["text"].split()[0]
    write_jsonl(tmp_path / "preds.jsonl", [{"segment_id": first["id"], "score": 0.5,
                                            "entities": [{"start": 0, "end": len(word), "label": "MISC"}],
                                            "stances": [{"target_start": 0, "target_end": len(word), "label": "neutral"}]}])
    env = {"LABEL_STUDIO_URL": label_studio.url, "LABEL_STUDIO_API_KEY": label_studio.api_key}
    runner = CliRunner()
    push = runner.invoke(cli, ["push", str(tmp_path / "segments.jsonl"), "--config", "entities_stance",
                               "--project-title", "cli project", "--predictions", str(tmp_path / "preds.jsonl"),
                               "--model-version", "rules-v1", "--report", str(tmp_path / "push.json"),
                               "--data-dir", str(tmp_path / "none")], env=env)
    assert push.exit_code == 0, push.output
    assert "imported 4" in push.output and "predictions 1" in push.output
    pull = runner.invoke(cli, ["pull", "--project-title", "cli project", "--out", str(tmp_path / "exports"),
                               "--data-dir", str(tmp_path / "none")], env=env)
    assert pull.exit_code == 0, pull.output
    assert "4 tasks, 0 annotations" in pull.output
    (export,) = (tmp_path / "exports" / "cli-project").glob("*/export.json")
    preds = [p for t in json.loads(export.read_bytes()) for p in t["predictions"]]
    assert [(p["model_version"], p["score"]) for p in preds] == [("rules-v1", 0.5)]

    key = label_studio.api_key
    assert key not in push.output and key not in pull.output
    assert all(key not in r.getMessage() for r in caplog.records)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), f"API key written into {path}"


@pytest.mark.label_studio
def test_wrong_key_and_wrong_url_are_one_clear_line(label_studio, tmp_path):
    runner = CliRunner()
    cases = [
        ({"LABEL_STUDIO_URL": label_studio.url, "LABEL_STUDIO_API_KEY": "f" * 40}, r"rejected the API key \(HTTP 401"),
        ({"LABEL_STUDIO_URL": label_studio.url + "/nope", "LABEL_STUDIO_API_KEY": label_studio.api_key},
         r"answered HTTP 404 .*check that LABEL_STUDIO_URL is the Label Studio base URL"),
        ({"LABEL_STUDIO_URL": free_url(), "LABEL_STUDIO_API_KEY": label_studio.api_key},
         r"cannot connect to Label Studio at http://127\.0\.0\.1:\d+"),
    ]
    for env, match in cases:
        result = runner.invoke(cli, ["pull", "--project-title", "seed", "--out", str(tmp_path),
                                     "--data-dir", str(tmp_path / "none")], env=env)
        assert result.exit_code == 1
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ")
        import re

        assert re.search(match, lines[0]), lines[0]
        assert label_studio.api_key not in result.output


@pytest.mark.label_studio
def test_serve_reuses_the_running_server_and_keeps_the_token_quiet(label_studio):
    runner = CliRunner()
    result = runner.invoke(cli, ["serve", "--data-dir", str(label_studio.data_dir)])
    assert result.exit_code == 0, result.output
    assert f"already running at {label_studio.url} (pid {label_studio.pid}" in result.output
    assert "log in as: admin@localhost" in result.output and "password:  in " in result.output
    assert label_studio.api_key not in result.output
    assert (Path(label_studio.data_dir) / ls.PASSWORD_FILE).read_text().strip() not in result.output
    shown = runner.invoke(cli, ["serve", "--data-dir", str(label_studio.data_dir), "--show-token"])
    assert f"API token value: {label_studio.api_key}" in shown.output
    for name in (ls.TOKEN_FILE, ls.PASSWORD_FILE):
        assert os.stat(Path(label_studio.data_dir) / name).st_mode & 0o777 == 0o600


@pytest.fixture(autouse=True)
def _index_cache_in_tmp(tmp_path_factory, monkeypatch):
    """The segment index cache of these tests stays in pytest's temporary folder."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path_factory.getbasetemp() / "ls-index-cache"))


def test_push_refuses_an_empty_segments_file_and_names_missing_fields(tmp_path):
    conn = ls.Connection(url=free_url(), api_key="0" * 40)  # never contacted: refused before
    for content in (b"", b"\n  \n"):
        empty = tmp_path / "empty.jsonl"
        empty.write_bytes(content)
        with pytest.raises(InputError, match=r"empty\.jsonl: no segment rows \(the file is empty or blank\); nothing "
                                             r"pushed and no project created"):
            ls.push_segments(conn, empty, "entities")
    result = CliRunner().invoke(cli, ["push", str(empty), "--config", "entities", "--data-dir", str(tmp_path / "none")],
                                env={"LABEL_STUDIO_URL": free_url(), "LABEL_STUDIO_API_KEY": "0" * 40})
    assert result.exit_code == 1 and "empty.jsonl: no segment rows" in result.output


@pytest.mark.label_studio
def test_push_rejects_a_row_missing_a_field_by_file_line_and_field(label_studio, tmp_path):
    conn = label_studio.connection()
    rows = synthetic_segments(2, "nofield")
    del rows[1]["id"]
    path = tmp_path / "segments.jsonl"
    write_jsonl(path, rows)
    report = ls.push_segments(conn, path, "entities", project_title="missing field")
    assert report.imported == 1 and report.reasons() == {"missing_field": 1}
    (rej,) = report.rejections
    assert rej.source == f"{path}:2"
    assert rej.detail.startswith("segment row without 'id' (a segment row needs id, article_id, index, start, end, text")
    assert "__init__" not in rej.detail


@pytest.mark.label_studio
def test_push_rejects_predictions_for_unknown_or_rejected_segments_with_their_line(label_studio, tmp_path):
    conn = label_studio.connection()
    rows = synthetic_segments(3, "predrej")
    bad = dict(rows[2], end=rows[2]["end"] + 1)  # offsets that do not fit its text: invalid_segment
    write_jsonl(tmp_path / "segments.jsonl", rows[:2] + [bad])
    ent = {"entities": [{"start": 0, "end": 7, "label": "MISC"}]}
    write_jsonl(tmp_path / "preds.jsonl", [{"segment_id": rows[0]["id"], **ent}, {"segment_id": "nope-1", **ent},
                                           {"segment_id": rows[2]["id"], **ent}])
    args = ["push", str(tmp_path / "segments.jsonl"), "--config", "entities", "--project-title", "pred rejects",
            "--predictions", str(tmp_path / "preds.jsonl"), "--model-version", "m1", "--report",
            str(tmp_path / "push.json"), "--data-dir", str(tmp_path / "none")]
    env = {"LABEL_STUDIO_URL": label_studio.url, "LABEL_STUDIO_API_KEY": label_studio.api_key}
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    assert f"rejected (unknown_segment): {tmp_path / 'preds.jsonl'}:2: no segment row has segment_id 'nope-1'" in result.output
    assert f"rejected (segment_rejected): {tmp_path / 'preds.jsonl'}:3: the segment row of {rows[2]['id']!r} " \
           f"({tmp_path / 'segments.jsonl'}:3) was rejected (invalid_segment)" in result.output
    report = json.loads((tmp_path / "push.json").read_text())
    assert (report["predictions_read"], report["predictions"], report["predictions_skipped"]) == (3, 1, 0)
    assert report["predictions_rejected_by_reason"] == {"segment_rejected": 1, "unknown_segment": 1}
    assert [r["source"] for r in report["prediction_rejections"]] == [f"{tmp_path / 'preds.jsonl'}:{n}" for n in (2, 3)]
    again = CliRunner().invoke(cli, args, env=env)  # the task is there now: its prediction is skipped, not rejected
    assert again.exit_code == 0, again.output
    report = json.loads((tmp_path / "push.json").read_text())
    assert (report["predictions"], report["predictions_skipped"], report["predictions_rejected"]) == (0, 1, 2)
    ls.delete_project(conn, "pred rejects")


@pytest.mark.label_studio
def test_a_push_that_stops_part_way_still_writes_its_report(label_studio, tmp_path):
    rows = synthetic_segments(30, "stopped")
    write_jsonl(tmp_path / "segments.jsonl", rows)
    with FaultyProxy(label_studio.url, {2: "503", 3: "503"}) as proxy:
        result = CliRunner().invoke(cli, [
            "push", str(tmp_path / "segments.jsonl"), "--config", "entities", "--project-title", "stopped",
            "--batch-size", "10", "--retries", "1", "--report", str(tmp_path / "push.json"),
            "--data-dir", str(tmp_path / "none")], env={"LABEL_STUDIO_URL": proxy.url,
                                                       "LABEL_STUDIO_API_KEY": label_studio.api_key})
    assert result.exit_code == 1 and "answered HTTP 503" in result.output
    report = json.loads((tmp_path / "push.json").read_text())
    assert (report["read"], report["imported"], report["not_pushed"]) == (30, 10, 20)
    assert "answered HTTP 503" in report["error"] and label_studio.api_key not in (tmp_path / "push.json").read_text()
    resumed = ls.push_segments(label_studio.connection(), tmp_path / "segments.jsonl", "entities", project_title="stopped")
    assert (resumed.already_present, resumed.imported) == (10, 20)


def _push_at_once(conn, path, title, n_pushers=2):
    """Run ``n_pushers`` pushes of the same file at the same moment (threads released by one barrier)."""
    barrier = threading.Barrier(n_pushers)
    reports, errors = [], []

    def one():
        barrier.wait()
        try:
            reports.append(ls.push_segments(conn, path, "entities", project_title=title, batch_size=20))
        except Exception as exc:  # noqa: BLE001 (shown by the assertion below)
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(n_pushers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, errors
    return reports


@pytest.mark.label_studio
@pytest.mark.parametrize("title_exists", [False, True], ids=["new title", "existing title"])
def test_concurrent_pushes_converge_to_one_project_and_one_task_per_segment(label_studio, tmp_path, title_exists):
    from dataset_builder.normalise import normalise_export

    conn = label_studio.connection()
    title = f"concurrent {'old' if title_exists else 'new'} {label_studio.port}"
    rows = synthetic_segments(400, f"conc{int(title_exists)}")
    path = tmp_path / "segments.jsonl"
    write_jsonl(path, rows)
    if title_exists:
        ls.push_segments(conn, rows[:40], "entities", project_title=title)
    reports = _push_at_once(conn, path, title)
    # one project: list_task_data refuses a title that two projects have
    assert count_by_segment(conn, title) == Counter(r["id"] for r in rows)
    assert len({r.project_id for r in reports}) == 1
    # a push that finished before its rival deleted the later copies still counts those it made
    assert sum(r.imported for r in reports) >= len(rows) - (40 if title_exists else 0)
    assert all(r.read == r.already_present + r.imported for r in reports)
    again = ls.push_segments(conn, path, "entities", project_title=title)
    assert (again.imported, again.already_present) == (0, len(rows))
    pulled = ls.pull_export(conn, title, out_dir=tmp_path / "exports")
    report = normalise_export(pulled.export_path, "entities", tmp_path / "out")
    assert "duplicate_segment_id" not in report.tasks.rejected
    assert report.tasks.read == len(rows)
    ls.delete_project(conn, title)


@pytest.mark.label_studio
def test_push_without_the_cache_lists_nothing_while_the_servers_note_holds(label_studio, monkeypatch):
    import shutil

    from dataset_builder.label_studio import index as index_module

    conn = label_studio.connection()
    title = f"note {label_studio.port}"
    rows = synthetic_segments(60, "note")
    listed = []
    real_list_index = index_module.list_index
    monkeypatch.setattr(index_module, "list_index", lambda *a, **k: listed.append(1) or real_list_index(*a, **k))

    def push_cold(these):
        shutil.rmtree(os.environ[CACHE_ENV], ignore_errors=True)  # another machine: no local index
        listed.clear()
        return ls.push_segments(conn, these, "entities", project_title=title, batch_size=25)

    first = push_cold(rows)
    assert (first.imported, listed) == (60, [])  # a new project: nothing to list
    again = push_cold(rows)
    assert (again.imported, again.already_present, listed) == (0, 60, [])  # the note vouches: nothing listed
    # another text for one segment: the note does not match, the project is listed, the conflict found
    changed = [dict(rows[0], text=rows[0]["text"] + " (edited)", end=rows[0]["end"] + 9)] + rows[1:]
    conflict = push_cold(changed)
    assert (conflict.imported, conflict.already_present, conflict.reasons(), listed) == (
        0, 59, {"conflicts_with_existing_task": 1}, [1])
    # one more segment: imported; a push of the first 60 alone is not what the note describes: listed
    extra = synthetic_segments(61, "note")
    assert push_cold(extra).imported == 1
    subset = push_cold(rows)
    assert (subset.imported, subset.already_present, listed) == (0, 60, [1])
    whole = push_cold(extra)  # the push of the 61 wrote the note for them
    assert (whole.imported, whole.already_present, listed) == (0, 61, [])
    assert count_by_segment(conn, title) == Counter(r["id"] for r in extra)
    ls.delete_project(conn, title)


@pytest.mark.label_studio
def test_zz_server_killed_mid_push_then_resumed_gives_each_segment_once(label_studio):
    """Runs last: it crashes the shared server (SIGKILL) and starts it again on the same data."""
    conn = label_studio.connection()
    rows = synthetic_segments(3000, "crash")
    first_batch = threading.Event()

    def killer():
        first_batch.wait(timeout=120)
        label_studio.kill()

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    with pytest.raises(LabelStudioError, match=r"Label Studio at .* after 2 attempt.*run the same command again"):
        ls.push_segments(conn, rows, "entities", project_title="crash", batch_size=250,
                         retry=ls.RetryPolicy(retries=1, base=0.2), on_batch=lambda n: first_batch.set())
    thread.join(timeout=10)

    label_studio.restart()
    before = count_by_segment(conn, "crash")
    assert 0 < sum(before.values()) < len(rows) and max(before.values()) == 1
    resumed = ls.push_segments(conn, rows, "entities", project_title="crash", batch_size=250)
    assert resumed.already_present == sum(before.values())
    assert resumed.imported == len(rows) - resumed.already_present
    assert count_by_segment(conn, "crash") == Counter(r["id"] for r in rows)
