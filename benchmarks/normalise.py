#!/usr/bin/env python
"""Benchmark: normalise a large Label Studio export vs. label_studio_sdk.converter, same run.

Builds an export of ``--tasks`` tasks (default 50,000) with 3 annotators each by scaling up the
captured fixture ``tests/fixtures/exports/entities_stance.json`` (real tasks, annotations and
results; ids, segment ids and annotators renumbered), writes it to a temporary file, then runs
each contender in its own subprocess and reports wall time, tasks/s and peak memory:

* ``ours``       ``dataset_builder.normalise.normalise_export`` (per-annotator + gold + report) with its
  default worker processes (one per CPU; ``--workers`` to change)
* ``ours_1``     the same in one process (``workers=1``)
* ``conll2003``  ``Converter.convert_to_conll2003`` (JSON -> CONLL2003), the named alternative
* ``json_min``   ``Converter.convert_to_json_min`` (JSON -> JSON_MIN)
* ``parse_only``  our streaming reader alone (``iter_export``: orjson on batches of tasks cut out
  of a 2 MB buffer, no processing, one process): shown to explain where the time goes

Memory: ``peak MB`` is the largest sum, over the contender's process and its worker processes,
of their proportional set size (PSS: a page shared by k processes counts 1/k in each, so forked
workers are not counted twice), sampled every 250 ms from ``/proc`` (a sample costs a few ms of
CPU, so no faster); ``maxrss MB`` is the main process's own ``ru_maxrss`` (which a sample cannot
miss); ``imports MB`` what the interpreter and the imports alone took. The goal is checked
against the larger of the first two.

Goal (issue 5): ours >= 10x the converter's CONLL2003 throughput, peak < 300 MB.

Usage::

    .venv/bin/python benchmarks/normalise.py [--tasks 50000] [--repeat 3] [--workers N] [--keep DIR]
    .venv/bin/python benchmarks/normalise.py --tasks 600000 --contenders ours,ours_1   # memory at scale
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "exports" / "entities_stance.json"
CONFIG = "entities_stance"
CONTENDERS = ("ours", "ours_1", "parse_only", "conll2003", "json_min")

CHILD = r"""
import json, os, resource, sys, threading, time
which, export, out, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0

def tree(root):
    pids, parents = [root], {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as fh:
                    parents[int(name)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    for pid in pids:
        pids.extend(p for p, pp in parents.items() if pp == pid)
    return pids

peak_pss = 0
done = threading.Event()
def sample():
    global peak_pss
    me = os.getpid()
    while not done.is_set():
        peak_pss = max(peak_pss, sum(pss_kb(p) for p in tree(me)))
        done.wait(0.25)  # a sample costs ~2 ms per process (smaps_rollup walks the page tables)

from dataset_builder.schema import load_schema
schema = load_schema("entities_stance")
if which in ("ours", "ours_1", "parse_only"):
    from dataset_builder.normalise import iter_export, normalise_export
    import numpy, sklearn.metrics, krippendorff  # imported by the report; count them in the baseline
else:
    from label_studio_sdk.converter import Converter
    conv = Converter(config=schema.xml, project_dir=None)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
info = {}
t0 = time.perf_counter()
if which in ("ours", "ours_1"):
    rep = normalise_export(export, schema, out, workers=1 if which == "ours_1" else workers, info=info)
    n = rep.tasks.read
elif which == "parse_only":
    n = sum(1 for _ in iter_export(export))
elif which == "conll2003":
    conv.convert_to_conll2003(export, out, is_dir=False)
    n = None
else:
    conv.convert_to_json_min(export, out, is_dir=False)
    n = None
dt = time.perf_counter() - t0
done.set()
sampler.join()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": dt, "maxrss_mb": peak, "pss_mb": peak_pss / 1024, "import_mb": base, "tasks": n,
                  "info": info}))
"""


def build_export(path: Path, n_tasks: int) -> tuple[int, int]:
    """Write an ``n_tasks`` export with exactly 3 submitted annotations per task; return (tasks, annotations)."""
    templates = []
    for t in json.loads(FIXTURE.read_text(encoding="utf-8")):
        anns = [a for a in t["annotations"] if not a["was_cancelled"]]
        if len(anns) >= 2:
            while len(anns) < 3:
                anns.append(copy.deepcopy(anns[len(anns) % 2]))
            templates.append((t, anns[:3]))
    n_ann = 0
    with path.open("w", encoding="utf-8") as fh:
        fh.write("[")
        for i in range(n_tasks):
            t, anns = templates[i % len(templates)]
            task = dict(t)
            task["id"] = i + 1
            task["data"] = dict(t["data"], segment_id=f"bench-{i + 1}", article_id=f"bench-art-{i // 8}")
            task["annotations"] = [dict(a, id=3 * i + k + 1, completed_by=k + 1, task=i + 1) for k, a in enumerate(anns)]
            task["drafts"] = []
            n_ann += 3
            if i:
                fh.write(", ")
            json.dump(task, fh, ensure_ascii=False)
        fh.write("]")
    return n_tasks, n_ann


def run(which: str, export: Path, out: Path, workers: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", CHILD, which, str(export), str(out), str(workers)], capture_output=True,
                          text=True, env=env, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"{which} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=1, help="runs per contender; the best time is reported")
    ap.add_argument("--keep", type=Path, help="write the export and outputs here instead of a temp folder")
    ap.add_argument("--workers", type=int, default=None,
                    help="worker processes for 'ours' (default: dataset_builder.normalise.default_workers())")
    ap.add_argument("--contenders", default=",".join(CONTENDERS),
                    help="comma-separated subset of %(default)s (conll2003 is needed for the ratio column); "
                         "e.g. --tasks 200000 --contenders ours,parse_only shows that peak memory stays flat")
    args = ap.parse_args()
    chosen = [c for c in CONTENDERS if c in args.contenders.split(",")]
    sys.path.insert(0, str(REPO))
    from dataset_builder.normalise import default_workers

    workers = args.workers or default_workers()
    with tempfile.TemporaryDirectory(prefix="bench-normalise-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        export = work / "export.json"
        n_tasks, n_ann = build_export(export, args.tasks)
        size_mb = export.stat().st_size / 1e6
        print(f"export: {n_tasks} tasks, {n_ann} annotations, {size_mb:.1f} MB (scaled from {FIXTURE.name})")
        rows = {}
        for which in chosen:
            best = None
            for r in range(args.repeat):
                res = run(which, export, work / f"out-{which}-{r}", workers)
                if best is None or res["seconds"] < best["seconds"]:
                    best = res
            rows[which] = best
        base = n_tasks / rows["conll2003"]["seconds"] if "conll2003" in rows else None
        print(f"{'contender':<12} {'seconds':>9} {'tasks/s':>10} {'vs conll':>9} {'peak MB':>8} {'maxrss MB':>10} "
              f"{'imports MB':>11}")
        for which, r in rows.items():
            tps = n_tasks / r["seconds"]
            ratio = f"{tps / base:>8.2f}x" if base else f"{'-':>9}"
            print(f"{which:<12} {r['seconds']:>9.2f} {tps:>10.0f} {ratio} {r['pss_mb']:>8.0f} {r['maxrss_mb']:>10.0f} "
                  f"{r['import_mb']:>11.0f}")
        if "ours" in rows:
            info = rows["ours"]["info"]
            print(f"ours: {info.get('mode')}, {info.get('workers', 1)} worker process(es) on {os.cpu_count()} CPU(s)"
                  + (f"; fell back: {info['fallback']}" if info.get("fallback") else ""))
        for which in ("ours", "ours_1"):
            if which not in rows:
                continue
            peak = max(rows[which]["pss_mb"], rows[which]["maxrss_mb"])
            if base:
                tps = n_tasks / rows[which]["seconds"]
                print(f"goal ({which}): >= 10x conll2003 throughput -> {'met' if tps >= 10 * base else 'NOT met'} "
                      f"({tps / base:.2f}x)")
            print(f"goal ({which}): peak < 300 MB -> {'met' if peak < 300 else 'NOT met'} ({peak:.0f} MB)")


if __name__ == "__main__":
    main()
