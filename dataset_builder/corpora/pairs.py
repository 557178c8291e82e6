"""Stance pairs: a text and a given target (a headline, a claim, a topic) with a label, one segment each.

Input
    ``fnc1`` - the Fake News Challenge FNC-1 files as published: a stances CSV ``Headline, Body
    ID, Stance`` (``train_stances.csv``, ``competition_test_stances.csv``) and its bodies CSV
    ``Body ID, articleBody`` (by default the file next to it with ``stances`` replaced by
    ``bodies``: ``train_bodies.csv``), joined by ``Body ID``.
    ``pairs`` - any CSV, TSV or JSONL file with one pair per row; which column holds what is an
    option (``columns``: ``text``, ``target``, ``label`` and optionally ``id`` and ``split``).
Output
    A :class:`~dataset_builder.corpora.corpus.Corpus`: one article per body (``fnc1``) or per
    distinct text (``pairs``), so that every pair of one text lands in one split; one segment per
    pair (the whole text, paragraphs kept), whose annotation holds the stance toward the given
    target (a :class:`~dataset_builder.records.StanceLabel` without offsets). The target is never
    glued into the text.
Invariants
    FNC-1's official test files (``competition_test_*``) pin every article to the ``test`` split
    (as ``import-corpus --split test`` does); a ``split`` column pins each row's article (the
    values ``train``, ``validation`` (or ``dev``, ``val``), ``test``). Problems raise or skip per
    ``on_error`` with ``file:line``: a missing column, an empty field, an unknown body, a body ID
    twice, a duplicate id, a text pinned to two splits.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any, Iterator, Mapping

from ..errors import InputError
from ..jsonl import json_error
from ..records import SPLIT_PIN_KEY, Annotation, Article, Segment, StanceLabel
from ..schema import LabelSchema
from .corpus import Corpus
from .ledger import _Bad, _Ledger
from .options import ON_ERROR, _check_options, slug
from .stance import _stance_label, _stance_options
from .text import _lines, _read_bytes, clean_with_offsets, decode

FNC1_STANCE_COLUMNS = ("Headline", "Body ID", "Stance")
FNC1_BODY_COLUMNS = ("Body ID", "articleBody")
FNC1_TEST_PREFIX = "competition_test"
"""Stances files whose name starts with this are FNC-1's official test set (pinned to ``test``)."""

PAIR_COLUMNS = ("text", "target", "label", "id", "split")
"""The roles a ``pairs`` column can play; ``text``, ``target`` and ``label`` are required."""
SPLIT_VALUES = {"train": "train", "validation": "validation", "dev": "validation", "val": "validation", "test": "test"}


def _csv_rows(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """``(first line of the record, fields)`` of each CSV record (quoted fields may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    start = 1
    for fields in reader:
        yield start, fields
        start = reader.line_num + 1


def _table(path: Path, encoding: str, delimiter: str, needed: tuple[str, ...]) -> tuple[str, dict[str, int], list]:
    """``(encoding, column index by name, [(line, fields)])`` of a CSV whose header has ``needed``."""
    text, enc = decode(_read_bytes(path), path, encoding)
    rows = [(n, f) for n, f in _csv_rows(text, delimiter) if any(x.strip() for x in f)]
    if not rows:
        raise InputError(f"{path}: no lines.")
    head_line, head = rows[0]
    index = {name.strip(): i for i, name in enumerate(head)}
    missing = [c for c in needed if c not in index]
    if missing:
        raise InputError(f"{path}:{head_line}: the header has no column {', '.join(map(repr, missing))} (header: "
                         f"{', '.join(map(repr, head))[:200]}); expected the columns {', '.join(needed)}.")
    return enc, index, rows[1:]


def _field(fields: list[str], index: Mapping[str, int], name: str, line: int, width: int) -> str:
    if len(fields) != width:
        raise _Bad("bad_columns", line, f"{len(fields)} column(s), expected {width} as in the header")
    value = fields[index[name]]
    if not value.strip():
        raise _Bad("empty_field", line, f"the {name!r} column is empty; every pair needs it")
    return value


def _clean(text: str, notes: Any) -> str:
    out, _ = clean_with_offsets(text.replace("\r\n", "\n"), (), notes)
    return out


def _pair(ledger: _Ledger, article: Article, seg_id: str, index: int, target: str, label: str, annotator: str) -> None:
    seg = Segment(id=seg_id, article_id=article.id, index=index, start=0, end=len(article.text), text=article.text,
                  unit="paragraph")
    ledger.keep(seg, Annotation(segment_id=seg.id, article_id=article.id, text=article.text, annotator=annotator,
                                stances=(StanceLabel(None, None, " ".join(target.split()), label),)))


def default_bodies(stances: Path) -> Path:
    """``train_stances.csv`` -> ``train_bodies.csv`` (FNC-1's naming)."""
    name = stances.name
    if "stances" not in name:
        raise InputError(f"{stances}: cannot tell its bodies file (the name has no 'stances'); pass --bodies.")
    return stances.with_name(name.replace("_unlabeled", "").replace("stances", "bodies"))


def read_fnc1(
    path: str | Path,
    config: str | Path | LabelSchema | None = None,
    *,
    bodies: str | Path | None = None,
    label_map: str | Path | Mapping[Any, str] | None = None,
    annotator: str | None = None,
    id_prefix: str | None = None,
    encoding: str = "auto",
    on_error: str = "raise",
) -> Corpus:
    """Read FNC-1 stances joined with their bodies (see the module docstring); default config ``headline_stance``.

    Raises
    ------
    InputError
        A file or column missing, an empty field, a body ID twice in the bodies, a pair naming an unknown body.
    SchemaError
        A stance the label map does not cover, or a config whose target is not a given target.
    """
    _check_options("read_fnc1", on_error=(on_error, ON_ERROR))
    fmt = "fnc1"
    path = Path(path)
    schema, annotator, prefix, labels = _stance_options(fmt, path, config, annotator, id_prefix, label_map, kind="given")
    ledger = _Ledger(str(path), on_error)
    enc_s, index, rows = _table(path, encoding, ",", FNC1_STANCE_COLUMNS)
    body_path = Path(bodies) if bodies is not None else default_bodies(path)
    body_of, enc = _fnc1_bodies(body_path, encoding, ledger.notes)
    official_test = path.name.startswith(FNC1_TEST_PREFIX)
    articles: dict[str, Article] = {}
    pairs_of: dict[str, int] = {}
    for line, fields in rows:
        ledger.read += 1
        ledger.labels_read += 1
        try:
            headline = _field(fields, index, "Headline", line, len(index))
            body_id = _field(fields, index, "Body ID", line, len(index)).strip()
            if body_id not in body_of:
                raise _Bad("unknown_body", line, f"Body ID {body_id!r} is not in {body_path.name}")
            label = _stance_label(_field(fields, index, "Stance", line, len(index)).strip(), labels, line, "stance")
        except _Bad as bad:
            ledger.labels_read -= 1
            ledger.fail(bad, labels_in_unit=1)
            continue
        if label == "":
            ledger.drop_unit(line, "stance mapped to nothing")
            continue
        article = articles.get(body_id)
        if article is None:
            meta = {"format": fmt, "source_file": body_path.name, "body_id": body_id}
            if official_test:
                meta[SPLIT_PIN_KEY] = "test"
            article = articles[body_id] = Article(id=f"{prefix}-{slug(body_id)}", text=body_of[body_id][1], meta=meta)
            ledger.articles.append(article)
        k = pairs_of[body_id] = pairs_of.get(body_id, -1) + 1
        _pair(ledger, article, f"{article.id}-h{k:04d}", k, headline, label, annotator)
    if official_test:
        ledger.notes["pinned_official_test"] += len(articles)
    corpus = ledger.corpus(fmt, schema, annotator, enc_s if enc_s == enc else f"{enc_s}+{enc}", labels, unit="pair")
    return corpus


def _fnc1_bodies(path: Path, encoding: str, notes: Any) -> tuple[dict[str, tuple[int, str]], str]:
    """Body ID -> (line, cleaned body) of an FNC-1 bodies CSV. Raises ``InputError`` for any bad row."""
    enc, index, rows = _table(path, encoding, ",", FNC1_BODY_COLUMNS)
    out: dict[str, tuple[int, str]] = {}
    for line, fields in rows:
        try:
            body_id = _field(fields, index, "Body ID", line, len(index)).strip()
            body = _clean(_field(fields, index, "articleBody", line, len(index)), notes)
        except _Bad as bad:
            raise bad.error(str(path)) from None
        if body_id in out:
            raise InputError(f"{path}:{line}: Body ID {body_id!r} is also on line {out[body_id][0]}; each body once.")
        out[body_id] = (line, body)
    return out, enc


def parse_columns(columns: str | Mapping[str, str] | None) -> dict[str, str]:
    """``"text=articleBody,target=Headline"`` (or a mapping) -> role -> column name, over the defaults."""
    given: Mapping[str, str]
    if columns is None:
        given = {}
    elif isinstance(columns, Mapping):
        given = columns
    else:
        given = {}
        for part in (p for p in str(columns).split(",") if p.strip()):
            role, sep, name = part.partition("=")
            if not sep or not name.strip():
                raise InputError(f"--columns: {part!r} is not ROLE=COLUMN; e.g. text=body,target=headline,label=stance.")
            given = {**given, role.strip(): name.strip()}
    unknown = sorted(set(given) - set(PAIR_COLUMNS))
    if unknown:
        raise InputError(f"--columns: unknown role(s) {', '.join(unknown)}; the roles are {', '.join(PAIR_COLUMNS)}.")
    return {**{"text": "text", "target": "target", "label": "label"}, **dict(given)}


def _pair_records(path: Path, encoding: str, cols: Mapping[str, str]) -> tuple[str, Iterator[tuple[int, Mapping[str, Any]]]]:
    """``(encoding, (line, row by column name))`` of a JSONL, TSV or CSV pairs file."""
    needed = tuple(cols[r] for r in PAIR_COLUMNS if r in cols)
    if path.suffix.lower() in (".jsonl", ".json"):
        text, enc = decode(_read_bytes(path), path, encoding)

        def rows() -> Iterator[tuple[int, Mapping[str, Any]]]:
            for n, raw in enumerate(_lines(text), start=1):
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}:{n}: not valid JSON ({json_error(exc)}); one JSON object per line.") from None
                if not isinstance(obj, dict):
                    raise InputError(f"{path}:{n}: a {type(obj).__name__}, expected a JSON object.")
                yield n, obj
        return enc, rows()
    enc, index, table = _table(path, encoding, "\t" if path.suffix.lower() == ".tsv" else ",", needed)

    def csv_rows() -> Iterator[tuple[int, Mapping[str, Any]]]:
        for n, fields in table:
            yield n, ({name: fields[i] for name, i in index.items()} if len(fields) == len(index) else {"": fields})
    return enc, csv_rows()


def read_pairs(
    path: str | Path,
    config: str | Path | LabelSchema | None = None,
    *,
    columns: str | Mapping[str, str] | None = None,
    label_map: str | Path | Mapping[Any, str] | None = None,
    annotator: str | None = None,
    id_prefix: str | None = None,
    encoding: str = "auto",
    on_error: str = "raise",
) -> Corpus:
    """Read a CSV/TSV/JSONL file of (text, given target, label) rows (see the module docstring).

    Raises
    ------
    InputError
        Bad columns option, a missing column or empty field, a duplicate id, a bad split value,
        a text pinned to two splits.
    SchemaError
        A label neither in the label map nor in the config, or a config whose target is not a given target.
    """
    _check_options("read_pairs", on_error=(on_error, ON_ERROR))
    fmt = "pairs"
    path = Path(path)
    cols = parse_columns(columns)
    schema, annotator, prefix, labels = _stance_options(fmt, path, config, annotator, id_prefix, label_map, kind="given")
    ledger = _Ledger(str(path), on_error)
    enc, records = _pair_records(path, encoding, cols)
    articles: dict[str, Article] = {}
    seen: dict[str, int] = {}
    count: dict[str, int] = {}
    for line, row in records:
        ledger.read += 1
        ledger.labels_read += 1
        try:
            text, target, label, seg_id, split = _pair_row(row, cols, line, prefix, seen, labels, ledger.notes)
            article = _pair_article(articles, text, split, prefix, path.name, line)
        except _Bad as bad:
            ledger.labels_read -= 1
            ledger.fail(bad, labels_in_unit=1)
            continue
        seen[seg_id] = line
        if label == "":
            ledger.drop_unit(line, "label mapped to nothing")
            continue
        if article.id not in count:
            ledger.articles.append(article)
        k = count[article.id] = count.get(article.id, -1) + 1
        _pair(ledger, article, seg_id, k, target, label, annotator)
    return ledger.corpus(fmt, schema, annotator, enc, labels, unit="pair")


def _pair_row(row: Mapping[str, Any], cols: Mapping[str, str], line: int, prefix: str, seen: Mapping[str, int],
              labels: Any, notes: Any) -> tuple[str, str, str, str, str | None]:
    """``(text, target, label, segment id, split)`` of one row; raises :class:`_Bad`."""
    if "" in row and len(row) == 1:
        raise _Bad("bad_columns", line, f"{len(row[''])} column(s), not as many as the header has")
    values: dict[str, str] = {}
    for role in PAIR_COLUMNS:
        if role not in cols:
            continue
        name = cols[role]
        value = row.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise _Bad("empty_field", line, f"the {name!r} column ({role}) is missing or empty")
        values[role] = value if role == "label" else str(value)
    text = _clean(values["text"], notes)
    label = _stance_label(values["label"] if not isinstance(values["label"], str) else values["label"].strip(),
                          labels, line, "label")
    seg_id = f"{prefix}-{slug(values['id'])}" if "id" in values else f"{prefix}-l{line:06d}"
    if seg_id in seen:
        raise _Bad("duplicate_id", line, f"id {values.get('id')!r} (segment {seg_id!r}) is also on line {seen[seg_id]}")
    split = None
    if "split" in values:
        split = SPLIT_VALUES.get(values["split"].strip().lower())
        if split is None:
            raise _Bad("bad_split", line, f"split {values['split']!r} is none of {', '.join(SPLIT_VALUES)}")
    return text, values["target"], label, seg_id, split


def _pair_article(articles: dict[str, Article], text: str, split: str | None, prefix: str, source: str,
                  line: int) -> Article:
    """The article of a text (one per distinct text, so that its pairs share a split)."""
    key = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    article = articles.get(key)
    if article is None:
        meta: dict[str, Any] = {"format": "pairs", "source_file": source, "line": line}
        if split is not None:
            meta[SPLIT_PIN_KEY] = split
        article = articles[key] = Article(id=f"{prefix}-t{key}", text=text, meta=meta)
    elif article.meta.get(SPLIT_PIN_KEY) != split:
        raise _Bad("conflicting_split", line, f"the text is also on line {article.meta['line']} with split "
                   f"{article.meta.get(SPLIT_PIN_KEY)!r}, here {split!r}; a text's pairs share one split")
    return article

