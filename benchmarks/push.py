"""Benchmark: push 20,000 segments with ``push_segments`` vs one raw ``import_tasks`` call.

Run: ``python benchmarks/push.py [--segments 20000] [--batch-size 1000] [--rounds 2]``.
Starts its own Label Studio (``.venv-ls``, SQLite in a temporary folder, a free port) unless
``LABEL_STUDIO_URL``/``LABEL_STUDIO_API_KEY`` are set, and stops it at the end. Prints one table.

Rows (same server, same run, same task dicts, each into a fresh project):

* ``raw: one import_tasks call`` - the named alternative: project creation plus one
  ``ls.projects.import_tasks`` request carrying all tasks, built in memory beforehand.
* ``ours: push_segments`` - what ``dataset-builder push segments.jsonl --config entities_stance``
  does: read and validate the JSONL file, build the tasks, find or create the project, check which
  segment ids exist, import in batches of ``--batch-size`` with retries.
* ``ours: push again (no-op)`` - the idempotent re-push on the same machine: reads the segment
  file, reads the project's stamp and the note on its newest task (one request), finds that the
  note vouches for these segments (else it would use the cached segment index), imports nothing.
* ``ours: push again, no cache`` - the same from a machine without the cache (the index cache is
  deleted first): the note on the project's newest task (read with the stamp) vouches that the
  project holds exactly these segments, so nothing is listed (listing costs Label Studio about as
  much per task as importing: 0.5-1 ms a task in its data manager).
* ``corpus: push_corpus`` / ``corpus: again (no-op)`` / ``corpus: again, no cache`` - the same three
  for ``import-corpus`` (tasks carrying one gold annotation each, annotations mode): its re-run also
  needs who annotated each task.

Goals: ours / raw < 1.2 (issue 4); no-op / first <= 1.0 for the same N, for push and for
push_corpus (issue 18, point 8). Rounds alternate raw and ours so that a growing database does not
favour either; the table shows the best and the median round of each, and the ratio of medians
(the machine may be shared: per-round ratios are printed too).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from dataset_builder import label_studio as ls
from dataset_builder.jsonl import write_jsonl
from dataset_builder.label_studio.index import CACHE_ENV
from dataset_builder.label_studio.tasks import with_context
from dataset_builder.records import Segment
from dataset_builder.schema import load_schema

WORDS = ("minister", "president", "government", "talks", "Moscow", "Caracas", "oil", "sanctions", "Rosneft",
         "Maduro", "Putin", "cooperation", "energy", "agency", "reported", "visit", "monument", "trade")


def synthetic_rows(n: int) -> list[dict]:
    """``n`` news-like segments, 20 per article, 120-200 characters, fixed content."""
    rows = []
    offset = 0
    for i in range(n):
        words = [WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(18 + i % 10)]
        text = f"Segment {i}: " + " ".join(words) + "."
        if i % 20 == 0:
            offset = 0
        seg = Segment(id=f"bench-{i:06d}", article_id=f"bench-a{i // 20:05d}", index=i % 20,
                      start=offset, end=offset + len(text), text=text)
        offset += len(text) + 1
        rows.append({**seg.to_dict(), "title": f"Article {i // 20}", "date": "2017-10-02"})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segments", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    schema = load_schema("entities_stance")
    rows = synthetic_rows(args.segments)
    tmp = Path(tempfile.mkdtemp(prefix="bench-push-"))
    seg_path = tmp / "segments.jsonl"
    write_jsonl(seg_path, rows)
    # the same tasks as push_segments builds: each with its neighbours' texts as context
    raw_tasks = [{"data": ls.task_data(schema, Segment.from_dict(r), r)} for r in with_context(rows)]

    started = None
    if os.environ.get("LABEL_STUDIO_URL") and os.environ.get("LABEL_STUDIO_API_KEY"):
        conn = ls.resolve_connection(env=os.environ)
    else:
        t0 = time.perf_counter()
        started = ls.start_server(tmp / "ls-data", port=0, timeout=300.0, stop_with_pid=os.getpid())
        print(f"started Label Studio at {started.url} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        conn = started.connection()

    cache = tmp / "index-cache"
    os.environ[CACHE_ENV] = str(cache)
    labels = {r["id"]: {"entities": [{"start": 0, "end": len("Segment"), "label": "MISC"}], "stances": []} for r in rows}
    results: dict[str, list[float]] = {k: [] for k in ("raw", "ours", "again", "listed", "corpus", "c_again", "c_listed")}

    def timed(key, fn):
        t0 = time.perf_counter()
        out = fn()
        results[key].append(time.perf_counter() - t0)
        return out

    try:
        stamp = int(time.time())
        for rnd in range(args.rounds):
            timed("raw", lambda rnd=rnd: ls.raw_import(conn, f"bench raw {stamp}-{rnd}", schema, raw_tasks))
            title = f"bench ours {stamp}-{rnd}"
            def push(title=title):
                return ls.push_segments(conn, seg_path, schema, project_title=title, batch_size=args.batch_size)

            report = timed("ours", push)
            assert report.imported == len(rows) and report.rejected == 0, report.to_dict()
            again = timed("again", push)
            assert again.imported == 0 and again.already_present == len(rows), again.to_dict()
            shutil.rmtree(cache, ignore_errors=True)
            listed = timed("listed", push)
            assert listed.imported == 0 and listed.already_present == len(rows), listed.to_dict()

            ctitle = f"bench corpus {stamp}-{rnd}"
            def corpus(ctitle=ctitle):
                return ls.push_corpus(conn, rows, labels, schema, project_title=ctitle,
                                      annotator="bench-gold@localhost", batch_size=args.batch_size)

            first = timed("corpus", corpus)
            assert first.push.imported == len(rows) and first.with_new_tasks == len(rows), first.to_dict()
            c_again = timed("c_again", corpus)
            assert c_again.push.imported == 0 and c_again.already_present == len(rows), c_again.to_dict()
            shutil.rmtree(cache, ignore_errors=True)
            c_listed = timed("c_listed", corpus)
            assert c_listed.already_present == len(rows) and c_listed.added_to_existing == 0, c_listed.to_dict()
            print(f"round {rnd + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in results.items()), file=sys.stderr)
    finally:
        if started is not None:
            ls.stop_server(started.data_dir)

    n = len(rows)
    best = {k: min(v) for k, v in results.items()}
    med = {k: statistics.median(v) for k, v in results.items()}
    paired = sorted(o / r for o, r in zip(results["ours"], results["raw"]))
    print(f"\npush of {n:,} segments (entities_stance), {args.rounds} alternating round(s); "
          f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPU(s)\n")
    print(f"| {'what':<34} | {'best s':>7} | {'median s':>8} | {'tasks/s':>7} | {'vs raw (median)':>15} |")
    print(f"|{'-' * 36}|{'-' * 9}|{'-' * 10}|{'-' * 9}|{'-' * 17}|")
    for key, label in (("raw", "raw: one import_tasks call"), ("ours", f"ours: push_segments (batch {args.batch_size})"),
                       ("again", "ours: push again (no-op)"), ("listed", "ours: push again, no cache"),
                       ("corpus", "corpus: push_corpus"), ("c_again", "corpus: again (no-op)"),
                       ("c_listed", "corpus: again, no cache")):
        print(f"| {label:<34} | {best[key]:7.2f} | {med[key]:8.2f} | {n / med[key]:7.0f} | "
              f"{med[key] / med['raw']:15.2f} |")
    ratio = med["ours"] / med["raw"]
    print(f"\nratio ours/raw: median {ratio:.2f}, best-of {best['ours'] / best['raw']:.2f}, "
          f"per round {', '.join(f'{x:.2f}' for x in paired)} (sorted); goal < 1.2: {'met' if ratio < 1.2 else 'NOT met'}")
    for first, noop, what in (("ours", "again", "push"), ("corpus", "c_again", "push_corpus")):
        r = med[noop] / med[first]
        print(f"ratio no-op/first ({what}, {n:,} tasks): median {r:.3f}; goal <= 1.0: {'met' if r <= 1.0 else 'NOT met'}"
              f" (without the cache: {med[noop.replace('again', 'listed')] / med[first]:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
