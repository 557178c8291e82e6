"""Benchmark: the baselines on real corpora you supply, through the tool's own chain, beside the published baselines.

Not a test, and no corpus is shipped (their licences do not allow it): give the files you have.

    .venv/bin/python benchmarks/real_corpora.py --semeval-train train.txt --semeval-test test.txt
    .venv/bin/python benchmarks/real_corpora.py --tweeteval-stance tweeteval/datasets/stance
    .venv/bin/python benchmarks/real_corpora.py --conll eng.train eng.testa eng.testb
    .venv/bin/python benchmarks/real_corpora.py --fnc1 fnc-1/                # train_* and competition_test_*

Each corpus goes the way a user takes it, with the ``dataset-builder`` commands in a scratch folder
(``--work``, default a temporary one): ``import-corpus --no-push`` of each official file pinned
to its split, ``split --articles``, ``build`` and ``benchmark`` (every default baseline of its
task, seed 0, the leaderboard's bootstrap CIs). It prints each command's last line and the
leaderboard, then the published baseline it is to be compared with, named:

* SemEval-2016 Task 6, Task A (five targets, the official test set): the organisers' SVM
  n-grams baseline, F_avg 68.98 (Mohammad et al., SemEval 2016), against ``per_target_svm``.
  ``--tweeteval-stance`` reads TweetEval's copy of it (``cardiffnlp/tweeteval``,
  ``datasets/stance/<target>/{train,val,test}_{text,labels}.txt``; train + val are SemEval's
  training data, 2,914 tweets, test its 1,249 test tweets, labels 0 none, 1 against, 2 favor). That
  copy replaced every user mention with ``@user``, so its scores are not quite SemEval's.
* CoNLL-2003 English (train, testa as validation, testb as test): the CRF goal of issue 17,
  entity micro F1 84.0 (conlleval), against ``crf``. Files of ``token ... tag`` lines, IOB1 or
  IOB2, with or without ``-DOCSTART-`` and the POS and chunk columns.
* FNC-1 (``train_stances.csv`` + ``train_bodies.csv``, ``competition_test_*``): the official
  baseline's relative score, 75.20%, against ``pair_relation``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "dataset_builder.cli"]

TWEETEVAL_TARGETS = {"abortion": "Legalization of Abortion", "atheism": "Atheism",
                     "climate": "Climate Change is a Real Concern", "feminist": "Feminist Movement",
                     "hillary": "Hillary Clinton"}
TWEETEVAL_STANCE = {"0": "NONE", "1": "AGAINST", "2": "FAVOR"}
PUBLISHED = {
    "semeval2016": ("f_avg", "per_target_svm", 0.6898, "SemEval-2016 Task 6 organisers' SVM n-grams baseline, F_avg"),
    "conll": ("micro_f1", "crf", 0.840, "issue 17's CRF goal on CoNLL-2003 testb, entity micro F1"),
    "fnc1": ("fnc1", "pair_relation", 0.7520, "FNC-1 official baseline on the competition test, relative score"),
}


def run(args: list[str], cwd: Path) -> str:
    """One ``dataset-builder`` command; prints its summary line (the last but a "wrote ..." one), or exits with its error."""
    started = time.perf_counter()
    done = subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"dataset-builder {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    lines = [x for x in (done.stdout + done.stderr).splitlines() if x.strip() and not x.startswith("wrote ")]
    print(f"  [{time.perf_counter() - started:6.1f} s] dataset-builder {args[0]}: {lines[-1] if lines else ''}", flush=True)
    return done.stdout


def tweeteval_to_semeval(root: Path, out: Path) -> tuple[Path, Path]:
    """TweetEval's stance folders -> SemEval-2016 TSV files (``ID<TAB>Target<TAB>Tweet<TAB>Stance``)."""
    written = []
    for name, parts, first_id in (("train", ("train", "val"), 10001), ("test", ("test",), 1)):
        lines = ["ID\tTarget\tTweet\tStance"]
        for folder, target in TWEETEVAL_TARGETS.items():
            for part in parts:
                texts = (root / folder / f"{part}_text.txt").read_text(encoding="utf-8").splitlines()
                labels = (root / folder / f"{part}_labels.txt").read_text(encoding="utf-8").split()
                if len(texts) != len(labels):
                    sys.exit(f"{root / folder}: {part}_text.txt has {len(texts)} lines, {part}_labels.txt {len(labels)}")
                for text, label in zip(texts, labels):
                    lines.append(f"{first_id + len(lines) - 1}\t{target}\t{text.strip()}\t{TWEETEVAL_STANCE[label]}")
        path = out / f"semeval2016-{name}.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        written.append(path)
    return written[0], written[1]


def chain(fmt: str, files: list[tuple[Path, str | None]], config: str, task_config: str, work: Path,
          options: tuple[str, ...] = ()) -> dict:
    """import (each file pinned to its split, with ``options``) -> split -> build -> benchmark; the results.json."""
    work.mkdir(parents=True, exist_ok=True)
    for i, (path, split) in enumerate(files):
        pin = ["--split", split] if split else []
        run(["import-corpus", fmt, str(path.absolute()), "--no-push", *pin, *options, "--id-prefix", f"{fmt}-{i}",
             "-o", f"in/{i}"], work)
    for name in ("gold", "articles"):
        with open(work / f"{name}.jsonl", "w", encoding="utf-8") as out:
            for i in range(len(files)):
                out.write((work / "in" / str(i) / f"{name}.jsonl").read_text(encoding="utf-8"))
    run(["split", "gold.jsonl", "--articles", "articles.jsonl", "--out", "splits"], work)
    run(["build", "gold.jsonl", "--config", config, "--splits", "splits/manifest.json", "-o", "dataset",
         "--license", "other"], work)
    run(["benchmark", "dataset", "-o", "results", "--config", task_config], work)
    print((work / "results" / "leaderboard.md").read_text(encoding="utf-8"))
    return json.loads((work / "results" / "results.json").read_text(encoding="utf-8"))


def compare(corpus: str, results: dict, task_config: str) -> None:
    """One line: our baseline's primary score and CI beside the published one."""
    metric, baseline, published, what = PUBLISHED[corpus]
    ours = next((e for e in results["baselines"] if e["config"] == task_config and e["baseline"] == baseline), None)
    if ours is None or ours["score"] is None:
        print(f"{corpus}: {baseline} has no score")
        return
    if ours["primary_metric"] != metric:
        print(f"{corpus}: {baseline} is ranked by {ours['primary_metric']}, not {metric}")
    lo, hi = ours["ci"] or (None, None)
    ci = f" (95% CI {lo:.4f} to {hi:.4f})" if lo is not None else ""
    verdict = "reaches" if ours["score"] >= published else "is below"
    print(f"{corpus}: {baseline} {ours['primary_metric']} {ours['score']:.4f}{ci} {verdict} the {what}, {published:.4f}\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n", 2)[2])
    ap.add_argument("--semeval-train", type=Path, help="SemEval-2016 Task 6 training data (TSV)")
    ap.add_argument("--semeval-test", type=Path, help="SemEval-2016 Task 6 gold test data (TSV)")
    ap.add_argument("--tweeteval-stance", type=Path, help="TweetEval's datasets/stance folder (instead of the two above)")
    ap.add_argument("--conll", type=Path, nargs=3, metavar=("TRAIN", "TESTA", "TESTB"), help="CoNLL-2003 files")
    ap.add_argument("--conll-scheme", choices=("auto", "iob1", "iob2"), default="auto",
                    help="their tagging scheme (import-corpus --scheme; iob1 for a copy that mixes the two)")
    ap.add_argument("--fnc1", type=Path, help="folder with FNC-1's train_* and competition_test_* CSV files")
    ap.add_argument("--work", type=Path, help="scratch folder (default: a temporary one, removed afterwards)")
    args = ap.parse_args()
    if not (args.semeval_train or args.tweeteval_stance or args.conll or args.fnc1):
        ap.error("give at least one corpus")
    with tempfile.TemporaryDirectory() as tmp:
        work = (args.work or Path(tmp)).resolve()
        if args.tweeteval_stance:
            work.mkdir(parents=True, exist_ok=True)
            args.semeval_train, args.semeval_test = tweeteval_to_semeval(args.tweeteval_stance, work)
        if args.semeval_train:
            if not args.semeval_test:
                ap.error("--semeval-train needs --semeval-test")
            print("SemEval-2016 Task 6, Task A")
            results = chain("semeval2016", [(args.semeval_train, "train"), (args.semeval_test, "test")],
                            "given_target_stance", "stance", work / "semeval2016")
            compare("semeval2016", results, "stance")
        if args.conll:
            print("CoNLL-2003 English")
            results = chain("conll", list(zip(args.conll, ("train", "validation", "test"))), "entities", "ner",
                            work / "conll", ("--scheme", args.conll_scheme))
            compare("conll", results, "ner")
        if args.fnc1:
            print("FNC-1")
            results = chain("fnc1", [(args.fnc1 / "train_stances.csv", None),
                                     (args.fnc1 / "competition_test_stances.csv", None)],
                            "headline_stance", "stance", work / "fnc1")
            compare("fnc1", results, "stance")


if __name__ == "__main__":
    main()
