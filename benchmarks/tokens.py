"""Benchmark: word tokenisers with exact offsets, for the ``build`` stage (issue 17).

Not a test: it prints a table. Run it with

    .venv/bin/python benchmarks/tokens.py            # ~5 min on the shared 2-core box
    .venv/bin/python benchmarks/tokens.py --mb 0.5   # ~1 min

What it measures, in one run, on one core (pinned when the OS allows):

* agreement with a gold token grid, ``tests/data/token_grid.jsonl`` (hand-built; see
  ``docs/tokenisers.md``): token precision / recall / F1 over exact ``(start, end)`` offsets and the
  share of texts tokenised exactly, for the ``news`` texts (CoNLL-2003 / Penn Treebank conventions)
  and the ``graphemes`` texts (names and emoji whose grapheme clusters must stay whole), each
  contender *as shipped* (its raw output, then the grapheme merge of
  :func:`dataset_builder.build.tokens.merge_clusters`, which every contender needs);
* the grapheme property of the raw output: token boundaries strictly inside an extended grapheme
  cluster (``regex``'s ``\\X``), counted on the grid and on the speed corpus;
* throughput: MB/s (UTF-8 bytes in) and tokens/s of each contender returning code-point offsets for
  every sentence of a news-like corpus (the seed articles and the sentence hard cases, split into
  sentences by the pipeline's own splitter, repeated to ``--mb`` MB): raw, and with the merge. Best
  of ``--repeat`` runs. ``ours (regex)`` is the tokeniser ``build`` used before issue 17, vectorised.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import sys
import time
import unicodedata
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import regex  # noqa: E402

from dataset_builder.build import tokens as tok  # noqa: E402
from dataset_builder.segment import split_sentences  # noqa: E402

GRID = REPO / "tests" / "data" / "token_grid.jsonl"
SAMPLES = REPO / "data" / "sample_articles"
HARD_CASES = REPO / "tests" / "data" / "sentence_hard_cases.jsonl"
Spans = list[tuple[int, int]]
Batch = Callable[[Sequence[str]], list[Spans]]


def read_grid() -> list[tuple[str, str, Spans]]:
    """``(genre, text, gold spans)``: ``marked`` has its tokens separated by a space, and ``¦``
    between two tokens that the text writes without a space."""
    out = []
    for line in GRID.read_text("utf-8").splitlines():
        row = json.loads(line)
        marked = row["marked"]
        text = marked.replace("\u00a6", "")
        spans, pos = [], 0
        for t in (t for part in marked.split(" ") for t in part.split("\u00a6")):
            s = text.index(t, pos)
            spans.append((s, s + len(t)))
            pos = s + len(t)
        out.append((row["genre"], text, spans))
    return out


def build_corpus(mb: float) -> list[str]:
    """Sentences of the seed articles and the hard cases (the pipeline's splitter), repeated to ``mb`` MB."""
    texts = [p.read_text("utf-8") for p in sorted(SAMPLES.glob("*.txt"))]
    texts += [json.loads(line)["text"] for line in HARD_CASES.read_text("utf-8").splitlines()]
    sentences = [t[a:b] for t in texts for a, b in split_sentences(unicodedata.normalize("NFC", t))]
    size = sum(len(s.encode("utf-8")) for s in sentences)
    return sentences * max(1, int(mb * 1_000_000 / size + 0.999))


# --- the tokeniser build used before issue 17 (dataset_builder 0.1.0, build/tokens.py), vectorised ------------

TOKEN_PATTERN = r"\w+|[^\w\s]"

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


def regex_tokenize_batch(texts: Sequence[str]) -> tok.TokenBatch:
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
    return tok.TokenBatch(
        tokens=pa.concat_arrays([c.tokens for c in chunks]),
        starts=np.concatenate([c.starts for c in chunks]),
        ends=np.concatenate([c.ends for c in chunks]),
        offsets=np.concatenate(offsets),
    )


def _tokenize_chunk(texts: Sequence[str]) -> tok.TokenBatch:
    n_texts = len(texts)
    text_lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n_texts)
    joined = "\n".join(texts)
    n = len(joined)
    if n == 0:
        return tok.TokenBatch(pa.array([], pa.string()), np.zeros(0, np.int64), np.zeros(0, np.int64),
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
    return tok.TokenBatch(
        tokens=tokens,
        starts=g_starts - text_base[tok_text],
        ends=g_ends - text_base[tok_text],
        offsets=offsets,
    )


# --- contenders: texts -> spans per text (raw, before the grapheme merge) ---------------------------


def contenders() -> dict[str, tuple[Batch, str]]:
    found: dict[str, tuple[Batch, str]] = {}

    def ours(texts: Sequence[str]) -> list[Spans]:
        b = regex_tokenize_batch(texts)
        st, en, off = b.starts.tolist(), b.ends.tolist(), b.offsets.tolist()
        return [list(zip(st[off[i]:off[i + 1]], en[off[i]:off[i + 1]])) for i in range(len(texts))]

    found["ours (regex \\w+|[^\\w\\s])"] = (ours, "the pre-issue-17 rule, vectorised")
    clusters = regex.compile(r"(?:(?=\w)\X)+|(?!\s)\X")
    found["regex \\X-aware (same rule on clusters)"] = (
        lambda texts: [[m.span() for m in clusters.finditer(t)] for t in texts], f"regex {regex.__version__}")
    try:
        import nltk
        from nltk.tokenize import NLTKWordTokenizer, TreebankWordTokenizer

        nw, tb = NLTKWordTokenizer(), TreebankWordTokenizer()
        found["NLTK NLTKWordTokenizer"] = (lambda texts: [list(nw.span_tokenize(t)) for t in texts], f"nltk {nltk.__version__}")
        found["NLTK TreebankWordTokenizer"] = (lambda texts: [list(tb.span_tokenize(t)) for t in texts], f"nltk {nltk.__version__}")
    except ImportError:
        print("nltk not installed: skipped", file=sys.stderr)
    try:
        import spacy

        nlp = spacy.blank("en")
        plain = nlp.tokenizer

        def sp(texts: Sequence[str], t=plain) -> list[Spans]:
            return [[(w.idx, w.idx + len(w.text)) for w in d if not w.is_space] for d in t.pipe(texts)]

        found["spaCy blank('en') tokenizer"] = (sp, f"spacy {spacy.__version__}")
        found["**build now**: spaCy, no split at in-word hyphens, + URL/e-mail + cluster merges"] = (
            tok.tokenize_spans, f"spacy {spacy.__version__}, regex {regex.__version__}")
    except ImportError:
        print("spacy not installed: skipped", file=sys.stderr)
    try:
        import blingfire

        def bf(texts: Sequence[str]) -> list[Spans]:
            return [blingfire.text_to_words_with_offsets(t)[1] for t in texts]

        found["blingfire text_to_words_with_offsets"] = (bf, "blingfire 0.1.8")
    except ImportError:
        print("blingfire not installed: skipped", file=sys.stderr)
    try:
        import sacremoses  # noqa: F401
    except ImportError:
        print("sacremoses not installed (no offsets of its own either): skipped", file=sys.stderr)
    return found


# --- measures -----------------------------------------------------------------------------------


def cluster_splits(text: str, spans: Spans) -> int:
    """Token boundaries strictly inside a grapheme cluster (whitespace inside a cluster aside)."""
    inside = set()
    for m in regex.finditer(r"\X", text):
        a, b = m.span()
        inside.update(range(a + 1, b))
    return sum((s in inside and not text[s - 1].isspace()) + (e in inside) for s, e in spans)


def agreement(rows: list[tuple[str, Spans]], got: list[Spans]) -> tuple[float, float, float, float]:
    tp = n_got = n_gold = exact = 0
    for (_, gold), spans in zip(rows, got):
        g, s = set(gold), set(spans)
        tp += len(g & s)
        n_got += len(s)
        n_gold += len(g)
        exact += g == s
    p, r = tp / max(n_got, 1), tp / max(n_gold, 1)
    return p, r, 2 * p * r / max(p + r, 1e-12), exact / max(len(rows), 1)


def best_of(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=2.0, help="MB of sentences to time (default 2)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        except OSError:
            pass
    grid = read_grid()
    corpus = build_corpus(args.mb)
    mb = sum(len(s.encode("utf-8")) for s in corpus) / 1e6
    print(f"grid: {sum(g == 'news' for g, _, _ in grid)} news texts, {sum(g == 'graphemes' for g, _, _ in grid)} "
          f"grapheme texts ({sum(len(s) for _, _, s in grid)} gold tokens); corpus: {len(corpus)} sentences, {mb:.2f} MB")
    print(f"python {sys.version.split()[0]}")
    head = ("| tokeniser | version | news P | news R | news F1 | news exact | graphemes F1 | cluster splits (raw) "
            "| MB/s raw | tokens/s raw | MB/s merged |")
    print(head)
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    regex_tokenize_batch(["warm up"])
    for name, (fn, version) in contenders().items():
        rows = {g: [(t, s) for gg, t, s in grid if gg == g] for g in ("news", "graphemes")}
        merged = {g: [tok.merge_clusters(t, sp) for (t, _), sp in zip(r, fn([t for t, _ in r]))] for g, r in rows.items()}
        p, r, f1, ex = agreement(rows["news"], merged["news"])
        gf1 = agreement(rows["graphemes"], merged["graphemes"])[2]
        raw_grid = fn([t for _, t, _ in grid])
        splits = sum(cluster_splits(t, s) for (_, t, _), s in zip(grid, raw_grid))
        out: list[Spans] = []
        t_raw = best_of(lambda: out.__setitem__(slice(None), fn(corpus)), args.repeat)
        n_tok = sum(map(len, out))
        splits += sum(cluster_splits(t, s) for t, s in zip(corpus[:2000], out[:2000]) if not t.isascii())
        t_merged = best_of(lambda: [tok.merge_clusters(t, s) for t, s in zip(corpus, fn(corpus))], args.repeat)
        print(f"| {name} | {version} | {p:.3f} | {r:.3f} | {f1:.3f} | {ex:.3f} | {gf1:.3f} | {splits} "
              f"| {mb / t_raw:.2f} | {n_tok / t_raw:,.0f} | {mb / t_merged:.2f} |")


if __name__ == "__main__":
    main()
