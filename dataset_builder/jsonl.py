"""Deterministic JSONL reading and writing shared by every stage.

Output is UTF-8, ``\\n`` line ends, keys in the order the record gives, ``ensure_ascii=False``
so that identical records give byte-identical files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Iterator

from .errors import InputError


def json_error(exc: json.JSONDecodeError) -> str:
    """What the standard library's decoder found and where: ``Expecting value at column 7`` (its messages
    that end in "at" get the column after them, not a second "at")."""
    return f"{exc.msg}{'' if exc.msg.endswith(' at') else ' at'} column {exc.colno}"


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write ``rows`` to ``path`` (``-`` is not accepted here); return the number written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(dumps(row))
            fh.write("\n")
            n += 1
    return n


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line; line numbers start at 1.

    A UTF-8 byte order mark at the start of the file is dropped (editors on Windows write one).

    Raises
    ------
    InputError
        The file is missing, not UTF-8, or a line is not a JSON object (names file and line).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file.")
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{path}:{lineno}: not UTF-8 (byte {exc.start} of the line is {raw[exc.start]:#04x}); "
                    "re-encode the file as UTF-8."
                ) from None
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{lineno}: not valid JSON ({json_error(exc)}).") from None
            if not isinstance(obj, dict):
                raise InputError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}.")
            yield lineno, obj


def read_json_object(path: str | Path, fix: str) -> dict[str, Any]:
    """One JSON object from ``path`` (a report); ``fix`` ends the message when it is not one.

    Raises
    ------
    InputError
        Missing file, not JSON, or JSON that is not an object.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file; {fix}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a JSON file ({exc}); {fix}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object, got {type(data).__name__}; {fix}")
    return data


def write_json(path: str | Path, data: Any) -> Path:
    """Write ``data`` as JSON (2-space indent, UTF-8, final newline), creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path
