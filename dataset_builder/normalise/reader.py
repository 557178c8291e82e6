"""Reading a Label Studio JSON export, streaming: the tasks, one by one, in export order.

Input
    Label Studio's standard ``JSON`` export: a top-level array of task objects (UTF-8, a BOM is
    fine). Other formats (a single object, JSON_MIN, CSV, TSV, CONLL2003, prose) are refused by
    :func:`_sniff` / :func:`_check_first_task` with the export type to choose instead.
Output
    ``(index, task)`` pairs (:func:`iter_export`). A few tasks at a time are cut out of a buffer of
    a few megabytes (:func:`_cut_batches`) and decoded at C speed by ``orjson``; where orjson
    cannot decide (a batch that does not decode, an item longer than 16 MB) the standard library's
    scanner takes over (:func:`_iter_exact`), which also gives the exact byte of an error.
Invariants
    Memory does not grow with the export; the sha256 and byte count of everything read are kept
    by :class:`_CountingReader`; NaN/Infinity are refused and lone UTF-16 surrogates become ``?``
    whichever decoder read the item.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from pathlib import Path
from typing import Any, BinaryIO, Iterator

import ijson
import orjson

from ..errors import ExportError

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
        _refuse_object(stripped, where)
    scalar = _json_scalar(stripped)
    if scalar is not None:
        raise ExportError(
            f"{where}: this is JSON, but one {scalar} and not an export: Label Studio's JSON export is one [...] "
            "array of task objects; export the project again with export type JSON."
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


def _refuse_object(head: bytes, where: str) -> None:
    """Raise the :class:`ExportError` for a file whose top level is an object: JSON Lines, a 0.x task, one task..."""
    keys = _top_level_keys(head)
    text = head.decode("utf-8", errors="replace")
    try:
        _, end = _scan_once(text, 0)
    except (StopIteration, ValueError, _Malformed):  # (cut by the end of the head, or malformed)
        end = None
    rest = text[end:].lstrip(" \t\r") if end is not None else ""
    legacy = "completions" in keys and "annotations" not in keys
    if rest.startswith("\n") and rest.lstrip().startswith("{"):
        raise ExportError(
            f"{where}: this is JSON Lines (one task object per line{', Label Studio 0.x tasks' if legacy else ''}), "
            "not Label Studio's JSON export (one [...] array of tasks); export the project again with export type "
            f"JSON, or make the lines one array (jq -s . {Path(where).name} > export.json)."
        )
    if legacy:
        raise ExportError(
            f"{where}: Label Studio 0.x export (completions): the top level is one task object (keys: "
            f"{', '.join(keys[:8])}), as a 0.x project keeps each task in completions/<id>.json; make the tasks one "
            "[...] array (jq -s . completions/*.json > export.json): their completions are read as annotations."
        )
    hint = (
        "it looks like a single task; wrap it in [ ] or export the project again as JSON"
        if {"data", "annotations"} & set(keys)
        else "export the project with export type JSON (a list of tasks)"
    )
    raise ExportError(
        f"{where}: the top level is a JSON object (keys: {', '.join(keys[:8]) or 'none'}), not an array of "
        f"tasks; {hint}."
    )


def _json_scalar(head: bytes) -> str | None:
    """What JSON value other than an array or object ``head`` is (``a number (42)``...), or None if it is not JSON."""
    text = head.decode("utf-8", errors="replace")
    try:
        value, end = _scan_once(text, 0)
    except (StopIteration, ValueError, _Malformed):
        return None
    if text[end:].strip(" \t\n\r"):
        return None
    kind = {bool: "boolean", type(None): "null", str: "string"}.get(type(value), "number")
    return f"{kind} ({text[:end][:30]})"


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
