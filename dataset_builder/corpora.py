"""Readers of existing annotated corpora: CoNLL column files, NewsMTSC JSONL, SemEval-2016 Task 6 TSV.

Input
    One corpus file and the labelling config (:class:`~dataset_builder.schema.LabelSchema`) its
    labels are to be expressed in.
Output
    A :class:`Corpus`: :class:`~dataset_builder.records.Article` and
    :class:`~dataset_builder.records.Segment` records (what ingest and segment would have made),
    one :class:`~dataset_builder.records.Annotation` per segment holding the corpus's labels
    (attributed to a named source annotator, e.g. ``conll2003-gold``), and a
    :class:`CorpusReport` in which, for the corpus's units and for its labels,
    read = kept + rejected, each rejection with its file:line and reason.
Invariants
    Offsets are half-open ``[start, end)`` Python code points; ``article.text[s.start:s.end] ==
    s.text`` for every segment and every span's text is ``segment.text[start:end]`` (the records
    check it). The same file and options give the same records in the same order.

Formats (what each reader assumes; the tests pin every rule)
--------------------------------------------------------------
``conll`` - CoNLL-2003 column format: one token per line, columns separated by whitespace
(``token POS chunk NER`` in CoNLL-2003; any number >= 2 of columns, the token first and the entity
tag last, the same number on every line), a blank line between sentences, ``-DOCSTART-`` lines
between documents. A document becomes an article, a sentence a segment whose text is its tokens
joined by single spaces (so the tokens are ``segment.text.split(" ")`` again), sentences joined by
``\\n`` in the article. A file without ``-DOCSTART-`` gives one article per sentence. Tags are
``O``, ``B-TYPE`` or ``I-TYPE``:

* **IOB2** (``B-`` opens every chunk): ``I-X`` that does not continue an ``X`` chunk (after ``O``,
  after another type, or first in a sentence) is an **error**: a chunk would have no start, and
  the file may well be IOB1.
* **IOB1** (CoNLL-2003 as distributed: ``I-`` opens a chunk, ``B-`` only separates two adjacent
  chunks of one type): ``I-X`` after anything but ``X`` opens a chunk (valid). ``B-X`` not right
  after an ``X`` token is not canonical IOB1 but unambiguous (it opens a chunk): accepted and
  counted in the notes (``iob1_b_not_after_same_type``).
* ``auto`` (default) reads the whole file first: an ``I-X`` opening a chunk means IOB1, a ``B-X``
  after a non-``X`` means IOB2; both in one file is an error naming one line of each; neither
  means both readings give the same spans (IOB2 is recorded, noted ``scheme_undetermined``).

Any other tag (``E-PER``, ``PER``) is an error: BIOES/BILOU files are not read.

``newsmtsc`` - NewsMTSC JSONL (Hamborg & Donnay, EACL 2021): one object per line with
``sentence_normalized``, ``primary_gid`` and ``targets``, each target with ``from``, ``to``,
``mention`` and ``polarity`` (2.0 negative, 4.0 neutral, 6.0 positive); the flattened form of the
HuggingFace copy (``sentence``, ``id``, and ``from``/``to``/``mention``/``polarity`` on the row
itself) is read too. ``to`` is **exclusive**: the data has ``sentence[from:to] == mention`` (the
dataset's readme says "last character", but e.g. ``"Winner wrote ..."`` has ``from`` 0, ``to`` 6,
``mention`` ``"Winner"``); a mention that only fits with an inclusive end is an error that says
so. ``further_mentions`` (automatic coreference) are not read, only counted. Each line is an
article of one sentence; each target becomes its own segment (``<article>-s0000-tNN``, same text)
because the ``target_stance`` config has one target per task. Polarity is mapped by
:data:`DEFAULT_LABEL_MAPS`: 2.0 (or -1) negative -> against, 4.0 (or 0) neutral -> neutral, 6.0
(or 1) positive -> favor; the sentiment *toward the target* is read as the segment's stance toward it.

``semeval2016`` - SemEval-2016 Task 6 TSV: a header ``ID<TAB>Target<TAB>Tweet<TAB>Stance``, then
one tweet per line; ``FAVOR``, ``AGAINST``, ``NONE`` (NONE -> neutral by default). The files
are often Windows-1252 with CRLF line ends: UTF-8 is tried first (a BOM is allowed), then
cp1252, and the report says which was used. The target is a topic that need not occur in the
tweet, while our stance records need a target span of the text; so each tweet becomes an
article whose text is ``"<target>\\n<tweet>"``: the given target is its first line (target
``[0, len(target))``), the tweet is ``text[len(target) + 1:]`` (``meta.text_start``), and the
stance is the whole tweet's stance toward it (config ``given_target_stance``). Models see the
target and the tweet, as the task defines its input.

Errors: a malformed file raises :class:`~dataset_builder.errors.InputError` (a label the config
does not have: :class:`~dataset_builder.errors.SchemaError`) naming ``file:line``, the value seen,
the value expected and the fix. With ``on_error="skip"`` the unit holding the problem (sentence,
target, tweet) is rejected instead and listed in the report with the same message; problems of
the whole file (undecidable tagging scheme, unreadable bytes, missing header) always raise.

Official splits: ``read_corpus(..., split="train")`` (``import-corpus --split``) pins every article
of the file to that split (``Article.meta["split"]``, in ``articles.jsonl``); the ``split`` stage
then keeps it there (see :mod:`dataset_builder.splits`), so a corpus imported file by file
(CoNLL-2003 ``eng.train``/``eng.testa``/``eng.testb``) keeps its published train/validation/test.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from .errors import DatasetBuilderError, InputError, SchemaError
from .jsonl import write_jsonl
from .records import SPLIT_NAMES, SPLIT_PIN_KEY, Annotation, Article, EntitySpan, Rejection, Segment, StanceLabel
from .schema import LabelSchema, load_schema

STAGE = "import-corpus"
FORMATS = ("conll", "newsmtsc", "semeval2016")
SCHEMES = ("auto", "iob1", "iob2")
ON_ERROR = ("raise", "skip")

DEFAULT_CONFIGS = {"conll": "entities", "newsmtsc": "target_stance", "semeval2016": "given_target_stance"}
"""The bundled config each format is imported with unless another is given."""

DEFAULT_ANNOTATORS = {"conll": "conll2003-gold", "newsmtsc": "newsmtsc-gold", "semeval2016": "semeval2016-gold"}
"""The name the corpus's labels are attributed to unless another is given."""

DEFAULT_LABEL_MAPS: dict[str, dict[Any, str]] = {
    "conll": {},
    # NewsMTSC's files: 2.0/4.0/6.0; its flattened HuggingFace copy: -1/0/1 (the two never collide)
    "newsmtsc": {2.0: "against", 4.0: "neutral", 6.0: "favor", -1.0: "against", 0.0: "neutral", 1.0: "favor"},
    "semeval2016": {"FAVOR": "favor", "AGAINST": "against", "NONE": "neutral"},
}
"""Corpus label -> config label. A user map is laid over it; a label in neither passes unchanged,
and a label mapped to ``""`` is dropped (counted). Numeric keys match numerically (2 == 2.0)."""

_TAG = re.compile(r"(B|I)-(\S+)")


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


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
    span is the task's target.
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

    @property
    def has_target(self) -> bool:
        return self.schema.has_target

    def segment_rows(self) -> list[dict[str, Any]]:
        """Rows for ``segments.jsonl`` / push: the segment, the article's title and date and, with
        a given-target config, ``target``/``target_start``/``target_end``."""
        meta = {a.id: a for a in self.articles}
        rows = []
        for seg, ann in zip(self.segments, self.annotations):
            art = meta[seg.article_id]
            row: dict[str, Any] = {**seg.to_dict(), "title": art.title, "date": art.date}
            if self.has_target:
                st = ann.stances[0]
                row.update({"target": st.target_text, "target_start": st.target_start, "target_end": st.target_end})
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


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------


class _Bad(Exception):
    """One problem at one line; raised to the caller or turned into a rejection (``on_error``)."""

    def __init__(self, reason: str, line: int, message: str, *, schema_error: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.line = line
        self.message = message
        self.schema_error = schema_error

    def error(self, path: str) -> DatasetBuilderError:
        cls = SchemaError if self.schema_error else InputError
        return cls(f"{path}:{self.line}: {self.message}")


class _Ledger:
    """Collects rejections and label counts while a reader runs; raises or skips per ``on_error``."""

    def __init__(self, path: str, on_error: str) -> None:
        self.path = path
        self.on_error = on_error
        self.rejections: list[Rejection] = []
        self.labels_read = 0
        self.labels_dropped: Counter[str] = Counter()
        self.label_counts: Counter[str] = Counter()
        self.notes: Counter[str] = Counter()

    def fail(self, bad: _Bad, *, labels_in_unit: int = 0) -> None:
        if self.on_error == "raise":
            raise bad.error(self.path) from None
        self.rejections.append(Rejection(STAGE, f"{self.path}:{bad.line}", bad.reason, bad.message))
        if labels_in_unit:
            self.labels_read += labels_in_unit
            self.labels_dropped[f"in_rejected_unit:{bad.reason}"] += labels_in_unit


def _check_options(func: str, **options: tuple[Any, Sequence[Any]]) -> None:
    for name, (value, allowed) in options.items():
        if value not in allowed:
            raise InputError(
                f"The '{name}' parameter of {func} must be one of {', '.join(map(str, allowed))}. Got {value!r} instead."
            )


def slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return slug or "x"


GENERIC_SUFFIXES = frozenset({".txt", ".tsv", ".csv", ".json", ".jsonl", ".conll", ".conllu", ".iob", ".bio"})
"""File name endings that say only the format: dropped from ids. Any other ending is part of the name."""


def file_stem(path: str | Path) -> str:
    """The file's name without a *generic* extension (:data:`GENERIC_SUFFIXES`), as a slug.

    ``train.jsonl`` -> ``train``, but ``eng.train`` -> ``eng-train`` and ``eng.testb`` ->
    ``eng-testb``: CoNLL-2003's files differ only in what ``Path.stem`` would drop.
    """
    name = Path(path).name
    suffix = Path(name).suffix
    if suffix.lower() in GENERIC_SUFFIXES and Path(name).stem:
        name = Path(name).stem
    return slug(name)


def default_id_prefix(fmt: str, path: str | Path) -> str:
    """``"conll"`` + ``eng.train`` -> ``"conll-eng-train"``: ids of two files or corpora never collide."""
    return f"{fmt}-{file_stem(path)}"


def _reader_options(
    fmt: str, path: Path, annotator: str | None, id_prefix: str | None, label_map: Any
) -> tuple[str, str, dict[Any, str]]:
    """``(annotator, article id prefix, label map)`` of a reader: what was given, over the format's defaults."""
    return (annotator or DEFAULT_ANNOTATORS[fmt], id_prefix or default_id_prefix(fmt, path),
            {**DEFAULT_LABEL_MAPS[fmt], **parse_label_map(label_map)})


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise InputError(f"{path}: no such file.")
    data = path.read_bytes()
    if not data.strip():
        raise InputError(f"{path}: the file is empty.")
    nul = data.find(b"\x00", 0, 8192)
    if nul >= 0:
        raise InputError(f"{path}: looks binary (a NUL byte at offset {nul}); expected a text file.")
    return data


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def decode(data: bytes, path: str | Path, encoding: str = "auto") -> tuple[str, str]:
    """Decode a corpus file: ``auto`` tries UTF-8 (a BOM allowed), then cp1252 (Windows-1252).

    Returns ``(text, encoding used)``.

    Raises
    ------
    InputError
        Not decodable (names the line and byte), or an unknown encoding name.
    """
    if encoding != "auto":
        try:
            return data.decode(encoding), encoding
        except LookupError:
            raise InputError(f"{path}: unknown encoding {encoding!r}; use e.g. utf-8, cp1252 or auto.") from None
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{path}:{_line_of(data, exc.start)}: not {encoding} (byte {data[exc.start]:#04x} at offset {exc.start}); "
                "pass the file's real encoding, or auto."
            ) from None
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        first = exc.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)
        try:
            return data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError as exc2:
            raise InputError(
                f"{path}:{_line_of(data, exc2.start)}: neither UTF-8 (byte {data[first]:#04x} at offset {first}) nor "
                f"cp1252 (byte {data[exc2.start]:#04x} at offset {exc2.start} is undefined there); re-encode the file "
                "as UTF-8 or pass its encoding."
            ) from None


def _lines(text: str) -> list[str]:
    """Lines split on ``\\n`` only, each without a trailing ``\\r`` (CRLF files).

    Not ``str.splitlines``: it also splits on characters that occur inside tweets (U+2028, ...).
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def clean_with_offsets(text: str, points: Sequence[int], notes: Counter[str] | None = None) -> tuple[str, list[int]]:
    """NFC, ``\\r`` -> space and trimmed ``text``, with code-point ``points`` moved along.

    Returns ``(clean text, moved points)``; a point outside the trimmed text is clamped (the
    caller checks its spans). Raises ``ValueError`` when a point falls inside a character sequence
    that NFC composes (it would no longer be a boundary).
    """
    if "\r" in text:
        text = text.replace("\r", " ")
        if notes is not None:
            notes["carriage_return_replaced"] += 1
    out = list(points)
    if not unicodedata.is_normalized("NFC", text):
        norm = unicodedata.normalize("NFC", text)
        moved = []
        for p in out:
            head = unicodedata.normalize("NFC", text[:p])
            if not norm.startswith(head):
                raise ValueError(f"offset {p} falls inside a character sequence that Unicode NFC composes")
            moved.append(len(head))
        text, out = norm, moved
        if notes is not None:
            notes["nfc_normalised"] += 1
    lead = len(text) - len(text.lstrip())
    stripped = text.strip()
    if len(stripped) != len(text):
        if notes is not None:
            notes["whitespace_trimmed"] += 1
        out = [min(max(p - lead, 0), len(stripped)) for p in out]
    return stripped, out


def _map_key(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return number if math.isfinite(number) else value
    return value


def parse_label_map(spec: str | Path | Mapping[Any, str] | None) -> dict[Any, str]:
    """``"2=against,4=neutral,6=favor"``, a JSON object file, or a mapping -> ``{key: label}``.

    Keys that read as numbers become floats, so ``2``, ``"2"`` and ``2.0`` are one key. A value
    ``""`` drops that label (``MISC=`` drops MISC chunks).

    Raises
    ------
    InputError
        An entry without ``=``, an empty key, or a JSON file that is not an object of strings.
    """
    if spec is None:
        return {}
    items: Iterable[tuple[Any, Any]]
    if isinstance(spec, Mapping):
        items = spec.items()
    else:
        text = str(spec)
        path = Path(text)
        if text.endswith(".json") or (path.suffix and path.is_file()):
            try:
                obj = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InputError(f"{path}: cannot read the label map ({exc}); expected a JSON object.") from None
            if not isinstance(obj, dict):
                raise InputError(f"{path}: the label map must be a JSON object {{corpus label: config label}}.")
            items = obj.items()
        else:
            pairs = []
            for part in (p.strip() for p in text.split(",")):
                if not part:
                    continue
                if "=" not in part:
                    raise InputError(
                        f"label map entry {part!r} has no '='; write CORPUS=CONFIG pairs separated by commas, "
                        "e.g. '2=against,4=neutral,6=favor' (CORPUS= drops that label)."
                    )
                key, value = part.split("=", 1)
                pairs.append((key.strip(), value.strip()))
            items = pairs
    out: dict[Any, str] = {}
    for key, value in items:
        if not isinstance(value, str) or (isinstance(key, str) and not key.strip()):
            raise InputError(f"label map entry {key!r}: {value!r}: keys must be non-empty and values strings.")
        out[_map_key(key)] = value
    return out


def _show(key: Any) -> str:
    return f"{key:g}" if isinstance(key, float) else str(key)


def _resolve_schema(fmt: str, config: str | Path | LabelSchema | None) -> LabelSchema:
    if isinstance(config, LabelSchema):
        return config
    return load_schema(config if config is not None else DEFAULT_CONFIGS[fmt])


# --------------------------------------------------------------------------------------------
# CoNLL
# --------------------------------------------------------------------------------------------


@dataclass
class _Sentence:
    tokens: list[str]
    tags: list[str]
    lines: list[int]
    error: tuple[int, str] | None = None  # (line, message) of the first column problem in it


def _conll_documents(lines: list[str]) -> tuple[list[list[_Sentence]], bool]:
    """Group lines into documents of sentences. Returns ``(documents, whether -DOCSTART- occurs)``.

    A line with the wrong number of columns does not stop the reading: it is recorded on its
    sentence (:attr:`_Sentence.error`), which the caller then rejects or raises for.
    """
    docs: list[list[_Sentence]] = [[]]
    cur: _Sentence | None = None
    ncols = 0
    first_line = 0
    has_docstart = False
    for lineno, line in enumerate(lines, start=1):
        cols = line.split()
        if not cols:
            if cur is not None:
                docs[-1].append(cur)
                cur = None
            continue
        if cols[0] == "-DOCSTART-":
            if cur is not None:
                docs[-1].append(cur)
                cur = None
            has_docstart = True
            docs.append([])
            continue
        if cur is None:
            cur = _Sentence([], [], [])
        problem = None
        if len(cols) < 2:
            problem = (f"1 column ({line.strip()!r}), too few: expected at least 2, the token first and the "
                       "entity tag last")
        elif not ncols:
            ncols, first_line = len(cols), lineno
        elif len(cols) != ncols:
            few = "too few" if len(cols) < ncols else "too many"
            problem = (f"{len(cols)} columns, {few}: expected {ncols} as on line {first_line} (token first, "
                       f"entity tag last); got {line.strip()!r}")
        if problem is not None and cur.error is None:
            cur.error = (lineno, problem)
        cur.tokens.append(cols[0])
        cur.tags.append(cols[-1] if len(cols) > 1 else "O")
        cur.lines.append(lineno)
    if cur is not None:
        docs[-1].append(cur)
    if not docs[0]:
        docs.pop(0)  # nothing before the first -DOCSTART-
    return docs, has_docstart


def _detect_scheme(docs: list[list[_Sentence]]) -> tuple[str, int | None, int | None]:
    """``(scheme, first line of an I- opening a chunk, first line of a B- after a non-matching tag)``."""
    i_open = b_fresh = None
    for doc in docs:
        for s in doc:
            if s.error is not None:
                continue  # its last column may not be a tag at all
            prev = None
            for tag, line in zip(s.tags, s.lines):
                m = _TAG.fullmatch(tag)
                if m is None:
                    prev = None
                    continue
                kind, typ = m.groups()
                if kind == "I" and prev != typ and i_open is None:
                    i_open = line
                if kind == "B" and prev != typ and b_fresh is None:
                    b_fresh = line
                prev = typ
            if i_open is not None and b_fresh is not None:
                return "mixed", i_open, b_fresh
    if i_open is not None:
        return "iob1", i_open, None
    if b_fresh is not None:
        return "iob2", None, b_fresh
    return "undetermined", None, None


def read_conll(
    path: str | Path,
    config: str | Path | LabelSchema | None = None,
    *,
    scheme: str = "auto",
    label_map: str | Path | Mapping[Any, str] | None = None,
    annotator: str | None = None,
    id_prefix: str | None = None,
    encoding: str = "auto",
    on_error: str = "raise",
) -> Corpus:
    """Read a CoNLL-2003-style column file (see the module docstring for every rule).

    Parameters
    ----------
    path : the file.
    config : the labelling config (default ``entities``); its entity labels are the only labels.
    scheme : ``auto``, ``iob1`` or ``iob2``.
    label_map : entity type -> config label (``GPE=LOC``; ``MISC=`` drops MISC chunks).
    annotator : name the labels are attributed to (default ``conll2003-gold``).
    id_prefix : article ids are ``<prefix>-dNNNNN`` (default ``conll-<file stem>``).
    on_error : ``raise`` (default) or ``skip`` (reject the sentence, report it, go on).

    Returns
    -------
    Corpus

    Raises
    ------
    InputError
        Unreadable file, too few/many columns, a tag that is not O/B-X/I-X, an I-X that opens a
        chunk in IOB2, a file mixing both schemes under ``auto``.
    SchemaError
        An entity type the config does not have (after the label map), or a config without
        entity labels.
    """
    _check_options("read_conll", scheme=(scheme, SCHEMES), on_error=(on_error, ON_ERROR))
    fmt = "conll"
    path = Path(path)
    src = str(path)
    schema = _resolve_schema(fmt, config)
    if not schema.entity_labels:
        raise SchemaError(
            f"config {schema.name!r} has no entity labels, so it cannot hold CoNLL entity tags; "
            "use --config entities or entities_stance."
        )
    annotator, prefix, lmap = _reader_options(fmt, path, annotator, id_prefix, label_map)
    allowed = frozenset(schema.entity_labels)
    text, enc = decode(_read_bytes(path), path, encoding)
    docs, has_docstart = _conll_documents(_lines(text))
    detected, i_open, b_fresh = _detect_scheme(docs)
    ledger = _Ledger(src, on_error)
    if scheme == "auto":
        if detected == "mixed":
            raise InputError(
                f"{src}: mixes IOB1 and IOB2: line {i_open} has an I- tag that opens a chunk (IOB1) and line {b_fresh} "
                "a B- tag after a tag of another type (IOB2); fix the file or pass --scheme iob1 or iob2."
            )
        used = "iob2" if detected in ("iob2", "undetermined") else "iob1"
        if detected == "undetermined":
            ledger.notes["scheme_undetermined"] += 1
    else:
        used = scheme

    if not has_docstart:
        docs = [[s] for doc in docs for s in doc]
        ledger.notes["no_docstart_one_article_per_sentence"] += 1

    articles: list[Article] = []
    segments: list[Segment] = []
    annotations: list[Annotation] = []
    read = 0
    width = max(5, len(str(len(docs))))
    for dno, doc in enumerate(docs, start=1):
        article_id = f"{prefix}-d{dno:0{width}d}"
        sent_texts: list[str] = []
        sent_spans: list[list[tuple[int, int, str]]] = []
        sent_first_lines: list[int] = []
        if not doc:
            ledger.notes["empty_document"] += 1
            continue
        for s in doc:
            read += 1
            try:
                stext, spans, n_chunks = _conll_sentence(s, used, lmap, allowed, schema.name, ledger)
            except _Bad as bad:
                ledger.fail(bad, labels_in_unit=_count_chunks(s))
                continue
            ledger.labels_read += n_chunks
            sent_texts.append(stext)
            sent_spans.append(spans)
            sent_first_lines.append(s.lines[0])
        if not sent_texts:
            continue
        article_text = "\n".join(sent_texts)
        article = Article(id=article_id, text=article_text,
                          meta={"format": fmt, "source_file": path.name, "first_line": sent_first_lines[0],
                                "tokenised": True})
        articles.append(article)
        pos = 0
        for index, (stext, spans) in enumerate(zip(sent_texts, sent_spans)):
            seg = Segment(id=f"{article_id}-s{index:04d}", article_id=article_id, index=index,
                          start=pos, end=pos + len(stext), text=stext, unit="sentence")
            pos += len(stext) + 1
            segments.append(seg)
            ents = tuple(EntitySpan(a, b, lab, stext[a:b]) for a, b, lab in spans)
            for e in ents:
                ledger.label_counts[e.label] += 1
            annotations.append(Annotation(segment_id=seg.id, article_id=article_id, text=stext,
                                          annotator=annotator, entities=ents))
    labels_kept = sum(ledger.label_counts.values())
    report = CorpusReport(
        format=fmt, source=src, config=schema.name, annotator=annotator, unit="sentence", encoding=enc,
        scheme=used, read=read, kept=len(segments), rejections=tuple(ledger.rejections), articles=len(articles),
        segments=len(segments), labels_read=ledger.labels_read, labels_kept=labels_kept,
        labels_dropped=ledger.labels_dropped, label_counts=ledger.label_counts, notes=ledger.notes,
        label_map={_show(k): v for k, v in lmap.items()},
    )
    return Corpus(fmt, src, schema, annotator, tuple(articles), tuple(segments), tuple(annotations), report)


def _count_chunks(s: _Sentence) -> int:
    """Chunks of a sentence read leniently (any B-, or an I- after another type), for the ledger."""
    n, prev = 0, None
    for tag in s.tags:
        m = _TAG.fullmatch(tag)
        if m is None:
            n += tag != "O"  # an unreadable tag still stood for a label
            prev = None
            continue
        kind, typ = m.groups()
        if kind == "B" or prev != typ:
            n += 1
        prev = typ
    return n


def _conll_sentence(
    s: _Sentence, scheme: str, lmap: Mapping[Any, str], allowed: frozenset[str], config: str, ledger: _Ledger,
) -> tuple[str, list[tuple[int, int, str]], int]:
    """One sentence -> (text, spans (start, end, config label), chunks read incl. dropped ones)."""
    if s.error is not None:
        raise _Bad("bad_columns", *s.error)
    starts: list[int] = []
    pos = 0
    tokens = []
    for tok in s.tokens:
        if not unicodedata.is_normalized("NFC", tok):
            tok = unicodedata.normalize("NFC", tok)
            ledger.notes["token_nfc_normalised"] += 1
        tokens.append(tok)
        starts.append(pos)
        pos += len(tok) + 1
    text = " ".join(tokens)

    chunks: list[tuple[int, int, str, int]] = []  # (first token, last token, type, line)
    prev: str | None = None
    for i, (tag, line) in enumerate(zip(s.tags, s.lines)):
        if tag == "O":
            prev = None
            continue
        m = _TAG.fullmatch(tag)
        if m is None:
            raise _Bad("bad_tag", line, f"tag {tag!r} of token {s.tokens[i]!r} is not O, B-TYPE or I-TYPE "
                                        "(IOB1/IOB2; BIOES/BILOU files are not read)")
        kind, typ = m.groups()
        if kind == "I" and prev == typ:
            first, _, t, ln = chunks[-1]
            chunks[-1] = (first, i, t, ln)
        else:
            if kind == "I" and scheme == "iob2":
                after = "at the start of the sentence" if i == 0 else f"after {s.tags[i - 1]}"
                raise _Bad(
                    "iob2_i_opens_chunk", line,
                    f"{tag} {after} (token {s.tokens[i]!r}): in IOB2 every chunk starts with B-{typ}; "
                    f"write B-{typ}, or read the file as IOB1 (--scheme iob1) if it is IOB1 like CoNLL-2003",
                )
            if kind == "B" and scheme == "iob1" and prev != typ:
                ledger.notes["iob1_b_not_after_same_type"] += 1
            chunks.append((i, i, typ, line))
        prev = typ

    spans: list[tuple[int, int, str]] = []
    for first, last, typ, line in chunks:
        label = lmap.get(typ, typ)
        if label == "":
            ledger.labels_dropped["dropped_by_label_map"] += 1
            continue
        if label not in allowed:
            mapped = f" (mapped from {typ!r})" if label != typ else ""
            raise _Bad(
                "unknown_label", line,
                f"entity type {label!r}{mapped} is not a label of config {config!r} ({', '.join(sorted(allowed))}); "
                f"map it with --label-map {typ}=LABEL, or {typ}= to drop it",
                schema_error=True,
            )
        start = starts[first]
        spans.append((start, starts[last] + len(tokens[last]), label))
    return text, spans, len(chunks)


# --------------------------------------------------------------------------------------------
# Target stance: NewsMTSC JSONL
# --------------------------------------------------------------------------------------------


def _stance_label(raw: Any, lmap: Mapping[Any, str], allowed: frozenset[str], config: str, line: int,
                  what: str) -> str:
    """Map a corpus label; ``""`` means dropped. Raises :class:`_Bad` for an unknown one."""
    key = _map_key(raw)
    if key in lmap:
        return lmap[key]
    if isinstance(raw, str) and raw in allowed:
        return raw
    known = ", ".join(f"{_show(k)}->{v or '(drop)'}" for k, v in lmap.items()) or "none"
    raise _Bad(
        "unknown_label", line,
        f"{what} {raw!r} is neither in the label map ({known}) nor a stance label of config {config!r} "
        f"({', '.join(sorted(allowed))}); add it with --label-map {_show(key)}=LABEL (or {_show(key)}= to drop it)",
        schema_error=True,
    )


def _stance_schema(fmt: str, config: str | Path | LabelSchema | None) -> LabelSchema:
    schema = _resolve_schema(fmt, config)
    if not schema.stance_labels or not schema.has_target:
        raise SchemaError(
            f"config {schema.name!r} has no stance toward a given target ($target and a per-task stance <Choices>), "
            f"so it cannot hold {fmt} labels; use --config {DEFAULT_CONFIGS[fmt]}."
        )
    return schema


def read_newsmtsc(
    path: str | Path,
    config: str | Path | LabelSchema | None = None,
    *,
    label_map: str | Path | Mapping[Any, str] | None = None,
    annotator: str | None = None,
    id_prefix: str | None = None,
    on_error: str = "raise",
) -> Corpus:
    """Read NewsMTSC-style target-stance JSONL (see the module docstring).

    Units are targets: ``read`` counts targets, a rejected target is a rejected unit. A line that
    is not a JSON object, or has no sentence, rejects all its targets at once (counted as one
    unit when its targets cannot be counted).

    Raises
    ------
    InputError
        Bad JSON, missing keys, offsets that are not integers, outside the sentence, or that do
        not give the mention; a duplicate sentence id.
    SchemaError
        A polarity the label map does not cover, or a config without a given target.
    """
    _check_options("read_newsmtsc", on_error=(on_error, ON_ERROR))
    fmt = "newsmtsc"
    path = Path(path)
    src = str(path)
    schema = _stance_schema(fmt, config)
    annotator, prefix, lmap = _reader_options(fmt, path, annotator, id_prefix, label_map)
    allowed = frozenset(schema.stance_labels)
    text, enc = decode(_read_bytes(path), path, "utf-8")
    ledger = _Ledger(src, on_error)

    articles: list[Article] = []
    segments: list[Segment] = []
    annotations: list[Annotation] = []
    read = 0
    seen_ids: dict[str, int] = {}
    for lineno, line in enumerate(_lines(text), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            read += 1
            ledger.fail(_Bad("bad_json", lineno, f"not valid JSON ({exc.msg} at column {exc.colno})"))
            continue
        targets = row.get("targets") if isinstance(row, dict) else None
        if isinstance(row, dict) and targets is None and "from" in row:
            targets = [row]  # the flattened HuggingFace form: one target per row
        n_targets = len(targets) if isinstance(targets, list) else 1
        try:
            if not isinstance(row, dict):
                raise _Bad("bad_row", lineno, f"expected a JSON object, got {type(row).__name__}")
            sentence = row.get("sentence_normalized", row.get("sentence"))
            if not isinstance(sentence, str) or not sentence.strip():
                raise _Bad("no_sentence", lineno,
                           f"'sentence_normalized' is {sentence!r}; expected the sentence text (or 'sentence')")
            if not isinstance(targets, list) or not targets:
                raise _Bad("no_targets", lineno,
                           f"'targets' is {targets!r}; expected a non-empty list of {{from, to, mention, polarity}}")
            gid = row.get("primary_gid", row.get("id"))
            gid = str(gid) if gid is not None and str(gid).strip() else f"line{lineno}"
            article_id = f"{prefix}-{slug(gid)}"
            if article_id in seen_ids:
                raise _Bad("duplicate_id", lineno,
                           f"id {gid!r} gives article id {article_id!r}, already used on line {seen_ids[article_id]}")
        except _Bad as bad:
            read += n_targets
            ledger.fail(bad, labels_in_unit=n_targets)
            if n_targets > 1:  # one rejection per target keeps read = kept + rejected
                for _ in range(n_targets - 1):
                    ledger.fail(bad)
            continue
        seen_ids[article_id] = lineno

        # offsets first (checked on the sentence as given), then the clean text with moved offsets
        kept_targets: list[tuple[int, int, str, str, int]] = []
        for k, tgt in enumerate(targets):
            read += 1
            try:
                start, end, mention, label = _newsmtsc_target(tgt, k, sentence, lineno, lmap, allowed, schema.name)
            except _Bad as bad:
                ledger.fail(bad, labels_in_unit=1)
                continue
            ledger.labels_read += 1
            if label == "":
                ledger.labels_dropped["dropped_by_label_map"] += 1
                ledger.rejections.append(Rejection(STAGE, f"{src}:{lineno}", "dropped_by_label_map",
                                                   f"target {k} {mention!r}: polarity mapped to nothing"))
                continue
            if tgt.get("further_mentions"):
                ledger.notes["further_mentions_ignored"] += len(tgt["further_mentions"])
            kept_targets.append((start, end, mention, label, k))
        if not kept_targets:
            continue
        try:
            clean, moved = clean_with_offsets(sentence, [p for t in kept_targets for p in t[:2]], ledger.notes)
        except ValueError as exc:
            for _, _, mention, _, k in kept_targets:
                ledger.labels_read -= 1  # counted above as read; fail() counts it again with its reason
                ledger.fail(_Bad("offsets_not_nfc_boundaries", lineno, f"target {k} {mention!r}: {exc}"),
                            labels_in_unit=1)
            continue
        spans_seen: Counter[tuple[int, int]] = Counter()
        made = 0
        for j, (_, _, mention, label, k) in enumerate(kept_targets):
            s0, e0 = moved[2 * j], moved[2 * j + 1]
            if e0 <= s0 or clean[s0:e0] != unicodedata.normalize("NFC", mention.replace("\r", " ")):
                ledger.labels_read -= 1
                ledger.fail(_Bad("offsets_outside_sentence", lineno,
                                 f"target {k} {mention!r} lies partly in whitespace trimmed off the sentence"),
                            labels_in_unit=1)
                continue
            spans_seen[(s0, e0)] += 1
            seg = Segment(id=f"{article_id}-s0000-t{k:02d}", article_id=article_id, index=0, start=0,
                          end=len(clean), text=clean, unit="sentence")
            segments.append(seg)
            annotations.append(Annotation(segment_id=seg.id, article_id=article_id, text=clean, annotator=annotator,
                                          stances=(StanceLabel(s0, e0, clean[s0:e0], label),)))
            ledger.label_counts[label] += 1
            made += 1
        twice = sum(n - 1 for n in spans_seen.values())
        if twice:
            ledger.notes["same_target_span_twice_in_a_sentence"] += twice
        if made:
            articles.append(Article(id=article_id, text=clean, meta={"format": fmt, "source_file": path.name,
                                                                     "line": lineno, "corpus_id": gid}))
    return _stance_corpus(fmt, src, schema, annotator, enc, read, articles, segments, annotations, ledger, lmap,
                          unit="target")


def _newsmtsc_target(tgt: Any, k: int, sentence: str, line: int, lmap: Mapping[Any, str],
                     allowed: frozenset[str], config: str) -> tuple[int, int, str, str]:
    if not isinstance(tgt, dict):
        raise _Bad("bad_target", line, f"target {k} is {type(tgt).__name__}; expected an object")
    missing = [key for key in ("from", "to", "mention", "polarity") if key not in tgt]
    if missing:
        raise _Bad("bad_target", line, f"target {k} has no {', '.join(missing)}; expected from, to, mention, polarity")
    start, end, mention = tgt["from"], tgt["to"], tgt["mention"]
    for name, v in (("from", start), ("to", end)):
        if not isinstance(v, int) or isinstance(v, bool):
            raise _Bad("bad_offsets", line, f"target {k}: '{name}' is {v!r}; expected an integer code-point offset")
    if not isinstance(mention, str) or not mention:
        raise _Bad("bad_target", line, f"target {k}: 'mention' is {mention!r}; expected the target's text")
    n = len(sentence)
    if not (0 <= start < end <= n):
        hint = " (to is exclusive)" if end == start else ""
        raise _Bad(
            "offsets_outside_sentence", line,
            f"target {k} {mention!r}: [{start}, {end}) is outside the sentence of {n} characters{hint}; "
            f"expected 0 <= from < to <= {n}",
        )
    if sentence[start:end] != mention:
        hint = ""
        if sentence[start : end + 1] == mention:
            hint = ("; it fits with an inclusive 'to' (sentence[from:to+1]), but NewsMTSC's data has an exclusive "
                    "'to': add 1 to every 'to' of this file")
        raise _Bad(
            "mention_mismatch", line,
            f"target {k}: mention {mention!r} is not sentence[{start}:{end}] = {sentence[start:end]!r}{hint}",
        )
    label = _stance_label(tgt["polarity"], lmap, allowed, config, line, f"target {k} polarity")
    return start, end, mention, label


def _stance_corpus(fmt: str, src: str, schema: LabelSchema, annotator: str, enc: str, read: int,
                   articles: list[Article], segments: list[Segment], annotations: list[Annotation],
                   ledger: _Ledger, lmap: Mapping[Any, str], *, unit: str) -> Corpus:
    report = CorpusReport(
        format=fmt, source=src, config=schema.name, annotator=annotator, unit=unit, encoding=enc, scheme=None,
        read=read, kept=len(segments), rejections=tuple(ledger.rejections), articles=len(articles),
        segments=len(segments), labels_read=ledger.labels_read, labels_kept=sum(ledger.label_counts.values()),
        labels_dropped=ledger.labels_dropped, label_counts=ledger.label_counts, notes=ledger.notes,
        label_map={_show(k): v for k, v in lmap.items()},
    )
    return Corpus(fmt, src, schema, annotator, tuple(articles), tuple(segments), tuple(annotations), report)


# --------------------------------------------------------------------------------------------
# Stance toward a given target: SemEval-2016 Task 6 TSV
# --------------------------------------------------------------------------------------------

SEMEVAL_COLUMNS = ("ID", "Target", "Tweet", "Stance")


def read_semeval2016(
    path: str | Path,
    config: str | Path | LabelSchema | None = None,
    *,
    label_map: str | Path | Mapping[Any, str] | None = None,
    annotator: str | None = None,
    id_prefix: str | None = None,
    encoding: str = "auto",
    on_error: str = "raise",
) -> Corpus:
    """Read a SemEval-2016 Task 6 stance file (``ID<TAB>Target<TAB>Tweet<TAB>Stance``).

    Each tweet becomes an article ``"<target>\\n<tweet>"`` with one segment (the whole text), the
    given target as its first line (see the module docstring for why), and the stance.

    Raises
    ------
    InputError
        Undecodable bytes, no header, a line with too few or too many columns, an empty field,
        a duplicate ID.
    SchemaError
        A stance the label map does not cover, or a config without a given target.
    """
    _check_options("read_semeval2016", on_error=(on_error, ON_ERROR))
    fmt = "semeval2016"
    path = Path(path)
    src = str(path)
    schema = _stance_schema(fmt, config)
    annotator, prefix, lmap = _reader_options(fmt, path, annotator, id_prefix, label_map)
    allowed = frozenset(schema.stance_labels)
    data = _read_bytes(path)
    text, enc = decode(data, path, encoding)
    ledger = _Ledger(src, on_error)
    if b"\r\n" in data:
        ledger.notes["crlf_line_ends"] += 1

    lines = _lines(text)
    numbered = [(n, ln) for n, ln in enumerate(lines, start=1) if ln.strip()]
    if not numbered:
        raise InputError(f"{src}: no lines.")
    head_no, head = numbered[0]
    names = [c.strip().lower() for c in head.split("\t")]
    if names[:2] == ["id", "target"] and len(names) == 4 and names[2] in ("tweet", "text") and names[3] == "stance":
        body = numbered[1:]
    else:
        raise InputError(
            f"{src}:{head_no}: expected the header {'<TAB>'.join(SEMEVAL_COLUMNS)} (SemEval-2016 Task 6), "
            f"got {head[:80]!r}; add that header line, with tabs between the columns."
        )

    articles: list[Article] = []
    segments: list[Segment] = []
    annotations: list[Annotation] = []
    seen: dict[str, int] = {}
    read = 0
    for lineno, line in body:
        read += 1
        ledger.labels_read += 1
        try:
            cols = line.split("\t")
            if len(cols) != 4:
                few = "too few" if len(cols) < 4 else "too many (a tab inside the tweet?)"
                raise _Bad("bad_columns", lineno,
                           f"{len(cols)} tab-separated column(s), {few}: expected 4 ({', '.join(SEMEVAL_COLUMNS)})")
            cid, target, tweet, stance = (c.strip() for c in cols)
            for name, value in (("ID", cid), ("Target", target), ("Tweet", tweet), ("Stance", stance)):
                if not value:
                    raise _Bad("empty_field", lineno, f"the {name} column is empty; every column needs a value")
            article_id = f"{prefix}-{slug(cid)}"
            if article_id in seen:
                raise _Bad("duplicate_id", lineno, f"ID {cid!r} (article {article_id!r}) is also on line {seen[article_id]}")
            label = _stance_label(stance, lmap, allowed, schema.name, lineno, "stance")
        except _Bad as bad:
            ledger.labels_read -= 1
            ledger.fail(bad, labels_in_unit=1)
            continue
        seen[article_id] = lineno
        if label == "":
            ledger.labels_dropped["dropped_by_label_map"] += 1
            ledger.rejections.append(Rejection(STAGE, f"{src}:{lineno}", "dropped_by_label_map",
                                               f"stance {stance!r} mapped to nothing"))
            continue
        target, _ = clean_with_offsets(target, (), ledger.notes)
        target = " ".join(target.split())  # the first line must stay one line
        tweet, _ = clean_with_offsets(tweet, (), ledger.notes)
        full = f"{target}\n{tweet}"
        article = Article(id=article_id, text=full, meta={"format": fmt, "source_file": path.name, "line": lineno,
                                                          "corpus_id": cid, "given_target": target,
                                                          "text_start": len(target) + 1})
        seg = Segment(id=f"{article_id}-s0000", article_id=article_id, index=0, start=0, end=len(full), text=full,
                      unit="paragraph")
        articles.append(article)
        segments.append(seg)
        annotations.append(Annotation(segment_id=seg.id, article_id=article_id, text=full, annotator=annotator,
                                      stances=(StanceLabel(0, len(target), target, label),)))
        ledger.label_counts[label] += 1
    return _stance_corpus(fmt, src, schema, annotator, enc, read, articles, segments, annotations, ledger, lmap,
                          unit="tweet")


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------

READERS: dict[str, Callable[..., Corpus]] = {
    "conll": read_conll,
    "newsmtsc": read_newsmtsc,
    "semeval2016": read_semeval2016,
}


def read_corpus(fmt: str, path: str | Path, config: str | Path | LabelSchema | None = None, *,
                split: str | None = None, **options: Any) -> Corpus:
    """Read ``path`` as ``fmt`` (one of :data:`FORMATS`) with that reader's ``options``.

    ``split`` (train, validation or test), when given, pins every article to that official
    split (:func:`pin_split`).

    Raises
    ------
    InputError
        Unknown format or split, or an option the reader does not take; whatever the reader raises.
    """
    if fmt not in READERS:
        raise InputError(f"The 'format' parameter of read_corpus must be one of {', '.join(FORMATS)}. Got {fmt!r} instead.")
    if split is not None:
        _check_options("read_corpus", split=(split, SPLIT_NAMES))
    reader = READERS[fmt]
    accepted = set(inspect.signature(reader).parameters)
    unknown = sorted(k for k, v in options.items() if k not in accepted and v is not None)
    if unknown:
        raise InputError(f"format {fmt!r} takes no option {', '.join(unknown)}.")
    corpus = reader(path, config, **{k: v for k, v in options.items() if k in accepted})
    return corpus if split is None else pin_split(corpus, split)


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


OUTPUT_FILES = ("articles.jsonl", "segments.jsonl", "annotations.jsonl", "report.json")


def write_corpus(corpus: Corpus, out_dir: str | Path) -> dict[str, Path]:
    """Write ``articles.jsonl``, ``segments.jsonl`` (push rows), ``annotations.jsonl`` (the corpus's
    labels as :class:`Annotation` records) and ``report.json`` into ``out_dir``; returns the paths.

    Byte-identical for identical corpora.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in OUTPUT_FILES}
    write_jsonl(paths["articles.jsonl"], (a.to_dict() for a in corpus.articles))
    write_jsonl(paths["segments.jsonl"], corpus.segment_rows())
    write_jsonl(paths["annotations.jsonl"], (a.to_dict() for a in corpus.annotations))
    paths["report.json"].write_text(json.dumps(corpus.report.to_dict(), ensure_ascii=False, indent=2) + "\n",
                                    encoding="utf-8", newline="\n")
    return paths
