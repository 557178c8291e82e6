"""The output of one task: its JSON lines, the only form normalise writes its records in.

Input
    What :meth:`~.normaliser.Normaliser.decide` made of one task (:class:`_TaskOut`): the usable
    annotations, the gold (or None), the rejections and unresolved items.
Output
    The lines of the four JSONL files (``annotations.jsonl``, ``gold.jsonl``,
    ``rejections.jsonl``, ``unresolved.jsonl``), written by :func:`task_lines`, and, for the
    in-memory API, the :class:`TaskResult` records read back from those same lines
    (:func:`task_result`).
Invariants
    An annotation line is the JSONL form of :meth:`Annotation.to_dict` (``jsonl.dumps``: same key
    order, separators and escaping; spans sorted as :class:`Annotation` sorts them). It is written
    here without building the records (each span's JSON once per task); the records that
    :func:`task_result` gives are parsed from these lines, so records and files cannot differ, and
    every span passes the records' checks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any, Iterable, Mapping, Sequence

from ..records import GOLD, Annotation, Rejection
from .results import GivenTarget, _Parsed

_GROUND_TRUTH = ', "ground_truth": true'  # Annotation.to_dict's keys, each only when true
_ADJUDICATOR = ', "adjudicator": true'
_DISPUTED = ', "entities_disputed": true'

OUTPUT_FILES = ("annotations.jsonl", "gold.jsonl", "rejections.jsonl", "unresolved.jsonl", "report.json", "report.txt")
_LINE_FILES = OUTPUT_FILES[:4]
# One encoder for every output line: the same bytes as jsonl.dumps, without building an encoder per call.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
_encode_str = encode_basestring  # how _encode writes a string (ensure_ascii=False)



@dataclass(frozen=True)
class TaskResult:
    """Everything one task gave: per-annotator records, gold (or None), rejections, unresolved items."""

    task_id: int | None
    index: int
    annotations: tuple[Annotation, ...]
    gold: Annotation | None
    rejections: tuple[Rejection, ...]
    unresolved: tuple[Mapping[str, Any], ...]


# --------------------------------------------------------------------------------------------
# State that grows with the export: bounded by moving it to disk
# --------------------------------------------------------------------------------------------


class _TaskOut:
    """What :meth:`Normaliser.decide` made of one task, before any line is written.

    ``parsed`` are the usable annotations (per-annotator lines, in annotator order), ``gold`` is
    ``(entity keys, {target: label}, entities disputed)`` or None.
    """

    __slots__ = ("task_id", "index", "segment_id", "article_id", "text", "parsed", "gold", "rejections", "unresolved",
                 "tokens")

    def __init__(
        self, task_id: int | None, index: int, segment_id: str | None, article_id: str | None, text: str | None,
        parsed: Sequence[_Parsed], gold: tuple[list, dict, bool] | None, rejections: list[Rejection],
        unresolved: tuple[Mapping[str, Any], ...],
    ) -> None:
        self.task_id, self.index, self.segment_id, self.article_id, self.text = (
            task_id, index, segment_id, article_id, text)
        self.parsed, self.gold, self.rejections, self.unresolved = parsed, gold, rejections, unresolved
        self.tokens: tuple[tuple[int, int], ...] | None = None  # the task's given tokens, written on the gold line

    def lines(self) -> tuple[str, str]:
        """``(annotations.jsonl lines, gold.jsonl line)``, each ``\\n``-terminated (empty when none).

        Byte for byte what ``_encode(record.to_dict())`` gives for the records of :meth:`result`
        (same key order, separators and escaping; spans sorted as :class:`Annotation` sorts them);
        the tests compare the two.
        """
        if not self.parsed:
            return "", ""
        enc, text = _encode_str, self.text
        head = (
            f'{{"segment_id": {enc(self.segment_id)}, "article_id": {enc(self.article_id)}, '
            f'"task_id": {"null" if self.task_id is None else int.__repr__(self.task_id)}, "annotator": '
        )
        body = f', "text": {enc(text)}, "entities": ['
        # an entity's or a stance's JSON, and the JSON of a whole list, each written once per task:
        # annotators who agree (and the gold that follows them) share them
        item_json: dict[tuple, str] = {}
        list_json: dict[tuple, str] = {}

        def entity(key: tuple[int, int, str]) -> str:
            s, e, lab = key
            return f'{{"start": {s}, "end": {e}, "label": {enc(lab)}, "text": {enc(text[s:e])}}}'

        def stance(item: tuple[tuple[int, int] | GivenTarget, str]) -> str:
            tgt, lab = item
            if isinstance(tgt, GivenTarget):  # StanceLabel.to_dict of a given target: no offsets
                return f'{{"target_text": {enc(tgt.text)}, "label": {enc(lab)}}}'
            s, e = tgt
            return f'{{"target_start": {s}, "target_end": {e}, "target_text": {enc(text[s:e])}, "label": {enc(lab)}}}'

        def joined(items: tuple, write: Any) -> str:
            out = list_json.get(items)
            if out is None:
                parts = []
                for item in items:
                    j = item_json.get(item)
                    if j is None:
                        j = item_json[item] = write(item)
                    parts.append(j)
                out = list_json[items] = ", ".join(parts)
            return out

        def line(
            annotator: str, ents: Iterable[tuple[int, int, str]], sts: Iterable[tuple[tuple[int, int], str]],
            flags: str = "",
        ) -> str:
            return (f'{head}{enc(annotator)}{body}{joined(tuple(sorted(ents)), entity)}], "stances": '
                    f'[{joined(tuple(sorted(sts)), stance)}]{flags}}}\n')

        ann_lines = "".join([
            line(p.annotator, p.entities, p.stances.items(),
                 (_GROUND_TRUTH if p.ground_truth else "") + (_ADJUDICATOR if p.adjudicator else ""))
            for p in self.parsed
        ])
        gold_line = ""
        if self.gold is not None:
            gold_ents, gold_st, disputed = self.gold
            tokens = "" if self.tokens is None else ', "tokens": [' + ", ".join(f"[{a}, {b}]" for a, b in self.tokens) + "]"
            gold_line = line(GOLD, gold_ents, gold_st.items(), (_DISPUTED if disputed else "") + tokens)
        return ann_lines, gold_line



def task_lines(out: _TaskOut) -> tuple[str, str, str, str]:
    """The task's lines of ``annotations.jsonl``, ``gold.jsonl``, ``rejections.jsonl`` and ``unresolved.jsonl``."""
    ann_lines, gold_line = out.lines()
    rej = "".join([_encode(r.to_dict()) + "\n" for r in out.rejections]) if out.rejections else ""
    unres = "".join([_encode(dict(u)) + "\n" for u in out.unresolved]) if out.unresolved else ""
    return ann_lines, gold_line, rej, unres


def task_result(out: _TaskOut) -> TaskResult:
    """The task's records, read back from the lines :func:`task_lines` writes for it."""
    ann_lines, gold_line = out.lines()
    records = tuple(Annotation.from_dict(json.loads(line)) for line in ann_lines.split("\n") if line)  # (not splitlines: U+2028 is not escaped)
    gold = Annotation.from_dict(json.loads(gold_line)) if gold_line else None
    return TaskResult(out.task_id, out.index, records, gold, tuple(out.rejections), out.unresolved)
