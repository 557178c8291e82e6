"""What every scoring module shares: the scorer's settings, the choice check, the error.

Holds the scorer version, the bootstrap defaults and confidence, the fewest articles an interval
needs (:data:`MIN_CI_ARTICLES`, :func:`too_few_articles`), the allowed NER ``mode`` and
span ``alignment`` values, :func:`_check_choice` (a ``ValueError`` naming the parameter and its
choices) and :class:`PredictionsError`, which every validation of a predictions file raises.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..errors import InputError

SCORER_VERSION = "1.0.0"
DEFAULT_SEED = 0
DEFAULT_RESAMPLES = 1000
CONFIDENCE = 0.95
MIN_CI_ARTICLES = 10
"""Fewest articles for a bootstrap interval (and for ranking baselines) on a split: below it a nominal
95% percentile interval covers less than 90% even for normal, independent per-article scores
(docs/scoring.md), and with one article every resample is that article."""
NER_MODES = ("conlleval", "strict")
ALIGNMENTS = ("strict", "contract", "expand")


class PredictionsError(InputError):
    """A predictions file does not match the gold split (ids, labels, lengths, offsets)."""


def too_few_articles(n_articles: int, what: str = "a 95% interval") -> str | None:
    """Why ``n_articles`` articles are too few for ``what`` (None when they are enough)."""
    if n_articles >= MIN_CI_ARTICLES:
        return None
    return f"the split has {n_articles} article(s) and {what} needs at least {MIN_CI_ARTICLES} (docs/scoring.md)"


def _check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        raise ValueError(f"The {name!r} parameter must be one of {list(choices)}. Got {value!r} instead.")
