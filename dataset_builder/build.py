"""Build the HuggingFace dataset and its card (the ``build`` stage).

Input
    Gold :class:`~dataset_builder.records.Annotation` records, the
    :class:`~dataset_builder.records.SplitManifest` written by ``split``, the
    :class:`~dataset_builder.schema.LabelSchema` of the labelling config (label names and order,
    instructions), and optionally the ``normalise`` report (a JSON object; its ``agreement`` and
    ``rejected`` entries go into the card as they are).
Output
    A folder that ``datasets.load_dataset(folder, "ner" | "stance")`` loads offline::

        ner/{train,validation,test}.parquet      stance/{train,validation,test}.parquet
        README.md            YAML header (configs, data_files, dataset_info) + the card
        DATASET_CARD.md      the card: schema, counts, label distributions, agreement,
                             rejections, guidelines, split policy, licence, citation
        label_distribution.png                   dataset_version.txt

    and a :class:`BuildReport`.

Rules (the card states them too):

* **One tokeniser** (:func:`tokenize`): tokens are the matches of ``\\w+|[^\\w\\s]`` (runs of word
  characters; every other non-space character alone), with code-point offsets into the segment
  text, so ``text[token_starts[i]:token_ends[i]] == tokens[i]``.
* **BIO projection** (:func:`spans_to_bio`): a character span covers the tokens it overlaps. A span
  whose edges fall inside a token is *expanded* to the covering tokens (kept, counted); a span
  that overlaps no token (whitespace only) is dropped. Spans that then overlap in token space are
  resolved by keeping the longest (in tokens), then the earliest, then the label first in the
  config; the others are dropped and counted as *nested* (inside a kept span), *crossing*
  (partial overlap) or *duplicate* (same tokens and label). The ``spans`` column keeps every gold
  character span as annotated; ``ner_tags`` is the projection.
* **Stance rows**: one row per (segment, target); ``id`` is ``"{segment_id}@{start}-{end}"``. The
  same target twice with the same label is kept once (counted); with different labels it is
  dropped (counted: gold must be adjudicated).
* **Held-out articles** (see ``splits.py``) are excluded, and counted.
* **Determinism**: rows sorted by article id, then segment id (numbers compared as numbers), then
  target; features declared once (:func:`ner_features`, :func:`stance_features`), never
  inferred; parquet written by ``pyarrow.parquet.write_table`` with fixed settings; no timestamps
  anywhere. Same inputs, same bytes (within one pyarrow/matplotlib version).
* **Empty splits** are written as zero-row parquet files with the full schema but are left out
  of the README's loader configuration: ``datasets`` cannot load a split with no rows
  (huggingface/datasets#8401); :func:`load_built` returns them as empty datasets.

Invariants (checked by :class:`BuildReport`): segments read = kept + held out; entity spans read
= kept (aligned + expanded) + held out + dropped (by reason); stance targets read = rows +
held out + dropped (by reason).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from itertools import chain, groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import DatasetBuilderError, InputError, SchemaError
from .records import GOLD, Annotation, EntitySpan, SPLIT_NAMES, SplitManifest
from .splits import natural_key

if TYPE_CHECKING:  # pragma: no cover
    from .schema import LabelSchema

TOKEN_PATTERN = r"\w+|[^\w\s]"
"""The tokeniser: runs of word characters, and every other non-space character on its own."""

CONFIGS = ("ner", "stance")
PLOT_NAME = "label_distribution.png"
CARD_NAME = "DATASET_CARD.md"
VERSION_NAME = "dataset_version.txt"
PARQUET_SETTINGS: Mapping[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
    "data_page_version": "1.0",
    "row_group_size": 50_000,
    "store_schema": True,
}
"""Explicit ``pyarrow.parquet.write_table`` settings (no defaults left to chance)."""

SPAN_STATUSES = ("kept_aligned", "kept_expanded", "dropped_no_token", "dropped_nested", "dropped_crossing", "dropped_duplicate")
"""What happened to a gold entity span in the BIO projection (counted in the build report)."""
_ALIGNED, _EXPANDED, _NO_TOKEN, _NESTED, _CROSSING, _DUPLICATE = range(len(SPAN_STATUSES))


# --------------------------------------------------------------------------- tokenisation


@dataclass(frozen=True)
class TokenBatch:
    """Tokens of many texts, flat: text ``i`` owns tokens ``offsets[i]:offsets[i+1]``."""

    tokens: pa.Array  # string
    starts: np.ndarray  # int64, code points, relative to the text
    ends: np.ndarray
    offsets: np.ndarray  # int64, len(texts) + 1


_SPACE, _WORD, _OTHER = 0, 1, 2
_WORD_CHAR = re.compile(r"\w")
_SPACE_CHAR = re.compile(r"\s")


def _char_class(ch: str) -> int:
    # Asked of Python's own re with the classes of TOKEN_PATTERN, so the result is exactly what
    # re.finditer(TOKEN_PATTERN) would do with this character.
    if _WORD_CHAR.fullmatch(ch):
        return _WORD
    return _SPACE if _SPACE_CHAR.fullmatch(ch) else _OTHER


@functools.lru_cache(maxsize=1)
def _bmp_classes() -> np.ndarray:
    return np.fromiter((_char_class(chr(c)) for c in range(0x10000)), dtype=np.uint8, count=0x10000)


_CHUNK_CHARS = 1 << 20  # texts are tokenised in chunks of about this many characters


def tokenize_batch(texts: Sequence[str]) -> TokenBatch:
    """Tokenise ``texts`` with :data:`TOKEN_PATTERN`, keeping code-point offsets.

    Equivalent to ``re.finditer(TOKEN_PATTERN, text)`` on each text (a property test checks it),
    but vectorised: the texts are joined with ``"\\n"`` (whitespace, so no token crosses a text
    boundary), every code point is classed as word / space / other from a table built with the
    same ``re`` classes, and a token starts at a non-space that does not continue a word run.
    Token strings are cut out of the joined UTF-8 by Arrow, not by Python. Work goes in chunks
    of about a million characters, so temporary arrays stay small.
    """
    ends_at = np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) + 1)
    cuts = np.unique(np.searchsorted(ends_at, np.arange(_CHUNK_CHARS, int(ends_at[-1]) if len(texts) else 0, _CHUNK_CHARS)) + 1)
    bounds = [0] + [int(c) for c in cuts if 0 < c < len(texts)] + [len(texts)]
    chunks = [_tokenize_chunk(texts[a:b]) for a, b in zip(bounds[:-1], bounds[1:])] or [_tokenize_chunk([])]
    if len(chunks) == 1:
        return chunks[0]
    offsets = [np.zeros(1, dtype=np.int64)]
    base = 0
    for c in chunks:
        offsets.append(c.offsets[1:] + base)
        base += int(c.offsets[-1])
    return TokenBatch(
        tokens=pa.concat_arrays([c.tokens for c in chunks]),
        starts=np.concatenate([c.starts for c in chunks]),
        ends=np.concatenate([c.ends for c in chunks]),
        offsets=np.concatenate(offsets),
    )


def _tokenize_chunk(texts: Sequence[str]) -> TokenBatch:
    n_texts = len(texts)
    text_lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n_texts)
    joined = "\n".join(texts)
    n = len(joined)
    if n == 0:
        return TokenBatch(pa.array([], pa.string()), np.zeros(0, np.int64), np.zeros(0, np.int64),
                          np.zeros(n_texts + 1, np.int64))
    cps = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    cls = _bmp_classes()[np.minimum(cps, 0xFFFF)]
    astral = np.flatnonzero(cps > 0xFFFF)
    for value in np.unique(cps[astral]).tolist():  # emoji and other rare planes: one check each
        cls[astral[cps[astral] == value]] = _char_class(chr(value))
    word = cls == _WORD
    is_tok = cls != _SPACE
    continues = np.zeros(n, dtype=bool)
    continues[1:] = word[1:] & word[:-1]
    continued = np.zeros(n, dtype=bool)
    continued[:-1] = continues[1:]
    g_starts = np.flatnonzero(is_tok & ~continues)
    g_ends = np.flatnonzero(is_tok & ~continued) + 1
    text_base = np.zeros(n_texts, dtype=np.int64)
    np.cumsum(text_lengths[:-1] + 1, out=text_base[1:])
    tok_text = np.searchsorted(text_base, g_starts, side="right") - 1
    offsets = np.zeros(n_texts + 1, dtype=np.int64)
    np.cumsum(np.bincount(tok_text, minlength=n_texts), out=offsets[1:])

    # Pieces (tokens and the whitespace between them) cover the joined text; Arrow slices them
    # out of the UTF-8 bytes and keeps the tokens.
    boundary = np.zeros(n + 1, dtype=bool)
    boundary[[0, n]] = True
    boundary[g_starts] = True
    boundary[g_ends] = True
    bounds = np.flatnonzero(boundary)
    data = joined.encode("utf-8")
    if len(data) == n:
        byte_at = bounds
    else:  # byte offset of each character: the positions of the UTF-8 lead bytes
        raw = np.frombuffer(data, dtype=np.uint8)
        char_at = np.append(np.flatnonzero((raw & 0xC0) != 0x80), len(data))
        byte_at = char_at[bounds]
    pieces = pa.LargeStringArray.from_buffers(
        len(bounds) - 1, pa.py_buffer(byte_at.astype(np.int64)), pa.py_buffer(data)
    )
    is_token_piece = np.zeros(n + 1, dtype=bool)
    is_token_piece[g_starts] = True
    tokens = pieces.filter(pa.array(is_token_piece[bounds[:-1]])).cast(pa.string())
    return TokenBatch(
        tokens=tokens,
        starts=g_starts - text_base[tok_text],
        ends=g_ends - text_base[tok_text],
        offsets=offsets,
    )


def tokenize(text: str) -> tuple[list[str], list[int], list[int]]:
    """Tokens of one text and their ``[start, end)`` code-point offsets (see :data:`TOKEN_PATTERN`)."""
    batch = tokenize_batch([text])
    return batch.tokens.to_pylist(), batch.starts.tolist(), batch.ends.tolist()


# --------------------------------------------------------------------------- BIO projection


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


# --------------------------------------------------------------------------- features


def ner_features(entity_labels: Sequence[str]):
    """The ``ner`` configuration's declared features.

    ``Sequence`` (a list in datasets >= 4) and the ``[{...}]`` list-of-struct form read the same in
    datasets 3.x to 5.x.
    """
    import datasets

    return datasets.Features(
        {
            "id": datasets.Value("string"),
            "article_id": datasets.Value("string"),
            "text": datasets.Value("string"),
            "tokens": datasets.Sequence(datasets.Value("string")),
            "token_starts": datasets.Sequence(datasets.Value("int32")),
            "token_ends": datasets.Sequence(datasets.Value("int32")),
            "ner_tags": datasets.Sequence(datasets.ClassLabel(names=bio_names(entity_labels))),
            "spans": [
                {
                    "start": datasets.Value("int32"),
                    "end": datasets.Value("int32"),
                    "label": datasets.Value("string"),
                    "text": datasets.Value("string"),
                }
            ],
        }
    )


def stance_features(stance_labels: Sequence[str]):
    """The ``stance`` configuration's declared features."""
    from datasets import ClassLabel, Features, Value

    return Features(
        {
            "id": Value("string"),
            "article_id": Value("string"),
            "segment_id": Value("string"),
            "text": Value("string"),
            "target": Value("string"),
            "target_start": Value("int32"),
            "target_end": Value("int32"),
            "label": ClassLabel(names=list(stance_labels)),
        }
    )


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class BuildReport:
    """What ``build`` read, wrote, dropped and why. The counts add up (checked on creation)."""

    segments_read: int
    segments_held_out: int
    segments_kept: int
    ner_rows: Mapping[str, int]
    spans: Mapping[str, int]  # read, held_out and SPAN_STATUSES
    stances: Mapping[str, int]  # read, held_out, dropped_duplicate, dropped_conflicting, kept
    stance_rows: Mapping[str, int]
    configs: tuple[str, ...]
    files: Mapping[str, str]  # relative path -> sha256
    fingerprint: str
    version: str
    out_dir: str

    def __post_init__(self) -> None:
        problems = []
        if self.segments_read != self.segments_kept + self.segments_held_out:
            problems.append("segments")
        if "ner" in self.configs and sum(self.ner_rows.values()) != self.segments_kept:
            problems.append("ner rows")
        s = self.spans
        if s.get("read", 0) != s.get("held_out", 0) + sum(s.get(k, 0) for k in SPAN_STATUSES):
            problems.append("entity spans")
        st = self.stances
        if st.get("read", 0) != st.get("held_out", 0) + st.get("dropped_duplicate", 0) + st.get(
            "dropped_conflicting", 0
        ) + sum(self.stance_rows.values()):
            problems.append("stances")
        if problems:
            raise DatasetBuilderError(f"BuildReport: {', '.join(problems)} do not add up: {self.to_dict()}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "out_dir": self.out_dir,
            "configs": list(self.configs),
            "segments_read": self.segments_read,
            "segments_held_out": self.segments_held_out,
            "segments_kept": self.segments_kept,
            "ner_rows": dict(self.ner_rows),
            "spans": dict(self.spans),
            "stances": dict(self.stances),
            "stance_rows": dict(self.stance_rows),
            "fingerprint": self.fingerprint,
            "files": dict(self.files),
        }


# --------------------------------------------------------------------------- building


def _list_array(offsets: np.ndarray, values: pa.Array) -> pa.ListArray:
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), values)


def _write_parquet(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if table.num_rows:
        pq.write_table(table, path, **PARQUET_SETTINGS)
    else:
        # No row group at all: a zero-row row group makes readers compute a batch size of 0.
        settings = {k: v for k, v in PARQUET_SETTINGS.items() if k != "row_group_size"}
        pq.ParquetWriter(path, table.schema, **settings).close()


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def parquet_fingerprint(out_dir: str | Path) -> str:
    """sha256 over the bytes of every ``*.parquet`` file under ``out_dir``, concatenated in the
    order of their relative POSIX paths (paths with a part starting with ``.`` skipped).

    ``scoring.dataset_fingerprint`` calls this, so the card and the leaderboard show the same
    fingerprint.
    """
    root = Path(out_dir)
    files = sorted(
        (p for p in root.rglob("*.parquet") if p.is_file() and not any(x.startswith(".") for x in p.relative_to(root).parts)),
        key=lambda p: p.relative_to(root).as_posix(),
    )
    h = hashlib.sha256()
    for path in files:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def build_dataset(
    gold: Sequence[Annotation],
    manifest: SplitManifest,
    schema: "LabelSchema",
    out_dir: str | Path,
    *,
    version: str = "0.1.0",
    normalise_report: Mapping[str, Any] | None = None,
    pretty_name: str | None = None,
    description: str | None = None,
    license: str = "unknown",
    citation: str | None = None,
    language: str = "en",
    progress: Callable[[str], None] | None = None,
) -> BuildReport:
    """Write the dataset folder described in the module docstring.

    Parameters
    ----------
    gold : sequence of Annotation
        Gold annotations (``annotator == "gold"``), one per segment.
    manifest : SplitManifest
        Every gold article must be in one of its splits or held out.
    schema : LabelSchema
        Label names and order (``entity_labels``, ``stance_labels``), ``instructions``,
        ``name`` and ``config_hash``. A config without entity labels gives no ``ner``
        configuration; one without stance labels gives no ``stance`` configuration.
    out_dir : path
        Created if needed; the files listed above are overwritten, nothing else is touched.
    version : str
        Dataset version, written to ``dataset_version.txt`` and the card.
    normalise_report : mapping, optional
        The ``normalise`` report; its ``agreement`` and ``rejected`` entries are rendered.
    pretty_name, description, license, citation, language : str
        Card fields (``license`` is a Hub licence id such as ``cc-by-4.0``).
    progress : callable, optional
        Called with the name of each phase as it starts.

    Returns
    -------
    BuildReport

    Raises
    ------
    InputError
        A non-gold or duplicate annotation, or a gold article that the manifest does not assign.
    SchemaError
        A label that is not in the config (the annotations were made with another config).
    """
    say = progress or (lambda _phase: None)
    out = Path(out_dir)
    version = str(version).strip()
    if not version or any(c.isspace() for c in version):
        raise InputError(f"The dataset version must be a non-empty word such as 0.1.0; got {version!r}.")
    entity_labels = tuple(getattr(schema, "entity_labels", ()) or ())
    stance_labels = tuple(getattr(schema, "stance_labels", ()) or ())
    configs = tuple(c for c, labels in (("ner", entity_labels), ("stance", stance_labels)) if labels)
    if not configs:
        raise SchemaError(f"config {getattr(schema, 'name', '?')!r} has neither entity nor stance labels.")

    say("checking")
    if not gold:
        raise InputError("No gold annotations to build from; run `dataset-builder normalise` first.")
    split_of = manifest.split_of()
    seen: set[str] = set()
    unassigned: list[str] = []
    for ann in gold:
        if ann.annotator != GOLD:
            raise InputError(
                f"segment {ann.segment_id!r}: annotator is {ann.annotator!r}, expected {GOLD!r}; build from the gold "
                "file written by `dataset-builder normalise`."
            )
        if ann.segment_id in seen:
            raise InputError(f"segment {ann.segment_id!r} is annotated twice in the gold data; gold has one per segment.")
        seen.add(ann.segment_id)
        if ann.article_id not in split_of and ann.article_id not in manifest.held_out:
            unassigned.append(ann.article_id)
    if unassigned:
        missing = sorted(set(unassigned))
        raise InputError(
            f"{len(missing)} gold article(s) are in no split of the manifest ({', '.join(missing[:5])}"
            f"{', ...' if len(missing) > 5 else ''}); run `dataset-builder split` again so every article is assigned."
        )
    entity_index = {label: i for i, label in enumerate(entity_labels)}
    stance_index = {label: i for i, label in enumerate(stance_labels)}
    config_name = getattr(schema, "name", "?")
    for ann in gold:
        for e in ann.entities:
            if e.label not in entity_index:
                raise SchemaError(
                    f"segment {ann.segment_id!r}: entity label {e.label!r} is not in config {config_name!r} "
                    f"(entity labels: {list(entity_labels)}); build with the config the annotations were made with."
                )
        for st in ann.stances:
            if st.label not in stance_index:
                raise SchemaError(
                    f"segment {ann.segment_id!r}: stance label {st.label!r} is not in config {config_name!r} "
                    f"(stance labels: {list(stance_labels)}); build with the config the annotations were made with."
                )

    kept = sorted(
        (a for a in gold if a.article_id in split_of), key=lambda a: (a.article_id, natural_key(a.segment_id))
    )
    held = [a for a in gold if a.article_id not in split_of]
    split_ids = {s: i for i, s in enumerate(SPLIT_NAMES)}
    row_split = np.array([split_ids[split_of[a.article_id]] for a in kept], dtype=np.int64)

    tables: dict[str, dict[str, pa.Table]] = {}
    stats: dict[str, Any] = {"ner": {}, "stance": {}}
    spans_counts: dict[str, int] = {"read": sum(len(a.entities) for a in gold), "held_out": sum(len(a.entities) for a in held)}
    spans_counts.update({k: 0 for k in SPAN_STATUSES})
    ner_rows = {s: 0 for s in SPLIT_NAMES}

    if "ner" in configs:
        say("tokenising")
        features = ner_features(entity_labels)
        tok = tokenize_batch([a.text for a in kept])
        say("projecting spans")
        span_rows = np.fromiter(
            chain.from_iterable([i] * len(a.entities) for i, a in enumerate(kept)), dtype=np.int64
        )
        ents = [e for a in kept for e in a.entities]
        e_start = np.fromiter((e.start for e in ents), dtype=np.int64, count=len(ents))
        e_end = np.fromiter((e.end for e in ents), dtype=np.int64, count=len(ents))
        e_label = np.fromiter((entity_index[e.label] for e in ents), dtype=np.int64, count=len(ents))
        tags, status = _project(tok, span_rows, e_start, e_end, e_label)
        for k, n in zip(*np.unique(status, return_counts=True)):
            spans_counts[SPAN_STATUSES[int(k)]] = int(n)
        say("writing ner")
        span_offsets = np.zeros(len(kept) + 1, dtype=np.int64)
        np.cumsum([len(a.entities) for a in kept], out=span_offsets[1:])
        spans_struct = pa.StructArray.from_arrays(
            [
                pa.array(e_start.astype(np.int32)),
                pa.array(e_end.astype(np.int32)),
                pa.array([e.label for e in ents], pa.string()),
                pa.array([e.text for e in ents], pa.string()),
            ],
            names=["start", "end", "label", "text"],
        )
        table = pa.Table.from_arrays(
            [
                pa.array([a.segment_id for a in kept], pa.string()),
                pa.array([a.article_id for a in kept], pa.string()),
                pa.array([a.text for a in kept], pa.string()),
                _list_array(tok.offsets, tok.tokens),
                _list_array(tok.offsets, pa.array(tok.starts.astype(np.int32))),
                _list_array(tok.offsets, pa.array(tok.ends.astype(np.int32))),
                _list_array(tok.offsets, pa.array(tags)),
                _list_array(span_offsets, spans_struct),
            ],
            schema=features.arrow_schema,
        )
        tables["ner"] = {}
        n_tokens = np.diff(tok.offsets)
        tag_row = np.repeat(np.arange(len(kept)), n_tokens)
        span_split = row_split[span_rows] if len(span_rows) else np.zeros(0, dtype=np.int64)
        for s, i in split_ids.items():
            mask = row_split == i
            tables["ner"][s] = table.filter(pa.array(mask))
            ner_rows[s] = int(mask.sum())
            split_tags = tags[row_split[tag_row] == i] if len(tags) else tags
            b_tags = Counter(split_tags[(split_tags % 2 == 1)].tolist())
            in_split = span_split == i
            stats["ner"][s] = {
                "rows": int(mask.sum()),
                "articles": len({a.article_id for a, m in zip(kept, mask) if m}),
                "tokens": int(n_tokens[mask].sum()),
                "spans": dict(Counter(e_label[in_split].tolist())),
                "bio_entities": {(t - 1) // 2: n for t, n in b_tags.items()},
            }

    stance_counts = {"read": sum(len(a.stances) for a in gold), "held_out": sum(len(a.stances) for a in held),
                     "dropped_duplicate": 0, "dropped_conflicting": 0}
    stance_rows = {s: 0 for s in SPLIT_NAMES}
    if "stance" in configs:
        say("writing stance")
        features = stance_features(stance_labels)
        cols: dict[str, list] = {k: [] for k in features}
        split_col: list[int] = []
        for a, sp in zip(kept, row_split.tolist()):
            if not a.stances:
                continue
            # Annotation sorts its stances by target, so repeats of a target are adjacent.
            groups = [a.stances] if len(a.stances) == 1 else [
                tuple(g) for _, g in groupby(a.stances, key=lambda x: (x.target_start, x.target_end))
            ]
            for group in groups:
                if len(group) > 1 and len({x.label for x in group}) > 1:
                    stance_counts["dropped_conflicting"] += len(group)
                    continue
                stance_counts["dropped_duplicate"] += len(group) - 1
                st = group[0]
                ts, te = st.target_start, st.target_end
                cols["id"].append(f"{a.segment_id}@{ts}-{te}")
                cols["article_id"].append(a.article_id)
                cols["segment_id"].append(a.segment_id)
                cols["text"].append(a.text)
                cols["target"].append(st.target_text)
                cols["target_start"].append(ts)
                cols["target_end"].append(te)
                cols["label"].append(stance_index[st.label])
                split_col.append(sp)
        schema_arrow = features.arrow_schema
        table = pa.Table.from_arrays(
            [pa.array(cols[f.name], f.type) for f in schema_arrow], schema=schema_arrow
        )
        split_arr = np.array(split_col, dtype=np.int64)
        labels_arr = np.array(cols["label"], dtype=np.int64)
        art_arr = cols["article_id"]
        tables["stance"] = {}
        for s, i in split_ids.items():
            mask = split_arr == i
            tables["stance"][s] = table.filter(pa.array(mask))
            stance_rows[s] = int(mask.sum())
            stats["stance"][s] = {
                "rows": int(mask.sum()),
                "articles": len({x for x, m in zip(art_arr, mask.tolist()) if m}),
                "labels": dict(Counter(labels_arr[mask].tolist())),
            }

    say("writing files")
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for config in CONFIGS:
        for s in SPLIT_NAMES:
            path = out / config / f"{s}.parquet"
            if config in tables:
                _write_parquet(tables[config][s], path)
                files[f"{config}/{s}.parquet"] = file_sha256(path)
            elif path.exists():
                path.unlink()  # a stale file from a build with another config would be loaded
    fingerprint = parquet_fingerprint(out)

    say("writing card")
    (out / VERSION_NAME).write_text(version + "\n", encoding="utf-8", newline="\n")
    _plot(stats, entity_labels, stance_labels, out / PLOT_NAME)
    files[PLOT_NAME] = file_sha256(out / PLOT_NAME)
    report = BuildReport(
        segments_read=len(gold),
        segments_held_out=len(held),
        segments_kept=len(kept),
        ner_rows=ner_rows,
        spans=spans_counts,
        stances={**stance_counts, "kept": sum(stance_rows.values())},
        stance_rows=stance_rows,
        configs=configs,
        files=files,
        fingerprint=fingerprint,
        version=version,
        out_dir=str(out),
    )
    body = render_card(
        report=report,
        stats=stats,
        manifest=manifest,
        schema=schema,
        normalise_report=normalise_report,
        pretty_name=pretty_name or _default_name(schema),
        description=description,
        license=license,
        citation=citation,
        language=language,
    )
    header = _yaml_header(tables, configs, entity_labels, stance_labels, pretty_name or _default_name(schema), license, language)
    (out / CARD_NAME).write_text(body, encoding="utf-8", newline="\n")
    (out / "README.md").write_text(header + "\n" + body, encoding="utf-8", newline="\n")
    return report


def _default_name(schema: Any) -> str:
    return f"News {getattr(schema, 'name', 'dataset').replace('_', ' ')} dataset"


def _yaml_header(tables, configs, entity_labels, stance_labels, pretty_name, license, language) -> str:
    import yaml

    feats = {"ner": ner_features(entity_labels) if "ner" in configs else None,
             "stance": stance_features(stance_labels) if "stance" in configs else None}
    header: dict[str, Any] = {
        "pretty_name": pretty_name,
        "license": license,
        "language": [language],
        "task_categories": [t for c, t in (("ner", "token-classification"), ("stance", "text-classification")) if c in configs],
        "configs": [],
        "dataset_info": [],
    }
    for config in configs:
        non_empty = [s for s in SPLIT_NAMES if tables[config][s].num_rows]
        header["configs"].append(
            {
                "config_name": config,
                "data_files": [{"split": s, "path": f"{config}/{s}.parquet"} for s in non_empty],
            }
        )
        header["dataset_info"].append(
            {
                "config_name": config,
                "features": feats[config]._to_yaml_list(),
                "splits": [
                    {"name": s, "num_bytes": int(tables[config][s].nbytes), "num_examples": int(tables[config][s].num_rows)}
                    for s in non_empty
                ],
            }
        )
    text = yaml.safe_dump(header, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000)
    return f"---\n{text}---\n"


def _plot(stats: Mapping[str, Any], entity_labels, stance_labels, path: Path) -> None:
    """Grouped bars: each label's share of each split, PNG, no metadata that changes between runs."""
    import matplotlib
    import matplotlib.style
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    def shares(counts: Mapping[int, int], n: int) -> list[float]:
        total = sum(counts.values())
        return [100.0 * counts.get(i, 0) / total if total else 0.0 for i in range(n)]

    panels = []
    if stats.get("stance"):
        panels.append(("Stance labels (% of the split's rows)", list(stance_labels),
                       {s: shares(stats["stance"][s]["labels"], len(stance_labels)) for s in SPLIT_NAMES}))
    if stats.get("ner"):
        panels.append(("Entity labels (% of the split's gold spans)", list(entity_labels),
                       {s: shares(stats["ner"][s]["spans"], len(entity_labels)) for s in SPLIT_NAMES}))
    with matplotlib.style.context("default"):  # the user's matplotlibrc must not change the bytes
        fig = Figure(figsize=(5.5 * len(panels), 3.6), dpi=100)
        FigureCanvasAgg(fig)
        width = 0.8 / len(SPLIT_NAMES)
        for p, (title, names, values) in enumerate(panels):
            ax = fig.add_subplot(1, len(panels), p + 1)
            xs = np.arange(len(names))
            for j, s in enumerate(SPLIT_NAMES):
                ax.bar(xs + (j - 1) * width, values[s], width, label=s)
            ax.set_xticks(xs, names)
            ax.set_title(title)
            ax.set_ylabel("%")
            ax.legend()
        fig.tight_layout()
        fig.savefig(path, format="png", metadata={"Software": None})


# --------------------------------------------------------------------------- card


def _md(value: Any) -> str:
    if value is None:
        return "n/a"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text.replace("|", "\\|").replace("\n", " ")


def _report_tables(obj: Any, head: tuple[str, str] = ("key", "value")) -> list[str]:
    """Markdown for an opaque report entry: nested keys flattened to ``a / b`` rows of one table;
    a list of objects (such as pairwise agreement) becomes a table of its own, columns = keys."""
    rows: list[tuple[str, Any]] = []
    lists: list[tuple[str, list]] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, f"{path} / {k}" if path else str(k))
        elif isinstance(value, list) and value and all(isinstance(x, Mapping) for x in value):
            lists.append((path, value))
        else:
            rows.append((path or "value", value))

    walk(obj, "")
    lines: list[str] = []
    if rows:
        lines += [f"| {head[0]} | {head[1]} |", "|---|---|"] + [f"| {_md(k)} | {_md(v)} |" for k, v in rows]
    for path, items in lists:
        columns = list(dict.fromkeys(k for item in items for k in item))
        lines += ["", f"{path}:", "", "| " + " | ".join(map(_md, columns)) + " |", "|---" * len(columns) + "|"]
        lines += ["| " + " | ".join(_md(item.get(c)) for c in columns) + " |" for item in items]
    return lines


def render_card(
    *,
    report: BuildReport,
    stats: Mapping[str, Any],
    manifest: SplitManifest,
    schema: Any,
    normalise_report: Mapping[str, Any] | None,
    pretty_name: str,
    description: str | None,
    license: str,
    citation: str | None,
    language: str,
) -> str:
    """The dataset card (markdown), generated from the data; deterministic."""
    entity_labels = tuple(getattr(schema, "entity_labels", ()) or ())
    stance_labels = tuple(getattr(schema, "stance_labels", ()) or ())
    L: list[str] = []
    L += [f"# {pretty_name}", ""]
    L += [f"Version **{report.version}** · fingerprint `{report.fingerprint}` · licence `{license}` · language `{language}`", ""]
    L += ["## Description", ""]
    L += [description or (
        "News articles segmented into units of text and annotated in Label Studio with named entities "
        "and the stance of each segment toward a target (an entity span). Built by `dataset-builder` from "
        "adjudicated gold annotations."
    ), ""]
    L += ["## Loading", "", "```python", "from datasets import load_dataset", ""]
    for c in report.configs:
        L += [f'{c} = load_dataset("path/to/this/folder", "{c}")  # DatasetDict: train, validation, test']
    L += ["```", ""]
    empty = [(c, s) for c in report.configs for s in SPLIT_NAMES if stats[c][s]["rows"] == 0]
    if empty:
        L += [
            "Empty splits ("
            + ", ".join(f"{c}/{s}" for c, s in empty)
            + ") are written as zero-row parquet files with the full schema but are not listed in the "
            "loader configuration, because `datasets` cannot load a split with no rows "
            "(huggingface/datasets#8401); `dataset_builder.build.load_built` returns them as empty datasets.",
            "",
        ]

    L += ["## Schema", ""]
    if "ner" in report.configs:
        L += ["### `ner`", "", "| feature | type |", "|---|---|"]
        L += [
            "| id | string (segment id) |", "| article_id | string |", "| text | string (the segment) |",
            "| tokens | list of string |", "| token_starts, token_ends | list of int32 (code points into `text`) |",
            f"| ner_tags | list of ClassLabel: {', '.join(f'{i}={n}' for i, n in enumerate(bio_names(entity_labels)))} |",
            "| spans | list of {start int32, end int32, label string, text string}: the gold character spans |", "",
        ]
    if "stance" in report.configs:
        L += ["### `stance`", "", "| feature | type |", "|---|---|"]
        L += [
            "| id | string: `{segment_id}@{target_start}-{target_end}` |", "| article_id | string |",
            "| segment_id | string |", "| text | string (the segment) |", "| target | string (the target span's text) |",
            "| target_start, target_end | int32 (code points into `text`) |",
            f"| label | ClassLabel: {', '.join(f'{i}={n}' for i, n in enumerate(stance_labels))} |", "",
        ]

    L += ["## Counts per split", ""]
    L += ["| config | split | rows | articles | tokens |", "|---|---|---|---|---|"]
    for c in report.configs:
        for s in SPLIT_NAMES:
            st = stats[c][s]
            L.append(f"| {c} | {s} | {st['rows']} | {st['articles']} | {st.get('tokens', '')} |")
    L += [""]

    L += ["## Label distributions", "", f"![Label distribution per split]({PLOT_NAME})", ""]
    if "stance" in report.configs:
        L += ["### Stance labels (rows)", "", "| label | " + " | ".join(SPLIT_NAMES) + " |", "|---" * (len(SPLIT_NAMES) + 1) + "|"]
        for i, name in enumerate(stance_labels):
            L.append(f"| {name} | " + " | ".join(str(stats['stance'][s]['labels'].get(i, 0)) for s in SPLIT_NAMES) + " |")
        L += [""]
    if "ner" in report.configs:
        L += ["### Entity labels (gold spans / entities in `ner_tags`)", "",
              "| label | " + " | ".join(SPLIT_NAMES) + " |", "|---" * (len(SPLIT_NAMES) + 1) + "|"]
        for i, name in enumerate(entity_labels):
            L.append(
                f"| {name} | "
                + " | ".join(f"{stats['ner'][s]['spans'].get(i, 0)} / {stats['ner'][s]['bio_entities'].get(i, 0)}" for s in SPLIT_NAMES)
                + " |"
            )
        L += [""]

    L += ["## Tokenisation and BIO projection", ""]
    L += [
        f"Tokens are the matches of the regular expression `{TOKEN_PATTERN}` (Python `re`, Unicode): runs of "
        "word characters, and every other non-space character on its own, with code-point offsets into the "
        "segment text. A gold span covers the tokens it overlaps: a span whose edges fall inside a token is "
        "expanded to the covering tokens; a span over no token is dropped. Where spans then overlap, the "
        "longest (in tokens) is kept, then the earliest, then the label listed first in the config; the others "
        "are dropped from `ner_tags` (they stay in `spans`).",
        "",
    ]
    L += ["| entity spans | count |", "|---|---|"]
    L += [f"| {k} | {v} |" for k, v in report.spans.items()]
    L += ["", "| stance targets | count |", "|---|---|"]
    L += [f"| {k} | {v} |" for k, v in report.stances.items()]
    L += [
        "",
        "A target annotated twice with the same label is kept once (`dropped_duplicate`); with different "
        "labels it is dropped (`dropped_conflicting`). `held_out` counts annotations of held-out articles.",
        "",
    ]

    L += ["## Split policy", ""]
    settings = manifest.settings
    L += [
        f"- Ratios (train/validation/test): {' / '.join(f'{r:g}' for r in manifest.ratios)}; salt `{manifest.salt}`.",
        "- Grouped by article: no article has segments in two splits. Near-duplicate articles (wire copies) "
        f"form one group: word {settings.get('shingle_size', '?')}-shingles, MinHash LSH (datasketch, "
        f"{settings.get('num_perm', '?')} permutations) for candidates, exact Jaccard >= "
        f"{settings.get('near_duplicate_threshold', '?')} to confirm, clusters = connected components; texts "
        f"from {settings.get('text_source', '?')}.",
        f"- Near-duplicate clusters: {len(manifest.near_duplicate_clusters)} "
        f"({sum(len(c.articles) for c in manifest.near_duplicate_clusters)} articles), each kept in one split.",
        "- Stable: an article listed in the previous manifest keeps its split, so adding articles never moves one. "
        "New groups are placed in the order of a salted hash of their smallest article id: the first fills any "
        "empty split, each next one goes where it best closes the gap to the target share of segments and of "
        "each stance label (stratified as far as whole groups allow). Trade-off: the split of an article depends "
        "on the manifest history, not on its id alone; re-splitting from scratch can move articles.",
        f"- Held out (new articles in a near-duplicate cluster already spread over several splits): {len(manifest.held_out)}.",
        f"- Gold data hash at split time: `{manifest.data_sha256}`.",
        "",
    ]
    pinned = getattr(manifest, "pinned", ())
    if pinned:  # only with pins, so that a card without any is unchanged
        split_of = manifest.split_of()
        per = Counter(split_of[a] for a in pinned)
        crossings = getattr(manifest, "pinned_crossings", ())
        L[-1:] = [
            f"- Pinned to the corpus's official split (placed there whatever the policy above says): {len(pinned)} "
            f"article(s) ({', '.join(f'{s} {per[s]}' for s in SPLIT_NAMES if per[s])}); unpinned articles are placed "
            "as above, pinned ones count towards the targets. Near-duplicate clusters across pinned splits (the "
            f"official split's own overlap, reported, not moved): {len(crossings)}.",
            "",
        ]
    for a, reason in manifest.held_out.items():
        L.append(f"  - `{a}`: {reason}")
    if manifest.held_out:
        L.append("")

    L += ["## Annotation guidelines", ""]
    L += [f"Labelling config `{getattr(schema, 'name', '?')}` (sha256 `{getattr(schema, 'config_hash', '?')}`).", ""]
    instructions = getattr(schema, "instructions", "") or ""
    if isinstance(instructions, (list, tuple)):
        instructions = "\n".join(str(x) for x in instructions)
    L += [("> " + line) if line.strip() else ">" for line in str(instructions).splitlines()] or ["(none given)"]
    L += [""]

    L += ["## Annotator agreement", ""]
    agreement = (normalise_report or {}).get("agreement")
    L += _report_tables(agreement, ("measure", "value")) if agreement else ["No agreement figures were given (no normalise report)."]
    L += [""]

    L += ["## What was rejected and why", ""]
    rejected = (normalise_report or {}).get("rejected")
    if rejected:
        L += ["Rejected by `normalise`:", ""] + _report_tables(rejected, ("reason", "count")) + [""]
    else:
        L += ["No normalise report was given, or it lists no rejections.", ""]
    L += [
        f"Dropped by `build`: {report.segments_held_out} segments of held-out articles; entity spans and stance "
        "targets as counted in *Tokenisation and BIO projection* above.",
        "",
    ]

    L += ["## Licence", "", f"`{license}`" + (" (set it with `dataset-builder build --license`)." if license == "unknown" else "."), ""]
    L += ["## Citation", "", "```bibtex"]
    if citation:
        L += [citation.strip()]
    else:
        key = re.sub(r"\W+", "_", pretty_name.lower()).strip("_")
        L += [f"@misc{{{key}_{re.sub(r'[^0-9A-Za-z]+', '_', report.version)},", f"  title = {{{pretty_name}}},",
              f"  note = {{Version {report.version}, fingerprint {report.fingerprint[:16]}}},", "}"]
    L += ["```", ""]
    L += ["## Files", "", "| file | sha256 |", "|---|---|"]
    L += [f"| {rel} | `{sha}` |" for rel, sha in sorted(report.files.items())]
    L += ["", "Fingerprint = sha256 of the bytes of every parquet file, concatenated in relative-path order.", ""]
    return "\n".join(L)


# --------------------------------------------------------------------------- loading


def load_built(out_dir: str | Path, config: str, *, cache_dir: str | Path | None = None):
    """Load one configuration of a built folder as a ``DatasetDict`` with all three splits.

    Uses ``datasets.load_dataset`` (``cache_dir`` passed on) for the non-empty splits and adds the
    empty ones (which ``datasets`` cannot load) as empty datasets with the declared features.
    """
    from datasets import Dataset, DatasetDict, Features, load_dataset

    out = Path(out_dir)
    if config not in CONFIGS or not (out / config).is_dir():
        raise InputError(f"{out}: no configuration {config!r}; expected one of {list(CONFIGS)} built there.")
    features = Features.from_arrow_schema(pq.read_schema(out / config / "train.parquet"))
    loaded = load_dataset(str(out), config, cache_dir=str(cache_dir) if cache_dir else None)
    return DatasetDict(
        {
            s: loaded[s] if s in loaded else Dataset.from_dict({k: [] for k in features}, features=features)
            for s in SPLIT_NAMES
        }
    )
