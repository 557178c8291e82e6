"""Corpus file text: reading the bytes, decoding them, splitting lines, and cleaning text with offsets.

Input
    A corpus file's path (its bytes), or a text with code-point offsets into it.
Output
    The decoded text and the encoding used (:func:`decode`), its lines (:func:`_lines`), and
    cleaned text with the offsets moved along (:func:`clean_with_offsets`).
Invariants
    ``auto`` decoding tries UTF-8 (a BOM is allowed), then cp1252 (Windows-1252), and says which
    was used; a UTF-8 BOM is dropped (also when ``utf-8`` is named). A missing, empty or
    undecodable file, or one holding a control character (ingest's one rule,
    :func:`~dataset_builder.ingest.find_control_character`: NUL, ESC, DEL, C1, ...; a binary
    file), raises :class:`~dataset_builder.errors.InputError` naming the file (and the line and
    byte or column): problems of the whole file always raise.
"""

from __future__ import annotations

import codecs
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Sequence

from ..errors import InputError
from ..ingest import describe_control_character, find_control_character


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise InputError(f"{path}: no such file.")
    data = path.read_bytes()
    if not data.strip():
        raise InputError(f"{path}: the file is empty (0 bytes or whitespace only); expected the corpus's lines.")
    return data


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def decode(data: bytes, path: str | Path, encoding: str = "auto") -> tuple[str, str]:
    """Decode a corpus file: ``auto`` tries UTF-8 (a BOM allowed), then cp1252 (Windows-1252).

    Returns ``(text, encoding used)``.

    Raises
    ------
    InputError
        Not decodable (names the line and byte), an unknown encoding name, or a control character
        in the text (names the line and column).
    """
    text, used = _decode(data, path, encoding)
    index = find_control_character(text)
    if index is not None:
        raise InputError(
            f"{path}: holds {describe_control_character(text, index)}; control characters are not corpus text "
            "(a binary file, or a damaged copy?): remove them, or use the corpus's original file."
        )
    return text, used


def _decode(data: bytes, path: str | Path, encoding: str) -> tuple[str, str]:
    if encoding != "auto":
        try:
            utf8 = codecs.lookup(encoding).name == "utf-8"
        except LookupError:
            raise InputError(f"{path}: unknown encoding {encoding!r}; use e.g. utf-8, cp1252 or auto.") from None
        bom = 3 if utf8 and data.startswith(codecs.BOM_UTF8) else 0  # the BOM is a mark, not text
        try:
            return data[bom:].decode(encoding), encoding
        except UnicodeDecodeError as exc:
            at = exc.start + bom
            raise InputError(
                f"{path}:{_line_of(data, at)}: not {encoding} (byte {data[at]:#04x} at offset {at}); "
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
