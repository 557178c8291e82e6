"""The ``annotations`` configuration: every annotator's labels per segment, for studying disagreement.

Input
    The per-annotator :class:`~dataset_builder.records.Annotation` records that ``normalise``
    writes to ``annotations.jsonl`` (``adjudicator`` marks an adjudicator's annotation,
    ``ground_truth`` an imported gold source's), the gold records, and the split of each article.
Output
    One row per (segment, annotator) and one ``gold`` row per segment with gold, for the segments of
    articles in a split: ``annotator`` (the pseudonymous handle ``normalise`` gives: a Label Studio
    username, never an e-mail), ``role`` (``annotator``, ``adjudicator``, ``ground_truth`` for an
    imported gold source, or ``gold``), ``gold_source`` of the segment (``adjudicator`` or
    ``ground_truth`` when such an annotation decided it, ``vote`` otherwise, null when the segment
    has no gold: an unresolved tie), the entity spans and stances. Also the card's figures:
    annotations per handle, annotators per segment, agreement per label (annotators only: the
    adjudicator and imported gold stay out of it).

Invariants: rows sorted by article, segment (numbers as numbers), role, annotator: the same
records give the same rows. Held-out articles are left out, like in the other configurations.
Agreement per label reuses ``normalise``'s tallies (:class:`~dataset_builder.normalise.agreement.Agreement`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Mapping, Sequence

import pyarrow as pa

from ..normalise.agreement import Agreement
from ..normalise.results import _Parsed
from ..records import GOLD, Annotation, SPLIT_NAMES
from ..splits import natural_key

ROLES = ("adjudicator", "ground_truth", "annotator", "gold")


def _role(ann: Annotation) -> str:
    return "adjudicator" if ann.adjudicator else "ground_truth" if ann.ground_truth else "annotator"


def annotation_rows(
    annotations: Sequence[Annotation], gold: Sequence[Annotation], split_of: Mapping[str, str]
) -> dict[str, list[dict[str, Any]]]:
    """The rows of each split (see the module docstring)."""
    by_segment: dict[str, list[Annotation]] = {}
    for ann in annotations:
        if ann.annotator != GOLD and ann.article_id in split_of:
            by_segment.setdefault(ann.segment_id, []).append(ann)
    gold_of = {g.segment_id: g for g in gold if g.article_id in split_of}
    rows: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLIT_NAMES}
    segments = sorted(set(by_segment) | set(gold_of), key=lambda s: (_article(s, by_segment, gold_of), natural_key(s)))
    for seg in segments:
        anns = by_segment.get(seg, [])
        source = None
        if seg in gold_of:
            roles = {_role(a) for a in anns}
            source = "adjudicator" if "adjudicator" in roles else "ground_truth" if "ground_truth" in roles else "vote"
        entries = [(_role(a), a) for a in anns]
        if seg in gold_of:
            entries.append(("gold", gold_of[seg]))
        for role, ann in sorted(entries, key=lambda e: (ROLES.index(e[0]), natural_key(e[1].annotator))):
            rows[split_of[ann.article_id]].append({
                "id": f"{seg}/{ann.annotator}",
                "segment_id": seg,
                "article_id": ann.article_id,
                "text": ann.text,
                "annotator": ann.annotator,
                "role": role,
                "gold_source": source,
                "entities": [e.to_dict() for e in ann.entities],
                "stances": [s.to_dict() for s in ann.stances],
            })
    return rows


def _article(seg: str, by_segment: Mapping[str, list[Annotation]], gold_of: Mapping[str, Annotation]) -> str:
    return (by_segment.get(seg) or [gold_of[seg]])[0].article_id


def annotation_tables(rows: Mapping[str, list[dict[str, Any]]], features: Any) -> dict[str, pa.Table]:
    """One Arrow table per split with the declared ``features``."""
    schema = features.arrow_schema
    return {s: pa.Table.from_pylist(rows[s], schema=schema) for s in SPLIT_NAMES}


def annotator_summary(rows: Mapping[str, list[dict[str, Any]]], schema: Any) -> dict[str, Any]:
    """The card's figures: annotations per handle and role, annotators per segment, agreement per label."""
    people = [r for s in SPLIT_NAMES for r in rows[s] if r["role"] != "gold"]
    per_handle = Counter((r["annotator"], r["role"]) for r in people)
    overlap = Counter(Counter(r["segment_id"] for r in people).values())
    gold_sources = Counter(r["gold_source"] for s in SPLIT_NAMES for r in rows[s] if r["role"] == "gold")
    return {
        "annotators": [{"handle": h, "role": role, "segments": n}
                       for (h, role), n in sorted(per_handle.items(), key=lambda kv: natural_key(kv[0][0]))],
        "annotators_per_segment": {str(k): overlap[k] for k in sorted(overlap)},
        "gold_sources": dict(sorted(gold_sources.items())),
        "agreement_per_label": _agreement_per_label(people, schema),
    }


def _agreement_per_label(people: Sequence[Mapping[str, Any]], schema: Any) -> list[dict[str, Any]]:
    """:meth:`Agreement.per_label` over the annotators' rows (adjudicators and imported gold left out)."""
    by_segment: dict[str, list[_Parsed]] = {}
    for r in people:
        if r["role"] != "annotator":
            continue
        by_segment.setdefault(r["segment_id"], []).append(_Parsed(
            r["annotator"], None, False,
            {(e["start"], e["end"], e["label"]): e["text"] for e in r["entities"]},
            {(s.get("target_start"), s.get("target_end"), s["target_text"]): s["label"] for s in r["stances"]},
        ))
    agreement = Agreement(_Labels(schema))
    for seg in sorted(by_segment, key=natural_key):
        agreement.add(sorted(by_segment[seg], key=lambda p: natural_key(p.annotator)))
    return agreement.per_label()


class _Labels:
    """The part of a schema :class:`Agreement` reads."""

    def __init__(self, schema: Any) -> None:
        self.entity_labels = tuple(getattr(schema, "entity_labels", ()) or ())
        self.stance_labels = tuple(getattr(schema, "stance_labels", ()) or ())
