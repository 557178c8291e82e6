"""A team's annotations: handles, adjudicators, gold per unit, agreement per label (normalise and build).

Hand-made exports in Label Studio's shape (the shape the captured fixtures have); the real server's
side of the same loop is in tests/test_team.py and the browser tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from dataset_builder.build import build_dataset
from dataset_builder.cli import cli
from dataset_builder.normalise import OUTPUT_FILES, Team, normalise_export, normalise_tasks
from dataset_builder.normalise.annotations import pseudonym
from dataset_builder.records import SplitManifest
from dataset_builder.schema import load_schema
from dataset_builder.splits import read_annotations, read_gold

ES = load_schema("entities_stance")
EN = load_schema("entities")
TEXT = "Merkel met Macron in Paris."
MERKEL, MACRON, PARIS = (0, 6, "Merkel"), (11, 17, "Macron"), (21, 26, "Paris")


def span(rid, where, label="PER"):
    s, e, text = where
    return {"id": rid, "from_name": "entity", "to_name": "text", "type": "labels",
            "value": {"start": s, "end": e, "text": text, "labels": [label]}}


def stance(rid, label):
    return {"id": rid, "from_name": "stance", "to_name": "text", "type": "choices", "value": {"choices": [label]}}


def task(*by_user, task_id=1, segment_id="s1", article_id="a1", text=TEXT):
    """A task annotated by ``(user id, result)`` pairs."""
    anns = [{"id": 100 * task_id + i, "completed_by": uid, "result": result, "was_cancelled": False,
             "ground_truth": False, "lead_time": 2.0 + i, "updated_at": "2026-01-01T00:00:00Z"}
            for i, (uid, result) in enumerate(by_user)]
    return {"id": task_id, "data": {"text": text, "segment_id": segment_id, "article_id": article_id},
            "annotations": anns, "predictions": [], "drafts": []}


USERS = [
    {"id": 2, "username": "ann-a", "email": "alice@newsroom.example"},
    {"id": 3, "username": "bob@newsroom.example", "email": "bob@newsroom.example"},
    {"id": 4, "username": "lead", "email": "lead@newsroom.example"},
]


def snapshot(tmp_path: Path, tasks: list, users=USERS) -> Path:
    snap = tmp_path / "exports" / "proj" / "20260101T000000Z-0123456789ab"
    snap.mkdir(parents=True)
    (snap / "export.json").write_text(json.dumps(tasks), encoding="utf-8")
    (snap / "users.json").write_text(json.dumps(users), encoding="utf-8")
    return snap


def disputed_tasks() -> list:
    """Task 1: ann-a and bob tie on Macron (entity and stance) and agree on Merkel; the lead adjudicates.
    Task 2: ann-a and bob agree on everything."""
    t1 = task((2, [span("m", MERKEL), stance("m", "favor"), span("c", MACRON), stance("c", "against")]),
              (3, [span("m", MERKEL), stance("m", "favor")]))
    t2 = task((2, [span("p", PARIS, "LOC"), stance("p", "neutral")]), (3, [span("p", PARIS, "LOC"), stance("p", "neutral")]),
              task_id=2, segment_id="s2", text=TEXT)
    return [t1, t2]


def test_handles_come_from_users_json_and_no_email_reaches_any_output(tmp_path):
    snap = snapshot(tmp_path, disputed_tasks())
    report = normalise_export(snap, ES, tmp_path / "out")
    names = {a.annotator for a in read_annotations(tmp_path / "out" / "annotations.jsonl")}
    assert names == {"ann-a", pseudonym("bob@newsroom.example")}
    assert set(report.annotators) == names
    for name in OUTPUT_FILES:
        assert "newsroom.example" not in (tmp_path / "out" / name).read_text(encoding="utf-8"), name


def test_a_mapping_file_names_annotators_and_an_email_handle_is_refused(tmp_path):
    snap = snapshot(tmp_path, disputed_tasks())
    mapping = tmp_path / "team.json"
    mapping.write_text(json.dumps({"2": "reporter-1", "bob@newsroom.example": "reporter-2"}), encoding="utf-8")
    res = CliRunner().invoke(cli, ["normalise", str(snap), "--config", "entities_stance", "-o", str(tmp_path / "out"), "--annotators", str(mapping)])
    assert res.exit_code == 0, res.output
    names = {a.annotator for a in read_annotations(tmp_path / "out" / "annotations.jsonl")}
    assert names == {"reporter-1", "reporter-2"}
    mapping.write_text(json.dumps({"2": "alice@newsroom.example"}), encoding="utf-8")
    res = CliRunner().invoke(cli, ["normalise", str(snap), "--config", "entities_stance", "-o", str(tmp_path / "o2"), "--annotators", str(mapping)])
    assert res.exit_code == 1 and "e-mail" in res.output and "Traceback" not in res.output
    assert "alice@" not in res.output


def test_a_stance_tie_keeps_the_agreed_entities_and_the_other_targets():
    t = task((1, [span("m", MERKEL), stance("m", "favor"), span("c", MACRON), stance("c", "against")]),
             (2, [span("m", MERKEL), stance("m", "favor"), span("c", MACRON), stance("c", "favor")]))
    (r,), report = normalise_tasks([t], ES)
    assert [e.text for e in r.gold.entities] == ["Merkel", "Macron"] and not r.gold.entities_disputed
    assert [(s.target_text, s.label) for s in r.gold.stances] == [("Merkel", "favor")]
    assert [(u["kind"], u["text"]) for u in r.unresolved] == [("stance", "Macron")]
    assert report.tasks.kept == 1 and report.gold["stances_unresolved"] == 1


def test_disputed_entities_are_flagged_and_the_decided_stances_kept():
    (r, _), report = normalise_tasks(disputed_tasks(), ES)
    assert r.gold.entities_disputed
    assert [(s.target_text, s.label) for s in r.gold.stances] == [("Merkel", "favor")]
    assert {u["kind"] for u in r.unresolved} == {"entity", "stance"}
    assert report.gold["entities_disputed"] == 1 and report.tasks.kept == 2
    # an entities-only config has nothing else to keep: the task has no gold until adjudicated
    t = task((1, [span("m", MERKEL), span("c", MACRON)]), (2, [span("m", MERKEL)]))
    (r,), report = normalise_tasks([t], EN)
    assert r.gold is None and report.tasks.rejected == {"unresolved_tie": 1}


def test_the_adjudicator_decides_and_stays_out_of_agreement(tmp_path):
    tasks = disputed_tasks()
    # the lead's annotation (made in the UI from the Data Manager) keeps Macron, neutral
    tasks[0]["annotations"].append({"id": 199, "completed_by": 4, "was_cancelled": False, "ground_truth": False,
                                    "lead_time": 9.0, "updated_at": "2026-01-02T00:00:00Z",
                                    "result": [span("m", MERKEL), stance("m", "favor"), span("c", MACRON),
                                               stance("c", "neutral")]})
    snap = snapshot(tmp_path, tasks)
    without = normalise_export(snap, ES, tmp_path / "plain")
    report = normalise_export(snap, ES, tmp_path / "out", adjudicators=["lead"])
    (g1, g2) = read_gold(tmp_path / "out" / "gold.jsonl")
    assert not g1.entities_disputed and [(s.target_text, s.label) for s in g1.stances] == [
        ("Merkel", "favor"), ("Macron", "neutral")]
    assert (tmp_path / "out" / "unresolved.jsonl").read_text() == ""
    assert report.gold["from_adjudicator"] == 1 and report.gold["from_vote"] == 1
    assert set(report.adjudicators) == {"lead"} and "lead" not in report.annotators
    pairs = {(p["a"], p["b"]) for p in report.agreement["entities"]["pairwise_f1"]}
    assert pairs == {("ann-a", pseudonym("bob@newsroom.example"))}
    # without the adjudicator named, the lead is a third voter and is measured like the others
    assert "lead" in without.annotators and len(without.agreement["entities"]["pairwise_f1"]) == 3
    lines = [json.loads(x) for x in (tmp_path / "out" / "annotations.jsonl").read_text().splitlines()]
    assert [x["annotator"] for x in lines if x.get("adjudicator")] == ["lead"]
    assert "adjudicator lead:" in report.summary()


def test_imported_ground_truth_is_a_gold_source_out_of_agreement():
    t = task((1, [span("m", MERKEL)]), (2, [span("m", MERKEL, "ORG")]), (7, [span("m", MERKEL)]))
    t["annotations"][2]["ground_truth"] = True
    (r,), report = normalise_tasks([t], EN)
    assert [e.label for e in r.gold.entities] == ["PER"]
    assert set(report.gold_sources) == {"7"} and set(report.annotators) == {"1", "2"}
    assert [(p["a"], p["b"]) for p in report.agreement["entities"]["pairwise_f1"]] == [("1", "2")]


def test_agreement_per_label_is_hand_computable():
    # PER: both mark Merkel, only annotator 1 marks Macron as PER -> 2*1/(2+1); ORG: 0/1; LOC: both Paris -> 1.0
    t = task((1, [span("m", MERKEL), stance("m", "favor"), span("c", MACRON), stance("c", "favor"),
                  span("p", PARIS, "LOC"), stance("p", "neutral")]),
             (2, [span("m", MERKEL), stance("m", "favor"), span("c", MACRON, "ORG"), stance("c", "against"),
                  span("p", PARIS, "LOC"), stance("p", "neutral")]))
    _, report = normalise_tasks([t], ES)
    got = {(r["kind"], r["label"]): (r["value"], r["n"]) for r in report.agreement["per_label"]}
    assert got[("entity", "PER")] == (round(2 * 1 / 3, 4), 3)
    assert got[("entity", "ORG")] == (0.0, 1)
    assert got[("entity", "LOC")] == (1.0, 2)
    assert got[("entity", "MISC")] == (None, 0)
    # a stance target is its offsets, so Macron is one target for both (favor vs against);
    # targets both labelled: Merkel (favor, favor), Macron (favor, against), Paris (neutral, neutral)
    assert got[("stance", "favor")] == (round(2 * 1 / 3, 4), 3)
    assert got[("stance", "against")] == (0.0, 1)
    assert got[("stance", "neutral")] == (1.0, 2)


def test_team_resolves_adjudicators_by_username_id_or_email():
    team = Team(USERS, {"4": "chief"}, ["lead@newsroom.example"])
    assert team.adjudicators == {"chief"}
    assert Team(USERS, None, ["4"]).adjudicators == {"lead"} == Team(USERS, None, ["lead"]).adjudicators
    assert team.handle(3) == pseudonym("bob@newsroom.example")
    assert team.handle("bob@newsroom.example") == pseudonym("bob@newsroom.example")
    assert team.handle({"id": 2, "email": "alice@newsroom.example"}) == "ann-a"
    assert team.handle(99) == "99"


def test_build_keeps_a_disputed_segment_out_of_ner_and_counts_it(tmp_path):
    (r1, r2), report = normalise_tasks(disputed_tasks(), ES)
    gold = [r1.gold, r2.gold]
    manifest = SplitManifest(salt="s", ratios=(0.8, 0.1, 0.1), splits={"train": ("a1",), "validation": (), "test": ()})
    built = build_dataset(gold, manifest, ES, tmp_path / "ds", normalise_report=report.to_dict())
    assert built.segments_entities_disputed == 1 and built.ner_rows["train"] == 1
    assert pq.read_table(tmp_path / "ds" / "ner" / "train.parquet").column("id").to_pylist() == ["s2"]
    stance_ids = pq.read_table(tmp_path / "ds" / "stance" / "train.parquet").column("id").to_pylist()
    assert len(stance_ids) == 2  # s1's decided Merkel target and s2's Paris
    assert built.spans["dropped_disputed_segment"] == len(r1.gold.entities)
    card = (tmp_path / "ds" / "DATASET_CARD.md").read_text(encoding="utf-8")
    assert "Waiting for adjudication: 1 segments whose annotators tied on the entities" in card


@pytest.mark.parametrize("workers", [2])
def test_parallel_workers_name_and_decide_as_one_process(tmp_path, monkeypatch, workers):
    from dataset_builder.normalise import parallel

    tasks = [dict(t, id=t["id"] + 10 * i, data=dict(t["data"], segment_id=f'{t["data"]["segment_id"]}-{i}'))
             for i in range(40) for t in disputed_tasks()]
    snap = snapshot(tmp_path, tasks)
    monkeypatch.setattr(parallel, "_PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "_PARALLEL_BATCH", 2000)
    normalise_export(snap, ES, tmp_path / "one", workers=1, adjudicators=["lead"])
    info: dict = {}
    normalise_export(snap, ES, tmp_path / "par", workers=workers, adjudicators=["lead"], info=info)
    assert info["mode"] == "parallel"
    for name in OUTPUT_FILES:
        assert (tmp_path / "par" / name).read_bytes() == (tmp_path / "one" / name).read_bytes(), name
    assert "ann-a" in (tmp_path / "par" / "annotations.jsonl").read_text()


# --------------------------------------------------------------------------------------------
# The model's help, per model version (issue 21): measured from the predictions, never gold
# --------------------------------------------------------------------------------------------

TEXT2 = "Merkel met Macron in Paris with Scholz."


def _at(surface, label="PER", rid=None, text=TEXT2):
    s = text.index(surface)
    return span(rid or surface[:3], (s, s + len(surface), surface), label)


def test_model_help_counts_kept_relabelled_moved_deleted_and_added():
    prediction = {"id": 5, "model_version": "crf@abc123", "score": 0.4, "result": [
        _at("Merkel"), stance("Mer", "favor"), _at("Macron"), stance("Mac", "neutral"),
        _at("Paris", "LOC"), stance("Par", "neutral"), _at("met", "MISC")]}
    older = dict(prediction, id=4, model_version="crf@abc123", result=[_at("Scholz")])
    submitted = [_at("Merkel"), stance("Mer", "favor"), _at("Macron", "ORG"), stance("Mac", "against"),
                 _at("in Paris", "LOC", "inP"), stance("inP", "neutral"), _at("Scholz")]
    t = task((1, submitted), text=TEXT2)
    t["predictions"] = [older, prediction]
    (r,), report = normalise_tasks([t], ES)
    help_ = report.model_help["crf@abc123"]
    assert help_["annotations"] == 1
    assert {k: v for k, v in help_["entities"].items() if k != "kept_share"} == {
        "kept": 1, "relabelled": 1, "moved": 1, "deleted": 1, "added": 1}
    assert help_["entities"]["kept_share"] == 0.25
    # stances by target: Merkel kept, Macron relabelled, Paris's target moved (deleted + added)
    assert {k: v for k, v in help_["stances"].items() if k != "kept_share"} == {
        "kept": 1, "relabelled": 1, "deleted": 1, "added": 1}
    # the prediction never votes: gold is the submission
    assert [(e.text, e.label) for e in r.gold.entities] == [
        ("Merkel", "PER"), ("Macron", "ORG"), ("in Paris", "LOC"), ("Scholz", "PER")]
    assert report.results.read == len(submitted)  # the predictions' results are not annotation results
    assert "model crf@abc123, entities: over 1 annotations" in report.summary()


def test_model_help_is_the_same_with_worker_processes(tmp_path, monkeypatch):
    from dataset_builder.normalise import parallel

    tasks = []
    for i in range(60):
        t = task((2, [_at("Merkel"), stance("Mer", "favor")]), (3, [_at("Merkel", "ORG"), stance("Mer", "favor")]),
                 task_id=i + 1, segment_id=f"s{i}", text=TEXT2)
        t["predictions"] = [{"id": i, "model_version": "v1", "result": [_at("Merkel"), stance("Mer", "against")]}]
        tasks.append(t)
    snap = snapshot(tmp_path, tasks)
    monkeypatch.setattr(parallel, "_PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "_PARALLEL_BATCH", 3000)
    one = normalise_export(snap, ES, tmp_path / "one", workers=1)
    info: dict = {}
    par = normalise_export(snap, ES, tmp_path / "par", workers=2, info=info)
    assert info["mode"] == "parallel" and par.model_help == one.model_help
    assert one.model_help["v1"]["entities"]["kept"] == 60 and one.model_help["v1"]["entities"]["relabelled"] == 60
    assert one.model_help["v1"]["stances"]["relabelled"] == 120


def test_the_card_shows_the_model_help(tmp_path):
    t = task((1, [_at("Merkel"), stance("Mer", "favor")]), text=TEXT2)
    t["predictions"] = [{"id": 1, "model_version": "crf@abc123", "result": [_at("Merkel", "ORG"), stance("Mer", "favor")]}]
    (r,), report = normalise_tasks([t], ES)
    manifest = SplitManifest(salt="s", ratios=(0.8, 0.1, 0.1), splits={"train": ("a1",), "validation": (), "test": ()})
    build_dataset([r.gold], manifest, ES, tmp_path / "ds", normalise_report=report.to_dict())
    card = (tmp_path / "ds" / "DATASET_CARD.md").read_text(encoding="utf-8")
    assert "### Model help" in card
    assert "| crf@abc123 | entities | 1 | 0 | 1 | 0 | 0 | 0 | 0.0 |" in card
    assert "| crf@abc123 | stances | 1 | 1 | 0 | - | 0 | 0 | 1.0 |" in card
