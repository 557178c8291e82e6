"""normalise_export with worker processes, and the state that must stay bounded.

The parallel reader is an optimisation: every file it writes must be byte for byte what one
process writes, whatever the range size, the JSON layout, duplicates across ranges, tasks
without ids, or broken input (which it hands back to the one-process reader). The bounded
state (ids and lead times moved to SQLite, alpha and kappa from aggregated tallies) must give
the same report as the in-memory state.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

import dataset_builder.normalise.agreement as normalise_agreement
import dataset_builder.normalise.parallel as normalise_parallel
import dataset_builder.normalise.stores as normalise_stores
from dataset_builder.errors import ExportError, SchemaError
from dataset_builder.normalise import OUTPUT_FILES, Normaliser, normalise_export
from dataset_builder.schema import load_schema

EXPORTS = Path(__file__).parent / "fixtures" / "exports"
CONFIGS = ("entities_stance", "entities", "target_stance")


def scaled(config: str, copies: int) -> list[dict]:
    """The captured export ``copies`` times over, with fresh task, annotation and segment ids."""
    base = json.loads((EXPORTS / f"{config}.json").read_text(encoding="utf-8"))
    tasks = []
    for c in range(copies):
        for t in base:
            t = copy.deepcopy(t)
            tid = len(tasks) + 1
            t["id"] = tid
            t["data"]["segment_id"] = f"{t['data'].get('segment_id', 'seg')}-{c}"
            for k, a in enumerate(t.get("annotations", [])):
                a["id"] = tid * 10 + k
                a["task"] = tid
            tasks.append(t)
    return tasks


def write(path: Path, tasks: list, style: str) -> Path:
    if style == "compact":
        raw = json.dumps(tasks, ensure_ascii=False, separators=(",", ":"))
    elif style == "indent":  # what json.dump(indent=2) and some tools write
        raw = json.dumps(tasks, ensure_ascii=False, indent=2)
    elif style == "bom":  # a BOM and whitespace of every kind between items
        raw = "\ufeff \r\n[ " + " ,\n\t".join(json.dumps(t, ensure_ascii=True) for t in tasks) + "\n] \n"
    else:  # Label Studio's own layout
        raw = json.dumps(tasks, ensure_ascii=False)
    path.write_bytes(raw.encode("utf-8"))
    return path


def both(path: Path, schema, tmp: Path, monkeypatch, *, batch: int, **kw) -> tuple[dict, dict]:
    """Normalise ``path`` with one process and with two workers; every file must be the same bytes."""
    monkeypatch.setattr(normalise_parallel, "_PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(normalise_parallel, "_PARALLEL_BATCH", batch)
    one, par = {}, {}
    normalise_export(path, schema, tmp / "one", workers=1, info=one, **kw)
    normalise_export(path, schema, tmp / "par", workers=2, info=par, **kw)
    for name in OUTPUT_FILES:
        assert (tmp / "par" / name).read_bytes() == (tmp / "one" / name).read_bytes(), name
    assert one["mode"] == "one process"
    assert sorted(p.name for p in (tmp / "par").iterdir()) == sorted(OUTPUT_FILES)  # no spool or partial left
    return one, par


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("style,batch", [("ls", 3000), ("compact", 97), ("indent", 5000), ("bom", 700)])
def test_parallel_files_are_the_one_process_files(config, style, batch, tmp_path, monkeypatch):
    path = write(tmp_path / "export.json", scaled(config, 12), style)
    _, par = both(path, load_schema(config), tmp_path, monkeypatch, batch=batch)
    assert par["mode"] == "parallel"
    assert par["ranges"] > 3 and par["ranges_rerun"] == 0


def test_duplicates_across_ranges_and_tasks_without_id_are_decided_as_one_process_does(tmp_path, monkeypatch):
    tasks = scaled("entities_stance", 10)
    n = len(tasks)
    tasks[n - 3]["id"] = tasks[2]["id"]  # a task id seen far earlier
    tasks[n - 8]["data"]["segment_id"] = tasks[5]["data"]["segment_id"]  # a segment id seen far earlier
    del tasks[n // 2]["id"]  # named by its position in the export
    tasks[n // 3] = ["not", "a", "task"]
    path = write(tmp_path / "export.json", tasks, "ls")
    one, par = both(path, load_schema("entities_stance"), tmp_path, monkeypatch, batch=2000)
    assert par["mode"] == "parallel" and par["ranges_rerun"] >= 3
    report = json.loads((tmp_path / "par" / "report.json").read_text())
    assert report["tasks"]["rejected"]["duplicate_task_id"] == 1
    assert report["tasks"]["rejected"]["duplicate_segment_id"] == 1


def test_nested_objects_that_open_like_a_task_do_not_change_the_result(tmp_path, monkeypatch):
    tasks = scaled("entities", 8)
    for t in tasks[::5]:
        t["data"]["nested"] = [{"x": 1}, {"id": 3, "annotations": []}, "}, {\"id\": 4, \"annotations\": ["]
    path = write(tmp_path / "export.json", tasks, "ls")
    both(path, load_schema("entities"), tmp_path, monkeypatch, batch=300)


@pytest.mark.parametrize("damage", ["truncated", "trailing_comma", "garbage_after", "lone_surrogate", "nan"])
def test_broken_exports_go_back_to_the_one_process_reader(damage, tmp_path, monkeypatch):
    schema = load_schema("entities_stance")
    path = write(tmp_path / "export.json", scaled("entities_stance", 10), "ls")
    raw = path.read_bytes()
    if damage == "truncated":
        raw = raw[: len(raw) * 2 // 3]
    elif damage == "trailing_comma":
        raw = raw.rstrip()[:-1] + b", ]"
    elif damage == "garbage_after":
        raw += b" x"
    elif damage == "lone_surrogate":
        raw = raw.replace(b'"Angela Merkel', b'"\\ud800Angela Merkel', 1)
    else:
        raw = raw.replace(b'"lead_time": 5.0', b'"lead_time": NaN', 1)
    path.write_bytes(raw)
    monkeypatch.setattr(normalise_parallel, "_PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(normalise_parallel, "_PARALLEL_BATCH", 4000)
    if damage == "lone_surrogate":  # readable: the same files, read by one process
        _, par = both(path, schema, tmp_path, monkeypatch, batch=4000)
        assert par["mode"] == "one process after parallel"
        return
    with pytest.raises(ExportError) as one:
        normalise_export(path, schema, tmp_path / "one", workers=1)
    info: dict = {}
    with pytest.raises(ExportError) as par:
        normalise_export(path, schema, tmp_path / "par", workers=2, info=info)
    assert str(par.value) == str(one.value)
    assert info["mode"] == "one process after parallel"
    assert not list((tmp_path / "par").iterdir())  # nothing half-written left behind


def test_wrong_config_and_json_min_are_the_one_process_errors(tmp_path, monkeypatch):
    monkeypatch.setattr(normalise_parallel, "_PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(normalise_parallel, "_PARALLEL_BATCH", 4000)
    other = scaled("entities_stance", 6)
    for t in other:
        for a in t["annotations"]:
            for r in a["result"]:
                r["from_name"] = "ner"
    path = write(tmp_path / "export.json", other, "ls")
    schema = load_schema("entities_stance")
    with pytest.raises(SchemaError) as one:
        normalise_export(path, schema, tmp_path / "a", workers=1)
    with pytest.raises(SchemaError, match=r"none of the first \d+ results belongs to config .*ner") as par:
        normalise_export(path, schema, tmp_path / "a", workers=2)
    assert str(par.value) == str(one.value)
    minimal = [{"id": i + 1, "annotator": 1, "annotation_id": i, "text": "x"} for i in range(400)]
    path = write(tmp_path / "min.json", minimal, "ls")
    with pytest.raises(ExportError, match="JSON_MIN"):
        normalise_export(path, load_schema("entities_stance"), tmp_path / "b", workers=2)


def test_bad_workers_option(tmp_path):
    with pytest.raises(SchemaError, match="workers"):
        normalise_export(EXPORTS / "entities.json", load_schema("entities"), tmp_path, workers=0)


# --------------------------------------------------------------------------------------------
# Bounded state
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_ids_and_lead_times_moved_to_disk_give_the_same_files(workers, tmp_path, monkeypatch):
    tasks = scaled("entities_stance", 8)
    n = len(tasks)
    tasks[n - 2]["id"] = tasks[1]["id"]  # duplicates found after the move to SQLite
    tasks[n - 5]["data"]["segment_id"] = tasks[4]["data"]["segment_id"]
    path = write(tmp_path / "export.json", tasks, "ls")
    schema = load_schema("entities_stance")
    monkeypatch.setattr(normalise_parallel, "_PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(normalise_parallel, "_PARALLEL_BATCH", 3000)
    normalise_export(path, schema, tmp_path / "memory", workers=1)
    moved = []
    spill_connect = normalise_stores._Spill.connect
    monkeypatch.setattr(normalise_stores._Spill, "connect", lambda self: (moved.append(1), spill_connect(self))[1])
    monkeypatch.setattr(normalise_stores, "_SEEN_IN_MEMORY", 5)
    monkeypatch.setattr(normalise_stores, "_LEAD_IN_MEMORY", 7)
    normalise_export(path, schema, tmp_path / "disk", workers=workers)
    assert moved  # the SQLite file was used
    for name in OUTPUT_FILES:
        assert (tmp_path / "disk" / name).read_bytes() == (tmp_path / "memory" / name).read_bytes(), name
    assert sorted(p.name for p in (tmp_path / "disk").iterdir()) == sorted(OUTPUT_FILES)  # spill file deleted
    report = json.loads((tmp_path / "disk" / "report.json").read_text())
    assert report["tasks"]["rejected"]["duplicate_task_id"] == 1
    assert report["tasks"]["rejected"]["duplicate_segment_id"] == 1


def test_in_memory_state_stays_within_its_limits(monkeypatch, tmp_path):
    """Past the limits nothing per task stays in memory: the sets and arrays are emptied, not grown."""
    monkeypatch.setattr(normalise_stores, "_SEEN_IN_MEMORY", 50)
    monkeypatch.setattr(normalise_stores, "_LEAD_IN_MEMORY", 60)
    schema = load_schema("entities_stance")
    norm = Normaliser(schema, spill_dir=tmp_path)
    for i, task in enumerate(scaled("entities_stance", 30)):
        norm.process(task, i)
        assert len(norm._seen._tasks) <= 51 and len(norm._seen._segments) <= 51
        assert sum(len(v) for v in norm._lead.in_memory().values()) <= 61
    assert norm._seen._db is not None and norm._lead._db is not None
    assert len(norm._alpha_units) < 40  # distinct value-count rows, not units
    report = norm.report()
    norm.close()
    assert not list(tmp_path.iterdir())
    assert all(a["median_lead_time"] is not None for a in report.annotators.values() if a["annotations"] > a["cancelled"])


def test_seen_keys_add_batch_adds_nothing_when_one_key_is_known(tmp_path, monkeypatch):
    for limit in (1000, 2):
        monkeypatch.setattr(normalise_stores, "_SEEN_IN_MEMORY", limit)
        spill = normalise_stores._Spill(tmp_path)
        seen = normalise_stores._SeenKeys(spill)
        assert seen.add_batch([1, 2, 3], ["a", "b", "c"])
        assert not seen.add_batch([4, 5], ["d", "a"])
        assert seen.add_task(4) and seen.add_segment("d")  # the refused batch left no key behind
        assert not seen.add_task(2) and not seen.add_segment("c")
        assert seen.add_batch([10**30], ["e"]) and not seen.add_task(10**30)  # any int
        spill.close()


@settings(max_examples=80, deadline=None)
@given(st.dictionaries(st.tuples(*[st.integers(0, 3)] * 3).filter(lambda r: sum(r) >= 2), st.integers(1, 40),
                       min_size=1, max_size=12))
def test_alpha_from_the_coincidence_matrix_is_the_library_alpha(patterns):
    values = np.repeat(np.array(sorted(patterns), dtype=float), [patterns[r] for r in sorted(patterns)], axis=0)
    assume_two_labels = (values.sum(axis=0) > 0).sum() >= 2
    if not assume_two_labels:
        return
    want = krippendorff.alpha(value_counts=values, level_of_measurement="nominal")
    assert normalise_agreement._krippendorff_alpha(patterns) == pytest.approx(want, abs=1e-12)
    original = normalise_agreement._ALPHA_LIBRARY_UNITS
    try:
        normalise_agreement._ALPHA_LIBRARY_UNITS = 0  # the path taken past 100,000 units
        assert normalise_agreement._krippendorff_alpha(patterns) == pytest.approx(want, abs=1e-12)
    finally:
        normalise_agreement._ALPHA_LIBRARY_UNITS = original


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=1, max_size=60))
def test_kappa_from_the_table_is_kappa_of_the_pairs(pairs):
    cells = [0] * 9
    for a, b in pairs:
        cells[a * 3 + b] += 1
    got = normalise_agreement._cohen_kappa(cells, 3)
    if len({a for a, _ in pairs} | {b for _, b in pairs}) < 2:
        assert got is None
        return
    with np.errstate(all="ignore"):
        want = cohen_kappa_score([a for a, _ in pairs], [b for _, b in pairs], labels=[0, 1, 2])
    if np.isnan(want):
        assert got is None
    else:
        assert got == pytest.approx(want, abs=1e-12)


def test_cli_workers_option(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from dataset_builder.cli import cli

    monkeypatch.setattr(normalise_parallel, "_PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(normalise_parallel, "_PARALLEL_BATCH", 3000)
    path = write(tmp_path / "export.json", scaled("entities_stance", 4), "ls")
    runner = CliRunner()
    for n in ("1", "2"):
        res = runner.invoke(cli, ["normalise", str(path), "--config", "entities_stance", "-o", str(tmp_path / n),
                                  "--workers", n])
        assert res.exit_code == 0, res.output
    for name in OUTPUT_FILES:
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes(), name
    res = runner.invoke(cli, ["normalise", str(path), "--config", "entities_stance", "--workers", "0"])
    assert res.exit_code == 2 and "Traceback" not in res.output and "--workers" in res.output


def test_no_worker_processes_means_one_process(tmp_path, monkeypatch):
    def refuse(*args):
        raise OSError("fork refused")

    monkeypatch.setattr(normalise_parallel, "_PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(normalise_parallel, "_start_pool", refuse)
    path = write(tmp_path / "export.json", scaled("entities", 3), "ls")
    info: dict = {}
    normalise_export(path, load_schema("entities"), tmp_path / "a", workers=2, info=info)
    normalise_export(path, load_schema("entities"), tmp_path / "b", workers=1)
    assert info["mode"] == "one process" and "fork refused" in info["fallback"]
    for name in OUTPUT_FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(OUTPUT_FILES)


def test_ranges_that_skip_or_repeat_items_are_caught(tmp_path, monkeypatch):
    """Whatever a worker's cut, the parent only accepts ranges whose items follow one another."""
    real = normalise_parallel._range_items

    def skips_an_item(fd, size, boundary, start, end, first):
        got = real(fd, size, boundary, start, end, first)
        if got is None or first or not got[2]:
            return got
        lo, hi, items = got
        m = boundary.search(items)  # drop this range's first item
        if m is None:
            return got
        return lo + m.end(), hi, items[m.end():]

    path = write(tmp_path / "export.json", scaled("entities_stance", 6), "ls")
    monkeypatch.setattr(normalise_parallel, "_range_items", skips_an_item)
    one, par = both(path, load_schema("entities_stance"), tmp_path, monkeypatch, batch=6000)
    assert par["mode"] == "one process after parallel"
    assert "do not follow" in par["fallback"]
