"""NER entities: the tag set, the chunk rules, per-article entity counts, tag-sequence reports.

Input
    Tag ids (flat arrays over the tokens of a split, with a flag where each segment starts) and
    the label set, or lists of tag-name sequences (the shape seqeval takes).
Output
    Entities ``(start, end, type)`` and per-group ``(correct, predicted, gold)`` entity counts
    by type, from which :mod:`.metrics` computes precision, recall and F1.

Chunk rules
    * NER, ``mode="conlleval"``: entity-level micro and per-type precision/recall/F1 with the
      chunk rules of the CoNLL-2000 ``conlleval`` script (an ``I-`` tag after ``O``, after an
      ``E-``/``S-`` tag, or after a tag of another type starts an entity; a ``B-``/``S-`` tag
      always starts one), so IOB1 and IOB2 (and IOBES) tag sequences are read as conlleval reads
      them. Numbers equal ``seqeval``'s default mode (property-tested).
    * NER, ``mode="strict"``: only well-formed entities count: ``B-X (I-X)*`` for IOB2 label
      sets, ``S-X`` or ``B-X (I-X)* E-X`` for IOBES label sets (a label set with any ``E-``/``S-``
      label is IOBES). Tokens of a malformed entity count as no entity. Use conlleval mode for
      IOB1 data.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import Any, Sequence

import numpy as np

from ..errors import SchemaError
from .metrics import _ner_metrics_dict
from .settings import NER_MODES, PredictionsError, _check_choice

# Tag prefixes as small ints; "O" has type -1.
_O, _B, _I, _E, _S = 0, 1, 2, 3, 4
_PREFIX_CODES = {"B": _B, "I": _I, "E": _E, "S": _S}


@dataclass(frozen=True, eq=False)
class TagSet:
    """A parsed NER label set: per label id its prefix code and type id.

    Invariants: ``names`` are ``"O"`` or ``P-TYPE`` with ``P`` in B, I, E, S and a non-empty
    ``TYPE`` (split at the first ``-`` as conlleval does); ``types`` are in order of first
    appearance in ``names``; ``scheme`` is ``"IOBES"`` when any label has prefix E or S, else
    ``"IOB2"`` (used by strict mode only).
    """

    names: tuple[str, ...]
    types: tuple[str, ...]
    prefixes: np.ndarray
    type_ids: np.ndarray
    scheme: str

    @classmethod
    def from_names(cls, names: Sequence[str]) -> "TagSet":
        names = tuple(names)
        if len(set(names)) != len(names):
            raise SchemaError(f"NER label set has duplicate names: {list(names)}; each tag must appear once.")
        types: list[str] = []
        prefixes = np.zeros(len(names), dtype=np.int8)
        type_ids = np.full(len(names), -1, dtype=np.int32)
        for i, name in enumerate(names):
            if name == "O":
                continue
            prefix, sep, typ = name.partition("-")
            if not sep or prefix not in _PREFIX_CODES or not typ:
                raise SchemaError(
                    f"NER label {name!r} is not an IOB tag; expected 'O' or 'B-TYPE', 'I-TYPE', 'E-TYPE', 'S-TYPE'. "
                    "Fix the label set in the annotation config."
                )
            if typ not in types:
                types.append(typ)
            prefixes[i] = _PREFIX_CODES[prefix]
            type_ids[i] = types.index(typ)
        scheme = "IOBES" if bool(np.isin(prefixes, (_E, _S)).any()) else "IOB2"
        return cls(names=names, types=tuple(types), prefixes=prefixes, type_ids=type_ids, scheme=scheme)

    def index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}


def _chunks(tag_ids: np.ndarray, seg_start: np.ndarray, tagset: TagSet, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entities of a flat tag array: ``(starts, ends, type_ids)``, ends exclusive, sorted.

    ``seg_start[t]`` is True where a new sequence (segment) begins: no entity crosses it.
    """
    n = len(tag_ids)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty.astype(np.int32)
    p = tagset.prefixes[tag_ids]
    ty = tagset.type_ids[tag_ids]
    pp = np.empty_like(p)
    pp[0] = _O
    pp[1:] = p[:-1]
    pp[seg_start] = _O
    pty = np.empty_like(ty)
    pty[0] = -1
    pty[1:] = ty[:-1]
    pty[seg_start] = -1
    non_o = p != _O
    if mode == "conlleval":
        # conlleval's startOfChunk; its endOfChunk then fires exactly where the next token is O,
        # starts a chunk, or begins a new sequence, so chunks are runs cut at those points.
        i_or_e = (p == _I) | (p == _E)
        head = non_o & ((p == _B) | (p == _S) | (ty != pty) | (i_or_e & ((pp == _E) | (pp == _S) | (pp == _O))))
    elif mode == "strict":
        linked = (pp == _B) | (pp == _I)
        cont = (p == _I) | (p == _E) if tagset.scheme == "IOBES" else (p == _I)
        head = non_o & ~(cont & linked & (ty == pty))
    else:  # pragma: no cover - validated by callers
        raise ValueError(mode)
    continues = np.zeros(n, dtype=bool)
    continues[:-1] = non_o[1:] & ~head[1:]
    starts = np.flatnonzero(head)
    ends = np.flatnonzero(non_o & ~continues) + 1
    types = ty[starts]
    if mode == "strict":
        first = p[starts]
        if tagset.scheme == "IOBES":
            last = p[ends - 1]
            valid = ((first == _S) & (ends - starts == 1)) | ((first == _B) & (last == _E))
        else:
            valid = first == _B
        starts, ends, types = starts[valid], ends[valid], types[valid]
    return starts, ends, types


def entities_from_tags(tags: Sequence[str], *, mode: str = "conlleval", labels: Sequence[str] | None = None) -> list[tuple[str, int, int]]:
    """Entities ``(type, start, end)`` (token indices, end exclusive) of one tag sequence.

    Parameters
    ----------
    tags : the tag sequence (``"O"``, ``"B-PER"``, ...).
    mode : ``"conlleval"`` or ``"strict"`` (see the module docstring).
    labels : the full label set; default: the tags seen (this decides IOB2 vs IOBES in strict mode).
    """
    _check_choice("mode", mode, NER_MODES)
    tagset = TagSet.from_names(sorted(set(tags) | {"O"}) if labels is None else labels)
    index = tagset.index()
    ids = np.array([index[t] for t in tags], dtype=np.int64)
    seg_start = np.zeros(len(ids), dtype=bool)
    starts, ends, types = _chunks(ids, seg_start, tagset, mode)
    return [(tagset.types[t], int(s), int(e)) for s, e, t in zip(starts, ends, types)]


def ner_counts(
    gold_ids: np.ndarray,
    pred_ids: np.ndarray,
    seg_start: np.ndarray,
    group_of_token: np.ndarray,
    n_groups: int,
    tagset: TagSet,
    *,
    mode: str = "conlleval",
) -> np.ndarray:
    """Per-group entity counts, shape ``(n_groups, 3, n_types)``: correct, predicted, gold.

    An entity is correct when gold and prediction have one with the same start, end and type.
    ``group_of_token`` maps each token to its group (article) index.
    """
    n_types = len(tagset.types)
    g_s, g_e, g_t = _chunks(gold_ids, seg_start, tagset, mode)
    p_s, p_e, p_t = _chunks(pred_ids, seg_start, tagset, mode)
    n = len(gold_ids)
    gold_end = np.full(n + 1, -1, dtype=np.int64)
    gold_type = np.full(n + 1, -1, dtype=np.int32)
    gold_end[g_s] = g_e
    gold_type[g_s] = g_t
    correct = (gold_end[p_s] == p_e) & (gold_type[p_s] == p_t)
    size = n_groups * n_types
    counts = np.empty((n_groups, 3, n_types), dtype=np.int64)
    for row, (starts, types) in enumerate(((p_s[correct], p_t[correct]), (p_s, p_t), (g_s, g_t))):
        key = group_of_token[starts].astype(np.int64) * n_types + types
        counts[:, row, :] = np.bincount(key, minlength=size).reshape(n_groups, n_types)
    return counts


def ner_report_from_tags(
    y_true: Sequence[Sequence[str]],
    y_pred: Sequence[Sequence[str]],
    *,
    mode: str = "conlleval",
    labels: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Full entity-level report for lists of tag sequences (the shape seqeval takes).

    Returns ``{"micro": {...}, "per_type": {TYPE: {...}}}`` where each entry has precision,
    recall, f1, n_gold, n_pred, n_correct (unrounded floats). ``labels`` defaults to the tags
    seen in either input.
    """
    _check_choice("mode", mode, NER_MODES)
    if len(y_true) != len(y_pred):
        raise PredictionsError(f"y_true has {len(y_true)} sequences but y_pred has {len(y_pred)}; pass one prediction per sequence.")
    lengths = np.fromiter(map(len, y_true), dtype=np.int64, count=len(y_true))
    pred_lengths = np.fromiter(map(len, y_pred), dtype=np.int64, count=len(y_pred))
    bad = np.flatnonzero(lengths != pred_lengths)
    if len(bad):
        i = int(bad[0])
        raise PredictionsError(f"sequence {i}: {pred_lengths[i]} predicted tags for {lengths[i]} gold tags; predict one tag per token.")
    n = int(lengths.sum())
    if labels is None:
        seen = set(chain.from_iterable(y_true)) | set(chain.from_iterable(y_pred)) | {"O"}
        labels = sorted(seen)
    tagset = TagSet.from_names(labels)
    index = tagset.index()
    try:
        gold = np.fromiter(map(index.__getitem__, chain.from_iterable(y_true)), dtype=np.int64, count=n)
        pred = np.fromiter(map(index.__getitem__, chain.from_iterable(y_pred)), dtype=np.int64, count=n)
    except KeyError as exc:
        raise PredictionsError(f"tag {exc.args[0]!r} is not in the label set {list(tagset.names)}.") from None
    seg_start = np.zeros(n, dtype=bool)
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    seg_start[offsets[lengths > 0]] = True
    counts = ner_counts(gold, pred, seg_start, np.zeros(n, dtype=np.int64), 1, tagset, mode=mode)[0]
    return _ner_metrics_dict(counts, tagset.types)


def conlleval_lines(counts: np.ndarray, types: Sequence[str], n_tokens: int, n_tokens_correct: int) -> list[str]:
    """The summary ``conlleval.pl`` prints for these counts, line for line and digit for digit.

    ``counts`` is ``(3, n_types)`` (correct, predicted, gold, as :func:`ner_counts` sums them).
    conlleval's arithmetic is kept: percentages first, then ``FB1 = 2PR / (P + R)`` on them, 0 where
    a division would be by zero; token accuracy is the share of tokens whose whole tag (prefix and
    type) is right; types are those found in gold or prediction, sorted.
    """

    def prf(correct: int, found: int, gold: int) -> tuple[float, float, float]:
        precision = 100 * correct / found if found > 0 else 0.0
        recall = 100 * correct / gold if gold > 0 else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
        return precision, recall, f1

    correct, found, gold = (int(x) for x in counts.sum(-1))
    lines = [f"processed {n_tokens} tokens with {gold} phrases; found: {found} phrases; correct: {correct}."]
    if n_tokens > 0:
        p, r, f = prf(correct, found, gold)
        lines.append(f"accuracy: {100 * n_tokens_correct / n_tokens:6.2f}%; precision: {p:6.2f}%; recall: {r:6.2f}%; FB1: {f:6.2f}")
    for k in sorted(range(len(types)), key=lambda k: types[k]):
        if counts[1, k] or counts[2, k]:
            p, r, f = prf(int(counts[0, k]), int(counts[1, k]), int(counts[2, k]))
            lines.append(f"{types[k]:>17}: precision: {p:6.2f}%; recall: {r:6.2f}%; FB1: {f:6.2f}  {int(counts[1, k])}")
    return lines
