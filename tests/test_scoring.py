"""Tests of dataset_builder.scoring: known answers, seqeval parity, validation, bootstrap, bytes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import datasets
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from dataset_builder import scoring
from dataset_builder.scoring import bootstrap as scoring_bootstrap
from dataset_builder.cli import cli
from dataset_builder.errors import DatasetBuilderError, InputError, SchemaError
from dataset_builder.scoring import (
    PredictionsError,
    TagSet,
    bootstrap_sums,
    dataset_fingerprint,
    dataset_version,
    entities_from_tags,
    ner_report_from_tags,
    report_to_json,
    report_to_markdown,
    score_predictions,
    score_split,
    split_hash,
)

TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
STANCE = ["favor", "against", "neutral"]

NER_FEATURES = datasets.Features({
    "id": datasets.Value("string"),
    "article_id": datasets.Value("string"),
    "text": datasets.Value("string"),
    "tokens": datasets.Sequence(datasets.Value("string")),
    "token_starts": datasets.Sequence(datasets.Value("int32")),
    "token_ends": datasets.Sequence(datasets.Value("int32")),
    "ner_tags": datasets.Sequence(datasets.ClassLabel(names=TAGS)),
    "spans": [{"start": datasets.Value("int32"), "end": datasets.Value("int32"),
               "label": datasets.Value("string"), "text": datasets.Value("string")}],
})
STANCE_FEATURES = datasets.Features({
    "id": datasets.Value("string"),
    "article_id": datasets.Value("string"),
    "segment_id": datasets.Value("string"),
    "text": datasets.Value("string"),
    "target": datasets.Value("string"),
    "target_start": datasets.Value("int32"),
    "target_end": datasets.Value("int32"),
    "label": datasets.ClassLabel(names=STANCE),
})


def ner_row(id_: str, article: str, tokens: list[str], tags: list[str]) -> dict:
    """One NER row; tokens joined by single spaces, spans read off IOB2 tags."""
    starts, ends, pos = [], [], 0
    for tok in tokens:
        starts.append(pos)
        ends.append(pos + len(tok))
        pos += len(tok) + 1
    text = " ".join(tokens)
    spans = [{"start": starts[s], "end": ends[e - 1], "label": t, "text": text[starts[s]:ends[e - 1]]}
             for t, s, e in entities_from_tags(tags, labels=TAGS)]
    return {"id": id_, "article_id": article, "text": text, "tokens": tokens, "token_starts": starts,
            "token_ends": ends, "ner_tags": [TAGS.index(t) for t in tags], "spans": spans}


def stance_row(id_: str, article: str, label: str, text: str = "Alice backs the plan.", target: str = "plan") -> dict:
    start = text.index(target)
    return {"id": id_, "article_id": article, "segment_id": f"{id_}-seg", "text": text, "target": target,
            "target_start": start, "target_end": start + len(target), "label": STANCE.index(label)}


def columns(rows: list[dict]) -> dict[str, list]:
    return {k: [r[k] for r in rows] for k in rows[0]}


def ner_dataset(rows: list[dict]) -> datasets.Dataset:
    return datasets.Dataset.from_dict(columns(rows), features=NER_FEATURES)


def stance_dataset(rows: list[dict]) -> datasets.Dataset:
    return datasets.Dataset.from_dict(columns(rows), features=STANCE_FEATURES)


def write_dataset(root: Path, splits: dict[str, dict[str, list[dict]]], *, readme_version: str | None = None) -> Path:
    """Write ``<root>/<config>/<split>.parquet`` and a README with YAML ``configs``."""
    yaml = ["---"]
    if readme_version is not None:
        yaml.append(f"version: {readme_version}")
    yaml.append("configs:")
    for config, by_split in splits.items():
        make = ner_dataset if config == "ner" else stance_dataset
        yaml += [f"- config_name: {config}", "  data_files:"]
        for split, rows in by_split.items():
            (root / config).mkdir(parents=True, exist_ok=True)
            make(rows).to_parquet(str(root / config / f"{split}.parquet"))
            yaml += [f"  - split: {split}", f"    path: {config}/{split}.parquet"]
    yaml.append("---")
    (root / "README.md").write_text("\n".join(yaml) + "\n\n# Test dataset\n", encoding="utf-8")
    return root


def write_preds(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# A small NER split: two articles, three segments. Gold entities: PER(0,2) LOC(3,4) in s1,
# ORG(0,1) in s2, PER(1,2) in s3: 4 entities (PER 2, LOC 1, ORG 1).
S1 = (["John", "Smith", "visited", "Paris", "."], ["B-PER", "I-PER", "O", "B-LOC", "O"])
S2 = (["Acme", "grew", "."], ["B-ORG", "O", "O"])
S3 = (["Then", "Mary", "left"], ["O", "B-PER", "O"])


@pytest.fixture()
def ner_gold() -> datasets.Dataset:
    return ner_dataset([ner_row("s1", "a1", *S1), ner_row("s2", "a1", *S2), ner_row("s3", "a2", *S3)])


@pytest.fixture()
def ner_dir(tmp_path: Path) -> Path:
    rows = [ner_row("s1", "a1", *S1), ner_row("s2", "a1", *S2), ner_row("s3", "a2", *S3)]
    st_rows = [stance_row("t1", "a1", "favor"), stance_row("t2", "a2", "against")]
    return write_dataset(tmp_path / "ds", {"ner": {"test": rows}, "stance": {"test": st_rows}})


# --------------------------------------------------------------------------- chunk rules


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        # IOB2
        (["B-PER", "I-PER", "O", "B-LOC"], [("PER", 0, 2), ("LOC", 3, 4)]),
        # conlleval: I- after O starts an entity; I- of another type starts a new one
        (["O", "I-PER", "I-PER", "I-LOC"], [("PER", 1, 3), ("LOC", 3, 4)]),
        # IOB1: B- only separates two adjacent entities of one type
        (["I-PER", "I-PER", "B-PER", "O", "I-ORG"], [("PER", 0, 2), ("PER", 2, 3), ("ORG", 4, 5)]),
        # B- after B- of the same type: two entities
        (["B-PER", "B-PER", "I-PER"], [("PER", 0, 1), ("PER", 1, 3)]),
        # type change inside a run
        (["B-PER", "I-LOC", "I-LOC"], [("PER", 0, 1), ("LOC", 1, 3)]),
        (["O", "O"], []),
        ([], []),
    ],
)
def test_conlleval_chunks(tags, expected):
    assert entities_from_tags(tags, labels=TAGS) == expected


def test_conlleval_chunks_iobes():
    labels = ["O", "B-PER", "I-PER", "E-PER", "S-PER"]
    # E- ends an entity, so the I- after it starts one; S- is one token.
    tags = ["B-PER", "E-PER", "I-PER", "S-PER", "E-PER"]
    assert entities_from_tags(tags, labels=labels) == [("PER", 0, 2), ("PER", 2, 3), ("PER", 3, 4), ("PER", 4, 5)]


def test_strict_mode_iob2_drops_entities_that_do_not_start_with_b():
    tags = ["I-PER", "I-PER", "B-LOC", "I-LOC", "I-PER", "B-ORG"]
    assert entities_from_tags(tags, mode="strict", labels=TAGS) == [("LOC", 2, 4), ("ORG", 5, 6)]


def test_strict_mode_iobes_needs_closed_entities():
    labels = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]
    tags = ["B-PER", "E-PER", "S-LOC", "B-PER", "I-PER", "O", "B-LOC", "I-LOC", "E-LOC", "I-LOC"]
    assert TagSet.from_names(labels).scheme == "IOBES"
    assert entities_from_tags(tags, mode="strict", labels=labels) == [("PER", 0, 2), ("LOC", 2, 3), ("LOC", 6, 9)]


def test_label_set_must_be_iob():
    with pytest.raises(SchemaError, match=r"NER label 'PER' is not an IOB tag; expected 'O' or 'B-TYPE'"):
        TagSet.from_names(["O", "PER"])


def test_mode_is_validated():
    with pytest.raises(ValueError, match=r"The 'mode' parameter must be one of \['conlleval', 'strict'\]. Got 'iob' instead."):
        entities_from_tags(["O"], mode="iob")


# --------------------------------------------------------------------------- known answers


def test_ner_known_answer(ner_gold, tmp_path):
    # Predicted: PER(0,2) correct, LOC predicted as ORG (wrong type), nothing for Acme,
    # Mary correct, plus a spurious MISC "left": 4 predicted, 2 correct, 4 gold.
    preds = write_preds(tmp_path / "p.jsonl", [
        {"id": "s1", "tags": ["B-PER", "I-PER", "O", "B-ORG", "O"]},
        {"id": "s2", "tags": ["O", "O", "O"]},
        {"id": "s3", "tags": ["O", "B-PER", "B-MISC"]},
    ])
    report = score_split(ner_gold, preds, resamples=0)
    micro = report["metrics"]["micro"]
    assert (micro["n_correct"], micro["n_pred"], micro["n_gold"]) == (2, 4, 4)
    assert micro["precision"] == pytest.approx(0.5)
    assert micro["recall"] == pytest.approx(0.5)
    assert micro["f1"] == pytest.approx(0.5)
    per = report["metrics"]["per_type"]
    assert list(per) == ["PER", "ORG", "LOC", "MISC"]  # label-set order
    assert per["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "n_gold": 2, "n_pred": 2, "n_correct": 2}
    assert per["ORG"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "n_gold": 1, "n_pred": 1, "n_correct": 0}
    # LOC: gold but never predicted: precision undefined (null), recall 0, F1 0.
    assert (per["LOC"]["precision"], per["LOC"]["recall"], per["LOC"]["f1"], per["LOC"]["n_pred"]) == (None, 0.0, 0.0, 0)
    # MISC: predicted but no gold: precision 0, recall undefined (null), F1 0 (not 0 recall).
    assert per["MISC"] == {"precision": 0.0, "recall": None, "f1": 0.0, "n_gold": 0, "n_pred": 1, "n_correct": 0}
    assert "LOC precision: null (undefined: nothing was predicted as LOC)" in report["notes"]
    assert "MISC recall: null (undefined: the split has no gold MISC)" in report["notes"]


def test_ner_token_accuracy_and_conlleval_lines(ner_gold, tmp_path):
    # The predictions of test_ner_known_answer: 11 tokens, 8 with the gold tag (the LOC token tagged
    # B-ORG, Acme tagged O, "left" tagged B-MISC are wrong). conlleval.pl prints, for this input:
    preds = write_preds(tmp_path / "p.jsonl", [
        {"id": "s1", "tags": ["B-PER", "I-PER", "O", "B-ORG", "O"]},
        {"id": "s2", "tags": ["O", "O", "O"]},
        {"id": "s3", "tags": ["O", "B-PER", "B-MISC"]},
    ])
    report = score_split(ner_gold, preds, resamples=0)
    metrics = report["metrics"]
    assert (metrics["n_tokens_correct"], report["n_tokens"]) == (8, 11)
    assert metrics["accuracy"] == pytest.approx(8 / 11)
    assert metrics["conlleval"] == [
        "processed 11 tokens with 4 phrases; found: 4 phrases; correct: 2.",
        "accuracy:  72.73%; precision:  50.00%; recall:  50.00%; FB1:  50.00",
        "              LOC: precision:   0.00%; recall:   0.00%; FB1:   0.00  0",
        "             MISC: precision:   0.00%; recall:   0.00%; FB1:   0.00  1",
        "              ORG: precision:   0.00%; recall:   0.00%; FB1:   0.00  1",
        "              PER: precision: 100.00%; recall: 100.00%; FB1: 100.00  2",
    ]
    markdown = report_to_markdown(report)
    assert "| token accuracy | 0.7273 | n/a |" in markdown
    assert "accuracy:  72.73%; precision:  50.00%; recall:  50.00%; FB1:  50.00" in markdown


def test_ner_known_answer_unequal_p_r(ner_gold, tmp_path):
    # 3 predicted, 2 correct, 4 gold: P = 2/3, R = 1/2, F1 = 2PR/(P+R) = 4/7.
    preds = write_preds(tmp_path / "p.jsonl", [
        {"id": "s1", "tags": ["B-PER", "I-PER", "O", "O", "O"]},
        {"id": "s2", "tags": ["B-ORG", "O", "O"]},
        {"id": "s3", "tags": ["B-PER", "O", "O"]},
    ])
    micro = score_split(ner_gold, preds, resamples=0)["metrics"]["micro"]
    assert micro["precision"] == pytest.approx(2 / 3)
    assert micro["recall"] == pytest.approx(1 / 2)
    assert micro["f1"] == pytest.approx(4 / 7)


def test_ner_iob1_predictions_scored_like_conlleval(ner_gold, tmp_path):
    # IOB1 tags (I- opens an entity) score as perfect in conlleval mode, not in strict mode.
    rows = [{"id": "s1", "tags": ["I-PER", "I-PER", "O", "I-LOC", "O"]},
            {"id": "s2", "tags": ["I-ORG", "O", "O"]},
            {"id": "s3", "tags": ["O", "I-PER", "O"]}]
    preds = write_preds(tmp_path / "p.jsonl", rows)
    assert score_split(ner_gold, preds, resamples=0)["metrics"]["micro"]["f1"] == 1.0
    strict = score_split(ner_gold, preds, resamples=0, mode="strict")["metrics"]["micro"]
    assert (strict["n_pred"], strict["f1"]) == (0, 0.0)


def test_stance_known_answer(tmp_path):
    # gold:  favor favor favor against against neutral
    # pred:  favor favor against against neutral neutral
    gold = ["favor", "favor", "favor", "against", "against", "neutral"]
    pred = ["favor", "favor", "against", "against", "neutral", "neutral"]
    ds = stance_dataset([stance_row(f"t{i}", f"a{i % 2}", g) for i, g in enumerate(gold)])
    preds = write_preds(tmp_path / "p.jsonl", [{"id": f"t{i}", "label": p} for i, p in enumerate(pred)])
    m = score_split(ds, preds, resamples=0)["metrics"]
    # favor: P 2/2, R 2/3, F1 0.8; against: P 1/2, R 1/2, F1 0.5; neutral: P 1/2, R 1, F1 2/3
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["per_class"]["favor"]["f1"] == pytest.approx(0.8)
    assert m["per_class"]["against"]["f1"] == pytest.approx(0.5)
    assert m["per_class"]["neutral"]["f1"] == pytest.approx(2 / 3)
    assert m["f_avg"] == pytest.approx((0.8 + 0.5) / 2)
    assert m["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert m["confusion_matrix"]["matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert m["per_class"]["favor"]["support"] == 3 and m["per_class"]["neutral"]["n_pred"] == 2


def test_stance_f_avg_class_names_are_parameters(tmp_path):
    ds = stance_dataset([stance_row("t0", "a", "favor"), stance_row("t1", "a", "neutral")])
    preds = write_preds(tmp_path / "p.jsonl", [{"id": "t0", "label": "favor"}, {"id": "t1", "label": "favor"}])
    # F_avg over (favor, neutral): favor F1 = 2/3, neutral F1 = 0.
    m = score_split(ds, preds, resamples=0, against_label="neutral")
    assert m["metrics"]["f_avg"] == pytest.approx(1 / 3)
    with pytest.raises(SchemaError, match=r"stance favor_label 'pro' is not a class of the label set \['favor', 'against', 'neutral'\]"):
        score_split(ds, preds, resamples=0, favor_label="pro")


def test_stance_scores_match_sklearn(tmp_path):
    from sklearn.metrics import accuracy_score, f1_score

    rng = np.random.default_rng(3)
    gold = rng.integers(0, 3, 200)
    pred = np.where(rng.random(200) < 0.6, gold, rng.integers(0, 3, 200))
    ds = stance_dataset([stance_row(f"t{i}", f"a{i // 7}", STANCE[g]) for i, g in enumerate(gold)])
    preds = write_preds(tmp_path / "p.jsonl", [{"id": f"t{i}", "label": STANCE[p]} for i, p in enumerate(pred)])
    m = score_split(ds, preds, resamples=0)["metrics"]
    assert m["accuracy"] == pytest.approx(accuracy_score(gold, pred))
    assert m["macro_f1"] == pytest.approx(f1_score(gold, pred, average="macro", labels=[0, 1, 2]))
    assert m["f_avg"] == pytest.approx(f1_score(gold, pred, average="macro", labels=[0, 1]))


def test_stance_undefined_f_avg_is_null_with_a_note(tmp_path):
    # The test split has neutral examples only: F1 of favor and against is undefined, so is F_avg.
    ds = stance_dataset([stance_row(f"t{i}", "a", "neutral") for i in range(4)])
    preds = write_preds(tmp_path / "p.jsonl", [{"id": f"t{i}", "label": "neutral"} for i in range(4)])
    report = score_split(ds, preds, resamples=0)
    m = report["metrics"]
    assert m["f_avg"] is None and report["primary_value"] is None
    assert m["per_class"]["favor"] == {"precision": None, "recall": None, "f1": None, "support": 0, "n_pred": 0}
    assert ("f_avg: null (undefined: the split has no gold example of favor or against; F_avg needs both "
            "favor and against)") in report["notes"]
    assert "macro_f1: averaged over neutral only; no gold support for favor, against" in report["notes"]
    assert m["macro_f1"] == 1.0 and m["macro_average"]["classes"] == ["neutral"]
    assert m["macro_average"]["left_out"] == ["favor", "against"]
    assert "| F_avg (favor, against) | n/a | n/a |" in report_to_markdown(report)
    assert json.loads(report_to_json(report))["metrics"]["f_avg"] is None


def test_stance_macro_f1_averages_classes_with_gold_support(tmp_path):
    # gold favor/neutral only; a prediction of "against" costs favor's recall, but against (no
    # support) is left out of the average: scikit-learn's labels=<gold classes>.
    from sklearn.metrics import f1_score

    gold = ["favor", "favor", "neutral", "neutral"]
    pred = ["favor", "against", "neutral", "favor"]
    ds = stance_dataset([stance_row(f"t{i}", "a", g) for i, g in enumerate(gold)])
    preds = write_preds(tmp_path / "p.jsonl", [{"id": f"t{i}", "label": p} for i, p in enumerate(pred)])
    report = score_split(ds, preds, resamples=0)
    m = report["metrics"]
    assert m["per_class"]["against"]["f1"] == 0.0 and m["per_class"]["against"]["recall"] is None
    g, p = [STANCE.index(x) for x in gold], [STANCE.index(x) for x in pred]
    assert m["macro_f1"] == pytest.approx(f1_score(g, p, average="macro", labels=[0, 2]))
    assert m["macro_f1"] != pytest.approx(f1_score(g, p, average="macro", labels=[0, 1, 2]))
    assert m["f_avg"] is None  # no gold against
    assert "labels=<classes present in the gold labels>" in m["macro_average"]["convention"]
    assert "macro-F1 (favor, neutral)" in report_to_markdown(report)


# --------------------------------------------------------------------------- seqeval parity

PARITY_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "E-PER", "S-LOC"]


def _assert_same_as_seqeval(y_true, y_pred, **seqeval_kwargs):
    from seqeval.metrics import classification_report

    ours = ner_report_from_tags(y_true, y_pred, mode="strict" if seqeval_kwargs else "conlleval")
    for row in [ours["micro"], *ours["per_type"].values()]:  # null exactly where the metric is undefined
        assert (row["precision"] is None, row["recall"] is None) == (row["n_pred"] == 0, row["n_gold"] == 0)
        assert (row["f1"] is None) == (row["n_pred"] == row["n_gold"] == 0)
    if not any(t != "O" for seq in y_true + y_pred for t in seq):
        assert ours["micro"]["f1"] is None
        return
    theirs = classification_report(y_true, y_pred, output_dict=True, zero_division=0, **seqeval_kwargs)
    micro = theirs["micro avg"]

    def z(v):  # seqeval (zero_division=0) writes 0 where ours is null (undefined)
        return 0.0 if v is None else v

    assert (z(ours["micro"]["precision"]), z(ours["micro"]["recall"]), z(ours["micro"]["f1"])) == (
        micro["precision"], micro["recall"], micro["f1-score"])
    assert ours["micro"]["n_gold"] == micro["support"]
    types = {k for k in theirs if not k.endswith(" avg")}
    for typ in types:
        mine = ours["per_type"][typ]
        assert (z(mine["precision"]), z(mine["recall"]), z(mine["f1"]), mine["n_gold"]) == (
            theirs[typ]["precision"], theirs[typ]["recall"], theirs[typ]["f1-score"], theirs[typ]["support"])
    assert {t for t, v in ours["per_type"].items() if v["n_gold"] or v["n_pred"]} == types


tag_seqs = st.lists(st.lists(st.sampled_from(PARITY_LABELS), max_size=12), min_size=1, max_size=8)


@settings(max_examples=400, deadline=None)
@given(data=st.data(), y_true=tag_seqs)
def test_parity_with_seqeval_default_mode(data, y_true):
    # Predictions: the gold with random tokens replaced, so many entities match.
    y_pred = [[data.draw(st.sampled_from(PARITY_LABELS)) if data.draw(st.booleans()) else t for t in seq] for seq in y_true]
    _assert_same_as_seqeval(y_true, y_pred)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # seqeval averages an empty list when no entity is valid
@settings(max_examples=200, deadline=None)
@given(data=st.data(), y_true=st.lists(st.lists(st.sampled_from(TAGS[:5]), max_size=12), min_size=1, max_size=8))
def test_parity_with_seqeval_strict_iob2(data, y_true):
    from seqeval.scheme import IOB2

    y_pred = [[data.draw(st.sampled_from(TAGS[:5])) if data.draw(st.booleans()) else t for t in seq] for seq in y_true]
    _assert_same_as_seqeval(y_true, y_pred, mode="strict", scheme=IOB2)


def test_parity_with_seqeval_on_thousands_of_sequences():
    rng = np.random.default_rng(7)
    labels = np.array(PARITY_LABELS)
    y_true = [list(labels[rng.integers(0, len(labels), rng.integers(0, 30))]) for _ in range(3000)]
    y_pred = [[t if rng.random() < 0.7 else str(labels[rng.integers(0, len(labels))]) for t in seq] for seq in y_true]
    _assert_same_as_seqeval(y_true, y_pred)


# --------------------------------------------------------------------------- spans


def test_spans_score_like_tags(ner_gold, tmp_path):
    text1 = "John Smith visited Paris ."
    tags = write_preds(tmp_path / "t.jsonl", [
        {"id": "s1", "tags": ["B-PER", "I-PER", "O", "B-ORG", "O"]},
        {"id": "s2", "tags": ["O", "O", "O"]},
        {"id": "s3", "tags": ["O", "B-PER", "O"]},
    ])
    spans = write_preds(tmp_path / "s.jsonl", [
        {"id": "s1", "spans": [{"start": 0, "end": len("John Smith"), "label": "PER", "text": "John Smith"},
                               {"start": text1.index("Paris"), "end": text1.index("Paris") + 5, "label": "ORG"}]},
        {"id": "s2", "spans": []},
        {"id": "s3", "spans": [{"start": len("Then "), "end": len("Then Mary"), "label": "PER"}]},
    ])
    a, b = score_split(ner_gold, tags, resamples=0), score_split(ner_gold, spans, resamples=0)
    assert a["metrics"] == b["metrics"]
    assert b["metrics"]["micro"]["n_correct"] == 2


@pytest.mark.parametrize(("alignment", "n_correct", "dropped"), [("contract", 0, 1), ("expand", 2, 0)])
def test_span_alignment_modes(ner_gold, tmp_path, alignment, n_correct, dropped):
    # "ohn Smith" covers Smith wholly (contract: PER over "Smith" only, wrong) and touches John
    # (expand: PER over "John Smith", right); "Mar" covers no whole token (contract drops it).
    preds = write_preds(tmp_path / "p.jsonl", [
        {"id": "s1", "spans": [{"start": 1, "end": len("John Smith"), "label": "PER"}]},
        {"id": "s2", "spans": []},
        {"id": "s3", "spans": [{"start": len("Then "), "end": len("Then Mar"), "label": "PER"}]},
    ])
    report = score_split(ner_gold, preds, resamples=0, alignment=alignment)
    assert report["metrics"]["micro"]["n_correct"] == n_correct
    assert report["spans_dropped"] == dropped


@pytest.mark.parametrize(
    ("spans", "message"),
    [
        ([{"start": 1, "end": 10, "label": "PER"}], r"p.jsonl:1: id 's1': span 0 \[1, 10\) 'ohn Smith' does not start and end on token boundaries"),
        ([{"start": 0, "end": 4, "label": "PERSON"}], r"p.jsonl:1: id 's1': span 0 has unknown label 'PERSON'; expected one of \['PER', 'ORG', 'LOC', 'MISC'\]"),
        ([{"start": 0, "end": 4, "label": "PER", "text": "Jon"}], r"span 0 text 'Jon' does not match text\[0:4\] = 'John'"),
        ([{"start": 0, "end": 99, "label": "PER"}], r"span 0 \[0, 99\) is outside the text \(length 26\)"),
        ([{"start": "0", "end": 4, "label": "PER"}], r"span 0 has start='0', end=4; expected integer character offsets"),
        ([{"start": 0, "end": 10, "label": "PER"}, {"start": 5, "end": 10, "label": "LOC"}],
         r"spans 0 and 1 overlap on token 1; a token carries one tag"),
    ],
)
def test_span_errors(ner_gold, tmp_path, spans, message):
    preds = write_preds(tmp_path / "p.jsonl", [{"id": "s1", "spans": spans}, {"id": "s2", "tags": ["O"] * 3},
                                               {"id": "s3", "tags": ["O"] * 3}])
    with pytest.raises(PredictionsError, match=message):
        score_split(ner_gold, preds, resamples=0)


# --------------------------------------------------------------------------- validation

OK_NER = [{"id": "s1", "tags": ["O"] * 5}, {"id": "s2", "tags": ["O"] * 3}, {"id": "s3", "tags": ["O"] * 3}]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (OK_NER[:2], r"p.jsonl: 1 of 3 gold ids have no prediction \(e.g. 's3'\); predict every id of the split"),
        (OK_NER + [OK_NER[0]], r"p.jsonl:4: id 's1' is predicted twice \(first at line 1\); keep one prediction per id"),
        (OK_NER + [{"id": "zz", "tags": []}], r"p.jsonl:4: unknown id 'zz', not in the gold split \(3 ids\)"),
        ([{"id": "s1", "tags": ["O"] * 4}] + OK_NER[1:],
         r"p.jsonl:1: id 's1' has 4 tags but the segment has 5 tokens; predict one tag per token"),
        ([{"id": "s1", "tags": ["O", "B-PERSON", "O", "O", "O"]}] + OK_NER[1:],
         r"p.jsonl:1: unknown tag 'B-PERSON' for id 's1'; expected one of \['O', 'B-PER'"),
        ([{"tags": ["O"] * 5}] + OK_NER[1:], r"p.jsonl:1: 'id' is None; every line needs a string 'id'"),
        ([{"id": "s1", "tags": ["O"] * 5, "spans": []}] + OK_NER[1:],
         r"p.jsonl:1: id 's1' has keys \['id', 'spans', 'tags'\]; expected exactly one of 'tags' or 'spans'"),
        ([{"id": "s1", "tags": "O O O O O"}] + OK_NER[1:], r"p.jsonl:1: 'tags' must be a list of tag names; got str"),
    ],
)
def test_ner_validation_errors(ner_gold, tmp_path, lines, message):
    preds = write_preds(tmp_path / "p.jsonl", lines)
    with pytest.raises(PredictionsError, match=message):
        score_split(ner_gold, preds, resamples=0)


def test_malformed_json_line_names_file_and_line(ner_gold, tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(OK_NER[0]) + "\n{\"id\": \"s2\", \"tags\": [\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"p.jsonl:2: not valid JSON"):
        score_split(ner_gold, path, resamples=0)


def test_predictions_with_a_utf8_bom_are_read(ner_dir, tmp_path):
    # issue 18.9: a BOM (Windows editors) made line 1 "not valid JSON (Unexpected UTF-8 BOM ...)"
    rows = [{"id": "t1", "label": "favor"}, {"id": "t2", "label": "against"}]
    plain = write_preds(tmp_path / "plain.jsonl", rows)
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    result = CliRunner().invoke(cli, ["score", str(ner_dir), str(bom), "--config", "stance", "--resamples", "0",
                                      "--json", str(tmp_path / "bom.json")])
    assert result.exit_code == 0, result.output
    CliRunner().invoke(cli, ["score", str(ner_dir), str(plain), "--config", "stance", "--resamples", "0",
                             "--json", str(tmp_path / "plain.json")])
    assert json.loads((tmp_path / "bom.json").read_text("utf-8"))["metrics"] == \
        json.loads((tmp_path / "plain.json").read_text("utf-8"))["metrics"]


def test_read_jsonl_drops_a_bom_only_at_the_start(tmp_path):
    from dataset_builder.jsonl import read_jsonl

    path = tmp_path / "p.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"id": "a"}\n{"id": "b"}\n')
    assert list(read_jsonl(path)) == [(1, {"id": "a"}), (2, {"id": "b"})]
    path.write_bytes(b'{"id": "a"}\n\xef\xbb\xbf{"id": "b"}\n')  # a BOM inside the file is damage, not a mark
    with pytest.raises(InputError, match=r"p\.jsonl:2: not valid JSON \(Unexpected UTF-8 BOM"):
        list(read_jsonl(path))


def test_stance_unknown_label(tmp_path):
    ds = stance_dataset([stance_row("t0", "a", "favor")])
    preds = write_preds(tmp_path / "p.jsonl", [{"id": "t0", "label": "FAVOR"}])
    with pytest.raises(PredictionsError, match=r"p.jsonl:1: unknown label 'FAVOR' for id 't0'; expected one of \['favor', 'against', 'neutral'\]"):
        score_split(ds, preds, resamples=0)


def test_gold_without_classlabel_is_rejected(tmp_path):
    ds = datasets.Dataset.from_dict({"id": ["t0"], "article_id": ["a"], "target": ["x"], "label": [0]})
    preds = write_preds(tmp_path / "p.jsonl", [{"id": "t0", "label": "favor"}])
    with pytest.raises(SchemaError, match=r"column 'label' is Value\('int64'\), not a ClassLabel with names"):
        score_split(ds, preds, resamples=0)


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_sums_match_a_plain_loop_and_ignore_batching(monkeypatch):
    per_article = np.arange(7 * 2, dtype=np.int64).reshape(7, 2) ** 2
    fast = bootstrap_sums(per_article, resamples=50, seed=11)
    rng = np.random.default_rng(11)
    slow = np.stack([per_article[rng.integers(0, 7, 7)].sum(0) for _ in range(50)])
    np.testing.assert_array_equal(fast, slow)
    monkeypatch.setattr(scoring_bootstrap, "_BOOTSTRAP_CELLS", 7 * 3)  # 3 resamples per batch
    np.testing.assert_array_equal(bootstrap_sums(per_article, resamples=50, seed=11), slow)


def _many_article_ner(tmp_path: Path, n_articles: int = 30) -> tuple[datasets.Dataset, Path, Path]:
    rng = np.random.default_rng(0)
    rows, good, bad = [], [], []
    for a in range(n_articles):
        for s in range(3):
            tags = ["B-PER", "I-PER", "O", "B-LOC", "O"]
            rows.append(ner_row(f"a{a}s{s}", f"art{a}", ["Ann", "Lee", "in", "Rome", "."], tags))
            good.append({"id": f"a{a}s{s}", "tags": tags if rng.random() < 0.8 else ["O"] * 5})
            bad.append({"id": f"a{a}s{s}", "tags": tags if rng.random() < 0.4 else ["B-PER", "O", "O", "O", "O"]})
    return ner_dataset(rows), write_preds(tmp_path / "good.jsonl", good), write_preds(tmp_path / "bad.jsonl", bad)


def test_bootstrap_ci_is_seeded_and_brackets_the_estimate(tmp_path):
    ds, good, _ = _many_article_ner(tmp_path)
    a = score_split(ds, good, resamples=200, seed=1)
    b = score_split(ds, good, resamples=200, seed=1)
    c = score_split(ds, good, resamples=200, seed=2)
    lo, hi = a["ci"]["micro"]["f1"]
    assert a["ci"] == b["ci"]
    assert a["ci"] != c["ci"]
    assert lo < a["metrics"]["micro"]["f1"] < hi
    assert a["bootstrap"] == {"unit": "article", "resamples": 200, "seed": 1, "confidence": 0.95,
                              "interval": "percentile (numpy linear)", "min_articles": 10, "available": True}


def test_bootstrap_resamples_articles_not_segments(tmp_path):
    # One article holding every segment: every resample is that article (its sums never vary), so
    # the report gives no interval, and says why, instead of a point posing as one.
    rows = [ner_row(f"s{i}", "only", ["Ann", "left"], ["B-PER", "O"]) for i in range(20)]
    preds = write_preds(tmp_path / "p.jsonl", [{"id": f"s{i}", "tags": ["B-PER", "O"] if i % 2 else ["O", "O"]} for i in range(20)])
    sums = bootstrap_sums(np.array([[3, 5]]), resamples=50, seed=0)
    assert (sums == [3, 5]).all()
    report = score_split(ner_dataset(rows), preds, resamples=100)
    assert report["n_articles"] == 1
    assert report["ci"] == {}
    assert report["bootstrap"]["available"] is False
    assert report["bootstrap"]["ci_note"] == (
        "not available: the split has 1 article(s) and a 95% interval needs at least 10 (docs/scoring.md)")
    text = report_to_markdown(report)
    assert "| micro recall | 0.5000 | n/a |" in text and "95% CI not available: the split has 1 article(s)" in text


def test_interval_threshold_is_ten_articles(tmp_path):
    # 9 articles: no interval; 10 articles: an interval.
    def report(n):
        rows = [ner_row(f"s{i}", f"a{i}", ["Ann", "left"], ["B-PER", "O"]) for i in range(n)]
        preds = write_preds(tmp_path / "p.jsonl", [{"id": f"s{i}", "tags": ["B-PER", "O"] if i % 2 else ["O", "O"]}
                                                    for i in range(n)])
        return score_split(ner_dataset(rows), preds, resamples=50)
    assert report(9)["ci"] == {} and report(10)["ci"]["micro"]["f1"] is not None


def test_paired_bootstrap(tmp_path):
    ds, good, bad = _many_article_ner(tmp_path)
    report = score_split(ds, good, resamples=300, compare_with=bad)
    f1 = report["comparison"]["metrics"]["micro_f1"]
    assert f1["a"] == report["metrics"]["micro"]["f1"]
    assert f1["delta"] == pytest.approx(f1["a"] - f1["b"])
    assert f1["delta"] > 0 and f1["ci"][0] > 0 and f1["p_not_better"] == 0.0
    same = score_split(ds, good, resamples=300, compare_with=good)["comparison"]["metrics"]["micro_f1"]
    assert (same["delta"], same["ci"], same["p_not_better"]) == (0.0, [0.0, 0.0], 1.0)
    assert "Paired bootstrap" in report_to_markdown(report)


def test_stance_bootstrap_ci(tmp_path):
    rng = np.random.default_rng(5)
    gold = rng.integers(0, 3, 120)
    pred = np.where(rng.random(120) < 0.7, gold, rng.integers(0, 3, 120))
    ds = stance_dataset([stance_row(f"t{i}", f"a{i // 4}", STANCE[g]) for i, g in enumerate(gold)])
    preds = write_preds(tmp_path / "p.jsonl", [{"id": f"t{i}", "label": STANCE[p]} for i, p in enumerate(pred)])
    report = score_split(ds, preds, resamples=200)
    for name in ("accuracy", "macro_f1", "f_avg"):
        lo, hi = report["ci"][name]
        assert lo < report["metrics"][name] < hi
    assert set(report["ci"]["per_class"]) == set(STANCE)


# --------------------------------------------------------------------------- identity and output


def test_fingerprint_version_and_split_hash(tmp_path):
    rows = [ner_row("s1", "a1", *S1)]
    root = write_dataset(tmp_path / "ds", {"ner": {"test": rows}})
    fp = dataset_fingerprint(root)
    assert fp == dataset_fingerprint(root) and len(fp) == 64
    assert dataset_version(root) == "0.0.0"
    write_dataset(root, {"ner": {"test": rows + [ner_row("s2", "a1", *S2)]}}, readme_version="1.2.0")
    assert dataset_fingerprint(root) != fp
    assert dataset_version(root) == "1.2.0"
    (root / "dataset_version.txt").write_text("\n2.0.0\n", encoding="utf-8")
    assert dataset_version(root) == "2.0.0"
    assert split_hash(["b", "a"]) == split_hash(["a", "b"]) != split_hash(["a"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no \*.parquet file; build the dataset first"):
        dataset_fingerprint(tmp_path / "empty")


def test_score_predictions_report_and_bytes(ner_dir, tmp_path):
    preds = write_preds(tmp_path / "p.jsonl", [
        {"id": "s1", "tags": ["B-PER", "I-PER", "O", "B-LOC", "O"]},
        {"id": "s2", "tags": ["O", "O", "O"]},
        {"id": "s3", "tags": ["O", "B-PER", "O"]},
    ])
    report = score_predictions(ner_dir, preds, config="ner", split="test", resamples=100, seed=3)
    assert list(report)[:5] == ["scorer_version", "config", "split", "dataset_fingerprint", "dataset_version"]
    assert report["dataset_fingerprint"] == dataset_fingerprint(ner_dir)
    assert report["split_hash"] == split_hash(["s1", "s2", "s3"])
    assert report["bootstrap"]["seed"] == 3
    assert report["metrics"]["micro"]["recall"] == 0.75
    again = score_predictions(ner_dir, preds, config="ner", split="test", resamples=100, seed=3)
    assert report_to_json(report).encode() == report_to_json(again).encode()
    assert report_to_markdown(report) == report_to_markdown(again)
    assert "| micro f1 | 0.8571 |" in report_to_markdown(report)


def test_cli_score_writes_identical_bytes(ner_dir, tmp_path):
    preds = write_preds(tmp_path / "p.jsonl", [{"id": "t1", "label": "favor"}, {"id": "t2", "label": "favor"}])
    runner = CliRunner()
    outs = []
    for i in range(2):
        result = runner.invoke(cli, ["score", str(ner_dir), str(preds), "--config", "stance", "--resamples", "50",
                                     "--json", str(tmp_path / f"r{i}.json"), "--markdown", str(tmp_path / f"r{i}.md")])
        assert result.exit_code == 0, result.output
        outs.append(((tmp_path / f"r{i}.json").read_bytes(), (tmp_path / f"r{i}.md").read_bytes()))
    assert outs[0] == outs[1]
    data = json.loads(outs[0][0])
    assert data["metrics"]["f_avg"] == pytest.approx((2 / 3 + 0) / 2)
    assert data["scorer_version"] == scoring.SCORER_VERSION


def test_cli_score_error_is_one_line(ner_dir, tmp_path):
    preds = write_preds(tmp_path / "p.jsonl", [{"id": "t1", "label": "favor"}])
    result = CliRunner().invoke(cli, ["score", str(ner_dir), str(preds), "--config", "stance"])
    assert result.exit_code == 1
    assert result.output.strip().startswith("error: ")
    assert "1 of 2 gold ids have no prediction (e.g. 't2')" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_cli_unknown_config_names_the_fix(ner_dir, tmp_path):
    preds = write_preds(tmp_path / "p.jsonl", [{"id": "t1", "label": "favor"}])
    result = CliRunner().invoke(cli, ["score", str(ner_dir), str(preds), "--config", "sentiment", "--resamples", "0"])
    assert result.exit_code == 1
    assert "cannot load config 'sentiment' split 'test'" in result.output


def test_python_dash_m_scoring(ner_dir, tmp_path):
    preds = write_preds(tmp_path / "p.jsonl", [{"id": "t1", "label": "favor"}, {"id": "t2", "label": "against"}])
    ok = subprocess.run([sys.executable, "-m", "dataset_builder.scoring", str(ner_dir), str(preds), "--config", "stance",
                         "--resamples", "10"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "| F_avg (favor, against) | 1.0000 |" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "dataset_builder.scoring", str(ner_dir), str(preds), "--config", "ner"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: ") and "unknown id 't1'" in bad.stderr


def test_errors_are_dataset_builder_errors():
    assert issubclass(PredictionsError, InputError) and issubclass(PredictionsError, DatasetBuilderError)


def test_threshold_is_where_coverage_reaches_90_percent():
    # docs/scoring.md: the coverage of a nominal 95% percentile interval for a normal mean of n
    # articles is P(|T_{n-1}| < 1.96 sqrt((n-1)/n)); MIN_CI_ARTICLES is the first n where it is >= 0.90.
    import math

    from scipy import stats

    def coverage(n):
        return 2 * stats.t.cdf(1.96 * math.sqrt((n - 1) / n), n - 1) - 1

    n = scoring.MIN_CI_ARTICLES
    assert round(coverage(n - 1), 3) == 0.898 and round(coverage(n), 3) == 0.904
    assert coverage(n - 1) < 0.90 <= coverage(n)


def test_load_split_reads_in_batches_and_takes_the_files_digest_as_fingerprint(tmp_path, monkeypatch):
    from dataset_builder.scoring import dataset as scoring_dataset

    rows = [stance_row(f"s{i}", f"a{i}", STANCE[i % 3]) for i in range(10)]
    root = write_dataset(tmp_path / "ds", {"stance": {"test": rows}})
    monkeypatch.setattr(scoring_dataset, "READ_BATCH", 3)  # several batches: the rows in order, the features kept
    one = scoring_dataset.load_split(root, "stance", "test")
    assert one["id"] == [r["id"] for r in rows] and one.features == stance_dataset(rows).features
    again = scoring_dataset.load_split(root, "stance", "test")
    assert one._fingerprint == again._fingerprint  # the same file: the same fingerprint, without hashing the table
    write_dataset(tmp_path / "ds", {"stance": {"test": rows[:9]}})
    assert scoring_dataset.load_split(root, "stance", "test")._fingerprint != one._fingerprint
