"""The results of one usable annotation: entity spans and stances, by the config's controls.

Input
    One annotation chosen by :mod:`.annotations` (its ``result`` list), the task text
    (:class:`~.spans._TextIndex`) and, for configs with a given target, the task's target offsets.
Output
    :class:`_Parsed`: the annotation's entities ``{(start, end, label): text}`` and stances
    ``{(target_start, target_end): label}``; each result not kept is a :class:`Rejection` with its
    reason, counted in the run's :class:`~.report.Counts`.
Invariants
    Label names come from the schema only. Every result read is kept or rejected once
    (``results.read == kept + rejected``). A stance is joined to the span with the same region id
    in the same annotation (per-region configs) or to the task's target (configs with a target).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Mapping, NamedTuple

from ..records import Rejection
from .report import STAGE
from .spans import SpanRules, _TextIndex


class GivenTarget(NamedTuple):
    """The key of a stance toward a target given as task data outside the text (a headline, a claim,
    a topic): its text, where a span target's key is its offsets ``(target_start, target_end)``."""

    text: str


@dataclass(slots=True)
class _Parsed:
    """One usable annotation after its results were read."""

    annotator: str
    ann_id: Any
    ground_truth: bool
    entities: dict[tuple[int, int, str], str]  # (start, end, label) -> text
    stances: dict[tuple[int, int] | GivenTarget, str]  # (target_start, target_end) or the given target -> label
    adjudicator: bool = False  # made by a team member named as adjudicator (see annotations.Team)

    @property
    def decisive(self) -> bool:
        """Gold follows it, and it stays out of inter-annotator agreement (ground truth or an adjudicator's)."""
        return self.ground_truth or self.adjudicator


_RESULT_KEYS = ("from_name", "to_name", "type", "value", "id")
_RESULT_FIELDS = itemgetter(*_RESULT_KEYS)
_SPAN_KEYS = ("start", "end", "text", "labels")
_SPAN_FIELDS = itemgetter(*_SPAN_KEYS)


def _short(value: Mapping[str, Any]) -> str:
    return json.dumps({k: value.get(k) for k in ("start", "end", "text") if k in value}, ensure_ascii=False)[:160]


class _Annotation:
    """What reading one annotation needs to remember: where it is, its rejections, its spans."""

    __slots__ = ("ann", "where", "rejections", "entities", "region_spans", "stance_items", "kept")

    def __init__(self, ann: dict, where: str, rejections: list) -> None:
        self.ann, self.where, self.rejections = ann, where, rejections
        self.entities: dict[tuple[int, int, str], str] = {}
        self.region_spans: dict[Any, tuple[int, int] | None] = {}  # region id -> target offsets (None: rejected)
        self.stance_items: list[tuple[Any, dict]] = []
        self.kept = 0


class ResultReader:
    """Reads annotations' results for one schema, counting into ``counts`` (rules: package docstring)."""

    def __init__(self, schema: Any, counts: Any, spans: SpanRules) -> None:
        self.schema = schema
        self.counts = counts
        self.spans = spans
        self.entity_labels = frozenset(schema.entity_labels)
        self.stance_labels = frozenset(schema.stance_labels)
        # what each control's results are (on a name clash: target marker, then stance, then entity)
        self.kinds = {
            name: kind
            for name, kind in (
                (schema.entity_from_name, "entity"),
                (schema.stance_from_name, "stance"),
                (schema.target_from_name, "target"),
                (getattr(schema, "no_entities_from_name", None), "no_entities"),
            )
            if name
        }
        self.count_names = True  # count from_names until the config is confirmed (see Normaliser._check_config)

    def reject(self, a: _Annotation, reason: str, r: Any, detail: str) -> None:
        self.counts.res_rej[reason] += 1
        rid = r.get("id") if isinstance(r, dict) else None
        a.rejections.append(Rejection(STAGE, f"{a.where} annotation {a.ann.get('id')} result {rid}", reason, detail))

    def read(
        self, ann: dict, annotator: str, ti: _TextIndex, target: tuple[int, int] | GivenTarget | None, where: str,
        rejections: list,
    ) -> _Parsed:
        """Read one usable annotation's results into entity spans and stances."""
        a = _Annotation(ann, where, rejections)
        results = ann.get("result") or []
        self.counts.res_read += len(results)
        self.spans.siblings = results  # (evidence of the annotation's offsets convention, see SpanRules.annotation)
        reject, kinds, to_name, fields = self.reject, self.kinds, self.schema.to_name, _RESULT_FIELDS
        names = self.counts.from_names_seen if self.count_names else None
        no_entities = False
        for r in results:
            try:
                fn, tn, rtype, value, rid = fields(r)  # a result with all five keys (the usual case)
            except (KeyError, TypeError):
                if not isinstance(r, dict):
                    reject(a, "bad_result", r, f"result is {type(r).__name__}, expected an object")
                    continue
                fn, tn, rtype, value, rid = (r.get(k) for k in _RESULT_KEYS)
            if rid is not None and type(rid) is not str and (not isinstance(rid, (str, int)) or isinstance(rid, bool)):
                reject(a, "bad_region_id", r, f"id is {rid!r}, expected a string")
                continue
            if names is not None and isinstance(fn, str):
                names[fn] += 1
            kind = kinds.get(fn)  # "entity", "stance", "target" or None (not a control of the config)
            if kind is None:
                if rtype == "relation":
                    reject(a, "unsupported_result_type", r, "relations are not part of the schema")
                else:
                    reject(a, "unknown_from_name", r, f"from_name {fn!r} is not a control of config {self.schema.name!r}")
            elif tn != to_name:
                reject(a, "wrong_to_name", r, f"to_name {tn!r}, expected {to_name!r}")
            elif not isinstance(value, dict):
                reject(a, "bad_value", r, f"value is {type(value).__name__}, expected an object")
            elif kind == "target":
                self.counts.res_rej["target_marker"] += 1  # the pre-marked target is task data, not an annotation
            elif kind == "no_entities":
                # the explicit "no entities in this segment": a vote for no entity (kept; spans beside it win)
                a.kept += 1
                self.counts.notes["no_entities_choice"] += 1
                no_entities = True
            elif rtype != ("choices" if kind == "stance" else "labels"):
                reject(a, "wrong_result_type", r, f"type {rtype!r} for {kind} control {fn!r}, expected "
                       f"{'choices' if kind == 'stance' else 'labels'!r}")
                if kind == "entity":
                    a.region_spans[rid] = None
            elif kind == "stance":
                a.stance_items.append((rid, r))
            else:
                self._entity(a, r, value, rid, ti)
        if no_entities and a.entities:
            self.counts.notes["no_entities_choice_with_spans"] += 1
        stances, conflicted = self._stances(a, target) if a.stance_items else ({}, set())
        self.counts.res_kept += a.kept
        self._note_missing_stances(a, stances, conflicted)
        st = self.counts.stats[annotator]
        st.entities += len(a.entities)
        st.stances += len(stances)
        return _Parsed(annotator, ann.get("id"), bool(ann.get("ground_truth")), a.entities, stances)

    def _entity(self, a: _Annotation, r: dict, value: dict, rid: Any, ti: _TextIndex) -> None:
        """One ``labels`` result of the entity control: its labels, then its offsets."""
        try:
            start, end, vt, labels = _SPAN_FIELDS(value)  # a value with all four keys (the usual case)
        except KeyError:
            start, end, vt, labels = (value.get(k) for k in _SPAN_KEYS)
        if not isinstance(labels, list) or not labels:
            self.reject(a, "no_label", r, f"value.labels is {labels!r}")
            a.region_spans[rid] = None
            return
        if not self.entity_labels.issuperset(labels):
            bad = [lab for lab in labels if lab not in self.entity_labels]
            self.reject(a, "unknown_label", r,
                        f"label(s) {bad!r} not in config {self.schema.name!r} ({', '.join(self.schema.entity_labels)})")
            a.region_spans[rid] = None
            return
        span = self.spans.span(start, end, vt, ti)
        if isinstance(span, str):
            self.reject(a, span, r, f"value {_short(value)} over text of {ti.n} code points")
            a.region_spans[rid] = None
            return
        s, e = span
        sl = ti.text[s:e]
        a.kept += 1
        if len(labels) > 1:
            self.counts.fixes["multi_label_region"] += 1
        entities = a.entities
        for lab in labels:
            key = (s, e, lab)
            if key in entities:
                self.counts.fixes["duplicate_span"] += 1
            entities[key] = sl
        a.region_spans[rid] = (s, e)

    def _stances(self, a: _Annotation, target: tuple[int, int] | None) -> tuple[dict, set]:
        """The annotation's stances by target, and the targets given conflicting stances."""
        first: dict[tuple[int, int], tuple[str, dict]] = {}  # target -> its first (label, result)
        more: dict[tuple[int, int], list[tuple[str, dict]]] = {}  # target -> the others
        for rid, r in a.stance_items:
            tgt = self._stance_target(a, rid, r, target)
            if tgt is None:
                continue
            if tgt not in first:
                first[tgt] = (r["value"]["choices"][0], r)
            else:
                more.setdefault(tgt, []).append((r["value"]["choices"][0], r))
        stances: dict[tuple[int, int], str] = {}
        conflicted: set[tuple[int, int]] = set()
        for tgt, item in first.items():
            if tgt in more:
                items = [item, *more[tgt]]
                labs = {lab for lab, _ in items}
                if len(labs) > 1:
                    for _, r in items:
                        self.reject(a, "conflicting_stance", r, f"stances {sorted(labs)} for one target in one annotation")
                    conflicted.add(tgt)
                    continue
                self.counts.res_rej["duplicate_stance"] += len(items) - 1
                for _, r in items[1:]:
                    a.rejections.append(Rejection(
                        STAGE, f"{a.where} annotation {a.ann.get('id')} result {r.get('id')}", "duplicate_stance",
                        "same stance twice",
                    ))
            a.kept += 1
            stances[tgt] = item[0]
        return stances, conflicted

    def _stance_target(self, a: _Annotation, rid: Any, r: dict, target: tuple[int, int] | None):
        """The target of one ``choices`` result with a single known label, or None (rejected)."""
        choices = r["value"].get("choices")
        if not isinstance(choices, list) or len(choices) != 1:
            self.reject(a, "stance_not_single_choice", r, f"value.choices is {choices!r}; expected one choice")
            return None
        if choices[0] not in self.stance_labels:
            self.reject(a, "unknown_stance_label", r,
                        f"choice {choices[0]!r} not in config {self.schema.name!r} ({', '.join(self.schema.stance_labels)})")
            return None
        if not self.schema.stance_per_region:
            return target
        if rid not in a.region_spans:
            self.reject(a, "stance_orphan", r, f"no entity region with id {rid!r} in this annotation")
            return None
        tgt = a.region_spans[rid]
        if tgt is None:
            self.reject(a, "stance_target_rejected", r, f"its entity region {rid!r} was rejected")
        return tgt

    def _note_missing_stances(self, a: _Annotation, stances: dict, conflicted: set) -> None:
        if self.schema.stance_per_region:
            if len(stances) < len(a.region_spans):  # else every kept span has its stance
                targets = set(a.region_spans.values())
                targets.discard(None)
                n = len(targets - stances.keys() - conflicted)
                if n:
                    self.counts.notes["span_without_stance"] += n
        elif self.schema.has_target and not stances and not conflicted:
            self.counts.notes["annotation_without_stance"] += 1
