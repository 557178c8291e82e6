"""Benchmark: does annotating most-informative-first (``dataset_builder.predict``'s order) save annotation?

Not a test: it prints learning curves. Simulated annotators label sentences of a CoNLL-format
training file in an order; after each batch the ``crf`` baseline (``make_crf`` at its default c1/c2,
no tuning, the same features) is retrained on what is labelled and scored (entity micro F1,
conlleval's rules) on a fixed test file. Cost is counted in tokens annotated (what a person
reads) and in sentences. Orders, from the same random seed set (1 % of the tokens):

* ``random``: uniform random order (what Label Studio's stream does without a model);
* ``lc``: whole-sentence least confidence, 1 - P(best tag sequence) under the CRF, highest first (the
  usual uncertainty sampling; it favours long sentences, so it is costly in tokens);
* ``ours``: the task score of ``dataset_builder.predict``: the mean over tokens of the highest
  marginal tag probability (forward-backward), lowest first: a per-token measure, so a sentence
  costs what it is worth per token read.

``--repeats`` simulations (default 3), each with its own seed set and random order; the figures
are their means (one simulation on easy data is noisy: a few sentences decide the crossing).

Each round adds about ``--step`` of the pool's tokens (a geometric schedule: 1 %, then x1.35 each
round), ranked by the model of the round before. A curve stops once it reaches 95 % of the F1 of
the model trained on the whole pool; the tokens needed are interpolated linearly between the two
rounds around that point. Also timed: retraining on the labelled set and re-ranking 10,000
remaining tasks (featurise, score, sort), the work of one ``round``.

    nice -n 10 .venv/bin/python benchmarks/active_learning.py                       # generated, CI-sized
    nice -n 10 .venv/bin/python benchmarks/active_learning.py --train eng.train --test eng.testb

The generated corpus is ``benchmarks/crf.py``'s synthetic news/sports generator (names from
syllables, a quarter of the test's unseen, headlines, results lines), at ``--sentences`` training
sentences and a quarter of that for the test. The last line is exactly
``tokens to reach 95% of full-data F1: random N, ours M, ratio R``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from crf import Generator, read_conll  # noqa: E402  (benchmarks/crf.py: the synthetic corpus, the CoNLL reader)

from dataset_builder.baselines import CRF_DEFAULT, TokenFeaturizer, make_crf  # noqa: E402
from dataset_builder.scoring import ner_report_from_tags  # noqa: E402

STRATEGIES = ("random", "lc", "ours")
GOAL = 0.95


def fit(feats, tags, idx):
    crf = make_crf(*CRF_DEFAULT).steps[-1][1]
    crf.fit([feats[i] for i in idx], [tags[i] for i in idx])
    return crf


def f1(crf, feats, tags, labels) -> float:
    predicted = [list(p) for p in crf.predict(feats)]
    return ner_report_from_tags(tags, predicted, labels=labels)["micro"]["f1"] or 0.0


def confidences(crf, feats, idx) -> dict[str, dict[int, float]]:
    """Per sentence: ``ours`` (mean per-token max marginal over the BIO tags, from the CRF's
    ``predict_marginals_single`` as ``dataset_builder.predict`` reads it) and ``lc`` (P(best path))."""
    tagger = crf.tagger_
    ours, lc = {}, {}
    for i in idx:
        tagger.set(feats[i])
        lc[i] = tagger.probability(tagger.tag())
        marginals = crf.predict_marginals_single(feats[i])
        ours[i] = sum(max(m.values()) for m in marginals) / len(marginals) if marginals else 1.0
    return {"ours": ours, "lc": lc}


def order(strategy: str, crf, feats, remaining: list[int], rng: random.Random) -> list[int]:
    if strategy == "random":
        out = list(remaining)
        rng.shuffle(out)
        return out
    conf = confidences(crf, feats, remaining)[strategy]
    return sorted(remaining, key=lambda i: (conf[i], i))  # lowest confidence first (lc: lowest P(best))


def curve(strategy, feats, tags, test_feats, test_tags, labels, seed_idx, target, args):
    rng = random.Random(args.seed + STRATEGIES.index(strategy))
    n_tok = [len(t) for t in tags]
    total = sum(n_tok)
    labelled = list(seed_idx)
    chosen = set(labelled)
    budget = sum(n_tok[i] for i in labelled)
    points = []
    while True:
        crf = fit(feats, tags, labelled)
        score = f1(crf, test_feats, test_tags, labels)
        tokens = sum(n_tok[i] for i in labelled)
        points.append((tokens, len(labelled), score))
        print(f"  {strategy:<6} tokens {tokens:>8} ({tokens / total:6.1%})  sentences {len(labelled):>6}  F1 {score:.4f}",
              flush=True)
        if score >= target or len(labelled) == len(tags):
            return points
        budget = min(total, int(budget * args.growth) + 1)
        remaining = [i for i in range(len(tags)) if i not in chosen]
        for i in order(strategy, crf, feats, remaining, rng):
            if tokens >= budget:
                break
            labelled.append(i)
            chosen.add(i)
            tokens += n_tok[i]


def reach(points, target) -> tuple[float, float]:
    """Tokens and sentences at which the curve reaches ``target``, linearly interpolated."""
    prev = (0, 0, 0.0)
    for p in points:
        if p[2] >= target:
            share = (target - prev[2]) / (p[2] - prev[2]) if p[2] > prev[2] else 1.0
            return prev[0] + share * (p[0] - prev[0]), prev[1] + share * (p[1] - prev[1])
        prev = p
    return float("nan"), float("nan")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=Path, help="CoNLL-format file the simulated annotators label (the pool)")
    parser.add_argument("--test", type=Path, help="CoNLL-format file to score on (fixed)")
    parser.add_argument("--sentences", type=int, default=3000, help="generated pool size without --train")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--seed-share", type=float, default=0.01, help="share of the pool's tokens labelled at random first")
    parser.add_argument("--growth", type=float, default=1.35, help="labelled tokens grow by this factor each round")
    parser.add_argument("--repeats", type=int, default=3,
                        help="simulations, each with its own random seed set and random order; the figures are their means")
    args = parser.parse_args(argv)
    if (args.train is None) != (args.test is None):
        parser.error("pass both --train and --test, or neither (a generated corpus)")
    if args.train:
        X, y = read_conll(args.train)
        tX, ty = read_conll(args.test)
        source = f"{args.train} ({len(X)} sentences), test {args.test} ({len(tX)})"
    else:
        gen = Generator(args.seed)
        X, y = gen.split("train", args.sentences)
        tX, ty = gen.split("test", max(100, args.sentences // 4))
        source = f"generated (benchmarks/crf.py Generator, seed {args.seed}): {len(X)} sentences, test {len(tX)}"
    labels = sorted({t for s in y + ty for t in s} | {"O"})
    featurizer = TokenFeaturizer()
    feats, test_feats = featurizer.transform(X), featurizer.transform(tX)
    total = sum(map(len, y))
    print(f"pool: {source}; {total} tokens")
    start = time.perf_counter()
    full = f1(fit(feats, y, range(len(X))), test_feats, ty, labels)
    print(f"full-data F1 {full:.4f} (trained in {time.perf_counter() - start:.1f} s); target {GOAL:.0%}: {GOAL * full:.4f}")
    runs: dict[str, list[tuple[float, float]]] = {s: [] for s in STRATEGIES}
    base_seed = args.seed
    for repeat in range(args.repeats):
        args.seed = base_seed + 101 * repeat
        rng = random.Random(args.seed)
        shuffled = list(range(len(X)))
        rng.shuffle(shuffled)
        seed_idx, tokens = [], 0
        for i in shuffled:
            if tokens >= args.seed_share * total:
                break
            seed_idx.append(i)
            tokens += len(y[i])
        print(f"simulation {repeat + 1} of {args.repeats} (seed {args.seed}):")
        for strategy in STRATEGIES:
            points = curve(strategy, feats, y, test_feats, ty, labels, seed_idx, GOAL * full, args)
            runs[strategy].append(reach(points, GOAL * full))
            print(f"  -> {strategy}: {runs[strategy][-1][0]:.0f} tokens, {runs[strategy][-1][1]:.0f} sentences")
    results = {s: (sum(r[0] for r in rs) / len(rs), sum(r[1] for r in rs) / len(rs)) for s, rs in runs.items()}
    print(f"\nmeans over {args.repeats} simulation(s):")
    for strategy, (tok, sent) in results.items():
        print(f"{strategy:<6} reaches {GOAL:.0%} of full-data F1 at {tok:.0f} tokens ({tok / total:.1%} of the pool), "
              f"{sent:.0f} sentences; vs random: tokens x{tok / results['random'][0]:.2f}, "
              f"sentences x{sent / results['random'][1]:.2f}")
    timing(feats, y, X, featurizer, seed_idx, results["ours"][1], args)
    rand, ours = results["random"][0], results["ours"][0]
    print(f"tokens to reach 95% of full-data F1: random {rand:.0f}, ours {ours:.0f}, ratio {ours / rand:.2f}")
    return 0


def timing(feats, y, X, featurizer, seed_idx, sentences, args) -> None:
    """Retrain on as many sentences as ``ours`` needed, then featurise, score and sort 10,000 remaining tasks."""
    rng = random.Random(args.seed)
    n = int(sentences) if sentences == sentences else len(seed_idx)
    idx = rng.sample(range(len(X)), min(n, len(X)))
    start = time.perf_counter()
    crf = fit(feats, y, idx)
    trained = time.perf_counter() - start
    tasks = [X[rng.randrange(len(X))] for _ in range(10_000)]
    start = time.perf_counter()
    task_feats = featurizer.transform(tasks)
    conf = confidences(crf, task_feats, range(len(tasks)))["ours"]
    sorted(conf, key=lambda i: (conf[i], i))
    ranked = time.perf_counter() - start
    print(f"retrain on {len(idx)} sentences: {trained:.1f} s; re-rank 10,000 remaining tasks (features, marginals, "
          f"sort): {ranked:.1f} s; together {trained + ranked:.1f} s (goal: under 60 s)")


if __name__ == "__main__":
    raise SystemExit(main())
