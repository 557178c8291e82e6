"""What an import makes: :class:`Corpus` and its :class:`CorpusReport`; pinning to an official split; writing.

Input
    The articles, segments and annotations a reader made, with its counts (see :mod:`.ledger`).
Output
    A :class:`Corpus`: :class:`~dataset_builder.records.Article` and
    :class:`~dataset_builder.records.Segment` records, one
    :class:`~dataset_builder.records.Annotation` per segment holding the corpus's labels, and a
    :class:`CorpusReport`; on disk (:func:`write_corpus`) the files of :data:`OUTPUT_FILES`.
Invariants
    The records check themselves: ``annotations[i]`` belongs to ``segments[i]``, every segment's
    article is in the corpus and ``article.text[s.start:s.end] == s.text``, and the report adds up
    (read = kept + rejected, for units and for labels). Identical corpora are written byte for byte
    identically. :func:`pin_split` pins every article to one official split (``meta["split"]``).
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import DatasetBuilderError
from ..jsonl import write_jsonl
from ..records import GOLD, SPLIT_NAMES, SPLIT_PIN_KEY, Annotation, Article, Rejection, Segment
from ..schema import LabelSchema
from .options import _check_options


@dataclass(frozen=True)
class CorpusReport:
    """What a reader read, kept and rejected.

    Two ledgers, each adding up: ``read == kept + len(rejections)`` for the corpus's units
    (``unit``: sentences, targets or tweets), and ``labels_read == labels_kept +
    sum(labels_dropped.values())`` for its labels (entity chunks or stance labels).
    ``label_counts`` counts the kept labels by config label; ``notes`` counts things kept but worth
    knowing (for example ``further_mentions_ignored``).
    """

    format: str
    source: str
    config: str
    annotator: str
    unit: str
    encoding: str
    scheme: str | None
    read: int
    kept: int
    rejections: tuple[Rejection, ...]
    articles: int
    segments: int
    labels_read: int
    labels_kept: int
    labels_dropped: Mapping[str, int] = field(default_factory=dict)
    label_counts: Mapping[str, int] = field(default_factory=dict)
    notes: Mapping[str, int] = field(default_factory=dict)
    label_map: Mapping[str, str] = field(default_factory=dict)
    split: str | None = None

    def __post_init__(self) -> None:
        if self.split is not None and self.split not in SPLIT_NAMES:
            raise DatasetBuilderError(f"CorpusReport.split must be one of {', '.join(SPLIT_NAMES)} or None; "
                                      f"got {self.split!r}.")
        if self.read != self.kept + len(self.rejections):
            raise DatasetBuilderError(
                f"CorpusReport does not add up: {self.unit} read {self.read} != kept {self.kept} + "
                f"rejected {len(self.rejections)}."
            )
        dropped = sum(self.labels_dropped.values())
        if self.labels_read != self.labels_kept + dropped:
            raise DatasetBuilderError(
                f"CorpusReport does not add up: labels read {self.labels_read} != kept {self.labels_kept} + "
                f"dropped {dropped}."
            )
        for name in ("labels_dropped", "label_counts", "notes", "label_map"):
            object.__setattr__(self, name, dict(sorted(getattr(self, name).items())))

    def rejected_by_reason(self) -> dict[str, int]:
        return dict(sorted(Counter(r.reason for r in self.rejections).items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format, "source": self.source, "config": self.config, "annotator": self.annotator,
            "encoding": self.encoding, "scheme": self.scheme, "unit": self.unit,
            "read": self.read, "kept": self.kept, "rejected": len(self.rejections),
            "rejected_by_reason": self.rejected_by_reason(),
            "articles": self.articles, "segments": self.segments,
            "labels_read": self.labels_read, "labels_kept": self.labels_kept,
            "labels_dropped": dict(self.labels_dropped), "label_counts": dict(self.label_counts),
            "label_map": dict(self.label_map), "notes": dict(self.notes), "split": self.split,
            "rejections": [r.to_dict() for r in self.rejections],
        }

    def summary(self) -> str:
        """One line, e.g. ``conll: 14041 sentences read, 14041 kept, 0 rejected; ...``."""
        labels = ", ".join(f"{k} {v}" for k, v in self.label_counts.items()) or "none"
        dropped = sum(self.labels_dropped.values())
        scheme = f", {self.scheme.upper()}" if self.scheme else ""
        pinned = f"; every article pinned to {self.split}" if self.split else ""
        return (
            f"{self.format} ({self.encoding}{scheme}): {self.read} {self.unit}s read, {self.kept} kept, "
            f"{len(self.rejections)} rejected; {self.articles} articles, {self.segments} segments; "
            f"labels {self.labels_kept} kept ({labels}), {dropped} dropped{pinned}"
        )


@dataclass(frozen=True)
class Corpus:
    """An imported corpus: articles, segments and the corpus's labels as annotations.

    Invariants: ``annotations[i]`` belongs to ``segments[i]`` (same id, article and text); every
    segment's article is in ``articles`` and ``article.text[start:end] == segment.text``; with a
    config that gives the target (``has_target``) every annotation holds exactly one stance, whose
    target is the task's target, of the config's kind (a span of the text, or given text outside it).
    """

    format: str
    source: str
    schema: LabelSchema
    annotator: str
    articles: tuple[Article, ...]
    segments: tuple[Segment, ...]
    annotations: tuple[Annotation, ...]
    report: CorpusReport

    def __post_init__(self) -> None:
        if len(self.segments) != len(self.annotations):
            raise DatasetBuilderError(
                f"Corpus: {len(self.segments)} segments but {len(self.annotations)} annotations; one each expected."
            )
        by_id = {a.id: a for a in self.articles}
        if len(by_id) != len(self.articles):
            raise DatasetBuilderError("Corpus: two articles share an id.")
        seen: set[str] = set()
        for seg, ann in zip(self.segments, self.annotations):
            if seg.id in seen:
                raise DatasetBuilderError(f"Corpus: segment id {seg.id!r} occurs twice.")
            seen.add(seg.id)
            article = by_id.get(seg.article_id)
            if article is None:
                raise DatasetBuilderError(f"Corpus: segment {seg.id!r} names an unknown article {seg.article_id!r}.")
            seg.check_against(article)
            if (ann.segment_id, ann.article_id, ann.text) != (seg.id, seg.article_id, seg.text):
                raise DatasetBuilderError(f"Corpus: the annotation at segment {seg.id!r} belongs to {ann.segment_id!r}.")
            if self.schema.has_target and len(ann.stances) != 1:
                raise DatasetBuilderError(
                    f"Corpus: segment {seg.id!r} has {len(ann.stances)} stances; a given-target config needs one."
                )
            if self.schema.has_target and ann.stances[0].given != (self.schema.target_kind == "given"):
                raise DatasetBuilderError(
                    f"Corpus: segment {seg.id!r} has a {ann.stances[0].target_kind} target; config "
                    f"{self.schema.name!r} takes a {self.schema.target_kind} target."
                )

    @property
    def has_target(self) -> bool:
        return self.schema.has_target

    def segment_rows(self) -> list[dict[str, Any]]:
        """Rows for ``segments.jsonl`` / push: the segment, the article's title and date and, with
        a config that gives the target, ``target`` (and ``target_start``/``target_end`` for a span target)."""
        meta = {a.id: a for a in self.articles}
        rows = []
        for seg, ann in zip(self.segments, self.annotations):
            art = meta[seg.article_id]
            row: dict[str, Any] = {**seg.to_dict(), "title": art.title, "date": art.date}
            if self.has_target:
                st = ann.stances[0]
                row["target"] = st.target_text
                if not st.given:
                    row.update({"target_start": st.target_start, "target_end": st.target_end})
            rows.append(row)
        return rows

    def label_rows(self) -> list[dict[str, Any]]:
        """The labels as push's pre-annotation rows (``{segment_id, entities, stances}``, code points).

        A given-target config's stance is per task (no target in the row: the target is task data).
        """
        rows = []
        for ann in self.annotations:
            if self.has_target:
                stances = [{"label": s.label} for s in ann.stances]
            else:
                stances = [{"target_start": s.target_start, "target_end": s.target_end, "label": s.label}
                           for s in ann.stances]
            rows.append({
                "segment_id": ann.segment_id,
                "entities": [{"start": e.start, "end": e.end, "label": e.label} for e in ann.entities],
                "stances": stances,
            })
        return rows


def pin_split(corpus: Corpus, split: str) -> Corpus:
    """The same corpus with every article pinned to the official ``split`` (``meta["split"]``).

    The ``split`` stage puts a pinned article in that split, always; the report records the split.

    Raises
    ------
    InputError
        ``split`` is not train, validation or test.
    """
    _check_options("pin_split", split=(split, SPLIT_NAMES))
    articles = tuple(dataclasses.replace(a, meta={**a.meta, SPLIT_PIN_KEY: split}) for a in corpus.articles)
    return dataclasses.replace(corpus, articles=articles, report=dataclasses.replace(corpus.report, split=split))


OUTPUT_FILES = ("articles.jsonl", "segments.jsonl", "annotations.jsonl", "gold.jsonl", "report.json")


def write_corpus(corpus: Corpus, out_dir: str | Path) -> dict[str, Path]:
    """Write ``articles.jsonl``, ``segments.jsonl`` (push rows), ``annotations.jsonl`` (the corpus's
    labels as :class:`Annotation` records), ``gold.jsonl`` and ``report.json`` into ``out_dir``;
    returns the paths.

    ``gold.jsonl`` holds the corpus's labels as gold records (``annotator == "gold"``, with the
    segment's own tokens), so a corpus that is only converted goes from import to dataset without
    Label Studio: ``split gold.jsonl --articles articles.jsonl`` then ``build gold.jsonl``. The
    route through Label Studio (push, annotate, pull, normalise) stays the default. Byte-identical
    for identical corpora.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in OUTPUT_FILES}
    write_jsonl(paths["articles.jsonl"], (a.to_dict() for a in corpus.articles))
    write_jsonl(paths["segments.jsonl"], corpus.segment_rows())
    write_jsonl(paths["annotations.jsonl"], (a.to_dict() for a in corpus.annotations))
    tokens = {s.id: s.tokens for s in corpus.segments}
    write_jsonl(paths["gold.jsonl"], (
        dataclasses.replace(a, annotator=GOLD, ground_truth=False, adjudicator=False,
                            tokens=a.tokens or tokens.get(a.segment_id)).to_dict()
        for a in corpus.annotations))
    paths["report.json"].write_text(json.dumps(corpus.report.to_dict(), ensure_ascii=False, indent=2) + "\n",
                                    encoding="utf-8", newline="\n")
    return paths
