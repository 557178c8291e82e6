"""SemEval-2016 Task 6 stance TSV (format ``semeval2016``): tweets with a given target -> one segment each.

Input
    A SemEval-2016 Task 6 TSV file and a config with a stance toward a given target (default
    ``given_target_stance``).
Output
    A :class:`~dataset_builder.corpora.corpus.Corpus` whose units are tweets: one article and one
    segment per kept tweet, each annotation holding the tweet's stance toward its target.

Format (what the reader assumes; the tests pin every rule)
-----------------------------------------------------------
``semeval2016`` - SemEval-2016 Task 6 TSV: a header ``ID<TAB>Target<TAB>Tweet<TAB>Stance``, then
one tweet per line; ``FAVOR``, ``AGAINST``, ``NONE`` (NONE -> neutral by default). The files
are often Windows-1252 with CRLF line ends: UTF-8 is tried first (a BOM is allowed), then
cp1252, and the report says which was used. The target is a topic that need not occur in the
tweet, while our stance records need a target span of the text; so each tweet becomes an
article whose text is ``"<target>\\n<tweet>"``: the given target is its first line (target
``[0, len(target))``), the tweet is ``text[len(target) + 1:]`` (``meta.text_start``), and the
stance is the whole tweet's stance toward it (config ``given_target_stance``). Models see the
target and the tweet, as the task defines its input.
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
    schema, annotator, prefix, labels = _stance_options(fmt, path, config, annotator, id_prefix, label_map)
    data = _read_bytes(path)
    text, enc = decode(data, path, encoding)
    ledger = _Ledger(str(path), on_error)
    if b"\r\n" in data:
        ledger.notes["crlf_line_ends"] += 1
    seen: dict[str, int] = {}
    for lineno, line in _semeval_body(_lines(text), ledger.path):
        ledger.read += 1
        ledger.labels_read += 1
        try:
            cid, target, tweet, stance, article_id = _semeval_row(line, lineno, prefix, seen)
            label = _stance_label(stance, labels, lineno, "stance")
        except _Bad as bad:
            ledger.labels_read -= 1
            ledger.fail(bad, labels_in_unit=1)
            continue
        seen[article_id] = lineno
        if label == "":
            ledger.drop_unit(lineno, f"stance {stance!r} mapped to nothing")
            continue
        _semeval_article(article_id, cid, target, tweet, label, lineno, annotator, path.name, ledger)
    return ledger.corpus(fmt, schema, annotator, enc, labels, unit="tweet")


def _semeval_body(lines: list[str], src: str) -> list[tuple[int, str]]:
    """The numbered non-blank lines after the header. Raises ``InputError`` when there is no header."""
    numbered = [(n, ln) for n, ln in enumerate(lines, start=1) if ln.strip()]
    if not numbered:
        raise InputError(f"{src}: no lines.")
    head_no, head = numbered[0]
    names = [c.strip().lower() for c in head.split("\t")]
    if names[:2] == ["id", "target"] and len(names) == 4 and names[2] in ("tweet", "text") and names[3] == "stance":
        return numbered[1:]
    raise InputError(
        f"{src}:{head_no}: expected the header {'<TAB>'.join(SEMEVAL_COLUMNS)} (SemEval-2016 Task 6), "
        f"got {head[:80]!r}; add that header line, with tabs between the columns."
    )


def _semeval_row(line: str, lineno: int, prefix: str, seen: dict[str, int]) -> tuple[str, str, str, str, str]:
    """One tweet line -> ``(ID, target, tweet, stance, article id)``; raises :class:`_Bad` for a malformed one."""
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
    return cid, target, tweet, stance, article_id


def _semeval_article(article_id: str, cid: str, target: str, tweet: str, label: str, lineno: int, annotator: str,
                     source_file: str, ledger: _Ledger) -> None:
    """The tweet as article ``"<target>\\n<tweet>"`` with one segment, the target span and its stance."""
    target, _ = clean_with_offsets(target, (), ledger.notes)
    target = " ".join(target.split())  # the first line must stay one line
    tweet, _ = clean_with_offsets(tweet, (), ledger.notes)
    full = f"{target}\n{tweet}"
    ledger.articles.append(Article(id=article_id, text=full, meta={
        "format": "semeval2016", "source_file": source_file, "line": lineno, "corpus_id": cid,
        "given_target": target, "text_start": len(target) + 1}))
    seg = Segment(id=f"{article_id}-s0000", article_id=article_id, index=0, start=0, end=len(full), text=full,
                  unit="paragraph")
    ledger.keep(seg, Annotation(segment_id=seg.id, article_id=article_id, text=full, annotator=annotator,
                                stances=(StanceLabel(0, len(target), target, label),)))
