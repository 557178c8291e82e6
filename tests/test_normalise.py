"""Tests of dataset_builder.normalise.

Fixtures under ``tests/fixtures/exports`` are real Label Studio exports captured by
``scripts/capture_fixtures.py``; each ``<config>.expected.json`` says what the annotators meant
(code points, written from the capture scenario) and the gold the stated rules must give.
``tests/fixtures/bad_exports`` holds other formats (made by label_studio_sdk.converter) and broken
files; further bad inputs are single, named mutations of a captured task.
"""

from __future__ import annotations

import dataclasses

import copy
import json
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dataset_builder.cli import cli
from dataset_builder.errors import ExportError, SchemaError
from dataset_builder.normalise import (
    Normaliser,
    Tally,
    iter_export,
    normalise_export,
    normalise_tasks,
)
from dataset_builder.normalise.spans import _TextIndex
from dataset_builder.records import GOLD, Annotation
from dataset_builder.schema import load_schema

FIX = Path(__file__).parent / "fixtures"
EXPORTS = FIX / "exports"
BAD = FIX / "bad_exports"
CONFIGS = ("entities_stance", "entities", "target_stance")


def load_export(config: str) -> list[dict]:
    return json.loads((EXPORTS / f"{config}.json").read_text(encoding="utf-8"))


def expected(config: str) -> dict:
    return json.loads((EXPORTS / f"{config}.expected.json").read_text(encoding="utf-8"))


def content(rec: Annotation | None) -> dict | None:
    if rec is None:
        return None
    return {"entities": [e.to_dict() for e in rec.entities], "stances": [s.to_dict() for s in rec.stances]}


# --------------------------------------------------------------------------------------------
# Captured exports: exactly what the annotators meant
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("config", CONFIGS)
def test_fixture_per_annotator_records_are_what_was_annotated(config):
    exp = expected(config)
    results, _ = normalise_tasks(load_export(config), load_schema(config))
    by_task = {r.task_id: r for r in results}
    for segment_id, want in exp["tasks"].items():
        got = by_task[want["task_id"]]
        assert {a.annotator: content(a) for a in got.annotations} == want["annotators"], segment_id
        for a in got.annotations:
            assert a.segment_id == segment_id and a.task_id == want["task_id"]


@pytest.mark.parametrize("config", CONFIGS)
def test_fixture_gold_follows_the_stated_rules(config):
    exp = expected(config)
    results, report = normalise_tasks(load_export(config), load_schema(config))
    by_task = {r.task_id: r for r in results}
    for segment_id, want in exp["tasks"].items():
        got = by_task[want["task_id"]]
        assert content(got.gold) == want["gold"], segment_id
        if got.gold is not None:
            assert got.gold.annotator == GOLD
        assert bool(got.unresolved) == want["unresolved"], segment_id
    assert report.tasks.kept == sum(1 for t in exp["tasks"].values() if t["gold"] is not None)


@pytest.mark.parametrize("config", CONFIGS)
def test_fixture_counts_add_up_against_the_raw_export(config):
    tasks = load_export(config)
    _, report = normalise_tasks(tasks, load_schema(config))
    n_ann = sum(len(t["annotations"]) for t in tasks)
    n_res = sum(len(a["result"]) for t in tasks for a in t["annotations"])
    for tally, read in ((report.tasks, len(tasks)), (report.annotations, n_ann), (report.results, n_res)):
        assert tally.read == read
        assert tally.kept + sum(tally.rejected.values()) == read
    flat = report.to_dict()["rejected"]
    assert sum(flat.values()) == sum(
        sum(t.rejected.values()) for t in (report.tasks, report.annotations, report.results)
    )


def test_fixture_entities_stance_cases_are_each_counted():
    tasks = load_export("entities_stance")
    _, report = normalise_tasks(tasks, load_schema("entities_stance"))
    # es-tie's stance tie no longer drops its agreed entities; es-empty's two empty submissions do not vote
    assert report.tasks.rejected == {"no_annotations": 1, "no_usable_annotation": 1}
    assert report.annotations.rejected == {"cancelled": 1, "empty": 2, "superseded": 1}
    assert report.counts["notes"]["drafts_ignored"] == sum(len(t["drafts"]) for t in tasks) == 1
    fixes = report.counts["span_fixes"]
    # ann3's three CRLF-shifted spans, ann1's padded span, ann3's collapsed value.text
    assert (fixes["realigned"], fixes["trimmed"], fixes["text_whitespace_differs"]) == (3, 1, 1)
    # ann2 (emoji) and ann1 (𝕏 and flag) sent UTF-16 units: 3 entities + 1 stance each... of which
    # the spans after the non-BMP characters were read as UTF-16 (stances reuse their span).
    assert report.counts["offsets_convention"]["utf16"] == 6
    assert report.gold["from_ground_truth"] == 1
    assert report.gold["unresolved_items"] == 1
    assert report.gold["stances_unresolved"] == 1 and "entities_disputed" not in report.gold


def test_fixture_target_stance_ignores_the_target_marker_and_takes_the_target_from_data():
    _, report = normalise_tasks(load_export("target_stance"), load_schema("target_stance"))
    assert report.results.rejected == {"target_marker": 2}
    assert report.counts["notes"]["predictions_ignored"] == 2


def test_fixture_agreement_matches_krippendorff_on_reliability_data():
    """Our value-counts units must give the same alpha as the package on the raw annotator x unit matrix
    of the annotators (ground truth stays out of agreement)."""
    results, report = normalise_tasks(load_export("entities_stance"), load_schema("entities_stance"))
    labels = load_schema("entities_stance").stance_labels
    annotators = sorted({a.annotator for r in results for a in r.annotations}, key=int)
    results = [dataclasses.replace(r, annotations=tuple(a for a in r.annotations if not a.ground_truth)) for r in results]
    units = sorted({(r.task_id, s.target_start, s.target_end) for r in results for a in r.annotations for s in a.stances})
    matrix = np.full((len(annotators), len(units)), np.nan)
    for r in results:
        for a in r.annotations:
            for s in a.stances:
                matrix[annotators.index(a.annotator), units.index((r.task_id, s.target_start, s.target_end))] = (
                    labels.index(s.label)
                )
    want = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    assert report.agreement["stance"]["krippendorff_alpha"] == pytest.approx(want, abs=1e-4)


# --------------------------------------------------------------------------------------------
# Offsets
# --------------------------------------------------------------------------------------------

ES = load_schema("entities_stance")
EN = load_schema("entities")


def span(rid, start, end, text, label="PER", **extra):
    value = {"start": start, "end": end, "labels": [label], **extra}
    if text is not None:
        value["text"] = text
    return {"id": rid, "from_name": "entity", "to_name": "text", "type": "labels", "value": value}


def stance(rid, label, **value):
    return {"id": rid, "from_name": "stance", "to_name": "text", "type": "choices", "value": {**value, "choices": [label]}}


def task(text, *annotations, task_id=1, segment_id="s1", **extra):
    anns = []
    for i, ann in enumerate(annotations):
        a = {"id": 100 * task_id + i, "completed_by": i + 1, "result": ann, "was_cancelled": False,
             "ground_truth": False, "lead_time": 1.0, "updated_at": "2024-01-01T00:00:00Z"}
        anns.append(a)
    t = {"id": task_id, "data": {"text": text, "segment_id": segment_id, "article_id": "a1"}, "annotations": anns,
         "drafts": [], "predictions": []}
    t.update(extra)
    return t


def only(results):
    (r,) = results
    return r


def test_text_index_converts_utf16_to_code_points_and_refuses_half_pairs():
    text = "a😀b𝕏c"
    ti = _TextIndex(text)
    # UTF-16: a=0, 😀=1..2, b=3, 𝕏=4..5, c=6, end=7
    assert [ti.u16_to_cp(u) for u in (0, 1, 3, 4, 6, 7)] == [0, 1, 2, 3, 4, 5]
    assert ti.u16_to_cp(2) is None and ti.u16_to_cp(5) is None  # inside a surrogate pair
    assert ti.u16_to_cp(8) is None  # past the end


@pytest.mark.parametrize("mode", ["auto", "utf16"])
def test_span_after_emoji_sent_in_utf16_comes_out_in_code_points(mode):
    text = "Fans 😀🎉 cheered Lionel Messi."
    s = len("Fans 😀🎉 cheered ")
    u = len("Fans 😀🎉 cheered ".encode("utf-16-le")) // 2
    res, report = normalise_tasks([task(text, [span("r", u, u + 12, "Lionel Messi")])], EN, offsets=mode)
    (ent,) = only(res).gold.entities
    assert (ent.start, ent.end, ent.text) == (s, s + 12, "Lionel Messi")
    assert report.counts["offsets_convention"] == {"utf16": 1}


@pytest.mark.parametrize("mode", ["auto", "codepoints"])
def test_span_after_emoji_sent_in_code_points_is_kept(mode):
    text = "Fans 😀🎉 cheered Lionel Messi."
    s = len("Fans 😀🎉 cheered ")
    res, report = normalise_tasks([task(text, [span("r", s, s + 12, "Lionel Messi")])], EN, offsets=mode)
    (ent,) = only(res).gold.entities
    assert (ent.start, ent.end) == (s, s + 12)
    assert report.counts["offsets_convention"] == {"codepoints": 1}


def test_auto_without_value_text_assumes_code_points_and_says_so():
    text = "😀 Anna Smith"
    res, report = normalise_tasks([task(text, [span("r", 2, 12, None)])], EN)
    assert only(res).gold.entities[0].text == "Anna Smith"
    assert report.counts["offsets_convention"] == {"assumed_codepoints": 1}
    assert report.counts["notes"]["no_value_text"] == 1


def test_utf16_mode_rejects_an_offset_inside_a_surrogate_pair():
    res, report = normalise_tasks([task("😀 Anna", [span("r", 1, 7, "Anna")])], EN, offsets="utf16")
    assert report.results.rejected == {"inside_surrogate_pair": 1}
    assert [r.reason for r in only(res).rejections] == ["inside_surrogate_pair"]


def test_span_containing_non_bmp_characters():
    text = "Vote for 🇫🇷 France now"
    s = len("Vote for ")
    u = len("Vote for ".encode("utf-16-le")) // 2
    e_cp, e_u = s + len("🇫🇷 France"), u + len("🇫🇷 France".encode("utf-16-le")) // 2
    res, _ = normalise_tasks([task(text, [span("r", s, e_cp, "🇫🇷 France", "LOC")], [span("r", u, e_u, "🇫🇷 France", "LOC")])], EN)
    assert {(e.start, e.end, e.text) for a in only(res).annotations for e in a.entities} == {(s, e_cp, "🇫🇷 France")}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(["a", "b", " ", "é", "😀", "𝕏", "🇫", "中", "\n"]), min_size=2, max_size=30),
    st.data(),
    st.sampled_from(["utf16", "codepoints"]),
)
def test_property_offsets_round_trip_in_either_convention(chars, data, sent_as):
    text = "".join(chars)
    assume(text.strip())
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    piece = text[start:end]
    assume(piece.strip() == piece)  # trimming is tested elsewhere
    s, e = (start, end) if sent_as == "codepoints" else (
        len(text[:start].encode("utf-16-le")) // 2, len(text[:end].encode("utf-16-le")) // 2)
    # Skip the genuinely ambiguous case: the other reading also lands on an identical slice.
    ti = _TextIndex(text)
    other = (ti.u16_to_cp(s), ti.u16_to_cp(e)) if sent_as == "codepoints" else (s, e)
    if other != (start, end) and None not in other and other[1] <= len(text):
        assume(text[other[0]:other[1]] != piece)
    res, report = normalise_tasks([task(text, [span("r", s, e, piece)])], EN)
    (ent,) = only(res).gold.entities
    assert (ent.start, ent.end, ent.text) == (start, end, piece)


def test_collapsed_value_text_passes_and_offsets_win():
    text = "Prime  Minister Rishi Sunak"
    res, report = normalise_tasks([task(text, [span("r", 0, len(text), "Prime Minister Rishi Sunak")])], EN)
    assert only(res).gold.entities[0].text == text
    assert report.counts["span_fixes"] == {"text_whitespace_differs": 1}


def test_shifted_span_is_realigned_when_its_text_occurs_once():
    text = "Reuters:\r\nThe European Commission fined Google."
    s = text.index("Google")
    res, report = normalise_tasks([task(text, [span("r", s - 1, s + 5, "Google", "ORG")])], EN)
    assert only(res).gold.entities[0].start == s
    assert report.counts["span_fixes"] == {"realigned": 1}


def test_realigned_nearby_when_the_text_recurs_far_away():
    text = "Smith spoke. " + "x" * 80 + " Then Smith left."
    s = text.rindex("Smith")
    res, report = normalise_tasks([task(text, [span("r", s + 2, s + 7, "Smith")])], EN)
    assert only(res).gold.entities[0].start == s
    assert report.counts["span_fixes"] == {"realigned_nearby": 1}


def test_leading_and_trailing_whitespace_is_trimmed():
    text = "Hello  Anna Smith  here"
    s = text.index(" Anna") - 1
    e = text.index("Smith") + len("Smith  ")
    res, report = normalise_tasks([task(text, [span("r", s, e, text[s:e])])], EN)
    assert only(res).gold.entities[0].text == "Anna Smith"
    assert report.counts["span_fixes"] == {"trimmed": 1}


@pytest.mark.parametrize("marked, want, fixes, notes", [
    ("Nokia\u2019s", "Nokia", {"possessive_trimmed": 1}, {}),
    ("Nokia's,", "Nokia", {"possessive_trimmed": 1, "punctuation_trimmed": 1}, {}),
    ("NOKIA'S", "NOKIA", {"possessive_trimmed": 1}, {}),
    ("the Ministers'", "the Ministers", {"possessive_trimmed": 1}, {}),
    ("\u201cStar Wars\u201d", "Star Wars", {"punctuation_trimmed": 1}, {}),
    ("(Reuters", "Reuters", {"punctuation_trimmed": 1}, {}),
    ("Paris.", "Paris", {"punctuation_trimmed": 1}, {}),
    ("Paris ,", "Paris", {"punctuation_trimmed": 1}, {}),
    ("McDonald's", "McDonald's", {}, {"possessive_kept_in_name": 1}),
    ("\u201cMcDonald\u2019s\u201d", "McDonald\u2019s", {"punctuation_trimmed": 1}, {"possessive_kept_in_name": 1}),
    ("U.S.'s", "U.S.", {"possessive_trimmed": 1}, {}),
    ("U.S.", "U.S.", {}, {}),
    ("Apple Inc.", "Apple Inc.", {}, {}),
    ("Malcolm X.", "Malcolm X.", {}, {}),
    ("Kuala Lumpur (KL)", "Kuala Lumpur (KL)", {}, {}),
])
def test_guideline_edges_possessive_and_punctuation_are_trimmed_and_counted(marked, want, fixes, notes):
    text = f"On Monday {marked} shares rose"
    s = text.index(marked)
    res, report = normalise_tasks([task(text, [span("r", s, s + len(marked), marked, "ORG")])], EN)
    (got,) = only(res).gold.entities
    assert got.text == want and got.start == text.index(want)
    assert report.counts["span_fixes"] == fixes
    assert {k: v for k, v in report.counts["notes"].items() if k == "possessive_kept_in_name"} == notes


def test_annotators_who_differ_only_by_a_possessive_agree_after_the_rule():
    text = "Nokia\u2019s profit fell"
    res, report = normalise_tasks([task(text, [span("a", 0, 7, "Nokia\u2019s", "ORG")], [span("b", 0, 5, "Nokia", "ORG")])],
                                  EN, min_annotators=2)
    assert [(e.start, e.end, e.text) for e in only(res).gold.entities] == [(0, 5, "Nokia")]
    assert [e.text for a in only(res).annotations for e in a.entities] == ["Nokia", "Nokia"]
    assert report.counts["span_fixes"] == {"possessive_trimmed": 1}


def test_overlapping_and_nested_spans_are_kept():
    text = "Bank of England governor"
    res, _ = normalise_tasks(
        [task(text, [span("a", 0, 15, "Bank of England", "ORG"), span("b", 8, 15, "England", "LOC"),
                     span("c", 5, 24, "of England governor", "MISC")])], EN)
    assert [(e.start, e.end, e.label) for e in only(res).gold.entities] == [(0, 15, "ORG"), (5, 24, "MISC"), (8, 15, "LOC")]


def test_region_with_two_labels_gives_two_spans():
    r = span("r", 0, 10, "Anna Smith")
    r["value"]["labels"] = ["PER", "MISC"]
    res, report = normalise_tasks([task("Anna Smith", [r])], EN)
    assert [e.label for e in only(res).gold.entities] == ["MISC", "PER"]
    assert report.counts["span_fixes"] == {"multi_label_region": 1}


# --------------------------------------------------------------------------------------------
# Stance joins, annotation rules, adjudication
# --------------------------------------------------------------------------------------------


def test_per_region_stance_joins_its_span_by_region_id_and_counts_spans_without_stance():
    text = "Anna praised Bob."
    res, report = normalise_tasks(
        [task(text, [span("a", 0, 4, "Anna"), span("b", 13, 16, "Bob"), stance("b", "favor", start=13, end=16)])], ES)
    (st_,) = only(res).gold.stances
    assert (st_.target_text, st_.label) == ("Bob", "favor")
    assert report.counts["notes"]["span_without_stance"] == 1


def test_same_annotator_twice_keeps_the_latest_by_updated_at():
    text = "Anna met Bob."
    t = task(text, [span("x", 9, 12, "Bob", "ORG")], [span("y", 0, 4, "Anna")])
    t["annotations"][1]["completed_by"] = 1  # same person
    t["annotations"][0]["updated_at"] = "2024-05-01T00:00:00Z"  # listed first but later
    t["annotations"][1]["updated_at"] = "2024-01-01T00:00:00Z"
    res, report = normalise_tasks([t], EN)
    assert [e.text for e in only(res).gold.entities] == ["Bob"]
    assert report.annotations.rejected == {"superseded": 1}
    assert report.annotators["1"]["superseded"] == 1
    assert [r.reason for r in only(res).rejections] == ["superseded"]


def test_cancelled_annotation_is_not_used_and_its_results_are_counted():
    t = task("Anna met Bob.", [span("y", 0, 4, "Anna")], [span("x", 9, 12, "Bob", "ORG")])
    t["annotations"][1]["was_cancelled"] = True
    res, report = normalise_tasks([t], EN)
    assert [a.annotator for a in only(res).annotations] == ["1"]
    assert report.annotations.rejected == {"cancelled": 1}
    assert report.results.rejected == {"in_cancelled": 1}


def test_all_cancelled_gives_no_gold():
    t = task("Anna met Bob.", [span("y", 0, 4, "Anna")])
    t["annotations"][0]["was_cancelled"] = True
    res, report = normalise_tasks([t], EN)
    assert only(res).gold is None
    assert report.tasks.rejected == {"no_usable_annotation": 1}


def test_majority_vote_keeps_majority_spans_and_drops_minority_ones():
    text = "Anna met Bob in Rome."
    a, b, r = span("a", 0, 4, "Anna"), span("b", 9, 12, "Bob"), span("r", 16, 20, "Rome", "LOC")
    res, report = normalise_tasks([task(text, [a, b, r], [a, b], [a, span("bo", 9, 12, "Bob", "ORG")])], EN)
    assert [(e.text, e.label) for e in only(res).gold.entities] == [("Anna", "PER"), ("Bob", "PER")]
    assert report.gold["from_vote"] == 1


def test_entity_tie_is_unresolved_never_guessed():
    text = "Anna met Bob."
    res, report = normalise_tasks([task(text, [span("a", 0, 4, "Anna")], [span("a", 0, 4, "Anna", "ORG")])], EN)
    r = only(res)
    assert r.gold is None
    assert sorted((u["kind"], u["label"], u["votes"], u["voters"]) for u in r.unresolved) == [
        ("entity", "ORG", 1, 2), ("entity", "PER", 1, 2)]
    assert report.tasks.rejected == {"unresolved_tie": 1}
    assert len(r.annotations) == 2  # per-annotator records are still there


def test_stance_plurality_tie_among_three_is_unresolved():
    text = "Anna spoke."
    anns = [[span("a", 0, 4, "Anna"), stance("a", lab)] for lab in ("favor", "against", "neutral")]
    r = only(normalise_tasks([task(text, *anns)], ES)[0])
    # gold per unit: the agreed entity is gold, the tied stance is listed, not guessed
    assert [e.text for e in r.gold.entities] == ["Anna"] and r.gold.stances == ()
    assert not r.gold.entities_disputed
    assert r.unresolved[0]["kind"] == "stance"
    assert r.unresolved[0]["votes"] == {"against": 1, "favor": 1, "neutral": 1}


def test_ground_truth_wins_over_the_majority():
    text = "Anna met Bob."
    t = task(text, [span("a", 0, 4, "Anna")], [span("a", 0, 4, "Anna")], [span("a", 0, 4, "Anna", "ORG")])
    t["annotations"][2]["ground_truth"] = True
    res, report = normalise_tasks([t], EN)
    assert [e.label for e in only(res).gold.entities] == ["ORG"]
    assert report.gold["from_ground_truth"] == 1


def test_annotations_jsonl_marks_the_ground_truth_annotation(tmp_path):
    text = "Anna met Bob."
    t = task(text, [span("a", 0, 4, "Anna")], [span("a", 0, 4, "Anna", "ORG")])
    t["annotations"][1]["ground_truth"] = True
    (tmp_path / "e.json").write_text(json.dumps([t]), encoding="utf-8")
    normalise_export(tmp_path / "e.json", EN, tmp_path / "out")
    lines = [json.loads(x) for x in (tmp_path / "out" / "annotations.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [x.get("ground_truth") for x in lines] == [None, True]  # written only when true: other lines keep their bytes
    assert [a.ground_truth for a in only(normalise_tasks([t], EN)[0]).annotations] == [False, True]
    assert "ground_truth" not in (tmp_path / "out" / "gold.jsonl").read_text(encoding="utf-8")


def test_min_annotators_withholds_gold_unless_ground_truth():
    text = "Anna met Bob."
    one = task(text, [span("a", 0, 4, "Anna")])
    gt = task(text, [span("a", 0, 4, "Anna")], task_id=2, segment_id="s2")
    gt["annotations"][0]["ground_truth"] = True
    res, report = normalise_tasks([one, gt], EN, min_annotators=2)
    assert [r.gold is None for r in res] == [True, False]
    assert report.tasks.rejected == {"below_min_annotators": 1}


def _no_entities(rid="n"):
    return {"from_name": "no_entities", "to_name": "text", "type": "choices", "value": {"choices": ["none"]}, "id": rid}


def test_an_empty_submission_is_counted_and_does_not_vote():
    res, report = normalise_tasks([task("It rained.", [], [])], EN)
    assert only(res).gold is None
    assert report.annotations.rejected == {"empty": 2}
    assert report.tasks.rejected == {"no_usable_annotation": 1}
    assert report.annotators["1"]["empty"] == 1


def test_the_explicit_no_entities_choice_is_a_vote_for_no_entity():
    assert EN.no_entities_from_name == "no_entities"
    res, report = normalise_tasks([task("It rained.", [_no_entities()], [_no_entities()])], EN)
    assert only(res).gold.entities == ()
    assert report.results.kept == 2 and report.counts["notes"]["no_entities_choice"] == 2
    # beside spans the choice is a contradiction that is counted; the spans win
    res, report = normalise_tasks([task("Anna spoke.", [_no_entities(), span("a", 0, 4, "Anna")])], EN)
    assert [e.text for e in only(res).gold.entities] == ["Anna"]
    assert report.counts["notes"]["no_entities_choice_with_spans"] == 1


def test_pairwise_span_f1_and_kappa_on_a_hand_computed_case():
    text = "Anna met Bob in Rome."
    a, b, r = span("a", 0, 4, "Anna"), span("b", 9, 12, "Bob"), span("r", 16, 20, "Rome", "LOC")
    # annotator 1: 3 spans, annotator 2: 2 of them -> F1 = 2*2/(3+2) = 0.8
    _, report = normalise_tasks([task(text, [a, b, r], [a, b])], EN)
    (pair,) = report.agreement["entities"]["pairwise_f1"]
    assert (pair["a"], pair["b"], pair["f1"], pair["matched"]) == ("1", "2", 0.8, 2)


def test_perfect_stance_agreement_gives_alpha_and_kappa_one():
    tasks = [task(f"Anna {i} spoke.", *[[span("a", 0, 4, "Anna"), stance("a", lab)]] * 2, task_id=i + 1,
                  segment_id=f"s{i}")
             for i, lab in enumerate(["favor", "against", "neutral", "favor"])]
    _, report = normalise_tasks(tasks, ES)
    assert report.agreement["stance"]["krippendorff_alpha"] == 1.0
    assert report.agreement["stance"]["pairwise_cohen_kappa"] == [{"a": "1", "b": "2", "kappa": 1.0, "n": 4}]


def test_median_lead_time_per_annotator():
    tasks = []
    for i, lt in enumerate([3.0, 10.0, 4.0]):
        t = task(f"Anna {i}.", [span("a", 0, 4, "Anna")], task_id=i + 1, segment_id=f"s{i}")
        t["annotations"][0]["lead_time"] = lt
        tasks.append(t)
    _, report = normalise_tasks(tasks, EN)
    assert report.annotators["1"]["median_lead_time"] == 4.0


# --------------------------------------------------------------------------------------------
# Bad inputs: each gives its error or its counted rejection
# --------------------------------------------------------------------------------------------

FILE_ERRORS = [
    ("truncated.json", ExportError, r"malformed JSON after 4 complete task\(s\).*truncated or corrupt"),
    ("single_task.json", ExportError, r"top level is a JSON object .*single task; wrap it in \[ \]"),
    ("json_min.json", ExportError, r"JSON_MIN export"),
    ("export.csv", ExportError, r"this is CSV, not Label Studio's JSON export"),
    ("export.tsv", ExportError, r"this is TSV"),
    ("export.conll", ExportError, r"this is CONLL2003"),
    ("empty.json", ExportError, r"the file is empty"),
    ("numbers.json", ExportError, r"holds int values, not task objects"),
    ("latin1.json", ExportError, r"not valid UTF-8"),
    ("number.json", ExportError, r"this is JSON, but one number \(42\) and not an export: .* one \[\.\.\.\] array of task"),
    ("export.jsonl", ExportError, r"this is JSON Lines \(one task object per line\).*\(jq -s \. export\.jsonl > export\.json\)"),
    ("ls0x_task.json", ExportError, r"Label Studio 0\.x export \(completions\): the top level is one task object.*"
     r"completions are read as annotations"),
]


@pytest.mark.parametrize("name,exc,match", FILE_ERRORS, ids=[f[0] for f in FILE_ERRORS])
def test_bad_export_files_raise_a_clear_error(name, exc, match, tmp_path):
    with pytest.raises(exc, match=match):
        normalise_export(BAD / name, ES, tmp_path / "out")
    assert not any((tmp_path / "out").iterdir())  # nothing half-written


def test_missing_export_file(tmp_path):
    with pytest.raises(ExportError, match=r"no such file"):
        list(iter_export(tmp_path / "nope.json"))


def _agree_task() -> dict:
    return copy.deepcopy(next(t for t in load_export("entities_stance") if t["data"]["segment_id"] == "es-agree"))


def _first_result(t, pred=lambda r: r["type"] == "labels"):
    return next(r for r in t["annotations"][0]["result"] if pred(r))


def _set(path, value):
    def mutate(t):
        obj = t
        for k in path[:-1]:
            obj = obj[k]
        obj[path[-1]] = value
        return [t]
    return mutate


def _result(**changes):
    def mutate(t):
        r = _first_result(t)
        for k, v in changes.items():
            if k in ("start", "end", "text", "labels"):
                r["value"][k] = v
            else:
                r[k] = v
        return [t]
    return mutate


def _stance_to_nowhere(t):
    _first_result(t, lambda r: r["type"] == "choices")["id"] = "no-such-region"
    return [t]


def _stance_choice(choices):
    def mutate(t):
        _first_result(t, lambda r: r["type"] == "choices")["value"]["choices"] = choices
        return [t]
    return mutate


def _conflicting_stance(t):
    res = t["annotations"][0]["result"]
    c = copy.deepcopy(next(r for r in res if r["type"] == "choices"))
    c["value"]["choices"] = ["against" if c["value"]["choices"] != ["against"] else "favor"]
    res.append(c)
    return [t]


def _stance_on_rejected_span(t):
    c = _first_result(t, lambda r: r["type"] == "choices")
    target = next(r for r in t["annotations"][0]["result"] if r["type"] == "labels" and r["id"] == c["id"])
    target["value"]["labels"] = ["PERSON"]
    return [t]


def _twice(t):
    t2 = copy.deepcopy(t)
    t2["data"]["segment_id"] = "other"
    return [t, t2]


def _same_segment(t):
    t2 = copy.deepcopy(t)
    t2["id"] = t["id"] + 1000
    return [t, t2]


def _drop(key):
    def mutate(t):
        del t["data"][key]
        return [t]
    return mutate


def _annotation_not_object(t):
    t["annotations"][0] = "oops"
    return [t]


def _relation(t):
    t["annotations"][0]["result"].append({"type": "relation", "from_id": "a", "to_id": "b", "direction": "right"})
    return [t]


# (id, mutation, tally, reason) - the tally ("tasks"/"annotations"/"results") that counts it
MUTATIONS = [
    ("missing data.text", _drop("text"), "tasks", "missing_text"),
    ("data.text not a string", _set(["data", "text"], 42), "tasks", "text_not_string"),
    ("blank data.text", _set(["data", "text"], "   "), "tasks", "empty_text"),
    ("task without id", _set(["id"], None), "tasks", "bad_task_id"),
    ("data not an object", _set(["data"], ["text"]), "tasks", "missing_data"),
    ("annotations not a list", _set(["annotations"], {"result": []}), "tasks", "bad_annotations"),
    ("duplicate task id", _twice, "tasks", "duplicate_task_id"),
    ("duplicate segment id", _same_segment, "tasks", "duplicate_segment_id"),
    ("annotation without completed_by", lambda t: _set(["annotations", 0, "completed_by"], None)(t), "annotations",
     "no_annotator"),
    ("annotation not an object", _annotation_not_object, "annotations", "bad_annotation"),
    ("unknown label", _result(labels=["PERSON"]), "results", "unknown_label"),
    ("no label", _result(labels=[]), "results", "no_label"),
    ("label from another config", _result(from_name="ner"), "results", "unknown_from_name"),
    ("wrong to_name", _result(to_name="body"), "results", "wrong_to_name"),
    ("labels result typed choices", _result(type="choices"), "results", "wrong_result_type"),
    ("negative offset", _result(start=-3), "results", "negative_offset"),
    ("end before start", _result(start=10, end=2), "results", "end_not_after_start"),
    ("empty span", _result(start=5, end=5), "results", "end_not_after_start"),
    ("offsets as strings", _result(start="0", end="13"), "results", "bad_offsets"),
    ("offsets as floats", _result(start=0.0, end=13.0), "results", "bad_offsets"),
    ("offsets beyond the text", _result(start=70, end=200), "results", "past_end"),
    ("mismatching span text", _result(text="Helmut Kohl"), "results", "text_not_found"),
    ("ambiguous span text", _result(text="e"), "results", "text_ambiguous"),
    ("whitespace-only span", _result(start=6, end=7, text=" "), "results", "whitespace_only"),
    ("stance region id pointing nowhere", _stance_to_nowhere, "results", "stance_orphan"),
    ("stance of a rejected span", _stance_on_rejected_span, "results", "stance_target_rejected"),
    ("unknown stance label", _stance_choice(["positive"]), "results", "unknown_stance_label"),
    ("two stance choices", _stance_choice(["favor", "against"]), "results", "stance_not_single_choice"),
    ("conflicting stances for one span", _conflicting_stance, "results", "conflicting_stance"),
    ("relation result", _relation, "results", "unsupported_result_type"),
    ("result not an object", lambda t: (t["annotations"][0]["result"].append(7), [t])[1], "results", "bad_result"),
    ("value not an object", _result(value="PER"), "results", "bad_value"),
]


@pytest.mark.parametrize("case,mutate,tally,reason", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_bad_input_is_counted_with_its_reason(case, mutate, tally, reason):
    tasks = mutate(_agree_task())
    results, report = normalise_tasks(tasks, ES)
    counted = getattr(report, tally).rejected
    assert counted.get(reason, 0) >= 1, counted
    logged = [r for res in results for r in res.rejections if r.reason == reason]
    assert logged and all(r.stage == "normalise" for r in logged)
    assert any("task" in r.source or "item" in r.source for r in logged)
    for t in (report.tasks, report.annotations, report.results):
        assert t.read == t.kept + sum(t.rejected.values())


def test_bad_target_offsets_reject_the_task():
    t = copy.deepcopy(load_export("target_stance")[0])
    t["data"]["target_start"] += 1
    results, report = normalise_tasks([t], load_schema("target_stance"))
    assert report.tasks.rejected == {"bad_target": 1}
    assert "target" in results[0].rejections[0].detail


def test_given_tokens_go_onto_the_gold_line_only_and_bad_ones_reject_the_task(tmp_path):
    text = "U.S. officials didn't"
    toks = [[0, 4], [5, 14], [15, 18], [18, 21]]
    t = task(text, [span("r", 0, 4, "U.S.", "LOC")])
    t["data"]["tokens"] = toks
    results, report = normalise_tasks([t], EN)
    assert only(results).gold.tokens == tuple(map(tuple, toks))
    assert [a.tokens for a in only(results).annotations] == [None]  # per-annotator lines keep their bytes
    export = tmp_path / "export.json"
    export.write_text(json.dumps([t]), encoding="utf-8")
    normalise_export(export, EN, tmp_path / "out")
    (line,) = (tmp_path / "out" / "gold.jsonl").read_text("utf-8").splitlines()
    assert json.loads(line)["tokens"] == toks and line.endswith(', "tokens": [[0, 4], [5, 14], [15, 18], [18, 21]]}')
    for bad in ([[0, 4], [3, 9]], [[0, 5]], [[0, 99]], "0-4"):  # overlapping, ends on a space, past the end, no list
        t["data"]["tokens"] = bad
        results, report = normalise_tasks([t], EN)
        assert report.tasks.rejected == {"bad_tokens": 1} and only(results).gold is None, bad
        assert "data.tokens" in only(results).rejections[0].detail


def test_export_from_another_config_is_an_error():
    other = copy.deepcopy(load_export("entities_stance"))
    for t in other:
        for a in t["annotations"]:
            for r in a["result"]:
                r["from_name"] = "ner"
    with pytest.raises(SchemaError, match=r"none of the first \d+ results belongs to config 'entities_stance'.*ner"):
        normalise_tasks(other, ES)


@pytest.mark.parametrize("kwargs,match", [
    ({"offsets": "bytes"}, r"'offsets' parameter of normalise must be one of auto, codepoints, utf16\. Got 'bytes'"),
    ({"min_annotators": 0}, r"'min_annotators' parameter of normalise must be an int >= 1\. Got 0"),
])
def test_bad_options(kwargs, match):
    with pytest.raises(SchemaError, match=match):
        Normaliser(ES, **kwargs)


def test_tally_refuses_counts_that_do_not_add_up():
    with pytest.raises(SchemaError, match=r"read 5 != kept 3 \+ rejected 1"):
        Tally(read=5, kept=3, rejected={"x": 1})


# --------------------------------------------------------------------------------------------
# Files and CLI
# --------------------------------------------------------------------------------------------


def test_normalise_export_writes_deterministic_files(tmp_path):
    r1 = normalise_export(EXPORTS / "entities_stance.json", ES, tmp_path / "a")
    normalise_export(EXPORTS / "entities_stance.json", ES, tmp_path / "b")
    for name in ("annotations.jsonl", "gold.jsonl", "rejections.jsonl", "unresolved.jsonl", "report.json", "report.txt"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    gold = [Annotation.from_dict(json.loads(line)) for line in (tmp_path / "a" / "gold.jsonl").read_text().splitlines()]
    assert len(gold) == r1.tasks.kept and all(g.annotator == GOLD for g in gold)
    per = (tmp_path / "a" / "annotations.jsonl").read_text().splitlines()
    assert len(per) == r1.annotations.kept
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    import hashlib
    assert report["sha256"] == hashlib.sha256((EXPORTS / "entities_stance.json").read_bytes()).hexdigest()
    unresolved = [json.loads(x) for x in (tmp_path / "a" / "unresolved.jsonl").read_text().splitlines()]
    assert [u["segment_id"] for u in unresolved] == ["es-tie"]


def test_cli_normalise_ok_and_error(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(cli, ["normalise", str(EXPORTS / "entities.json"), "--config", "entities",
                             "-o", str(tmp_path / "o"), "--min-annotators", "3"])
    assert ok.exit_code == 0, ok.output
    # en-emoji has 3 annotators, en-two only 2
    assert "tasks        read        2  kept        1  rejected        1" in ok.output
    assert "below_min_annotators" in ok.output
    assert json.loads((tmp_path / "o" / "report.json").read_text())["tasks"]["rejected"] == {"below_min_annotators": 1}
    bad = runner.invoke(cli, ["normalise", str(BAD / "export.conll"), "--config", "entities", "-o", str(tmp_path / "p")])
    assert bad.exit_code == 1
    assert bad.output.count("\n") == 1 and bad.output.startswith("error: ") and "CONLL2003" in bad.output
    unknown = runner.invoke(cli, ["normalise", str(EXPORTS / "entities.json"), "--config", "nope"])
    assert unknown.exit_code == 1 and "unknown labelling config 'nope'" in unknown.output


# --------------------------------------------------------------------------------------------
# Round trip against the real server
# --------------------------------------------------------------------------------------------


@pytest.mark.label_studio
def test_round_trip_push_annotate_pull_normalise(label_studio, tmp_path):
    """Push segments, annotate through the API, pull the export, normalise: exactly what was annotated."""
    from dataset_builder import label_studio as lsmod

    conn = label_studio.connection()
    title = "normalise round trip"
    texts = {
        "rt-emoji": "Fans 😀🎉 cheered as Lionel Messi scored for Inter Miami.",
        "rt-crlf": "Reuters reported:\r\nThe European Commission fined Google.",
        "rt-flag": "🇫🇷 France and 🇩🇪 Germany signed, said Olaf Scholz.",
        "rt-skip": "Nobody wanted this one.",
    }
    rows = [{"id": sid, "article_id": "rt-art", "index": i, "start": 0, "end": len(t), "text": t, "unit": "sentence"}
            for i, (sid, t) in enumerate(texts.items())]
    push = lsmod.push_segments(conn, rows, ES, project_title=title)
    assert push.imported == len(rows)
    meant = {  # segment -> (entities [(surface, label)], stances {surface: label}, offsets sent as)
        "rt-emoji": ([("Lionel Messi", "PER"), ("Inter Miami", "ORG")], {"Lionel Messi": "favor"}, "utf16"),
        "rt-crlf": ([("Reuters", "ORG"), ("European Commission", "ORG"), ("Google", "ORG")], {"Google": "against"},
                    "codepoints"),
        "rt-flag": ([("🇫🇷 France", "LOC"), ("France", "LOC"), ("Germany", "LOC"), ("Olaf Scholz", "PER")],
                    {"Olaf Scholz": "neutral"}, "codepoints"),
    }
    ids = {t["data"]["segment_id"]: t["id"] for t in lsmod.list_task_data(conn, title)}
    for sid, (ents, stances, sent_as) in meant.items():
        text = texts[sid]
        conv = (lambda o: o) if sent_as == "codepoints" else (lambda o: len(text[:o].encode("utf-16-le")) // 2)
        result, region = [], {}
        for k, (surface, label) in enumerate(ents):
            s = text.index(surface)
            region[surface] = f"r{k}"
            result.append({"id": f"r{k}", "from_name": "entity", "to_name": "text", "type": "labels",
                           "value": {"start": conv(s), "end": conv(s + len(surface)), "text": surface, "labels": [label]}})
        for surface, label in stances.items():
            s = text.index(surface)
            result.append({"id": region[surface], "from_name": "stance", "to_name": "text", "type": "choices",
                           "value": {"start": conv(s), "end": conv(s + len(surface)), "text": surface, "choices": [label]}})
        lsmod.submit_annotation(conn, ids[sid], result, lead_time=2.5)
    lsmod.submit_annotation(conn, ids["rt-skip"], [], was_cancelled=True)

    pulled = lsmod.pull_export(conn, title, out_dir=tmp_path / "exports")
    report = normalise_export(pulled.export_path, ES, tmp_path / "out")

    gold = {json.loads(x)["segment_id"]: json.loads(x) for x in (tmp_path / "out" / "gold.jsonl").read_text().splitlines()}
    assert set(gold) == set(meant)
    for sid, (ents, stances, _) in meant.items():
        text = texts[sid]
        assert gold[sid]["text"] == text  # CRLF and emoji survive the trip
        want_e = sorted((text.index(s), text.index(s) + len(s), lab, s) for s, lab in ents)
        assert [(e["start"], e["end"], e["label"], e["text"]) for e in gold[sid]["entities"]] == want_e
        want_s = sorted((text.index(s), text.index(s) + len(s), s, lab) for s, lab in stances.items())
        assert [(x["target_start"], x["target_end"], x["target_text"], x["label"]) for x in gold[sid]["stances"]] == want_s
    assert report.tasks.rejected == {"no_usable_annotation": 1}
    assert report.annotations.rejected == {"cancelled": 1}
    assert report.counts["offsets_convention"].get("utf16") == 2  # rt-emoji: its 2 spans (stances reuse them)
    assert not report.results.rejected and not report.counts["span_fixes"]
    lsmod.delete_project(conn, title)


# --------------------------------------------------------------------------------------------
# The streaming reader: batches, chunk boundaries, errors
# --------------------------------------------------------------------------------------------


import dataset_builder.normalise.reader as normalise_reader  # noqa: E402
from dataset_builder.jsonl import dumps as jsonl_dumps  # noqa: E402

# Strings that look like structure: a reader that cut the file at '}' / ',' / '{"id": ...' without
# decoding would split tasks inside them.
TRICKY = [
    '}, {"id": 7, "annotations": [', "]", "[", ",", "}", "{", '"', "\\", '\\"', "\\u", "} ,\n{", "😀🇫🇷", "é中",
    "\r\n\t", "\u2028", '"}]', "",
]


def _tricky_tasks(n: int) -> list[dict]:
    tasks = []
    for i in range(n):
        s = TRICKY[i % len(TRICKY)] + TRICKY[(3 * i + 1) % len(TRICKY)]
        tasks.append({
            "id": i + 1,
            "annotations": [{"id": 10 * i + k, "completed_by": k + 1, "result": [{"value": {"text": s, "n": [i, -k, 1.5]}}]}
                            for k in range(i % 3)],
            # a nested object that opens like a task: a boundary guess there must be caught
            "data": {"text": s or "x", "nested": [{"x": 1}, {"id": 3, "annotations": []}] if i % 4 == 1 else None},
        })
    return tasks


def _write(path, tasks, style: int) -> bytes:
    if style == 0:
        raw = json.dumps(tasks, ensure_ascii=False)
    elif style == 1:
        raw = json.dumps(tasks, ensure_ascii=True, separators=(",", ":"))
    elif style == 2:
        raw = json.dumps(tasks, ensure_ascii=False, indent=2)
    else:  # whitespace of every kind between items, around the brackets, and a BOM
        raw = "\ufeff \r\n[ " + " ,\n\t".join(json.dumps(t, ensure_ascii=False) for t in tasks) + "\n] \n"
    data = raw.encode("utf-8")
    path.write_bytes(data)
    return data


@pytest.mark.parametrize("chunk,batch", [(1, 1), (7, 64), (64, 1), (4096, 700), (1 << 21, 1 << 14)])
@pytest.mark.parametrize("style", [0, 1, 2, 3])
def test_reader_gives_the_items_json_gives_whatever_the_chunk_and_batch_sizes(chunk, batch, style, tmp_path, monkeypatch):
    monkeypatch.setattr(normalise_reader, "_CHUNK", chunk)
    monkeypatch.setattr(normalise_reader, "_BATCH", batch)
    tasks = _tricky_tasks(23)
    _write(tmp_path / "e.json", tasks, style)
    got = list(iter_export(tmp_path / "e.json"))
    assert [i for i, _ in got] == list(range(len(tasks)))
    assert [t for _, t in got] == tasks


def test_reader_hands_over_to_the_exact_reader_when_a_batch_does_not_decode(tmp_path, monkeypatch):
    """A nested object that opens like a task makes a wrong cut: orjson refuses it, nothing is lost."""
    monkeypatch.setattr(normalise_reader, "_BATCH", 1)
    handed_over = []
    exact = normalise_reader._iter_exact
    monkeypatch.setattr(normalise_reader, "_iter_exact", lambda *a: (handed_over.append(a[2]), exact(*a))[1])
    tasks = [{"id": 1, "annotations": [], "data": {"l": [{"x": 1}, {"id": 2, "annotations": []}]}},
             {"id": 2, "annotations": [], "data": {}}]
    _write(tmp_path / "e.json", tasks, 0)
    assert [t for _, t in iter_export(tmp_path / "e.json")] == tasks
    assert handed_over == [1]  # from the first task's first byte


def test_reader_reads_the_whole_file_for_the_checksum(tmp_path, monkeypatch):
    import hashlib

    monkeypatch.setattr(normalise_reader, "_CHUNK", 5)
    data = _write(tmp_path / "e.json", _tricky_tasks(5), 2)
    readers = []
    list(iter_export(tmp_path / "e.json", reader_hook=readers.append))
    # (the BOM-less file: the checksum is of every byte after a BOM)
    assert readers[0].sha256.hexdigest() == hashlib.sha256(data).hexdigest()
    assert readers[0].pos == len(data)


def _complete_before(text: str, cut: int) -> int:
    """How many array items of ``text`` end within its first ``cut`` bytes."""
    dec, pos, n = json.JSONDecoder(), text.index("[") + 1, 0
    while True:
        while text[pos] in " \t\r\n,":
            pos += 1
        if text[pos] == "]":
            return n
        _, pos = dec.raw_decode(text, pos)
        if len(text[:pos].encode("utf-8")) > cut:
            return n
        n += 1


@pytest.mark.parametrize("chunk", [3, 1 << 21])
def test_truncated_anywhere_gives_the_malformed_error_with_the_complete_task_count(chunk, tmp_path, monkeypatch):
    monkeypatch.setattr(normalise_reader, "_CHUNK", chunk)
    monkeypatch.setattr(normalise_reader, "_BATCH", 100)
    tasks = _tricky_tasks(6)
    text = json.dumps(tasks, ensure_ascii=False)
    data = text.encode("utf-8")
    path = tmp_path / "cut.json"
    for cut in range(1, len(data), 7):
        path.write_bytes(data[:cut])
        k = _complete_before(text, cut)
        with pytest.raises(ExportError, match=rf"malformed JSON after {k} complete task\(s\), before byte \d+ .*truncated"):
            list(iter_export(path))


@pytest.mark.parametrize("raw,match", [
    (b'[{"data": {}}] x', r"malformed JSON after 1 complete task\(s\), before byte 15 \(extra data after the array\)"),
    (b'[{"data": {}},]', r"malformed JSON after 1 complete task\(s\), before byte 14 \(expecting a value\)"),
    (b'[{"data": {}} {"data": {}}]', r"malformed JSON after 1 complete task\(s\), before byte 14 \(expected ',' or ']'"),
    (b'[{"data": {"x": NaN}}]', r"malformed JSON after 0 complete task\(s\).*NaN is not a JSON value"),
    (b'[{"data": {"x": "a\tb"}}]', r"malformed JSON after 0 complete task\(s\), before byte 18 \(Invalid control"),
    (b"[", r"malformed JSON after 0 complete task\(s\), before byte 1 \(premature end of file\)"),
    (b'[{"data": {}}, {"data": {"t": "\xe9"}}]', r"not valid UTF-8 after 1 complete task\(s\), before byte 31 "),
    (b"\xef\xbb\xbf" + b'[{"data": {}}, {"data": {"t": "\xe9"}}]', r"not valid UTF-8 after 1 complete task\(s\), before byte 34 "),
])
def test_malformed_json_errors_name_the_task_count_and_the_byte(raw, match, tmp_path):
    path = tmp_path / "bad.json"
    path.write_bytes(raw)
    with pytest.raises(ExportError, match=match):
        list(iter_export(path))


def test_invalid_utf8_far_into_the_file_still_yields_the_tasks_before_it(tmp_path, monkeypatch):
    monkeypatch.setattr(normalise_reader, "_CHUNK", 64)
    tasks = _tricky_tasks(9)
    text = json.dumps(tasks, ensure_ascii=False)
    data = text.encode("utf-8")
    bad_at = len(text[: text.index('"id": 8')].encode("utf-8"))
    (tmp_path / "bad.json").write_bytes(data[:bad_at] + b"\xff" + data[bad_at:])
    seen = []
    with pytest.raises(ExportError, match=rf"not valid UTF-8 after 7 complete task\(s\), before byte {bad_at} "):
        for _, t in iter_export(tmp_path / "bad.json"):
            seen.append(t)
    assert seen == tasks[:7]


def test_lone_surrogate_escapes_become_question_marks_as_before(tmp_path):
    (tmp_path / "e.json").write_bytes(b'[{"data": {"text": "a\\ud800b \\ud83d\\ude00", "k\\udc00": 1}}]')
    ((_, task),) = iter_export(tmp_path / "e.json")
    assert task == {"data": {"text": "a?b 😀", "k?": 1}}


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("offsets", ["auto", "utf16", "codepoints"])
def test_export_lines_are_the_records_json(config, offsets, tmp_path):
    """normalise_export writes its lines without building records: they must be the records' JSON."""
    schema = load_schema(config)
    normalise_export(EXPORTS / f"{config}.json", schema, tmp_path, offsets=offsets)
    results, _ = normalise_tasks(load_export(config), schema, offsets=offsets, source=f"{config}.json")
    want_ann = "".join(jsonl_dumps(a.to_dict()) + "\n" for r in results for a in r.annotations)
    want_gold = "".join(jsonl_dumps(r.gold.to_dict()) + "\n" for r in results if r.gold is not None)
    want_rej = "".join(jsonl_dumps(x.to_dict()) + "\n" for r in results for x in r.rejections)
    assert (tmp_path / "annotations.jsonl").read_text(encoding="utf-8") == want_ann
    assert (tmp_path / "gold.jsonl").read_text(encoding="utf-8") == want_gold
    assert (tmp_path / "rejections.jsonl").read_text(encoding="utf-8") == want_rej


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(
    texts=st.lists(st.text(st.sampled_from(list("ab \r\n😀é\"\\{}[],:")), min_size=1, max_size=12),
                   min_size=1, max_size=6),
    spans=st.lists(st.tuples(st.integers(0, 12), st.integers(1, 6), st.sampled_from(["PER", "ORG", "LOC"]),
                             st.sampled_from(["favor", "against", None])), max_size=8),
    chunk=st.sampled_from([1, 5, 1 << 21]),
)
def test_property_export_lines_are_the_records_json(texts, spans, chunk, tmp_path, monkeypatch):
    monkeypatch.setattr(normalise_reader, "_CHUNK", chunk)
    monkeypatch.setattr(normalise_reader, "_BATCH", 50)
    tasks = []
    for i, text in enumerate(texts):
        anns = [[], []]
        for k, (start, length, label, stance_label) in enumerate(spans):
            start = min(start, len(text) - 1)
            end = min(start + length, len(text))
            rid = f"r{k}"
            anns[k % 2].append(span(rid, start, end, text[start:end], label))
            if stance_label:
                anns[(k // 2) % 2].append(stance(rid, stance_label))
        tasks.append(task(text, *anns, task_id=i + 1, segment_id=f"s{i}"))
    path = tmp_path / "e.json"
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "out"
    normalise_export(path, ES, out)
    results, _ = normalise_tasks(tasks, ES, source="e.json")
    assert (out / "annotations.jsonl").read_text(encoding="utf-8") == "".join(
        jsonl_dumps(a.to_dict()) + "\n" for r in results for a in r.annotations)
    assert (out / "gold.jsonl").read_text(encoding="utf-8") == "".join(
        jsonl_dumps(r.gold.to_dict()) + "\n" for r in results if r.gold is not None)
    assert (out / "rejections.jsonl").read_text(encoding="utf-8") == "".join(
        jsonl_dumps(x.to_dict()) + "\n" for r in results for x in r.rejections)
    assert (out / "unresolved.jsonl").read_text(encoding="utf-8") == "".join(
        jsonl_dumps(dict(u)) + "\n" for r in results for u in r.unresolved)


@pytest.mark.parametrize("chunk", [1, 2, 3, 4])
def test_a_number_cut_by_a_chunk_end_is_decoded_whole(chunk, tmp_path, monkeypatch):
    monkeypatch.setattr(normalise_reader, "_CHUNK", chunk)
    (tmp_path / "n.json").write_bytes(b"[12345, 6]")
    with pytest.raises(ExportError, match=r"holds int values, not task objects \(first item: 12345\)"):
        list(iter_export(tmp_path / "n.json"))


def test_prose_with_commas_is_not_taken_for_csv(tmp_path):
    """A wire story given by mistake is reported as not JSON, not as a CSV export."""
    path = tmp_path / "story.txt"
    path.write_text("Venezuelan President Nicolas Maduro, whose government is under pressure, said so.\n", encoding="utf-8")
    with pytest.raises(ExportError, match=r"story\.txt: this is not JSON \(it starts with 'Venezuelan President Nicolas M'\)"):
        list(iter_export(path))


# --------------------------------------------------------------------------------------------
# Issue 18: wrong configs, snapshots, 0.x exports, e-mail annotators, one convention per annotation
# --------------------------------------------------------------------------------------------


def test_config_sharing_a_from_name_but_unable_to_use_any_result_is_refused():
    # entities_stance's per-region "stance" shares its name with target_stance's per-task one: a
    # from_name alone does not confirm the config, a result the config can use does
    with pytest.raises(SchemaError, match=r"none of the first 7 results belongs to config 'entities_stance' in a way "
                                          r"it can use .*rejected as: stance_orphan 5, unknown_from_name 2\); pass the "
                                          r"--config the project was labelled with"):
        normalise_tasks(load_export("target_stance"), ES)


def test_target_config_on_an_export_without_target_fields_is_refused(tmp_path):
    with pytest.raises(SchemaError, match=r"none of the first 11 task\(s\) has the target fields config "
                                          r"'target_stance' needs \(data\.target, target_start, target_end\)"):
        normalise_export(EXPORTS / "entities_stance.json", load_schema("target_stance"), tmp_path / "o")


def test_a_config_is_confirmed_by_a_result_rejected_only_for_its_data():
    t = _agree_task()
    for r in t["annotations"][0]["result"]:
        if r["type"] == "labels":
            r["value"]["text"] = "no such words"
    t["annotations"] = t["annotations"][:1]
    _, report = normalise_tasks([t], ES)  # not refused: text_not_found is about the data, not the config
    assert report.results.rejected["text_not_found"] >= 1


def _snapshot(root: Path, config: str, stamp: str, *, export: str = "entities", bundled: bool = True) -> Path:
    """A snapshot folder as 'pull' writes it: export.json, label_config.xml, manifest.json."""
    schema = load_schema(config)
    d = root / "proj" / f"{stamp}-0123456789ab"
    d.mkdir(parents=True)
    (d / "export.json").write_bytes((EXPORTS / f"{export}.json").read_bytes())
    (d / "label_config.xml").write_text(schema.xml.strip(), encoding="utf-8")
    manifest = {"format": "label-studio-json", "project_title": "proj", "config_name": config if bundled else None,
                "config_hash": schema.config_hash if bundled else None, "label_config_file": "label_config.xml"}
    (d / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return d


def test_cli_config_defaults_to_the_manifest_and_a_project_folder_means_its_latest_snapshot(tmp_path):
    _snapshot(tmp_path, "entities", "20260101T000000Z")
    latest = _snapshot(tmp_path, "entities", "20260102T000000Z")
    out = CliRunner().invoke(cli, ["normalise", str(tmp_path / "proj"), "-o", str(tmp_path / "o")])
    assert out.exit_code == 0, out.output
    assert (f"holds 2 snapshot(s); taking the latest, {latest.name} ({latest / 'export.json'})" in out.output)
    assert f"config entities (named by {latest / 'manifest.json'})" in out.output
    assert json.loads((tmp_path / "o" / "report.json").read_text())["config"] == "entities"
    # the snapshot folder, and its export.json, with the manifest's own config
    for arg in (latest, latest / "export.json"):
        ok = CliRunner().invoke(cli, ["normalise", str(arg), "--config", "entities", "-o", str(tmp_path / "p")])
        assert ok.exit_code == 0, ok.output


def test_cli_config_other_than_the_manifest_is_refused_with_the_fix(tmp_path):
    snap = _snapshot(tmp_path, "entities", "20260101T000000Z")
    bad = CliRunner().invoke(cli, ["normalise", str(snap / "export.json"), "--config", "target_stance",
                                   "-o", str(tmp_path / "o")])
    assert bad.exit_code == 1
    assert bad.output.startswith("error: ") and bad.output.count("\n") == 1
    assert ("manifest.json says the project was labelled with config 'entities', not 'target_stance'" in bad.output
            and "leave --config out (the manifest's config is the default) or pass --config entities." in bad.output)
    assert not (tmp_path / "o").exists()
    # the library refuses it too
    with pytest.raises(SchemaError, match=r"labelled with config 'entities', not 'entities_stance'"):
        normalise_export(snap, ES, tmp_path / "o")


def test_manifest_without_a_bundled_config_uses_and_checks_the_snapshots_label_config(tmp_path):
    snap = _snapshot(tmp_path, "entities", "20260101T000000Z", bundled=False)
    report = normalise_export(snap, None, tmp_path / "o")
    assert report.config == "label_config" and report.tasks.read == 2
    with pytest.raises(SchemaError, match=r"labelled with config 'label_config.xml', not 'entities_stance'.*"
                                          r"pass --config .*label_config\.xml"):
        normalise_export(snap, ES, tmp_path / "p")
    # a bundled config changed since the pull (its hash differs): the snapshot's own config is the manifest's
    changed = _snapshot(tmp_path / "c", "entities", "20260101T000000Z")
    manifest = json.loads((changed / "manifest.json").read_text())
    (changed / "manifest.json").write_text(json.dumps(dict(manifest, config_hash="0" * 64)), encoding="utf-8")
    assert normalise_export(changed, None, tmp_path / "q").config == "label_config"
    assert normalise_export(changed, EN, tmp_path / "r").config == "entities"  # the same XML
    (changed / "label_config.xml").unlink()
    with pytest.raises(SchemaError, match=r"names config 'entities', whose bundled file changed since the pull, and "
                                          r"the project's own config label_config.xml is not beside it; pass --config"):
        normalise_export(changed, None, tmp_path / "s")


def test_cli_config_is_required_without_a_manifest_and_folders_without_snapshots_are_refused(tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli, ["normalise", str(EXPORTS / "entities.json"), "-o", str(tmp_path / "o")])
    assert res.exit_code == 1
    assert "no manifest.json beside the export names its labelling config; pass --config" in res.output
    res = runner.invoke(cli, ["normalise", str(tmp_path / "nope"), "-o", str(tmp_path / "o")])
    assert res.exit_code == 1 and "nope: no such file or folder; give a Label Studio JSON export" in res.output
    (tmp_path / "empty").mkdir()
    res = runner.invoke(cli, ["normalise", str(tmp_path / "empty"), "--config", "entities", "-o", str(tmp_path / "o")])
    assert res.exit_code == 1
    assert "a folder with no export.json and no snapshot folders holding one" in res.output
    snap = _snapshot(tmp_path, "entities", "20260101T000000Z")
    (snap / "manifest.json").write_text("{not json", encoding="utf-8")
    res = runner.invoke(cli, ["normalise", str(snap), "-o", str(tmp_path / "o")])
    assert res.exit_code == 1 and "manifest.json: not a readable manifest" in res.output


def test_label_studio_0x_completions_are_read_as_annotations(tmp_path):
    report = normalise_export(BAD / "ls0x_completions.json", EN, tmp_path / "o")
    assert report.counts["notes"]["completions_read_as_annotations"] == 4
    assert report.annotations.read == 4 and report.annotations.rejected == {"cancelled": 1}  # 'skipped': cancelled
    assert report.results.kept == 7
    lines = [json.loads(x) for x in (tmp_path / "o" / "annotations.jsonl").read_text().splitlines()]
    assert [(r["task_id"], r["annotator"], len(r["entities"])) for r in lines] == [(1, "1", 3), (1, "2", 2), (2, "2", 2)]


def test_annotators_known_by_email_get_a_stable_pseudonym_never_the_address():
    import hashlib

    def handle(email):
        return "annotator-" + hashlib.sha256(email.lower().encode()).hexdigest()[:8]

    t = task("Anna Smith met Bob.", [span("a", 0, 10, "Anna Smith")], [span("b", 0, 10, "Anna Smith")],
             [span("c", 0, 10, "Anna Smith")], [span("d", 15, 18, "Bob")])
    anns = t["annotations"]
    anns[0]["completed_by"] = "Ann.Lee@Example.org"
    anns[1]["completed_by"] = {"email": "bo@example.org"}
    anns[2]["completed_by"] = {"id": 7, "email": "cy@example.org"}
    anns[3]["completed_by"] = "ann.lee@example.org"  # the same person again: supersedes her first annotation
    anns[3]["updated_at"] = "2024-02-01T00:00:00Z"
    results, report = normalise_tasks([t], EN)
    names = [a.annotator for a in only(results).annotations]
    assert sorted(names) == sorted(["7", handle("ann.lee@example.org"), handle("bo@example.org")])
    assert report.annotations.rejected == {"superseded": 1}
    assert report.counts["notes"]["annotator_from_email"] == 3
    dumped = json.dumps([r.to_dict() for r in only(results).rejections]) + json.dumps(report.to_dict())
    assert "@" not in dumped and handle("ann.lee@example.org") in dumped


def test_an_annotator_object_with_an_id_keeps_the_id_and_no_rejection_shows_its_email():
    t = task("Anna Smith.", [span("a", 0, 10, "Anna Smith")], [span("a", 0, 10, "Anna Smith")])
    for a, when in zip(t["annotations"], ("2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z")):
        a["completed_by"], a["updated_at"] = {"id": 3, "email": "x@example.org"}, when
    results, report = normalise_tasks([t], EN)
    assert [a.annotator for a in only(results).annotations] == ["3"]
    (rej,) = only(results).rejections
    assert rej.reason == "superseded" and rej.detail == "completed_by=an object with id 3"


ISSUE_TEXT = "Fans 🎉 cheered\nas 𝕄erkel thanked UEFA 👏 in Berlin."


def _u16_span(rid, piece, label, with_text):
    s = ISSUE_TEXT.index(piece)
    u = lambda i: len(ISSUE_TEXT[:i].encode("utf-16-le")) // 2  # noqa: E731
    return span(rid, u(s), u(s + len(piece)), piece if with_text else None, label)


def test_auto_offsets_follow_the_convention_a_sibling_span_proves():
    spans = [_u16_span("a", "𝕄erkel", "PER", False), _u16_span("b", "UEFA 👏", "ORG", False),
             _u16_span("c", "Berlin", "LOC", False), _u16_span("d", "Fans 🎉", "MISC", True)]
    res, report = normalise_tasks([task(ISSUE_TEXT, spans)], EN)
    assert [e.text for e in only(res).gold.entities] == ["Fans 🎉", "𝕄erkel", "UEFA 👏", "Berlin"]
    assert report.counts["offsets_convention"] == {"utf16": 1, "followed_annotation_utf16": 3}
    # without the sibling there is no evidence: code points are assumed, per span, as before
    res, report = normalise_tasks([task(ISSUE_TEXT, spans[:3])], EN)
    assert [e.text for e in only(res).gold.entities][:2] == ["erkel t", "FA 👏 in"]
    assert report.counts["offsets_convention"] == {"assumed_codepoints": 2, "utf16_only_fit": 1}


def test_auto_offsets_evidence_stays_within_its_annotation_and_conflicting_evidence_decides_nothing():
    text = ISSUE_TEXT
    berlin = text.index("Berlin")
    proof_u16 = _u16_span("d", "Fans 🎉", "MISC", True)
    proof_cp = span("e", berlin, berlin + 6, "Berlin", "LOC")
    bare = _u16_span("a", "𝕄erkel", "PER", False)
    res, report = normalise_tasks([task(text, [proof_u16, bare, proof_cp], [dict(bare, id="x")])], EN)
    got = {a.annotator: [e.text for e in a.entities] for a in only(res).annotations}
    assert got == {"1": ["Fans 🎉", "erkel t", "Berlin"], "2": ["erkel t"]}
    assert report.counts["offsets_convention"] == {"utf16": 1, "codepoints": 1, "assumed_codepoints": 2}


def test_jsonl_errors_say_at_column_once(tmp_path):
    from dataset_builder.errors import InputError
    from dataset_builder.jsonl import read_jsonl

    (tmp_path / "a.jsonl").write_text('{"text": "a\tb"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"a\.jsonl:1: not valid JSON \(Invalid control character at column 12\)\.$"):
        list(read_jsonl(tmp_path / "a.jsonl"))
