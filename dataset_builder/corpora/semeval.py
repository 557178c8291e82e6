"""SemEval-2016 Task 6 stance TSV (format ``semeval2016``): tweets with a given target -> one segment each.

Input
    A SemEval-2016 Task 6 TSV file and a config with a stance toward a given target (default
    ``given_target_stance``).
Output
    A :class:`~dataset_builder.corpora.corpus.Corpus` whose units are tweets: one article and one
    segment per kept tweet (the tweet only), each annotation holding the tweet's stance toward its
    given target (a :class:`~dataset_builder.records.StanceLabel` without offsets).

Format (what the reader assumes; the tests pin every rule)
-----------------------------------------------------------
``semeval2016`` - SemEval-2016 Task 6 TSV: a header ``ID<TAB>Target<TAB>Tweet<TAB>Stance``, then
one tweet per line; ``FAVOR``, ``AGAINST``, ``NONE`` (NONE -> neutral by default). The
"all annotations" files have more columns after these four (``Opinion Towards``,
``Sentiment``): any extra named column is kept in the article's ``meta["columns"]`` by its
header name. The files are often Windows-1252 with CRLF line ends: UTF-8 is tried first (a BOM
is allowed), then cp1252, and the report says which was used. The target is a topic that need
not occur in the tweet: it is the stance's given target (task data ``target``, shown above the
text in Label Studio, the ``target`` column of the built ``stance`` configuration), never glued
into the text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from ..errors import InputError
from ..records import Annotation, Article, Segment, StanceLabel
from ..schema import LabelSchema
from .corpus import Corpus
from .ledger import _Bad, _Ledger
from .options import ON_ERROR, _check_options, slug
from .stance import _stance_label, _stance_options
from .text import _lines, _read_bytes, clean_with_offsets, decode

SEMEVAL_COLUMNS = ("ID", "Target", "Tweet", "Stance")
"""The four columns every SemEval-2016 Task 6 file starts with; the "all annotations" files add more."""


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
    """Read a SemEval-2016 Task 6 stance file (``ID<TAB>Target<TAB>Tweet<TAB>Stance[<TAB>extra...]``).

    Each tweet becomes an article (the tweet) with one segment, and the stance toward its given
    target; extra columns are kept in ``Article.meta["columns"]``.

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
    schema, annotator, prefix, labels = _stance_options(fmt, path, config, annotator, id_prefix, label_map, kind="given")
    data = _read_bytes(path)
    text, enc = decode(data, path, encoding)
    ledger = _Ledger(str(path), on_error)
    if b"\r\n" in data:
        ledger.notes["crlf_line_ends"] += 1
    seen: dict[str, int] = {}
    names, body = _semeval_body(_lines(text), ledger.path)
    for lineno, line in body:
        ledger.read += 1
        ledger.labels_read += 1
        try:
            cid, target, tweet, stance, article_id, extra = _semeval_row(line, lineno, prefix, seen, names)
            label = _stance_label(stance, labels, lineno, "stance")
        except _Bad as bad:
            ledger.labels_read -= 1
            ledger.fail(bad, labels_in_unit=1)
            continue
        seen[article_id] = lineno
        if label == "":
            ledger.drop_unit(lineno, f"stance {stance!r} mapped to nothing")
            continue
        _semeval_article(article_id, cid, target, tweet, label, lineno, annotator, path.name, ledger, extra)
    return ledger.corpus(fmt, schema, annotator, enc, labels, unit="tweet")


def _semeval_body(lines: list[str], src: str) -> tuple[list[str], list[tuple[int, str]]]:
    """The header's column names and the numbered non-blank lines after it.

    Raises ``InputError`` when there is no header, or an extra column has no name or a repeated one.
    """
    numbered = [(n, ln) for n, ln in enumerate(lines, start=1) if ln.strip()]
    if not numbered:
        raise InputError(f"{src}: no lines.")
    head_no, head = numbered[0]
    names = [c.strip() for c in head.split("\t")]
    low = [c.lower() for c in names]
    if not (len(low) >= 4 and low[:2] == ["id", "target"] and low[2] in ("tweet", "text") and low[3] == "stance"):
        raise InputError(
            f"{src}:{head_no}: expected the header {'<TAB>'.join(SEMEVAL_COLUMNS)} (SemEval-2016 Task 6; more columns "
            f"may follow), got {head[:80]!r}; add that header line, with tabs between the columns."
        )
    extra = names[4:]
    if any(not n for n in extra) or len(set(low[4:])) != len(extra) or set(low[4:]) & set(low[:4]):
        raise InputError(f"{src}:{head_no}: the extra columns {extra!r} need a name each, all different; name them "
                         "in the header line.")
    return names, numbered[1:]


def _semeval_row(line: str, lineno: int, prefix: str, seen: dict[str, int],
                 names: list[str]) -> tuple[str, str, str, str, str, dict[str, str]]:
    """One tweet line -> ``(ID, target, tweet, stance, article id, extra columns)``; raises :class:`_Bad` for a malformed one."""
    cols = line.split("\t")
    if len(cols) != len(names):
        few = "too few" if len(cols) < len(names) else "too many (a tab inside the tweet?)"
        raise _Bad("bad_columns", lineno,
                   f"{len(cols)} tab-separated column(s), {few}: expected {len(names)} ({', '.join(names)})")
    cid, target, tweet, stance = (c.strip() for c in cols[:4])
    for name, value in (("ID", cid), ("Target", target), ("Tweet", tweet), ("Stance", stance)):
        if not value:
            raise _Bad("empty_field", lineno, f"the {name} column is empty; every column needs a value")
    article_id = f"{prefix}-{slug(cid)}"
    if article_id in seen:
        raise _Bad("duplicate_id", lineno, f"ID {cid!r} (article {article_id!r}) is also on line {seen[article_id]}")
    return cid, target, tweet, stance, article_id, {n: v.strip() for n, v in zip(names[4:], cols[4:])}


def _semeval_article(article_id: str, cid: str, target: str, tweet: str, label: str, lineno: int, annotator: str,
                     source_file: str, ledger: _Ledger, extra: dict[str, str]) -> None:
    """The tweet as an article with one segment, and its stance toward the given target (no offsets)."""
    target, _ = clean_with_offsets(target, (), ledger.notes)
    target = " ".join(target.split())
    tweet, _ = clean_with_offsets(tweet, (), ledger.notes)
    meta: dict[str, Any] = {"format": "semeval2016", "source_file": source_file, "line": lineno, "corpus_id": cid}
    if extra:
        meta["columns"] = extra
    ledger.articles.append(Article(id=article_id, text=tweet, meta=meta))
    seg = Segment(id=f"{article_id}-s0000", article_id=article_id, index=0, start=0, end=len(tweet), text=tweet,
                  unit="paragraph")
    ledger.keep(seg, Annotation(segment_id=seg.id, article_id=article_id, text=tweet, annotator=annotator,
                                stances=(StanceLabel(None, None, target, label),)))
