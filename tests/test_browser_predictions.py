"""Pre-annotations in the real editor (headless Chromium, see ``browser_helpers.py``): the annotator sees the
model's spans and stance, keeps one, fixes another, submits; after pull and normalise exactly the corrected
labels are gold and the model's help is counted. A predicted task nobody submitted gives no gold."""

from __future__ import annotations

import json
import time

import pytest

from dataset_builder import label_studio as ls
from dataset_builder.normalise import normalise_export
from dataset_builder.schema import load_schema
from test_browser import ARTIFACTS, DATE, PASSWORD, TEXT, TITLE, _span, _submit, annotator, chromium  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.label_studio]

OTHER = "Reporters waited in Oslo for the minister."


def test_the_annotator_corrects_the_models_pre_annotations_and_only_that_is_gold(annotator, label_studio, tmp_path):  # noqa: F811
    a, _user_id = annotator
    conn = label_studio.connection()
    title = "browser predictions"
    rows = [{"id": f"pred-{i}", "article_id": f"pred{i}", "index": 0, "start": 0, "end": len(t), "text": t,
             "title": TITLE, "date": DATE} for i, t in enumerate((TEXT, OTHER))]
    merkel, berlin = _span("Angela Merkel", "PER"), _span("Berlin", "ORG")  # Berlin mislabelled by the model
    oslo = OTHER.index("Oslo")
    preds = [{"segment_id": "pred-0", "model_version": "m-browser", "score": 0.2,
              "entities": [{k: merkel[k] for k in ("start", "end", "label")}, {k: berlin[k] for k in ("start", "end", "label")}],
              "stances": [{"label": "favor", "target_start": merkel["start"], "target_end": merkel["end"]},
                          {"label": "neutral", "target_start": berlin["start"], "target_end": berlin["end"]}]},
             {"segment_id": "pred-1", "model_version": "m-browser", "score": 0.9,
              "entities": [{"start": oslo, "end": oslo + 4, "label": "LOC"}], "stances": []}]
    (tmp_path / "preds.jsonl").write_text("".join(json.dumps(p) + "\n" for p in preds), encoding="utf-8")
    pushed = ls.push_segments(conn, rows, "entities_stance", project_title=title, predictions=tmp_path / "preds.jsonl")
    assert (pushed.imported, pushed.predictions, pushed.order_set) == (2, 2, True)

    schema = load_schema("entities_stance")
    keys = {label: key for key, label in schema.hotkeys}
    a.open_stream(pushed.project_id)
    assert a.task_text() == TEXT  # the lowest score first
    shown = a.wait_for("the predicted regions", lambda: (h := a.highlights()) and len(h) == 2 and h)
    assert [(h.text, h.label) for h in shown] == [("Angela Merkel", "PER"), ("Berlin", "ORG")]
    a.click("Merkel")
    assert a.wait_for("the predicted stance", a.choices) == {"favor": True, "against": False, "neutral": False}
    a.key("ESCAPE")  # Merkel PER, favor: accepted as it is
    a.wait_for("the stance choices to hide", lambda: not a.choices())
    a.click("Berlin")
    a.wait_for("Berlin's stance choices", a.choices)
    a.key(keys["LOC"])  # the selected region takes the label
    a.wait_for("Berlin relabelled", lambda: [(h.text, h.label) for h in a.highlights()][-1:] == [("Berlin", "LOC")])
    a.key("ESCAPE")
    a.screenshot("predictions-corrected")
    _submit(a)

    deadline = time.monotonic() + 20
    while True:
        pulled = ls.pull_export(conn, title, out_dir=tmp_path / "exports")
        if pulled.annotation_count >= 1 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    report = normalise_export(pulled.export_path, schema, tmp_path / "normalised")
    gold = [json.loads(line) for line in (tmp_path / "normalised" / "gold.jsonl").read_text("utf-8").splitlines()]
    assert [g["segment_id"] for g in gold] == ["pred-0"]  # pred-1 has a prediction and no annotation: no gold
    (record,) = gold
    assert record["entities"] == [merkel, _span("Berlin", "LOC")]
    assert record["stances"] == [
        {"target_start": merkel["start"], "target_end": merkel["end"], "target_text": "Angela Merkel", "label": "favor"},
        {"target_start": berlin["start"], "target_end": berlin["end"], "target_text": "Berlin", "label": "neutral"}]
    help_ = report.to_dict()["model_help"]["m-browser"]
    assert help_["annotations"] == 1
    assert {k: help_["entities"][k] for k in ("kept", "relabelled", "moved", "deleted", "added")} == \
        {"kept": 1, "relabelled": 1, "moved": 0, "deleted": 0, "added": 0}
    assert {k: help_["stances"][k] for k in ("kept", "relabelled", "deleted", "added")} == \
        {"kept": 2, "relabelled": 0, "deleted": 0, "added": 0}
    ls.delete_project(conn, title)
