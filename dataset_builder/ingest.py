"""Ingest: news articles from .txt files/folders, JSONL or CSV → :class:`Article` records.

Input
    A ``.txt`` file (one article), a folder of ``.txt`` files (read in sorted name order), a
    ``.jsonl`` file (one JSON object per line) or a ``.csv`` file with a header. JSONL/CSV rows
    need ``text``; ``id``, ``title``, ``date``, ``source``, ``url`` are optional and any other
    column goes to ``Article.meta``.
Output
    ``Article`` records in input order and an :class:`IngestReport`.
Invariants
    * Every row read is either kept or rejected with a reason: ``kept + rejected == read``.
    * Text is decoded (UTF-8, or cp1252 with a warning), line ends become ``\\n``, Unicode NFC,
      boilerplate lines removed by :class:`BoilerplateRule` s (each removal reported), trailing
      spaces on lines and blank lines at both ends trimmed.
    * ``Article.id`` is the given id, or ``sha256(clean text)[:16]``: stable across runs,
      machines and file names.
    * Exact duplicates (same clean text) are kept once; later copies are rejected as
      ``duplicate`` naming the kept id.
    * Control characters are not news text. One rule (:func:`find_control_character`): any
      character of Unicode category ``Cc`` other than tab, LF, VT, FF and CR (so NUL, the other
      C0 controls, ESC, DEL and the C1 controls U+0080-U+009F). A .txt file, a JSONL line or an
      article's text or field (``id``, ``title``, ``date``, ``source``, ``url``; a JSON escape such
      as ``\\u0000`` too) holding one is rejected as ``control_character`` naming the line and
      column; a file that is neither UTF-8 nor cp1252 and holds one is called binary.

CSV (read with the :mod:`csv` module, ``strict=True``, Excel dialect)
    ``read`` counts **records**, not physical lines: a quoted field may hold line breaks, so one
    record can span several lines, and is then one row read (named by its first line). Blank
    lines are skipped. A record is damaged, and rejected as ``bad_csv`` naming ``file:line``, when

    * the csv module raises on it (a character after a closing quote, or the end of the file
      inside a quoted field: an unterminated quote);
    * it has more or fewer fields than the header;
    * it holds an odd number of quote characters (a quote inside an unquoted field: a record
      whose quotes are well formed has an even number).

    An unterminated quote swallows every line up to the next quote character, or the rest of the
    file. So when a record that spans several lines ends in a csv error, only its first line (where
    the quote was opened) is rejected, and reading starts again at the line after it: the lines it
    swallowed are read again as records of their own, kept when they are good, rejected when they
    are damaged. Nothing is merged silently. A multi-line record whose quotes are well formed but
    whose field count is wrong is rejected whole (one record, lines ``a-b``). What the grammar
    cannot tell apart stays undetected: a stray quote closed by another stray quote just before a
    delimiter gives a well-formed multi-line field.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from .errors import InputError
from .jsonl import json_error
from .records import Article, Rejection

ARTICLE_FIELDS = ("id", "title", "date", "source", "url")
SUPPORTED_SUFFIXES = (".txt", ".jsonl", ".csv")

# Control characters (Unicode category Cc) that no news text holds: all but tab, LF, VT, FF, CR
# (VT and FF are line breaks to str.splitlines and the segmenter).
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class BoilerplateRule:
    """A line-level boilerplate pattern.

    Parameters
    ----------
    name:
        Short name used in the report.
    pattern:
        Regular expression searched in each line (``re.search``); a match removes the whole line.
        A named group ``date`` (``YYYY-MM-DD``) is kept as the article's date when the row has
        none, and in ``meta["boilerplate_date"]``.
    scope:
        ``"head"``: only in the leading lines (before the first line that is not boilerplate),
        ``"tail"``: only in the trailing lines, ``"anywhere"``: any line.
    """

    name: str
    pattern: str
    scope: str = "anywhere"

    def __post_init__(self) -> None:
        if self.scope not in ("head", "tail", "anywhere"):
            raise InputError(
                f"The 'scope' of boilerplate rule {self.name!r} must be one of 'head', 'tail', "
                f"'anywhere'. Got {self.scope!r} instead."
            )
        try:
            compiled = re.compile(self.pattern)
        except re.error as exc:
            raise InputError(f"Boilerplate rule {self.name!r}: invalid regular expression ({exc}).") from None
        object.__setattr__(self, "_regex", compiled)

    def search(self, line: str) -> re.Match[str] | None:
        return self._regex.search(line)  # type: ignore[attr-defined]


DEFAULT_RULES: tuple[BoilerplateRule, ...] = (
    # " date 2020-02-04 related media assets (image or videos) available. Click to see the gallery."
    BoilerplateRule(
        "scraped_date_gallery",
        r"(?i)^\s*date\s+(?P<date>\d{4}-\d{2}-\d{2})\b.*(related media|gallery)",
        "head",
    ),
    BoilerplateRule(
        "gallery", r"(?i)(click to see the gallery|related media assets|\((image|images) or videos?\) available)"
    ),
    BoilerplateRule("byline", r"^\s*(By|BY)\s+[A-Z][\w.'’-]*(\s+[A-Z][\w.'’-]*){0,3}(\s*,\s*[\w .'’-]+)?\s*$", "head"),
    BoilerplateRule("dateline_only", r"(?i)^\s*(published|updated|posted)\s*(on|:)?\s*\S.*\d{4}.*$", "head"),
    BoilerplateRule(
        "share_widgets",
        r"(?i)^\s*(share this( article| story)?|share on (facebook|twitter|x)|follow us on\b.*|advertisement|"
        r"sign up for our newsletter.*|read more:.*|related:.*|subscribe( now)?)\s*$",
    ),
    BoilerplateRule("photo_credit", r"(?i)^\s*(photo|image|file photo|picture)\s*(credit)?\s*:\s*\S.{0,80}$", "anywhere"),
)


def load_rules(path: str | Path) -> tuple[BoilerplateRule, ...]:
    """Read boilerplate rules from a JSON file: a list of ``{"name", "pattern", "scope"}``.

    Raises
    ------
    InputError
        The file is missing, not JSON, or an entry lacks ``name``/``pattern``.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: boilerplate rules file not found.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: boilerplate rules must be a UTF-8 JSON list ({exc}).") from None
    if not isinstance(data, list):
        raise InputError(f"{path}: boilerplate rules must be a JSON list of objects; got {type(data).__name__}.")
    rules = []
    for i, entry in enumerate(data):
        if not isinstance(entry, dict) or not {"name", "pattern"} <= entry.keys():
            raise InputError(f"{path}: rule #{i} needs 'name' and 'pattern' (and optionally 'scope'); got {entry!r}.")
        rules.append(BoilerplateRule(str(entry["name"]), str(entry["pattern"]), str(entry.get("scope", "anywhere"))))
    return tuple(rules)


@dataclass(frozen=True)
class RemovedLine:
    """A boilerplate line taken out of an article."""

    source: str
    article_id: str
    line: int  # 1-based line number in the decoded text
    rule: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "article_id": self.article_id, "line": self.line, "rule": self.rule, "text": self.text}


@dataclass
class IngestReport:
    """What ingest read, kept and rejected. ``kept + len(rejected) == read`` always."""

    read: int = 0
    kept: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    removed_lines: list[RemovedLine] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def reject(self, source: str, reason: str, detail: str) -> None:
        self.rejected.append(Rejection("ingest", source, reason, detail))

    def rejected_by_reason(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.rejected:
            counts[r.reason] = counts.get(r.reason, 0) + 1
        return dict(sorted(counts.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": "ingest",
            "read": self.read,
            "kept": self.kept,
            "rejected": len(self.rejected),
            "rejected_by_reason": self.rejected_by_reason(),
            "rejections": [r.to_dict() for r in self.rejected],
            "removed_lines": [r.to_dict() for r in self.removed_lines],
            "warnings": list(self.warnings),
        }

    def summary(self) -> str:
        parts = [f"ingest: read {self.read}, kept {self.kept}, rejected {len(self.rejected)}"]
        if self.rejected:
            parts.append("(" + ", ".join(f"{k}: {v}" for k, v in self.rejected_by_reason().items()) + ")")
        parts.append(f"; boilerplate lines removed {len(self.removed_lines)}")
        if self.warnings:
            parts.append(f"; warnings {len(self.warnings)}")
        return " ".join(parts).replace(" ;", ";")


class _Rejected(Exception):
    """Internal: a row cannot become an article (reason code, where, detail)."""

    def __init__(self, reason: str, source: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.source = source
        self.detail = f"{source}: {detail}"


def find_control_character(text: str) -> int | None:
    """Index of the first control character of ``text`` that no news text holds, or None.

    The one rule of the pipeline (see the module docstring): Unicode category ``Cc`` except tab,
    LF, VT, FF and CR.
    """
    m = _CONTROL.search(text)
    return None if m is None else m.start()


def describe_control_character(text: str, index: int) -> str:
    """``"control character U+0000 at line 2, column 5"`` for the character at ``index`` of ``text``."""
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"control character U+{ord(text[index]):04X} at line {line}, column {column}"


def _check_controls(text: str, source: str, what: str) -> None:
    """Raise ``control_character`` when ``text`` holds a control character (:func:`find_control_character`)."""
    index = find_control_character(text)
    if index is not None:
        raise _Rejected(
            "control_character",
            source,
            f"{what} holds {describe_control_character(text, index)}; control characters are not news text "
            "(a binary file, or a damaged export?): remove them, or leave the input out.",
        )


def decode_bytes(data: bytes, source: str) -> tuple[str, str | None]:
    """Decode a text file's bytes: UTF-8 (BOM allowed), else cp1252.

    Returns
    -------
    (text, warning)
        ``warning`` is None for UTF-8, otherwise a sentence naming the file and the first byte
        offset that is not UTF-8.

    Raises
    ------
    _Rejected
        ``encoding`` when the bytes are neither UTF-8 nor cp1252 (names the byte offset);
        ``control_character`` instead when such bytes also hold a control character (a binary
        file). Control characters in decodable text are the caller's to check.
    """
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        offset = exc.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError as exc2:
            # cp1252 with undefined bytes replaced keeps every control byte where it is
            lossy = data.decode("cp1252", errors="replace")
            _check_controls(lossy, source, "looks binary: it is neither UTF-8 nor cp1252 and")
            raise _Rejected(
                "encoding",
                source,
                f"not UTF-8 (byte {data[offset]:#04x} at offset {offset}) and not cp1252 "
                f"(byte {data[exc2.start]:#04x} at offset {exc2.start} is undefined there); re-encode it as UTF-8.",
            ) from None
        return text, (
            f"{source}: not UTF-8 (byte {data[offset]:#04x} at offset {offset}); decoded as cp1252 (Windows-1252)."
        )


def content_id(text: str) -> str:
    """Stable article id from clean text: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


_TRAILING_WS = re.compile(r"[ \t\u00a0]+$", re.MULTILINE)
_INVISIBLE = re.compile("[\ufeff\u200b]")


def clean_text(
    text: str, rules: Sequence[BoilerplateRule]
) -> tuple[str, list[tuple[int, str, str]], str | None]:
    """Normalise line ends and Unicode, drop boilerplate lines, trim.

    Returns
    -------
    (clean, removed, date)
        ``removed`` lists ``(line_number, rule_name, line_text)``; ``date`` is the first date a
        rule captured, or None.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", unicodedata.normalize("NFC", text))
    lines = text.split("\n")
    n = len(lines)
    # Leading/trailing boilerplate regions, found by scanning while lines are blank or match.
    head_end = 0
    while head_end < n and (not lines[head_end].strip() or _match(rules, lines[head_end], ("head", "anywhere"))):
        head_end += 1
    tail_start = n
    while tail_start > head_end and (
        not lines[tail_start - 1].strip() or _match(rules, lines[tail_start - 1], ("tail", "anywhere"))
    ):
        tail_start -= 1
    removed: list[tuple[int, str, str]] = []
    date: str | None = None
    kept: list[str] = []
    for i, line in enumerate(lines):
        scopes = ("head", "anywhere") if i < head_end else ("tail", "anywhere") if i >= tail_start else ("anywhere",)
        hit = _match(rules, line, scopes) if line.strip() else None
        if hit is None:
            kept.append(line)
            continue
        rule, m = hit
        removed.append((i + 1, rule.name, line))
        if date is None and "date" in m.groupdict() and m.group("date"):
            date = m.group("date")
    clean = _TRAILING_WS.sub("", "\n".join(kept)).strip("\n")
    # Leading spaces of the first line are scrape noise, not indentation worth keeping.
    return clean.strip(), removed, date


def _match(rules: Sequence[BoilerplateRule], line: str, scopes: tuple[str, ...]):
    for rule in rules:
        if rule.scope in scopes:
            m = rule.search(line)
            if m:
                return rule, m
    return None


@dataclass(frozen=True)
class _RawRow:
    source: str  # file or file:line
    text: Any
    fields: dict[str, Any]
    warning: str | None = None


def _rows_from_txt(path: Path) -> Iterator[_RawRow | _Rejected]:
    data = path.read_bytes()
    source = str(path)
    if not data.strip():
        yield _Rejected("empty", source, "empty file (0 bytes or whitespace only).")
        return
    try:
        text, warning = decode_bytes(data, source)
        _check_controls(text, source, "the file")
    except _Rejected as rej:
        yield rej
        return
    yield _RawRow(source, text, {"meta": {"source_file": path.name}}, warning)


def _rows_from_jsonl(path: Path) -> Iterator[_RawRow | _Rejected]:
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            source = f"{path}:{lineno}"
            if not raw.strip():
                continue
            try:
                line, warning = decode_bytes(raw, source)
                _check_controls(line, source, "the line")
            except _Rejected as rej:
                yield rej
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield _Rejected("bad_json", source, f"not valid JSON ({json_error(exc)}).")
                continue
            if not isinstance(obj, dict):
                yield _Rejected("bad_json", source, f"expected a JSON object, got {type(obj).__name__}.")
                continue
            yield _RawRow(source, obj.get("text"), obj, warning)


def _rows_from_csv(path: Path) -> Iterator[_RawRow | _Rejected]:
    data = path.read_bytes()
    if not data.strip():
        yield _Rejected("empty", str(path), "empty file (no header, no rows).")
        return
    try:
        text, warning = decode_bytes(data, str(path))
    except _Rejected as rej:
        yield rej
        return
    lines = io.StringIO(text, newline="").readlines()  # physical lines, ends kept: what csv reads
    header, body = _csv_header(lines, path)
    for first, fields, problem in _csv_records(lines, body, len(header)):
        source = f"{path}:{first}"
        if problem is not None:
            yield _Rejected("bad_csv", source, problem)
            continue
        row = dict(zip(header, fields))
        yield _RawRow(source, row.get("text"), {k: v for k, v in row.items() if v != ""}, warning)


def _csv_header(lines: list[str], path: Path) -> tuple[list[str], int]:
    """The header's fields and the index of the line after it. Raises ``InputError`` without a ``text`` column."""
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader, [])
    except csv.Error as exc:
        raise InputError(
            f"{path}:1: the CSV header is malformed ({exc}, seen at line {reader.line_num}); write it as one line of "
            "column names, e.g. id,text,title."
        ) from None
    if "text" not in header:
        raise InputError(
            f"{path}: the CSV header must have a 'text' column; found {header!r}. "
            f"Rename the article body column to 'text'."
        )
    return header, reader.line_num


def _csv_records(lines: list[str], start: int, width: int) -> Iterator[tuple[int, list[str], str | None]]:
    """``(first line, fields, problem)`` per record from ``lines[start]`` on (see the module docstring).

    Line numbers are 1-based physical lines; ``problem`` is None for a good record. After a
    multi-line record that ends in a csv error, reading starts again at the line after its first.
    """
    n = len(lines)
    while start < n:
        reader = csv.reader((lines[k] for k in range(start, n)), strict=True)
        while True:
            before = reader.line_num
            first = start + before + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                last = start + reader.line_num
                unterminated = "end of data" in str(exc)
                fix = 'close the quote, or double it ("") if it is part of the text.'
                if last == first:
                    what = "a quote opened on this line is never closed" if unterminated else f"malformed CSV ({exc})"
                    yield first, [], f"{what}; {fix}"
                    continue
                runs_to = "the end of the file" if unterminated else f"line {last} and breaks there ({exc})"
                again = f"line {last} is" if last == first + 1 else f"lines {first + 1}-{last} are"
                yield first, [], (
                    f"unterminated quote: the quoted field opened on this line runs to {runs_to}; only this line "
                    f"is rejected, and {again} read again as rows of their own. Fix: {fix}"
                )
                start = first  # 0-based index of the line after ``first``
                break
            if not fields:
                continue  # a blank line
            last = start + reader.line_num
            where = "" if last == first else f" (lines {first}-{last})"
            quotes = sum(lines[k].count('"') for k in range(first - 1, last))
            if len(fields) != width:
                fix = "quote a field that holds a comma" if len(fields) > width else "give it every column"
                many = "more" if len(fields) > width else "fewer"
                yield first, fields, f"the record{where} has {len(fields)} fields, {many} than the header's {width}; {fix}."
            elif quotes % 2:
                yield first, fields, (f"the record{where} has an odd number of quote characters ({quotes}): a quote "
                                      'inside an unquoted field; quote the field and double the quote ("").')
            else:
                yield first, fields, None


def _expand(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES)
            if not found:
                raise InputError(f"{p}: folder holds no .txt, .jsonl or .csv files.")
            files.extend(found)
        elif p.is_file():
            if p.suffix.lower() not in SUPPORTED_SUFFIXES:
                raise InputError(
                    f"{p}: unsupported file type {p.suffix or '(none)'!r}; expected one of "
                    f"{', '.join(SUPPORTED_SUFFIXES)}."
                )
            files.append(p)
        else:
            raise InputError(f"{p}: no such file or folder.")
    return files


def iter_rows(paths: Iterable[str | Path]) -> Iterator[_RawRow | _Rejected]:
    """Yield raw rows (or per-row rejections) from every input, in a stable order."""
    readers = {".txt": _rows_from_txt, ".jsonl": _rows_from_jsonl, ".csv": _rows_from_csv}
    for path in _expand(paths):
        yield from readers[path.suffix.lower()](path)


def _to_article(row: _RawRow, rules: Sequence[BoilerplateRule]) -> tuple[Article, list[tuple[int, str, str]]]:
    if row.text is None:
        raise _Rejected("missing_text", row.source, "row has no 'text' field; every article needs its body in 'text'.")
    if not isinstance(row.text, str):
        raise _Rejected("missing_text", row.source, f"'text' must be a string; got {type(row.text).__name__}.")
    _check_controls(row.text, row.source, "'text'")
    text, removed, bp_date = clean_text(row.text, rules)
    if not text:
        what = "only boilerplate" if removed else "empty or whitespace only"
        raise _Rejected("empty_text", row.source, f"article text is {what}.")
    values: dict[str, str | None] = {}
    for name in ARTICLE_FIELDS:
        value = row.fields.get(name)
        if value is None or value == "":
            values[name] = None
        elif isinstance(value, (str, int)) and not isinstance(value, bool):
            _check_controls(str(value), row.source, repr(name))
            values[name] = unicodedata.normalize("NFC", str(value)).strip() or None
        else:
            raise _Rejected("bad_field", row.source, f"{name!r} must be a string; got {type(value).__name__} {value!r}.")
    meta = {k: v for k, v in row.fields.items() if k not in ARTICLE_FIELDS and k not in ("text", "meta")}
    meta.update(row.fields.get("meta") or {})
    if bp_date is not None:
        meta["boilerplate_date"] = bp_date
    article = Article(
        id=values["id"] or content_id(text),
        text=text,
        title=values["title"],
        date=values["date"] or bp_date,
        source=values["source"],
        url=values["url"],
        meta=meta,
    )
    return article, removed


def ingest(
    paths: Iterable[str | Path],
    *,
    rules: Sequence[BoilerplateRule] = DEFAULT_RULES,
    progress: Any = None,
) -> tuple[list[Article], IngestReport]:
    """Read articles from files and folders.

    Parameters
    ----------
    paths:
        ``.txt`` files, folders of them, ``.jsonl`` or ``.csv`` files.
    rules:
        Boilerplate rules (default :data:`DEFAULT_RULES`; pass ``()`` to keep every line).
    progress:
        Optional callable wrapping the row iterator (e.g. ``tqdm``) for a progress bar.

    Returns
    -------
    (articles, report)
        Articles in input order; ``report.kept + len(report.rejected) == report.read``.

    Raises
    ------
    InputError
        A path is missing or of an unsupported type, or a CSV has no ``text`` column: nothing
        can be read from it, so no per-row report is possible.
    """
    report = IngestReport()
    articles: list[Article] = []
    by_text: dict[str, str] = {}  # content hash -> kept article id
    by_id: dict[str, str] = {}  # article id -> source that defined it
    rows: Iterable[_RawRow | _Rejected] = iter_rows(paths)
    if progress is not None:
        rows = progress(rows)
    for row in rows:
        report.read += 1
        try:
            if isinstance(row, _Rejected):
                raise row
            if row.warning:
                report.warnings.append(row.warning)
            article, removed = _to_article(row, rules)
            digest = content_id(article.text)
            if digest in by_text:
                raise _Rejected("duplicate", row.source, f"same text as article {by_text[digest]!r}; kept once.")
            if article.id in by_id:
                raise _Rejected(
                    "duplicate_id",
                    row.source,
                    f"id {article.id!r} already used by {by_id[article.id]} for a different text; "
                    "give each article a unique id.",
                )
        except _Rejected as rej:
            report.reject(rej.source, rej.reason, rej.detail)
            continue
        by_text[digest] = article.id
        by_id[article.id] = row.source
        report.removed_lines.extend(RemovedLine(row.source, article.id, ln, rule, text) for ln, rule, text in removed)
        articles.append(article)
        report.kept += 1
    assert report.kept + len(report.rejected) == report.read  # the account must balance
    return articles, report
