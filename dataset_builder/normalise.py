"""Normalise a Label Studio JSON export into per-annotator and gold :class:`Annotation` records.

Input
    Label Studio's standard ``JSON`` export (a top-level array of tasks, each with ``data``,
    ``annotations[]``, ``drafts``, ``predictions``) and the :class:`~dataset_builder.schema.LabelSchema`
    of the labelling config the project used. The export is read *streaming*: a few tasks at a time
    are cut out of a buffer of a few megabytes and decoded at C speed (``orjson``; the standard
    library's decoder where exact error positions are needed, see :func:`_iter_array`). Exports of
    8 MB and more are normalised by worker processes, one byte range each, with the same output
    byte for byte (:func:`_normalise_parallel`); anything unusual is read again by one process.
Memory
    Flat whatever the size of the export: a few batches of tasks, the per-annotator and per-pair
    tallies, agreement kept as tallies (a k x k table per annotator pair for kappa; alpha units
    grouped by their value counts, a few hundred distinct rows at most), and what must remember
    every task exactly (task and segment ids for duplicates, lead times for the median) in memory
    up to 100,000 tasks / 250,000 lead times, then in an SQLite file next to the output
    (:class:`_Spill`), deleted at the end.
Output
    Per-annotator :class:`Annotation` records, one adjudicated ``GOLD`` record per resolved task,
    :class:`Rejection` records, unresolved ties, and a :class:`NormaliseReport` whose counts add up:
    for tasks, annotations and results, ``read == kept + sum(rejected.values())``.
Invariants
    Offsets are half-open ``[start, end)`` Python code points of the task text and every span's
    text equals ``text[start:end]`` (the records check it; :func:`normalise_export` writes the same
    records' JSON without building them, and the tests hold the two to the same bytes). Label names
    come from the schema only.
    Identical input gives identical records in identical order (export order; annotators sorted).

Rules (each case is counted in the report under the name in brackets)
----------------------------------------------------------------------
What Label Studio stores (checked on label-studio 1.23.2): the API stores ``value.start``/``end``
exactly as the client sends them (a span after an emoji sent in UTF-16 units comes back in UTF-16
units, one sent in code points comes back in code points; see ``tests/fixtures/exports``). Its
editor's source (``web/libs/editor/src/tags/object/RichText/domManager.ts``, shipped as a source map)
counts text offsets over ``[...text]``, i.e. code points; older releases counted UTF-16 units.
That was read in the source, not observed in a browser. So an export can hold either convention,
and ``auto`` decides per span.

Offsets (``offsets=``):
    ``"codepoints"`` takes ``value.start``/``value.end`` as Python code points; ``"utf16"`` as
    UTF-16 code units (what a JavaScript string counts) and converts them. ``"auto"`` (default)
    decides per span: if no character outside the Basic Multilingual Plane precedes the span's
    end both readings agree [identical]; otherwise the reading whose slice matches ``value.text``
    wins [codepoints] / [utf16]; without a usable ``value.text`` it assumes code points
    [assumed_codepoints] (what Label Studio 1.23's editor stores: its text regions are counted over
    ``[...text]``, i.e. code points, and what its API stores is what the client sent). When both
    readings fit ``value.text`` (the same text recurs at both places) code points win
    [both_fit_chose_codepoints]. When neither reading fits ``value.text`` the code point reading
    goes on to re-alignment [unconfirmed_codepoints]; when only the UTF-16 reading lies inside the
    text it is used [utf16_only_fit] / [unconfirmed_utf16].
Spans (a ``labels`` result of the entity control):
    type/range checks first: non-integer offsets [bad_offsets], negative [negative_offset],
    ``end <= start`` [end_not_after_start], past the end of the text [past_end], an offset inside
    a surrogate pair in utf16 mode [inside_surrogate_pair]. ``value.text`` is only a cross-check:
    equal, or equal once whitespace runs are collapsed [text_whitespace_differs], passes; otherwise
    the span is re-aligned to ``value.text`` when that text (whitespace-flexible) occurs exactly
    once in the segment [realigned], or exactly once within ``max(32, len)`` code points of the
    given start [realigned_nearby]; else rejected [text_not_found] / [text_ambiguous]. Leading and
    trailing whitespace is trimmed [trimmed]; a whitespace-only span is rejected [whitespace_only].
    A result whose region ``id`` is neither a string nor an integer [bad_region_id].
    No/empty labels [no_label]; a label not in the schema [unknown_label]; a region with several
    labels gives one span per label [multi_label_region]; the same span twice in one annotation is
    kept once [duplicate_span]. Overlapping and nested spans are kept as they are.
Stance:
    per-region configs join a ``choices`` result to the span with the same region ``id`` in the
    same annotation. A stance whose id names no span is rejected [stance_orphan]; one whose span was
    rejected is rejected too [stance_target_rejected]; a span without a stance stays an entity with
    no stance [span_without_stance]. Configs with a given target (``has_target``) take the target
    from ``data.target``/``target_start``/``target_end`` (code points; a target that does not fit
    the text rejects the task [bad_target]). Not exactly one choice [stance_not_single_choice];
    a choice not in the schema [unknown_stance_label]; two stances for one target in one
    annotation: same label kept once [duplicate_stance], different labels both rejected
    [conflicting_stance]. Results of the target marker control are ignored [target_marker].
Annotations:
    cancelled (skipped) ones are not used [cancelled]; the same annotator twice: the latest by
    ``updated_at`` (then the higher id) is kept, the others are not used [superseded]; no
    ``completed_by`` [no_annotator]; a malformed annotation [bad_annotation]. Results inside an
    annotation that is not used are rejected with the annotation's reason (``in_cancelled``, ...).
    Drafts are never annotations: they are counted (``drafts_ignored``) and not read further;
    predictions likewise (``predictions_ignored``). Annotators are named by their Label Studio
    user id (never e-mail), as a string.
Tasks and gold:
    a task with no annotation [no_annotations], none usable [no_usable_annotation], fewer
    annotators than ``min_annotators`` and no ground truth [below_min_annotators], or a tie
    [unresolved_tie] gets no gold record (its per-annotator records are still written). Gold comes
    from the ``ground_truth`` annotations if any, else from all usable ones ("voters", n of them):
    an entity ``(start, end, label)`` is gold when more than n/2 voters marked it, unresolved at
    exactly n/2, dropped below. A stance target is decided when more than n/2 voters gave it a
    stance (unresolved at exactly n/2, dropped below) and then takes the label with the most votes;
    a tie for first place is unresolved. Unresolved items are never guessed: they are listed (see
    :attr:`TaskResult.unresolved`) so that an adjudicator can add a ground-truth annotation.
Agreement:
    stance: Krippendorff's alpha (nominal, ``krippendorff``; past 100,000 units from the same
    coincidence matrix the library sums, see :func:`_krippendorff_alpha`) over (task, target) units
    and pairwise Cohen's kappa (``sklearn.metrics.cohen_kappa_score`` on the table of label pairs,
    as sample weights) over the targets both annotators labelled; entities: pairwise exact-span F1 (micro over the tasks both annotated, spans compared
    as ``(start, end, label)``); per annotator: counts, median ``lead_time``, F1/accuracy against
    gold (gold is partly made of the annotator's own votes, so this is optimistic).
"""

from __future__ import annotations

import bisect
import codecs
import hashlib
import io
import json
import math
import os
import re
import shutil
import sqlite3
import statistics
import tempfile
import warnings
from array import array
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from itertools import combinations
from operator import itemgetter
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator, Mapping, Sequence

import ijson
import orjson

from .errors import ExportError, SchemaError
from .records import GOLD, Annotation, EntitySpan, Rejection, StanceLabel

STAGE = "normalise"
OFFSET_MODES = ("auto", "codepoints", "utf16")

_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_NEAR = 32  # code points either side of the given start in which a re-alignment still counts as "near"
# One encoder for every output line: the same bytes as jsonl.dumps, without building an encoder per call.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
_encode_str = encode_basestring  # how _encode writes a string (ensure_ascii=False)


# --------------------------------------------------------------------------------------------
# Reading the export
# --------------------------------------------------------------------------------------------


class _CountingReader:
    """A binary reader that hashes and counts the bytes read through it (for sha256 and progress)."""

    def __init__(self, fh: BinaryIO, prefix: bytes = b"") -> None:
        self._fh = fh
        self._prefix = prefix
        self.sha256 = hashlib.sha256()
        self.pos = 0
        self.on_read = None

    def fileno(self) -> int:
        return self._fh.fileno()

    def read(self, n: int = -1) -> bytes:
        if n == 0:
            return b""
        if self._prefix:
            if n is None or n < 0:
                data, self._prefix = self._prefix + self._fh.read(), b""
            else:
                data, self._prefix = self._prefix[:n], self._prefix[n:]
                if len(data) < n:
                    data += self._fh.read(n - len(data))
        else:
            data = self._fh.read(n)
        self.sha256.update(data)
        self.pos += len(data)
        if self.on_read is not None and data:
            self.on_read(len(data))
        return data


def _sniff(head: bytes, where: str) -> None:
    """Raise :class:`ExportError` unless ``head`` (the file's first bytes, BOM removed) opens a JSON array."""
    stripped = head.lstrip()
    if not stripped:
        raise ExportError(f"{where}: the file is empty; expected Label Studio's JSON export (a [...] array of tasks).")
    first = stripped[:1]
    if first == b"[":
        return
    if first == b"{":
        keys = _top_level_keys(stripped)
        hint = (
            "it looks like a single task; wrap it in [ ] or export the project again as JSON"
            if {"data", "annotations"} & set(keys)
            else "export the project with export type JSON (a list of tasks)"
        )
        raise ExportError(
            f"{where}: the top level is a JSON object (keys: {', '.join(keys[:8]) or 'none'}), not an array of "
            f"tasks; {hint}."
        )
    try:
        line = stripped.split(b"\n", 1)[0].decode("utf-8", errors="replace").rstrip("\r")
    except Exception:  # pragma: no cover - decode with errors=replace does not raise
        line = ""
    if line.startswith("-DOCSTART-") or re.fullmatch(r"\S+ -X- _ \S+", line):
        found = "CONLL2003"
    elif _header_like(line, "\t"):
        found = "TSV"
    elif _header_like(line, ","):
        found = "CSV"
    elif line.startswith("<"):
        found = "XML/HTML"
    else:
        found = f"not JSON (it starts with {line[:30]!r})"
    raise ExportError(
        f"{where}: this is {found}, not Label Studio's JSON export; export the project again with export "
        "type JSON (not JSON_MIN, CSV, TSV or CONLL2003)."
    )


_HEADER_FIELD = re.compile(r'"?[\w.-]+"?')


def _header_like(line: str, sep: str) -> bool:
    """A CSV/TSV header row: two or more bare or quoted column names (prose has spaces in its fields)."""
    fields = line.split(sep)
    return len(fields) > 1 and all(_HEADER_FIELD.fullmatch(f.strip()) for f in fields)


def _top_level_keys(head: bytes) -> list[str]:
    keys: list[str] = []
    try:
        for prefix, event, value in ijson.parse(head):
            if prefix == "" and event == "map_key":
                keys.append(value)
    except ijson.JSONError:
        pass
    return keys


def _check_first_task(item: Any, where: str) -> None:
    if not isinstance(item, dict):
        raise ExportError(
            f"{where}: the array holds {type(item).__name__} values, not task objects (first item: "
            f"{json.dumps(item)[:60]}); expected Label Studio's JSON export."
        )
    if "data" in item or "annotations" in item:
        return
    keys = sorted(item)
    if {"annotator", "annotation_id"} & set(keys):
        raise ExportError(
            f"{where}: this is Label Studio's JSON_MIN export (items carry {', '.join(keys[:8])}); it drops the "
            "region ids, offsets convention and cancelled annotations normalise needs. Export the project again "
            "with export type JSON."
        )
    raise ExportError(
        f"{where}: the first item has no 'data' and no 'annotations' (keys: {', '.join(keys[:8]) or 'none'}); "
        "expected Label Studio's JSON export (tasks with data and annotations)."
    )


class _Malformed(Exception):
    """Raised by the readers below; :func:`iter_export` adds the task count and the file name."""

    def __init__(self, reason: str, byte: int | None = None, *, utf8: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.byte, self.utf8 = reason, byte, utf8


def _refuse_constant(name: str) -> Any:
    # JSON has no NaN/Infinity; Python's decoder accepts them, the format (and orjson) does not.
    raise _Malformed(f"{name} is not a JSON value")


# The standard library's C scanner decodes one JSON value and says where it ended (exact reader).
_scan_once = json.JSONDecoder(parse_constant=_refuse_constant).scan_once
_WS = re.compile(r"[ \t\n\r]*")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_CHUNK = 1 << 21  # bytes read at a time
# A decode error this close to the end of the buffer may only mean that the value goes on in the
# next chunk (a number, literal or \u escape cut in two).
_NEAR_END = 16
_BATCH = 1 << 14  # bytes of items the fast reader hands to orjson at once (a few tasks: their objects die young)
_MAX_SPAN = 1 << 24  # no item boundary found within this many bytes: the exact reader takes over
_JWS = rb"[ \t\n\r]*"
_skip_ws = re.compile(_JWS).match
# How a task opens: {"<key>": <integer>, "<key>": ... (Label Studio: {"id": 12, "annotations": ...)
_OPENING = re.compile(
    rb'\{' + _JWS + rb'"([A-Za-z_][A-Za-z0-9_]{0,63})"' + _JWS + rb":" + _JWS + rb"-?[0-9]+" + _JWS + rb"," + _JWS
    + rb'"([A-Za-z_][A-Za-z0-9_]{0,63})"' + _JWS + rb":"
)


def _unlone(obj: Any) -> Any:
    """``obj`` with lone UTF-16 surrogates (``\\udXXX`` escapes without their pair) replaced by ``?``."""
    if isinstance(obj, str):
        return _LONE_SURROGATE.sub("?", obj)
    if isinstance(obj, list):
        return [_unlone(v) for v in obj]
    if isinstance(obj, dict):
        return {_unlone(k): _unlone(v) for k, v in obj.items()}
    return obj


def _cut_batches(reader: _CountingReader, size: int) -> Iterator[tuple[bytes | None, Any]]:
    """Cut the JSON array that ``reader`` holds into batches of whole items, for ``orjson``.

    Yields ``(batch, resume)``: ``batch`` is ``b"[" + items + b"]"`` with about ``size`` bytes of
    items, cut at an item boundary. A boundary is found by the opening every task shares
    (learned from the first one, see :data:`_OPENING`): ``}``, a comma, then ``{"id": <int>,
    "annotations":``. Such a cut is only a guess (the pattern could occur in a nested object),
    but a wrong one cannot decode: a cut inside a string leaves the string unterminated, a cut
    inside a nested value leaves brackets unbalanced, so a batch decodes only when every item in
    it is complete, and then into exactly those items. When no cut can be made (no ``[``, no
    opening pattern, no boundary within :data:`_MAX_SPAN` bytes, a trailing comma or anything but
    ``]`` at the end) ``batch`` is None and the cutting stops. ``resume()``, called before the
    next batch is asked for, returns ``(pending bytes, their stream offset, parser state)`` for
    :func:`_iter_exact` to read the rest from this batch's first item on.
    """
    read = reader.read
    buf = read(_CHUNK)
    eof = not buf
    base = 0  # stream offset of buf[0]
    p = 0
    state = -1  # -1: before '[', 0: at the first item (or ']'), 1: after a comma

    def resume() -> tuple[bytes, int, int]:
        return buf[p:], base + p, state

    p = _skip_ws(buf).end()
    if buf[p : p + 1] != b"[":
        yield None, resume
        return
    p = _skip_ws(buf, p + 1).end()
    state = 0
    opening = _OPENING.match(buf, p)
    if opening is None:
        yield None, resume
        return
    k1, k2 = (re.escape(k) for k in opening.groups())
    boundary = re.compile(
        rb"\}" + _JWS + rb"," + _JWS + rb'(?=\{' + _JWS + rb'"' + k1 + rb'"' + _JWS + rb":" + _JWS + rb"-?[0-9]+"
        + _JWS + rb"," + _JWS + rb'"' + k2 + rb'"' + _JWS + rb":)"
    )
    while True:
        target = p + size
        while True:
            m = boundary.search(buf, target) if target < len(buf) else None
            if m is not None or eof:
                break
            if len(buf) - p > _MAX_SPAN:
                yield None, resume
                return
            data = read(_CHUNK)
            eof = not data
            buf, base, target = buf[p:] + data, base + p, target - p
            p = 0
        if m is None:  # the rest of the file: items, ']', whitespace
            end = len(buf.rstrip(b" \t\n\r")) - 1
            if end < p or buf[end] != 0x5D or (state == 1 and not buf[p:end].strip()):  # not ']', or "[..., ]"
                yield None, resume
                return
            yield b"[" + buf[p:end] + b"]", resume
            return
        yield b"[" + buf[p : m.start() + 1] + b"]", resume
        p, state = m.end(), 1


def _iter_array(reader: _CountingReader) -> Iterator[Any]:
    """Yield the items of the JSON array that ``reader`` holds, one at a time, in batches.

    Fast path: batches of about :data:`_BATCH` bytes (a few tasks, whose objects die young) from
    :func:`_cut_batches`, each decoded by ``orjson``. At the first batch that cannot be cut or
    that orjson refuses (malformed or truncated JSON, invalid UTF-8, a lone surrogate, NaN...),
    :func:`_iter_exact` takes over from that batch's first item and reads the rest item by item,
    with exact error positions. Memory is a few batches plus the largest task, whatever the
    number of tasks.

    Raises
    ------
    _Malformed
        From :func:`_iter_exact`.
    """
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    for batch, resume in _cut_batches(reader, _BATCH):
        if batch is not None:
            try:
                items = loads(batch)
            except decode_error:
                pass
            else:
                yield from items
                continue
        yield from _iter_exact(reader, *resume())
        return


def _iter_exact(reader: _CountingReader, pending: bytes, offset: int, state: int) -> Iterator[Any]:
    """Yield the items of a JSON array one at a time, with exact error positions.

    Reads ``pending`` (the stream's bytes from ``offset`` on, already read) and then ``reader``,
    from a parser ``state`` (-1: before ``[``, 0: after ``[``, 1: after a comma). The bytes are
    decoded as UTF-8 incrementally, chunk by chunk; each item is decoded from the text buffer by
    the standard library's C scanner, which also says where it ends. An item cut by the end of the
    buffer makes the scanner fail close to the end of the buffer, or on an unterminated string, or
    end exactly there: the buffer is then refilled (from the item's start, at least doubling) and
    the item decoded again; once the file is exhausted the same failure is a real one. Memory is
    the buffer plus the largest item. After the closing ``]`` only whitespace may follow. Lone
    surrogates (``"\\ud800"``) become ``?`` as yajl made them.

    Raises
    ------
    _Malformed
        Malformed or truncated JSON, NaN/Infinity, or invalid UTF-8 (``utf8=True``; the items
        before the invalid byte are still yielded), with the byte offset after the BOM.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    scan, ws = _scan_once, _WS.match
    buf, pos = "", 0
    eof = False
    fed = offset  # stream offset of the end of the bytes given to the decoder
    decoded = offset  # ... of the end of the bytes it turned into text
    bad_utf8: tuple[int, str] | None = None  # (byte offset, reason) of the first invalid byte

    def more() -> bool:
        """Drop the consumed text, append the next chunk; False once the file is exhausted."""
        nonlocal buf, pos, eof, fed, decoded, bad_utf8, pending
        if eof:
            return False
        if pending:
            data, pending = pending, b""
        else:
            data = reader.read(max(_CHUNK, len(buf) - pos))  # grows with an item larger than a chunk
        fed += len(data)
        try:
            text = decoder.decode(data, final=not data)
            decoded = fed - len(decoder.getstate()[0])
        except UnicodeDecodeError as exc:
            # keep the valid text before the bad byte: the tasks it completes are still read
            decoded = fed - len(exc.object) + exc.start
            bad_utf8 = (decoded, exc.reason)
            text = exc.object[: exc.start].decode("utf-8")
            data = b""
        if not data:
            eof = True
        if text:  # (positions into buf stay valid when nothing came)
            buf, pos = buf[pos:] + text, 0
            return True
        return not eof

    def fail(reason: str, at: int) -> _Malformed:
        if at >= len(buf) and bad_utf8 is not None:
            return _Malformed(bad_utf8[1], bad_utf8[0], utf8=True)
        return _Malformed(reason, decoded - len(buf[at:].encode("utf-8", "surrogatepass")))

    while True:
        pos = ws(buf, pos).end()
        if pos >= len(buf):
            if more():
                continue
            raise fail("premature end of file", pos)
        c = buf[pos]
        if state == 2:
            if c == ",":
                pos, state = pos + 1, 1
                continue
            if c == "]":
                pos += 1
                break
            raise fail("expected ',' or ']' after an array item", pos)
        if state == -1:
            if c != "[":
                raise fail("expected '['", pos)
            pos, state = pos + 1, 0
            continue
        if c == "]" and state == 0:
            pos += 1
            break
        try:
            item, end = scan(buf, pos)
        except StopIteration as exc:  # no value starts there
            err, reason = exc.value, "expecting a value"
        except json.JSONDecodeError as exc:  # its msg without the position: "Invalid control character at"
            err, reason = exc.pos, exc.msg.removesuffix(" at").removesuffix(" starting")
        except _Malformed as exc:
            raise fail(exc.reason, pos) from None
        else:
            if end >= len(buf) and more():
                continue  # a number may go on in the next chunk: decode it again with what follows
            if buf.find("\\ud", pos, end) >= 0 or buf.find("\\uD", pos, end) >= 0:
                item = _unlone(item)
            yield item
            pos, state = end, 2
            continue
        unterminated = reason.startswith("Unterminated string")
        if err >= len(buf) - _NEAR_END or unterminated:
            if more():
                continue
            if bad_utf8 is not None:  # the item was cut by the invalid byte
                raise fail(reason, len(buf))
            if err >= len(buf) or unterminated:
                reason = f"premature end of file: {reason}"
        raise fail(reason, err)
    while True:  # only whitespace after the array; reading on also completes the sha256
        pos = ws(buf, pos).end()
        if pos < len(buf):
            raise fail("extra data after the array", pos)
        if not more():
            break
    if bad_utf8 is not None:
        raise _Malformed(bad_utf8[1], bad_utf8[0], utf8=True)


def iter_export(path: str | Path, *, reader_hook: Any = None) -> Iterator[tuple[int, Any]]:
    """Yield ``(index, task)`` for each item of a Label Studio JSON export, streaming.

    Items are decoded a few at a time from a buffer of a few megabytes (see :func:`_iter_array`),
    so memory does not grow with the number of tasks. Differences from a plain ``json.load``: NaN
    and Infinity are refused, lone UTF-16 surrogates (``"\\ud800"``) become ``?``.

    Parameters
    ----------
    path : str or Path
        The export file (UTF-8 JSON, optionally with a BOM).
    reader_hook : callable, optional
        Called with the :class:`_CountingReader` before reading starts (used for the sha256 and
        progress bars).

    Yields
    ------
    (int, object)
        Position of the item in the array (0-based) and the item as parsed (normally a dict;
        anything else is the caller's to reject).

    Raises
    ------
    ExportError
        Missing or empty file; another format (JSON object, JSON_MIN, CSV, TSV, CONLL2003);
        malformed or truncated JSON, invalid UTF-8 (names the number of complete tasks before it
        and the byte offset in the file).
    """
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path}: no such file; give the path of a Label Studio JSON export.")
    with path.open("rb") as fh:
        head = fh.read(65536)
        bom = 3 if head.startswith(b"\xef\xbb\xbf") else 0
        body = head[bom:]
        _sniff(body, str(path))
        reader = _CountingReader(fh, prefix=body)
        if reader_hook is not None:
            reader_hook(reader)
        index = -1
        try:
            for index, item in enumerate(_iter_array(reader)):
                if index == 0:
                    _check_first_task(item, str(path))
                yield index, item
        except _Malformed as exc:
            at = bom + (exc.byte if exc.byte is not None else reader.pos)
            if exc.utf8:
                raise ExportError(
                    f"{path}: not valid UTF-8 after {index + 1} complete task(s), before byte {at} ({exc.reason}); "
                    "Label Studio exports are UTF-8: download the export again instead of re-saving it."
                ) from None
            raise ExportError(
                f"{path}: malformed JSON after {index + 1} complete task(s), before byte {at} ({exc.reason}); "
                "the export is truncated or corrupt: download it again."
            ) from None


# --------------------------------------------------------------------------------------------
# Offsets
# --------------------------------------------------------------------------------------------


class _TextIndex:
    """The task text with what span checks need: length, UTF-16 map (only when non-BMP chars occur)."""

    __slots__ = ("text", "n", "astral_cp", "astral_u16", "u16_len", "bmp_end")

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        cps = [] if text.isascii() else [m.start() for m in _ASTRAL.finditer(text)]
        self.astral_cp = cps  # code point index of each non-BMP char
        self.astral_u16 = [cp + i for i, cp in enumerate(cps)]  # its UTF-16 index
        self.u16_len = self.n + len(cps)
        # offsets up to here mean the same in code points and UTF-16 (no non-BMP char before)
        self.bmp_end = cps[0] if cps else self.n

    def astral_before(self, cp_end: int) -> bool:
        """True when a non-BMP char lies in ``text[:cp_end]`` (so code points and UTF-16 differ there)."""
        return bool(self.astral_cp) and self.astral_cp[0] < cp_end

    def u16_to_cp(self, u: int) -> int | None:
        """Code point index of UTF-16 index ``u``; None if ``u`` falls inside a surrogate pair or past the end."""
        if u > self.u16_len:
            return None
        k = bisect.bisect_left(self.astral_u16, u)
        if k > 0 and self.astral_u16[k - 1] + 1 == u:
            return None  # between the high and the low surrogate
        return u - k


def _collapse(s: str) -> str:
    return " ".join(s.split())


def _matches(slice_: str, vt: str) -> int:
    """0: no match; 1: exact; 2: equal after collapsing whitespace runs."""
    if slice_ == vt:
        return 1
    if _collapse(slice_) == _collapse(vt) and _collapse(vt):
        return 2
    return 0


def _find_all(text: str, vt: str) -> list[tuple[int, int]]:
    tokens = vt.split()
    if not tokens:
        return []
    pattern = re.compile(r"\s+".join(re.escape(t) for t in tokens))
    out = []
    pos = 0
    while True:
        m = pattern.search(text, pos)
        if m is None:
            return out
        out.append((m.start(), m.end()))
        pos = m.start() + 1


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def _sorted_counts(c: Mapping[str, int]) -> dict[str, int]:
    return {k: c[k] for k in sorted(c) if c[k]}


@lru_cache(maxsize=4096)  # a few annotators, sorted for every task
def _annotator_key(a: str) -> tuple[int, int, str]:
    return (0, int(a), a) if a.isdigit() else (1, 0, a)


def _r(x: float | None) -> float | None:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return round(float(x), 4)


@dataclass(frozen=True)
class Tally:
    """``read`` things, of which ``kept`` were kept and the rest rejected by reason.

    Invariant (checked): ``read == kept + sum(rejected.values())``.
    """

    read: int
    kept: int
    rejected: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rejected", _sorted_counts(self.rejected))
        if self.read != self.kept + sum(self.rejected.values()):
            raise SchemaError(
                f"internal accounting error: read {self.read} != kept {self.kept} + rejected "
                f"{sum(self.rejected.values())} ({self.rejected}); please report this bug."
            )

    def to_dict(self) -> dict[str, Any]:
        return {"read": self.read, "kept": self.kept, "rejected": dict(self.rejected)}


@dataclass(frozen=True)
class NormaliseReport:
    """What :func:`normalise_export` / :func:`normalise_tasks` read, kept, rejected, fixed and measured.

    ``tasks``, ``annotations`` and ``results`` are :class:`Tally` objects whose counts add up;
    ``tasks.kept`` is the number of gold records. ``counts`` holds the other counted cases (fixes,
    offsets conventions, ignored drafts...), ``agreement`` and ``annotators`` the measurements.
    """

    source: str
    sha256: str | None
    config: str
    config_hash: str
    options: Mapping[str, Any]
    tasks: Tally
    annotations: Tally
    results: Tally
    counts: Mapping[str, Mapping[str, int]]
    gold: Mapping[str, int]
    agreement: Mapping[str, Any]
    annotators: Mapping[str, Mapping[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": STAGE,
            "source": self.source,
            "sha256": self.sha256,
            "config": self.config,
            "config_hash": self.config_hash,
            "options": dict(self.options),
            "tasks": self.tasks.to_dict(),
            "annotations": self.annotations.to_dict(),
            "results": self.results.to_dict(),
            # every rejection in one flat mapping ("tasks.no_annotations": 3, ...), for the dataset card
            "rejected": {
                f"{name}.{reason}": n
                for name, t in (("tasks", self.tasks), ("annotations", self.annotations), ("results", self.results))
                for reason, n in t.rejected.items()
            },
            "counts": {k: dict(v) for k, v in self.counts.items()},
            "gold": dict(self.gold),
            "agreement": self.agreement,
            "annotators": {k: dict(v) for k, v in self.annotators.items()},
        }

    def summary(self) -> str:
        """A readable multi-line summary (what the CLI prints and ``report.txt`` holds)."""
        lines = [f"normalise {self.source} (config {self.config}, offsets={self.options['offsets']}, "
                 f"min_annotators={self.options['min_annotators']})"]
        for name, t in (("tasks", self.tasks), ("annotations", self.annotations), ("results", self.results)):
            lines.append(f"  {name:<12} read {t.read:>8}  kept {t.kept:>8}  rejected {t.read - t.kept:>8}")
            for reason, n in t.rejected.items():
                lines.append(f"      {reason:<28} {n:>8}")
        lines.append(
            f"  gold: {self.gold.get('records', 0)} records, {self.gold.get('entities', 0)} entities, "
            f"{self.gold.get('stances', 0)} stances ({self.gold.get('from_ground_truth', 0)} tasks from ground truth, "
            f"{self.gold.get('from_vote', 0)} by vote; unresolved items: {self.gold.get('unresolved_items', 0)})"
        )
        for group, c in self.counts.items():
            if c:
                lines.append(f"  {group}: " + ", ".join(f"{k}={v}" for k, v in c.items()))
        st = self.agreement.get("stance", {})
        en = self.agreement.get("entities", {})
        if st:
            lines.append(f"  stance agreement: Krippendorff alpha (nominal) = {st.get('krippendorff_alpha')} "
                         f"over {st.get('units', 0)} units")
            for p in st.get("pairwise_cohen_kappa", []):
                lines.append(f"      kappa {p['a']} vs {p['b']}: {p['kappa']} (n={p['n']})")
        if en:
            for p in en.get("pairwise_f1", []):
                lines.append(f"  entity F1 {p['a']} vs {p['b']}: {p['f1']} over {p['tasks']} tasks")
        for name, a in self.annotators.items():
            lines.append(
                f"  annotator {name}: {a['annotations']} annotations ({a['cancelled']} cancelled, "
                f"{a['superseded']} superseded), {a['entities']} entities, {a['stances']} stances, "
                f"median lead_time {a['median_lead_time']}, entity F1 vs gold {a['gold_entity_f1']}, "
                f"stance accuracy vs gold {a['gold_stance_accuracy']}"
            )
        return "\n".join(lines) + "\n"


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

# Task ids (and as many segment ids) kept in Python sets before they move to SQLite (~18 MB here)
_SEEN_IN_MEMORY = 100_000
# Lead times kept in memory before they move to SQLite (8 bytes each)
_LEAD_IN_MEMORY = 250_000


class _Spill:
    """An SQLite database in a temporary folder, made on first use, for state that outgrows memory.

    One uncommitted transaction without a journal (nothing needs to survive the run, and nothing
    is ever rolled back); SQLite keeps a page cache of 8 MB and sorts on disk, so memory stays
    flat whatever goes in. :meth:`close` deletes it.
    """

    def __init__(self, directory: str | Path | None) -> None:
        self.directory = directory
        self.db: sqlite3.Connection | None = None
        self._folder: str | None = None

    def connect(self) -> sqlite3.Connection:
        if self.db is None:
            if self.directory is not None:
                Path(self.directory).mkdir(parents=True, exist_ok=True)
            self._folder = tempfile.mkdtemp(prefix=".normalise-spill-", dir=self.directory)
            self.db = sqlite3.connect(os.path.join(self._folder, "spill.sqlite"), isolation_level=None)
            for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-8192", "temp_store=FILE"):
                self.db.execute(f"PRAGMA {pragma}")
            self.db.execute("BEGIN")
        return self.db

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


class _SeenKeys:
    """Exact duplicate detection for task ids and segment ids, in Python sets, then in SQLite.

    Up to :data:`_SEEN_IN_MEMORY` task ids the keys are in two sets (about 130 bytes a task);
    past that they all move to two SQLite tables (primary keys, ``INSERT OR IGNORE``), about
    4 microseconds a task more, with flat memory.
    """

    def __init__(self, spill: _Spill, limit: float | None = None) -> None:
        self._tasks: set[int] = set()
        self._segments: set[str] = set()
        self._spill = spill
        self._db: sqlite3.Connection | None = None
        self.limit = _SEEN_IN_MEMORY if limit is None else limit

    def add_task(self, task_id: int) -> bool:
        """Remember ``task_id``; False if it was already there."""
        if self._db is None:
            if task_id in self._tasks:
                return False
            self._tasks.add(task_id)
            if len(self._tasks) > self.limit:
                self._move()
            return True
        return self._db.execute("INSERT OR IGNORE INTO task VALUES (?)", (str(task_id),)).rowcount == 1

    def add_segment(self, segment_id: str) -> bool:
        """Remember ``segment_id``; False if it was already there."""
        if self._db is None:
            if segment_id in self._segments:
                return False
            self._segments.add(segment_id)
            return True
        return self._db.execute("INSERT OR IGNORE INTO segment VALUES (?)", (segment_id,)).rowcount == 1

    def add_batch(self, task_ids: Sequence[int], segment_ids: Sequence[str]) -> bool:
        """Remember all of them if none was there yet (each list has no repeats) and say True; else add nothing."""
        if self._db is None:
            if not self._tasks.isdisjoint(task_ids) or not self._segments.isdisjoint(segment_ids):
                return False
            self._tasks.update(task_ids)
            self._segments.update(segment_ids)
            if len(self._tasks) > self.limit:
                self._move()
            return True
        db = self._db
        tasks = [str(t) for t in task_ids]
        for table, keys in (("task", tasks), ("segment", segment_ids)):
            for i in range(0, len(keys), 500):  # (no ROLLBACK without a journal: look before adding)
                part = keys[i : i + 500]
                found = db.execute(f"SELECT 1 FROM {table} WHERE k IN ({','.join('?' * len(part))}) LIMIT 1", part)
                if found.fetchone() is not None:
                    return False
        db.executemany("INSERT INTO task VALUES (?)", [(t,) for t in tasks])
        db.executemany("INSERT INTO segment VALUES (?)", [(k,) for k in segment_ids])
        return True

    def tasks_in_memory(self) -> list[int]:
        return list(self._tasks)

    def segments_in_memory(self) -> list[str]:
        return list(self._segments)

    def _move(self) -> None:
        db = self._db = self._spill.connect()
        db.execute("CREATE TABLE task (k TEXT PRIMARY KEY) WITHOUT ROWID")
        db.execute("CREATE TABLE segment (k TEXT PRIMARY KEY) WITHOUT ROWID")
        db.executemany("INSERT INTO task VALUES (?)", [(str(t),) for t in self._tasks])
        db.executemany("INSERT INTO segment VALUES (?)", [(s,) for s in self._segments])
        self._tasks, self._segments = set(), set()


class _LeadTimes:
    """Each annotator's lead times, for an exact median: arrays up to :data:`_LEAD_IN_MEMORY`, then SQLite."""

    def __init__(self, spill: _Spill, limit: float | None = None) -> None:
        self._mem: dict[str, array] = {}
        self._n = 0
        self._spill = spill
        self._db: sqlite3.Connection | None = None
        self.limit = _LEAD_IN_MEMORY if limit is None else limit

    def add(self, annotator: str, value: float) -> None:
        self.extend(annotator, (value,))

    def extend(self, annotator: str, values: Sequence[float]) -> None:
        if self._db is None:
            mine = self._mem.get(annotator)
            if mine is None:
                mine = self._mem[annotator] = array("d")
            mine.extend(values)
            self._n += len(values)
            if self._n > self.limit:
                self._move()
        else:
            self._db.executemany("INSERT INTO lead VALUES (?, ?)", [(annotator, v) for v in values])

    def in_memory(self) -> dict[str, array]:
        return self._mem

    def median(self, annotator: str) -> float | None:
        """``statistics.median`` of the annotator's lead times (None without any)."""
        if self._db is None:
            values = self._mem.get(annotator)
            return statistics.median(values) if values else None
        (n,) = self._db.execute("SELECT count(*) FROM lead WHERE a = ?", (annotator,)).fetchone()
        if not n:
            return None
        mid = [v for (v,) in self._db.execute(
            "SELECT v FROM lead WHERE a = ? ORDER BY v LIMIT ? OFFSET ?", (annotator, 2 - n % 2, (n - 1) // 2)
        )]
        return mid[0] if n % 2 else (mid[0] + mid[1]) / 2

    def _move(self) -> None:
        db = self._db = self._spill.connect()
        db.execute("CREATE TABLE lead (a TEXT, v REAL)")
        for annotator, values in self._mem.items():
            db.executemany("INSERT INTO lead VALUES (?, ?)", [(annotator, v) for v in values])
        self._mem = {}


# --------------------------------------------------------------------------------------------
# The normaliser
# --------------------------------------------------------------------------------------------


@dataclass
class _AnnStats:
    annotations: int = 0
    cancelled: int = 0
    superseded: int = 0
    entities: int = 0
    stances: int = 0
    gold_tp: int = 0
    gold_pred: int = 0
    gold_true: int = 0
    gold_stance_ok: int = 0
    gold_stance_n: int = 0


@dataclass(slots=True)
class _Parsed:
    """One usable annotation after its results were read."""

    annotator: str
    ann_id: Any
    ground_truth: bool
    entities: dict[tuple[int, int, str], str]  # (start, end, label) -> text
    stances: dict[tuple[int, int], str]  # (target_start, target_end) -> label


class _TaskOut:
    """What :meth:`Normaliser._process` made of one task, before any record is built.

    ``parsed`` are the usable annotations (per-annotator records, in annotator order), ``gold`` is
    ``(entity keys, {target: label})`` or None. :meth:`result` builds the checked records;
    :meth:`lines` writes the same records' JSON lines directly (the streaming export's fast path:
    no record objects, each span's JSON written once per task).
    """

    __slots__ = ("task_id", "index", "segment_id", "article_id", "text", "parsed", "gold", "rejections", "unresolved")

    def __init__(
        self, task_id: int | None, index: int, segment_id: str | None, article_id: str | None, text: str | None,
        parsed: Sequence[_Parsed], gold: tuple[list, dict] | None, rejections: list[Rejection],
        unresolved: tuple[Mapping[str, Any], ...],
    ) -> None:
        self.task_id, self.index, self.segment_id, self.article_id, self.text = (
            task_id, index, segment_id, article_id, text)
        self.parsed, self.gold, self.rejections, self.unresolved = parsed, gold, rejections, unresolved

    def result(self) -> TaskResult:
        seg, art, text, tid = self.segment_id, self.article_id, self.text, self.task_id
        records = tuple(
            Annotation(
                segment_id=seg,
                article_id=art,
                text=text,
                annotator=p.annotator,
                entities=tuple(EntitySpan(s, e, lab, t) for (s, e, lab), t in p.entities.items()),
                stances=tuple(StanceLabel(s, e, text[s:e], lab) for (s, e), lab in p.stances.items()),
                task_id=tid,
            )
            for p in self.parsed
        )
        gold = None
        if self.gold is not None:
            gold_ents, gold_st = self.gold
            gold = Annotation(
                segment_id=seg,
                article_id=art,
                text=text,
                annotator=GOLD,
                entities=tuple(EntitySpan(s, e, lab, text[s:e]) for (s, e, lab) in gold_ents),
                stances=tuple(StanceLabel(s, e, text[s:e], lab) for (s, e), lab in gold_st.items()),
                task_id=tid,
            )
        return TaskResult(tid, self.index, records, gold, tuple(self.rejections), self.unresolved)

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

        def stance(item: tuple[tuple[int, int], str]) -> str:
            (s, e), lab = item
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
            annotator: str, ents: Iterable[tuple[int, int, str]], sts: Iterable[tuple[tuple[int, int], str]]
        ) -> str:
            return (f'{head}{enc(annotator)}{body}{joined(tuple(sorted(ents)), entity)}], "stances": '
                    f'[{joined(tuple(sorted(sts)), stance)}]}}\n')

        ann_lines = "".join([line(p.annotator, p.entities, p.stances.items()) for p in self.parsed])
        gold_line = ""
        if self.gold is not None:
            gold_ents, gold_st = self.gold
            gold_line = line(GOLD, gold_ents, gold_st.items())
        return ann_lines, gold_line


class Normaliser:
    """Stateful per-task normaliser; feed tasks with :meth:`process`, then ask :meth:`report`.

    Parameters
    ----------
    schema : LabelSchema
        From :func:`dataset_builder.schema.load_schema`; the only source of label names.
    min_annotators : int, default 1
        Tasks with fewer usable annotators (and no ground truth) get no gold record.
    offsets : {"auto", "codepoints", "utf16"}, default "auto"
        How to read ``value.start``/``value.end`` (see the module docstring).
    source : str
        Name used in rejections and the report (normally the export path).
    spill_dir : str or Path, optional
        Where duplicate detection and lead times move to an SQLite file once they outgrow
        memory (see :class:`_Spill`); default: the system's temporary folder. Call
        :meth:`close` when done.

    Raises
    ------
    SchemaError
        Invalid options, or a config normalise cannot turn into entity spans / targeted stance.
    """

    def __init__(
        self, schema: Any, *, min_annotators: int = 1, offsets: str = "auto", source: str = "export",
        spill_dir: str | Path | None = None,
    ) -> None:
        if offsets not in OFFSET_MODES:
            raise SchemaError(
                f"The 'offsets' parameter of normalise must be one of {', '.join(OFFSET_MODES)}. Got {offsets!r} instead."
            )
        if not isinstance(min_annotators, int) or isinstance(min_annotators, bool) or min_annotators < 1:
            raise SchemaError(
                f"The 'min_annotators' parameter of normalise must be an int >= 1. Got {min_annotators!r} instead."
            )
        if schema.stance_labels and not schema.stance_per_region and not schema.has_target:
            raise SchemaError(
                f"{schema.path}: the stance <Choices> is per task but the config gives no target ($target); a stance "
                "needs a target span. Make the stance perRegion=\"true\" or add the target fields."
            )
        self.schema = schema
        self.min_annotators = min_annotators
        self.offsets = offsets
        self.source = source
        self._entity_labels = frozenset(schema.entity_labels)
        self._stance_labels = frozenset(schema.stance_labels)
        self._stance_index = {lab: i for i, lab in enumerate(schema.stance_labels)}
        self._known_from = {n for n in (schema.entity_from_name, schema.stance_from_name, schema.target_from_name) if n}
        # the controls whose results _parse_annotation's fast path takes (a name shared by two controls: none)
        # what each control's results are (on a name clash: target marker, then stance, then entity)
        self._from_kind = {
            name: kind
            for name, kind in (
                (schema.entity_from_name, "entity"),
                (schema.stance_from_name, "stance"),
                (schema.target_from_name, "target"),
            )
            if name
        }
        self._entity_from = schema.entity_from_name if self._from_kind.get(schema.entity_from_name) == "entity" else None
        self._stance_from = schema.stance_from_name if self._from_kind.get(schema.stance_from_name) == "stance" else None
        if self._entity_from is not None and self._entity_from == self._stance_from:  # pragma: no cover - dict keys
            self._entity_from = self._stance_from = None
        self.tasks_read = 0
        self.tasks_kept = 0
        self.task_rej: Counter[str] = Counter()
        self.ann_read = 0
        self.ann_kept = 0
        self.ann_rej: Counter[str] = Counter()
        self.res_read = 0
        self.res_kept = 0
        self.res_rej: Counter[str] = Counter()
        self.fixes: Counter[str] = Counter()
        self.conventions: Counter[str] = Counter()
        self.notes: Counter[str] = Counter()
        self.gold_counts: Counter[str] = Counter()
        self.from_names_seen: Counter[str] = Counter()
        self._config_confirmed = False
        self._index_used = False  # a message named a task by its position (see _normalise_parallel)
        self._spill = _Spill(spill_dir)
        self._seen = _SeenKeys(self._spill)  # task ids and segment ids met so far
        self._lead = _LeadTimes(self._spill)  # annotator -> lead times of the annotations kept
        self._stats: dict[str, _AnnStats] = defaultdict(_AnnStats)
        self._pair_f1: dict[tuple[str, str], list[int]] = {}
        # (a, b) -> k*k counts: how often a gave label i and b label j to the same target
        self._pair_kappa: dict[tuple[str, str], list[int]] = {}
        # alpha units grouped by their value counts (a row of k counts -> number of units with it):
        # a few hundred distinct rows at most, whatever the number of units
        self._alpha_units: Counter[tuple[int, ...]] = Counter()

    # ---- public -----------------------------------------------------------------------------

    def process(self, task: Any, index: int) -> TaskResult:
        """Normalise one exported task (the ``index``-th item of the export)."""
        return self._process(task, index).result()

    def _process(self, task: Any, index: int) -> _TaskOut:
        """:meth:`process` up to the records: what :func:`normalise_export` writes its lines from."""
        self.tasks_read += 1
        rejections: list[Rejection] = []
        if not isinstance(task, dict):
            return self._reject_task(None, index, "not_a_task", f"item is {type(task).__name__}", rejections)
        task_id = task.get("id")
        if task_id is None:
            self._index_used = True
            where = f"{self.source} item {index}"
        else:
            where = f"{self.source} task {task_id}"
        anns_raw = task.get("annotations")
        if not isinstance(task_id, int) or isinstance(task_id, bool):
            return self._reject_whole(
                task_id, index, anns_raw, "bad_task_id", f"{where}: 'id' is {task_id!r}, expected an integer task id",
                rejections,
            )
        if not self._seen.add_task(task_id):
            return self._reject_whole(
                task_id, index, anns_raw, "duplicate_task_id",
                f"{where}: task id {task_id} appeared earlier in the export", rejections,
            )
        data = task.get("data")
        if not isinstance(data, dict):
            return self._reject_whole(
                task_id, index, anns_raw, "missing_data",
                f"{where}: 'data' is {type(data).__name__}, expected an object", rejections,
            )
        text_field = self.schema.text_field
        text = data.get(text_field)
        if text is None:
            return self._reject_whole(
                task_id, index, anns_raw, "missing_text",
                f"{where}: data has no {text_field!r} (keys: {', '.join(sorted(data))})", rejections,
            )
        if not isinstance(text, str):
            return self._reject_whole(
                task_id, index, anns_raw, "text_not_string", f"{where}: data.{text_field} is {type(text).__name__}",
                rejections,
            )
        if not text.strip():
            return self._reject_whole(
                task_id, index, anns_raw, "empty_text", f"{where}: data.{text_field} is empty or whitespace", rejections
            )
        segment_id = data.get("segment_id")
        if not isinstance(segment_id, str) or not segment_id:
            segment_id = f"ls-task-{task_id}"
            self.notes["segment_id_from_task_id"] += 1
        if not self._seen.add_segment(segment_id):
            return self._reject_whole(
                task_id, index, anns_raw, "duplicate_segment_id",
                f"{where}: segment {segment_id!r} is also in an earlier task; delete one task", rejections,
            )
        article_id = data.get("article_id")
        if not isinstance(article_id, str) or not article_id:
            article_id = segment_id
            self.notes["article_id_from_segment_id"] += 1
        target: tuple[int, int] | None = None
        if self.schema.has_target:
            target = self._task_target(data, text)
            if isinstance(target, str):
                return self._reject_whole(task_id, index, anns_raw, "bad_target", f"{where}: {target}", rejections)

        drafts = task.get("drafts")
        if isinstance(drafts, list) and drafts:
            self.notes["drafts_ignored"] += len(drafts)
        preds = task.get("predictions")
        if isinstance(preds, list) and preds:
            self.notes["predictions_ignored"] += len(preds)

        if not isinstance(anns_raw, list) or not anns_raw:
            if anns_raw is not None and not isinstance(anns_raw, list):
                return self._reject_whole(
                    task_id, index, anns_raw, "bad_annotations", f"{where}: 'annotations' is {type(anns_raw).__name__}",
                    rejections,
                )
            return self._reject_task(task_id, index, "no_annotations", f"{where}: no annotation", rejections)

        tindex = _TextIndex(text)
        parse = self._parse_annotation
        parsed = [
            parse(ann, annotator, tindex, target, where, rejections)
            for ann, annotator in self._choose_annotations(anns_raw, where, rejections)
        ]
        if not self._config_confirmed:
            self._check_config()
        self._measure_agreement(parsed)

        out = _TaskOut(task_id, index, segment_id, article_id, text, parsed, None, rejections, ())
        if not parsed:
            self._reject_task(
                task_id, index, "no_usable_annotation", f"{where}: every annotation was cancelled or unusable",
                rejections,
            )
            return out
        voters = [p for p in parsed if p.ground_truth]
        from_gt = bool(voters)
        if not from_gt:
            voters = parsed
            if len(parsed) < self.min_annotators:
                self._reject_task(
                    task_id, index, "below_min_annotators",
                    f"{where}: {len(parsed)} annotator(s), min_annotators is {self.min_annotators}", rejections,
                )
                return out
        gold_ents, gold_st, unresolved = self._vote(voters, text)
        if unresolved:
            for u in unresolved:
                u.update({"task_id": task_id, "segment_id": segment_id})
            self.gold_counts["unresolved_items"] += len(unresolved)
            self._reject_task(
                task_id, index, "unresolved_tie", f"{where}: {len(unresolved)} tied item(s); add a ground-truth "
                "annotation in Label Studio", rejections,
            )
            out.unresolved = tuple(unresolved)
            return out
        out.gold = (gold_ents, gold_st)
        self.tasks_kept += 1
        gc = self.gold_counts
        gc["records"] += 1
        gc["entities"] += len(gold_ents)
        gc["stances"] += len(gold_st)
        gc["from_ground_truth" if from_gt else "from_vote"] += 1
        self._measure_against_gold(parsed, gold_ents, gold_st)
        return out

    def _reject_whole(
        self, task_id: Any, index: int, anns_raw: Any, reason: str, detail: str, rejections: list
    ) -> _TaskOut:
        """Reject a task; every annotation and result in it is rejected with the task's reason."""
        n_anns = len(anns_raw) if isinstance(anns_raw, list) else 0
        n_results = self._count_results(anns_raw)
        self.ann_read += n_anns
        self.ann_rej[f"in_rejected_task:{reason}"] += n_anns
        self.res_read += n_results
        self.res_rej[f"in_rejected_task:{reason}"] += n_results
        return self._reject_task(task_id, index, reason, detail, rejections)

    def report(self, *, sha256: str | None = None) -> NormaliseReport:
        """The report so far (call after the last :meth:`process`).

        Raises
        ------
        SchemaError
            Results were read but none belongs to the config's controls: the export was made with
            another labelling config.
        """
        self._check_config(final=True)
        annotators = {}
        for name in sorted(self._stats, key=_annotator_key):
            s = self._stats[name]
            annotators[name] = {
                "annotations": s.annotations,
                "cancelled": s.cancelled,
                "superseded": s.superseded,
                "entities": s.entities,
                "stances": s.stances,
                "median_lead_time": _r(self._lead.median(name)),
                "gold_entity_f1": _r(2 * s.gold_tp / (s.gold_pred + s.gold_true)) if s.gold_pred + s.gold_true else None,
                "gold_stance_accuracy": _r(s.gold_stance_ok / s.gold_stance_n) if s.gold_stance_n else None,
                "gold_stance_n": s.gold_stance_n,
            }
        return NormaliseReport(
            source=self.source,
            sha256=sha256,
            config=self.schema.name,
            config_hash=self.schema.config_hash,
            options={"offsets": self.offsets, "min_annotators": self.min_annotators},
            tasks=Tally(self.tasks_read, self.tasks_kept, self.task_rej),
            annotations=Tally(self.ann_read, self.ann_kept, self.ann_rej),
            results=Tally(self.res_read, self.res_kept, self.res_rej),
            counts={
                "span_fixes": _sorted_counts(self.fixes),
                "offsets_convention": _sorted_counts(self.conventions),
                "notes": _sorted_counts(self.notes),
            },
            gold=_sorted_counts(self.gold_counts),
            agreement=self._agreement(),
            annotators=annotators,
        )

    def _check_config(self, *, final: bool = False) -> None:
        """Fail fast when the export was labelled with another config (no from_name of ours in 50 results)."""
        if self._config_confirmed or not self.from_names_seen:
            return
        if self._known_from & self.from_names_seen.keys():
            self._config_confirmed = True
            return
        seen = sum(self.from_names_seen.values())
        if final or seen >= 50:
            raise SchemaError(
                f"{self.source}: none of the first {seen} results belongs to config {self.schema.name!r} "
                f"(from_name seen: {', '.join(sorted(self.from_names_seen)[:8])}; expected: "
                f"{', '.join(sorted(self._known_from))}); pass the --config the project was labelled with."
            )

    # ---- tasks and annotations ----------------------------------------------------------------

    @staticmethod
    def _count_results(anns: Any) -> int:
        if not isinstance(anns, list):
            return 0
        return sum(len(a["result"]) for a in anns if isinstance(a, dict) and isinstance(a.get("result"), list))

    def _reject_task(self, task_id: Any, index: int, reason: str, detail: str, rejections: list) -> _TaskOut:
        self.task_rej[reason] += 1
        if task_id is None:
            self._index_used = True
            src = f"{self.source} item {index}"
        else:
            src = f"{self.source} task {task_id}"
        rejections.append(Rejection(STAGE, src, reason, detail))
        task_id = task_id if isinstance(task_id, int) else None
        return _TaskOut(task_id, index, None, None, None, (), None, rejections, ())

    def _task_target(self, data: Mapping[str, Any], text: str) -> tuple[int, int] | str:
        t, ts, te = data.get("target"), data.get("target_start"), data.get("target_end")
        for name, v in (("target_start", ts), ("target_end", te)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                return f"data.{name} is {v!r}, expected an int >= 0"
        if not isinstance(t, str) or te <= ts or te > len(text) or text[ts:te] != t:
            return (
                f"data.target {t!r} is not text[{ts}:{te}] = {text[ts:te]!r}; target offsets must be code points "
                "of the segment text"
            )
        return (ts, te)

    def _choose_annotations(self, anns: list, where: str, rejections: list) -> list[tuple[dict, str]]:
        """Apply the cancelled / no-annotator / same-annotator rules; return (annotation, annotator) kept."""
        usable: dict[str, list[dict]] = {}
        all_stats = self._stats
        self.ann_read += len(anns)
        for ann in anns:
            if not isinstance(ann, dict) or not isinstance(ann.get("result", []), list):
                self.ann_rej["bad_annotation"] += 1
                rejections.append(Rejection(STAGE, where, "bad_annotation", "annotation is not an object with a result list"))
                continue
            cb = ann.get("completed_by")
            annotator = str(cb) if type(cb) is int else _annotator(cb)  # (a user id, most of the time)
            if annotator is None:
                self._drop_annotation(ann, "no_annotator", where, rejections)
                continue
            stats = all_stats[annotator]
            stats.annotations += 1
            if ann.get("was_cancelled"):
                stats.cancelled += 1
                self._drop_annotation(ann, "cancelled", where, rejections, log=False)
                continue
            versions = usable.get(annotator)
            if versions is None:
                usable[annotator] = [ann]
            else:
                versions.append(ann)
        chosen = []
        for annotator in sorted(usable, key=_annotator_key) if len(usable) > 1 else usable:
            versions = usable[annotator]
            stats = all_stats[annotator]
            if len(versions) > 1:
                versions.sort(key=lambda a: (_timestamp(a.get("updated_at")), _sortable_id(a.get("id"))))
                for old in versions[:-1]:
                    stats.superseded += 1
                    self._drop_annotation(old, "superseded", where, rejections)
            latest = versions[-1]
            lt = latest.get("lead_time")
            if type(lt) is float or isinstance(lt, (int, float)) and not isinstance(lt, bool):
                if math.isfinite(lt):
                    self._lead.add(annotator, float(lt))
            chosen.append((latest, annotator))
        self.ann_kept += len(chosen)
        return chosen

    def _drop_annotation(self, ann: dict, reason: str, where: str, rejections: list, *, log: bool = True) -> None:
        self.ann_rej[reason] += 1
        n = len(ann.get("result") or [])
        self.res_read += n
        self.res_rej[f"in_{reason}"] += n
        if log:
            rejections.append(
                Rejection(STAGE, f"{where} annotation {ann.get('id')}", reason, f"completed_by={ann.get('completed_by')!r}")
            )

    def _reject_result(self, ann: dict, where: str, rejections: list, reason: str, r: Any, detail: str) -> None:
        self.res_rej[reason] += 1
        rid = r.get("id") if isinstance(r, dict) else None
        rejections.append(Rejection(STAGE, f"{where} annotation {ann.get('id')} result {rid}", reason, detail))

    def _parse_annotation(
        self, ann: dict, annotator: str, ti: _TextIndex, target: tuple[int, int] | None, where: str, rejections: list
    ) -> _Parsed:
        """Read one usable annotation's results into entity spans and stances (rules: module docstring)."""
        schema = self.schema
        kinds, to_name, entity_labels = self._from_kind, schema.to_name, self._entity_labels
        text, bmp_end = ti.text, ti.bmp_end
        names_seen = None if self._config_confirmed else self.from_names_seen
        entities: dict[tuple[int, int, str], str] = {}
        region_spans: dict[Any, tuple[int, int] | None] = {}  # region id -> target offsets (None: rejected)
        stance_items: list[tuple[Any, dict]] = []
        results = ann.get("result") or []
        self.res_read += len(results)
        reject = self._reject_result
        kept = identical = 0
        entity_from, stance_from = self._entity_from, self._stance_from
        fields, span_fields = _RESULT_FIELDS, _SPAN_FIELDS
        auto = self.offsets == "auto"
        cp_fast = auto or self.offsets == "codepoints"
        n_text = ti.n

        for r in results:
            # Fast path: a well-formed result of the entity control with one known label whose offsets
            # are decided as _span would decide them (ints inside the text with no character outside
            # the BMP before the end, so both conventions agree; value.text equal to the slice, nothing
            # to trim), or one of the stance control. Anything else takes the general path below.
            try:
                fn, tn, rtype, value, rid = fields(r)
                if tn == to_name and type(value) is dict and type(rid) is str:
                    if fn == entity_from and rtype == "labels":
                        s, e, vt, labels = span_fields(value)
                        if (
                            type(labels) is list and len(labels) == 1 and type(s) is int and type(e) is int
                            and 0 <= s < e and type(vt) is str and vt and not vt[0].isspace()
                            and not vt[-1].isspace() and labels[0] in entity_labels
                        ):
                            # the offsets as _span/_auto decide (and count) them when value.text is
                            # exactly one reading's slice; anything else: the general path
                            if e <= bmp_end and text[s:e] == vt:  # no char outside the BMP before the end
                                identical += 1
                            elif cp_fast and e <= n_text and text[s:e] == vt:
                                both = False
                                if auto:
                                    us, ue = ti.u16_to_cp(s), ti.u16_to_cp(e)
                                    both = (us is not None and ue is not None and ue > us and (us, ue) != (s, e)
                                            and text[us:ue] == vt)
                                self.conventions["both_fit_chose_codepoints" if both else "codepoints"] += 1
                            elif auto:
                                us, ue = ti.u16_to_cp(s), ti.u16_to_cp(e)
                                if us is None or ue is None or ue <= us or (us, ue) == (s, e) or text[us:ue] != vt:
                                    raise TypeError
                                self.conventions["utf16"] += 1
                                s, e = us, ue
                            else:
                                raise TypeError
                            if names_seen is not None:
                                names_seen[fn] += 1
                            key = (s, e, labels[0])
                            if key in entities:
                                self.fixes["duplicate_span"] += 1
                            entities[key] = vt
                            region_spans[rid] = (s, e)
                            kept += 1
                            continue
                    elif fn == stance_from and rtype == "choices":
                        if names_seen is not None:
                            names_seen[fn] += 1
                        stance_items.append((rid, r))
                        continue
            except (KeyError, TypeError):
                pass
            if not isinstance(r, dict):
                reject(ann, where, rejections, "bad_result", r, f"result is {type(r).__name__}, expected an object")
                continue
            rid = r.get("id")
            if rid is not None and (not isinstance(rid, (str, int)) or isinstance(rid, bool)):
                reject(ann, where, rejections, "bad_region_id", r, f"id is {rid!r}, expected a string")
                continue
            fn = r.get("from_name")
            if names_seen is not None and isinstance(fn, str):
                names_seen[fn] += 1
            kind = kinds.get(fn)  # "entity", "stance", "target" or None (not a control of the config)
            if kind is None:
                if r.get("type") == "relation":
                    reject(ann, where, rejections, "unsupported_result_type", r, "relations are not part of the schema")
                else:
                    reject(ann, where, rejections, "unknown_from_name", r,
                           f"from_name {fn!r} is not a control of config {schema.name!r}")
                continue
            if r.get("to_name") != to_name:
                reject(ann, where, rejections, "wrong_to_name", r, f"to_name {r.get('to_name')!r}, expected {to_name!r}")
                continue
            value = r.get("value")
            if not isinstance(value, dict):
                reject(ann, where, rejections, "bad_value", r, f"value is {type(value).__name__}, expected an object")
                continue
            if kind == "target":
                self.res_rej["target_marker"] += 1  # the pre-marked target is task data, not an annotation
                continue
            rtype = r.get("type")
            if kind == "stance":
                if rtype != "choices":
                    reject(ann, where, rejections, "wrong_result_type", r,
                           f"type {rtype!r} for stance control {fn!r}, expected 'choices'")
                    continue
                stance_items.append((r.get("id"), r))
                continue
            # the entity control
            if rtype != "labels":
                reject(ann, where, rejections, "wrong_result_type", r,
                       f"type {rtype!r} for entity control {fn!r}, expected 'labels'")
                region_spans[r.get("id")] = None
                continue
            labels = value.get("labels")
            if not isinstance(labels, list) or not labels:
                reject(ann, where, rejections, "no_label", r, f"value.labels is {labels!r}")
                region_spans[r.get("id")] = None
                continue
            if not entity_labels.issuperset(labels):
                bad = [lab for lab in labels if lab not in entity_labels]
                reject(ann, where, rejections, "unknown_label", r,
                       f"label(s) {bad!r} not in config {schema.name!r} ({', '.join(schema.entity_labels)})")
                region_spans[r.get("id")] = None
                continue
            # The common case, decided here as _span would decide it: int offsets inside the text with no
            # character outside the BMP before the end (both conventions agree), value.text equal to the
            # slice and nothing to trim. Everything else goes through _span.
            s, e, vt = value.get("start"), value.get("end"), value.get("text")
            if (
                type(s) is int and type(e) is int and 0 <= s < e <= bmp_end and type(vt) is str
                and text[s:e] == vt and not vt[0].isspace() and not vt[-1].isspace()
            ):
                identical += 1
                sl = vt
            else:
                span = self._span(value, ti)
                if isinstance(span, str):
                    reject(ann, where, rejections, span, r, f"value {_short(value)} over text of {ti.n} code points")
                    region_spans[r.get("id")] = None
                    continue
                s, e = span
                sl = text[s:e]
            kept += 1
            if len(labels) == 1:
                key = (s, e, labels[0])
                if key in entities:
                    self.fixes["duplicate_span"] += 1
                entities[key] = sl
            else:
                self.fixes["multi_label_region"] += 1
                for lab in labels:
                    key = (s, e, lab)
                    if key in entities:
                        self.fixes["duplicate_span"] += 1
                    entities[key] = sl
            region_spans[r.get("id")] = (s, e)
        if identical:
            self.conventions["identical"] += identical

        stances: dict[tuple[int, int], str] = {}
        if stance_items:
            stance_labels, per_region = self._stance_labels, schema.stance_per_region
            first: dict[tuple[int, int], tuple[str, dict]] = {}  # target -> its first (label, result)
            more: dict[tuple[int, int], list[tuple[str, dict]]] | None = None  # target -> the others
            for rid, r in stance_items:
                choices = r["value"].get("choices")
                if not isinstance(choices, list) or len(choices) != 1:
                    reject(ann, where, rejections, "stance_not_single_choice", r,
                           f"value.choices is {choices!r}; expected one choice")
                    continue
                lab = choices[0]
                if lab not in stance_labels:
                    reject(ann, where, rejections, "unknown_stance_label", r,
                           f"choice {lab!r} not in config {schema.name!r} ({', '.join(schema.stance_labels)})")
                    continue
                if per_region:
                    if rid not in region_spans:
                        reject(ann, where, rejections, "stance_orphan", r,
                               f"no entity region with id {rid!r} in this annotation")
                        continue
                    tgt = region_spans[rid]
                    if tgt is None:
                        reject(ann, where, rejections, "stance_target_rejected", r,
                               f"its entity region {rid!r} was rejected")
                        continue
                else:
                    tgt = target
                if tgt not in first:
                    first[tgt] = (lab, r)
                elif more is None:
                    more = {tgt: [(lab, r)]}
                else:
                    more.setdefault(tgt, []).append((lab, r))
            conflicted: set[tuple[int, int]] = set()
            for tgt, item in first.items():
                if more is not None and tgt in more:
                    items = [item, *more[tgt]]
                    labs = {lab for lab, _ in items}
                    if len(labs) > 1:
                        for lab, r in items:
                            reject(ann, where, rejections, "conflicting_stance", r,
                                   f"stances {sorted(labs)} for one target in one annotation")
                        conflicted.add(tgt)
                        continue
                    self.res_rej["duplicate_stance"] += len(items) - 1
                    for _, r in items[1:]:
                        rejections.append(Rejection(
                            STAGE, f"{where} annotation {ann.get('id')} result {r.get('id')}", "duplicate_stance",
                            "same stance twice",
                        ))
                kept += 1
                stances[tgt] = item[0]
        else:
            conflicted = set()
        self.res_kept += kept
        if schema.stance_per_region:
            if len(stances) < len(region_spans):  # else every kept span has its stance
                targets = set(region_spans.values())
                targets.discard(None)
                n = len(targets - stances.keys() - conflicted)
                if n:
                    self.notes["span_without_stance"] += n
        elif schema.has_target and not stances and not conflicted:
            self.notes["annotation_without_stance"] += 1

        st = self._stats[annotator]
        st.entities += len(entities)
        st.stances += len(stances)
        return _Parsed(annotator, ann.get("id"), bool(ann.get("ground_truth")), entities, stances)

    # ---- spans --------------------------------------------------------------------------------

    def _span(self, value: Mapping[str, Any], ti: _TextIndex) -> tuple[int, int] | str:
        """Checked, converted, re-aligned and trimmed code point offsets, or a rejection reason."""
        start, end = value.get("start"), value.get("end")
        if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
            return "bad_offsets"
        if start < 0 or end < 0:
            return "negative_offset"
        if end <= start:
            return "end_not_after_start"
        vt = value.get("text")
        if not isinstance(vt, str):
            if vt is not None:
                self.notes["value_text_not_string"] += 1
            vt = None
        mode = self.offsets
        if mode == "utf16":
            if end > ti.u16_len:
                return "past_end"
            s, e = ti.u16_to_cp(start), ti.u16_to_cp(end)
            if s is None or e is None:
                return "inside_surrogate_pair"
            self.conventions["utf16" if ti.astral_before(e) else "identical"] += 1
            return self._check_text(s, e, vt, ti)
        if mode == "codepoints" or not ti.astral_cp or (end <= ti.n and not ti.astral_before(end)):
            # no non-BMP char before the end: both readings give the same code points
            if end > ti.n:
                return "past_end"
            self.conventions["codepoints" if ti.astral_before(end) else "identical"] += 1
            return self._check_text(start, end, vt, ti)
        return self._auto(start, end, vt, ti)

    def _auto(self, start: int, end: int, vt: str | None, ti: _TextIndex) -> tuple[int, int] | str:
        cp_ok = end <= ti.n
        us, ue = ti.u16_to_cp(start), ti.u16_to_cp(end)
        u_ok = us is not None and ue is not None and ue > us
        if not cp_ok and not u_ok:
            return "past_end"
        if vt is not None:
            # an exact match decides before a whitespace-collapsed one (a collapsed match can hide a shift)
            cp_slice = ti.text[start:end] if cp_ok else None
            u_slice = ti.text[us:ue] if u_ok and (us, ue) != (start, end) else None
            for exact in (True, False):
                m_cp = cp_slice is not None and (cp_slice == vt if exact else _matches(cp_slice, vt) == 2)
                m_u = u_slice is not None and (u_slice == vt if exact else _matches(u_slice, vt) == 2)
                if m_cp:
                    # both readings may fit when the same text recurs; code points are then preferred (counted)
                    self.conventions["both_fit_chose_codepoints" if m_u else "codepoints"] += 1
                    return self._check_text(start, end, vt, ti)
                if m_u:
                    self.conventions["utf16"] += 1
                    return self._check_text(us, ue, vt, ti)
        if cp_ok:
            self.conventions["assumed_codepoints" if vt is None else "unconfirmed_codepoints"] += 1
            return self._check_text(start, end, vt, ti)
        # only the UTF-16 reading fits the text
        self.conventions["utf16_only_fit" if vt is None else "unconfirmed_utf16"] += 1
        return self._check_text(us, ue, vt, ti)

    def _check_text(self, s: int, e: int, vt: str | None, ti: _TextIndex) -> tuple[int, int] | str:
        text = ti.text
        if vt is None:
            self.notes["no_value_text"] += 1
        else:
            m = _matches(text[s:e], vt)
            if m == 2:
                self.fixes["text_whitespace_differs"] += 1
            elif m == 0:
                found = _find_all(text, vt)
                if len(found) == 1:
                    s, e = found[0]
                    self.fixes["realigned"] += 1
                else:
                    near = [f for f in found if abs(f[0] - s) <= max(_NEAR, len(vt))]
                    if len(near) == 1:
                        s, e = near[0]
                        self.fixes["realigned_nearby"] += 1
                    else:
                        return "text_ambiguous" if found else "text_not_found"
        sl = text[s:e]
        stripped = sl.strip()
        if not stripped:
            return "whitespace_only"
        if len(stripped) != len(sl):
            lead = len(sl) - len(sl.lstrip())
            s, e = s + lead, s + lead + len(stripped)
            self.fixes["trimmed"] += 1
        return (s, e)

    # ---- adjudication -------------------------------------------------------------------------

    @staticmethod
    def _vote(voters: Sequence[_Parsed], text: str):
        n = len(voters)
        unresolved: list[dict[str, Any]] = []
        if n == 1:  # one voter: everything it marked has 1 > 1/2 votes
            (p,) = voters
            return sorted(p.entities), {tgt: p.stances[tgt] for tgt in sorted(p.stances)}, unresolved
        ent_votes: dict[tuple[int, int, str], int] = {}
        get = ent_votes.get
        for p in voters:
            for key in p.entities:
                ent_votes[key] = get(key, 0) + 1
        gold_ents = []
        for key in sorted(ent_votes):
            k = ent_votes[key]
            if 2 * k > n:
                gold_ents.append(key)
            elif 2 * k == n:
                s, e, lab = key
                unresolved.append(
                    {"kind": "entity", "start": s, "end": e, "text": text[s:e], "label": lab, "votes": k, "voters": n}
                )
        labels: dict[tuple[int, int], dict[str, int]] = {}  # target -> label -> votes
        for p in voters:
            for tgt, lab in p.stances.items():
                c = labels.get(tgt)
                if c is None:
                    labels[tgt] = {lab: 1}
                else:
                    c[lab] = c.get(lab, 0) + 1
        gold_st: dict[tuple[int, int], str] = {}
        for tgt in sorted(labels):
            c = labels[tgt]
            k = sum(c.values())  # voters who gave this target a stance
            if 2 * k < n:
                continue
            if len(c) == 1:
                (top,) = c
                tie = False
            else:
                ranked = sorted(c.values(), reverse=True)
                tie = ranked[0] == ranked[1]
                top = max(c, key=c.__getitem__)
            if 2 * k == n or tie:
                s, e = tgt
                unresolved.append(
                    {"kind": "stance", "start": s, "end": e, "text": text[s:e], "votes": dict(sorted(c.items())),
                     "voters": n}
                )
                continue
            gold_st[tgt] = top
        return gold_ents, gold_st, unresolved

    # ---- agreement ----------------------------------------------------------------------------

    def _measure_agreement(self, parsed: Sequence[_Parsed]) -> None:
        """Add one task's annotations to the pairwise and alpha tallies.

        ``parsed`` is in annotator order (:meth:`_choose_annotations` sorts), so each pair's key is
        ``(first, second)`` in that order.
        """
        if len(parsed) < 2:
            return
        pair_f1, pair_kappa, index = self._pair_f1, self._pair_kappa, self._stance_index
        width = len(index)
        for a, b in combinations(parsed, 2):
            key = (a.annotator, b.annotator)
            acc = pair_f1.get(key)
            if acc is None:
                acc = pair_f1[key] = [0, 0, 0, 0]
            ae, be = a.entities, b.entities
            acc[0] += len(ae.keys() & be.keys())
            acc[1] += len(ae)
            acc[2] += len(be)
            acc[3] += 1
            ast, bst = a.stances, b.stances
            if ast and bst:
                common = ast.keys() & bst.keys()
                if common:
                    cells = pair_kappa.get(key)
                    if cells is None:
                        cells = pair_kappa[key] = [0] * (width * width)
                    for tgt in common:
                        cells[index[ast[tgt]] * width + index[bst[tgt]]] += 1
        if width:
            units: dict[tuple[int, int], list[int]] = {}
            for p in parsed:
                for tgt, lab in p.stances.items():
                    row = units.get(tgt)
                    if row is None:
                        row = units[tgt] = [0] * width
                    row[index[lab]] += 1
            alpha_units = self._alpha_units
            for row in units.values():
                if sum(row) >= 2:  # a unit with one value is unpairable and does not change alpha
                    alpha_units[tuple(row)] += 1

    def _measure_against_gold(self, parsed: Sequence[_Parsed], gold_ents: list, gold_st: Mapping) -> None:
        g = set(gold_ents)
        for p in parsed:
            s = self._stats[p.annotator]
            s.gold_tp += len(g & p.entities.keys())
            s.gold_pred += len(p.entities)
            s.gold_true += len(g)
            for tgt, lab in gold_st.items():
                if tgt in p.stances:
                    s.gold_stance_n += 1
                    s.gold_stance_ok += p.stances[tgt] == lab

    def _agreement(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.schema.entity_labels:
            pairs = []
            for (a, b), (tp, na, nb, ntasks) in sorted(
                self._pair_f1.items(), key=lambda kv: (_annotator_key(kv[0][0]), _annotator_key(kv[0][1]))
            ):
                f1 = 2 * tp / (na + nb) if na + nb else None
                pairs.append({"a": a, "b": b, "f1": _r(f1), "tasks": ntasks, "spans_a": na, "spans_b": nb, "matched": tp})
            out["entities"] = {"pairwise_f1": pairs}
        if self.schema.stance_labels:
            out["stance"] = self._stance_agreement()
        return out

    def _stance_agreement(self) -> dict[str, Any]:
        k = len(self._stance_index)
        patterns = self._alpha_units
        units = sum(patterns.values())
        alpha = None
        note = None
        if not units:
            note = "no unit labelled by two or more annotators"
        elif sum(1 for i in range(k) if any(row[i] for row in patterns)) < 2:
            note = "only one stance label used: alpha is undefined"
        else:
            alpha = _krippendorff_alpha(patterns)
        kappas = []
        for (a, b), cells in sorted(
            self._pair_kappa.items(), key=lambda kv: (_annotator_key(kv[0][0]), _annotator_key(kv[0][1]))
        ):
            kappas.append({"a": a, "b": b, "kappa": _r(_cohen_kappa(cells, k)), "n": sum(cells)})
        return {"krippendorff_alpha": _r(alpha), "units": units, "note": note, "pairwise_cohen_kappa": kappas}

    # ---- merging the state of batches normalised elsewhere (see _normalise_parallel) ------------

    _SUMMED = ("tasks_read", "tasks_kept", "ann_read", "ann_kept", "res_read", "res_kept")
    _COUNTED = ("task_rej", "ann_rej", "res_rej", "fixes", "conventions", "notes", "gold_counts", "from_names_seen",
                "_alpha_units")

    def _batch_state(self) -> dict[str, Any]:
        """Everything :meth:`_absorb` adds up, of a Normaliser that read one batch (picklable)."""
        state = {name: getattr(self, name) for name in self._SUMMED + self._COUNTED}
        state.update(
            confirmed=self._config_confirmed, stats=dict(self._stats), pair_f1=self._pair_f1,
            pair_kappa=self._pair_kappa, lead=self._lead.in_memory(), task_ids=self._seen.tasks_in_memory(),
            segment_ids=self._seen.segments_in_memory(),
        )
        return state

    def _absorb(self, state: Mapping[str, Any]) -> None:
        """Add a batch's :meth:`_batch_state` to this one (its keys were checked by :meth:`_SeenKeys.add_batch`)."""
        for name in self._SUMMED:
            setattr(self, name, getattr(self, name) + state[name])
        for name in self._COUNTED:
            getattr(self, name).update(state[name])
        self._config_confirmed = self._config_confirmed or state["confirmed"]
        for name, theirs in state["stats"].items():
            mine = self._stats[name]
            for f in _ANN_STATS_FIELDS:
                setattr(mine, f, getattr(mine, f) + getattr(theirs, f))
        for table, theirs in ((self._pair_f1, state["pair_f1"]), (self._pair_kappa, state["pair_kappa"])):
            for key, cells in theirs.items():
                mine = table.get(key)
                if mine is None:
                    table[key] = list(cells)
                else:
                    for i, v in enumerate(cells):
                        mine[i] += v
        for name, values in state["lead"].items():
            self._lead.extend(name, values)

    def close(self) -> None:
        """Delete the spill file, if one was made (the report must have been taken before)."""
        self._spill.close()


_RESULT_FIELDS = itemgetter("from_name", "to_name", "type", "value", "id")
_SPAN_FIELDS = itemgetter("start", "end", "text", "labels")
_ANN_STATS_FIELDS = tuple(f for f in _AnnStats.__dataclass_fields__)
# Below this many units Krippendorff's alpha is computed by the krippendorff package from the units
# themselves (it builds units x k x k float arrays); above it, from their k x k coincidence matrix.
_ALPHA_LIBRARY_UNITS = 100_000


def _krippendorff_alpha(patterns: Mapping[tuple[int, ...], int]) -> float:
    """Krippendorff's alpha (nominal) of units given as ``{value counts of a unit: number of such units}``.

    Up to :data:`_ALPHA_LIBRARY_UNITS` units, ``krippendorff.alpha`` computes it from the units
    (rows expanded in sorted order, so the float sums are always done in the same order). Beyond,
    its arrays would grow with the export (about 200 bytes per unit), so the same statistic is
    computed from the units' coincidence matrix, which is what the library sums: each unit with
    counts ``r`` (``m = sum(r)`` values) adds ``(r r^T - diag(r)) / (m - 1)``; with ``n_v`` its
    column sums and ``n`` their total, ``e = (n_v n_v^T - diag(n_v)) / (n - 1)`` and
    ``alpha = 1 - sum(o * d) / sum(e * d)`` with ``d`` the nominal distance (1 off the diagonal).
    The tests hold both to the library on random units.
    """
    import numpy as np

    rows = sorted(patterns)
    reps = np.array([patterns[r] for r in rows], dtype=np.int64)
    values = np.array(rows, dtype=np.float64)
    if int(reps.sum()) <= _ALPHA_LIBRARY_UNITS:
        import krippendorff

        return float(krippendorff.alpha(value_counts=np.repeat(values, reps, axis=0), level_of_measurement="nominal"))
    m = values.sum(axis=1)
    per_unit = (values[:, :, None] * values[:, None, :] - values[:, None, :] * np.eye(values.shape[1])) / (m - 1)[:, None, None]
    o = (per_unit * reps[:, None, None]).sum(axis=0)
    n_v = o.sum(axis=0)
    e = (np.outer(n_v, n_v) - np.diagflat(n_v)) / (n_v.sum() - 1)
    d = 1.0 - np.eye(len(n_v))
    return float(1.0 - (o * d).sum() / (e * d).sum())


def _cohen_kappa(cells: Sequence[int], k: int) -> float | None:
    """Cohen's kappa (``sklearn.metrics.cohen_kappa_score``) of a k x k table of label pairs; None if undefined."""
    import numpy as np

    pairs = [(i // k, i % k, n) for i, n in enumerate(cells) if n]
    if len({i for i, _, _ in pairs} | {j for _, j, _ in pairs}) < 2:
        return None
    from sklearn.metrics import cohen_kappa_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        kappa = cohen_kappa_score(
            np.array([i for i, _, _ in pairs]), np.array([j for _, j, _ in pairs]), labels=list(range(k)),
            sample_weight=np.array([n for _, _, n in pairs], dtype=np.float64),
        )
    return None if math.isnan(kappa) else float(kappa)


def _annotator(completed_by: Any) -> str | None:
    if isinstance(completed_by, dict):
        completed_by = completed_by.get("id")
    if isinstance(completed_by, bool) or completed_by is None:
        return None
    if isinstance(completed_by, int):
        return str(completed_by)
    if isinstance(completed_by, str) and completed_by.strip():
        return completed_by.strip()
    return None


def _timestamp(value: Any) -> float:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return float("-inf")
    return float("-inf")


def _sortable_id(aid: Any) -> tuple[int, str]:
    return (aid, "") if isinstance(aid, int) and not isinstance(aid, bool) else (-1, str(aid))


def _short(value: Mapping[str, Any]) -> str:
    return json.dumps({k: value.get(k) for k in ("start", "end", "text") if k in value}, ensure_ascii=False)[:160]


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------


def normalise_tasks(
    tasks: Iterable[Any], schema: Any, *, min_annotators: int = 1, offsets: str = "auto", source: str = "tasks"
) -> tuple[list[TaskResult], NormaliseReport]:
    """Normalise in-memory tasks (a parsed export); for small inputs and tests.

    Returns
    -------
    (list of TaskResult, NormaliseReport)

    Raises
    ------
    SchemaError
        Bad options, or no result belongs to the config (see :meth:`Normaliser.report`).
    """
    norm = Normaliser(schema, min_annotators=min_annotators, offsets=offsets, source=source)
    try:
        results = [norm.process(task, i) for i, task in enumerate(tasks)]
        return results, norm.report()
    finally:
        norm.close()


OUTPUT_FILES = ("annotations.jsonl", "gold.jsonl", "rejections.jsonl", "unresolved.jsonl", "report.json", "report.txt")
_LINE_FILES = OUTPUT_FILES[:4]


def _run_batch(norm: Normaliser, batch: bytes, first_index: int) -> tuple[int, bytes, bytes, bytes, bytes] | None:
    """Normalise the tasks of one ``[...]`` batch with ``norm``; the four JSONL files' bytes, or None if orjson refuses it.

    Returns ``(tasks, annotations.jsonl, gold.jsonl, rejections.jsonl, unresolved.jsonl)``: the
    lines :func:`normalise_export` writes for these tasks when it reads them one by one. The
    batch is decoded :data:`_BATCH` bytes at a time (:func:`_cut_batches` again): a few tasks'
    objects at once stay in the CPU's caches, half a megabyte of them does not (1.7x slower).
    """
    process = norm._process
    ann_parts: list[str] = []
    gold_parts: list[str] = []
    rej_parts: list[str] = []
    unres_parts: list[str] = []
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    i = first_index
    for piece, _ in _cut_batches(io.BytesIO(batch), _BATCH):
        if piece is None:
            return None
        try:
            items = loads(piece)
        except decode_error:
            return None
        for task in items:
            res = process(task, i)
            i += 1
            ann_lines, gold_line = res.lines()
            if ann_lines:
                ann_parts.append(ann_lines)
            if gold_line:
                gold_parts.append(gold_line)
            for rej in res.rejections:
                rej_parts.append(_encode(rej.to_dict()) + "\n")
            for u in res.unresolved:
                unres_parts.append(_encode(dict(u)) + "\n")
    return (i - first_index, "".join(ann_parts).encode(), "".join(gold_parts).encode(), "".join(rej_parts).encode(),
            "".join(unres_parts).encode())


# --------------------------------------------------------------------------------------------
# Several processes
# --------------------------------------------------------------------------------------------

_PARALLEL_BATCH = 1 << 19  # bytes of tasks per batch handed to a worker process
_PARALLEL_MIN_BYTES = 8 << 20  # smaller exports are read in this process (starting workers costs ~0.2 s)
_WORKER: dict[str, Any] = {}


class _Fallback(Exception):
    """The parallel reading met something only the one-process reader decides (see :func:`_normalise_parallel`)."""


def _worker_init(options: dict[str, Any]) -> None:
    # The objects inherited from the parent are never garbage here: keep the collector off them, or
    # each collection writes to all of them and the kernel copies their pages (+30% CPU measured).
    import gc

    gc.freeze()
    _WORKER.clear()
    _WORKER.update(options)


def _boundary_pattern(k1: bytes, k2: bytes) -> bytes:
    """The regex of an item boundary: ``}``, a comma, then the opening every task shares (``{"k1": <int>, "k2":``)."""
    k1, k2 = re.escape(k1), re.escape(k2)
    return (
        rb"\}" + _JWS + rb"," + _JWS + rb'(?=\{' + _JWS + rb'"' + k1 + rb'"' + _JWS + rb":" + _JWS + rb"-?[0-9]+"
        + _JWS + rb"," + _JWS + rb'"' + k2 + rb'"' + _JWS + rb":)"
    )


_MARGIN = 4096  # bytes read past a boundary before it is trusted (its lookahead must not be cut off)


def _range_items(fd: int, size: int, boundary: Any, start: int, end: int, first: bool) -> tuple[int, int, bytes] | None:
    """The items of the export whose boundary falls in ``[start, end)``: ``(offset, end offset, their bytes)``.

    An item belongs to the range that holds the ``}`` of the boundary before it (the first item:
    to the range that starts at it, ``first``). So the items start after the first boundary at or
    after ``start`` and end at the first boundary at or after ``end`` (read as far as needed), or
    at the closing ``]`` when there is none, which must then be followed by whitespace only. Both
    ranges that meet at a boundary find it with the same regex in the same bytes, each with at
    least :data:`_MARGIN` bytes read past it, so the ranges split the items exactly. None: nothing
    can be cut here (the caller falls back); empty bytes: no boundary in the range, its items belong
    to the range before.
    """
    data = b""

    def fill(upto: int) -> None:
        """Make ``data`` reach ``upto + _MARGIN`` bytes past ``start``, or the end of the file."""
        nonlocal data
        need = upto + _MARGIN - len(data)
        if need > 0 and start + len(data) < size:
            data += os.pread(fd, max(need, 1 << 16), start + len(data))

    def find(pos: int) -> Any:
        """The first boundary at or after ``pos`` (None: there is none before the end of the file)."""
        fill(pos)
        while True:
            m = boundary.search(data, pos)
            if start + len(data) >= size or (m is not None and m.start() + _MARGIN <= len(data)):
                return m
            if len(data) > end - start + _MAX_SPAN:
                raise _Fallback("no task boundary within 16 MB")
            fill(len(data))

    span = end - start
    fill(span)
    try:
        if first:
            lo = 0
        else:
            m = find(0)
            if m is None or m.start() >= span:
                return start, start, b""
            lo = m.end()
        m = find(max(lo, span))
    except _Fallback:
        return None
    if m is not None:
        hi = m.start() + 1
    else:
        body = data.rstrip(b" \t\n\r")
        if not body.endswith(b"]"):
            return None
        hi = len(body) - 1
        if not data[lo:hi].strip():
            return None  # "[..., ]" or "[ ]": for the exact reader
    return start + lo, start + hi, data[lo:hi]


def _worker_range(path: str, pattern: bytes, start: int, end: int, first: bool, confirmed: bool) -> tuple | None:
    """In a worker process: normalise the tasks of one byte range of the export with a fresh :class:`Normaliser`."""
    import resource

    opts = _WORKER
    if opts.get("path") != path:
        if "fd" in opts:
            os.close(opts["fd"])
        opts["fd"] = os.open(path, os.O_RDONLY)
        opts["size"] = os.fstat(opts["fd"]).st_size
        opts["path"] = path
    if opts.get("pattern") != pattern:
        opts["boundary"] = re.compile(pattern)
        opts["pattern"] = pattern
    cut = _range_items(opts["fd"], opts["size"], opts["boundary"], start, end, first)
    if cut is None:
        return None
    lo, hi, items = cut
    norm = Normaliser(opts["schema"], min_annotators=opts["min_annotators"], offsets=opts["offsets"],
                      source=opts["source"])
    norm._config_confirmed = confirmed
    # a range's ids and lead times all go back to the parent in _batch_state: none may move to disk here
    norm._seen.limit = norm._lead.limit = math.inf
    try:
        batch = b"[" + items + b"]"
        if first:  # the first task's checks (JSON_MIN, not tasks...) belong to the one-process reader
            head = next(_cut_batches(io.BytesIO(batch), _BATCH))[0]
            if head is None:
                return None
            _check_first_task(orjson.loads(head)[0], opts["source"])
        out = _run_batch(norm, batch, 0) if items else (0, b"", b"", b"", b"")
        if out is None:
            return None
        state = norm._batch_state()
    finally:
        norm.close()
    # the lines go to this worker's spool file; the parent copies them into place (os.copy_file_range)
    spool = opts.get("spool")
    if spool is None:
        spool = opts["spool"] = open(os.path.join(opts["spool_dir"], f".normalise-spool-{os.getpid()}"), "ab")
    at = spool.tell()
    for data in out[1:]:
        spool.write(data)
    spool.flush()
    ref = (spool.name, at, tuple(len(data) for data in out[1:]))
    return lo, hi, (out[0], ref), state, norm._index_used, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def default_workers() -> int:
    """Worker processes :func:`normalise_export` uses by default: the CPUs this process may run on, at most 4.

    Each worker adds about 10 MB of its own (measured: its range, its objects, the pages of this
    process it writes to); four keep a run under the 300 MB budget with everything else. More can
    be asked for (``workers=``).
    """
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 4))


def _start_pool(workers: int, norm_options: dict[str, Any]) -> Any:
    """A process pool of ``workers`` processes for :func:`_normalise_parallel`, its processes started.

    ``fork`` where the platform has it: the workers start at once, from the state of this
    process, without importing anything again (``spawn`` and ``forkserver`` would run the caller's
    script again unless it has an ``if __name__ == "__main__"`` guard). A first trivial job starts
    them all now, before any progress bar or reading thread exists, which must not be running
    when this process forks.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method), initializer=_worker_init,
                               initargs=(norm_options,))
    try:
        pool.submit(int).result()
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    return pool


def _normalise_parallel(
    export_path: Path, reader: _CountingReader, bom: int, norm: Normaliser, write: Mapping[str, Any],
    copy: Mapping[str, Any], pool: Any, workers: int, info: dict[str, Any],
) -> None:
    """Normalise the export with a pool of ``workers`` processes; the same lines and state as one process.

    The export is split into byte ranges of :data:`_PARALLEL_BATCH` bytes; each worker reads its
    range itself (from the page cache), cuts it at task boundaries (:func:`_range_items`),
    normalises its tasks with a fresh Normaliser, writes their JSONL lines to its own spool file
    and sends back where they are, with its state.
    This process only hands out ranges, reads the whole file once in a thread for the sha256 and
    the progress bar, and takes the results back in order: it copies their lines into the output
    files (:func:`_copier`, in the kernel) and adds their state to ``norm`` (:meth:`Normaliser._absorb`). A worker cannot know two things: the task and
    segment ids of earlier ranges, and the position in the export of its first task. So the ids of
    each range are checked against all earlier ones (:meth:`_SeenKeys.add_batch`), and when one
    was already there, or when a message had to name a task by its position (a task without an
    id), the range is normalised again here, with ``norm`` itself, which then decides exactly as
    one process would. Anything else out of the ordinary (no task opening to cut at, a range that
    does not decode, a first item that is not a task, an error in a worker) raises
    :class:`_Fallback`: the caller starts again with one process, whose reader gives exact error
    positions. At most ``2 * workers`` ranges are in flight, so memory does not grow with the export.
    """
    import threading
    from collections import deque

    stat = export_path.stat()
    size = stat.st_size
    head = reader.read(65536)  # (after the BOM, if any: bom bytes)
    m = re.compile(rb"\[" + _JWS).match(head, _skip_ws(head).end())
    opening = _OPENING.match(head, m.end()) if m else None
    if opening is None:
        raise _Fallback("the export does not open with a task the parallel reader can cut at")
    pattern = _boundary_pattern(*opening.groups())
    first_item = bom + m.end()

    failure: list[BaseException] = []

    def hash_rest() -> None:  # the sha256 (and the progress bar) read the whole file once
        try:
            while reader.read(1 << 20):
                pass
        except BaseException as exc:  # pragma: no cover - reported below
            failure.append(exc)

    hasher = threading.Thread(target=hash_rest, name="normalise-sha256", daemon=True)
    hasher.start()

    peak = 0
    batches = index = reruns = last_end = 0
    pending: deque = deque()
    fd = reader.fileno()
    sources: dict[str, BinaryIO] = {}

    def take() -> None:
        nonlocal index, reruns, peak, batches, last_end
        job = pending.popleft()
        try:
            res = job.result()
        except Exception as exc:  # raised in the worker: the one-process reader says it properly
            raise _Fallback(f"a worker failed: {type(exc).__name__}: {exc}") from None
        if res is None:
            raise _Fallback("a range could not be cut or decoded")
        lo, hi, (n_tasks, (spool, at, sizes)), state, index_used, rss = res
        peak = max(peak, rss)
        if lo == hi and not n_tasks:
            return  # no task starts in this range
        # the ranges' items must follow one another with only a comma between them: then no item
        # was read twice or skipped, whatever the workers' cuts
        if lo != (first_item if not batches else _separated(fd, last_end, lo, _COMMA)):
            raise _Fallback("the ranges' items do not follow one another")
        last_end = hi
        batches += 1
        if index_used or not norm._seen.add_batch(state["task_ids"], state["segment_ids"]):
            reruns += 1
            with export_path.open("rb") as fh:
                fh.seek(lo)
                out = _run_batch(norm, b"[" + fh.read(hi - lo) + b"]", index)
            if out is None:  # pragma: no cover - it decoded in the worker
                raise _Fallback("a range did not decode")
            index += out[0]
            for name, data in zip(_LINE_FILES, out[1:]):
                if data:
                    write[name](data)
            return
        norm._absorb(state)
        if not norm._config_confirmed and sum(norm.from_names_seen.values()) >= 50:
            raise _Fallback("results of another labelling config")  # for the exact error one process gives
        index += n_tasks
        src = sources.get(spool)
        if src is None:
            src = sources[spool] = open(spool, "rb")
        for name, n in zip(_LINE_FILES, sizes):
            if n:
                copy[name](src, at, n)
            at += n

    try:
        for lo in range(first_item, size, _PARALLEL_BATCH):
            hi = min(lo + _PARALLEL_BATCH, size)
            pending.append(pool.submit(
                _worker_range, str(export_path), pattern, lo, hi, lo == first_item, norm._config_confirmed))
            while len(pending) >= 2 * workers or (pending and pending[0].done()):
                take()
        while pending:
            take()
        if not batches or _separated(fd, last_end, size, _CLOSING) != size:
            raise _Fallback("the last range does not end at the closing bracket")
        if not norm._config_confirmed and norm.from_names_seen:
            raise _Fallback("results of another labelling config")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # (their spool files go with their folder: normalise_export)
        for fh in sources.values():
            fh.close()
    hasher.join()
    if failure:  # pragma: no cover - a read error
        raise failure[0]
    after = export_path.stat()
    if (after.st_size, after.st_mtime_ns) != (stat.st_size, stat.st_mtime_ns) or reader.pos + bom != size:
        raise ExportError(f"{export_path}: the file changed while it was being read; normalise it again.")
    info.update(workers=workers, ranges=batches, ranges_rerun=reruns, worker_peak_rss_mb=round(peak / 1024, 1))


_COMMA = re.compile(_JWS + rb"," + _JWS)
_CLOSING = re.compile(_JWS + rb"\]" + _JWS)


def _separated(fd: int, start: int, end: int, separator: Any) -> int:
    """``end`` if the file's bytes ``[start, end)`` are exactly ``separator`` (whitespace around ``,`` or ``]``), else -1."""
    if end < start or end - start > 1 << 16:
        return -1
    return end if separator.fullmatch(os.pread(fd, end - start, start)) else -1


def _copier(fh: BinaryIO) -> Any:
    """``copy(src, offset, n)``: append ``n`` bytes of file ``src`` from ``offset`` to the buffered file ``fh``.

    In the kernel (``os.copy_file_range``) where it can, else read and written here.
    """
    def copy(src: BinaryIO, offset: int, n: int) -> None:
        fh.flush()
        out_fd, src_fd = fh.fileno(), src.fileno()
        while n:
            try:
                done = os.copy_file_range(src_fd, out_fd, n, offset)
            except (AttributeError, OSError):
                done = 0
            if not done:  # not supported here (or across file systems): copy through memory
                fh.write(os.pread(src_fd, n, offset))
                return
            offset += done
            n -= done

    return copy


def normalise_export(
    export_path: str | Path,
    schema: Any,
    out_dir: str | Path,
    *,
    min_annotators: int = 1,
    offsets: str = "auto",
    progress: bool = False,
    workers: int | None = None,
    info: dict[str, Any] | None = None,
) -> NormaliseReport:
    """Normalise a Label Studio JSON export file into ``out_dir``, streaming.

    Writes ``annotations.jsonl`` (per-annotator :meth:`Annotation.to_dict`, export order, then
    annotator), ``gold.jsonl`` (one ``annotator == "gold"`` record per resolved task),
    ``rejections.jsonl`` (:class:`Rejection` records), ``unresolved.jsonl`` (ties to adjudicate),
    ``report.json`` and ``report.txt``. Identical inputs give byte-identical files, whatever the
    number of workers.

    Parameters
    ----------
    export_path : str or Path
        Label Studio's JSON export (the raw snapshot ``pull`` saves).
    schema : LabelSchema
        The project's labelling config, from :func:`dataset_builder.schema.load_schema`.
    out_dir : str or Path
        Created if missing; the files above are overwritten.
    min_annotators, offsets
        See :class:`Normaliser`.
    progress : bool
        Show a tqdm progress bar (bytes read) on stderr.
    workers : int, optional
        Processes that normalise batches of tasks (:func:`_normalise_parallel`); default
        :func:`default_workers`. With 1, or for an export under 8 MB, everything happens in this
        process. Any export the parallel reader cannot take as it is (malformed, lone surrogates...)
        is read again by one process, which gives the exact error.
    info : dict, optional
        Filled with how the export was read (``mode``, ``workers``, ``batches``,
        ``batches_rerun``, ``worker_peak_rss_mb``, ``fallback``), for benchmarks and debugging.

    Returns
    -------
    NormaliseReport

    Raises
    ------
    ExportError
        Not a readable JSON export (see :func:`iter_export`).
    SchemaError
        Bad options, or the export was labelled with another config.
    """
    export_path = Path(export_path)
    out = Path(out_dir)
    info = {} if info is None else info
    if workers is None:
        workers = default_workers()
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise SchemaError(f"The 'workers' parameter of normalise must be an int >= 1. Got {workers!r} instead.")
    parallel = workers > 1 and export_path.is_file() and export_path.stat().st_size >= _PARALLEL_MIN_BYTES
    Normaliser(schema, min_annotators=min_annotators, offsets=offsets)  # bad options fail before any file is made
    out.mkdir(parents=True, exist_ok=True)
    pool = spool_dir = None
    if parallel:
        # the workers' output goes to files in a folder of this run's own, deleted at the end
        spool_dir = tempfile.mkdtemp(prefix=".normalise-spool-", dir=out)
        try:
            pool = _start_pool(workers, {"schema": schema, "min_annotators": min_annotators, "offsets": offsets,
                                         "source": export_path.name, "spool_dir": spool_dir})
        except Exception as exc:  # no processes to be had here (limits, sandbox): one process does it all
            shutil.rmtree(spool_dir, ignore_errors=True)
            pool = spool_dir = None
            info["fallback"] = f"no worker processes: {type(exc).__name__}: {exc}"
    bar = None
    try:
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=export_path.stat().st_size if export_path.is_file() else None, unit="B",
                       unit_scale=True, desc="normalise", disable=None)
        if pool is not None:
            try:
                report = _normalise_into(export_path, schema, out, min_annotators, offsets, bar, (pool, workers), info)
                info["mode"] = "parallel"
                return report
            except _Fallback as exc:
                info.update(mode="one process after parallel", fallback=str(exc))
                if bar is not None:
                    bar.reset()
        else:
            info["mode"] = "one process"
        return _normalise_into(export_path, schema, out, min_annotators, offsets, bar, None, info)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
            shutil.rmtree(spool_dir, ignore_errors=True)
        if bar is not None:
            bar.close()


def _normalise_into(
    export_path: Path, schema: Any, out: Path, min_annotators: int, offsets: str, bar: Any,
    parallel: tuple[Any, int] | None, info: dict[str, Any],
) -> NormaliseReport:
    """One attempt of :func:`normalise_export`; with ``parallel`` = (pool, workers) it may raise :class:`_Fallback`."""
    norm = Normaliser(schema, min_annotators=min_annotators, offsets=offsets, source=export_path.name, spill_dir=out)
    readers: list[_CountingReader] = []

    def hook(reader: _CountingReader) -> None:
        readers.append(reader)
        if bar is not None:
            reader.on_read = bar.update

    # Written under temporary names and moved into place only when the whole export was read, so a
    # failed run never leaves half an output next to an older complete one.
    partial = {name: out / f".{name}.partial" for name in OUTPUT_FILES}
    files = {name: partial[name].open("wb", buffering=1 << 20) for name in _LINE_FILES}
    ok = False
    try:
        write = {name: fh.write for name, fh in files.items()}
        if parallel is not None:
            with export_path.open("rb") as fh:
                head = fh.read(65536)
                bom = 3 if head.startswith(b"\xef\xbb\xbf") else 0
                _sniff(head[bom:], str(export_path))
                reader = _CountingReader(fh, prefix=head[bom:])
                hook(reader)
                copy = {name: _copier(f) for name, f in files.items()}
                _normalise_parallel(export_path, reader, bom, norm, write, copy, *parallel, info)
        else:
            process = norm._process
            write_ann, write_gold = write["annotations.jsonl"], write["gold.jsonl"]
            write_rej, write_unres = write["rejections.jsonl"], write["unresolved.jsonl"]
            for index, task in iter_export(export_path, reader_hook=hook):
                res = process(task, index)
                # the records' JSON lines, written without building the records (same bytes, see _TaskOut.lines)
                ann_lines, gold_line = res.lines()
                if ann_lines:
                    write_ann(ann_lines.encode())
                if gold_line:
                    write_gold(gold_line.encode())
                for rej in res.rejections:
                    write_rej((_encode(rej.to_dict()) + "\n").encode())
                for u in res.unresolved:
                    write_unres((_encode(dict(u)) + "\n").encode())
        for fh in files.values():
            fh.close()
        report = norm.report(sha256=readers[0].sha256.hexdigest() if readers else None)
        partial["report.json"].write_text(
            json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8", newline="\n"
        )
        partial["report.txt"].write_text(report.summary(), encoding="utf-8", newline="\n")
        for name in OUTPUT_FILES:
            os.replace(partial[name], out / name)
        ok = True
    finally:
        for fh in files.values():
            fh.close()
        norm.close()
        if not ok:
            for path in partial.values():
                path.unlink(missing_ok=True)
    return report
