"""Confidence intervals: the article bootstrap of summed counts and its percentile interval.

Bootstrap over ARTICLES, not rows: rows of one article are not independent. Per-article
counts (NER: correct/predicted/gold entities per type; stance: a confusion matrix) are
computed once; each of the ``resamples`` draws ``n_articles`` article indices with
replacement from ``numpy.random.default_rng(seed)`` and sums their counts (a matrix product
of draw counts and per-article counts), so 1,000 resamples cost one small matrix product.
The interval is the 2.5th and 97.5th percentile (numpy's ``linear`` method) of the resamples in
which the metric is defined (a resample can lack a class). A paired
comparison of two prediction files uses the same draws for both and reports the difference,
its interval and the share of resamples in which the observed winner does not win.
"""

from __future__ import annotations

import warnings

import numpy as np

from .settings import CONFIDENCE

# Upper bound on draw-count cells held at once (resamples x articles) during the bootstrap.
_BOOTSTRAP_CELLS = 4_000_000


def bootstrap_sums(per_article: np.ndarray, *, resamples: int, seed: int) -> np.ndarray:
    """Sums of per-article counts over ``resamples`` article resamples, shape ``(resamples, ...)``.

    Resample ``b`` draws ``n_articles`` indices with replacement (``default_rng(seed)``, drawn in
    row order, so the draws do not depend on how the work is batched); its sum is exact (integer
    counts, float64 products below 2**53).
    """
    n_articles = per_article.shape[0]
    flat = per_article.reshape(n_articles, -1).astype(np.float64)
    rng = np.random.default_rng(seed)
    out = np.empty((resamples, flat.shape[1]), dtype=np.float64)
    batch = max(1, _BOOTSTRAP_CELLS // max(1, n_articles))
    for lo in range(0, resamples, batch):
        hi = min(resamples, lo + batch)
        draws = rng.integers(0, n_articles, size=(hi - lo, n_articles))
        draws += (np.arange(hi - lo, dtype=np.int64) * n_articles)[:, None]
        weights = np.bincount(draws.ravel(), minlength=(hi - lo) * n_articles).reshape(hi - lo, n_articles)
        out[lo:hi] = weights.astype(np.float64) @ flat
    return np.rint(out).reshape((resamples,) + per_article.shape[1:])


def _interval(samples: np.ndarray) -> np.ndarray:
    """The percentile interval over the resamples where the metric is defined (NaN where it never is)."""
    tail = (1 - CONFIDENCE) / 2 * 100
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN, reported as null
        return np.nanpercentile(samples, [tail, 100 - tail], axis=0, method="linear")
