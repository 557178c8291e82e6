"""Stance baselines for pairs (a target and a text): relation features, and one SVM per target.

Input
    Rows ``(target, text, given)``: the target's text, the segment text (for a span target, with
    the target marked, :func:`~dataset_builder.baselines.mark_target`) and whether the target is
    given outside the text (a headline, a claim, a topic).
Output
    Unfitted scikit-learn estimators:

    * ``pair_relation`` (:func:`make_pair_relation`): the FNC-1 baseline's design, its features
      (:class:`PairFeatures`: word overlap, the target's word and character n-grams found in the
      text and in its lead, refuting words, polarity) with the TF-IDF cosine of target and text,
      lengths and the out-of-fold label probabilities of a word model of the target, fed to
      gradient-boosted trees (``HistGradientBoostingClassifier``, 200 rounds, as the baseline's
      ``GradientBoostingClassifier(n_estimators=200)``; the histogram version trains in seconds).
    * ``per_target_svm`` (:class:`PerTargetSVM`): SemEval-2016 Task 6's organisers' baseline, one
      ``LinearSVC`` per distinct target on TF-IDF word 1-3-grams and character 2-5-grams of the
      text (counted once per distinct text for all targets); a target seen with one class predicts
      it, an unseen target the model of all targets (fitted on the distinct text/label rows, weighted).
Invariants
    Features are capped (``max_features``: the hashing width of every n-gram block; the per-target
    vocabularies' size) and the text of each distinct body is featurised once, however many
    targets it is paired with; the per-target SVM reads the first :data:`PER_TARGET_CHARS`
    characters of a text (a tweet whole, a news body's lead). Deterministic for a seed.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple, Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin

from ..errors import InputError
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


def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return ENGLISH_STOP_WORDS


def _grams(s: str, n: int) -> set[str]:
    return {s[i:i + n] for i in range(max(len(s) - n + 1, 0))}


def _word_grams(words: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return set(zip(*(words[i:] for i in range(n))))


CHAR_SIZES = (2, 4, 8, 16)
"""Character n-gram sizes of the target matched in the text (the FNC-1 baseline's)."""
WORD_SIZES = (1, 2, 3, 4, 5, 6)
"""Word n-gram sizes of the target matched in the text (the FNC-1 baseline's, with single words)."""
TARGET_CACHE = 4096
"""How many targets' n-gram sets :class:`PairFeatures` keeps while it goes through the texts."""
REACHES = (None, 255, 100)
"""How much of the text each match looks at: all of it, its first 255 and its first 100 characters."""


class _Reach:
    """The n-gram sets of one text (or of its first characters), computed once for all its targets."""

    __slots__ = ("words", "content", "chars", "wgrams")

    def __init__(self, clean: str, stop: frozenset[str]) -> None:
        words = clean.split()
        self.words = set(words)
        self.content = self.words - stop
        self.chars = [_grams(clean, n) for n in CHAR_SIZES]
        self.wgrams = [_word_grams(words, n) for n in WORD_SIZES]


class _Target:
    """What the features need of a target: its words, content words, n-grams and refuting words."""

    __slots__ = ("content", "chars", "wgrams", "refuting", "n_words")

    def __init__(self, text: str, stop: frozenset[str]) -> None:
        words = _words(text)
        content = [w for w in words if w not in stop]
        self.content = set(content)
        self.chars = [_grams(" ".join(content), n) for n in CHAR_SIZES]  # the baseline drops stop words here
        self.wgrams = [_word_grams(words, n) for n in WORD_SIZES]
        self.refuting = _refuting(words)
        self.n_words = len(words)


def _refuting(words: Sequence[str]) -> list[float]:
    """A flag per refuting word, then the parity of their count (the FNC-1 baseline's polarity)."""
    present = set(words)
    count = sum(1 for w in words if w in _REFUTING_SET)
    return [float(w in present) for w in REFUTING] + [float(count % 2)]


_REFUTING_SET = frozenset(REFUTING)


def _distinct_labelled(keys: Sequence[int], labels: Sequence[str]) -> tuple[np.ndarray, list[str], np.ndarray]:
    """The distinct (key, label) pairs of rows, in order of first appearance: their keys, their
    labels and how many rows each stands for (a weighted fit on them is the fit on every row)."""
    pairs: dict[tuple[int, str], int] = {}
    for key, label in zip(keys, labels):
        pairs[(key, label)] = pairs.get((key, label), 0) + 1
    return (np.array([k for k, _ in pairs], dtype=np.int64), [label for _, label in pairs],
            np.array(list(pairs.values()), dtype=np.float64))


def _share(hits: int, total: int) -> float:
    return hits / total if total else 0.0


def _relation_row(t: _Target, reaches: Sequence[_Reach], refuting: list[float], n_words: int, cosine: float) -> list[float]:
    whole = reaches[0]
    union = t.content | whole.content
    row = [cosine, _share(len(t.content & whole.content), len(union)), np.log1p(t.n_words), np.log1p(n_words)]
    for r in reaches:
        hits = len(t.content & r.content)
        row += [float(hits), _share(hits, len(t.content))]
        for mine, theirs in zip(t.chars + t.wgrams, r.chars + r.wgrams):
            hits = len(mine & theirs)
            row += [float(hits), _share(hits, len(mine))]
    return row + t.refuting + refuting


N_RELATION = 4 + len(REACHES) * 2 * (1 + len(CHAR_SIZES) + len(WORD_SIZES)) + 2 * (len(REFUTING) + 1)


class _PairCounts(NamedTuple):
    """The distinct targets and texts of some rows, each row's index among them, and their hashed counts."""

    targets: list[str]
    t_rows: np.ndarray
    texts: list[str]
    b_rows: np.ndarray
    target_words: Any  #: word counts (the cosine's)
    text_words: Any
    target_grams: Any  #: word 1-2-gram counts (the target word model's)


CUE_FOLDS = 5
"""Folds (grouped by target) of the out-of-fold word model whose probabilities :class:`PairFeatures` adds."""


class PairFeatures(BaseEstimator, TransformerMixin):
    """``(target, text, given)`` rows and their labels -> a dense matrix of relation features per row.

    The features of the FNC-1 baseline (``fnc-1-baseline``'s word overlap, refuting words, polarity
    and "hand" features), measured on the lower-cased words (``\\w+``) of target and text: for
    the target's content words, its character 2/4/8/16-grams (of its content words) and its word
    1-6-grams, how many occur in the text, in its first 255 and in its first 100 characters (a count
    and a share of the target's); the Jaccard overlap of content words; a flag per refuting word in
    each and the parity of their count. Besides the baseline's: the TF-IDF cosine of the two (word
    counts hashed into ``max_features`` columns, sublinear TF, IDF of the training targets and
    texts), their lengths in words, and what the target's words say of the label (a headline's
    "reportedly", "confirms"): the class probabilities of a logistic regression on hashed
    TF-IDF word 1-2-grams of the target, out of fold for the training rows (:data:`CUE_FOLDS` folds
    grouped by target: a row's probabilities come from a model that never saw its target, as a
    new headline is at prediction; what is learnt is the words shared across targets, a cue word,
    not a headline's own label mix) and from the model of all training rows for new ones. The
    n-gram sets of a text are built once for all its targets.
    """

    def __init__(self, max_features: int = DEFAULT_MAX_FEATURES, seed: int = 0) -> None:
        self.max_features = max_features
        self.seed = seed

    def _counts(self, X: Sequence[Sequence[Any]]) -> _PairCounts:
        from sklearn.feature_extraction.text import HashingVectorizer

        targets, t_rows = unique_rows([x[0] for x in X])
        texts, b_rows = unique_rows([x[1] for x in X])
        words = HashingVectorizer(n_features=self.max_features, alternate_sign=False, norm=None)
        grams = HashingVectorizer(ngram_range=(1, 2), n_features=self.max_features, alternate_sign=False, norm=None)
        return _PairCounts(targets, t_rows, texts, b_rows, words.transform(targets), words.transform(texts),
                           grams.transform(targets))

    def _dense(self, c: _PairCounts) -> np.ndarray:
        from sklearn.preprocessing import normalize

        targets, t_rows, texts, b_rows = c.targets, c.t_rows, c.texts, c.b_rows
        tn = normalize(self.word_idf_.transform(c.target_words))
        bn = normalize(self.word_idf_.transform(c.text_words))
        cosine = np.asarray(tn[t_rows].multiply(bn[b_rows]).sum(axis=1)).ravel()
        stop = _stop_words()
        out = np.empty((len(t_rows), N_RELATION), dtype=np.float64)
        by_text: dict[int, list[int]] = {}
        for i, b in enumerate(b_rows.tolist()):
            by_text.setdefault(b, []).append(i)
        sides: dict[int, _Target] = {}  # targets recur across texts (FNC-1: 1,650 headlines, 49,972 pairs)
        for b, idx in by_text.items():  # one text's n-gram sets at a time
            words = _words(texts[b])
            clean = " ".join(words)
            reaches = [_Reach(clean if cut is None else clean[:cut], stop) for cut in REACHES]
            refuting = _refuting(words)
            for i in idx:
                t = int(t_rows[i])
                if t not in sides:
                    if len(sides) >= TARGET_CACHE:
                        sides.clear()
                    sides[t] = _Target(targets[t], stop)
                out[i] = _relation_row(sides[t], reaches, refuting, len(words), cosine[i])
        return out

    def _proba(self, model: Any, targets: Any, t_rows: np.ndarray) -> np.ndarray:
        """``model``'s class probabilities over :attr:`classes_` for each row's target (0 for a class it never saw)."""
        out = np.zeros((targets.shape[0], len(self.classes_)))
        cols = np.searchsorted(self.classes_, model.classes_)
        out[:, cols] = model.predict_proba(targets) if len(cols) > 1 else 1.0
        return out[t_rows]

    def _fit_cue(self, targets: Any, t_rows: np.ndarray, y: np.ndarray) -> Any:
        """The word model of the targets (``targets``: their TF-IDF, one row per distinct target) fitted
        on the rows ``t_rows``/``y``: on each distinct (target, label), weighted by its count (the same loss)."""
        from sklearn.dummy import DummyClassifier
        from sklearn.linear_model import LogisticRegression

        keep, labels, weight = _distinct_labelled(t_rows.tolist(), y.tolist())
        model = LogisticRegression(max_iter=1000) if len(set(labels)) > 1 else DummyClassifier()
        return model.fit(targets[keep], labels, sample_weight=weight)

    def _out_of_fold(self, targets: Any, t_rows: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The training rows' word-model probabilities, each from the folds without its target."""
        from sklearn.model_selection import GroupKFold

        n_groups = len(set(t_rows.tolist()))
        if n_groups < 2:
            return self._proba(self.cue_, targets, t_rows)
        out = np.zeros((len(t_rows), len(self.classes_)))
        for train, held in GroupKFold(n_splits=min(CUE_FOLDS, n_groups)).split(t_rows, y, groups=t_rows):
            out[held] = self._proba(self._fit_cue(targets, t_rows[train], y[train]), targets, t_rows[held])
        return out

    def fit(self, X: Sequence[Sequence[Any]], y: Any = None) -> "PairFeatures":
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X: Sequence[Sequence[Any]], y: Any = None, **fit_params: Any) -> np.ndarray:
        """Fit and transform with one featurisation of the distinct texts and targets; the training
        rows get their out-of-fold word-model probabilities (fit, then transform, gives in-fold ones)."""
        import scipy.sparse as sp
        from sklearn.feature_extraction.text import TfidfTransformer

        if y is None:
            raise ValueError("PairFeatures needs the labels: its word model's probabilities are features")
        labels = np.asarray([str(v) for v in y], dtype=object)
        self.classes_ = np.array(sorted(set(labels.tolist())), dtype=object)
        counts = self._counts(X)
        self.word_idf_ = TfidfTransformer(sublinear_tf=True).fit(sp.vstack([counts.target_words, counts.text_words]))
        self.target_idf_ = TfidfTransformer(sublinear_tf=True).fit(counts.target_grams)
        targets = self.target_idf_.transform(counts.target_grams)
        self.cue_columns_ = np.unique(targets.indices)  # the columns any training target has (the others weigh 0)
        targets = targets[:, self.cue_columns_]
        self.cue_ = self._fit_cue(targets, counts.t_rows, labels)
        return np.hstack([self._dense(counts), self._out_of_fold(targets, counts.t_rows, labels)])

    def transform(self, X: Sequence[Sequence[Any]]) -> np.ndarray:
        if not hasattr(self, "cue_"):  # the relation features (and model) before the FNC-1 baseline's
            raise InputError("this pair_relation model was saved by an earlier dataset_builder, before its features "
                             "changed; run `dataset-builder benchmark` again to retrain it.")
        counts = self._counts(X)
        targets = self.target_idf_.transform(counts.target_grams)[:, self.cue_columns_]
        return np.hstack([self._dense(counts), self._proba(self.cue_, targets, counts.t_rows)])


def make_pair_relation(*, seed: int = 0, max_features: int = DEFAULT_MAX_FEATURES):
    """The ``pair_relation`` baseline (see the module docstring)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    return Pipeline([("features", PairFeatures(max_features=max_features, seed=seed)),
                     ("gbdt", HistGradientBoostingClassifier(max_iter=200, early_stopping=False, random_state=seed))])


def _text_of(X: Sequence[Sequence[Any]]) -> list[str]:
    return [x[1] for x in X]


def _lead(text: str) -> str:
    return text[:PER_TARGET_CHARS].lower()


def _count_vectorizers(vocabularies: Sequence[dict[str, int] | None] = (None, None)):
    """Counts of word 1-3-grams and char 2-5-grams of the text's lead (float, as TF-IDF counts them):
    uncapped, or of the given vocabularies (then ready to transform)."""
    from sklearn.feature_extraction.text import CountVectorizer

    words, chars = vocabularies
    vectorizers = (CountVectorizer(analyzer="word", ngram_range=(1, 3), preprocessor=_lead, dtype=np.float64, vocabulary=words),
                   CountVectorizer(analyzer="char", ngram_range=(2, 5), preprocessor=_lead, dtype=np.float64, vocabulary=chars))
    for v in vectorizers:
        if v.vocabulary is not None:
            v._validate_vocabulary()
    return vectorizers


def _capped_columns(counts, limit: int, repeats: np.ndarray) -> np.ndarray:
    """The columns a ``TfidfVectorizer(max_features=limit)`` fitted on these rows, each row taken
    ``repeats`` times, would keep, in its (alphabetical, here: column) order: those present, then
    the ``limit`` most frequent (scikit-learn's rule)."""
    present = np.flatnonzero(counts.getnnz(axis=0))
    if len(present) <= limit:
        return present
    tfs = np.asarray(counts[:, present].T @ repeats).ravel()
    return present[np.sort((-tfs).argsort()[:limit])]


def _fit_block(counts, limit: int, repeats: np.ndarray) -> tuple[np.ndarray, Any]:
    """A block's kept columns and TF-IDF, as fitted on the rows of ``counts`` each taken ``repeats``
    times (the document frequencies counted with the repeats; scikit-learn's smoothed IDF)."""
    from sklearn.feature_extraction.text import TfidfTransformer

    cols = _capped_columns(counts, limit, repeats)
    kept = counts[:, cols]
    tfidf = TfidfTransformer(sublinear_tf=True).fit(kept)
    if (repeats != 1).any():
        df = np.asarray((kept > 0).T @ repeats, dtype=np.float64).ravel() + 1.0
        tfidf.idf_ = np.log(np.full_like(df, repeats.sum() + 1.0) / df) + 1.0
    return cols, tfidf


def _features(blocks: Sequence[tuple[np.ndarray, Any]], counts: Sequence[Any]):
    import scipy.sparse as sp

    return sp.hstack([tfidf.transform(c[:, cols]) for (cols, tfidf), c in zip(blocks, counts)], format="csr")


PRIMAL_TOL = 1e-2
"""Stopping tolerance of the weighted fallback SVM's primal solver (liblinear's default for it)."""
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

    def _keep_used_terms(self) -> None:
        """Keep of the fitted vocabularies only the terms some model uses, renumbered in their order
        (the models' columns with them): the same features, and a saved model of 22 MB where the
        uncapped vocabularies of 1,600 news bodies took 309 MB (``benchmarks/stance_pairs.py``)."""
        fitted = [m for m in [*self.models_.values(), self.fallback_] if not isinstance(m, str)]
        vocabularies = []
        for b, counter in enumerate(self.counters_):
            used = np.unique(np.concatenate([m["blocks"][b][0] for m in fitted] or [np.zeros(0, dtype=np.int64)]))
            for m in fitted:
                cols, tfidf = m["blocks"][b]
                m["blocks"][b] = (np.searchsorted(used, cols), tfidf)
            names = counter.get_feature_names_out()[used].tolist()
            vocabularies.append({term: i for i, term in enumerate(names)} or None)
        self.counters_ = _count_vectorizers(vocabularies)

    def _fit_one(self, counts: Sequence[Any], rows: np.ndarray, labels: Sequence[str],
                 weight: np.ndarray | None = None) -> dict[str, Any]:
        """One model on the training rows ``rows`` (each the index of its text in ``counts``, the
        distinct texts' counts): TF-IDF from the distinct texts with their repeats, and only the
        SVM's matrix has a row per training row."""
        texts, row_text = np.unique(rows, return_inverse=True)
        counts = [c[texts] for c in counts]
        repeats = np.bincount(row_text, minlength=len(texts)).astype(np.float64)
        blocks = self._fit_blocks(counts, repeats)
        return {"blocks": blocks, "svm": self._fit_svm(_features(blocks, counts)[row_text], labels, weight)}

    def _fit_blocks(self, counts: Sequence[Any], repeats: np.ndarray) -> list[tuple[np.ndarray, Any]]:
        """Each n-gram block's kept columns and transform (:func:`_fit_block`)."""
        return [_fit_block(c, self.max_features, repeats) for c in counts]

    def _fit_svm(self, X: Any, labels: Sequence[str], weight: np.ndarray | None) -> Any:
        """The fitted ``LinearSVC`` of one model (``weight``: per row, or ``None``)."""
        from sklearn.svm import LinearSVC

        # weighted rows (a body shared by many targets, its labels contradicting each other): liblinear's
        # dual coordinate descent crawls with such large box constraints; the primal Newton solver does
        # not, stopped at liblinear's own default for it (tol 1e-2; scikit-learn's 1e-4 took 5x as long
        # for the same predictions on 50,000 pairs, benchmarks/stance_pairs.py)
        if weight is None:
            svm = LinearSVC(C=1.0, dual="auto", random_state=self.seed)
        else:
            svm = LinearSVC(C=1.0, dual=False, tol=PRIMAL_TOL, random_state=self.seed)
        return svm.fit(X, labels, sample_weight=weight)

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
                self.models_[target] = self._fit_one(counts, rows[idx], labels)
        if len(self.classes_) < 2:
            self.fallback_: Any = str(y[0])
            self._keep_used_terms()
            return self
        keep, labels, weight = _distinct_labelled(rows.tolist(), y)
        self.fallback_ = self._fit_one(counts, keep, labels, None if (weight == 1).all() else weight)
        self._keep_used_terms()
        return self

    def _scores(self, X: Sequence[Sequence[Any]]):
        """Per group of rows with one model (a seen target; all unseen ones share the fallback):
        (row indices, the model or label, the features of their distinct texts or None, each row's
        text among those). A text's features are computed once however many of the rows it is in."""
        groups: dict[tuple[bool, str], list[int]] = {}
        for i, x in enumerate(X):
            groups.setdefault((True, x[0]) if x[0] in self.models_ else (False, ""), []).append(i)
        counts = None  # counted when a model needs them (none does when every target has one label)
        for (seen, target), idx in groups.items():
            model = self.models_[target] if seen else self.fallback_
            if isinstance(model, str):
                yield idx, model, None, None
                continue
            if counts is None:
                counts, rows = self._counts(X)
            texts, row_text = np.unique(rows[idx], return_inverse=True)
            yield idx, model, _features(model["blocks"], [c[texts] for c in counts]), row_text

    def predict(self, X: Sequence[Sequence[Any]]) -> np.ndarray:
        out = np.empty(len(X), dtype=object)
        for idx, model, feats, row_text in self._scores(X):
            out[idx] = model if feats is None else model["svm"].predict(feats)[row_text]
        return out

    def predict_proba(self, X: Sequence[Sequence[Any]]) -> np.ndarray:
        """Softmax of each target model's margins over :attr:`classes_` (0 for a class its model never saw)."""
        from scipy.special import softmax

        out = np.zeros((len(X), len(self.classes_)))
        for idx, model, feats, row_text in self._scores(X):
            if feats is None:
                out[idx, np.searchsorted(self.classes_, model)] = 1.0
                continue
            svm = model["svm"]
            margin = svm.decision_function(feats)[row_text]
            if margin.ndim == 1:
                margin = np.column_stack([np.zeros_like(margin), margin])
            cols = np.searchsorted(self.classes_, svm.classes_)
            out[np.ix_(idx, cols)] = softmax(margin, axis=1)
        return out
