"""Benchmark: sentence splitting with exact offsets, ours against pysbd, blingfire, syntok, spaCy.

Not a test: it prints a table. Run it with

    .venv/bin/python benchmarks/segment.py            # ~1 min on the 2-core CI box
    .venv/bin/python benchmarks/segment.py --mb 2     # quicker, smaller corpus

What it measures, in one run, on one core (the process is pinned to one CPU when the OS allows):

* throughput: MB/s (UTF-8 bytes of input per second) and sentences/s of each splitter returning
  ``(start, end)`` code-point offsets, on the same >= 5 MB of news-like text. Every splitter gets
  the whole article and its spans are then cut at line breaks (the pipeline never lets a sentence
  cross one), except pysbd, which gets one line at a time (its ``char_span`` offsets come from a
  text search that is unreliable on long texts, and it is faster so); time includes mapping each
  library's output to trimmed offsets. Best of ``--repeat``
  runs. Slow libraries run on a deterministic slice (``--slow-fraction``); the table says so and
  MB/s and sentences/s are rates, so they compare directly (the slice is the corpus' first articles).
* accuracy on ``tests/data/sentence_hard_cases.jsonl``: boundary precision/recall/F1 (a boundary is
  the end of a sentence followed by another sentence on the same line, so forced line breaks do not
  count), exact-sentence accuracy (expected sentences reproduced exactly) and whole-case
  accuracy, on all cases and on the held-out ones (written before our rules, never tuned on).
* bad offsets: spans whose text differs (whitespace aside) from the sentence the library itself
  returned, for the libraries that return both.

The corpus: the paragraphs of the seed articles in ``data/sample_articles`` and the hard-case
texts, shuffled with a fixed seed into articles of 4-12 paragraphs, repeated until ``--mb`` MB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dataset_builder.records import Article  # noqa: E402
from dataset_builder.segment import BLANK_CHARS, segment_article, split_sentences  # noqa: E402

HARD_CASES = REPO / "tests" / "data" / "sentence_hard_cases.jsonl"
DEV_SET = REPO / "benchmarks" / "data" / "sentence_dev.jsonl"  # built by benchmarks/sentence_devset.py
SAMPLES = REPO / "data" / "sample_articles"
LINE = re.compile(r"[^\n]+")
Spans = list[tuple[int, int]]


# --- corpus -------------------------------------------------------------------------------------


def build_corpus(mb: float, seed: int = 20240607) -> list[str]:
    """Return article texts of news-like paragraphs, >= ``mb`` MB of UTF-8 in total, deterministically."""
    paragraphs: list[str] = []
    for path in sorted(SAMPLES.glob("*.txt")):
        paragraphs += [p.strip() for p in path.read_text(encoding="utf-8").split("\n") if p.strip()]
    for line in HARD_CASES.read_text(encoding="utf-8").splitlines():
        paragraphs += [p.strip() for p in json.loads(line)["text"].split("\n") if p.strip()]
    rng = random.Random(seed)
    articles, size = [], 0
    while size < mb * 1_000_000:
        order = paragraphs[:]
        rng.shuffle(order)
        i = 0
        while i < len(order):
            n = rng.randint(4, 12)
            sep = "\n\n" if rng.random() < 0.5 else "\n"  # both wire layouts
            text = sep.join(order[i : i + n])
            i += n
            articles.append(text)
            size += len(text.encode("utf-8"))
    return articles


# --- contenders: text -> trimmed (start, end) spans, one line at a time ---------------------------


def _trim(line: str, a: int, b: int) -> tuple[int, int]:
    while a < b and line[a] in BLANK_CHARS:
        a += 1
    while b > a and line[b - 1] in BLANK_CHARS:
        b -= 1
    return a, b


def per_line(fn: Callable[[str], list[tuple[int, int, str | None]]], bad: list[int]) -> Callable[[str], Spans]:
    """Apply ``fn`` (line -> (start, end, library's own sentence text or None)) to each line."""

    def split(text: str) -> Spans:
        out = []
        for m in LINE.finditer(text):
            line = m.group()
            if not line.strip():
                continue
            base = m.start()
            for a, b, own in fn(line):
                if own is not None and line[a:b].split() != own.split():
                    bad[0] += 1
                a, b = _trim(line, a, b)
                if b > a:
                    out.append((base + a, base + b))
        return out

    return split


def whole_then_cut(fn: Callable[[str], list[tuple[int, int, str | None]]], bad: list[int]) -> Callable[[str], Spans]:
    """Apply ``fn`` to the whole article, then cut its spans at line breaks (cheaper for C/Cython cores)."""

    def split(text: str) -> Spans:
        out = []
        for a, b, own in fn(text):
            if own is not None and text[a:b].split() != own.split():
                bad[0] += 1
            for m in LINE.finditer(text, a, b):
                x, y = _trim(text, m.start(), m.end())
                if y > x:
                    out.append((x, y))
        return out

    return split


def contenders() -> dict[str, tuple[Callable[[str], Spans], list[int], str]]:
    """name -> (split function, bad-offset counter, version note). Missing libraries are skipped."""
    found: dict[str, tuple[Callable[[str], Spans], list[int], str]] = {}
    import dataset_builder

    found["ours (regex + lexicon)"] = (split_sentences, [0], f"dataset_builder {dataset_builder.__version__}")
    try:
        import blingfire

        bad: list[int] = [0]

        def bf(line: str):
            sents, offsets = blingfire.text_to_sentences_and_offsets(line)
            own = sents.split("\n")
            return [(a, b, own[i] if len(own) == len(offsets) else None) for i, (a, b) in enumerate(offsets)]

        found["blingfire"] = (whole_then_cut(bf, bad), bad, f"blingfire {_version('blingfire')}")
    except ImportError:
        pass
    try:
        import pysbd

        seg = pysbd.Segmenter(language="en", clean=False, char_span=True)
        bad = [0]
        found["pysbd"] = (
            per_line(lambda line: [(s.start, s.end, s.sent) for s in seg.segment(line)], bad),
            bad,
            f"pysbd {_version('pysbd')}",
        )
    except ImportError:
        pass
    try:
        from syntok import segmenter as syntok_segmenter

        def sy(line: str):
            return [
                (sent[0].offset, sent[-1].offset + len(sent[-1].value), None)
                for para in syntok_segmenter.analyze(line)
                for sent in para
            ]

        found["syntok"] = (whole_then_cut(sy, [0]), [0], f"syntok {_version('syntok')}")
    except ImportError:
        pass
    try:
        from nltk.tokenize.punkt import PunktSentenceTokenizer

        punkt = PunktSentenceTokenizer()  # untrained: nltk's trained English model is a download
        found["nltk punkt (untrained)"] = (
            whole_then_cut(lambda text: [(a, b, None) for a, b in punkt.span_tokenize(text)], [0]),
            [0],
            f"nltk {_version('nltk')} PunktSentenceTokenizer() without training data",
        )
    except ImportError:
        pass
    try:
        import spacy

        nlp = spacy.blank("en")
        nlp.add_pipe("sentencizer")
        found["spaCy sentencizer"] = (
            whole_then_cut(lambda text: [(s.start_char, s.end_char, None) for s in nlp(text).sents], [0]),
            [0],
            f"spacy {spacy.__version__} blank('en') + sentencizer",
        )
    except ImportError:
        pass
    return found


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


# --- accuracy ----------------------------------------------------------------------------------


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos)


def accuracy(split: Callable[[str], Spans], cases: list[dict]) -> dict[str, float]:
    tp = fp = fn = 0
    exact = total = whole = 0
    for case in cases:
        text = case["text"]
        expected, pos = [], 0
        for sentence in case["sentences"]:
            at = text.index(sentence, pos)
            expected.append((at, at + len(sentence)))
            pos = at + len(sentence)
        predicted = split(text)

        def inner(spans: Spans) -> set[int]:
            return {a[1] for a, b in zip(spans, spans[1:]) if _line_of(text, a[1]) == _line_of(text, b[0])}

        e, p = inner(expected), inner(predicted)
        tp, fp, fn = tp + len(e & p), fp + len(p - e), fn + len(e - p)
        exact += len(set(expected) & set(predicted))
        total += len(expected)
        whole += predicted == expected
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "P": precision,
        "R": recall,
        "F1": f1,
        "sent_acc": exact / total,
        "case_acc": whole / len(cases),
        "cases": len(cases),
    }


def golden_rules() -> list[dict]:
    """pysbd's English "golden rules" (written by pysbd's authors, shipped in its wheel as
    ``benchmarks/english_golden_rules.py``): the cases whose expected sentences are slices of the text."""
    import ast
    import importlib.util

    spec = importlib.util.find_spec("pysbd")
    if spec is None or spec.origin is None:
        return []
    path = Path(spec.origin).parents[1] / "benchmarks" / "english_golden_rules.py"
    if not path.is_file():
        return []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rules = next(ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "GOLDEN_EN_RULES")
    cases = []
    for i, (text, sentences) in enumerate(rules):
        pos, ok = 0, True
        for sentence in sentences:
            at = text.find(sentence, pos)
            ok = ok and at >= 0
            pos = at + len(sentence)
        if ok:
            cases.append({"id": f"golden-{i + 1}", "text": text, "sentences": sentences})
    return cases


def genres(cases: list[dict]) -> dict[str, list[dict]]:
    """The accuracy sets, by name: news (our hard cases, all and held out), pysbd's golden rules, and
    the dev set's genres (dev and held-out halves)."""
    out = {"news (hard cases)": cases, "news held-out": [c for c in cases if c.get("split") == "heldout"]}
    gold = golden_rules()
    if gold:
        out["pysbd golden rules"] = gold
    if DEV_SET.is_file():
        dev = [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines()]
        for genre in dict.fromkeys(c["genre"] for c in dev):
            for half in ("dev", "heldout"):
                out[f"{genre} {half}"] = [c for c in dev if c["genre"] == genre and c["split"] == half]
    return out


# --- throughput --------------------------------------------------------------------------------


def throughput(split: Callable[[str], Spans], articles: list[str], repeat: int) -> tuple[float, int, float]:
    """Return (seconds of the best run, sentences found, MB processed)."""
    mb = sum(len(t.encode("utf-8")) for t in articles) / 1_000_000
    best, n = float("inf"), 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        n = sum(len(split(t)) for t in articles)
        best = min(best, time.perf_counter() - t0)
    return best, n, mb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=5.0, help="corpus size in MB (default 5)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per fast splitter; the best is kept")
    parser.add_argument("--slow-fraction", type=float, default=0.1, help="share of the corpus for pysbd and syntok")
    args = parser.parse_args(argv)

    pinned = "no"
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        pinned = f"CPU {cpu}"

    articles = build_corpus(args.mb)
    total_mb = sum(len(t.encode("utf-8")) for t in articles) / 1_000_000
    n_slow = max(1, int(len(articles) * args.slow_fraction))
    cases = [json.loads(line) for line in HARD_CASES.read_text(encoding="utf-8").splitlines()]
    heldout = [c for c in cases if c.get("split") == "heldout"]
    print(
        f"corpus: {len(articles)} articles, {total_mb:.2f} MB UTF-8; pinned to {pinned}; Python {sys.version.split()[0]}"
    )
    print(f"hard cases: {len(cases)} ({len(heldout)} held out)\n")

    rows = []
    splitters = contenders()
    for name, (split, bad, note) in splitters.items():
        slow = name.startswith(("pysbd", "syntok", "nltk"))
        sample = articles[:n_slow] if slow else articles
        bad[0] = 0
        seconds, n, mb = throughput(split, sample, 1 if slow else args.repeat)
        bad_offsets = bad[0]
        acc, acc_h = accuracy(split, cases), accuracy(split, heldout)
        rows.append(
            (name, mb / seconds, n / seconds, f"{mb:.2f}" + (" (slice)" if slow else ""), acc, acc_h, bad_offsets, note)
        )

    # Records, not just offsets: what the segment stage costs per article.
    t0 = time.perf_counter()
    n_records = sum(len(segment_article(Article(id=str(i), text=t))) for i, t in enumerate(articles))
    record_rate = total_mb / (time.perf_counter() - t0)
    try:
        import blingfire

        t0 = time.perf_counter()
        for t in articles:
            blingfire.text_to_sentences(t)
        bf_plain = total_mb / (time.perf_counter() - t0)
    except ImportError:
        bf_plain = float("nan")

    columns = [  # (header, width, format of the value, value)
        ("splitter", 24, "", lambda r: r[0]),
        ("MB/s", 6, ".2f", lambda r: r[1]),
        ("sent/s", 9, ",.0f", lambda r: r[2]),
        ("MB timed", 12, "", lambda r: r[3]),
        ("P", 5, ".3f", lambda r: r[4]["P"]),
        ("R", 5, ".3f", lambda r: r[4]["R"]),
        ("F1", 5, ".3f", lambda r: r[4]["F1"]),
        ("sent acc", 8, ".3f", lambda r: r[4]["sent_acc"]),
        ("case acc", 8, ".3f", lambda r: r[4]["case_acc"]),
        ("held-out F1", 11, ".3f", lambda r: r[5]["F1"]),
        ("held-out case", 13, ".3f", lambda r: r[5]["case_acc"]),
        ("bad offsets", 11, "", lambda r: r[6]),
    ]
    align = ["<"] + [">"] * (len(columns) - 1)
    print("| " + " | ".join(f"{h:{a}{w}}" for a, (h, w, _, _) in zip(align, columns)) + " |")
    print(
        "|"
        + "|".join(("-" * (w + 1) + ":") if a == ">" else "-" * (w + 2) for a, (_, w, _, _) in zip(align, columns))
        + "|"
    )
    for row in rows:
        print("| " + " | ".join(f"{get(row):{a}{w}{f}}" for a, (_, w, f, get) in zip(align, columns)) + " |")
    print()
    for name, *_, note in rows:
        print(f"  {name}: {note}")
    print(f"\nours, full Segment records (segment_article): {record_rate:.2f} MB/s ({n_records:,} segments)")
    print(f"blingfire text_to_sentences without offsets (reference, not comparable): {bf_plain:.2f} MB/s")
    ours = rows[0]
    others = {r[0]: r for r in rows[1:]}
    if "pysbd" in others:
        p = others["pysbd"]
        verdict = "meets" if ours[1] >= 10 and ours[4]["F1"] >= p[4]["F1"] else "MISSES"
        print(
            f"\ngoal (>= 10 MB/s with offsets, boundary F1 >= pysbd's): {verdict} "
            f"(ours {ours[1]:.1f} MB/s, F1 {ours[4]['F1']:.3f}; pysbd {p[1]:.2f} MB/s, F1 {p[4]['F1']:.3f})"
        )
    genre_table(splitters, cases, rows)
    return 0


def genre_table(splitters: dict, cases: list[dict], rows: list) -> None:
    """Boundary F1 (and whole-case accuracy) of every splitter on every accuracy set; the issue-17 goals."""
    sets = genres(cases)
    names = list(splitters)
    scores = {name: {g: accuracy(splitters[name][0], c) for g, c in sets.items() if c} for name in names}
    width = max(len(n) for n in names)
    print("\nboundary F1 (whole-case accuracy) per set; cases / boundaries in the header\n")
    header = [f"{g} ({len(c)})" for g, c in sets.items() if c]
    print("| " + f"{'splitter':<{width}} | " + " | ".join(header) + " |")
    print("|" + "-" * (width + 2) + "|" + "|".join("-" * (len(h) + 1) + ":" for h in header) + "|")
    for name in names:
        cells = [f"{scores[name][g]['F1']:.3f} ({scores[name][g]['case_acc']:.3f})".rjust(len(h)) for g, h in zip(scores[name], header)]
        print("| " + f"{name:<{width}} | " + " | ".join(cells) + " |")
    ours, libs = names[0], names[1:]
    if not libs:
        return
    news = [g for g in scores[ours] if g.startswith("news")]
    ahead = all(scores[ours][g]["F1"] > max(scores[lib][g]["F1"] for lib in libs) for g in news)
    gaps = {g: max(scores[lib][g]["F1"] for lib in libs) - scores[ours][g]["F1"] for g in scores[ours]}
    worst = max(gaps, key=gaps.get)
    speed = {r[0]: r[1] for r in rows}
    ratio = speed[ours] / speed["blingfire"] if "blingfire" in speed else float("nan")
    print(f"\ngoal: ahead of every library on news: {'meets' if ahead else 'MISSES'}; no set more than 0.01 behind the best "
          f"library: {'meets' if gaps[worst] <= 0.01 else 'MISSES'} (largest gap {gaps[worst]:+.3f} on {worst}); "
          f"speed >= 4x blingfire: {'meets' if ratio >= 4 else 'MISSES'} ({ratio:.1f}x)")


if __name__ == "__main__":
    sys.exit(main())
