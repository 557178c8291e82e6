"""Benchmark: feature and penalty variants of the ``crf`` baseline on a validation split, against version 3's features.

Not a test: it prints a table. For choosing features on real data without looking at its test:

    nice -n 10 .venv/bin/python benchmarks/crf_features.py --conll DIR      # DIR/eng.train, eng.testa
    nice -n 10 .venv/bin/python benchmarks/crf_features.py --scale 0.2      # synthetic (benchmarks/crf.py)

Every variant is fitted on all of train, with ``TagEncodingCRF`` on BIOES tags as the baseline
trains (c1 = 0.1, c2 = 0.05 unless the variant says otherwise, L-BFGS until ``CRF_STOPPING``),
and scored on validation only (entity micro F1, conlleval's rules). The test split is never read.
The variants add to the features of version 3 (``sentence_features(..., version=3)``, the
``crf`` baseline's until the gazetteer was added):

* ``gazetteer``: version 4, today's: the tokens of GeoNames place names (``place_names``);

* ``bigrams``: the lower-cased word bigrams with the previous and the next token;
* ``affix5``: prefixes and suffixes of 5 characters;
* ``cased window``: the word as written of each neighbour;
* ``window 3``: the lower-cased words 3 to the left and right;
* ``case class``: whether the word is mostly lower-case in the training text when it is not
  first in its sentence (outside all-caps headlines), for it and its neighbours, and with the
  sentence's first position and the headline flag;

and three other penalty pairs with the version 3 features.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from crf import Generator, SIZES, read_conll  # noqa: E402

from dataset_builder.baselines.ner import CRF_STOPPING, TagEncodingCRF, place_names, sentence_features  # noqa: E402
from dataset_builder.scoring import ner_report_from_tags  # noqa: E402


def base(tokens, _stats=None):
    return sentence_features(tokens, {}, version=3)


def gazetteer(tokens, _stats=None):
    return sentence_features(tokens, {}, version=4, places=place_names())


def bigrams(tokens, _stats=None):
    out = base(tokens)
    low = ["BOS"] + [t.lower() for t in tokens] + ["EOS"]
    for i, f in enumerate(out):
        f += [f"-1|0:w={low[i]}|{low[i + 1]}", f"0|+1:w={low[i + 1]}|{low[i + 2]}"]
    return out


def affix5(tokens, _stats=None):
    out = base(tokens)
    for t, f in zip(tokens, out):
        if len(t) >= 5:
            f += [f"p5={t.lower()[:5]}", f"s5={t.lower()[-5:]}"]
    return out


def neighbours(offsets: tuple[int, ...], cased: bool):
    def variant(tokens, _stats=None):
        out = base(tokens)
        for i, f in enumerate(out):
            for o in offsets:
                if 0 <= i + o < len(tokens):
                    word = tokens[i + o]
                    f.append(f"{o:+d}:W={word}" if cased else f"{o:+d}:w={word.lower()}")
        return out
    return variant


def case_stats(sentences) -> tuple[Counter, Counter]:
    """Per lower-cased word: how often it is all lower case, and capitalised when not first (headlines skipped)."""
    lower, capital = Counter(), Counter()
    for tokens in sentences:
        cased = [t for t in tokens if any(c.isalpha() for c in t)]
        if len(cased) > 1 and all(t.isupper() for t in cased):
            continue
        for i, t in enumerate(tokens):
            if t.islower():
                lower[t.lower()] += 1
            elif i > 0 and t[:1].isupper():
                capital[t.lower()] += 1
    return lower, capital


def case_class(tokens, stats):
    lower, capital = stats
    classes = []
    for t in tokens:
        lo, ca = lower[t.lower()], capital[t.lower()]
        ratio = ca / (lo + ca) if lo + ca >= 2 else None
        classes.append("rare" if ratio is None else "lower" if ratio < 0.1 else "cap" if ratio > 0.9 else "mixed")
    out = base(tokens)
    for i, f in enumerate(out):
        f.append("cc=" + classes[i])
        f += [f"{o:+d}:cc={classes[i + o]}" for o in (-1, 1) if 0 <= i + o < len(tokens)]
        if "allcaps" in f:
            f.append("allcaps|cc=" + classes[i])
        if i == 0:
            f.append("first|cc=" + classes[i])
    return out


VARIANTS = [("version 3 features", base, 0.1, 0.05), ("gazetteer (version 4, today's)", gazetteer, 0.1, 0.05),
            ("bigrams", bigrams, 0.1, 0.05),
            ("affix5", affix5, 0.1, 0.05), ("cased window", neighbours((-1, 1), True), 0.1, 0.05),
            ("window 3", neighbours((-3, 3), False), 0.1, 0.05), ("case class", case_class, 0.1, 0.05),
            ("version 3, c1 0.05 c2 0.1", base, 0.05, 0.1), ("version 3, c1 0.05 c2 0.2", base, 0.05, 0.2),
            ("version 3, c1 0.1 c2 0.1", base, 0.1, 0.1), ("gazetteer, c1 0.05 c2 0.1", gazetteer, 0.05, 0.1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--conll", type=Path, help="folder with eng.train and eng.testa (else synthetic data)")
    ap.add_argument("--scale", type=float, default=1.0, help="share of the CoNLL-2003 sizes for the synthetic data")
    args = ap.parse_args()
    if args.conll:
        (X, y), (vX, vy) = read_conll(args.conll / "eng.train"), read_conll(args.conll / "eng.testa")
    else:
        gen = Generator(2003)
        (X, y) = gen.split("train", max(10, int(SIZES["train"] * args.scale)))
        (vX, vy) = gen.split("validation", max(10, int(SIZES["validation"] * args.scale)))
    labels = sorted({t for s in y + vy for t in s} | {"O"})
    stats = case_stats(X)
    print(f"train {len(X)} sentences, validation {len(vX)}; validation entity micro F1\n")
    print("| variant | c1 | c2 | validation F1 | iterations | s |\n|---|---:|---:|---:|---:|---:|")
    for name, featurise, c1, c2 in VARIANTS:
        started = time.perf_counter()
        crf = TagEncodingCRF("bioes", algorithm="lbfgs", c1=c1, c2=c2, all_possible_transitions=True, **CRF_STOPPING)
        crf.fit([featurise(t, stats) for t in X], y)
        predicted = [list(p) for p in crf.predict([featurise(t, stats) for t in vX])]
        f1 = ner_report_from_tags(vy, predicted, labels=labels)["micro"]["f1"] or 0.0
        print(f"| {name} | {c1} | {c2} | {100 * f1:.2f} | {len(crf.training_log_.iterations)} | "
              f"{time.perf_counter() - started:.0f} |", flush=True)


if __name__ == "__main__":
    main()
