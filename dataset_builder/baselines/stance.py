"""The stance baselines' text features: the target marked in the text, and ``tfidf_logreg``.

Input
    Rows ``(target, text, given)`` (see :func:`_joined`), or strings already marked by
    :func:`mark_target`.
Output
    :func:`mark_target`, and the unfitted ``tfidf_logreg`` pipeline (:func:`make_tfidf_logreg`).
Invariants
    Deterministic for a seed.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..errors import InputError

TARGET_OPEN = "TGTSTART"
TARGET_CLOSE = "TGTEND"


def mark_target(text: str, start: int, end: int) -> str:
    """``text`` with the stance target ``text[start:end]`` wrapped in marker words.

    ``"Obama spoke"`` with target [0, 5) becomes ``"TGTSTART Obama TGTEND spoke"``, so word
    n-grams see the target and its neighbours.
    """
    if not 0 <= start <= end <= len(text):
        raise InputError(f"target offsets [{start}, {end}) do not fit a text of length {len(text)}; rebuild the dataset.")
    return f"{text[:start]} {TARGET_OPEN} {text[start:end]} {TARGET_CLOSE} {text[end:]}"


def _joined(X: Sequence[Sequence[Any]]) -> list[str]:
    """``(target, text, given)`` rows as one string: the text (a span target is marked in it), or a
    given target between the markers in front of the text. A string row (a text already marked by
    :func:`mark_target`) passes as it is."""
    return [x if isinstance(x, str) else f"{TARGET_OPEN} {x[0]} {TARGET_CLOSE} {x[1]}" if x[2] else x[1] for x in X]


def make_tfidf_logreg(*, seed: int, max_features: int | None):
    """The ``tfidf_logreg`` baseline: TF-IDF word 1-2 and char_wb 2-5 grams of :func:`_joined`, each capped
    at ``max_features``, and a balanced ``LogisticRegression``."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.preprocessing import FunctionTransformer

    features = FeatureUnion([
        ("word", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, min_df=1,
                                 max_features=max_features)),
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1,
                                 max_features=max_features)),
    ])
    clf = LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced", random_state=seed)
    return Pipeline([("text", FunctionTransformer(_joined)), ("tfidf", features), ("logreg", clf)])
