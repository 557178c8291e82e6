"""Benchmark: settings of ``per_target_svm`` by cross-validation on a SemEval-2016 training file, against its defaults.

Not a test: it prints a table. Run it on SemEval-2016 Task 6's training data (never its test
data: this is how the settings are chosen, and the test set is scored once, afterwards):

    .venv/bin/python benchmarks/per_target_cv.py semeval2016-train.txt

(``benchmarks/real_corpora.py --tweeteval-stance DIR --work W`` writes TweetEval's copy as
``W/semeval2016-train.txt``.) The file is read by the tool's own reader (``read_semeval2016``);
each tweet is a ``(target, tweet, given)`` row, as ``benchmark`` gives the baseline. Folds: 5,
stratified by target and label, repeated 3 times with other shuffles (seeds 0, 1, 2). Printed per
variant: the out-of-fold F_avg over all targets (SemEval's measure: mean F1 of favor and
against) of each repeat, their mean, the mean accuracy, and wall time. The spread between repeats
says how large a difference has to be to mean something.

The variants, against the default (``PerTargetSVM()``: sublinear TF-IDF of word 1-3 and char 2-5
grams, ``LinearSVC(C=1)``):

* C = 0.1, 0.3, 3: the same features;
* n-gram presence (0/1) instead of TF-IDF, L2-normalised or raw, over a grid of C (the
  organisers' paper speaks of presence features);
* C chosen per target by an inner 5-fold grid search (accuracy), the organisers' protocol.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dataset_builder.baselines import pairs  # noqa: E402
from dataset_builder.corpora.semeval import read_semeval2016  # noqa: E402


class _Presence:
    """A block's transform: 0/1 presence of each kept n-gram, L2-normalised or not."""

    def __init__(self, norm: bool) -> None:
        self.norm = norm

    def transform(self, counts):
        from sklearn.preprocessing import normalize

        present = counts.copy()
        present.data[:] = 1.0
        return normalize(present) if self.norm else present


class Variant(pairs.PerTargetSVM):
    """``PerTargetSVM`` with another C, presence features, or C searched per target."""

    def __init__(self, C: float = 1.0, presence: str | None = None, search: tuple[float, ...] = ()) -> None:
        super().__init__(seed=0)
        self.C, self.presence, self.search = C, presence, search

    def _fit_blocks(self, counts, repeats):
        blocks = super()._fit_blocks(counts, repeats)
        if self.presence:
            blocks = [(cols, _Presence(self.presence == "l2")) for cols, _ in blocks]
        return blocks

    def _fit_svm(self, X, labels, weight):
        from sklearn.model_selection import GridSearchCV, StratifiedKFold
        from sklearn.svm import LinearSVC

        svm = LinearSVC(C=self.C, dual="auto", random_state=0)
        if self.search and weight is None:
            return GridSearchCV(svm, {"C": list(self.search)}, cv=StratifiedKFold(5, shuffle=True, random_state=0),
                                scoring="accuracy").fit(X, labels).best_estimator_
        return svm.fit(X, labels, sample_weight=weight)


def rows(path: Path) -> tuple[list[tuple[str, str, bool]], np.ndarray]:
    corpus = read_semeval2016(path)
    X = [(r["target"], r["text"], True) for r in corpus.segment_rows()]
    y = np.array([a.stances[0].label for a in corpus.annotations])
    return X, y


def out_of_fold(model_of, X, y, repeats: int = 3) -> tuple[list[float], float, float]:
    """F_avg of each repeat's out-of-fold predictions, the mean accuracy, and the seconds taken."""
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold

    started = time.perf_counter()
    strata = np.array([f"{x[0]}|{label}" for x, label in zip(X, y)])
    f_avgs, accuracies = [], []
    for seed in range(repeats):
        pred = np.empty(len(y), dtype=object)
        for train, test in StratifiedKFold(5, shuffle=True, random_state=seed).split(X, strata):
            model = model_of().fit([X[i] for i in train], y[train])
            pred[test] = model.predict([X[i] for i in test])
        f_avgs.append(f1_score(y, pred.astype(str), labels=["favor", "against"], average="macro"))
        accuracies.append(float((pred == y).mean()))
    return f_avgs, float(np.mean(accuracies)), time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("train", type=Path, help="SemEval-2016 Task 6 training data (ID, Target, Tweet, Stance TSV)")
    args = ap.parse_args()
    X, y = rows(args.train)
    print(f"{len(y)} training tweets, {len({x[0] for x in X})} targets; 5-fold out-of-fold scores\n")
    variants = [("default: sublinear TF-IDF, C = 1", pairs.PerTargetSVM)]
    variants += [(f"sublinear TF-IDF, C = {c}", lambda c=c: Variant(C=c)) for c in (0.3, 3.0)]
    variants += [(f"presence, L2-normalised, C = {c}", lambda c=c: Variant(C=c, presence="l2")) for c in (0.3, 1.0)]
    variants += [(f"presence, raw, C = {c}", lambda c=c: Variant(C=c, presence="raw")) for c in (0.001, 0.003, 0.01)]
    variants += [("C per target by inner 5-fold search, 0.1 to 3", lambda: Variant(search=(0.1, 0.3, 1.0, 3.0)))]
    print(f"| {'variant':<48} | F_avg per repeat | mean F_avg | mean accuracy | s |\n|---|---|---:|---:|---:|")
    for name, model_of in variants:
        f_avgs, accuracy, seconds = out_of_fold(model_of, X, y)
        each = " / ".join(f"{100 * f:.2f}" for f in f_avgs)
        print(f"| {name:<48} | {each} | {100 * np.mean(f_avgs):.2f} | {100 * accuracy:.2f} | {seconds:.0f} |", flush=True)

if __name__ == "__main__":
    main()
