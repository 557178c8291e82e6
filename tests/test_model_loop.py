"""The model in the loop against the session's real Label Studio: scored predictions order the labelling
stream (``/api/projects/<id>/next``, one real user in their own session), a second round re-orders without
moving or duplicating a task, and the team lead's round is idempotent."""

from __future__ import annotations

import time

import httpx
import pytest

from dataset_builder import label_studio as ls
from dataset_builder.jsonl import write_jsonl
from ls_accounts import sign_up

CITIES = ["Paris", "Oslo", "Lima", "Rome", "Kyiv", "Quito"]


def _rows(prefix: str, n: int) -> list[dict]:
    rows = []
    for i in range(n):
        text = f"Maria Lopez spoke in {CITIES[i % len(CITIES)]} on day {i}."
        rows.append({"id": f"{prefix}-{i}", "article_id": f"{prefix}-a{i}", "index": 0, "start": 0, "end": len(text),
                     "text": text})
    return rows


def _preds(rows: list[dict], scores: list[float], version: str) -> list[dict]:
    return [{"segment_id": r["id"], "model_version": version, "score": s,
             "entities": [{"start": 0, "end": 11, "label": "PER", "score": s}]} for r, s in zip(rows, scores)]


def _api(label_studio, path: str) -> dict | list:
    answer = httpx.get(f"{label_studio.url}{path}", headers={"Authorization": f"Token {label_studio.api_key}"}, timeout=60)
    answer.raise_for_status()
    return answer.json()


def _stream_order(person, pid: int, n: int) -> list[str]:
    """The segment ids the stream hands this person, submitting each (an empty submission) to get the next."""
    got = []
    for _ in range(n):
        task = person.next_task(pid)
        if task is None:
            break
        got.append(task["data"]["segment_id"])
        person.submit(pid, task["id"], [])
    return got


@pytest.mark.label_studio
def test_scored_predictions_order_the_stream_and_a_new_round_reorders_without_moving_a_task(label_studio, tmp_path):
    conn = label_studio.connection()
    title = f"model loop {label_studio.database}"
    rows = _rows("loop", 6)
    write_jsonl(tmp_path / "segments.jsonl", rows)
    first = ls.push_segments(conn, tmp_path / "segments.jsonl", "entities", project_title=title, annotators=1)
    pid = first.project_id
    tasks_before = sorted(t["id"] for t in ls.list_task_data(conn, title))

    # round 1: predictions for tasks already there; the version comes from the rows
    scores = [0.9, 0.2, 0.6, 0.4, 0.8, 0.1]
    write_jsonl(tmp_path / "r1.jsonl", _preds(rows, scores, "m1"))
    r1 = ls.push_segments(conn, tmp_path / "segments.jsonl", "entities", project_title=title,
                          predictions=tmp_path / "r1.jsonl", annotators=1)
    assert (r1.imported, r1.predictions, r1.predictions_on_existing, r1.order_set) == (0, 6, 6, True)
    project = _api(label_studio, f"/api/projects/{pid}")
    assert (project["model_version"], project["sampling"]) == ("m1", ls.UNCERTAINTY_SAMPLING)
    # the same push again: nothing attached twice, no settings written (the overlap push keeps the order)
    again = ls.push_segments(conn, tmp_path / "segments.jsonl", "entities", project_title=title,
                             predictions=tmp_path / "r1.jsonl", annotators=1)
    assert (again.predictions, again.predictions_skipped, again.order_set) == (0, 6, False)
    assert len(_api(label_studio, f"/api/predictions/?project={pid}")) == 6

    person = sign_up(label_studio.url, f"al{time.time_ns()}@example.org")
    try:
        by_score = [r["id"] for _, r in sorted(zip(scores, rows), key=lambda p: p[0])]
        assert _stream_order(person, pid, 3) == by_score[:3]
        # round 2: another model, the left tasks' scores reversed
        left = [r for r in rows if r["id"] in by_score[3:]]
        new_scores = {r["id"]: s for r, s in zip(sorted(left, key=lambda r: by_score.index(r["id"])), [0.7, 0.5, 0.3])}
        r2 = ls.push_predictions(conn, title, "entities", _preds(left, [new_scores[r["id"]] for r in left], "m2"))
        assert (r2.attached, r2.already_there, r2.no_task, r2.order_set) == (3, 0, 0, True)
        assert _stream_order(person, pid, 4) == sorted(new_scores, key=new_scores.get)
        assert person.next_task(pid) is None
    finally:
        person.close()
    tasks_after = sorted(t["id"] for t in ls.list_task_data(conn, title))
    assert tasks_after == tasks_before and len(tasks_after) == len(rows)
    assert ls.push_predictions(conn, title, "entities", _preds(left, [0.1, 0.2, 0.3], "m2")).to_dict() == {
        "project_id": pid, "model_version": "m2", "read": 3, "attached": 0, "already_there": 3, "no_task": 0,
        "order_set": False}
    ls.delete_project(conn, title)


def _annotation(text: str, city: str) -> list[dict]:
    start = text.index(city)
    return [{"id": f"p{start}", "from_name": "entity", "to_name": "text", "type": "labels",
             "value": {"start": 0, "end": 11, "text": text[:11], "labels": ["PER"]}},
            {"id": f"c{start}", "from_name": "entity", "to_name": "text", "type": "labels",
             "value": {"start": start, "end": start + len(city), "text": city, "labels": ["LOC"]}}]


@pytest.mark.label_studio
def test_the_round_predicts_on_what_is_left_orders_it_is_idempotent_and_status_shows_the_help(label_studio, tmp_path):
    from dataset_builder.pipeline import annotation_round, team_status

    conn = label_studio.connection()
    title = f"round {label_studio.database}"
    rows = _rows("round", 34)
    ls.push_segments(conn, rows, "entities", project_title=title, annotators=1)
    tasks = {t["data"]["segment_id"]: t["id"] for t in ls.list_task_data(conn, title)}
    for i, row in enumerate(rows[:30]):
        ls.submit_annotation(conn, tasks[row["id"]], _annotation(row["text"], CITIES[i % len(CITIES)]))
    out = dict(out_dir=tmp_path / "round", splits_dir=tmp_path / "splits", resamples=20)
    first = annotation_round(conn, title, **out)
    pushed = first.stages["push_predictions"]
    assert (first.stages["predict"]["rows"], pushed["attached"], pushed["order_set"]) == (4, 4, True)
    version = pushed["model_version"]
    assert version.startswith("ner.crf@") and version.endswith(first.stages["build"]["fingerprint"][:12])
    pid = pushed["project_id"]
    preds = _api(label_studio, f"/api/predictions/?project={pid}")
    assert sorted(p["task"] for p in preds) == sorted(tasks[r["id"]] for r in rows[30:])
    assert _api(label_studio, f"/api/projects/{pid}")["model_version"] == version

    second = annotation_round(conn, title, **out)  # nothing new: the same model, nothing written
    assert second.stages["push_predictions"] == {**pushed, "attached": 0, "already_there": 4, "order_set": False}
    assert len(_api(label_studio, f"/api/predictions/?project={pid}")) == 4
    assert sorted(t["id"] for t in ls.list_task_data(conn, title)) == sorted(tasks.values())

    # an annotator keeps the predicted person and relabels the predicted place: status says so
    row = rows[30]
    pred = next(p for p in preds if p["task"] == tasks[row["id"]])
    spans = {(r["value"]["start"], r["value"]["end"]): r["value"]["labels"][0] for r in pred["result"]}
    city = CITIES[30 % len(CITIES)]
    at = row["text"].index(city)
    assert spans == {(0, 11): "PER", (at, at + len(city)): "LOC"}, spans
    fixed = _annotation(row["text"], city)
    fixed[1]["value"]["labels"] = ["ORG"]
    ls.submit_annotation(conn, tasks[row["id"]], fixed)
    status = team_status(conn, title, out_dir=tmp_path / "status")
    ents = status.to_dict()["model_help"][version]["entities"]
    assert {k: ents[k] for k in ("kept", "relabelled", "moved", "deleted", "added")} == \
        {"kept": 1, "relabelled": 1, "moved": 0, "deleted": 0, "added": 0}
    assert f"{version}, entities over 1 annotation(s): kept 1, relabelled 1, moved 0, deleted 0, added 0" in status.summary()
    ls.delete_project(conn, title)
