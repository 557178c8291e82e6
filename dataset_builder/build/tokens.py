"""The one tokeniser of the ``build`` stage, and a corpus's own tokens where it brings them.

Input
    Texts (segment texts) and, per text, the tokens it was given (``Annotation.tokens``, an imported
    corpus's own) or None.
Output
    A :class:`TokenBatch`: the tokens of every text, flat, with ``[start, end)`` code-point offsets
    into their text (:func:`tokens_of`, :func:`tokenize_batch`); :func:`tokenize` for one text.

Rule (the card states it too, naming :data:`TOKENISER`): given tokens are kept exactly, in order.
Other texts are tokenised by spaCy's English tokenizer (``spacy.blank("en")``: its rules and
exceptions only, no model), with one change so that it follows the CoNLL-2003 / Penn Treebank
grid: a hyphen between letters or digits does not split a word (``Kohl-led``, ``1996-12-06``,
``2-1`` stay whole; spaCy's own English rules split them). So ``n't`` and ``'s`` split off,
``U.S.`` and ``a.m.`` stay whole, punctuation stands apart. Then two merges: a URL or e-mail
address is one token, and no token boundary falls inside an extended grapheme cluster
(``regex``'s ``\\X``: combining marks, ZWJ sequences, flags, variation selectors, Indic
conjuncts), so the pieces spaCy cut a cluster into become one token. Whitespace is never part of a token (a cluster that starts with
whitespace, such as a space followed by a combining mark, is cut after the whitespace). So
``text[token_starts[i]:token_ends[i]] == tokens[i]`` and every non-space character is in exactly
one token. See ``docs/tokenisers.md`` for the candidates measured and why this one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any, Sequence

import numpy as np
import pyarrow as pa
import regex

TOKENISER = (
    f"spacy {version('spacy')} blank('en') tokenizer, hyphens inside words not split; URLs and e-mail "
    f"addresses whole; grapheme clusters whole (regex {regex.__version__} \\X)"
)
"""The tokeniser and its versions, as the card and the parquet files' metadata name it."""

Spans = list[tuple[int, int]]


@dataclass(frozen=True)
class TokenBatch:
    """Tokens of many texts, flat: text ``i`` owns tokens ``offsets[i]:offsets[i+1]``."""

    tokens: pa.Array  # string
    starts: np.ndarray  # int64, code points, relative to the text
    ends: np.ndarray
    offsets: np.ndarray  # int64, len(texts) + 1


# A character that may join the one before it into one grapheme cluster (or, Prepend, the one after);
# a text with none of them has one-code-point clusters only (CR LF aside, which is whitespace).
_MAY_JOIN = regex.compile(
    r"[\p{GCB=Extend}\p{GCB=ZWJ}\p{GCB=SpacingMark}\p{GCB=Regional_Indicator}\p{GCB=Prepend}"
    r"\p{GCB=L}\p{GCB=V}\p{GCB=T}\p{GCB=LV}\p{GCB=LVT}]"
)
_CLUSTER = regex.compile(r"\X")
# URLs and e-mail addresses, ending on neither sentence punctuation nor a closing bracket or quote
_WHOLE = regex.compile(
    r"(?:https?://|www\.)[^\s<>\"\u201c\u201d]*[^\s<>\"\u201c\u201d.,;:!?)\]}'\u2019]"
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
)


@functools.lru_cache(maxsize=1)
def _word_tokenizer() -> Any:
    """spaCy's English tokenizer without its two infix rules that split at hyphens inside a word
    (letters or digits, then a hyphen, then a letter; a digit, a hyphen, a digit: ``+``, ``*``,
    ``^`` between digits still split)."""
    import spacy  # imported when first needed (a second or two)
    from spacy.lang.char_classes import ALPHA, HYPHENS

    nlp = spacy.blank("en")
    hyphen = r"(?<=[{a}0-9])(?:{h})(?=[{a}])".format(a=ALPHA, h=HYPHENS)
    operator = r"(?<=[0-9])[+\-\*^](?=[0-9-])"
    infixes = list(nlp.Defaults.infixes)
    if hyphen not in infixes or operator not in infixes:  # another spaCy: refuse rather than tokenise otherwise
        raise RuntimeError(f"spaCy {spacy.__version__}: its English infix rules changed; see build/tokens.py.")
    infixes = [r"(?<=[0-9])[+\*^](?=[0-9-])" if p == operator else p for p in infixes if p != hyphen]
    nlp.tokenizer.infix_finditer = spacy.util.compile_infix_regex(infixes).finditer
    return nlp.tokenizer


def merge_regions(spans: Spans, regions: Spans) -> Spans:
    """``spans`` (sorted, not overlapping) with every region of ``regions`` (sorted, not overlapping)
    inside one token: the tokens a region overlaps, and the region, become one token."""
    if not regions:
        return spans
    out: Spans = []
    j, n = 0, len(regions)
    for s, e in spans:
        while j < n and regions[j][1] <= s:
            j += 1
        k = j
        while k < n and regions[k][0] < e:
            s, e = min(s, regions[k][0]), max(e, regions[k][1])
            k += 1
        if out and out[-1][1] > s:
            ps, pe = out.pop()
            s, e = min(s, ps), max(e, pe)
        out.append((s, e))
    return out


def merge_clusters(text: str, spans: Spans) -> Spans:
    """``spans`` of ``text`` with no boundary inside a grapheme cluster (see the module docstring)."""
    if text.isascii() or not _MAY_JOIN.search(text):
        return spans
    regions = []
    for m in _CLUSTER.finditer(text):
        a, b = m.span()
        if b - a > 1:
            while a < b and text[a].isspace():
                a += 1
            if b - a > 1:
                regions.append((a, b))
    return merge_regions(spans, regions)


def tokenize_spans(texts: Sequence[str]) -> list[Spans]:
    """The ``[start, end)`` tokens of each text by the rule in the module docstring."""
    from spacy.attrs import IDX, IS_SPACE, LENGTH  # (spaCy is imported by _word_tokenizer)

    tokenizer = _word_tokenizer()
    out = []
    for text, doc in zip(texts, tokenizer.pipe(texts, batch_size=1000)):
        # offsets and lengths as one array (code points), not a Python Token object per token
        cols = doc.to_array([IDX, LENGTH, IS_SPACE]) if len(doc) else np.zeros((0, 3), dtype=np.uint64)
        cols = cols[cols[:, 2] == 0]
        spans = [(s, s + n) for s, n in zip(cols[:, 0].tolist(), cols[:, 1].tolist())]
        if "@" in text or "://" in text or "www." in text:
            spans = merge_regions(spans, [m.span() for m in _WHOLE.finditer(text)])
        out.append(merge_clusters(text, spans))
    return out


def _batch(texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]) -> TokenBatch:
    counts = np.fromiter(map(len, spans), dtype=np.int64, count=len(spans))
    offsets = np.zeros(len(spans) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    flat = [p for row in spans for p in row]
    pairs = np.array(flat, dtype=np.int64).reshape(-1, 2) if flat else np.zeros((0, 2), dtype=np.int64)
    starts, ends = pairs[:, 0].copy(), pairs[:, 1].copy()
    tokens = pa.array([t[s:e] for t, row in zip(texts, spans) for s, e in row], pa.string())
    return TokenBatch(tokens, starts, ends, offsets)


def tokenize_batch(texts: Sequence[str]) -> TokenBatch:
    """Tokenise ``texts`` by the rule in the module docstring, keeping code-point offsets."""
    return _batch(texts, tokenize_spans(texts))


def tokens_of(texts: Sequence[str], given: Sequence[Sequence[tuple[int, int]] | None]) -> TokenBatch:
    """The tokens of ``texts``: ``given[i]`` (a corpus's own, ``[start, end)`` code points, from
    ``Annotation.tokens``) where it is not None, else the tokeniser's (:func:`tokenize_batch`).

    Given tokens are kept exactly, in order; only the texts without them are tokenised.
    """
    own = [i for i, g in enumerate(given) if g is None]
    tokenised = iter(tokenize_spans([texts[i] for i in own]))
    return _batch(texts, [next(tokenised) if g is None else g for g in given])


def tokenize(text: str) -> tuple[list[str], list[int], list[int]]:
    """Tokens of one text and their ``[start, end)`` code-point offsets (see the module docstring)."""
    spans = tokenize_spans([text])[0]
    return [text[s:e] for s, e in spans], [s for s, _ in spans], [e for _, e in spans]
