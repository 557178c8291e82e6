"""What a task and its pre-annotations look like: task ``data``, ``result`` items, stable region ids.

Pure functions, no network: offsets are Python code points, as Label Studio 1.23.2 uses them
for text regions (see ``docs/label_studio_offsets.md``), with ``value.text`` as the cross-check.
"""

from __future__ import annotations

import hashlib
from typing import Any, Iterable, Iterator, Mapping

from ..errors import SchemaError
from ..records import Segment
from ..schema import LabelSchema

TARGET_MODEL_VERSION = "target-premark"
"""``model_version`` of the prediction that pre-marks the given target in ``target_stance`` tasks."""


def _text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _region_id(*parts: Any) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).hexdigest()[:10]


def prediction_result(schema: LabelSchema, segment_id: str, text: str, row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Turn one predictions row into Label Studio ``result`` items.

    A row either carries ``result`` (Label Studio items, passed through as given)
    or ``entities`` (``start``, ``end``, ``label``; code points) and ``stances`` (``label`` and,
    for per-region stance, ``target_start``/``target_end`` naming one of the entities; for a
    task-level stance no target). Region ids are derived from the content, so they are stable.
    An entity or stance with a number ``score`` (the model's confidence in it) keeps it on its item.

    Raises
    ------
    SchemaError
        A label not in the config, offsets outside the text, or a per-region stance whose target is
        not one of the row's entities.
    """
    if "result" in row:
        if not isinstance(row["result"], list):
            raise SchemaError(f"prediction for {segment_id!r}: 'result' must be a list; got {type(row['result']).__name__}.")
        return list(row["result"])
    out: list[dict[str, Any]] = []
    regions: dict[tuple[int, int], str] = {}
    for ent in row.get("entities", ()):
        start, end, label = ent.get("start"), ent.get("end"), ent.get("label")
        if label not in schema.entity_labels:
            raise SchemaError(
                f"prediction for {segment_id!r}: entity label {label!r} is not in config {schema.name!r} "
                f"({', '.join(schema.entity_labels) or 'no entity labels'})."
            )
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
            raise SchemaError(
                f"prediction for {segment_id!r}: entity offsets [{start}, {end}) do not fit a text of {len(text)} code points."
            )
        rid = _region_id(segment_id, start, end, label)
        regions[(start, end)] = rid
        item = {
            "id": rid, "from_name": schema.entity_from_name, "to_name": schema.to_name, "type": "labels",
            "value": {"start": start, "end": end,
                      "text": text[start:end], "labels": [label]},
        }
        out.append(_with_score(item, ent))
    for st in row.get("stances", ()):
        label = st.get("label")
        if label not in schema.stance_labels:
            raise SchemaError(
                f"prediction for {segment_id!r}: stance label {label!r} is not in config {schema.name!r} "
                f"({', '.join(schema.stance_labels) or 'no stance labels'})."
            )
        if schema.stance_per_region:
            key = (st.get("target_start"), st.get("target_end"))
            if key not in regions:
                raise SchemaError(
                    f"prediction for {segment_id!r}: stance target {list(key)} is not one of the predicted entities; "
                    "a per-region stance needs its entity span in 'entities'."
                )
            s0, e0 = key
            out.append(_with_score({
                "id": regions[key], "from_name": schema.stance_from_name, "to_name": schema.to_name, "type": "choices",
                "value": {"start": s0, "end": e0,
                          "text": text[s0:e0], "choices": [label]},
            }, st))
        else:
            out.append(_with_score({"id": _region_id(segment_id, "stance", label), "from_name": schema.stance_from_name,
                                    "to_name": schema.to_name, "type": "choices", "value": {"choices": [label]}}, st))
    if not out and "entities" in row and schema.no_entities_from_name:
        # a labelled segment with no entity says so with the config's explicit choice: an empty
        # submission does not vote (normalise counts it as empty)
        out.append({"id": _region_id(segment_id, "no_entities"), "from_name": schema.no_entities_from_name,
                    "to_name": schema.to_name, "type": "choices", "value": {"choices": [schema.no_entities_value]}})
    return out


def prediction_score(row: Mapping[str, Any]) -> float | None:
    """The ``score`` of a predictions row (a task's) or of one of its entities or stances (a region's)
    as a float, or None when it is not a number."""
    score = row.get("score")
    return float(score) if isinstance(score, (int, float)) and not isinstance(score, bool) else None


def _with_score(item: dict[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """``item`` with the region's ``score`` (a model's confidence in it) when the row gives a number."""
    score = prediction_score(given)
    if score is not None:
        item["score"] = score
    return item


def _target_region(schema: LabelSchema, segment_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
    text, s0, e0 = data["text"], data["target_start"], data["target_end"]
    return {
        "id": _region_id(segment_id, "target", s0, e0), "from_name": schema.target_from_name,
        "to_name": schema.to_name, "type": "labels", "readonly": True,
        "value": {"start": s0, "end": e0,
                  "text": text[s0:e0], "labels": ["TARGET"]},
    }


def meta_line(source: Any, date: Any) -> str:
    """What the annotator is shown under the title: the parts that exist, never an empty "Published:".

    ``"Reuters · Published: 2024-07-15"``, ``"Reuters"``, ``"Published: 2024-07-15"`` or ``""``.
    """
    parts = [str(source).strip() if isinstance(source, str) and source.strip() else ""]
    parts.append(f"Published: {str(date).strip()}" if date is not None and str(date).strip() else "")
    return " · ".join(part for part in parts if part)


def with_context(rows: Iterable[Any]) -> Iterator[Any]:
    """The rows with ``context_before``/``context_after``: the texts of the neighbouring rows of the same article.

    Streaming (one row of look-ahead): neighbours are taken in the rows' order (``segments.jsonl``
    order); a row that already carries a context keeps it; the first and last segment of an article
    get ``""`` on their open side. Each row is copied (the input rows are left as they are); what is
    not a mapping passes through unchanged, for the caller to refuse.
    """

    def text_of(other: Any, article: Any) -> str:
        if isinstance(other, Mapping) and other.get("article_id") == article and isinstance(other.get("text"), str):
            return other["text"]
        return ""

    it = iter(rows)
    before: Any = None
    current = next(it, _END)
    while current is not _END:
        after = next(it, _END)
        if isinstance(current, Mapping):
            art = current.get("article_id")
            row = dict(current)
            row.setdefault("context_before", text_of(before, art))
            row.setdefault("context_after", text_of(None if after is _END else after, art))
            yield row
        else:
            yield current
        before, current = current, after


_END = object()


def task_data(schema: LabelSchema, segment: Segment, row: Mapping[str, Any],
              article_meta: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The task ``data`` for one segment (keys in a fixed order).

    ``title``/``date``/``source`` come from the row, else from ``article_meta[article_id]``, else
    ``""`` (Label Studio needs every variable the config shows); ``meta`` is the line shown under
    the title (:func:`meta_line`: only the parts that exist). ``context_before``/``context_after``
    (the neighbouring segments, see :func:`with_context`) come from the row, else ``""``. With a
    given target the row must carry ``target``, ``target_start``, ``target_end`` (code points in
    the segment text).

    Raises
    ------
    SchemaError
        Missing or inconsistent target fields.
    """
    meta = (article_meta or {}).get(segment.article_id, {})
    date = row.get("date") or meta.get("date") or ""
    source = row.get("source") or meta.get("source") or ""
    data: dict[str, Any] = {
        "text": segment.text,
        "segment_id": segment.id,
        "article_id": segment.article_id,
        "start": segment.start,
        "end": segment.end,
        "title": row.get("title") or meta.get("title") or "",
        "date": date,
        "source": source,
        "meta": meta_line(source, date),
        "context_before": row.get("context_before") or "",
        "context_after": row.get("context_after") or "",
    }
    if schema.has_target and schema.target_kind == "given":
        tgt = row.get("target")
        if not isinstance(tgt, str) or not tgt.strip():
            raise SchemaError(f"segment {segment.id!r}: config {schema.name!r} needs the given target (a headline, a "
                              f"claim, a topic) as a non-empty string 'target' in the row; got {tgt!r}.")
        data["target"] = tgt  # shown above the text; never part of it, no offsets
    elif schema.has_target:
        tgt, ts, te = row.get("target"), row.get("target_start"), row.get("target_end")
        if not isinstance(tgt, str) or not isinstance(ts, int) or not isinstance(te, int):
            raise SchemaError(
                f"segment {segment.id!r}: config {schema.name!r} needs target, target_start, target_end in the row; "
                f"got {tgt!r}, {ts!r}, {te!r}."
            )
        if not (0 <= ts < te <= len(segment.text)) or segment.text[ts:te] != tgt:
            raise SchemaError(
                f"segment {segment.id!r}: text[{ts}:{te}] is {segment.text[ts:te] if 0 <= ts <= te else ''!r}, "
                f"not the target {tgt!r}; target offsets are code points in the segment text."
            )
        data.update({"target": tgt, "target_start": ts, "target_end": te})
    if segment.tokens is not None:  # a corpus's own tokens, for build (normalise carries them to gold)
        data["tokens"] = [list(t) for t in segment.tokens]
    for name in schema.data_fields:
        data.setdefault(name, "")
    return data

