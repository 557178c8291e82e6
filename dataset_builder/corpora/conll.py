"""CoNLL-2003 column files (format ``conll``): tagged tokens -> sentences with entity spans.

Input
    A CoNLL column file and a config with entity labels (default ``entities``).
Output
    A :class:`~dataset_builder.corpora.corpus.Corpus` whose units are sentences: one article per
    document, one segment per sentence, each annotation holding the sentence's entity chunks.

Format (what the reader assumes; the tests pin every rule)
-----------------------------------------------------------
``conll`` - CoNLL-2003 column format: one token per line, columns separated by whitespace
(``token POS chunk NER`` in CoNLL-2003; any number >= 2 of columns, the token first and the entity
tag last, the same number on every line), a blank line between sentences, ``-DOCSTART-`` lines
between documents. A document becomes an article, a sentence a segment whose text is its tokens
joined by single spaces, sentences joined by ``\\n`` in the article. The segment carries its tokens
(``Segment.tokens``, code-point offsets into its text), which go through Label Studio's task data
and ``normalise`` to ``build``: the dataset's ``tokens`` are the file's tokens, in order. A file without
``-DOCSTART-`` gives one article per sentence. Tags are ``O``, ``B-TYPE`` or ``I-TYPE``:

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
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..errors import InputError, SchemaError
from ..records import Annotation, Article, EntitySpan, Segment
from ..schema import LabelSchema
from .corpus import Corpus
from .labels import _Labels
from .ledger import _Bad, _Ledger
from .options import ON_ERROR, SCHEMES, _check_options, _reader_options, _resolve_schema
from .text import _lines, _read_bytes, decode

_TAG = re.compile(r"(B|I)-(\S+)")


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
    schema = _resolve_schema(fmt, config)
    if not schema.entity_labels:
        raise SchemaError(
            f"config {schema.name!r} has no entity labels, so it cannot hold CoNLL entity tags; "
            "use --config entities or entities_stance."
        )
    annotator, prefix, lmap = _reader_options(fmt, path, annotator, id_prefix, label_map)
    labels = _Labels(lmap, frozenset(schema.entity_labels), schema.name)
    text, enc = decode(_read_bytes(path), path, encoding)
    docs, has_docstart = _conll_documents(_lines(text))
    ledger = _Ledger(str(path), on_error)
    used = _scheme_used(scheme, docs, ledger)
    if not has_docstart:
        docs = [[s] for doc in docs for s in doc]
        ledger.notes["no_docstart_one_article_per_sentence"] += 1
    width = max(5, len(str(len(docs))))
    for dno, doc in enumerate(docs, start=1):
        _conll_article(doc, f"{prefix}-d{dno:0{width}d}", used, labels, annotator, path.name, ledger)
    return ledger.corpus(fmt, schema, annotator, enc, labels, unit="sentence", scheme=used)


def _scheme_used(scheme: str, docs: list[list[_Sentence]], ledger: _Ledger) -> str:
    """The scheme the file is read with: the one given, or under ``auto`` the one the tags show.

    Raises :class:`~dataset_builder.errors.InputError` when ``auto`` finds both schemes.
    """
    if scheme != "auto":
        return scheme
    detected, i_open, b_fresh = _detect_scheme(docs)
    if detected == "mixed":
        raise InputError(
            f"{ledger.path}: mixes IOB1 and IOB2: line {i_open} has an I- tag that opens a chunk (IOB1) and line "
            f"{b_fresh} a B- tag that opens one without following a tag of its type (IOB2); fix the file or pass "
            f"--scheme iob1 or iob2 (iob1 reads both kinds of chunk start as conlleval does)."
        )
    if detected == "undetermined":
        ledger.notes["scheme_undetermined"] += 1
    return "iob2" if detected in ("iob2", "undetermined") else "iob1"


def _conll_article(doc: list[_Sentence], article_id: str, scheme: str, labels: _Labels, annotator: str,
                   source_file: str, ledger: _Ledger) -> None:
    """One document -> its article (the kept sentences joined by ``\\n``) and a segment per kept sentence."""
    if not doc:
        ledger.notes["empty_document"] += 1
        return
    sentences: list[tuple[str, list[tuple[int, int, str]], int, tuple]] = []  # (text, spans, first line, tokens)
    for s in doc:
        ledger.read += 1
        try:
            stext, spans, n_chunks, toks = _conll_sentence(s, scheme, labels, ledger)
        except _Bad as bad:
            ledger.fail(bad, labels_in_unit=_count_chunks(s))
            continue
        ledger.labels_read += n_chunks
        sentences.append((stext, spans, s.lines[0], toks))
    if not sentences:
        return
    ledger.articles.append(Article(id=article_id, text="\n".join(x[0] for x in sentences),
                                   meta={"format": "conll", "source_file": source_file,
                                         "first_line": sentences[0][2], "tokenised": True}))
    pos = 0
    for index, (stext, spans, _, toks) in enumerate(sentences):
        seg = Segment(id=f"{article_id}-s{index:04d}", article_id=article_id, index=index,
                      start=pos, end=pos + len(stext), text=stext, unit="sentence", tokens=toks)
        pos += len(stext) + 1
        ents = tuple(EntitySpan(a, b, lab, stext[a:b]) for a, b, lab in spans)
        ledger.keep(seg, Annotation(segment_id=seg.id, article_id=article_id, text=stext,
                                    annotator=annotator, entities=ents))


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
    s: _Sentence, scheme: str, labels: _Labels, ledger: _Ledger,
) -> tuple[str, list[tuple[int, int, str]], int, tuple[tuple[int, int], ...]]:
    """One sentence -> (text, spans (start, end, config label), chunks read incl. dropped ones, token offsets)."""
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

    chunks = _conll_chunks(s, scheme, ledger)
    spans: list[tuple[int, int, str]] = []
    for first, last, typ, line in chunks:
        label = labels.lmap.get(typ, typ)
        if label == "":
            ledger.labels_dropped["dropped_by_label_map"] += 1
            continue
        if label not in labels.allowed:
            mapped = f" (mapped from {typ!r})" if label != typ else ""
            raise _Bad(
                "unknown_label", line,
                f"entity type {label!r}{mapped} is not a label of config {labels.config!r} "
                f"({', '.join(sorted(labels.allowed))}); map it with --label-map {typ}=LABEL, or {typ}= to drop it",
                schema_error=True,
            )
        start = starts[first]
        spans.append((start, starts[last] + len(tokens[last]), label))
    return text, spans, len(chunks), tuple((a, a + len(t)) for a, t in zip(starts, tokens))


def _conll_chunks(s: _Sentence, scheme: str, ledger: _Ledger) -> list[tuple[int, int, str, int]]:
    """The sentence's chunks as ``(first token, last token, type, line)``, read per ``scheme``."""
    chunks: list[tuple[int, int, str, int]] = []
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
    return chunks
