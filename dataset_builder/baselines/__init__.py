"""Baselines for the built dataset, scored by :mod:`dataset_builder.scoring`.

Input
    A dataset folder written by ``build`` (configs ``ner`` and ``stance``, splits ``train`` and
    ``test``).

Output
    Under ``output_dir``: ``models/<config>.<baseline>.skops`` (saved with ``skops``, never
    pickle), ``predictions/<config>.<baseline>.jsonl`` (the scorer's predictions format),
    ``results.json`` (every baseline's score report) and ``leaderboard.md``.

Baselines (all scikit-learn estimators, fixed seeds, deterministic):

* stance ``majority``: ``DummyClassifier(strategy="most_frequent")``.
* stance ``tfidf_logreg``: the target marked in the text (:func:`mark_target`; a given target
  outside the text goes in front of it between the same markers), TF-IDF of word 1-2-grams and
  character 2-5-grams (``char_wb``), each capped at ``max_features``, ``LogisticRegression``
  (balanced class weights), as one ``Pipeline``.
* stance ``pair_relation`` and ``per_target_svm`` (:mod:`.pairs`): the relation of target and
  text (TF-IDF cosine, word overlap and the FNC-1 baseline's other features, plus n-grams) with
  a logistic regression; one linear SVM per target on word 1-3 and char 2-5 n-grams (SemEval-2016's
  organisers' baseline).
* NER ``majority``: the most frequent training tag for every token (``DummyClassifier``); it
  predicts no entity and marks the floor.
* NER ``memorisation``: the most frequent training tag of each token string (exact, then
  lowercased), ``O`` for unseen tokens; its I- tags without a B- are read by conlleval's rules.
* NER ``crf``: a linear-chain CRF (``sklearn-crfsuite``, L-BFGS until :data:`CRF_STOPPING` holds)
  on hand-made token features (:func:`sentence_features`: lower-cased word, shape and short shape,
  prefixes and suffixes of 1-4 characters, casing, digit and punctuation flags, the words, short
  shapes and casing of the neighbours in a +-2 window, word bigrams, BOS/EOS, all-caps headlines),
  as a ``Pipeline``. Its L1/L2 penalties (c1, c2) are chosen from :data:`CRF_GRID` by entity micro
  F1 on the validation split when the config has one (:func:`tune_crf`; the search is recorded as
  ``tuning`` in ``results.json``), else :data:`CRF_DEFAULT`.

Invariants
    Same dataset, seed and options give byte-identical predictions, ``results.json`` and
    ``leaderboard.md`` (the ``.skops`` archives hold zip timestamps, so they are not compared).
    Models are trained on ``train_split`` only (the validation split only chooses the CRF's c1/c2)
    and scored on ``eval_split``. Equal scores share a
    rank (1, 1, 3); an undefined score (null) is listed last without a rank; an evaluation split of
    fewer than :data:`~dataset_builder.scoring.MIN_CI_ARTICLES` articles gets a warning in
    ``results.json`` and the leaderboard: too small to rank baselines.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ..errors import InputError
from ..jsonl import read_json_object, write_jsonl
from .pairs import DEFAULT_MAX_FEATURES, PerTargetSVM, make_pair_relation
from ..scoring import (
    CONFIDENCE,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    SCORER_VERSION,
    dataset_fingerprint,
    format_metric,
    too_few_articles,
    dataset_version,
    load_split,
    score_predictions,
)

TARGET_OPEN = "TGTSTART"
TARGET_CLOSE = "TGTEND"
BASELINES: dict[str, tuple[str, ...]] = {
    "stance": ("majority", "tfidf_logreg", "pair_relation", "per_target_svm"),
    "ner": ("majority", "memorisation", "crf"),
}
DESCRIPTIONS = {
    ("stance", "majority"): "DummyClassifier(most_frequent)",
    ("stance", "tfidf_logreg"): "target-marked text, TF-IDF word 1-2 + char 2-5 grams, LogisticRegression",
    ("stance", "pair_relation"): "target-text relation (TF-IDF cosine, overlaps, refuting words) + n-grams, logistic regression (SGD)",
    ("stance", "per_target_svm"): "one LinearSVC per target, word 1-3 + char 2-5 grams (SemEval-2016 baseline)",
    ("ner", "majority"): "DummyClassifier(most_frequent) per token",
    ("ner", "memorisation"): "most frequent training tag per token",
    ("ner", "crf"): "CRF (sklearn-crfsuite, L-BFGS to convergence) on word, shape, affix, case and +-2 window features; c1/c2 tuned on validation",
}


# --------------------------------------------------------------------------- features


def mark_target(text: str, start: int, end: int) -> str:
    """``text`` with the stance target ``text[start:end]`` wrapped in marker words.

    ``"Obama spoke"`` with target [0, 5) becomes ``"TGTSTART Obama TGTEND spoke"``, so word
    n-grams see the target and its neighbours.
    """
    if not 0 <= start <= end <= len(text):
        raise InputError(f"target offsets [{start}, {end}) do not fit a text of length {len(text)}; rebuild the dataset.")
    return f"{text[:start]} {TARGET_OPEN} {text[start:end]} {TARGET_CLOSE} {text[end:]}"


_SHAPE_RULES = ((re.compile(r"[A-Z]"), "X"), (re.compile(r"[a-z]"), "x"), (re.compile(r"[0-9]"), "d"))
_RUNS = re.compile(r"(.)\1+")


def _shape(token: str) -> str:
    """The word's shape with runs cut to two: ``"Xxxxxx"`` -> ``"Xxx"`` (the features of the first CRF)."""
    shape = token
    for pattern, letter in _SHAPE_RULES:
        shape = pattern.sub(letter, shape)
    return _RUNS.sub(r"\1\1", shape)


def word_shape(token: str) -> tuple[str, str]:
    """``(shape, short shape)`` of a token: every letter ``X``/``x`` by case (any script), every digit
    ``d``, other characters kept; the short shape collapses each run to one: ``"McDonald's"`` ->
    ``("XxXxxxxx'x", "XxXx'x")``, ``"1996-08-30"`` -> ``("dddd-dd-dd", "d-d-d")``."""
    chars = []
    for ch in token:
        if ch.isdigit():
            chars.append("d")
        elif ch.isalpha():
            chars.append("X" if ch.isupper() else "x")
        else:
            chars.append(ch)
    shape = "".join(chars)
    return shape, _RUNS.sub(r"\1", shape)


_OFFSETS = (-2, -1, 1, 2)


def _word_attributes(word: str) -> tuple[list[str], dict[int, list[str]]]:
    """Attributes of one token string, alone: its own, and those it gives as a neighbour at each
    offset of the window (prefixed ``-2:`` ... ``+2:``), as crfsuite attribute names.

    Own: lower-cased identity, shape and short shape, prefixes and suffixes of 1-4 characters,
    casing flags (title, all upper, all lower, a capital inside), digit and punctuation flags,
    length bucket. As a neighbour: lower-cased identity, short shape and the casing flags.
    """
    low = word.lower()
    shape, short = word_shape(word)
    alpha = any(ch.isalpha() for ch in word)
    flags = []
    if word.istitle():
        flags.append("title")
    if alpha and word.isupper():
        flags.append("upper")
    if alpha and word.islower():
        flags.append("lower")
    if "upper" not in flags and any(ch.isupper() for ch in word[1:]):
        flags.append("innercap")  # McDonald, eBay
    own = ["bias", "w=" + low, "shape=" + shape, "sshape=" + short, f"len={min(len(word), 8)}"]
    own += [f"p{k}={low[:k]}" for k in range(1, 5) if len(low) >= k]
    own += [f"s{k}={low[-k:]}" for k in range(1, 5) if len(low) >= k]
    own += flags
    if word.isdigit():
        own.append("digits")
    elif any(ch.isdigit() for ch in word):
        own.append("hasdigit")
    if not any(ch.isalnum() for ch in word):
        own.append("punct")
    if "-" in word and len(word) > 1:
        own.append("hyphen")
    near = ["w=" + low, "sshape=" + short] + flags
    return own, {offset: [f"{offset:+d}:{a}" for a in near] for offset in _OFFSETS}


def sentence_features(tokens: Sequence[str], cache: dict[str, Any] | None = None) -> list[list[str]]:
    """crfsuite attributes of every token of one sentence (the ``crf`` baseline's features).

    Per token: its own attributes (:func:`_word_attributes`), its neighbours' in a window of +-2
    (``-1:BOS`` / ``+1:EOS`` at the edges), the word bigrams with the previous and the next token,
    and ``allcaps`` when every cased token of the sentence is upper case (a headline). ``cache``
    maps token strings to their attributes across calls (the lists are shared, never changed).
    """
    cache = {} if cache is None else cache
    attrs = []
    for t in tokens:
        a = cache.get(t)
        if a is None:
            a = cache[t] = _word_attributes(t)
        attrs.append(a)
    n = len(tokens)
    cased = [t for t in tokens if any(ch.isalpha() for ch in t)]
    headline = len(cased) > 1 and all(t.isupper() for t in cased)
    lows = ["BOS"] + [t.lower() for t in tokens] + ["EOS"]
    out = []
    for i in range(n):
        feats = attrs[i][0] + [f"-1|0={lows[i]}|{lows[i + 1]}", f"0|+1={lows[i + 1]}|{lows[i + 2]}"]
        for offset in _OFFSETS:
            j = i + offset
            if 0 <= j < n:
                feats += attrs[j][1][offset]
            elif j == -1 and offset == -1:
                feats.append("-1:BOS")
            elif j == n and offset == 1:
                feats.append("+1:EOS")
        if headline:
            feats.append("allcaps")
        out.append(feats)
    return out


def token_features(tokens: Sequence[str], i: int) -> dict[str, Any]:
    """Hand-made features of ``tokens[i]`` used by :class:`TokenFeaturizer` ``(version=1)``, the
    first CRF's (kept for comparison in ``benchmarks/crf.py``): the word, its shape, affixes,
    case, neighbours."""
    word = tokens[i]
    low = word.lower()
    feats: dict[str, Any] = {
        "bias": 1.0,
        "w": low,
        "suf3": low[-3:],
        "suf2": low[-2:],
        "pre3": low[:3],
        "shape": _shape(word),
        "title": word.istitle(),
        "upper": word.isupper(),
        "digit": word.isdigit(),
        "len": min(len(word), 10),
    }
    for offset in (-2, -1, 1, 2):
        j = i + offset
        if 0 <= j < len(tokens):
            other = tokens[j]
            feats[f"{offset}:w"] = other.lower()
            feats[f"{offset}:title"] = other.istitle()
            if abs(offset) == 1:
                feats[f"{offset}:shape"] = _shape(other)
        elif abs(offset) == 1:
            feats["BOS" if offset < 0 else "EOS"] = True
    return feats


class TokenFeaturizer(TransformerMixin, BaseEstimator):
    """Token lists -> per-token features for the CRF: :func:`sentence_features` (``version=2``,
    the default) or the first CRF's :func:`token_features` (``version=1``)."""

    def __init__(self, version: int = 2):
        self.version = version

    def fit(self, X: Sequence[Sequence[str]], y: Any = None) -> "TokenFeaturizer":
        return self

    def transform(self, X: Sequence[Sequence[str]]) -> list[list[Any]]:
        if self.version == 1:
            return [[token_features(tokens, i) for i in range(len(tokens))] for tokens in X]
        cache: dict[str, Any] = {}
        return [sentence_features(tokens, cache) for tokens in X]


class MemorisationTagger(BaseEstimator):
    """Most frequent training tag per token string (exact match, then lowercased), else ``default``.

    Ties go to the tag that sorts first, so the model does not depend on data order.
    """

    def __init__(self, default: str = "O"):
        self.default = default

    def fit(self, X: Sequence[Sequence[str]], y: Sequence[Sequence[str]]) -> "MemorisationTagger":
        exact: dict[str, Counter] = {}
        lower: dict[str, Counter] = {}
        for tokens, tags in zip(X, y):
            for token, tag in zip(tokens, tags):
                exact.setdefault(token, Counter())[tag] += 1
                lower.setdefault(token.lower(), Counter())[tag] += 1

        def best(counter: Counter) -> str:
            return min(counter.items(), key=lambda kv: (-kv[1], kv[0]))[0]

        self.exact_ = {k: best(v) for k, v in sorted(exact.items())}
        self.lower_ = {k: best(v) for k, v in sorted(lower.items())}
        return self

    def predict(self, X: Sequence[Sequence[str]]) -> list[list[str]]:
        return [[self.exact_.get(t) or self.lower_.get(t.lower(), self.default) for t in tokens] for tokens in X]


class TokenDummyTagger(BaseEstimator):
    """Sequence wrapper of a ``DummyClassifier(strategy="most_frequent")`` over all tokens."""

    def __init__(self, seed: int = 0):
        self.seed = seed

    def fit(self, X: Sequence[Sequence[str]], y: Sequence[Sequence[str]]) -> "TokenDummyTagger":
        from sklearn.dummy import DummyClassifier

        flat = [tag for tags in y for tag in tags]
        self.classifier_ = DummyClassifier(strategy="most_frequent", random_state=self.seed).fit(np.zeros((len(flat), 1)), flat)
        return self

    def predict(self, X: Sequence[Sequence[str]]) -> list[list[str]]:
        out = []
        for tokens in X:
            out.append([str(t) for t in self.classifier_.predict(np.zeros((len(tokens), 1)))] if tokens else [])
        return out


# --------------------------------------------------------------------------- models


def _joined(X: Sequence[Sequence[Any]]) -> list[str]:
    """``(target, text, given)`` rows as one string: the text (a span target is marked in it), or a
    given target between the markers in front of the text. A string row (a text already marked by
    :func:`mark_target`) passes as it is."""
    return [x if isinstance(x, str) else f"{TARGET_OPEN} {x[0]} {TARGET_CLOSE} {x[1]}" if x[2] else x[1] for x in X]


def make_model(task: str, name: str, *, seed: int = DEFAULT_SEED, max_features: int | None = DEFAULT_MAX_FEATURES):
    """An unfitted baseline estimator (see the module docstring); ``max_features`` caps each n-gram block."""
    from sklearn.pipeline import FeatureUnion, Pipeline

    if task == "stance" and name == "majority":
        from sklearn.dummy import DummyClassifier

        return Pipeline([("majority", DummyClassifier(strategy="most_frequent", random_state=seed))])
    if task == "stance" and name == "tfidf_logreg":
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        from sklearn.preprocessing import FunctionTransformer

        features = FeatureUnion([
            ("word", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, min_df=1,
                                     max_features=max_features)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1,
                                     max_features=max_features)),
        ])
        clf = LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced", random_state=seed)
        return Pipeline([("text", FunctionTransformer(_joined)), ("tfidf", features), ("logreg", clf)])
    if task == "stance" and name == "pair_relation":
        return make_pair_relation(seed=seed, max_features=max_features or DEFAULT_MAX_FEATURES)
    if task == "stance" and name == "per_target_svm":
        return PerTargetSVM(seed=seed, max_features=max_features or DEFAULT_MAX_FEATURES)
    if task == "ner" and name == "majority":
        return TokenDummyTagger(seed=seed)
    if task == "ner" and name == "memorisation":
        return MemorisationTagger()
    if task == "ner" and name == "crf":
        return make_crf(*CRF_DEFAULT)
    raise ValueError(f"The 'name' parameter must be one of {list(BASELINES.get(task, ()))} for task {task!r}. Got {name!r} instead.")


#: The (c1, c2) pairs (L1 and L2 penalties) the ``crf`` baseline is tuned over on the validation
#: split, in this order; the first best validation entity F1 wins a tie.
CRF_GRID: tuple[tuple[float, float], ...] = ((0.05, 0.01), (0.1, 0.01), (0.2, 0.01), (0.1, 0.05))
#: The (c1, c2) used without a validation split.
CRF_DEFAULT = (0.1, 0.01)
#: crfsuite's L-BFGS stopping rule: stop when the objective improved by less than ``delta`` (0.1 %,
#: relative) over the last ``period`` (10) iterations, or when the gradient norm is below ``epsilon``
#: times the weights' norm. No iteration cap (crfsuite's limit is INT_MAX). A delta of 1e-4 ran 2.4x
#: the iterations (607 against 254 on the CoNLL-sized synthetic data of benchmarks/crf.py) for no gain
#: in test F1 (0.9696 against 0.9700) and would not fit a 4-point grid in 5 minutes; crfsuite's
#: default, 1e-5, runs longer still.
CRF_STOPPING = {"epsilon": 1e-5, "period": 10, "delta": 1e-3}


def make_crf(c1: float, c2: float, *, features: int = 2):
    """An unfitted ``crf`` baseline: :class:`TokenFeaturizer` then an L-BFGS CRF trained until
    :data:`CRF_STOPPING` holds (``features=1`` with ``max_iterations=100``, c1 = c2 = 0.05 is the
    first CRF, kept for ``benchmarks/crf.py``)."""
    import sklearn_crfsuite
    from sklearn.pipeline import Pipeline

    if features == 1:
        crf = sklearn_crfsuite.CRF(algorithm="lbfgs", c1=c1, c2=c2, max_iterations=100, all_possible_transitions=True)
    else:
        crf = sklearn_crfsuite.CRF(algorithm="lbfgs", c1=c1, c2=c2, all_possible_transitions=True, **CRF_STOPPING)
    return Pipeline([("features", TokenFeaturizer(version=features)), ("crf", crf)])


def crf_training(model: Any) -> dict[str, Any]:
    """How a fitted ``crf`` pipeline stopped: ``{"iterations": n, "stopped": "converged" | "iteration cap"}``."""
    log = model.named_steps["crf"].training_log_
    text = "".join(log.log)
    stopped = "iteration cap" if "maximum number of iterations" in text else "converged"
    return {"iterations": len(log.iterations), "stopped": stopped}


def _fit_scored(job: tuple) -> tuple[Any, float, dict[str, Any]]:
    """One grid point: fit on train, entity micro F1 on validation (a worker of :func:`tune_crf`)."""
    from ..scoring import ner_report_from_tags

    c1, c2, train, validation, labels = job
    model = make_crf(c1, c2).fit(*train)
    predicted = [list(tags) for tags in model.predict(validation[0])]
    f1 = ner_report_from_tags(validation[1], predicted, labels=labels)["micro"]["f1"] or 0.0
    return model, f1, crf_training(model)


#: Below this many training tokens the grid is fitted in this process (workers cost more than they save).
PARALLEL_MIN_TOKENS = 20_000


def tune_crf(train: tuple[Sequence, Sequence], validation: tuple[Sequence, Sequence] | None,
             grid: Sequence[tuple[float, float]] = CRF_GRID, *, workers: int | None = None) -> tuple[Any, dict[str, Any]]:
    """Fit the ``crf`` baseline on ``train`` (tokens, tags) for each (c1, c2) of ``grid`` and keep the
    one with the best entity micro F1 (conlleval rules) on ``validation``; without a validation split,
    fit :data:`CRF_DEFAULT` only. Returns the fitted model and a JSON-ready account of the search.

    The grid points are independent and each fit is deterministic, so they run in up to ``workers``
    processes (default: one per CPU, at most one per grid point; one process for small data) and
    the result does not depend on how many.
    """
    import os

    if validation is None or not len(validation[0]):
        model = make_crf(*CRF_DEFAULT).fit(*train)
        return model, {"validation": None, "c1": CRF_DEFAULT[0], "c2": CRF_DEFAULT[1], **crf_training(model)}
    labels = sorted({t for tags in list(train[1]) + list(validation[1]) for t in tags} | {"O"})
    train = (list(map(list, train[0])), list(map(list, train[1])))
    validation = (list(map(list, validation[0])), list(map(list, validation[1])))
    jobs = [(c1, c2, train, validation, labels) for c1, c2 in grid]
    if workers is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        workers = 1 if sum(map(len, train[0])) < PARALLEL_MIN_TOKENS else min(cpus, len(jobs))
    if workers > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            fitted = list(pool.map(_fit_scored, jobs))
    else:
        fitted = [_fit_scored(job) for job in jobs]
    tried = [{"c1": c1, "c2": c2, "validation_f1": round(f1, 10), **info} for (c1, c2), (_, f1, info) in zip(grid, fitted)]
    best = max(range(len(fitted)), key=lambda k: (fitted[k][1], -k))  # the first of equal scores
    return fitted[best][0], {"validation": "entity micro F1", **tried[best], "grid": tried}


# Types a saved baseline may contain beyond scikit-learn/numpy (skops trusts those itself).
TRUSTED_TYPES = (
    "dataset_builder.baselines._joined",
    "dataset_builder.baselines.pairs.PairFeatures",
    "dataset_builder.baselines.pairs.PerTargetSVM",
    "dataset_builder.baselines.pairs._text_of",
    "dataset_builder.baselines.pairs._lead",
    "numpy.dtype",
    "dataset_builder.baselines.MemorisationTagger",
    "dataset_builder.baselines.TokenDummyTagger",
    "dataset_builder.baselines.TokenFeaturizer",
    "sklearn_crfsuite.estimator.CRF",
    "sklearn_crfsuite._fileresource.FileResource",
    "pycrfsuite._logparser.TrainLogParser",
    "collections.Counter",
)


def save_model(model: Any, path: str | Path) -> None:
    """Save ``model`` with skops (no pickle)."""
    import skops.io as sio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sio.dump(model, path)


def load_model(path: str | Path) -> Any:
    """Load a baseline saved by :func:`save_model`, trusting only :data:`TRUSTED_TYPES`.

    Raises
    ------
    InputError
        The file is missing or holds a type outside the trusted list.
    """
    import skops.io as sio

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such model file; run `dataset-builder benchmark` first.")
    untrusted = sio.get_untrusted_types(file=path)
    unknown = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unknown:
        raise InputError(f"{path}: holds types not trusted by dataset_builder: {unknown}; inspect the file before loading it.")
    return sio.load(path, trusted=list(untrusted))


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class _TaskData:
    ids: list[str]
    X: list[Any]
    y: list[Any]


def _stance_data(dataset) -> _TaskData:
    """``(target, text, given)`` rows: a span target marked in the text (:func:`mark_target`), a given one beside it."""
    names = dataset.features["label"].names
    rows = dataset.to_dict()
    if "target_start" in rows:
        X = [(g, mark_target(t, s, e), False)
             for g, t, s, e in zip(rows["target"], rows["text"], rows["target_start"], rows["target_end"])]
    else:
        X = [(g, t, True) for g, t in zip(rows["target"], rows["text"])]
    y = [names[i] for i in rows["label"]]
    return _TaskData(ids=list(rows["id"]), X=X, y=y)


def _ner_data(dataset) -> _TaskData:
    feature = dataset.features["ner_tags"]
    names = getattr(feature, "feature", feature).names
    rows = dataset.to_dict()
    y = [[names[i] for i in tags] for tags in rows["ner_tags"]]
    return _TaskData(ids=list(rows["id"]), X=[list(t) for t in rows["tokens"]], y=y)


# --------------------------------------------------------------------------- benchmark


def run_benchmark(
    dataset_dir: str | Path,
    output_dir: str | Path,
    *,
    configs: Sequence[str] | None = None,
    train_split: str = "train",
    eval_split: str = "test",
    tune_split: str | None = "validation",
    seed: int = DEFAULT_SEED, resamples: int = DEFAULT_RESAMPLES,
    baselines: Mapping[str, Sequence[str]] | None = None,
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
    max_features: int | None = DEFAULT_MAX_FEATURES,
) -> dict[str, Any]:
    """Train every baseline, write models and predictions, score them, write the leaderboard.

    Parameters
    ----------
    dataset_dir : the built dataset folder.
    output_dir : where ``models/``, ``predictions/``, ``results.json``, ``leaderboard.md`` go.
    configs : dataset configs to run (``"ner"``, ``"stance"``); default: those of
        :data:`BASELINES` that have a folder in ``dataset_dir``.
    train_split, eval_split : the split to train on and the split to score on.
    tune_split : the split the ``crf`` baseline's c1/c2 are chosen on (:func:`tune_crf`), when the
        config has it and it is neither of the other two; ``None``: no tuning.
    seed, resamples : seed of the models and of the bootstrap; bootstrap resamples.
    baselines : per config, the baselines to run (default :data:`BASELINES`); ``max_features`` caps their n-grams.
    progress : optional wrapper over the work list (a tqdm), called once.

    Returns
    -------
    dict
        The results (also written to ``results.json``).
    """
    dataset_dir, output_dir = Path(dataset_dir), Path(output_dir)
    fingerprint = dataset_fingerprint(dataset_dir)
    chosen = dict(BASELINES if baselines is None else baselines)
    if configs is None:
        configs = [c for c in chosen if (dataset_dir / c).is_dir()]
        if not configs:
            raise InputError(f"{dataset_dir}: no config folder among {sorted(chosen)}; build the dataset first.")
    work = []
    for config in configs:
        if config not in chosen:
            raise InputError(f"no baselines for config {config!r}; expected one of {sorted(chosen)}.")
        for name in chosen[config]:
            work.append((config, name))
    entries = []
    loaded: dict[str, tuple[str, _TaskData, _TaskData]] = {}
    for config, name in progress(work) if progress else work:
        if config not in loaded:
            from ..scoring import task_of

            train = load_split(dataset_dir, config, train_split)
            test = load_split(dataset_dir, config, eval_split)
            task = task_of(train)
            for split, part in ((train_split, train), (eval_split, test)):
                if len(part) == 0:
                    raise InputError(
                        f"{dataset_dir}: config {config!r} split {split!r} has no rows; annotate more articles or pick "
                        "other splits (--train-split/--eval-split)."
                    )
            prep = _ner_data if task == "ner" else _stance_data
            tune = _tuning_split(dataset_dir, config, tune_split, (train_split, eval_split)) if task == "ner" else None
            loaded[config] = (task, prep(train), prep(test), prep(tune) if tune is not None else None)
        task, train_data, test_data, tune_data = loaded[config]
        if task == "stance" and name != "majority" and len(set(train_data.y)) < 2:
            raise InputError(
                f"{dataset_dir}: config {config!r} split {train_split!r} has one class only ({train_data.y[0]!r}); "
                f"{name} needs at least two. Annotate more varied examples or run --config ner only."
            )
        tuning = None
        if task == "ner" and name == "crf":
            model, tuning = tune_crf((train_data.X, train_data.y), (tune_data.X, tune_data.y) if tune_data else None)
            tuning = {"split": tune_split if tune_data else None, **tuning}
        else:
            model = make_model(task, name, seed=seed, max_features=max_features)
            model.fit(train_data.X, train_data.y)
        predicted = model.predict(test_data.X)
        stem = f"{config}.{name}"
        pred_path = output_dir / "predictions" / f"{stem}.jsonl"
        if task == "ner":
            rows = ({"id": i, "tags": [str(t) for t in tags]} for i, tags in zip(test_data.ids, predicted))
        else:
            rows = ({"id": i, "label": str(label)} for i, label in zip(test_data.ids, predicted))
        write_jsonl(pred_path, rows)
        model_path = output_dir / "models" / f"{stem}.skops"
        save_model(model, model_path)
        report = score_predictions(dataset_dir, pred_path, config=config, split=eval_split, resamples=resamples, seed=seed)
        primary = report["primary_metric"]
        ci = report["ci"].get("micro", {}).get("f1") if task == "ner" else report["ci"].get(primary)
        entries.append({
            "config": config,
            "task": task,
            "baseline": name,
            "description": DESCRIPTIONS.get((task, name), name),
            "primary_metric": primary,
            "score": report["primary_value"],
            "ci": ci or [],
            **({"ci_note": report["bootstrap"]["ci_note"]} if "ci_note" in report["bootstrap"] else {}),
            "predictions": pred_path.relative_to(output_dir).as_posix(),
            "model": model_path.relative_to(output_dir).as_posix(),
            "report": {k: v for k, v in report.items() if k not in ("dataset_fingerprint", "dataset_version", "scorer_version")},
            **({"tuning": tuning} if tuning is not None else {}),
        })
    results = {
        "scorer_version": SCORER_VERSION,
        "dataset_version": dataset_version(dataset_dir),
        "dataset_fingerprint": fingerprint,
        "train_split": train_split,
        "eval_split": eval_split,
        "seed": seed,
        "resamples": resamples,
        "confidence": CONFIDENCE,
        "warnings": _small_split_warnings(entries, eval_split),
        "baselines": entries,
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "results.json").write_text(results_to_json(results), encoding="utf-8")
    (output_dir / "leaderboard.md").write_text(leaderboard_markdown(results), encoding="utf-8")
    return results


def chosen_baselines(names: str | Sequence[str] | None) -> dict[str, tuple[str, ...]] | None:
    """``"majority,pair_relation"`` -> the baselines of each config (:data:`BASELINES` order); None: all.

    Raises
    ------
    InputError
        A name that is no baseline of any config.
    """
    if names is None:
        return None
    wanted = [n.strip() for n in (names.split(",") if isinstance(names, str) else names) if n.strip()]
    known = {n for ns in BASELINES.values() for n in ns}
    unknown = [n for n in wanted if n not in known]
    if unknown or not wanted:
        raise InputError(f"--baselines: unknown baseline(s) {', '.join(unknown) or '(none given)'}; choose among "
                         f"{', '.join(sorted(known))}.")
    return {config: tuple(n for n in ns if n in wanted) for config, ns in BASELINES.items()}


def _tuning_split(dataset_dir: Path, config: str, split: str | None, others: Sequence[str]):
    """The tuning split of ``config`` when it exists, has rows and is not one of ``others``; else None."""
    if split is None or split in others:
        return None
    if not (dataset_dir / config / f"{split}.parquet").is_file():
        try:
            part = load_split(dataset_dir, config, split)
        except InputError:
            return None
    else:
        part = load_split(dataset_dir, config, split)
    return part if len(part) else None


def _small_split_warnings(entries: Sequence[Mapping[str, Any]], eval_split: str) -> list[str]:
    """One warning per config whose evaluation split has too few articles to rank baselines."""
    warnings = []
    for config in dict.fromkeys(e["config"] for e in entries):
        report = next(e["report"] for e in entries if e["config"] == config)
        why = too_few_articles(report["n_articles"], "ranking baselines")
        if why:
            warnings.append(
                f"{config}/{eval_split} ({report['n_examples']} rows) is too small to rank baselines: {why}; "
                "the order below is no evidence that one baseline is better."
            )
    return warnings


def results_summary(results: Mapping[str, Any]) -> str:
    """One line per baseline: ``config/baseline: metric = score [CI]`` (``n/a`` when undefined)."""
    lines = []
    for e in results["baselines"]:
        ci = f" [{e['ci'][0]:.4f}, {e['ci'][1]:.4f}]" if e["ci"] else ""
        lines.append(f"{e['config']}/{e['baseline']}: {e['primary_metric']} = {format_metric(e['score'])}{ci}")
    return "\n".join(lines)


def rank(scores: Sequence[float | None]) -> list[int | None]:
    """Competition ranks of ``scores`` (higher is better): equal scores share a rank (1, 1, 3); None
    (an undefined score) gets no rank."""
    defined = [x for x in scores if x is not None]
    return [None if x is None else 1 + sum(1 for y in defined if y > x) for x in scores]


def results_to_json(results: Mapping[str, Any]) -> str:
    return json.dumps(results, ensure_ascii=False, indent=2) + "\n"


_METRIC_TITLES = {"micro_f1": "micro F1", "f_avg": "F_avg", "fnc1": "FNC-1 score", "macro_f1": "macro-F1"}


def leaderboard_markdown(results: Mapping[str, Any]) -> str:
    """The leaderboard: one table per config, baselines ranked by their primary metric (ties share a
    rank, undefined scores last and unranked), after the warnings of :func:`run_benchmark`."""
    lines = [
        "# Baseline leaderboard",
        "",
        f"Dataset version {results['dataset_version']}, fingerprint `{results['dataset_fingerprint'][:16]}`; "
        f"scorer {results['scorer_version']}; seed {results['seed']}; "
        f"{int(results['confidence'] * 100)}% CI from {results['resamples']} article bootstrap resamples. "
        f"Trained on `{results['train_split']}`, scored on `{results['eval_split']}`. Equal scores share a rank.",
    ]
    for warning in results.get("warnings", ()):
        lines += ["", f"> **Warning:** {warning}"]
    by_config: dict[str, list[Mapping[str, Any]]] = {}
    for entry in results["baselines"]:
        by_config.setdefault(entry["config"], []).append(entry)
    for config, entries in by_config.items():
        ranked = sorted(entries, key=lambda e: (e["score"] is None, -(e["score"] or 0.0), e["baseline"]))
        metric = _METRIC_TITLES.get(ranked[0]["primary_metric"], ranked[0]["primary_metric"])
        task = ranked[0]["task"]
        lines += ["", f"## {config} ({results['eval_split']})", ""]
        if task == "ner":
            lines += [f"| rank | baseline | {metric} | 95% CI | precision | recall | token accuracy | model |",
                      "|---:|---|---:|---|---:|---:|---:|---|"]
        else:
            lines += [f"| rank | baseline | {metric} | 95% CI | macro-F1 | accuracy | model |", "|---:|---|---:|---|---:|---:|---|"]
        for place, e in zip(rank([e["score"] for e in ranked]), ranked):
            m = e["report"]["metrics"]
            ci = f"[{e['ci'][0]:.4f}, {e['ci'][1]:.4f}]" if e["ci"] else "n/a"
            extra = (m["micro"]["precision"], m["micro"]["recall"], m.get("accuracy")) if task == "ner" else (m["macro_f1"], m["accuracy"])
            lines.append(
                f"| {place or '-'} | {e['baseline']} | {format_metric(e['score'])} | {ci} | "
                + " | ".join(format_metric(x) for x in extra) + f" | {e['description']} |"
            )
        notes = sorted({n for e in ranked for n in e["report"].get("notes", ()) if n.startswith(("f_avg", "macro_f1", "micro"))})
        cis = sorted({e["ci_note"] for e in ranked if e.get("ci_note")})
        lines += ([""] + [f"- {n}" for n in cis + notes]) if cis or notes else []
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- regression gate


def compare_results(current: Mapping[str, Any], previous: Mapping[str, Any], *, source: str = "previous results") -> list[str]:
    """Why ``current`` fails the gate against ``previous`` (empty list: it passes).

    Fails when the dataset fingerprint changed while the dataset version did not, when a
    baseline of ``previous`` is missing from ``current``, and when a baseline's primary score is
    below the lower end of its previous confidence interval (below the previous score when the
    previous run had no interval). A score above the interval passes.
    """
    for key in ("dataset_fingerprint", "dataset_version", "baselines"):
        if key not in previous:
            raise InputError(f"{source}: no {key!r}; pass a results.json written by `dataset-builder benchmark`.")
    failures = []
    if previous["dataset_fingerprint"] != current["dataset_fingerprint"] and previous["dataset_version"] == current["dataset_version"]:
        failures.append(
            f"dataset fingerprint changed ({previous['dataset_fingerprint'][:12]} -> {current['dataset_fingerprint'][:12]}) "
            f"but the dataset version is still {current['dataset_version']!r}; bump dataset_version.txt (or the README "
            "`version`) whenever the data changes."
        )
    now = {(e["config"], e["baseline"]): e for e in current["baselines"]}
    for old in previous["baselines"]:
        key = (old["config"], old["baseline"])
        label = f"{old['config']}/{old['baseline']}"
        new = now.get(key)
        if new is None:
            failures.append(f"baseline {label} is in {source} but was not run now; run it or refresh {source}.")
            continue
        if new["primary_metric"] != old["primary_metric"]:
            failures.append(f"baseline {label} is scored by {new['primary_metric']} now but by {old['primary_metric']} in {source}.")
            continue
        metric = new["primary_metric"]
        if old["score"] is None:
            continue  # undefined before: nothing to fall below
        if new["score"] is None:
            failures.append(f"baseline {label} {metric} is undefined (null) now but was {old['score']:.4f} in {source}.")
            continue
        if old.get("ci"):
            low, high = old["ci"]
            if new["score"] < low:
                failures.append(
                    f"baseline {label} {metric} dropped to {new['score']:.4f}, below the previous 95% CI "
                    f"[{low:.4f}, {high:.4f}] (previous score {old['score']:.4f})."
                )
        elif new["score"] < old["score"]:
            failures.append(f"baseline {label} {metric} dropped to {new['score']:.4f} from {old['score']:.4f} (no previous CI).")
    return failures


def read_results(path: str | Path) -> dict[str, Any]:
    """Read a ``results.json`` written by :func:`run_benchmark`."""
    return read_json_object(path, "pass the results.json of an earlier `dataset-builder benchmark` run.")
