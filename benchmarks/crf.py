"""Benchmark: the ``crf`` NER baseline against the first CRF, on the same data in the same run.

Not a test: it prints a table. Run it with

    nice -n 10 .venv/bin/python benchmarks/crf.py              # CoNLL-2003 sizes, a few minutes
    nice -n 10 .venv/bin/python benchmarks/crf.py --scale 0.2  # quicker
    .venv/bin/python benchmarks/crf.py --conll DIR             # DIR/eng.train, eng.testa, eng.testb
    nice -n 10 .venv/bin/python benchmarks/crf.py --bio        # also the crf baseline trained on BIO tags

Each model runs in its own child process (so its peak memory is its own): featurising, training
(for the new CRF: :func:`~dataset_builder.baselines.tune_crf`, i.e. one search fit per (c1, c2) of
``CRF_GRID`` on every third training sentence with the looser ``CRF_SEARCH_STOPPING``, in one worker
process per CPU, then the best refitted on all of train until ``CRF_STOPPING`` holds, every fit on the
BIOES tags of the data, ``CRF_TAG_ENCODING``, its predictions converted back to BIO) and tagging the
test split (the first CRF trains on the BIO tags as given; ``--bio`` adds the new CRF trained so too). Printed per model: entity micro F1 and token accuracy as ``conlleval`` prints them
(:func:`dataset_builder.scoring.ner.conlleval_lines`), wall and CPU time, peak resident memory (the
child's own plus, for the grid workers that run at the same time, the largest worker's peak each: an
upper bound of the sum) and, apart (not in the wall time), the time to featurise the training split.

The data. Without ``--conll`` (no CoNLL-2003 ships with the tool, and no public English NER corpus
can be had from the package registries; figures on a copy of it are in ``docs/scoring.md``), a synthetic corpus of the CoNLL-2003
English sizes (14,041 / 3,250 / 3,453 sentences) from a fixed seed: news and sports sentences
from templates with filler words (real English: the lower-case words of the GNU texts of
``benchmarks/data/sentence_dev.jsonl``, as often as they occur there), names made of syllables
(:data:`UNSEEN`, 40 %, of the validation's and of the test's names unseen in training, each from
its own part of the pool), and what makes real news NER hard: a city that is a location in "in
Leston" and an organisation (its club) in sports results, as a country is its national team;
surnames that are also place names and company names; nationalities (MISC) beside countries (LOC);
long ORG names ("Ministry of Trade", "University of <city>", "<A> <B> Holdings", "National Bank of
<country>", "<city> United"); titles ("President", "Mr") before names and days and months, capitalised
but no entity; 30 % of the entities without their usual cue word; ALL-CAPS headlines (8 %) and
all-lower-case sentences (3 %); capitalised sentence starts, dates and scores, and 1 % of sentences
with their entities left untagged (annotation noise). Its F1 is not CoNLL's; it says whether the
method beats the old one and what it costs in time and memory at that size.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEV_TEXT = REPO / "benchmarks" / "data" / "sentence_dev.jsonl"
_LOWER_WORD = re.compile(r"\b[a-z]{2,}\b")
SIZES = {"train": 14041, "validation": 3250, "test": 3453}  # CoNLL-2003 English sentences
_ONSETS = "b br c ch d dr f g gr h j k l m n p pr r s st t tr v w z".split()
_VOWELS = "a e i o u ai ei ou ia".split()
_CODAS = ["", "", "n", "r", "s", "l", "m", "t", "nd", "rk", "sk"]
DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
MONTHS = "January February March April May June July August September October November December".split()
TITLES = "President Minister Coach Chairman Senator Judge Dr Mr Mrs General Prince".split()  # O, as in CoNLL
ORG_HEADS = "Ministry Council Party Union Commission Agency Federation Association Committee Institute".split()
TOPICS = "Defence Finance Health Labour Trade Energy Justice Agriculture Transport Culture".split()
UNSEEN = 0.4  # share of the validation's and the test's names drawn from a part of the pool training never sees


def _word(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables))


def _pool(rng: random.Random, n: int, lo: int, hi: int, suffixes: tuple[str, ...] = ("",)) -> list[str]:
    out = set()
    while len(out) < n:
        out.add((_word(rng, rng.randint(lo, hi)) + rng.choice(suffixes)).capitalize())
    return sorted(out)


class Generator:
    """Deterministic synthetic CoNLL-style sentences (see the module docstring)."""

    def __init__(self, seed: int = 2003):
        rng = self.rng = random.Random(seed)
        self.first = _pool(rng, 2500, 1, 3)
        self.last = _pool(rng, 4000, 2, 3, ("", "son", "er", "ov", "ez", "i"))
        self.cities = _pool(rng, 1500, 1, 3, ("", "ton", "burg", "ville", "ia", "o"))
        self.countries = _pool(rng, 150, 2, 3, ("ia", "land", "stan", "a"))
        self.nationality = {c: c.rstrip("a") + rng.choice(("ian", "ese", "ish", "i")) for c in self.countries}
        self.companies = _pool(rng, 1500, 1, 3)
        self.acronyms = sorted({"".join(rng.choice("ABCDEFGHIKLMNPRSTUW") for _ in range(rng.randint(2, 4))) for _ in range(300)})
        self.events = _pool(rng, 200, 1, 2)
        # Filler: real English, the lower-case words of the GNU texts in benchmarks/data/sentence_dev.jsonl
        # drawn as often as they occur there (a running text's word frequencies).
        self.running = [w for line in DEV_TEXT.read_text(encoding="utf-8").splitlines()
                        for w in _LOWER_WORD.findall(json.loads(line)["text"])]
        # Surnames that are also place names (PER and LOC), companies named after people (PER and ORG).
        self.last += self.cities[:150]
        self.companies += self.last[:300]

    def _unseen(self, pool: list[str], split: str) -> str:
        """A name of ``pool`` for ``split``: train draws from the first two thirds (frequent names
        often); validation and test, like CoNLL's later dev and test months, draw :data:`UNSEEN` of
        their names from a part of the pool of their own that training never sees."""
        rng = self.rng
        k = (2 * len(pool)) // 3
        if split != "train" and rng.random() < UNSEEN:
            rest = pool[k:]
            half = len(rest) // 2
            own = rest[:half] if split == "validation" else rest[half:]
            return own[rng.randrange(len(own))]
        return pool[min(int(rng.paretovariate(0.9)) - 1, k - 1) if rng.random() < 0.4 else rng.randrange(k)]

    def _filler(self, n: int) -> list[tuple[str, str]]:
        rng = self.rng
        return [(self.running[rng.randrange(len(self.running))], "O") for _ in range(n)]

    def _long_org(self, split: str) -> list[str]:
        """A multi-token ORG name: "Ministry of Trade", "University of <city>", "<company> <company>
        Holdings", "National Bank of <country>", "<city> United"."""
        rng, u = self.rng, self._unseen
        r = rng.random()
        if r < 0.25:
            return [rng.choice(ORG_HEADS), "of", rng.choice(TOPICS)]
        if r < 0.45:
            return ["University", "of", u(self.cities, split)]
        if r < 0.65:
            return [u(self.companies, split), u(self.companies, split), rng.choice(("Holdings", "International", "Group"))]
        if r < 0.8:
            return ["National", rng.choice(("Bank", "Union", "Party")), "of", u(self.countries, split)]
        return [u(self.cities, split), rng.choice(("United", "City", "Rovers", "Athletic", "FC"))]

    def _entity(self, kind: str, split: str) -> list[tuple[str, str]]:
        rng = self.rng
        if kind == "ORG" and rng.random() < 0.35:
            words = self._long_org(split)
        elif kind == "PER":
            words = ([self._unseen(self.first, split)] if rng.random() < 0.7 else []) + [self._unseen(self.last, split)]
        elif kind == "LOC":
            words = [self._unseen(self.cities if rng.random() < 0.7 else self.countries, split)]
            if rng.random() < 0.05:
                words = ["New"] + words
        elif kind == "ORG":
            r = rng.random()
            if r < 0.35:
                words = [self._unseen(self.companies, split), rng.choice(("Corp", "Inc", "Group", "Bank", "Airlines"))]
            elif r < 0.5:
                words = ["Bank", "of", self._unseen(self.countries, split)]
            elif r < 0.75:
                words = [rng.choice(self.acronyms)]
            else:
                words = [self._unseen(self.companies, split)]
        else:  # MISC
            r = rng.random()
            words = [self.nationality[self._unseen(self.countries, split)]] if r < 0.7 else [self._unseen(self.events, split), rng.choice(("Open", "Cup", "Games"))]
        return [(w, ("B-" if i == 0 else "I-") + kind) for i, w in enumerate(words)]

    def sentence(self, split: str) -> tuple[list[str], list[str]]:
        rng = self.rng
        e = self._entity
        r = rng.random()
        if r < 0.18:  # sports result: a city or a country is its team (ORG)
            pool = self.cities if rng.random() < 0.7 else self.countries
            a, b = self._unseen(pool, split), self._unseen(pool, split)
            parts = [(a, "B-ORG"), (str(rng.randint(0, 5)), "O"), (b, "B-ORG"), (str(rng.randint(0, 5)), "O")]
            if rng.random() < 0.5:
                parts += [("(", "O")] + e("PER", split) + [(f"{rng.randint(1, 90)}", "O"), (")", "O")]
        elif r < 0.28:  # dateline
            parts = [(self._unseen(self.cities, split).upper(), "B-LOC"), (f"1996-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", "O")]
        else:
            parts = []
            for _ in range(rng.randint(1, 3)):
                kind = rng.choice(("PER", "PER", "LOC", "LOC", "ORG", "ORG", "MISC"))
                lead = {"PER": ["said", "told", "met", "and"], "LOC": ["in", "to", "from", "near", "and"],
                        "ORG": ["shares", "said", "and", "of"], "MISC": ["the", "a", "and"]}[kind]
                chunk = e(kind, split)
                if kind == "PER" and rng.random() < 0.2:
                    chunk = [(rng.choice(TITLES), "O")] + chunk  # a title is not part of the name
                cue = rng.random() < 0.7  # 30 % of the entities without their usual cue word
                if rng.random() < 0.15:
                    parts.append((rng.choice(DAYS + MONTHS), "O"))  # capitalised, and no entity
                if kind == "LOC" or (kind == "MISC" and rng.random() < 0.5):
                    filler = self._filler(rng.randint(1, 5))
                    parts += filler + ([(rng.choice(lead), "O")] if cue else []) + chunk
                else:
                    filler = self._filler(rng.randint(0, 4))
                    parts += filler + chunk + ([(rng.choice(lead), "O")] if cue else [])
            parts += self._filler(rng.randint(2, 8)) + [(".", "O")]
        if rng.random() < 0.01:
            parts = [(w, "O") for w, _ in parts]  # an annotator missed the entities
        words = [w for w, _ in parts]
        tags = [t for _, t in parts]
        case = rng.random()
        if case < 0.08:
            words = [w.upper() for w in words]  # a headline
        elif case < 0.11:
            words = [w.lower() for w in words]  # copy that lost its capitals
        elif words[0].islower():
            words[0] = words[0].capitalize()
        return words, tags

    def split(self, name: str, n: int) -> tuple[list[list[str]], list[list[str]]]:
        pairs = [self.sentence(name) for _ in range(n)]
        return [p[0] for p in pairs], [p[1] for p in pairs]


def read_conll(path: Path) -> tuple[list[list[str]], list[list[str]]]:
    """Word (first column) and tag (last column) sentences of a CoNLL file; ``-DOCSTART-`` skipped."""
    X, y, words, tags = [], [], [], []
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        cols = line.split()
        if not cols or cols[0] == "-DOCSTART-":
            if words:
                X.append(words)
                y.append(tags)
            words, tags = [], []
            continue
        words.append(cols[0])
        tags.append(cols[-1])
    return X, y


def load_data(args) -> dict[str, tuple[list[list[str]], list[list[str]]]]:
    if args.conll:
        root = Path(args.conll)
        return {"train": read_conll(root / "eng.train"), "validation": read_conll(root / "eng.testa"), "test": read_conll(root / "eng.testb")}
    gen = Generator(args.seed)
    return {name: gen.split(name, max(10, int(n * args.scale))) for name, n in SIZES.items()}


def run_one(which: str, args) -> dict:
    """Child process: train and score one model; returns its figures."""
    from dataset_builder.baselines import FEATURES_VERSION, TokenFeaturizer, crf_training, make_crf, tune_crf
    from dataset_builder.scoring import ner_report_from_tags
    from dataset_builder.scoring.ner import TagSet, conlleval_lines, ner_counts  # noqa: F401

    data = load_data(args)
    t0 = time.perf_counter()
    if which == "old":
        model = make_crf(0.05, 0.05, features=1, tag_encoding="bio").fit(*data["train"])
        tuning = {"c1": 0.05, "c2": 0.05, **crf_training(model)}
    else:
        model, tuning = tune_crf(data["train"], data["validation"], tag_encoding="bio" if which == "bio" else "bioes")
    predicted = [list(p) for p in model.predict(data["test"][0])]
    seconds = time.perf_counter() - t0
    gold = data["test"][1]
    labels = sorted({t for s in gold + predicted for t in s} | {"O"})
    report = ner_report_from_tags(gold, predicted, labels=labels)
    tokens = sum(map(len, gold))
    right = sum(g == p for gs, ps in zip(gold, predicted) for g, p in zip(gs, ps))
    import numpy as np

    types = TagSet.from_names(labels).types
    counts = np.array([[report["per_type"][t][k] for t in types] for k in ("n_correct", "n_pred", "n_gold")])
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    workers = 1 if kids.ru_maxrss == 0 else min(len(tuning.get("grid", ())) or 1, len(os.sched_getaffinity(0)))
    t1 = time.perf_counter()  # featurising alone, after the peak was read (it is part of the fits above)
    TokenFeaturizer(version=1 if which == "old" else FEATURES_VERSION).fit(data["train"][0]).transform(data["train"][0])
    featurise = time.perf_counter() - t1
    return {
        "featurise_seconds": featurise,
        "f1": report["micro"]["f1"],
        "accuracy": right / tokens,
        "conlleval": conlleval_lines(counts, types, tokens, right)[:2],
        "seconds": seconds,
        "cpu_seconds": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
        # this process plus, at the same time, at most `workers` grid workers of the largest size seen
        "peak_mb": (me.ru_maxrss + (workers if kids.ru_maxrss else 0) * kids.ru_maxrss) / 1024,
        "workers": workers,
        "tuning": tuning,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="share of the CoNLL-2003 sizes for the synthetic data")
    parser.add_argument("--seed", type=int, default=2003)
    parser.add_argument("--conll", help="a folder with eng.train, eng.testa, eng.testb (instead of synthetic data)")
    parser.add_argument("--bio", action="store_true", help="also run the crf baseline trained on the BIO tags as given")
    parser.add_argument("--child", choices=("old", "bio", "new"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_one(args.child, args)))
        return 0
    data = load_data(args)
    source = f"CoNLL files in {args.conll}" if args.conll else f"synthetic, seed {args.seed}, scale {args.scale}"
    print(f"data: {source}; " + ", ".join(f"{k} {len(v[0]):,} sentences / {sum(map(len, v[0])):,} tokens" for k, v in data.items()))
    print(f"load average at the start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    rows = {}
    for which in ("old", "bio", "new") if args.bio else ("old", "new"):
        cmd = [sys.executable, __file__, "--child", which, "--scale", str(args.scale), "--seed", str(args.seed)]
        if args.conll:
            cmd += ["--conll", args.conll]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            sys.exit(done.stderr)
        out = done.stdout
        rows[which] = json.loads(out.strip().splitlines()[-1])
    names = {"old": "first CRF (v1 features, c1=c2=0.05, 100 iterations)",
             "bio": "crf baseline trained on BIO tags (v4 features, c1/c2 searched on validation, final fit to convergence)",
             "new": "crf baseline (BIOES tags, v4 features: v3 + gazetteer, c1/c2 searched on validation, final fit to convergence)"}
    print("\n| model | entity F1 | token accuracy | wall (s) | CPU (s) | processes | peak RSS (MB) | featurise train (s) | c1 | c2 | iterations | stopped |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for which, r in rows.items():
        t = r["tuning"]
        print(f"| {names[which]} | {100 * r['f1']:.2f} | {100 * r['accuracy']:.2f} | {r['seconds']:.1f} | {r['cpu_seconds']:.1f} | "
              f"{1 + (r['workers'] if r['workers'] > 1 else 0)} | {r['peak_mb']:.0f} | {r['featurise_seconds']:.1f} | {t['c1']} | {t['c2']} | "
              f"{t['iterations']} | {t['stopped']} |")
    for which, r in rows.items():
        print(f"\n{names[which]}, as conlleval prints it:\n  " + "\n  ".join(r["conlleval"]))
        search = r["tuning"].get("search")
        if search:
            print(f"  search on {search['sentences']:,} of {search['of']:,} training sentences, penalties scaled by that share, delta {search['delta']}:")
        for g in r["tuning"].get("grid", ()):
            print(f"  grid c1={g['c1']} c2={g['c2']}: validation F1 {100 * g['validation_f1']:.2f}, {g['iterations']} iterations, {g['stopped']}")
    new = rows["new"]
    print(f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (wall time grows with other work)")
    print("the issue's goal, >= 84.0 entity F1 on the CoNLL-2003 English test, can only be checked with --conll")
    print(f"\ngoal on this data (time < 300 s, peak < 2048 MB, F1 above the first CRF): time {new['seconds']:.0f} s, "
          f"peak {new['peak_mb']:.0f} MB, F1 {100 * new['f1']:.2f} vs {100 * rows['old']['f1']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
