"""The one tokeniser of the ``build`` stage.

Input
    Texts (segment texts).
Output
    A :class:`TokenBatch`: the tokens of every text, flat, with ``[start, end)`` code-point offsets
    into their text; :func:`tokenize` for one text.

Rule (the card states it too): tokens are the matches of ``\\w+|[^\\w\\s]`` (runs of word
characters; every other non-space character alone), with code-point offsets into the segment
text, so ``text[token_starts[i]:token_ends[i]] == tokens[i]``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pyarrow as pa

TOKEN_PATTERN = r"\w+|[^\w\s]"
"""The tokeniser: runs of word characters, and every other non-space character on its own."""


@dataclass(frozen=True)
class TokenBatch:
    """Tokens of many texts, flat: text ``i`` owns tokens ``offsets[i]:offsets[i+1]``."""

    tokens: pa.Array  # string
    starts: np.ndarray  # int64, code points, relative to the text
    ends: np.ndarray
    offsets: np.ndarray  # int64, len(texts) + 1


_SPACE, _WORD, _OTHER = 0, 1, 2
_WORD_CHAR = re.compile(r"\w")
_SPACE_CHAR = re.compile(r"\s")


def _char_class(ch: str) -> int:
    # Asked of Python's own re with the classes of TOKEN_PATTERN, so the result is exactly what
    # re.finditer(TOKEN_PATTERN) would do with this character.
    if _WORD_CHAR.fullmatch(ch):
        return _WORD
    return _SPACE if _SPACE_CHAR.fullmatch(ch) else _OTHER


@functools.lru_cache(maxsize=1)
def _bmp_classes() -> np.ndarray:
    return np.fromiter((_char_class(chr(c)) for c in range(0x10000)), dtype=np.uint8, count=0x10000)


_CHUNK_CHARS = 1 << 20  # texts are tokenised in chunks of about this many characters


def tokenize_batch(texts: Sequence[str]) -> TokenBatch:
    """Tokenise ``texts`` with :data:`TOKEN_PATTERN`, keeping code-point offsets.

    Equivalent to ``re.finditer(TOKEN_PATTERN, text)`` on each text (a property test checks it),
    but vectorised: the texts are joined with ``"\\n"`` (whitespace, so no token crosses a text
    boundary), every code point is classed as word / space / other from a table built with the
    same ``re`` classes, and a token starts at a non-space that does not continue a word run.
    Token strings are cut out of the joined UTF-8 by Arrow, not by Python. Work goes in chunks
    of about a million characters, so temporary arrays stay small.
    """
    ends_at = np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) + 1)
    cuts = np.unique(np.searchsorted(ends_at, np.arange(_CHUNK_CHARS, int(ends_at[-1]) if len(texts) else 0, _CHUNK_CHARS)) + 1)
    bounds = [0] + [int(c) for c in cuts if 0 < c < len(texts)] + [len(texts)]
    chunks = [_tokenize_chunk(texts[a:b]) for a, b in zip(bounds[:-1], bounds[1:])] or [_tokenize_chunk([])]
    if len(chunks) == 1:
        return chunks[0]
    offsets = [np.zeros(1, dtype=np.int64)]
    base = 0
    for c in chunks:
        offsets.append(c.offsets[1:] + base)
        base += int(c.offsets[-1])
    return TokenBatch(
        tokens=pa.concat_arrays([c.tokens for c in chunks]),
        starts=np.concatenate([c.starts for c in chunks]),
        ends=np.concatenate([c.ends for c in chunks]),
        offsets=np.concatenate(offsets),
    )


def _tokenize_chunk(texts: Sequence[str]) -> TokenBatch:
    n_texts = len(texts)
    text_lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n_texts)
    joined = "\n".join(texts)
    n = len(joined)
    if n == 0:
        return TokenBatch(pa.array([], pa.string()), np.zeros(0, np.int64), np.zeros(0, np.int64),
                          np.zeros(n_texts + 1, np.int64))
    cps = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    cls = _bmp_classes()[np.minimum(cps, 0xFFFF)]
    astral = np.flatnonzero(cps > 0xFFFF)
    for value in np.unique(cps[astral]).tolist():  # emoji and other rare planes: one check each
        cls[astral[cps[astral] == value]] = _char_class(chr(value))
    word = cls == _WORD
    is_tok = cls != _SPACE
    continues = np.zeros(n, dtype=bool)
    continues[1:] = word[1:] & word[:-1]
    continued = np.zeros(n, dtype=bool)
    continued[:-1] = continues[1:]
    g_starts = np.flatnonzero(is_tok & ~continues)
    g_ends = np.flatnonzero(is_tok & ~continued) + 1
    text_base = np.zeros(n_texts, dtype=np.int64)
    np.cumsum(text_lengths[:-1] + 1, out=text_base[1:])
    tok_text = np.searchsorted(text_base, g_starts, side="right") - 1
    offsets = np.zeros(n_texts + 1, dtype=np.int64)
    np.cumsum(np.bincount(tok_text, minlength=n_texts), out=offsets[1:])

    # Pieces (tokens and the whitespace between them) cover the joined text; Arrow slices them
    # out of the UTF-8 bytes and keeps the tokens.
    boundary = np.zeros(n + 1, dtype=bool)
    boundary[[0, n]] = True
    boundary[g_starts] = True
    boundary[g_ends] = True
    bounds = np.flatnonzero(boundary)
    data = joined.encode("utf-8")
    if len(data) == n:
        byte_at = bounds
    else:  # byte offset of each character: the positions of the UTF-8 lead bytes
        raw = np.frombuffer(data, dtype=np.uint8)
        char_at = np.append(np.flatnonzero((raw & 0xC0) != 0x80), len(data))
        byte_at = char_at[bounds]
    pieces = pa.LargeStringArray.from_buffers(
        len(bounds) - 1, pa.py_buffer(byte_at.astype(np.int64)), pa.py_buffer(data)
    )
    is_token_piece = np.zeros(n + 1, dtype=bool)
    is_token_piece[g_starts] = True
    tokens = pieces.filter(pa.array(is_token_piece[bounds[:-1]])).cast(pa.string())
    return TokenBatch(
        tokens=tokens,
        starts=g_starts - text_base[tok_text],
        ends=g_ends - text_base[tok_text],
        offsets=offsets,
    )


def tokens_of(texts: Sequence[str], given: Sequence[Sequence[tuple[int, int]] | None]) -> TokenBatch:
    """The tokens of ``texts``: ``given[i]`` (a corpus's own, ``[start, end)`` code points, from
    ``Annotation.tokens``) where it is not None, else the tokeniser's (:func:`tokenize_batch`).

    Given tokens are kept exactly, in order; only the texts without them are tokenised.
    """
    if all(g is None for g in given):
        return tokenize_batch(texts)
    own = [i for i, g in enumerate(given) if g is None]
    tb = tokenize_batch([texts[i] for i in own])
    tb_tokens = tb.tokens.to_pylist()
    tokens: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    counts = np.zeros(len(texts), dtype=np.int64)
    k = 0
    for i, (text, g) in enumerate(zip(texts, given)):
        if g is None:
            a, b = int(tb.offsets[k]), int(tb.offsets[k + 1])
            k += 1
            tokens.extend(tb_tokens[a:b])
            starts.extend(tb.starts[a:b].tolist())
            ends.extend(tb.ends[a:b].tolist())
            counts[i] = b - a
        else:
            tokens.extend(text[s:e] for s, e in g)
            starts.extend(s for s, _ in g)
            ends.extend(e for _, e in g)
            counts[i] = len(g)
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return TokenBatch(pa.array(tokens, pa.string()), np.array(starts, dtype=np.int64),
                      np.array(ends, dtype=np.int64), offsets)


def tokenize(text: str) -> tuple[list[str], list[int], list[int]]:
    """Tokens of one text and their ``[start, end)`` code-point offsets (see :data:`TOKEN_PATTERN`)."""
    batch = tokenize_batch([text])
    return batch.tokens.to_pylist(), batch.starts.tolist(), batch.ends.tolist()
