"""Tests of dataset_builder.predict (no server): a trained CRF and stance model pre-annotate segments with
scores, the rows fit ``push --predictions``, and push refuses the benchmark's own prediction files by name."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dataset_builder import label_studio as ls
from dataset_builder.baselines import make_model, mark_target, save_model
from dataset_builder.build.tokens import tokenize
from dataset_builder.cli import cli
from dataset_builder.errors import InputError
from dataset_builder.jsonl import read_jsonl, write_jsonl
from dataset_builder.label_studio.tasks import prediction_result
from dataset_builder.predict import load_predictor, predict_file
from dataset_builder.schema import load_schema

PEOPLE = ["Maduro", "Merkel", "Macron", "Putin", "Obama", "Sanchez"]
PLACES = ["Paris", "Moscow", "Berlin", "Oslo", "Madrid", "Lima"]
FINGERPRINT = "ab" * 32


def _sentence(i: int) -> tuple[str, list[str], list[str]]:
    person, place = PEOPLE[i % len(PEOPLE)], PLACES[(i * 5) % len(PLACES)]
    text = f"{person} arrived in {place} on Monday ."
    tokens, _, _ = tokenize(text)
    tags = ["B-PER" if t == person else "B-LOC" if t == place else "O" for t in tokens]
    return text, tokens, tags


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory):
    """A results folder as ``benchmark`` writes it: results.json with the fingerprint, two models."""
    out = tmp_path_factory.mktemp("results")
    data = [_sentence(i) for i in range(60)]
    ner = make_model("ner", "crf").fit([d[1] for d in data], [d[2] for d in data])
    save_model(ner, out / "models" / "ner.crf.skops")
    texts, labels = [], []
    for i, (text, _, _) in enumerate(data):
        person = PEOPLE[i % len(PEOPLE)]
        texts.append(mark_target(text, 0, len(person)))
        labels.append("favor" if i % 2 else "against")
    stance = make_model("stance", "tfidf_logreg").fit(texts, labels)
    save_model(stance, out / "models" / "stance.tfidf_logreg.skops")
    rows = [(PEOPLE[i % len(PEOPLE)], t, False) for i, t in enumerate(texts)]
    save_model(make_model("stance", "per_target_svm").fit(rows, labels), out / "models" / "stance.per_target_svm.skops")
    (out / "results.json").write_text(json.dumps({"dataset_fingerprint": FINGERPRINT, "baselines": []}))
    return out


def _segments(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        text = _sentence(i + 3)[0] if i % 2 == 0 else f"Reporters waited in the rain near {PLACES[i % 6]} ."
        rows.append({"id": f"seg-{i}", "article_id": "a", "index": i, "start": 0, "end": len(text), "text": text})
    return rows


def test_predictions_carry_spans_scores_and_the_model_version_and_fit_push(results_dir, tmp_path):
    write_jsonl(tmp_path / "segments.jsonl", _segments(6))
    report = predict_file(results_dir, "entities_stance", tmp_path / "segments.jsonl", tmp_path / "preds.jsonl")
    rows = [r for _, r in read_jsonl(tmp_path / "preds.jsonl")]
    assert [r["segment_id"] for r in rows] == [f"seg-{i}" for i in range(6)]
    assert report.model_version == f"ner.crf+stance.tfidf_logreg@{FINGERPRINT[:12]}"
    assert {r["model_version"] for r in rows} == {report.model_version}
    first = rows[0]
    text = _segments(1)[0]["text"]
    assert [(text[e["start"]:e["end"]], e["label"]) for e in first["entities"]] == [(PEOPLE[3], "PER"), (PLACES[15 % 6], "LOC")]
    for row in rows:
        for item in row["entities"] + row["stances"]:
            assert 0.0 < item["score"] <= 1.0
        # per-region stance: one per predicted entity, toward it
        assert [(s["target_start"], s["target_end"]) for s in row["stances"]] == [(e["start"], e["end"]) for e in row["entities"]]
        assert 0.0 < row["score"] <= 1.0
        assert row["score"] <= min([s["score"] for s in row["stances"]], default=1.0)
    assert (report.rows, report.entities, report.scored) == (6, sum(len(r["entities"]) for r in rows), 6)
    # the rows go to push as they are: every one turns into Label Studio result items, region scores kept
    schema = load_schema("entities_stance")
    segs = {s["id"]: s["text"] for s in _segments(6)}
    items = prediction_result(schema, first["segment_id"], segs[first["segment_id"]], first)
    assert [i["score"] for i in items if i["type"] == "labels"] == [e["score"] for e in first["entities"]]
    # same models, same segments: the same bytes
    predict_file(results_dir, "entities_stance", tmp_path / "segments.jsonl", tmp_path / "again.jsonl")
    assert (tmp_path / "again.jsonl").read_bytes() == (tmp_path / "preds.jsonl").read_bytes()


def test_a_per_target_svm_scores_its_stances(results_dir, tmp_path):
    write_jsonl(tmp_path / "segments.jsonl", _segments(6))
    report = predict_file(results_dir, "entities_stance", tmp_path / "segments.jsonl", tmp_path / "preds.jsonl",
                          stance="per_target_svm")
    rows = [r for _, r in read_jsonl(tmp_path / "preds.jsonl")]
    stances = [s for r in rows for s in r["stances"]]
    assert report.model_version.startswith("ner.crf+stance.per_target_svm@") and stances
    assert {s["label"] for s in stances} <= {"favor", "against"}
    assert all(0.5 <= s["score"] <= 1.0 for s in stances)  # the winning class of two: at least half


def test_an_uncertain_segment_scores_lower_than_a_familiar_one(results_dir):
    predictor = load_predictor(results_dir, "entities", stance=None)
    familiar = {"id": "f", "text": _sentence(1)[0]}
    strange = {"id": "s", "text": "Vrelko Zandarr Quimby spoke at Tranqua Lodge ."}
    scores = {r["segment_id"]: r["score"] for r in predictor.predict([familiar, strange])}
    assert scores["s"] < scores["f"]


def test_a_config_whose_model_is_missing_is_refused_with_the_path(results_dir):
    with pytest.raises(InputError, match=r"models/ner\.memorisation\.skops: no such model"):
        load_predictor(results_dir, "entities", ner="memorisation")


def test_push_refuses_a_benchmark_predictions_file_by_name(tmp_path):
    write_jsonl(tmp_path / "segments.jsonl", _segments(1))
    write_jsonl(tmp_path / "bench.jsonl", [{"id": "seg-0", "tags": ["O"] * 7}])
    conn = ls.Connection(url="http://127.0.0.1:9", api_key="unused")  # never reached: the file is refused first
    with pytest.raises(InputError, match=r"bench\.jsonl:1: a benchmark predictions row \(\{'id', 'tags'\}.*dataset-builder predict"):
        ls.push_segments(conn, tmp_path / "segments.jsonl", "entities", predictions=tmp_path / "bench.jsonl",
                         model_version="m")
    write_jsonl(tmp_path / "mixed.jsonl", [{"segment_id": "seg-0", "entities": [], "model_version": "a"},
                                           {"segment_id": "seg-1", "entities": [], "model_version": "b"}])
    with pytest.raises(InputError, match=r"mixed\.jsonl: --predictions needs --model-version.*\['a', 'b'\]"):
        ls.push_segments(conn, tmp_path / "segments.jsonl", "entities", predictions=tmp_path / "mixed.jsonl")


def test_predict_command_needs_one_source(results_dir, tmp_path):
    result = CliRunner().invoke(cli, ["predict", str(results_dir), "--config", "entities", "-o", str(tmp_path / "p.jsonl")])
    assert result.exit_code != 0 and "exactly one of --segments" in result.output
