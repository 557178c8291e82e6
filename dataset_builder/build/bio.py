"""BIO projection: gold character spans onto the tokens of :mod:`.tokens`.

Input
    Texts (tokenised by :func:`~dataset_builder.build.tokens.tokenize_batch`), character spans
    ``[start, end)`` and their labels in config order.
Output
    One BIO tag id per token (names from :func:`bio_names`) and, per span, its status in
    :data:`SPAN_STATUSES`.

Rule (the card states it too): a character span covers the tokens it overlaps. A span whose
edges fall inside a token is *expanded* to the covering tokens (kept, counted); a span that
overlaps no token (whitespace only) is dropped. Spans that then overlap in token space are
resolved by keeping the longest (in tokens), then the earliest, then the label first in the
config; the others are dropped and counted as *nested* (inside a kept span), *crossing* (partial
overlap) or *duplicate* (same tokens and label). The ``spans`` column keeps every gold character
span as annotated; ``ner_tags`` is the projection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import SchemaError
from ..records import EntitySpan
from .tokens import TokenBatch, tokenize_batch

SPAN_STATUSES = ("kept_aligned", "kept_expanded", "dropped_no_token", "dropped_nested", "dropped_crossing", "dropped_duplicate")
"""What happened to a gold entity span in the BIO projection (counted in the build report)."""
_ALIGNED, _EXPANDED, _NO_TOKEN, _NESTED, _CROSSING, _DUPLICATE = range(len(SPAN_STATUSES))


def bio_names(entity_labels: Sequence[str]) -> list[str]:
    """``["O", "B-X", "I-X", ...]`` for the entity labels in config order."""
    return ["O"] + [f"{p}-{label}" for label in entity_labels for p in ("B", "I")]


def _project(
    tok: TokenBatch, rows: np.ndarray, starts: np.ndarray, ends: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Project character spans onto BIO tag ids (see the module docstring for the rule).

    ``rows[k]`` is the text of span ``k``; returns the flat tag ids (one per token) and the status
    of each span (an index into :data:`SPAN_STATUSES`).
    """
    n_tok = len(tok.starts)
    tags = np.zeros(n_tok, dtype=np.int64)
    status = np.full(len(rows), _ALIGNED, dtype=np.int64)
    if not len(rows):
        return tags, status
    n_rows = len(tok.offsets) - 1
    width = int(max(tok.ends.max(initial=0), ends.max(initial=0))) + 1
    row_of_tok = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(tok.offsets))
    # Tokens are sorted by (row, offset), so row * width + offset is sorted globally and one
    # searchsorted finds, for every span at once, the first token ending after its start and the
    # first token starting at or after its end: the covered tokens are [ts, te).
    ts = np.searchsorted(row_of_tok * width + tok.ends, rows * width + starts, side="right")
    te = np.searchsorted(row_of_tok * width + tok.starts, rows * width + ends, side="left")
    valid = te > ts
    status[~valid] = _NO_TOKEN
    if n_tok:
        first, last = np.minimum(ts, n_tok - 1), np.maximum(te - 1, 0)
        status[valid & ((tok.starts[first] != starts) | (tok.ends[last] != ends))] = _EXPANDED

    # Overlaps in token space: longest first, then earliest, then config label order. Only rows
    # where two spans overlap need this sequential pass; sorted by start, a row has an overlap
    # if and only if some span starts before the end of the span just before it.
    idx = np.flatnonzero(valid)
    by_start = idx[np.lexsort((te[idx], ts[idx], rows[idx]))]
    clash = (rows[by_start][1:] == rows[by_start][:-1]) & (ts[by_start][1:] < te[by_start][:-1])
    clashing_rows = np.unique(rows[by_start][1:][clash])
    idx = idx[np.isin(rows[idx], clashing_rows)]
    order = idx[np.lexsort((ends[idx], starts[idx], labels[idx], ts[idx], -(te[idx] - ts[idx]), rows[idx]))]
    current_row, chosen = -1, []
    for k in order.tolist():
        r, a, b, lab = int(rows[k]), int(ts[k]), int(te[k]), int(labels[k])
        if r != current_row:
            current_row, chosen = r, []
        overlapping = [(ka, kb, klab) for ka, kb, klab in chosen if a < kb and ka < b]
        if not overlapping:
            chosen.append((a, b, lab))
        elif (a, b, lab) in overlapping:
            status[k] = _DUPLICATE
        elif any(ka <= a and b <= kb for ka, kb, _ in overlapping):
            status[k] = _NESTED
        else:
            status[k] = _CROSSING
    kept = status <= _EXPANDED
    k_ts, k_te, k_lab = ts[kept], te[kept], labels[kept]
    tags[k_ts] = 1 + 2 * k_lab
    inner = k_te - k_ts - 1
    if inner.sum():
        first = np.repeat(k_ts + 1, inner)
        step = np.arange(int(inner.sum()), dtype=np.int64) - np.repeat(np.cumsum(inner) - inner, inner)
        tags[first + step] = np.repeat(2 + 2 * k_lab, inner)
    return tags, status


@dataclass(frozen=True)
class BioProjection:
    """One text's tokens, BIO tags and what happened to each input span (in input order)."""

    tokens: tuple[str, ...]
    token_starts: tuple[int, ...]
    token_ends: tuple[int, ...]
    tags: tuple[str, ...]
    span_status: tuple[str, ...]


def spans_to_bio(text: str, spans: Sequence[EntitySpan], entity_labels: Sequence[str]) -> BioProjection:
    """Tokenise ``text`` and project ``spans`` onto BIO tags by the rule in the module docstring.

    Raises
    ------
    SchemaError
        A span label not in ``entity_labels``, or a span outside the text.
    """
    label_index = {label: i for i, label in enumerate(entity_labels)}
    for span in spans:
        if span.label not in label_index:
            raise SchemaError(f"entity label {span.label!r} is not one of {list(entity_labels)}.")
        if span.end > len(text):
            raise SchemaError(f"span [{span.start}, {span.end}) is past the end of a {len(text)}-character text.")
    tok = tokenize_batch([text])
    tags, status = _project(
        tok,
        np.zeros(len(spans), dtype=np.int64),
        np.array([s.start for s in spans], dtype=np.int64),
        np.array([s.end for s in spans], dtype=np.int64),
        np.array([label_index[s.label] for s in spans], dtype=np.int64),
    )
    names = bio_names(entity_labels)
    return BioProjection(
        tokens=tuple(tok.tokens.to_pylist()),
        token_starts=tuple(tok.starts.tolist()),
        token_ends=tuple(tok.ends.tolist()),
        tags=tuple(names[t] for t in tags.tolist()),
        span_status=tuple(SPAN_STATUSES[s] for s in status.tolist()),
    )
