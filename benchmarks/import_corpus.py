"""Benchmark: import a CoNLL-2003-train-sized corpus as gold annotations into Label Studio.

Run: ``python benchmarks/import_corpus.py [--sentences 14041] [--batch-size 5000] [--sample 300] [--no-check]``.
Starts its own Label Studio (``.venv-ls``, SQLite in a temporary folder, a free port) unless
``LABEL_STUDIO_URL``/``LABEL_STUDIO_API_KEY`` are set, and stops it at the end.

The corpus is generated, deterministically (``random.Random(0)``), in the shape of CoNLL-2003's
English training file: ~946 documents, 14,041 sentences, ~204,000 tokens, ~23,500 entity chunks
(PER/ORG/LOC/MISC), IOB1 tags like the original, 4 columns, some non-ASCII tokens.

Stages (what ``dataset-builder import-corpus conll FILE`` does, timed one by one; goal: the
three together < 60 s):

1. **parse** - ``read_conll``: decode, columns, IOB1/IOB2 detection, Article/Segment/Annotation records.
2. **records** - the push rows and label rows, and ``articles.jsonl``/``segments.jsonl``/
   ``annotations.jsonl`` written (``write_corpus``).
3. **push** - ``push_corpus``: user and project, task dicts, annotations carried inside the
   ``import_tasks`` requests; its line *of which Label Studio import* is the time spent inside
   those requests (the server's own import, seen from the client), the rest is our side.

Named alternative, same server, same run: **one annotation per API call** (tasks imported bare,
then ``annotations.create`` per task, as ``submit_export_annotations`` does), timed on
``--sample`` tasks and extrapolated linearly to the whole corpus (marked *est.*). Also shown as a
floor: one ``import_tasks`` call carrying the same tasks and annotations, built beforehand.

With the check (default), the project is pulled and normalised and the gold must equal the
corpus's spans exactly; these two stages are timed too, outside the 60 s goal.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

from dataset_builder import label_studio as ls
from dataset_builder.label_studio import push as ls_push
from dataset_builder.corpora import read_conll, write_corpus
from dataset_builder.normalise import normalise_export
from dataset_builder.schema import load_schema

FIRST = ("John", "Maria", "Peter", "Anna", "Wang", "Ahmed", "Olga", "José", "Ines", "Tomás", "Yuki", "Kofi")
LAST = ("Smith", "Müller", "Garcia", "Ivanov", "Kim", "Nguyen", "Rossi", "Dubois", "Okafor", "Larsen")
ORG = ("Reuters", "Lufthansa", "Rosneft", "UN", "EU", "Bundesbank", "Fiat", "Ajax", "Nasdaq", "Interfax", "Commission")
LOC = ("Bonn", "Zürich", "Caracas", "Moscow", "Paris", "Lagos", "Seoul", "Peru", "São", "Paulo", "Kenya", "Texas")
MISC = ("German", "British", "Russian", "Olympic", "Euro", "Islamic", "Dutch", "French", "World", "Cup")
WORDS = ("the", "said", "on", "in", "a", "of", "to", "and", "was", "after", "talks", "market", "percent", "shares",
         "government", "minister", "would", "new", "week", "year", "president", "police", "match", "first", "two",
         "told", "by", "at", "for", "with", "from", "its", "results", "won", "lost", "points", "1-0", "3.5", "1996")
PUNCT = (",", ".", "(", ")", "\"", "-", ":")


def generate_conll(path: Path, sentences: int, seed: int = 0) -> dict[str, int]:
    """Write a CoNLL-2003-like IOB1 file; returns its counts."""
    rng = random.Random(seed)
    lines: list[str] = []
    docs = tokens = chunks = 0
    s = 0
    while s < sentences:
        docs += 1
        lines += ["-DOCSTART- -X- -X- O", ""]
        for _ in range(min(rng.randint(5, 25), sentences - s)):
            s += 1
            prev = None
            n_target = rng.randint(6, 22)
            sent: list[tuple[str, str]] = []
            while len(sent) < n_target:
                if rng.random() < 0.12:
                    typ = rng.choices(("PER", "ORG", "LOC", "MISC"), weights=(28, 27, 30, 15))[0]
                    pool = {"PER": FIRST + LAST, "ORG": ORG, "LOC": LOC, "MISC": MISC}[typ]
                    toks = [rng.choice(pool) for _ in range(rng.choices((1, 2, 3), weights=(60, 32, 8))[0])]
                    for k, tok in enumerate(toks):
                        sent.append((tok, f"{'B' if k == 0 and prev == typ else 'I'}-{typ}"))
                    chunks += 1
                    prev = typ
                else:
                    sent.append((rng.choice(WORDS) if rng.random() < 0.85 else rng.choice(PUNCT), "O"))
                    prev = None
            sent.append((".", "O"))
            tokens += len(sent)
            lines += [f"{tok} NN I-NP {tag}" for tok, tag in sent] + [""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"documents": docs, "sentences": s, "tokens": tokens, "chunks": chunks}


def _start(tmp: Path):
    if os.environ.get("LABEL_STUDIO_URL") and os.environ.get("LABEL_STUDIO_API_KEY"):
        return ls.resolve_connection(env=os.environ), None
    t0 = time.perf_counter()
    server = ls.start_server(tmp / "ls-data", port=0, timeout=300.0, stop_with_pid=os.getpid())
    print(f"started Label Studio at {server.url} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return server.connection(), server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=14_041)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--sample", type=int, default=300, help="tasks for the one-call-per-annotation alternative")
    parser.add_argument("--no-check", action="store_true", help="skip pull + normalise + comparison")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-import-"))
    path = tmp / "eng.train.synthetic"
    shape = generate_conll(path, args.sentences)
    schema = load_schema("entities")
    conn, server = _start(tmp)
    stamp = int(time.time())
    rows: dict[str, tuple[float, str]] = {}
    try:
        t0 = time.perf_counter()
        corpus = read_conll(path, schema)
        rows["parse"] = (time.perf_counter() - t0, "read_conll -> Article/Segment/Annotation records")

        t0 = time.perf_counter()
        seg_rows = corpus.segment_rows()
        labels = {r["segment_id"]: r for r in corpus.label_rows()}
        write_corpus(corpus, tmp / "out")
        rows["records"] = (time.perf_counter() - t0, "push rows + label rows + 3 JSONL files written")

        # time spent inside import_tasks requests: Label Studio's own import, seen from the client
        # (push_corpus imports through dataset_builder.label_studio.push, which owns _import_batch)
        inside = [0.0]
        original = ls_push._import_batch

        def timed(*a, **k):
            t = time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                inside[0] += time.perf_counter() - t

        ls_push._import_batch = timed
        try:
            t0 = time.perf_counter()
            pushed = ls.push_corpus(conn, seg_rows, labels, schema, project_title=f"bench corpus {stamp}",
                                    annotator="conll2003-gold@localhost", batch_size=args.batch_size)
            push_s = time.perf_counter() - t0
        finally:
            ls_push._import_batch = original
        assert pushed.push.imported == len(seg_rows) and pushed.with_new_tasks == len(seg_rows), pushed.to_dict()
        rows["push"] = (push_s, f"push_corpus, {len(seg_rows):,} tasks with annotations, batches of {args.batch_size}")
        rows["push: of which Label Studio import"] = (inside[0], "time inside the import_tasks requests")
        rows["push: of which ours"] = (push_s - inside[0], "users, project, task dicts, existence check")

        # named alternative on a sample: bare tasks, then one annotations.create call per task
        sample = seg_rows[: args.sample]
        t0 = time.perf_counter()
        ls.push_segments(conn, sample, schema, project_title=f"bench per-call {stamp}")
        tasks = {t["data"]["segment_id"]: t["id"] for t in ls.list_task_data(conn, f"bench per-call {stamp}")}
        uid = ls.ensure_users(conn, ["conll2003-gold@localhost"])["conll2003-gold@localhost"]
        for row in sample:
            result = ls.prediction_result(schema, row["id"], row["text"], labels[row["id"]])
            ls.submit_annotation(conn, tasks[row["id"]], result, completed_by=uid)
        per_call = (time.perf_counter() - t0) * len(seg_rows) / len(sample)

        # floor: the same payload in one import_tasks call, built beforehand
        payload = [{"data": ls.task_data(schema, corpus.segments[i], r),
                    "annotations": [{"result": ls.prediction_result(schema, r["id"], r["text"], labels[r["id"]]),
                                     "completed_by": uid, "ground_truth": True}]} for i, r in enumerate(seg_rows)]
        t0 = time.perf_counter()
        ls.raw_import(conn, f"bench raw {stamp}", schema, payload)
        raw_s = time.perf_counter() - t0

        check = {}
        if not args.no_check:
            t0 = time.perf_counter()
            pulled = ls.pull_export(conn, f"bench corpus {stamp}", out_dir=tmp / "exports")
            check["pull"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            normalise_export(pulled.export_path, schema, tmp / "norm")
            check["normalise"] = time.perf_counter() - t0
            gold = {}
            with (tmp / "norm" / "gold.jsonl").open(encoding="utf-8") as fh:
                for line in fh:
                    g = json.loads(line)
                    gold[g["segment_id"]] = g["entities"]
            want = {a.segment_id: [e.to_dict() for e in a.entities] for a in corpus.annotations}
            check["equal"] = gold == want
    finally:
        if server is not None:
            ls.stop_server(server.data_dir)

    total = rows["parse"][0] + rows["records"][0] + rows["push"][0]
    r = corpus.report
    print(f"\nimport of a generated CoNLL-2003-train-sized file: {shape['documents']:,} documents, "
          f"{shape['sentences']:,} sentences, {shape['tokens']:,} tokens, {shape['chunks']:,} entity chunks "
          f"({r.labels_kept:,} spans read back); {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} CPU(s)\n")
    print(f"| {'stage':<36} | {'seconds':>8} | what |")
    print(f"|{'-' * 38}|{'-' * 10}|------|")
    for name, (sec, what) in rows.items():
        print(f"| {name:<36} | {sec:8.2f} | {what} |")
    print(f"| {'total (parse + records + push)':<36} | {total:8.2f} | goal < 60 s: {'met' if total < 60 else 'NOT met'} |")
    print(f"| {'alternative: one call per annotation':<36} | {per_call:8.1f} | est. from {len(sample)} tasks "
          f"x {len(seg_rows) / len(sample):.1f}; push of bare tasks included |")
    print(f"| {'floor: one import_tasks, prebuilt':<36} | {raw_s:8.2f} | same tasks and annotations, one request |")
    for name in ("pull", "normalise"):
        if name in check:
            print(f"| {'check: ' + name:<36} | {check[name]:8.2f} | outside the goal |")
    if check:
        print(f"\ngold after pull + normalise equals the corpus spans: {check['equal']}")
    print(f"push (ours) vs one call per annotation (est.): {per_call / rows['push'][0]:.0f}x faster; "
          f"vs the one-request floor: {rows['push'][0] / raw_s:.2f}x")
    return 0 if (not check or check["equal"]) else 1


if __name__ == "__main__":
    sys.exit(main())
