"""Benchmark: split headline/body stance pairs (FNC-1's shape) vs storing every confirmed pair.

Run: ``python benchmarks/split_pairs.py [--pairs 75000] [--bodies 2600]``. Prints one table.

Input (synthetic, FNC-1-like): ``--bodies`` article bodies of about 400 words; 4% of them are
wire copies of another body with a few words changed, and one story was copied 60 times (the
case that made near-duplicate clusters quadratic); ``--pairs`` headline/body pairs, one gold
segment each with a given-target stance (agree/disagree/discuss/unrelated), spread over the
bodies. As ``import-corpus fnc1`` does, a body is one article and its pairs are its segments.

Rows:

* ``ours: split`` - ``splits.assign_splits`` + ``write_manifest``: near-duplicates (MinHash
  LSH + exact Jaccard), each cluster kept as a spanning tree of its confirmed pairs.
* ``alternative: every confirmed pair`` - what the manifest would hold if each cluster kept all
  of its confirmed pairs (as before this change): its pair count and the JSON bytes they take.

Goal (issue 16, point 5): under 10 s and a manifest of a few MB.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from dataset_builder.records import GOLD, Annotation, Article, StanceLabel
from dataset_builder.splits import assign_splits, write_manifest
from dataset_builder.splits.near_duplicates import _article_texts, find_near_duplicates

LABELS = ("agree", "disagree", "discuss", "unrelated")


def corpus(n_pairs: int, n_bodies: int, seed: int = 0) -> tuple[list[Article], list[Annotation]]:
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(20000)]
    bodies: list[list[str]] = []
    for i in range(n_bodies):
        if i < 60:  # one story copied 60 times
            words = list(bodies[0]) if bodies else [rng.choice(vocab) for _ in range(400)]
        elif rng.random() < 0.04:
            words = list(rng.choice(bodies))
            for _ in range(3):
                words[rng.randrange(len(words))] = rng.choice(vocab)
        else:
            words = [rng.choice(vocab) for _ in range(400)]
        bodies.append(words)
    articles = [Article(id=f"body-{i}", text=" ".join(w)) for i, w in enumerate(bodies)]
    gold = []
    for k in range(n_pairs):
        b = k % n_bodies
        text = articles[b].text
        gold.append(Annotation(segment_id=f"pair-{k}", article_id=f"body-{b}", text=text, annotator=GOLD,
                               stances=(StanceLabel(None, None, f"headline {k}", rng.choice(LABELS)),)))
    return articles, gold


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=75000)
    ap.add_argument("--bodies", type=int, default=2600)
    args = ap.parse_args()
    articles, gold = corpus(args.pairs, args.bodies)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        result = assign_splits(gold, articles)
        path = Path(tmp) / "manifest.json"
        write_manifest(result.manifest, path)
        ours = time.perf_counter() - t
        size = path.stat().st_size
        clusters = result.manifest.near_duplicate_clusters
    kept = sum(len(c.pairs) for c in clusters)
    # the alternative: every confirmed pair of each cluster (n(n-1)/2 for n exact copies)
    texts, _ = _article_texts(gold, articles)
    every = 0
    for c in find_near_duplicates(texts):
        n = len(c.articles)
        every += n * (n - 1) // 2 if len(c.pairs) == n - 1 else len(c.pairs)
    pair_bytes = len(json.dumps(["body-1000", "body-2000", 0.9876])) + 2
    print(f"# {args.pairs:,} pairs over {args.bodies:,} bodies; python {sys.version.split()[0]}")
    print("| what | seconds | manifest MB | cluster pairs stored |")
    print("|---|---:|---:|---:|")
    print(f"| ours: split + manifest | {ours:.2f} | {size / 1e6:.2f} | {kept:,} |")
    print(f"| alternative: every confirmed pair | | {(size + (every - kept) * pair_bytes) / 1e6:.2f} (estimated) | {every:,} |")
    print(f"goal: under 10 s -> {'met' if ours < 10 else 'NOT met'} ({ours:.1f} s); manifest of a few MB -> "
          f"{'met' if size < 5e6 else 'NOT met'} ({size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
