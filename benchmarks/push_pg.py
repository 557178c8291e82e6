"""Benchmark: push and pull N tasks on PostgreSQL and on SQLite, ours against the raw SDK calls.

Run: ``python benchmarks/push_pg.py [--segments 100000] [--batch-size 5000] [--databases postgresql,sqlite]``.
For each database it starts a Label Studio (``.venv-ls``) on a free port of 127.0.0.1: on
PostgreSQL, a throwaway server from Debian's binaries (:class:`LocalPostgres`, default settings,
fsync on) in a temporary folder; on SQLite, the usual data folder. Prints one table per database.

Every step runs in a child process of its own, timed inside the child (from reading the input to
the end), and its peak resident memory (``ru_maxrss``) is read when it exits, so each figure is
one step's alone. The same JSONL file, the same server, into fresh projects:

* ``raw push`` - read the JSONL, build the same task dicts (the text, the neighbours' texts as
  context, the metadata), create the project, ONE ``projects.import_tasks`` request with all
  tasks (the named alternative).
* ``ours push`` - ``push_segments`` (what ``dataset-builder push`` does): read and validate, find
  or create the project, list the segment ids already there (idempotency), import in batches.
* ``ours push again`` - the idempotent re-push of the same file: nothing imported (the local index
  cache matches the project's stamp).
* ``ours again, no cache`` - the same from a machine without the cache (an empty cache folder): the
  server's note on the newest task vouches that the project holds exactly these segments.
* ``raw pull`` - ``projects.exports.create``, poll ``exports.get`` every 0.2 s, stream
  ``exports.download`` to a file.
* ``ours pull`` - ``pull_export``: the same, plus hashing, the manifest and its counts.

The raw push and the raw pull run twice, before and after ours (into a fresh project for the
push), and ours is compared with their mean: on a shared machine a drift of its load would
otherwise favour whichever ran at the quieter time. A push of the file's first 1,000 rows says how
much of our push's peak memory grows with the number of tasks.

Goals (issue 20): ours / raw <= 1.2 for push and for pull; ours' memory flat and < 500 MB.
Goal (issue 18, point 8): a no-op re-push, with or without the cache, costs at most the first push.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from push import synthetic_rows  # noqa: E402  (the same news-like segments as benchmarks/push.py)

from dataset_builder import label_studio as ls  # noqa: E402
from dataset_builder.jsonl import write_jsonl  # noqa: E402
from dataset_builder.label_studio.index import CACHE_ENV  # noqa: E402
from dataset_builder.label_studio.postgres import LocalPostgres  # noqa: E402

CONFIG = "entities_stance"
SMALL = 1000
"""A push of this many tasks (the file's first rows) says how much of our peak memory is the tasks'."""


# ---- the steps, each run in a child process ---------------------------------------------------


def _raw_push(conn: ls.Connection, seg_path: Path, title: str) -> dict:
    from dataset_builder.jsonl import read_jsonl
    from dataset_builder.records import Segment
    from dataset_builder.schema import load_schema

    from dataset_builder.label_studio.tasks import with_context

    schema = load_schema(CONFIG)
    # the same tasks as ours: each with its neighbours' texts as context
    tasks = [{"data": ls.task_data(schema, Segment.from_dict(r), r)} for r in with_context(r for _, r in read_jsonl(seg_path))]
    ls.raw_import(conn, title, schema, tasks)
    return {"tasks": len(tasks)}


def _ours_push(conn: ls.Connection, seg_path: Path, title: str, batch_size: int) -> dict:
    report = ls.push_segments(conn, seg_path, CONFIG, project_title=title, batch_size=batch_size)
    return {"imported": report.imported, "already_present": report.already_present, "rejected": report.rejected}


def _raw_pull(conn: ls.Connection, title: str, out: Path) -> dict:
    from label_studio_sdk import LabelStudio

    client = LabelStudio(base_url=conn.url, api_key=conn.api_key, timeout=3600.0)
    (project,) = [p for p in client.projects.list(title=title) if p.title == title]
    snap = client.projects.exports.create(id=project.id, title="raw pull", serialization_options={
        "predictions": {"only_id": False}, "drafts": {"only_id": False}})
    while snap.status != "completed":
        time.sleep(0.2)
        snap = client.projects.exports.get(id=project.id, export_pk=snap.id)
    size = 0
    with open(out, "wb") as fh:
        for chunk in client.projects.exports.download(id=project.id, export_pk=snap.id, export_type="JSON",
                                                      request_options={"chunk_size": 1 << 20}):
            fh.write(chunk)
            size += len(chunk)
    return {"bytes": size}


def _ours_pull(conn: ls.Connection, title: str, out: Path) -> dict:
    report = ls.pull_export(conn, title, out_dir=out)
    return {"bytes": report.manifest["bytes"], "tasks": report.manifest["task_count"]}


def child(argv: list[str]) -> int:
    step, seg_path, title, batch_size, out = argv[0], Path(argv[1]), argv[2], int(argv[3]), Path(argv[4])
    conn = ls.resolve_connection(env=os.environ)
    t0 = time.perf_counter()
    if step.startswith("raw push"):
        info = _raw_push(conn, seg_path, title)
    elif step.startswith("ours push") or step.startswith("ours again"):
        info = _ours_push(conn, seg_path, title, batch_size)
    elif step.startswith("raw pull"):
        info = _raw_pull(conn, title, out / "raw-export.json")
    else:
        info = _ours_pull(conn, title, out / "exports")
    info["seconds"] = time.perf_counter() - t0
    (out / "result.json").write_text(json.dumps(info))
    return 0


def run_step(step: str, conn: ls.Connection, seg_path: Path, title: str, batch_size: int, tmp: Path) -> dict:
    """Run one step in a child; its figures plus ``peak_mb`` (the child's peak resident memory)."""
    out = Path(tempfile.mkdtemp(prefix="step-", dir=tmp))
    # the index cache of this run only; the no-cache step gets an empty folder of its own
    cache = out / "empty-cache" if "no cache" in step else tmp / "index-cache"
    env = {**os.environ, "LABEL_STUDIO_URL": conn.url, "LABEL_STUDIO_API_KEY": conn.api_key, CACHE_ENV: str(cache)}
    proc = subprocess.Popen([sys.executable, __file__, "--child", step, str(seg_path), title, str(batch_size),  # noqa: S603
                             str(out)], env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"step {step!r} failed with exit code {proc.returncode}")
    result = json.loads((out / "result.json").read_text())
    result["peak_mb"] = usage.ru_maxrss / 1024  # kilobytes on Linux
    return result


# ---- one database ---------------------------------------------------------------------------------


def bench_database(database: str, seg_path: Path, n: int, batch_size: int, tmp: Path, *,
                   pulls: bool = True) -> dict[str, dict]:
    pg = None
    if database == "postgresql":
        pg = LocalPostgres(stop_with_pid=os.getpid())
        pg.start()
    t0 = time.perf_counter()
    try:
        info = ls.start_server(tmp / f"ls-{database}", port=0, timeout=600.0, stop_with_pid=os.getpid(),
                               database=pg.database if pg else None)
        print(f"{database}: Label Studio at {info.url} started in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        conn = info.connection()
        results = {}
        small = tmp / "segments-small.jsonl"
        with seg_path.open() as src, small.open("w") as dst:
            dst.writelines(line for _, line in zip(range(SMALL), src))
        # raw, ours, raw again (a fresh project each): the mean of the two raws cancels a drift of the machine
        for step, title, path in (("raw push", "bench raw", seg_path), ("ours push", "bench ours", seg_path),
                                  ("raw push again", "bench raw 2", seg_path),
                                  ("ours push again", "bench ours", seg_path),
                                  ("ours again, no cache", "bench ours", seg_path),
                                  (f"ours push {SMALL:,}", "bench small", small),
                                  ("raw pull", "bench ours", seg_path), ("ours pull", "bench ours", seg_path),
                                  ("raw pull again", "bench ours", seg_path)):
            if "pull" in step and not pulls:
                continue
            results[step] = run_step(step, conn, path, title, batch_size, tmp)
            print(f"{database}: {step}: {results[step]}", file=sys.stderr)
        assert results["ours push"]["imported"] == n and results["ours push"]["rejected"] == 0
        for again in ("ours push again", "ours again, no cache"):
            assert results[again]["imported"] == 0 and results[again]["already_present"] == n, results[again]
        assert not pulls or results["ours pull"]["tasks"] == n
        ls.stop_server(info.data_dir)
    finally:
        if pg is not None:
            pg.remove()
    return results


def print_table(database: str, n: int, r: dict[str, dict]) -> None:
    raw_push = (r["raw push"]["seconds"] + r["raw push again"]["seconds"]) / 2
    pulls = "raw pull" in r
    raw_pull = (r["raw pull"]["seconds"] + r["raw pull again"]["seconds"]) / 2 if pulls else float("nan")
    print(f"\n{database}: push and pull of {n:,} tasks ({CONFIG}); 'vs raw': against the mean of the two raw runs\n")
    print(f"| {'step':<20} | {'seconds':>8} | {'tasks/s':>8} | {'peak MB':>8} | {'vs raw':>7} |")
    print(f"|{'-' * 22}|{'-' * 10}|{'-' * 10}|{'-' * 10}|{'-' * 9}|")
    for step, fig in r.items():
        tasks = SMALL if step.endswith(f"{SMALL:,}") else n
        ratio = f"{fig['seconds'] / (raw_pull if 'pull' in step else raw_push):7.2f}" if tasks == n else f"{'-':>7}"
        print(f"| {step:<20} | {fig['seconds']:8.1f} | {tasks / fig['seconds']:8.0f} | {fig['peak_mb']:8.0f} | {ratio} |")
    push, pull = r["ours push"]["seconds"] / raw_push, r["ours pull"]["seconds"] / raw_pull if pulls else float("nan")
    peak = max(fig["peak_mb"] for step, fig in r.items() if step.startswith("ours"))
    growth = (r["ours push"]["peak_mb"] - r[f"ours push {SMALL:,}"]["peak_mb"]) / (n - SMALL) * 1000
    pull_line = f"pull {pull:.2f} ({'met' if pull <= 1.2 else 'NOT met'})" if pulls else "pull not run (--no-pull)"
    print(f"\nours/raw: push {push:.2f} ({'met' if push <= 1.2 else 'NOT met'}), {pull_line} against the goal <= 1.2; ours' peak memory {peak:.0f} MB "
          f"({'met' if peak < 500 else 'NOT met'} against < 500 MB); our push's peak grows "
          f"{growth:.2f} MB per 1,000 tasks ({SMALL:,} tasks: {r[f'ours push {SMALL:,}']['peak_mb']:.0f} MB)")
    first = r["ours push"]["seconds"]
    warm, cold = r["ours push again"]["seconds"] / first, r["ours again, no cache"]["seconds"] / first
    print(f"no-op re-push / first push: {warm:.2f} with the cache, {cold:.2f} without "
          f"({'met' if max(warm, cold) <= 1.0 else 'NOT met'} against <= 1.0)")


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segments", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--databases", default="postgresql,sqlite")
    parser.add_argument("--no-pull", action="store_true", help="push steps only (the pulls take most of the time)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-push-pg-"))
    seg_path = tmp / "segments.jsonl"
    write_jsonl(seg_path, synthetic_rows(args.segments))
    print(f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPU(s); "
          f"each step in its own process; peak MB = that process's peak resident memory")
    for database in args.databases.split(","):
        print_table(database, args.segments, bench_database(database, seg_path, args.segments, args.batch_size, tmp,
                                                            pulls=not args.no_pull))
    return 0


if __name__ == "__main__":
    sys.exit(main())
