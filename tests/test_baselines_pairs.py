"""Stance baselines for pairs: relation features (pair_relation), one SVM per target (per_target_svm), --baselines."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from dataset_builder.baselines import BASELINES, load_model, make_model, run_benchmark
from dataset_builder.baselines.pairs import PairFeatures, PerTargetSVM
from dataset_builder.build import build_dataset
from dataset_builder.cli import cli
from dataset_builder.records import GOLD, Annotation, SplitManifest, StanceLabel
from dataset_builder.schema import load_schema

TOPICS = {
    "bridge": "council bridge repairs river traffic detour ferry mayor",
    "squid": "squid beach coast guard float ocean fishermen sighting",
    "museum": "museum director exhibition tickets paintings reopening hall",
    "harvest": "apples harvest orchard farmers prices market season",
    "storm": "storm winds flooding roofs power outage shelters",
    "election": "ballots votes candidate turnout polling count district",
}
CUES = {"agree": "confirmed", "disagree": "fake hoax denied", "discuss": "reportedly claims"}


def _gold(seed: int = 0, n_bodies: int = 60) -> list[Annotation]:
    rng = random.Random(seed)
    names = sorted(TOPICS)
    gold = []
    for b in range(n_bodies):
        topic = names[b % len(names)]
        stance = ["agree", "disagree", "discuss"][b % 3]
        words = TOPICS[topic].split()
        body = "\n\n".join(" ".join(rng.choice(words + ["the", "a", "on", "said"]) for _ in range(30)) + f" {CUES[stance]}."
                           for _ in range(3))
        for h in range(4):
            related = h < 2
            t = topic if related else names[(names.index(topic) + 1 + h) % len(names)]
            headline = " ".join(rng.sample(TOPICS[t].split(), 4)).capitalize()
            gold.append(Annotation(segment_id=f"b{b:03d}-h{h}", article_id=f"b{b:03d}", text=body, annotator=GOLD,
                                   stances=(StanceLabel(None, None, headline, stance if related else "unrelated"),)))
    return gold


@pytest.fixture(scope="module")
def pairs_dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pairs")
    gold = _gold()
    ids = sorted({a.article_id for a in gold})
    manifest = SplitManifest(salt="s", ratios=(0.6, 0.2, 0.2), splits={
        "train": tuple(ids[:36]), "validation": tuple(ids[36:48]), "test": tuple(ids[48:])})
    build_dataset(gold, manifest, load_schema("headline_stance"), root / "ds")
    return root / "ds"


def test_pair_baselines_rank_by_the_declared_fnc1_score(pairs_dataset, tmp_path):
    results = run_benchmark(pairs_dataset, tmp_path / "out", configs=["stance"], resamples=0)
    by = {e["baseline"]: e for e in results["baselines"]}
    assert set(by) == set(BASELINES["stance"]) >= {"pair_relation", "per_target_svm"}
    assert {e["primary_metric"] for e in by.values()} == {"fnc1"}
    # unrelated headlines share no words with their body: the relation features see it
    assert by["pair_relation"]["score"] > by["majority"]["score"] + 0.3
    assert by["pair_relation"]["score"] > 0.8
    board = (tmp_path / "out" / "leaderboard.md").read_text(encoding="utf-8")
    assert "| rank | baseline | FNC-1 score | 95% CI | macro-F1 | accuracy | model |" in board
    best = max(by.values(), key=lambda e: e["score"])["baseline"]
    assert f"| 1 | {best} |" in board  # ranked by the FNC-1 score, the others shown beside it
    for name in ("pair_relation", "per_target_svm"):
        model = load_model(tmp_path / "out" / by[name]["model"])
        pred = (tmp_path / "out" / by[name]["predictions"]).read_text(encoding="utf-8").splitlines()
        assert json.loads(pred[0])["id"].endswith("@target")
        assert hasattr(model, "predict")


def test_baselines_option_chooses_and_caps(pairs_dataset, tmp_path):
    out = CliRunner().invoke(cli, ["benchmark", str(pairs_dataset), "-o", str(tmp_path / "o"), "--config", "stance",
                                   "--baselines", "majority,pair_relation", "--max-features", "4096",
                                   "--resamples", "0"])
    assert out.exit_code == 0, out.output
    results = json.loads((tmp_path / "o" / "results.json").read_text(encoding="utf-8"))
    assert [e["baseline"] for e in results["baselines"]] == ["majority", "pair_relation"]
    bad = CliRunner().invoke(cli, ["benchmark", str(pairs_dataset), "-o", str(tmp_path / "b"), "--baselines", "svm"])
    assert bad.exit_code != 0 and "svm" in bad.output


def test_pair_features_cap_and_one_featurisation_per_text():
    rows = [("Bridge closed", "The council closed the bridge.", True), ("Squid found", "The council closed the bridge.", True),
            ("Squid found", "A squid was found on the beach.", True)]
    f = PairFeatures(max_features=256).fit(rows)
    m = f.transform(rows)
    assert m.shape[0] == 3 and m.shape[1] <= 2 * 256 + 200
    dense = m[:, 0].toarray().ravel()  # scaled TF-IDF cosine: the related pairs above the unrelated one
    assert dense[0] > dense[1] and dense[2] > dense[1]


def test_per_target_svm_one_model_per_target_and_fallbacks():
    X = [("A", f"good thing {i}", True) for i in range(6)] + [("A", f"bad thing {i}", True) for i in range(6)]
    X += [("B", f"whatever {i}", True) for i in range(3)]
    y = ["favor"] * 6 + ["against"] * 6 + ["neutral"] * 3
    model = PerTargetSVM(seed=0).fit(X, y)
    assert sorted(model.models_) == ["A", "B"] and model.models_["B"] == "neutral"  # one class: predicted as is
    assert list(model.predict([("A", "good thing 9", True), ("B", "bad", True)])) == ["favor", "neutral"]
    assert model.predict([("C", "good thing", True)])[0] in {"favor", "against", "neutral"}  # unseen: all targets' model
    assert make_model("stance", "per_target_svm").get_params()["max_features"] > 0
