"""Typed records that flow between the pipeline stages.

Every record is a frozen dataclass that checks itself in ``__post_init__``: a record that
breaks its invariant cannot exist. Offsets are half-open ``[start, end)`` Python code points
(never UTF-16 units; the ``label_studio`` and ``normalise`` packages convert at the boundary).

    Article ──segment──▶ Segment ──push/pull/normalise──▶ EntitySpan / StanceLabel / Annotation

``to_dict``/``from_dict`` give the JSONL form used between CLI stages; key order is fixed so
that outputs are byte-identical for identical inputs.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import OffsetError, SchemaError

SEGMENT_UNITS = ("sentence", "paragraph", "window")


def _check_str(name: str, value: Any, *, owner: str, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise SchemaError(f"{owner}.{name} must be a string; got {type(value).__name__} {value!r}.")


@dataclass(frozen=True)
class Article:
    """One news article after ingest.

    Invariants: ``id`` is non-empty; ``text`` is non-blank and Unicode NFC with ``\\n`` line ends.
    ``meta`` holds anything else the source carried (for example the boilerplate's date) with
    string keys; it is excluded from hashing but compared.
    """

    id: str
    text: str
    title: str | None = None
    date: str | None = None
    source: str | None = None
    url: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        _check_str("id", self.id, owner="Article")
        if not self.id:
            raise SchemaError("Article.id must not be empty.")
        _check_str("text", self.text, owner="Article")
        if not self.text.strip():
            raise SchemaError(f"Article {self.id!r} has no text (empty or whitespace only).")
        if not unicodedata.is_normalized("NFC", self.text):
            raise SchemaError(f"Article {self.id!r} text is not Unicode NFC; normalise it first.")
        if "\r" in self.text:
            raise SchemaError(f"Article {self.id!r} text contains '\\r'; line ends must be '\\n'.")
        for name in ("title", "date", "source", "url"):
            _check_str(name, getattr(self, name), owner="Article", optional=True)
        # A plain dict copy keeps the record independent of the caller's mapping.
        object.__setattr__(self, "meta", dict(self.meta))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "date": self.date,
            "source": self.source,
            "url": self.url,
            "meta": dict(sorted(self.meta.items())),
            "text": self.text,
        }

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> "Article":
        return cls(
            id=row["id"],
            text=row["text"],
            title=row.get("title"),
            date=row.get("date"),
            source=row.get("source"),
            url=row.get("url"),
            meta=row.get("meta") or {},
        )


@dataclass(frozen=True)
class Segment:
    """One annotation unit: a slice ``[start, end)`` of an article's text.

    Invariant: ``article.text[start:end] == text`` for the article it came from; the record
    itself checks what it can without the article (non-empty text, ``end - start == len(text)``).
    Use :meth:`check_against` where the article is at hand.
    """

    id: str
    article_id: str
    index: int
    start: int
    end: int
    text: str
    unit: str = "sentence"
    tokens: tuple[tuple[int, int], ...] | None = None  # given tokens ``[start, end)`` in ``text`` (a corpus's own)

    def __post_init__(self) -> None:
        _check_str("id", self.id, owner="Segment")
        _check_str("article_id", self.article_id, owner="Segment")
        _check_str("text", self.text, owner="Segment")
        if self.unit not in SEGMENT_UNITS:
            raise SchemaError(
                f"Segment.unit must be one of {', '.join(SEGMENT_UNITS)}; got {self.unit!r}."
            )
        for name in ("index", "start", "end"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise OffsetError(f"Segment {self.id!r}: {name} must be an int >= 0; got {value!r}.")
        if self.end <= self.start:
            raise OffsetError(
                f"Segment {self.id!r}: end ({self.end}) must be greater than start ({self.start})."
            )
        if self.end - self.start != len(self.text):
            raise OffsetError(
                f"Segment {self.id!r}: [{self.start}, {self.end}) spans {self.end - self.start} "
                f"code points but its text has {len(self.text)}."
            )
        object.__setattr__(self, "tokens", _checked_tokens(f"Segment {self.id!r}", self.tokens, self.text))

    def check_against(self, article: Article) -> None:
        """Raise :class:`OffsetError` unless ``article.text[start:end] == text``."""
        if article.id != self.article_id:
            raise OffsetError(f"Segment {self.id!r} belongs to {self.article_id!r}, not {article.id!r}.")
        if article.text[self.start : self.end] != self.text:
            raise OffsetError(
                f"Segment {self.id!r}: article {article.id!r} text[{self.start}:{self.end}] is "
                f"{article.text[self.start:self.end]!r}, segment text is {self.text!r}."
            )

    def to_dict(self) -> dict[str, Any]:
        # tokens only when given, so that the other segments' lines keep their bytes
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "tokens"}
        if self.tokens is not None:
            out["tokens"] = [list(t) for t in self.tokens]
        return out

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> "Segment":
        return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls) if f.name in row})


@dataclass(frozen=True)
class Rejection:
    """Something a stage read and did not keep, with where it came from and why."""

    stage: str
    source: str  # file, file:line, or task id
    reason: str  # short machine-friendly code, e.g. "empty_text"
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "source": self.source, "reason": self.reason, "detail": self.detail}


def _checked_tokens(owner: str, tokens: Any, text: str) -> tuple[tuple[int, int], ...] | None:
    """``tokens`` as a tuple of ``(start, end)`` pairs, checked: code points of ``text``, non-empty,
    in order and not overlapping, none starting or ending with whitespace; None stays None."""
    if tokens is None:
        return None
    out: list[tuple[int, int]] = []
    prev_end = 0
    for k, tok in enumerate(tokens):
        pair = tuple(tok) if isinstance(tok, (list, tuple)) else None
        if (pair is None or len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair)
                or not prev_end <= pair[0] < pair[1] <= len(text)):
            raise OffsetError(
                f"{owner}: token {k} is {tok!r}; tokens must be [start, end) code points of the text "
                f"(0 <= start < end <= {len(text)}), in order and not overlapping."
            )
        s, e = pair
        if text[s].isspace() or text[e - 1].isspace():
            raise OffsetError(f"{owner}: token {k} [{s}, {e}) is {text[s:e]!r}; a token neither starts nor ends with whitespace.")
        out.append((s, e))
        prev_end = e
    return tuple(out)


def _check_span(owner: str, start: Any, end: Any, text: str) -> None:
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise OffsetError(f"{owner}: {name} must be an int >= 0; got {value!r}.")
    if end <= start:
        raise OffsetError(f"{owner}: end ({end}) must be greater than start ({start}).")
    if end - start != len(text):
        raise OffsetError(f"{owner}: [{start}, {end}) is {end - start} code points but text {text!r} has {len(text)}.")


@dataclass(frozen=True)
class EntitySpan:
    """An entity mention ``[start, end)`` in a segment's text (code points), with its label."""

    start: int
    end: int
    label: str
    text: str

    def __post_init__(self) -> None:
        _check_str("label", self.label, owner="EntitySpan")
        _check_span(f"EntitySpan {self.label} {self.text!r}", self.start, self.end, self.text)

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "label": self.label, "text": self.text}


@dataclass(frozen=True)
class StanceLabel:
    """A stance toward a target: a span ``[target_start, target_end)`` of the segment's text, or a
    *given* target outside the text (a headline, a claim, a topic: offsets ``None``).

    A given target has only its text: it is never glued into the segment text. Its JSON has no
    offsets (``{"target_text", "label"}``), so the lines of span targets keep their bytes.
    """

    target_start: int | None
    target_end: int | None
    target_text: str
    label: str

    def __post_init__(self) -> None:
        _check_str("label", self.label, owner="StanceLabel")
        if self.target_start is None and self.target_end is None:
            _check_str("target_text", self.target_text, owner="StanceLabel")
            if not self.target_text.strip():
                raise SchemaError("StanceLabel: a given target (no offsets) must have a non-blank target_text.")
            return
        _check_span(f"StanceLabel target {self.target_text!r}", self.target_start, self.target_end, self.target_text)

    @property
    def given(self) -> bool:
        """True for a target given outside the text (no offsets)."""
        return self.target_start is None

    @property
    def target_kind(self) -> str:
        """``"given"`` or ``"span"`` (see :data:`TARGET_KINDS`)."""
        return "given" if self.target_start is None else "span"

    def sort_key(self) -> tuple:
        return (-1, -1, self.target_text, self.label) if self.target_start is None else (
            self.target_start, self.target_end, "", self.label)

    def to_dict(self) -> dict[str, Any]:
        if self.target_start is None:
            return {"target_text": self.target_text, "label": self.label}
        return {
            "target_start": self.target_start,
            "target_end": self.target_end,
            "target_text": self.target_text,
            "label": self.label,
        }

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> "StanceLabel":
        return cls(row.get("target_start"), row.get("target_end"), row["target_text"], row["label"])


TARGET_KINDS = ("span", "given")
"""A stance target is a span of the segment's text, or given text outside it (a headline, a claim, a topic)."""


GOLD = "gold"


@dataclass(frozen=True)
class Annotation:
    """One annotator's annotation of one segment (``annotator == GOLD`` for adjudicated gold).

    ``text`` is the segment text the offsets point into; every span is checked against it, so an
    annotation whose span text differs from ``text[start:end]`` cannot exist. Spans are sorted.
    ``ground_truth`` marks an annotation that Label Studio holds as ground truth (an imported gold
    source), ``adjudicator`` one by a team member named as adjudicator; gold follows either, and
    neither counts in inter-annotator agreement. On a gold record, ``entities_disputed`` says that
    the annotators tied on the segment's entities: its ``entities`` are only the agreed ones, so the
    segment stays out of the ``ner`` configuration until it is adjudicated (its decided stances are
    kept). Each flag is written only when true, so other lines keep their bytes. ``tokens`` are the
    segment's given tokens (a corpus's own, ``[start, end)`` in ``text``), carried to ``build``;
    written last and only when given.
    """

    segment_id: str
    article_id: str
    text: str
    annotator: str
    entities: tuple[EntitySpan, ...] = ()
    stances: tuple[StanceLabel, ...] = ()
    task_id: int | None = None
    ground_truth: bool = False
    adjudicator: bool = False
    entities_disputed: bool = False
    tokens: tuple[tuple[int, int], ...] | None = None

    def __post_init__(self) -> None:
        owner = f"Annotation of segment {self.segment_id!r} by {self.annotator!r}"
        object.__setattr__(self, "tokens", _checked_tokens(owner, self.tokens, self.text))
        for span in self.entities:
            if self.text[span.start : span.end] != span.text:
                raise OffsetError(
                    f"{owner}: entity [{span.start}, {span.end}) is {self.text[span.start:span.end]!r} "
                    f"in the text, not {span.text!r}."
                )
        for st in self.stances:
            if st.target_start is not None and self.text[st.target_start : st.target_end] != st.target_text:
                raise OffsetError(
                    f"{owner}: stance target [{st.target_start}, {st.target_end}) is "
                    f"{self.text[st.target_start:st.target_end]!r} in the text, not {st.target_text!r}."
                )
        object.__setattr__(self, "entities", tuple(sorted(self.entities, key=lambda e: (e.start, e.end, e.label))))
        object.__setattr__(
            self, "stances", tuple(sorted(self.stances, key=StanceLabel.sort_key))
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "segment_id": self.segment_id,
            "article_id": self.article_id,
            "task_id": self.task_id,
            "annotator": self.annotator,
            "text": self.text,
            "entities": [e.to_dict() for e in self.entities],
            "stances": [s.to_dict() for s in self.stances],
            **({"ground_truth": True} if self.ground_truth else {}),
            **({"adjudicator": True} if self.adjudicator else {}),
            **({"entities_disputed": True} if self.entities_disputed else {}),
            **({"tokens": [list(t) for t in self.tokens]} if self.tokens is not None else {}),
        }

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> "Annotation":
        return cls(
            segment_id=row["segment_id"],
            article_id=row["article_id"],
            text=row["text"],
            annotator=row["annotator"],
            entities=tuple(EntitySpan(**e) for e in row.get("entities", ())),
            stances=tuple(StanceLabel.from_dict(s) for s in row.get("stances", ())),
            task_id=row.get("task_id"),
            ground_truth=bool(row.get("ground_truth", False)),
            adjudicator=bool(row.get("adjudicator", False)),
            entities_disputed=bool(row.get("entities_disputed", False)),
            tokens=row.get("tokens"),
        )


SPLIT_NAMES = ("train", "validation", "test")
"""The dataset's splits, in the order they are listed everywhere."""

SPLIT_PIN_KEY = "split"
"""``Article.meta`` key of an article's official split (a pin that the ``split`` stage honours)."""


@dataclass(frozen=True)
class NearDuplicateCluster:
    """Articles that are near-duplicates of each other (wire copies), kept in one split.

    ``articles`` is sorted and has at least two ids; ``pairs`` are the confirmed edges
    ``(a, b, jaccard)`` with ``a < b`` that joined them: a spanning tree (a cluster is their
    transitive closure), so at most ``len(articles) - 1`` of them.
    """

    articles: tuple[str, ...]
    pairs: tuple[tuple[str, str, float], ...]

    def __post_init__(self) -> None:
        ids = tuple(self.articles)
        if len(ids) < 2 or list(ids) != sorted(set(ids)):
            raise SchemaError(f"NearDuplicateCluster.articles must be >= 2 sorted unique ids; got {list(ids)!r}.")
        pairs = tuple((str(a), str(b), float(j)) for a, b, j in self.pairs)
        for a, b, j in pairs:
            if not (a < b and a in ids and b in ids and 0.0 <= j <= 1.0):
                raise SchemaError(f"NearDuplicateCluster {list(ids)!r}: bad pair {(a, b, j)!r}.")
        object.__setattr__(self, "articles", ids)
        object.__setattr__(self, "pairs", tuple(sorted(pairs)))

    def to_dict(self) -> dict[str, Any]:
        return {"articles": list(self.articles), "pairs": [list(p) for p in self.pairs]}


@dataclass(frozen=True)
class SplitManifest:
    """Which article is in which split, and how that was decided (``splits/manifest.json``).

    Invariants: the split names are exactly :data:`SPLIT_NAMES`; each split's ids are sorted and
    unique; no article is in two splits or both in a split and held out; the members of a
    near-duplicate cluster that are not held out share one split; ratios are >= 0 and sum to 1.

    ``pinned`` lists the articles whose split was fixed by their data (an official corpus split,
    ``Article.meta["split"]``) rather than placed by the splitter; each is in a split.
    ``pinned_crossings`` are near-duplicate clusters that cross splits *only* through pairs of
    pinned articles (a property of the official corpus, reported, never fixed by moving a pinned
    article): each crosses splits, and every pair in two different splits is of two pinned articles.
    Both are empty (and absent from the JSON) for a split without pins.
    """

    salt: str
    ratios: tuple[float, float, float]
    splits: Mapping[str, tuple[str, ...]]
    near_duplicate_clusters: tuple[NearDuplicateCluster, ...] = ()
    held_out: Mapping[str, str] = field(default_factory=dict)  # article id -> reason
    data_sha256: str = ""
    settings: Mapping[str, Any] = field(default_factory=dict)
    format_version: int = 1
    pinned: tuple[str, ...] = ()
    pinned_crossings: tuple[NearDuplicateCluster, ...] = ()

    def __post_init__(self) -> None:
        _check_str("salt", self.salt, owner="SplitManifest")
        ratios = tuple(float(r) for r in self.ratios)
        if len(ratios) != 3 or any(r < 0 for r in ratios) or abs(sum(ratios) - 1.0) > 1e-6:
            raise SchemaError(
                f"SplitManifest.ratios must be three numbers >= 0 summing to 1 (train, validation, test); "
                f"got {list(self.ratios)!r}."
            )
        if set(self.splits) != set(SPLIT_NAMES):
            raise SchemaError(f"SplitManifest.splits must have exactly {list(SPLIT_NAMES)}; got {sorted(self.splits)!r}.")
        splits = {name: tuple(self.splits[name]) for name in SPLIT_NAMES}
        seen: dict[str, str] = {}
        for name, ids in splits.items():
            if list(ids) != sorted(set(ids)):
                raise SchemaError(f"SplitManifest: the {name} article ids must be sorted and unique.")
            for article_id in ids:
                if article_id in seen:
                    raise SchemaError(
                        f"SplitManifest: article {article_id!r} is in both {seen[article_id]} and {name}; "
                        "an article must be in one split only."
                    )
                seen[article_id] = name
        held_out = dict(sorted(self.held_out.items()))
        for article_id in held_out:
            if article_id in seen:
                raise SchemaError(f"SplitManifest: article {article_id!r} is held out and also in {seen[article_id]}.")
        for cluster in self.near_duplicate_clusters:
            where = sorted({seen[a] for a in cluster.articles if a in seen})
            if len(where) > 1:
                members = ", ".join(f"{a} ({seen.get(a, 'held out')})" for a in cluster.articles)
                raise SchemaError(
                    f"SplitManifest: near-duplicate cluster [{members}] crosses splits {where}; "
                    "a cluster must be in one split."
                )
        pinned = tuple(self.pinned)
        if list(pinned) != sorted(set(pinned)):
            raise SchemaError("SplitManifest: the pinned article ids must be sorted and unique.")
        for article_id in pinned:
            if article_id not in seen:
                raise SchemaError(f"SplitManifest: article {article_id!r} is pinned but in no split; a pinned "
                                  "article is always in its pinned split.")
        pinned_set = set(pinned)
        for cluster in self.pinned_crossings:
            where = {seen.get(a) for a in cluster.articles}
            if None in where or len(where) < 2:
                raise SchemaError(
                    f"SplitManifest: pinned crossing {list(cluster.articles)} must have every article in a split "
                    f"and span several splits; got {sorted(str(w) for w in where)}."
                )
            for a, b, _ in cluster.pairs:
                if seen[a] != seen[b] and not (a in pinned_set and b in pinned_set):
                    raise SchemaError(
                        f"SplitManifest: near-duplicates {a} ({seen[a]}) and {b} ({seen[b]}) are in different splits "
                        "but not both pinned; only pinned articles may be near-duplicates across splits."
                    )
        object.__setattr__(self, "pinned", pinned)
        object.__setattr__(self, "pinned_crossings", tuple(sorted(self.pinned_crossings, key=lambda c: c.articles)))
        object.__setattr__(self, "ratios", ratios)
        object.__setattr__(self, "splits", splits)
        object.__setattr__(self, "held_out", held_out)
        object.__setattr__(self, "near_duplicate_clusters", tuple(sorted(self.near_duplicate_clusters, key=lambda c: c.articles)))
        object.__setattr__(self, "settings", dict(self.settings))

    def split_of(self) -> dict[str, str]:
        """Map every assigned article id to its split name."""
        return {a: name for name, ids in self.splits.items() for a in ids}

    def to_dict(self) -> dict[str, Any]:
        out = {
            "format_version": self.format_version,
            "salt": self.salt,
            "ratios": dict(zip(SPLIT_NAMES, self.ratios)),
            "data_sha256": self.data_sha256,
            "settings": dict(self.settings),
            "counts": {name: len(ids) for name, ids in self.splits.items()},
            "splits": {name: list(ids) for name, ids in self.splits.items()},
            "held_out": dict(self.held_out),
            "near_duplicate_clusters": [c.to_dict() for c in self.near_duplicate_clusters],
        }
        # only with pins, so that a manifest without any stays byte-identical to earlier versions
        if self.pinned:
            out["pinned"] = list(self.pinned)
        if self.pinned_crossings:
            out["pinned_crossings"] = [c.to_dict() for c in self.pinned_crossings]
        return out

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> "SplitManifest":
        ratios = row["ratios"]
        if isinstance(ratios, Mapping):
            ratios = [ratios[name] for name in SPLIT_NAMES]
        return cls(
            salt=row["salt"],
            ratios=tuple(ratios),
            splits={name: tuple(ids) for name, ids in row["splits"].items()},
            near_duplicate_clusters=tuple(
                NearDuplicateCluster(articles=tuple(c["articles"]), pairs=tuple(tuple(p) for p in c["pairs"]))
                for c in row.get("near_duplicate_clusters", ())
            ),
            held_out=row.get("held_out") or {},
            data_sha256=row.get("data_sha256", ""),
            settings=row.get("settings") or {},
            format_version=row.get("format_version", 1),
            pinned=tuple(row.get("pinned") or ()),
            pinned_crossings=tuple(
                NearDuplicateCluster(articles=tuple(c["articles"]), pairs=tuple(tuple(p) for p in c["pairs"]))
                for c in row.get("pinned_crossings") or ()
            ),
        )
