"""Benchmark: training the stance baselines on headline/body pairs, against the TF-IDF baseline as it was.

Not a test: it prints a table. Run it with

    nice -n 10 .venv/bin/python benchmarks/stance_pairs.py                 # 50,000 pairs, 2,000 bodies
    nice -n 10 .venv/bin/python benchmarks/stance_pairs.py --pairs 5000    # quicker
    .venv/bin/python benchmarks/stance_pairs.py --limit-s 300              # stop a model after 300 s

Each model runs in its own child process (so its peak resident memory is its own, from
``getrusage``): featurising and training on the training pairs, then predicting the test pairs.
Printed per model: training and prediction wall time, the time to save it as ``benchmark`` does
(skops) and load it back and the file's size, peak memory, and the FNC-1 relative score
and macro-F1 on the test pairs (scored by :mod:`dataset_builder.scoring`'s metrics). A model still
running after ``--limit-s`` seconds is stopped and reported as such.

The models, on the same pairs in the same run:

* ``tfidf_logreg (before)``: the stance baseline as it was before the text and the target were
  featurised apart (the given target glued in front of every row's text, TF-IDF word 1-2 + char_wb
  2-5 grams of every row, each capped at the ``benchmark`` default of 2**18, LogisticRegression),
  rebuilt here as it was, so that it does not change with the library.
* ``tfidf_logreg (uncapped)``: the same without the cap (the stance baseline before pairs); not in
  the default list (it does not finish in 15 minutes at 50,000 pairs).
* ``tfidf_logreg``: today's (:class:`dataset_builder.baselines.stance.TfidfLogReg`): the distinct
  bodies and the distinct targets featurised once each, the same logistic loss on the factored design.
* ``pair_relation`` and ``per_target_svm``: the pair baselines (``dataset_builder.baselines.pairs``).
* ``benchmark default set``: every default stance baseline of ``dataset-builder benchmark``
  (``BASELINES["stance"]``) trained, predicting, saved and loaded one after the other in one
  process: the total times and sizes and the peak memory of that process (no score: there are
  several models).

The data: FNC-1-shaped synthetic pairs from a fixed seed: ``--bodies`` bodies of about 400 words
(20 topics, each its own words, among shared filler words), each paired with headlines: related
ones drawn from its topic's words with cue words for agree/disagree/discuss, unrelated ones from
another topic (73 % unrelated, as in FNC-1). As in FNC-1 (about 1,650 distinct headlines over
49,972 training pairs), headlines are reused: ``--headlines`` of them (20 topic pools, each
headline with one cue word or none; a related pair takes one of its topic with its label's cue or
none); ``--headlines 0`` gives every pair its own headline (the worst case for featurising
targets). It says what the methods cost in time and memory at that size and whether the relation
features see relatedness; its scores are not FNC-1's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

LABELS = ("agree", "disagree", "discuss", "unrelated")
DEFAULT_SET = "benchmark default set"
CUES = {"agree": ["confirms", "confirmed", "says", "true"], "disagree": ["fake", "denies", "hoax", "false"],
        "discuss": ["reportedly", "claims", "may", "alleged"]}


def _word(rng: random.Random) -> str:
    return "".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(rng.randint(2, 4)))


def _headline(rng: random.Random, topic: list[str], cue: str | None) -> str:
    words = [rng.choice(topic) for _ in range(rng.randint(5, 9))]
    if cue is not None:
        words.insert(rng.randrange(len(words)), rng.choice(CUES[cue]))
    return " ".join(words).capitalize()


def make_pairs(n_pairs: int, n_bodies: int, seed: int = 0, n_headlines: int = 0) -> list[tuple[str, str, str, int]]:
    """``(headline, body, label, body index)`` pairs (see the module docstring); ``n_headlines`` > 0:
    that many distinct headlines, reused across pairs, else one per pair."""
    rng = random.Random(seed)
    filler = [_word(rng) for _ in range(3000)]
    topics = [[_word(rng) for _ in range(60)] for _ in range(20)]
    bodies, topic_of = [], []
    for b in range(n_bodies):
        t = rng.randrange(len(topics))
        topic_of.append(t)
        paragraphs = []
        for _ in range(rng.randint(4, 8)):
            words = [rng.choice(topics[t]) if rng.random() < 0.3 else rng.choice(filler) for _ in range(rng.randint(40, 80))]
            stance = rng.choice(list(CUES))
            words[rng.randrange(len(words))] = rng.choice(CUES[stance])
            paragraphs.append(" ".join(words).capitalize() + ".")
        bodies.append("\n\n".join(paragraphs))
    pool = [[(cue, _headline(rng, topic, cue)) for cue in (rng.choice((None, *CUES)) for _ in range(max(1, n_headlines // len(topics))))]
            for topic in topics] if n_headlines else None
    pairs = []
    for _ in range(n_pairs):
        b = rng.randrange(n_bodies)
        label = "unrelated" if rng.random() < 0.73 else rng.choice(("agree", "disagree", "discuss"))
        t = topic_of[b] if label != "unrelated" else rng.choice([k for k in range(len(topics)) if k != topic_of[b]])
        if pool is not None:  # a headline of the topic's pool: for a related pair, one with its cue or none
            fitting = [h for cue, h in pool[t] if label == "unrelated" or cue in (label, None)] or [h for _, h in pool[t]]
            pairs.append((rng.choice(fitting), bodies[b], label, b))
            continue
        words = [rng.choice(topics[t]) for _ in range(rng.randint(5, 9))]
        if label != "unrelated" and rng.random() < 0.6:
            words.insert(rng.randrange(len(words)), rng.choice(CUES[label]))
        pairs.append((" ".join(words).capitalize(), bodies[b], label, b))
    return pairs


def _split(pairs):
    """Train on the pairs of 80 % of the bodies, test on the rest (bodies never cross, as in FNC-1)."""
    n_bodies = max(p[3] for p in pairs) + 1
    cut = int(n_bodies * 0.8)
    return [p for p in pairs if p[3] < cut], [p for p in pairs if p[3] >= cut]


def _model(name: str):
    from dataset_builder import baselines

    if name.startswith("tfidf_logreg ("):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion, Pipeline

        cap = None if name == "tfidf_logreg (uncapped)" else 2 ** 18
        features = FeatureUnion([
            ("word", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, min_df=1, max_features=cap)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1, max_features=cap)),
        ])
        clf = LogisticRegression(C=10.0, max_iter=2000, class_weight="balanced", random_state=0)
        return Pipeline([("tfidf", features), ("logreg", clf)]), lambda p: f"TGTSTART {p[0]} TGTEND {p[1]}"
    return baselines.make_model("stance", name), lambda p: (p[0], p[1], True)


def _save_and_load(model) -> tuple[float, float]:
    """Save ``model`` as ``benchmark`` does (skops) and load it back: (seconds, file MB)."""
    import tempfile

    from dataset_builder.baselines import load_model, save_model

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.skops"
        t0 = time.perf_counter()
        save_model(model, path)
        load_model(path)
        return time.perf_counter() - t0, path.stat().st_size / 2 ** 20


def _default_set(train, test) -> tuple[float, float, float, float]:
    """Train, predict, save and load every default stance baseline in turn: (train s, predict s, save s, MB) summed."""
    from dataset_builder import baselines

    fit_s = predict_s = save_s = size_mb = 0.0
    for name in baselines.BASELINES["stance"]:
        model = baselines.make_model("stance", name)
        t0 = time.perf_counter()
        model.fit([(p[0], p[1], True) for p in train], [p[2] for p in train])
        t1 = time.perf_counter()
        model.predict([(p[0], p[1], True) for p in test])
        fit_s, predict_s = fit_s + t1 - t0, predict_s + time.perf_counter() - t1
        seconds, mb = _save_and_load(model)
        save_s, size_mb = save_s + seconds, size_mb + mb
    return fit_s, predict_s, save_s, size_mb


def child(name: str, n_pairs: int, n_bodies: int, n_headlines: int) -> None:
    import numpy as np

    from dataset_builder.scoring.metrics import _stance_metric_arrays

    train, test = _split(make_pairs(n_pairs, n_bodies, n_headlines=n_headlines))
    if name == DEFAULT_SET:
        fit_s, predict_s, save_s, size_mb = _default_set(train, test)
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"train_s": fit_s, "predict_s": predict_s, "save_s": save_s, "model_mb": size_mb,
                          "peak_mb": peak_kb / 1024, "fnc1": None,
                          "macro_f1": None, "train": len(train), "test": len(test)}))
        return
    model, row = _model(name)
    t0 = time.perf_counter()
    model.fit([row(p) for p in train], [p[2] for p in train])
    t1 = time.perf_counter()
    pred = model.predict([row(p) for p in test])
    t2 = time.perf_counter()
    conf = np.zeros((4, 4), dtype=np.int64)
    for p, y in zip(test, pred):
        conf[LABELS.index(p[2]), LABELS.index(str(y))] += 1
    m = _stance_metric_arrays(conf, unrelated=3)
    save_s, size_mb = _save_and_load(model)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"train_s": t1 - t0, "predict_s": t2 - t1, "save_s": save_s, "model_mb": size_mb,
                      "peak_mb": peak_kb / 1024, "fnc1": float(m["fnc1"]),
                      "macro_f1": float(m["macro_f1"]), "train": len(train), "test": len(test)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=50_000)
    ap.add_argument("--bodies", type=int, default=2_000)
    ap.add_argument("--headlines", type=int, default=1_650,
                    help="Distinct headlines, reused across pairs (FNC-1's training set has about 1,650 over its "
                         "49,972 pairs); 0: every pair its own headline.")
    ap.add_argument("--limit-s", type=int, default=240, help="Stop a model still running after this many seconds.")
    ap.add_argument("--set-limit-s", type=int, default=600, help="The same for the benchmark default set.")
    ap.add_argument("--models", default=f"tfidf_logreg (before),tfidf_logreg,pair_relation,per_target_svm,{DEFAULT_SET}")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.pairs, args.bodies, args.headlines)
        return
    pairs = make_pairs(args.pairs, args.bodies, n_headlines=args.headlines)
    train, test = _split(pairs)
    chars = sum(len(p[1]) for p in pairs) / len(pairs)
    print(f"{len(pairs)} pairs over {args.bodies} bodies and {len({p[0] for p in pairs})} distinct headlines "
          f"(mean body {chars:.0f} characters): {len(train)} train, "
          f"{len(test)} test; {os.cpu_count()} CPUs")
    print(f"load average at the start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| model | train s | predict s | train + predict s | save + load s | model MB | peak MB | FNC-1 score | macro-F1 |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in args.models.split(","):
        cmd = [sys.executable, __file__, "--child", name, "--pairs", str(args.pairs), "--bodies", str(args.bodies),
               "--headlines", str(args.headlines)]
        limit = args.set_limit_s if name == DEFAULT_SET else args.limit_s
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=limit, check=True).stdout
        except subprocess.TimeoutExpired:
            print(f"| {name} | stopped after {limit} s | - | - | - | - | - | - | - |", flush=True)
            continue
        except subprocess.CalledProcessError as exc:
            print(f"| {name} | failed: {exc.stderr.strip().splitlines()[-1] if exc.stderr else exc.returncode} | - | - | - | - | - | - | - |")
            continue
        r = json.loads(out.strip().splitlines()[-1])
        score = "-" if r["fnc1"] is None else f"{100 * r['fnc1']:.2f}%"
        f1 = "-" if r["macro_f1"] is None else f"{r['macro_f1']:.4f}"
        print(f"| {name} | {r['train_s']:.1f} | {r['predict_s']:.1f} | {r['train_s'] + r['predict_s']:.1f} | "
              f"{r['save_s']:.1f} | {r['model_mb']:.1f} | {r['peak_mb']:.0f} | {score} | {f1} |", flush=True)
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
