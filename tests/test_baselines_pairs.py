"""Stance baselines for pairs: relation features (pair_relation), one SVM per target (per_target_svm), --baselines."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dataset_builder.baselines import BASELINES, load_model, make_model, run_benchmark
from dataset_builder.baselines.pairs import DEFAULT_MAX_FEATURES, PairFeatures, PerTargetSVM
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


def test_pair_features_relation_columns():
    from dataset_builder.baselines.pairs import CHAR_SIZES, N_RELATION

    rows = [("Bridge closed", "The council closed the bridge.", True), ("Squid found", "The council closed the bridge.", True),
            ("Squid found", "A squid was found on the beach.", True),
            ("Bridge closed", "filler words " * 30 + "so the bridge closed today.", True),
            ("Bridge closed", "It is a hoax, officials deny it: the bridge closed.", True)]
    f = PairFeatures(max_features=256).fit(rows, ["agree", "unrelated", "agree", "discuss", "disagree"])
    m = f.transform(rows)
    assert m.shape == (5, N_RELATION + 4)  # the relation features, then the target word model's 4 classes
    assert m[0, 0] > m[1, 0] and m[2, 0] > m[1, 0]  # TF-IDF cosine: the related pairs above the unrelated one

    def hits(row: int, reach: int, word_n: int) -> float:  # the count of the target's word n-grams in a reach
        return m[row, 4 + reach * 2 * (2 + len(CHAR_SIZES) + 5) + 2 + 2 * (len(CHAR_SIZES) + word_n - 1)]

    assert [hits(0, r, 1) for r in range(3)] == [2, 2, 2]  # "bridge", "closed" in a short text
    assert hits(0, 0, 2) == 0 and hits(4, 0, 2) == 1  # the bigram "bridge closed" occurs only in the last text
    assert hits(3, 0, 2) == 1 and hits(3, 1, 2) == 0 and hits(3, 2, 2) == 0  # ... and past the first 255 characters here
    refuting = m[:, N_RELATION - 22:N_RELATION]  # the text's refuting-word flags and the parity of their count
    assert refuting[4].sum() == 2 and refuting[4, -1] == 0 and refuting[0].sum() == 0  # "hoax", "deny"; 2 words: even


def test_pair_features_word_model_is_out_of_fold_for_training_rows():
    # each target is a word of its own that gives its label, paired with several texts: a model that
    # saw the target knows the label from it, one that did not cannot (a new headline at prediction)
    X, y = [], []
    for t in range(20):
        label = ["agree", "disagree", "discuss", "unrelated"][t % 4]
        for b in range(6):
            X.append((f"tok{t}", f"body number {(t * 7 + b) % 30} " * 5, True))
            y.append(label)
    f = PairFeatures(max_features=1024)
    oof = f.fit_transform(X, y)[:, -4:]
    seen = f.transform(X)[:, -4:]
    truth = np.searchsorted(f.classes_, np.array(y, dtype=object))
    own_oof, own_seen = oof[np.arange(len(y)), truth], seen[np.arange(len(y)), truth]
    assert own_oof.max() < 0.35 < own_seen.min()  # 4 classes: 0.25 is knowing nothing
    assert np.array_equal(f.fit_transform(X, y)[:, -4:], oof)  # deterministic
    with pytest.raises(ValueError, match="labels"):
        PairFeatures().fit(X)


def test_per_target_svm_one_model_per_target_and_fallbacks():
    X = [("A", f"good thing {i}", True) for i in range(6)] + [("A", f"bad thing {i}", True) for i in range(6)]
    X += [("B", f"whatever {i}", True) for i in range(3)]
    y = ["favor"] * 6 + ["against"] * 6 + ["neutral"] * 3
    model = PerTargetSVM(seed=0, min_rows=1).fit(X, y)
    assert sorted(model.models_) == ["A", "B"] and model.models_["B"] == "neutral"  # one class: predicted as is
    assert list(model.predict([("A", "good thing 9", True), ("B", "bad", True)])) == ["favor", "neutral"]
    assert model.predict([("C", "good thing", True)])[0] in {"favor", "against", "neutral"}  # unseen: all targets' model
    assert make_model("stance", "per_target_svm").get_params()["max_features"] > 0


def test_per_target_svm_leaves_targets_with_few_rows_to_the_fallback():
    X = [("A", f"good thing {i}", True) for i in range(6)] + [("A", f"bad thing {i}", True) for i in range(6)]
    X += [("B", f"whatever {i}", True) for i in range(3)]
    y = ["favor"] * 6 + ["against"] * 6 + ["neutral"] * 3
    model = PerTargetSVM(seed=0, min_rows=12).fit(X, y)
    assert sorted(model.models_) == ["A"]  # B has 3 rows: the fallback predicts it
    fallback = model.fallback_["svm"].predict(next(model._scores([("B", "whatever 1", True)]))[2])
    assert list(model.predict([("B", "whatever 1", True)])) == list(fallback)
    assert PerTargetSVM().fit(X, y).models_ == {}  # the default (100 rows): every target here to the fallback


def _given_rows(n: int = 240, seed: int = 3):
    """Headline/body rows: 24 bodies shared by many headlines, labels tied to shared words."""
    rng = random.Random(seed)
    names = sorted(TOPICS)
    bodies = [" ".join(rng.choice(TOPICS[names[b % 6]].split()) for _ in range(40)) + f" {CUES[['agree', 'disagree', 'discuss'][b % 3]]}"
              for b in range(24)]
    X, y = [], []
    for i in range(n):
        b = rng.randrange(24)
        related = rng.random() < 0.5
        topic = names[b % 6] if related else names[(b + 1) % 6]
        X.append((" ".join(rng.sample(TOPICS[topic].split(), 3)), bodies[b], True))
        y.append(["agree", "disagree", "discuss"][b % 3] if related else "unrelated")
    return X, y


def test_tfidf_logreg_featurises_each_distinct_text_once_into_the_rows_matrix():
    import scipy.sparse as sp

    from dataset_builder.baselines.stance import TfidfLogReg, unique_rows

    X, y = _given_rows()
    model = TfidfLogReg(max_features=500).fit(X, y)
    texts, targets = model._sides(X)
    assert len(unique_rows(texts)[0]) == 24 < len(X)
    A, t_rows, T, g_rows = model._design(texts, targets)
    assert A.shape[0] == 24
    every_row = sp.hstack([v.transform(texts) for v in model.text_vectorizers_], format="csr")
    assert (A[t_rows] != every_row).nnz == 0  # gathering the distinct texts' rows: the same matrix
    every_target = sp.hstack([v.transform(targets) for v in model.target_vectorizers_], format="csr")
    assert (T[g_rows] != every_target).nnz == 0
    # the factored scores are those of the explicit [text | target] matrix
    full = sp.hstack([every_row, every_target], format="csr")
    assert np.allclose(model.decision_function(X), full @ model.coef_.T + model.intercept_)


def test_tfidf_logreg_on_given_targets_reaches_the_logistic_regression_optimum():
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

    from dataset_builder.baselines.stance import TfidfLogReg

    X, y = _given_rows()
    model = TfidfLogReg(max_features=500, tol=1e-10, max_iter=20000).fit(X, y)
    texts, targets = model._sides(X)
    full = sp.hstack([v.transform(texts) for v in model.text_vectorizers_]
                     + [v.transform(targets) for v in model.target_vectorizers_], format="csr")
    ref = LogisticRegression(C=10.0, class_weight="balanced", tol=1e-10, max_iter=20000).fit(full, y)
    assert list(ref.classes_) == list(model.classes_)
    assert np.abs(ref.predict_proba(full) - model.predict_proba(X)).max() < 1e-3
    assert list(model.predict(X)) == list(ref.predict(full))


def test_tfidf_logreg_on_span_targets_is_the_joined_text_pipeline():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    from dataset_builder.baselines import mark_target

    X, y = _given_rows(120)
    spans = [(h.split()[0], mark_target(f"{h} {b}", 0, len(h.split()[0])), False) for h, b, _ in X]
    model = make_model("stance", "tfidf_logreg", max_features=300).fit(spans, y)
    ref = Pipeline([("tfidf", FeatureUnion([
        ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, max_features=300)),
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, max_features=300))])),
        ("logreg", LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced", random_state=0))]).fit([s[1] for s in spans], y)
    assert np.array_equal(model.predict_proba(spans), ref.predict_proba([s[1] for s in spans]))
    assert np.array_equal(model.predict_proba([s[1] for s in spans]), model.predict_proba(spans))  # a marked string: the same


def test_per_target_svm_is_each_targets_own_tfidf_svm():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.svm import LinearSVC

    from dataset_builder.baselines.pairs import _lead

    X, y = _given_rows()
    for cap in (DEFAULT_MAX_FEATURES, 40):
        model = PerTargetSVM(max_features=cap, min_rows=1).fit(X, y)
        target = max(model.models_, key=lambda t: sum(x[0] == t for x in X) if not isinstance(model.models_[t], str) else 0)
        idx = [i for i, x in enumerate(X) if x[0] == target]
        ref = Pipeline([("ngrams", FeatureUnion([
            ("word", TfidfVectorizer(ngram_range=(1, 3), sublinear_tf=True, max_features=cap, preprocessor=_lead)),
            ("char", TfidfVectorizer(analyzer="char", ngram_range=(2, 5), sublinear_tf=True, max_features=cap,
                                     preprocessor=_lead))])),
            ("svm", LinearSVC(C=1.0, random_state=0))]).fit([X[i][1] for i in idx], [y[i] for i in idx])
        texts = [x[1] for x in X]
        _, _, ours, row_text = next(model._scores([(target, t, True) for t in texts]))
        assert ours.shape[0] == len(set(texts)) < len(texts)  # each distinct text featurised once
        assert np.allclose(model.models_[target]["svm"].decision_function(ours)[row_text], ref.decision_function(texts),
                           atol=1e-8)


def test_per_target_svm_fallback_is_the_svm_of_its_distinct_rows_weighted():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.svm import LinearSVC

    from dataset_builder.baselines.pairs import PRIMAL_TOL, _lead

    X, y = _given_rows()  # 24 bodies, each with several labels: the fallback's rows repeat texts
    for cap in (DEFAULT_MAX_FEATURES, 40):
        model = PerTargetSVM(max_features=cap).fit(X, y)
        assert model.models_ == {}
        pairs: dict[tuple[str, str], int] = {}
        for x, label in zip(X, y):
            pairs[(x[1], label)] = pairs.get((x[1], label), 0) + 1
        assert len(pairs) > len({x[1] for x in X})
        ref = Pipeline([("ngrams", FeatureUnion([
            ("word", TfidfVectorizer(ngram_range=(1, 3), sublinear_tf=True, max_features=cap, preprocessor=_lead)),
            ("char", TfidfVectorizer(analyzer="char", ngram_range=(2, 5), sublinear_tf=True, max_features=cap,
                                     preprocessor=_lead))])),
            ("svm", LinearSVC(C=1.0, dual=False, tol=PRIMAL_TOL, random_state=0))])
        ref.fit([t for t, _ in pairs], [label for _, label in pairs], svm__sample_weight=np.array(list(pairs.values()), float))
        texts = sorted({x[1] for x in X})
        ours = next(model._scores([("unseen", t, True) for t in texts]))[2]
        assert np.allclose(model.fallback_["svm"].decision_function(ours), ref.decision_function(texts), atol=1e-6)


def test_per_target_svm_keeps_only_the_terms_its_models_use():
    from dataset_builder.baselines.pairs import _count_vectorizers

    X, y = _given_rows()
    model = PerTargetSVM(max_features=40, min_rows=1).fit(X, y)
    fitted = [m for m in [*model.models_.values(), model.fallback_] if not isinstance(m, str)]
    full = [len(v.fit(sorted({x[1] for x in X})).vocabulary_) for v in _count_vectorizers()]
    kept = [len(v.vocabulary_) for v in model.counters_]
    assert all(40 <= k <= 40 * len(fitted) and k < f for k, f in zip(kept, full))


def test_per_target_svm_probabilities_sum_to_one_and_agree_with_predict():
    X, y = _given_rows()
    model = PerTargetSVM(min_rows=1).fit(X[:200], y[:200])
    test = X[200:] + [("never seen", X[0][1], True)]
    proba = model.predict_proba(test)
    assert proba.shape == (len(test), len(model.classes_))
    assert np.allclose(proba.sum(axis=1), 1.0) and (proba >= 0).all()
    assert list(model.classes_[proba.argmax(axis=1)]) == list(model.predict(test))
    one_class = [t for t, m in model.models_.items() if isinstance(m, str)]
    if one_class:
        row = model.predict_proba([(one_class[0], "anything", True)])[0]
        assert row.max() == 1.0 and model.classes_[row.argmax()] == model.models_[one_class[0]]


@pytest.mark.parametrize("name", ["tfidf_logreg", "per_target_svm", "pair_relation"])
def test_pair_models_round_trip_through_skops(tmp_path, name):
    from dataset_builder.baselines import save_model

    X, y = _given_rows()
    model = make_model("stance", name, max_features=512).fit(X[:200], y[:200])
    save_model(model, tmp_path / "m.skops")
    loaded = load_model(tmp_path / "m.skops")
    assert list(loaded.predict(X[200:])) == list(model.predict(X[200:]))
    assert np.array_equal(loaded.predict_proba(X[200:]), model.predict_proba(X[200:]))


def test_pair_features_fit_transform_is_fit_then_transform_but_out_of_fold():
    from dataset_builder.baselines.pairs import N_RELATION

    X, y = _given_rows()
    once = PairFeatures(max_features=512).fit_transform(X, y)
    twice = PairFeatures(max_features=512).fit(X, y).transform(X)
    assert once.shape == twice.shape
    assert np.array_equal(once[:, :N_RELATION], twice[:, :N_RELATION])  # the relation features: the same
    assert not np.array_equal(once[:, N_RELATION:], twice[:, N_RELATION:])  # the word model: out of fold once


def test_tfidf_logreg_row_space_gives_the_primal_solution(monkeypatch):
    import scipy.sparse as sp

    from dataset_builder.baselines import stance

    X, y = _given_rows()
    reduced = stance.TfidfLogReg(max_features=500, tol=1e-10, max_iter=20000).fit(X, y)
    A = sp.hstack([v.transform(sorted({x[1] for x in X})) for v in reduced.text_vectorizers_], format="csr")
    assert stance._row_space(A) is not None  # 24 distinct bodies, hundreds of columns: solved in the row space
    monkeypatch.setattr(stance, "ROW_SPACE_MAX", 0)
    primal = stance.TfidfLogReg(max_features=500, tol=1e-10, max_iter=20000).fit(X, y)
    assert np.abs(reduced.predict_proba(X) - primal.predict_proba(X)).max() < 1e-4
    assert np.abs(reduced.coef_ - primal.coef_).max() < 1e-3


def test_row_space_refuses_near_duplicate_rows():
    import scipy.sparse as sp

    from dataset_builder.baselines.stance import _row_space

    M = sp.csr_matrix(np.array([[1.0, 0.0, 2.0, 0.0], [0.0, 1.0, 0.0, 1.0]]))
    L = _row_space(M)
    assert np.allclose(L @ L.T, (M @ M.T).toarray())
    assert _row_space(sp.csr_matrix(np.array([[1.0, 0.0, 2.0, 0.0], [1.0, 0.0, 2.0, 1e-9]]))) is None
    assert _row_space(sp.csr_matrix(np.ones((3, 2)))) is None  # more rows than columns


def test_a_pair_relation_model_from_before_its_features_changed_is_refused_clearly():
    from dataset_builder.errors import InputError

    X, y = _given_rows()
    model = make_model("stance", "pair_relation", max_features=512).fit(X, y)
    old = model[0]
    del old.cue_  # what a model saved with the earlier features lacks
    with pytest.raises(InputError, match="earlier dataset_builder.*run `dataset-builder benchmark` again"):
        model.predict(X[:3])
