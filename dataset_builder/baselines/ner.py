"""NER baselines: token features, the majority and memorisation taggers, the CRF and its tuning.

Input
    Sentences as token lists (and, to fit, their IOB2 tag lists).
Output
    Unfitted estimators (:class:`TokenDummyTagger`, :class:`MemorisationTagger`, :func:`make_crf`)
    and the tuning of the CRF's penalties on a validation split (:func:`tune_crf`); the features are
    described in :mod:`dataset_builder.baselines`.
Invariants
    Deterministic: the same data and options give the same model, whatever the number of workers.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin


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


def _word_attributes(word: str, version: int = 3) -> tuple[list[str], dict[int, list[str]], str]:
    """Attributes of one token string, alone: its own, those it gives as a neighbour at each offset
    of the window (prefixed ``-2:`` ... ``+2:``), as crfsuite attribute names, and its short shape.

    Own: the word as written (``W=``, version 3) and lower-cased, shape and short shape, prefixes and
    suffixes of 2-4 characters (version 2: 1-4), casing flags (title, all upper, all lower, a capital
    inside), digit, punctuation and hyphen flags, length bucket. As a neighbour: lower-cased identity,
    short shape and the casing flags.
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
    if version >= 3:
        own.append("W=" + word)
    affixes = range(1, 5) if version == 2 else range(2, 5)
    own += [f"p{k}={low[:k]}" for k in affixes if len(low) >= k]
    own += [f"s{k}={low[-k:]}" for k in affixes if len(low) >= k]
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
    return own, {offset: [f"{offset:+d}:{a}" for a in near] for offset in _OFFSETS}, short


def sentence_features(tokens: Sequence[str], cache: dict[str, Any] | None = None, *, version: int = 3) -> list[list[str]]:
    """crfsuite attributes of every token of one sentence (the ``crf`` baseline's features).

    Per token: its own attributes (:func:`_word_attributes`), its neighbours' in a window of +-2
    (``-1:BOS`` / ``+1:EOS`` at the edges), the short-shape bigrams with the previous and the next
    token (version 2: the lower-cased word bigrams instead), and ``allcaps`` when every cased token
    of the sentence is upper case (a headline). ``cache`` maps token strings to their attributes
    across calls of one ``version`` (the lists are shared, never changed).
    """
    cache = {} if cache is None else cache
    attrs = []
    for t in tokens:
        a = cache.get(t)
        if a is None:
            a = cache[t] = _word_attributes(t, version)
        attrs.append(a)
    n = len(tokens)
    cased = [t for t in tokens if any(ch.isalpha() for ch in t)]
    headline = len(cased) > 1 and all(t.isupper() for t in cased)
    if version == 2:
        grams = ["BOS"] + [t.lower() for t in tokens] + ["EOS"]
        left, right = "-1|0=", "0|+1="
    else:
        grams = ["BOS"] + [a[2] for a in attrs] + ["EOS"]
        left, right = "-1|0:sshape=", "0|+1:sshape="
    out = []
    for i in range(n):
        feats = attrs[i][0] + [f"{left}{grams[i]}|{grams[i + 1]}", f"{right}{grams[i + 1]}|{grams[i + 2]}"]
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
    """Token lists -> per-token features for the CRF: :func:`sentence_features` (``version=3``, the
    default; ``version=2``, that of models saved before, still featurises as they were trained) or
    the first CRF's :func:`token_features` (``version=1``)."""

    def __init__(self, version: int = 3):
        self.version = version

    def fit(self, X: Sequence[Sequence[str]], y: Any = None) -> "TokenFeaturizer":
        return self

    def transform(self, X: Sequence[Sequence[str]]) -> list[list[Any]]:
        if self.version == 1:
            return [[token_features(tokens, i) for i in range(len(tokens))] for tokens in X]
        cache: dict[str, Any] = {}
        return [sentence_features(tokens, cache, version=self.version) for tokens in X]


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


#: The (c1, c2) pairs (L1 and L2 penalties) the ``crf`` baseline is tuned over on the validation
#: split, in this order; the first best validation entity F1 wins a tie.
CRF_GRID: tuple[tuple[float, float], ...] = ((0.05, 0.01), (0.1, 0.01), (0.2, 0.01), (0.1, 0.05))
#: The (c1, c2) used without a validation split.
CRF_DEFAULT = (0.1, 0.01)
#: crfsuite's L-BFGS stopping rule for the model kept: stop when the objective improved by less than
#: ``delta`` (0.1 %, relative) over the last ``period`` (10) iterations, or when the gradient norm is
#: below ``epsilon`` times the weights' norm. No iteration cap (crfsuite's limit is INT_MAX). A delta
#: of 1e-4 ran 2.4x the iterations (607 against 254, version-2 features on the first synthetic data
#: of benchmarks/crf.py) for no gain in test F1 (0.9696 against 0.9700); crfsuite's default, 1e-5,
#: runs longer still.
CRF_STOPPING = {"epsilon": 1e-5, "period": 10, "delta": 1e-3}
#: The grid search's looser rule (1 % over 10 iterations): a third of the iterations of
#: :data:`CRF_STOPPING` (86 against 250 on the CoNLL-sized data of benchmarks/crf.py, version-2
#: features) for a validation F1 as good (95.84 against 95.38); the model kept is refitted with the
#: strict rule.
CRF_SEARCH_STOPPING = {"epsilon": 1e-5, "period": 10, "delta": 1e-2}
#: The grid is searched on every ``CRF_SEARCH_EVERY``-th training sentence when the training split has
#: at least :data:`CRF_SEARCH_MIN_SENTENCES` (else on all of it), with both penalties multiplied by the
#: share searched, so that the penalty per training sentence is the one of the final fit on all of it
#: (crfsuite's objective sums the sentences' losses). A CoNLL-2003-sized search then fits in the
#: 5 minutes the whole ``crf`` baseline is allowed (benchmarks/crf.py).
CRF_SEARCH_EVERY = 3
CRF_SEARCH_MIN_SENTENCES = 3000


def make_crf(c1: float, c2: float, *, features: int = 3, stopping: dict[str, float] | None = None):
    """An unfitted ``crf`` baseline: :class:`TokenFeaturizer` then an L-BFGS CRF trained until
    ``stopping`` (default :data:`CRF_STOPPING`) holds (``features=1`` with ``max_iterations=100``,
    c1 = c2 = 0.05 is the first CRF, kept for ``benchmarks/crf.py``)."""
    import sklearn_crfsuite
    from sklearn.pipeline import Pipeline

    if features == 1:
        crf = sklearn_crfsuite.CRF(algorithm="lbfgs", c1=c1, c2=c2, max_iterations=100, all_possible_transitions=True)
    else:
        crf = sklearn_crfsuite.CRF(algorithm="lbfgs", c1=c1, c2=c2, all_possible_transitions=True,
                                   **(CRF_STOPPING if stopping is None else stopping))
    return Pipeline([("features", TokenFeaturizer(version=features)), ("crf", crf)])


def crf_training(model: Any) -> dict[str, Any]:
    """How a fitted ``crf`` pipeline stopped: ``{"iterations": n, "stopped": "converged" | "iteration cap"}``."""
    log = model.named_steps["crf"].training_log_
    text = "".join(log.log)
    stopped = "iteration cap" if "maximum number of iterations" in text else "converged"
    return {"iterations": len(log.iterations), "stopped": stopped}


def _fit_scored(job: tuple) -> tuple[float, dict[str, Any]]:
    """One grid point: fit on the searched sentences with :data:`CRF_SEARCH_STOPPING`, entity micro F1
    on validation (a worker of :func:`tune_crf`)."""
    from ..scoring import ner_report_from_tags

    c1, c2, train, validation, labels = job
    model = make_crf(c1, c2, stopping=CRF_SEARCH_STOPPING).fit(*train)
    predicted = [list(tags) for tags in model.predict(validation[0])]
    f1 = ner_report_from_tags(validation[1], predicted, labels=labels)["micro"]["f1"] or 0.0
    return f1, crf_training(model)


#: Below this many training tokens the grid is fitted in this process (workers cost more than they save).
PARALLEL_MIN_TOKENS = 20_000


def tune_crf(train: tuple[Sequence, Sequence], validation: tuple[Sequence, Sequence] | None,
             grid: Sequence[tuple[float, float]] = CRF_GRID, *, workers: int | None = None) -> tuple[Any, dict[str, Any]]:
    """Choose the ``crf`` baseline's (c1, c2) from ``grid`` by entity micro F1 (conlleval rules) on
    ``validation``, then fit it on all of ``train`` (tokens, tags) until :data:`CRF_STOPPING` holds;
    without a validation split, fit :data:`CRF_DEFAULT` only. Returns the fitted model and a JSON-ready
    account of the search.

    The search fits each grid point on a share of ``train`` (see :data:`CRF_SEARCH_EVERY`, penalties
    scaled by the share) with :data:`CRF_SEARCH_STOPPING`; its grid entries give the (c1, c2) of the
    final fit and the search fit's validation F1 and iterations. The grid points are independent and
    each fit is deterministic, so they run in up to ``workers`` processes (default: one per CPU, at
    most one per grid point; one process for small data) and the result does not depend on how many.
    """
    import os

    if validation is None or not len(validation[0]):
        model = make_crf(*CRF_DEFAULT).fit(*train)
        return model, {"validation": None, "c1": CRF_DEFAULT[0], "c2": CRF_DEFAULT[1], **crf_training(model)}
    labels = sorted({t for tags in list(train[1]) + list(validation[1]) for t in tags} | {"O"})
    train = (list(map(list, train[0])), list(map(list, train[1])))
    validation = (list(map(list, validation[0])), list(map(list, validation[1])))
    every = CRF_SEARCH_EVERY if len(train[0]) >= CRF_SEARCH_MIN_SENTENCES else 1
    searched = (train[0][::every], train[1][::every])
    share = len(searched[0]) / len(train[0])
    jobs = [(c1 * share, c2 * share, searched, validation, labels) for c1, c2 in grid]
    if workers is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        workers = 1 if sum(map(len, searched[0])) < PARALLEL_MIN_TOKENS else min(cpus, len(jobs))
    if workers > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            scored = list(pool.map(_fit_scored, jobs))
    else:
        scored = [_fit_scored(job) for job in jobs]
    tried = [{"c1": c1, "c2": c2, "validation_f1": round(f1, 10), **info} for (c1, c2), (f1, info) in zip(grid, scored)]
    best = max(range(len(scored)), key=lambda k: (scored[k][0], -k))  # the first of equal scores
    model = make_crf(*grid[best]).fit(*train)
    search = {"sentences": len(searched[0]), "of": len(train[0]), "delta": CRF_SEARCH_STOPPING["delta"]}
    return model, {"validation": "entity micro F1", **tried[best], **crf_training(model), "grid": tried, "search": search}
