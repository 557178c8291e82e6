"""Reading and validating a predictions file against a prepared gold split.

Input
    A predictions file in JSONL, one object per line:

    * stance: ``{"id": "<row id>", "label": "<class name>"}``;
    * NER: ``{"id": "<segment id>", "tags": ["O", "B-PER", ...]}`` (one tag per token of the
      dataset's ``tokens``, names from the dataset's ``ner_tags`` ``ClassLabel``) or
      ``{"id": "<segment id>", "spans": [{"start": 0, "end": 5, "label": "PER"}, ...]}`` with
      half-open character offsets into the row's ``text`` (an optional ``"text"`` key is checked
      against ``text[start:end]``). Spans are projected onto the dataset's own tokens
      (``token_starts``/``token_ends``) as IOB2 tags, then scored exactly like ``tags``: the
      token grid of the gold data is the unit, so a span and its tag form always get the same
      score. How a span boundary that falls inside a token is handled is the caller's choice
      (``alignment``): ``strict`` (default) rejects it, ``contract`` keeps the tokens wholly
      inside the span (a span covering no whole token is dropped and counted), ``expand`` keeps
      every token the span touches.
Output
    The predicted class index per gold row (stance), or the predicted tag ids aligned with the
    flat gold tokens and the number of spans dropped (NER).

Invariants
    Every gold id is predicted exactly once; no unknown id; labels come from the dataset's label
    set; a tag sequence has one tag per token. Anything else raises :class:`PredictionsError`
    naming the file, line, value seen, value expected and the fix.
"""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from ..errors import SchemaError
from ..jsonl import read_jsonl
from .gold import _Gold
from .settings import ALIGNMENTS, PredictionsError, _check_choice


def _read_prediction_rows(path: Path, gold: _Gold, key_names: tuple[str, ...]) -> Iterable[tuple[int, int, dict[str, Any]]]:
    """Yield ``(line, row, object)`` per prediction; check ids; raise on missing ids at the end."""
    seen: dict[str, int] = {}
    for lineno, obj in read_jsonl(path):
        id_ = obj.get("id")
        if not isinstance(id_, str):
            raise PredictionsError(f"{path}:{lineno}: 'id' is {id_!r}; every line needs a string 'id' from the gold split.")
        if id_ in seen:
            raise PredictionsError(
                f"{path}:{lineno}: id {id_!r} is predicted twice (first at line {seen[id_]}); keep one prediction per id."
            )
        row = gold.row_of_id.get(id_)
        if row is None:
            raise PredictionsError(
                f"{path}:{lineno}: unknown id {id_!r}, not in the gold split ({len(gold.ids)} ids); predict only ids of the "
                "split you score against (check --config/--split)."
            )
        seen[id_] = lineno
        present = [k for k in key_names if k in obj]
        if len(present) != 1:
            wanted = " or ".join(repr(k) for k in key_names)
            raise PredictionsError(f"{path}:{lineno}: id {id_!r} has keys {sorted(obj)}; expected exactly one of {wanted}.")
        yield lineno, row, obj
    if len(seen) != len(gold.ids):
        missing = [i for i in gold.ids if i not in seen]
        shown = ", ".join(repr(i) for i in missing[:5])
        raise PredictionsError(
            f"{path}: {len(missing)} of {len(gold.ids)} gold ids have no prediction (e.g. {shown}); predict every id of the split."
        )


def read_stance_predictions(path: str | Path, gold: _Gold) -> np.ndarray:
    """Predicted class index per gold row, validated (see the module docstring)."""
    path = Path(path)
    index = {name: i for i, name in enumerate(gold.labels)}
    pred = np.full(len(gold.ids), -1, dtype=np.int64)
    for lineno, row, obj in _read_prediction_rows(path, gold, ("label",)):
        label = obj["label"]
        if not isinstance(label, str) or label not in index:
            raise PredictionsError(
                f"{path}:{lineno}: unknown label {label!r} for id {gold.ids[row]!r}; expected one of {list(gold.labels)}."
            )
        pred[row] = index[label]
    return pred


def read_ner_predictions(path: str | Path, gold: _Gold, *, alignment: str = "strict") -> tuple[np.ndarray, int]:
    """Predicted tag ids, flat and aligned with the gold tokens, and the number of spans dropped.

    ``spans`` are projected to IOB2 tags on the gold tokens (see ``alignment`` in the module
    docstring); only ``alignment="contract"`` can drop a span.
    """
    _check_choice("alignment", alignment, ALIGNMENTS)
    path = Path(path)
    assert gold.tagset is not None and gold.offsets is not None
    index = gold.tagset.index()
    pred = np.zeros(len(gold.gold), dtype=np.int64)
    o_id = index.get("O")
    if o_id is None:
        raise SchemaError(f"NER label set {list(gold.labels)} has no 'O' tag; add it to the label set.")
    pred[:] = o_id
    dropped = 0
    for lineno, row, obj in _read_prediction_rows(path, gold, ("tags", "spans")):
        lo, hi = int(gold.offsets[row]), int(gold.offsets[row + 1])
        if "tags" in obj:
            tags = obj["tags"]
            if not isinstance(tags, list):
                raise PredictionsError(f"{path}:{lineno}: 'tags' must be a list of tag names; got {type(tags).__name__}.")
            if len(tags) != hi - lo:
                raise PredictionsError(
                    f"{path}:{lineno}: id {gold.ids[row]!r} has {len(tags)} tags but the segment has {hi - lo} tokens; "
                    "predict one tag per token of the dataset's `tokens`."
                )
            ids = [index.get(t, -1) if isinstance(t, str) else -1 for t in tags]
            if -1 in ids:
                bad = tags[ids.index(-1)]
                raise PredictionsError(
                    f"{path}:{lineno}: unknown tag {bad!r} for id {gold.ids[row]!r}; expected one of {list(gold.labels)}."
                )
            pred[lo:hi] = ids
        else:
            tags_row, n_dropped = _spans_to_tag_ids(path, lineno, gold, row, obj["spans"], alignment, index)
            pred[lo:hi] = tags_row
            dropped += n_dropped
    return pred, dropped


def _spans_to_tag_ids(
    path: Path, lineno: int, gold: _Gold, row: int, spans: Any, alignment: str, index: Mapping[str, int]
) -> tuple[list[int], int]:
    where = f"{path}:{lineno}: id {gold.ids[row]!r}"
    if not isinstance(spans, list):
        raise PredictionsError(f"{where}: 'spans' must be a list of {{start, end, label}} objects; got {type(spans).__name__}.")
    assert gold.texts is not None
    text = gold.texts[row]
    t_starts = gold.token_starts[row].as_py()
    t_ends = gold.token_ends[row].as_py()
    o_id = index["O"]
    out = [o_id] * len(t_starts)
    owner = [-1] * len(t_starts)
    dropped = 0
    for k, span in enumerate(spans):
        if not isinstance(span, dict):
            raise PredictionsError(f"{where}: span {k} is {span!r}; expected an object with start, end, label.")
        start, end, label = span.get("start"), span.get("end"), span.get("label")
        if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
            raise PredictionsError(f"{where}: span {k} has start={start!r}, end={end!r}; expected integer character offsets.")
        if not 0 <= start < end <= len(text):
            raise PredictionsError(
                f"{where}: span {k} [{start}, {end}) is outside the text (length {len(text)}) or empty; "
                "offsets are half-open code-point offsets into the row's `text`."
            )
        if "text" in span and span["text"] != text[start:end]:
            raise PredictionsError(
                f"{where}: span {k} text {span['text']!r} does not match text[{start}:{end}] = {text[start:end]!r}; "
                "fix the offsets (code points, not UTF-16 units)."
            )
        b_id, i_id = index.get(f"B-{label}"), index.get(f"I-{label}")
        if not isinstance(label, str) or b_id is None or i_id is None:
            types = [t for t in (gold.tagset.types if gold.tagset else ()) if f"B-{t}" in index and f"I-{t}" in index]
            raise PredictionsError(f"{where}: span {k} has unknown label {label!r}; expected one of {types}.")
        if alignment == "strict":
            first = bisect.bisect_left(t_starts, start)
            last = bisect.bisect_left(t_ends, end)
            if first >= len(t_starts) or t_starts[first] != start or last >= len(t_ends) or t_ends[last] != end:
                raise PredictionsError(
                    f"{where}: span {k} [{start}, {end}) {text[start:end]!r} does not start and end on token boundaries; "
                    "align it to the dataset's tokens or choose alignment 'contract' or 'expand'."
                )
            covered = range(first, last + 1)
        elif alignment == "contract":
            covered = [t for t in range(len(t_starts)) if t_starts[t] >= start and t_ends[t] <= end]
        else:
            covered = [t for t in range(len(t_starts)) if t_starts[t] < end and t_ends[t] > start]
        if not covered:
            dropped += 1
            continue
        for j, t in enumerate(covered):
            if owner[t] != -1:
                raise PredictionsError(
                    f"{where}: spans {owner[t]} and {k} overlap on token {t}; a token carries one tag, so keep one of them."
                )
            owner[t] = k
            out[t] = b_id if j == 0 else i_id
    return out, dropped
