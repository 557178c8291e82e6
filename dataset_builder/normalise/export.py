"""The entry points: a whole export normalised into its output folder, or in-memory tasks into records.

Input
    A Label Studio JSON export file (:func:`normalise_export`) or parsed tasks
    (:func:`normalise_tasks`), and the project's labelling config.
Output
    :data:`OUTPUT_FILES` in the output folder (written under temporary names and moved into place
    only when the whole export was read), or :class:`~.output.TaskResult` records; the
    :class:`~.report.NormaliseReport` either way.
Invariants
    One path from a task to its output: every task goes through :meth:`Normaliser.decide` and
    :func:`~.output.task_lines`, in one process or in several (:mod:`.parallel`); identical inputs
    give byte-identical files, whatever the number of workers.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..errors import SchemaError
from . import parallel
from .annotations import NO_TEAM, Team
from .normaliser import Normaliser
from .output import _LINE_FILES, OUTPUT_FILES, TaskResult, task_lines
from .reader import _CountingReader, _sniff, iter_export
from .report import NormaliseReport
from .snapshot import find_snapshot


def normalise_tasks(
    tasks: Iterable[Any], schema: Any, *, min_annotators: int = 1, offsets: str = "auto", source: str = "tasks",
    team: Team = NO_TEAM,
) -> tuple[list[TaskResult], NormaliseReport]:
    """Normalise in-memory tasks (a parsed export); for small inputs and tests.

    Returns
    -------
    (list of TaskResult, NormaliseReport)

    Raises
    ------
    SchemaError
        Bad options, or no result belongs to the config (see :meth:`Normaliser.report`).
    """
    norm = Normaliser(schema, min_annotators=min_annotators, offsets=offsets, source=source, team=team)
    try:
        results = [norm.process(task, i) for i, task in enumerate(tasks)]
        return results, norm.report()
    finally:
        norm.close()




def normalise_export(
    export_path: str | Path,
    schema: Any,
    out_dir: str | Path,
    *,
    min_annotators: int = 1,
    offsets: str = "auto",
    progress: bool = False,
    workers: int | None = None,
    info: dict[str, Any] | None = None,
    annotators: Mapping[str, str] | None = None,
    adjudicators: Sequence[str] = (),
) -> NormaliseReport:
    """Normalise a Label Studio JSON export file into ``out_dir``, streaming.

    Writes ``annotations.jsonl`` (per-annotator :meth:`Annotation.to_dict`, export order, then
    annotator), ``gold.jsonl`` (one ``annotator == "gold"`` record per resolved task),
    ``rejections.jsonl`` (:class:`Rejection` records), ``unresolved.jsonl`` (ties to adjudicate),
    ``report.json`` and ``report.txt``. Identical inputs give byte-identical files, whatever the
    number of workers.

    Parameters
    ----------
    export_path : str or Path
        Label Studio's JSON export: a file, a snapshot folder that ``pull`` wrote (its
        ``export.json``), or a project folder of snapshots (its latest one); see :mod:`.snapshot`.
    schema : LabelSchema or None
        The project's labelling config, from :func:`dataset_builder.schema.load_schema`; None: the
        one the snapshot's ``manifest.json`` names. With a manifest, another config is refused.
    out_dir : str or Path
        Created if missing; the files above are overwritten.
    min_annotators, offsets
        See :class:`Normaliser`.
    progress : bool
        Show a tqdm progress bar (bytes read) on stderr.
    workers : int, optional
        Processes that normalise batches of tasks (:func:`~.parallel._normalise_parallel`); default
        :func:`default_workers`. With 1, or for an export under 8 MB, everything happens in this
        process. Any export the parallel reader cannot take as it is (malformed, lone surrogates...)
        is read again by one process, which gives the exact error.
    annotators : mapping, optional
        A team's handles (user id, username or e-mail -> handle); the others are named as
        :class:`~.annotations.Team` says, from the snapshot's ``users.json`` when there is one.
    adjudicators : sequence of str
        The adjudicators (handle, username, user id or e-mail): their annotation decides a task, and
        they stay out of inter-annotator agreement.
    info : dict, optional
        Filled with how the export was read (``mode``, ``workers``, ``batches``,
        ``batches_rerun``, ``worker_peak_rss_mb``, ``fallback``), for benchmarks and debugging.

    Returns
    -------
    NormaliseReport

    Raises
    ------
    ExportError
        Not a readable JSON export (see :func:`iter_export`).
    SchemaError
        Bad options, or the export was labelled with another config (its manifest says so, or no
        result in it is one the config can use).
    """
    snapshot = find_snapshot(export_path)
    export_path = snapshot.export
    schema = snapshot.schema(schema)
    team = Team(snapshot.users(), annotators, adjudicators)
    out = Path(out_dir)
    info = {} if info is None else info
    if workers is None:
        workers = parallel.default_workers()
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise SchemaError(f"The 'workers' parameter of normalise must be an int >= 1. Got {workers!r} instead.")
    use_pool = workers > 1 and export_path.is_file() and export_path.stat().st_size >= parallel._PARALLEL_MIN_BYTES
    Normaliser(schema, min_annotators=min_annotators, offsets=offsets)  # bad options fail before any file is made
    out.mkdir(parents=True, exist_ok=True)
    pool = spool_dir = None
    if use_pool:
        # the workers' output goes to files in a folder of this run's own, deleted at the end
        spool_dir = tempfile.mkdtemp(prefix=".normalise-spool-", dir=out)
        try:
            pool = parallel._start_pool(workers, {"schema": schema, "min_annotators": min_annotators, "offsets": offsets,
                                         "source": export_path.name, "spool_dir": spool_dir, "team": team})
        except Exception as exc:  # no processes to be had here (limits, sandbox): one process does it all
            shutil.rmtree(spool_dir, ignore_errors=True)
            pool = spool_dir = None
            info["fallback"] = f"no worker processes: {type(exc).__name__}: {exc}"
    bar = None
    try:
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=export_path.stat().st_size if export_path.is_file() else None, unit="B",
                       unit_scale=True, desc="normalise", disable=None)
        if pool is not None:
            try:
                report = _normalise_into(export_path, schema, out, min_annotators, offsets, bar, (pool, workers), info,
                                         team)
                info["mode"] = "parallel"
                return report
            except parallel._Fallback as exc:
                info.update(mode="one process after parallel", fallback=str(exc))
                if bar is not None:
                    bar.reset()
        else:
            info["mode"] = "one process"
        return _normalise_into(export_path, schema, out, min_annotators, offsets, bar, None, info, team)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
            shutil.rmtree(spool_dir, ignore_errors=True)
        if bar is not None:
            bar.close()


def _normalise_into(
    export_path: Path, schema: Any, out: Path, min_annotators: int, offsets: str, bar: Any,
    pool_workers: tuple[Any, int] | None, info: dict[str, Any], team: Team = NO_TEAM,
) -> NormaliseReport:
    """One attempt of :func:`normalise_export`; with ``pool_workers`` = (pool, workers) it may raise :class:`~.parallel._Fallback`."""
    norm = Normaliser(schema, min_annotators=min_annotators, offsets=offsets, source=export_path.name, spill_dir=out,
                      team=team)
    readers: list[_CountingReader] = []

    def hook(reader: _CountingReader) -> None:
        readers.append(reader)
        if bar is not None:
            reader.on_read = bar.update

    # Written under temporary names and moved into place only when the whole export was read, so a
    # failed run never leaves half an output next to an older complete one.
    partial = {name: out / f".{name}.partial" for name in OUTPUT_FILES}
    files = {name: partial[name].open("wb", buffering=1 << 20) for name in _LINE_FILES}
    ok = False
    try:
        write = {name: fh.write for name, fh in files.items()}
        if pool_workers is not None:
            with export_path.open("rb") as fh:
                head = fh.read(65536)
                bom = 3 if head.startswith(b"\xef\xbb\xbf") else 0
                _sniff(head[bom:], str(export_path))
                reader = _CountingReader(fh, prefix=head[bom:])
                hook(reader)
                copy = {name: parallel._copier(f) for name, f in files.items()}
                parallel._normalise_parallel(export_path, reader, bom, norm, write, copy, *pool_workers, info)
        else:
            decide = norm.decide
            writers = [write[name] for name in _LINE_FILES]
            for index, task in iter_export(export_path, reader_hook=hook):
                for write_lines, lines in zip(writers, task_lines(decide(task, index))):
                    if lines:
                        write_lines(lines.encode())
        for fh in files.values():
            fh.close()
        report = norm.report(sha256=readers[0].sha256.hexdigest() if readers else None)
        partial["report.json"].write_text(
            json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8", newline="\n"
        )
        partial["report.txt"].write_text(report.summary(), encoding="utf-8", newline="\n")
        for name in OUTPUT_FILES:
            os.replace(partial[name], out / name)
        ok = True
    finally:
        for fh in files.values():
            fh.close()
        norm.close()
        if not ok:
            for path in partial.values():
                path.unlink(missing_ok=True)
    return report
