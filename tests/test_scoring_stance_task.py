"""The stance metric roles: F_avg with any favor/against classes, FNC-1's weighted score, macro-F1; declared by build."""

from __future__ import annotations

import json
import random
from pathlib import Path

import datasets
import pytest

from dataset_builder.build.features import STANCE_TASK_KEY as BUILD_KEY
from dataset_builder.build.features import stance_features
from dataset_builder.errors import SchemaError
from dataset_builder.scoring import score_split
from dataset_builder.scoring.metrics import fnc1_score
from dataset_builder.scoring.stance_task import STANCE_TASK_KEY, resolve_task

FNC = ["agree", "disagree", "discuss", "unrelated"]


def _official_fnc1(gold: list[str], pred: list[str]) -> float:
    """FNC-1's scorer.py rule written out pair by pair (score_submission / score_defaults), x 100."""
    related = {"agree", "disagree", "discuss"}
    score = 0.0
    for g, t in zip(gold, pred):
        if g == t:
            score += 0.25
            if g != "unrelated":
                score += 0.50
        if g in related and t in related:
            score += 0.25
    n_unrelated = sum(g == "unrelated" for g in gold)
    best = 0.25 * n_unrelated + (len(gold) - n_unrelated)
    return score / best * 100


def _dataset(gold: list[str], labels=FNC) -> datasets.Dataset:
    n = len(gold)
    return datasets.Dataset.from_dict(
        {"id": [f"s{i}@target" for i in range(n)], "article_id": [f"a{i % 12}" for i in range(n)],
         **{f: [None] * n for f in ("title", "date", "source", "url")},
         "segment_id": [f"s{i}" for i in range(n)], "text": ["A body."] * n, "target": ["A headline"] * n,
         "label": [labels.index(g) for g in gold]},
        features=stance_features(labels, "given"))


def _preds(path: Path, pred: list[str]) -> Path:
    path.write_text("".join(json.dumps({"id": f"s{i}@target", "label": p}) + "\n" for i, p in enumerate(pred)),
                    encoding="utf-8")
    return path


def test_fnc1_hand_computed_case():
    gold = ["agree", "agree", "discuss", "unrelated", "unrelated", "disagree"]
    pred = ["agree", "discuss", "unrelated", "unrelated", "agree", "disagree"]
    # by hand: 1 + 0.25 + 0 + 0.25 + 0 + 1 = 2.5 of 4 related x 1 + 2 unrelated x 0.25 = 4.5
    conf = [[0] * 4 for _ in range(4)]
    for g, p in zip(gold, pred):
        conf[FNC.index(g)][FNC.index(p)] += 1
    import numpy as np
    score, best = fnc1_score(np.array(conf), 3)
    assert (float(score), float(best)) == (2.5, 4.5)
    assert _official_fnc1(gold, pred) == pytest.approx(2.5 / 4.5 * 100)


def test_fnc1_score_equals_the_official_rule_on_random_predictions(tmp_path):
    rng = random.Random(7)
    gold = [rng.choice(FNC + ["unrelated"] * 4) for _ in range(400)]
    for k in range(5):
        pred = [g if rng.random() < 0.4 + 0.1 * k else rng.choice(FNC) for g in gold]
        report = score_split(_dataset(gold), _preds(tmp_path / f"p{k}.jsonl", pred), resamples=0, metric="fnc1")
        assert report["primary_metric"] == "fnc1" and report["unrelated_label"] == "unrelated"
        assert report["primary_value"] * 100 == pytest.approx(_official_fnc1(gold, pred), abs=1e-8)


def test_declared_fnc1_ranks_and_the_others_are_shown(tmp_path):
    gold = ["agree", "unrelated", "discuss", "disagree", "unrelated"] * 6
    report = score_split(_dataset(gold), _preds(tmp_path / "p.jsonl", gold), resamples=50,
                         declared={"metric": "fnc1", "roles": {"unrelated": "unrelated"}, "target_kind": "given"})
    assert report["primary_metric"] == "fnc1" and report["primary_value"] == 1.0
    assert {"accuracy", "macro_f1", "fnc1"} <= set(report["metrics"]) and "f_avg" not in report["metrics"]
    assert set(report["ci"]) >= {"accuracy", "macro_f1", "fnc1"}


def test_any_label_set_defaults_to_macro_f1_and_roles_are_options(tmp_path):
    labels = ["pro", "con", "none"]
    gold = ["pro", "con", "none", "pro"]
    ds = _dataset(gold, labels)
    report = score_split(ds, _preds(tmp_path / "p.jsonl", ["pro", "con", "pro", "pro"]), resamples=0)
    assert report["primary_metric"] == "macro_f1"
    report = score_split(ds, _preds(tmp_path / "p.jsonl", ["pro", "con", "pro", "pro"]), resamples=0,
                         favor_label="pro", against_label="con")
    assert report["primary_metric"] == "f_avg" and report["primary_value"] == pytest.approx((0.8 + 1.0) / 2)
    with pytest.raises(SchemaError, match=r"unrelated_label 'unrelated' is not a class"):
        resolve_task(labels, metric="fnc1")


def test_the_scorer_reads_the_key_build_writes():
    assert STANCE_TASK_KEY == BUILD_KEY
