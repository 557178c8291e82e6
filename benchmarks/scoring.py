"""Benchmark: NER scoring of 1,000,000 tokens, ours vs seqeval, plus the article bootstrap.

Run: ``python benchmarks/scoring.py [--tokens 1000000] [--resamples 1000]`` (needs ``seqeval``,
in the ``test`` extra). Prints one table and checks that both scorers give identical numbers.

Rows:

* ``seqeval classification_report`` - the reference, default (conlleval) mode, from lists of tag
  strings.
* ``ours: ner_report_from_tags`` - the same input and the same report (micro and per-type P/R/F1),
  string-to-id conversion included.
* ``ours: bootstrap`` - per-article counts once, then ``--resamples`` article resamples and their
  95% intervals for micro and per-type P/R/F1.
* ``ours: score_split end to end`` - a real ``datasets.Dataset`` split and a JSONL predictions
  file: reading and validating the file, the report, and the bootstrap.

Goal (issue 7): the report >= 20x faster than seqeval; 1,000 resamples < 5 s.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from dataset_builder import scoring

TYPES = ["PER", "ORG", "LOC", "MISC"]
LABELS = ["O"] + [f"{p}-{t}" for t in TYPES for p in ("B", "I")]


def make_data(n_tokens: int, seed: int) -> tuple[list[list[str]], list[list[str]], list[int]]:
    """Gold IOB2 sequences (~15% entity tokens), noisy predictions, and an article per sequence."""
    rng = np.random.default_rng(seed)
    y_true, y_pred, article = [], [], []
    total, art, in_art = 0, 0, 0
    while total < n_tokens:
        length = int(min(rng.integers(8, 45), n_tokens - total))
        gold = ["O"] * length
        i = 0
        while i < length:
            if rng.random() < 0.08:
                typ = TYPES[rng.integers(0, 4)]
                span = int(rng.integers(1, 4))
                gold[i] = f"B-{typ}"
                for j in range(i + 1, min(length, i + span)):
                    gold[j] = f"I-{typ}"
                i += span
            else:
                i += 1
        pred = list(gold)
        for j in np.flatnonzero(rng.random(length) < 0.06):
            pred[j] = LABELS[rng.integers(0, len(LABELS))]
        y_true.append(gold)
        y_pred.append(pred)
        article.append(art)
        total += length
        in_art += 1
        if in_art == 25:
            art, in_art = art + 1, 0
    return y_true, y_pred, article


def best_of(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="Best of N for our timings (seqeval runs once).")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from seqeval.metrics import classification_report

    y_true, y_pred, article = make_data(args.tokens, args.seed)
    n_tokens = sum(map(len, y_true))
    n_articles = article[-1] + 1
    print(f"data: {n_tokens:,} tokens, {len(y_true):,} sequences, {n_articles:,} articles; "
          f"python {platform.python_version()}, numpy {np.__version__}", file=sys.stderr)

    t0 = time.perf_counter()
    theirs = classification_report(y_true, y_pred, output_dict=True, zero_division=0)
    t_seqeval = time.perf_counter() - t0
    t0 = time.perf_counter()
    classification_report(y_true, y_pred, digits=4)  # the text report, as usually printed
    t_seqeval_text = time.perf_counter() - t0

    t_ours, ours = best_of(lambda: scoring.ner_report_from_tags(y_true, y_pred, labels=LABELS), args.repeat)

    # Identical numbers: micro and every type, exact float equality.
    mismatches = []
    pairs = [("micro", ours["micro"], theirs["micro avg"])] + [(t, ours["per_type"][t], theirs[t]) for t in TYPES]
    for name, mine, ref in pairs:
        for a, b in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score"), ("n_gold", "support")):
            if mine[a] != ref[b]:
                mismatches.append(f"{name}.{a}: ours {mine[a]!r} seqeval {ref[b]!r}")

    # Bootstrap: per-article counts once, then the resamples and intervals.
    tagset = scoring.TagSet.from_names(LABELS)
    index = tagset.index()
    lengths = np.array([len(s) for s in y_true])
    gold = np.array([index[t] for s in y_true for t in s])
    pred = np.array([index[t] for s in y_pred for t in s])
    seg_start = np.zeros(len(gold), dtype=bool)
    seg_start[np.concatenate(([0], np.cumsum(lengths)[:-1]))] = True
    art_of_token = np.repeat(np.array(article), lengths)

    def bootstrap():
        counts = scoring.ner_counts(gold, pred, seg_start, art_of_token, n_articles, tagset)
        sums = scoring.bootstrap_sums(counts, resamples=args.resamples, seed=0)
        arrays = scoring.metrics._ner_metric_arrays(sums)
        return {k: scoring.bootstrap._interval(v) for k, v in arrays.items()}

    t_boot, intervals = best_of(bootstrap, args.repeat)

    # End to end on a real datasets split and a JSONL file.
    import datasets

    features = datasets.Features({
        "id": datasets.Value("string"), "article_id": datasets.Value("string"), "text": datasets.Value("string"),
        "tokens": datasets.Sequence(datasets.Value("string")),
        "token_starts": datasets.Sequence(datasets.Value("int32")), "token_ends": datasets.Sequence(datasets.Value("int32")),
        "ner_tags": datasets.Sequence(datasets.ClassLabel(names=LABELS)),
    })
    ids = [f"s{i}" for i in range(len(y_true))]
    ds = datasets.Dataset.from_dict({
        "id": ids, "article_id": [f"a{a}" for a in article], "text": [" ".join(["w"] * len(s)) for s in y_true],
        "tokens": [["w"] * len(s) for s in y_true],
        "token_starts": [list(range(0, 2 * len(s), 2)) for s in y_true],
        "token_ends": [list(range(1, 2 * len(s), 2)) for s in y_true],
        "ner_tags": [[index[t] for t in s] for s in y_true],
    }, features=features)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pred.jsonl"
        path.write_text("".join(json.dumps({"id": i, "tags": s}) + "\n" for i, s in zip(ids, y_pred)), encoding="utf-8")
        t_e2e, report = best_of(lambda: scoring.score_split(ds, path, resamples=args.resamples, seed=0), 1)
    if report["metrics"]["micro"]["f1"] != round(theirs["micro avg"]["f1-score"], 10):
        mismatches.append("end-to-end micro F1 differs from seqeval")

    rows = [
        ("seqeval classification_report (dict)", t_seqeval, "reference"),
        ("seqeval classification_report (text)", t_seqeval_text, "reference"),
        ("ours: ner_report_from_tags", t_ours, f"{t_seqeval / t_ours:.1f}x faster than seqeval (goal >= 20x)"),
        (f"ours: bootstrap, {args.resamples} resamples", t_boot, f"goal < 5 s: {'met' if t_boot < 5 else 'MISSED'}"),
        (f"ours: score_split end to end (+{args.resamples} resamples)", t_e2e, "JSONL read + validation + report + CIs"),
    ]
    print(f"\nNER scoring, {n_tokens:,} tokens ({len(y_true):,} sequences, {n_articles:,} articles)\n")
    print(f"| {'what':<52} | {'seconds':>8} | note |")
    print(f"|{'-' * 54}|{'-' * 10}|------|")
    for what, secs, note in rows:
        print(f"| {what:<52} | {secs:>8.3f} | {note} |")
    lo, hi = intervals["micro_f1"]
    print(f"\nmicro F1 {ours['micro']['f1']:.6f} (seqeval {theirs['micro avg']['f1-score']:.6f}), "
          f"95% CI [{lo:.6f}, {hi:.6f}]")
    if mismatches:
        print("NUMBERS DIFFER:\n  " + "\n  ".join(mismatches))
        return 1
    print("identical numbers: micro and per-type precision, recall, F1 and support equal seqeval's exactly.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
