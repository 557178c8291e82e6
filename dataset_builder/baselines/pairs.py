"""Stance baselines for pairs (a target and a text): relation features, and one SVM per target.

Input
    Rows ``(target, text, given)``: the target's text, the segment text (for a span target, with
    the target marked, :func:`~dataset_builder.baselines.mark_target`) and whether the target is
    given outside the text (a headline, a claim, a topic).
Output
    Unfitted scikit-learn estimators:

    * ``pair_relation`` (:func:`make_pair_relation`): the relation of target and text as the
      FNC-1 baseline computes it (TF-IDF cosine of the two, word overlap (Jaccard), the share of
      the target's words, bigrams and character 4-grams found in the text and in its first 255
      characters, refuting words in each, lengths), each also cut into quantile bins so that a
      linear model can use it non-linearly, plus hashed TF-IDF word 1-2-grams of the text and of
      the target; a logistic regression trained by SGD (``SGDClassifier``, log loss, alpha 1e-5:
      on 50,000 long pairs liblinear's SVM took 3x as long for the same score, benchmarks/stance_pairs.py).
    * ``per_target_svm`` (:class:`PerTargetSVM`): SemEval-2016 Task 6's organisers' baseline, one
      ``LinearSVC`` per distinct target on TF-IDF word 1-3-grams and character 2-5-grams of the
      text (counted once per distinct text for all targets); a target seen with one class predicts
      it, an unseen target the model of all targets (fitted on the distinct text/label rows, weighted).
Invariants
    Features are capped (``max_features``: the hashing width of every n-gram block; the per-target
    vocabularies' size) and the text of each distinct body is featurised once, however many
    targets it is paired with. Deterministic for a seed.
"""

from __future__ import annotations

import re
import warnings
from typing import Any, Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin

from .stance import unique_rows

DEFAULT_MAX_FEATURES = 2 ** 18
"""Width of each hashed n-gram block (and the cap of each per-target vocabulary)."""
PER_TARGET_CHARS = 1000
"""The per-target SVM's character n-grams read the first this many characters of the text."""

_WORD = re.compile(r"\w+", re.UNICODE)
REFUTING = ("fake", "fraud", "hoax", "false", "deny", "denies", "denied", "not", "despite", "nope", "doubt", "doubts",
            "bogus", "debunk", "debunked", "pranks", "retract", "retracted", "rumor", "rumour", "unconfirmed")
"""The refuting words of the FNC-1 baseline's features (and a few inflections)."""


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _content(words: Sequence[str]) -> set[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return {w for w in words if w not in ENGLISH_STOP_WORDS}


def _grams(s: str, n: int) -> set[str]:
    return {s[i:i + n] for i in range(max(len(s) - n + 1, 0))}


class _TextSide:
    """What the relation features need of one distinct text, computed once."""

    __slots__ = ("content", "lead", "bigrams", "chars", "refuting", "n_words")

    def __init__(self, text: str) -> None:
        words = _words(text)
        self.content = _content(words)
        self.lead = _content(_words(text[:255]))
        self.bigrams = set(zip(words, words[1:]))
        self.chars = _grams(" ".join(words), 4)
        self.refuting = [w in set(words) for w in REFUTING]
        self.n_words = len(words)


N_RELATION = 10 + 2 * len(REFUTING)


def _relation_row(target: str, side: _TextSide, tside: _TextSide, cosine: float) -> list[float]:
    t_content, t_words = tside.content, tside.n_words
    union = t_content | side.content
    inter = t_content & side.content
    share = len(inter) / len(t_content) if t_content else 0.0
    lead = len(t_content & side.lead) / len(t_content) if t_content else 0.0
    bi = len(tside.bigrams & side.bigrams) / len(tside.bigrams) if tside.bigrams else 0.0
    ch = len(tside.chars & side.chars) / len(tside.chars) if tside.chars else 0.0
    return [cosine, len(inter) / len(union) if union else 0.0, share, lead, bi, ch, float(len(inter)),
            np.log1p(side.n_words), np.log1p(t_words), float(sum(tside.refuting) % 2 != sum(side.refuting) % 2),
            *map(float, side.refuting), *map(float, tside.refuting)]


class PairFeatures(BaseEstimator, TransformerMixin):
    """``(target, text, given)`` rows -> sparse [relation features, their quantile bins, text and target n-grams]."""

    def __init__(self, max_features: int = DEFAULT_MAX_FEATURES, n_bins: int = 8) -> None:
        self.max_features = max_features
        self.n_bins = n_bins

    def _hasher(self):
        from sklearn.feature_extraction.text import HashingVectorizer

        return HashingVectorizer(ngram_range=(1, 2), n_features=self.max_features, alternate_sign=False, norm=None,
                                 lowercase=True)

    def _blocks(self, X: Sequence[Sequence[Any]]):
        """Relation features (dense) and the hashed counts of the distinct texts and targets, with row maps."""
        from sklearn.feature_extraction.text import HashingVectorizer

        targets, t_rows = unique_rows([x[0] for x in X])
        texts, b_rows = unique_rows([x[1] for x in X])
        words = HashingVectorizer(n_features=self.max_features, alternate_sign=False, norm=None)
        tw, bw = words.transform(targets), words.transform(texts)
        return targets, t_rows, texts, b_rows, tw, bw

    def _dense(self, targets, t_rows, texts, b_rows, tw, bw) -> np.ndarray:
        from sklearn.preprocessing import normalize

        tn = normalize(self.word_idf_.transform(tw))
        bn = normalize(self.word_idf_.transform(bw))
        cosine = np.asarray(tn[t_rows].multiply(bn[b_rows]).sum(axis=1)).ravel()
        sides = [_TextSide(t) for t in texts]
        tsides = [_TextSide(t) for t in targets]
        return np.array([_relation_row(targets[t], sides[b], tsides[t], c)
                         for t, b, c in zip(t_rows.tolist(), b_rows.tolist(), cosine.tolist())], dtype=np.float64)

    def fit(self, X: Sequence[Sequence[Any]], y: Any = None) -> "PairFeatures":
        self.fit_transform(X)
        return self

    def fit_transform(self, X: Sequence[Sequence[Any]], y: Any = None, **fit_params: Any):
        """Fit and transform with one featurisation of the distinct texts and targets (the same as fit, then transform)."""
        import scipy.sparse as sp
        from sklearn.feature_extraction.text import TfidfTransformer
        from sklearn.preprocessing import KBinsDiscretizer, StandardScaler

        blocks = self._blocks(X)
        targets, t_rows, texts, b_rows, tw, bw = blocks
        self.word_idf_ = TfidfTransformer(sublinear_tf=True).fit(sp.vstack([tw, bw]))
        dense = self._dense(*blocks)
        with warnings.catch_warnings():  # a feature with few distinct values gets fewer bins: expected
            warnings.simplefilter("ignore", UserWarning)
            self.bins_ = KBinsDiscretizer(n_bins=self.n_bins, encode="onehot", strategy="quantile",
                                          quantile_method="averaged_inverted_cdf").fit(dense[:, :9])
        self.scale_ = StandardScaler().fit(dense)
        hasher = self._hasher()
        text_counts, target_counts = hasher.transform(texts), hasher.transform(targets)
        self.text_idf_ = TfidfTransformer(sublinear_tf=True).fit(text_counts)
        self.target_idf_ = TfidfTransformer(sublinear_tf=True).fit(target_counts)
        return self._matrix(dense, self.text_idf_.transform(text_counts)[b_rows], self.target_idf_.transform(target_counts)[t_rows])

    def _matrix(self, dense: np.ndarray, text_ng, target_ng):
        import scipy.sparse as sp

        return sp.hstack([sp.csr_matrix(self.scale_.transform(dense)), self.bins_.transform(dense[:, :9]), text_ng,
                          target_ng], format="csr")

    def transform(self, X: Sequence[Sequence[Any]]):
        blocks = self._blocks(X)
        targets, t_rows, texts, b_rows, _, _ = blocks
        dense = self._dense(*blocks)
        hasher = self._hasher()
        return self._matrix(dense, self.text_idf_.transform(hasher.transform(texts))[b_rows],
                            self.target_idf_.transform(hasher.transform(targets))[t_rows])


def make_pair_relation(*, seed: int = 0, max_features: int = DEFAULT_MAX_FEATURES):
    """The ``pair_relation`` baseline (see the module docstring)."""
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import Pipeline

    return Pipeline([("features", PairFeatures(max_features=max_features)),
                     ("sgd", SGDClassifier(loss="log_loss", alpha=1e-5, random_state=seed))])


def _text_of(X: Sequence[Sequence[Any]]) -> list[str]:
    return [x[1] for x in X]


def _lead(text: str) -> str:
    return text[:PER_TARGET_CHARS].lower()


def _count_vectorizers():
    """Uncapped counts of word 1-3-grams of the text and char 2-5-grams of its lead (float, as TF-IDF counts them)."""
    from sklearn.feature_extraction.text import CountVectorizer

    return (CountVectorizer(analyzer="word", ngram_range=(1, 3), dtype=np.float64),
            CountVectorizer(analyzer="char", ngram_range=(2, 5), preprocessor=_lead, dtype=np.float64))


def _capped_columns(counts, limit: int) -> np.ndarray:
    """The columns a ``TfidfVectorizer(max_features=limit)`` fitted on these rows would keep, in its
    (alphabetical, here: column) order: those present, then the ``limit`` most frequent (scikit-learn's rule)."""
    present = np.flatnonzero(counts.getnnz(axis=0))
    if len(present) <= limit:
        return present
    tfs = np.asarray(counts[:, present].sum(axis=0)).ravel()
    return present[np.sort((-tfs).argsort()[:limit])]


def _fit_block(counts, limit: int) -> tuple[np.ndarray, Any]:
    from sklearn.feature_extraction.text import TfidfTransformer

    cols = _capped_columns(counts, limit)
    return cols, TfidfTransformer(sublinear_tf=True).fit(counts[:, cols])


def _features(blocks: Sequence[tuple[np.ndarray, Any]], counts: Sequence[Any]):
    import scipy.sparse as sp

    return sp.hstack([tfidf.transform(c[:, cols]) for (cols, tfidf), c in zip(blocks, counts)], format="csr")


MIN_TARGET_ROWS = 100
"""The fewest training rows for which :class:`PerTargetSVM` fits a target its own model."""


class PerTargetSVM(BaseEstimator, ClassifierMixin):
    """One ``LinearSVC`` on word 1-3 and char 2-5 n-grams per distinct target (SemEval-2016's baseline).

    Each target's model is what ``TfidfVectorizer`` (sublinear TF, capped at ``max_features`` per
    block) and ``LinearSVC`` fitted on that target's rows give, but the n-grams are counted once
    per distinct text for all targets (the counts of a body paired with 30 headlines are computed
    once) and each target's TF-IDF is taken from those counts. The fallback model (targets not
    seen in training) is fitted on the distinct (text, label) rows, each weighted by how often it
    occurs (the same hinge loss as fitting every row). :meth:`predict_proba` is the softmax of the
    SVM's margins (a confidence ranking, not calibrated): 1 for a target seen with one label only.

    Only a target with at least ``min_rows`` training rows gets its own model (SemEval-2016's targets
    have 395 to 689 tweets each); the others are predicted by the fallback model. A linear SVM per
    target on a few dozen rows over 10^5 n-gram features learns little, and one per distinct
    headline (FNC-1: about 1,650, some 24 rows each) took 3.7 GB and 139 s on 50,000 synthetic pairs
    (``benchmarks/stance_pairs.py``).
    """

    def __init__(self, seed: int = 0, max_features: int = DEFAULT_MAX_FEATURES, min_rows: int = MIN_TARGET_ROWS) -> None:
        self.seed = seed
        self.max_features = max_features
        self.min_rows = min_rows

    def _counts(self, X: Sequence[Sequence[Any]], *, fit: bool = False):
        distinct, rows = unique_rows(_text_of(X))
        if fit:
            self.counters_ = _count_vectorizers()
            return [v.fit_transform(distinct) for v in self.counters_], rows
        return [v.transform(distinct) for v in self.counters_], rows

    def _fit_one(self, counts: Sequence[Any], labels: Sequence[str], weight: np.ndarray | None = None) -> dict[str, Any]:
        from sklearn.svm import LinearSVC

        blocks = [_fit_block(c, self.max_features) for c in counts]
        # weighted rows (a body shared by many targets, its labels contradicting each other): liblinear's
        # dual coordinate descent crawls with such large box constraints; the primal Newton solver does not
        dual = "auto" if weight is None else False
        svm = LinearSVC(C=1.0, dual=dual, random_state=self.seed).fit(_features(blocks, counts), labels, sample_weight=weight)
        return {"blocks": blocks, "svm": svm}

    def fit(self, X: Sequence[Sequence[Any]], y: Sequence[str]) -> "PerTargetSVM":
        y = [str(v) for v in y]
        self.classes_ = np.array(sorted(set(y)))
        counts, rows = self._counts(X, fit=True)
        groups: dict[str, list[int]] = {}
        for i, x in enumerate(X):
            groups.setdefault(x[0], []).append(i)
        self.models_: dict[str, Any] = {}
        for target in sorted(groups):
            idx = groups[target]
            if len(idx) < self.min_rows:
                continue  # predicted by the fallback model
            labels = [y[i] for i in idx]
            if len(set(labels)) < 2:
                self.models_[target] = labels[0]
            else:
                self.models_[target] = self._fit_one([c[rows[idx]] for c in counts], labels)
        if len(self.classes_) < 2:
            self.fallback_: Any = str(y[0])
            return self
        pairs: dict[tuple[int, str], int] = {}
        for r, label in zip(rows.tolist(), y):
            pairs[(r, label)] = pairs.get((r, label), 0) + 1
        keep = np.array([r for r, _ in pairs], dtype=np.int64)
        weight = np.array(list(pairs.values()), dtype=np.float64)
        self.fallback_ = self._fit_one([c[keep] for c in counts], [label for _, label in pairs],
                                       None if (weight == 1).all() else weight)
        return self

    def _scores(self, X: Sequence[Sequence[Any]]):
        """Per group of rows with one model (a seen target; all unseen ones share the fallback):
        (row indices, the model or label, its features or None)."""
        counts, rows = self._counts(X)
        groups: dict[tuple[bool, str], list[int]] = {}
        for i, x in enumerate(X):
            groups.setdefault((True, x[0]) if x[0] in self.models_ else (False, ""), []).append(i)
        for (seen, target), idx in groups.items():
            model = self.models_[target] if seen else self.fallback_
            if isinstance(model, str):
                yield idx, model, None
            else:
                yield idx, model, _features(model["blocks"], [c[rows[idx]] for c in counts])

    def predict(self, X: Sequence[Sequence[Any]]) -> np.ndarray:
        out = np.empty(len(X), dtype=object)
        for idx, model, feats in self._scores(X):
            out[idx] = model if feats is None else model["svm"].predict(feats)
        return out

    def predict_proba(self, X: Sequence[Sequence[Any]]) -> np.ndarray:
        """Softmax of each target model's margins over :attr:`classes_` (0 for a class its model never saw)."""
        from scipy.special import softmax

        out = np.zeros((len(X), len(self.classes_)))
        for idx, model, feats in self._scores(X):
            if feats is None:
                out[idx, np.searchsorted(self.classes_, model)] = 1.0
                continue
            svm = model["svm"]
            margin = svm.decision_function(feats)
            if margin.ndim == 1:
                margin = np.column_stack([np.zeros_like(margin), margin])
            cols = np.searchsorted(self.classes_, svm.classes_)
            out[np.ix_(idx, cols)] = softmax(margin, axis=1)
        return out
