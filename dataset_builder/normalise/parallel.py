"""Several processes: the export's byte ranges normalised by workers, the same output as one process.

Input
    An export of 8 MB or more (:data:`_PARALLEL_MIN_BYTES`), a pool of worker processes
    (:func:`_start_pool`) and the parent's :class:`~.normaliser.Normaliser`.
Output
    The same lines, in the same order, and the same state in the parent's Normaliser as reading
    the export in one process (:func:`_normalise_parallel`); the worker's own batches of tasks are
    normalised by :func:`_run_batch`, which writes them with :func:`~.output.task_lines` as the
    one-process reader does.
Invariants
    Byte-identical output whatever the number of workers. What only one process can decide
    (duplicates across ranges, messages that name a task by its position) is normalised again in
    the parent; anything unusual raises :class:`_Fallback`, and the export is read again by one
    process, which gives the exact error.
"""

from __future__ import annotations

import io
import math
import os
import re
from pathlib import Path
from typing import Any, BinaryIO, Mapping

import orjson

from .normaliser import Normaliser
from .output import _LINE_FILES, task_lines
from ..errors import ExportError, SchemaError
from .reader import _BATCH, _JWS, _MAX_SPAN, _OPENING, _check_first_task, _CountingReader, _cut_batches, _skip_ws

def _run_batch(norm: Normaliser, batch: bytes, first_index: int) -> tuple[int, bytes, bytes, bytes, bytes] | None:
    """Normalise the tasks of one ``[...]`` batch with ``norm``; the four JSONL files' bytes, or None if orjson refuses it.

    Returns ``(tasks, annotations.jsonl, gold.jsonl, rejections.jsonl, unresolved.jsonl)``: the
    lines :func:`normalise_export` writes for these tasks when it reads them one by one. The
    batch is decoded :data:`_BATCH` bytes at a time (:func:`_cut_batches` again): a few tasks'
    objects at once stay in the CPU's caches, half a megabyte of them does not (1.7x slower).
    """
    decide = norm.decide
    parts: tuple[list[str], ...] = ([], [], [], [])
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    i = first_index
    for piece, _ in _cut_batches(io.BytesIO(batch), _BATCH):
        if piece is None:
            return None
        try:
            items = loads(piece)
        except decode_error:
            return None
        for task in items:
            for part, lines in zip(parts, task_lines(decide(task, i))):
                if lines:
                    part.append(lines)
            i += 1
    return (i - first_index, *("".join(part).encode() for part in parts))



_PARALLEL_BATCH = 1 << 19  # bytes of tasks per batch handed to a worker process
_PARALLEL_MIN_BYTES = 8 << 20  # smaller exports are read in this process (starting workers costs ~0.2 s)
_WORKER: dict[str, Any] = {}


class _Fallback(Exception):
    """The parallel reading met something only the one-process reader decides (see :func:`_normalise_parallel`)."""


def _worker_init(options: dict[str, Any]) -> None:
    # The objects inherited from the parent are never garbage here: keep the collector off them, or
    # each collection writes to all of them and the kernel copies their pages (+30% CPU measured).
    import gc

    gc.freeze()
    _WORKER.clear()
    _WORKER.update(options)


def _boundary_pattern(k1: bytes, k2: bytes) -> bytes:
    """The regex of an item boundary: ``}``, a comma, then the opening every task shares (``{"k1": <int>, "k2":``)."""
    k1, k2 = re.escape(k1), re.escape(k2)
    return (
        rb"\}" + _JWS + rb"," + _JWS + rb'(?=\{' + _JWS + rb'"' + k1 + rb'"' + _JWS + rb":" + _JWS + rb"-?[0-9]+"
        + _JWS + rb"," + _JWS + rb'"' + k2 + rb'"' + _JWS + rb":)"
    )


_MARGIN = 4096  # bytes read past a boundary before it is trusted (its lookahead must not be cut off)


def _range_items(fd: int, size: int, boundary: Any, start: int, end: int, first: bool) -> tuple[int, int, bytes] | None:
    """The items of the export whose boundary falls in ``[start, end)``: ``(offset, end offset, their bytes)``.

    An item belongs to the range that holds the ``}`` of the boundary before it (the first item:
    to the range that starts at it, ``first``). So the items start after the first boundary at or
    after ``start`` and end at the first boundary at or after ``end`` (read as far as needed), or
    at the closing ``]`` when there is none, which must then be followed by whitespace only. Both
    ranges that meet at a boundary find it with the same regex in the same bytes, each with at
    least :data:`_MARGIN` bytes read past it, so the ranges split the items exactly. None: nothing
    can be cut here (the caller falls back); empty bytes: no boundary in the range, its items belong
    to the range before.
    """
    data = b""

    def fill(upto: int) -> None:
        """Make ``data`` reach ``upto + _MARGIN`` bytes past ``start``, or the end of the file."""
        nonlocal data
        need = upto + _MARGIN - len(data)
        if need > 0 and start + len(data) < size:
            data += os.pread(fd, max(need, 1 << 16), start + len(data))

    def find(pos: int) -> Any:
        """The first boundary at or after ``pos`` (None: there is none before the end of the file)."""
        fill(pos)
        while True:
            m = boundary.search(data, pos)
            if start + len(data) >= size or (m is not None and m.start() + _MARGIN <= len(data)):
                return m
            if len(data) > end - start + _MAX_SPAN:
                raise _Fallback("no task boundary within 16 MB")
            fill(len(data))

    span = end - start
    fill(span)
    try:
        if first:
            lo = 0
        else:
            m = find(0)
            if m is None or m.start() >= span:
                return start, start, b""
            lo = m.end()
        m = find(max(lo, span))
    except _Fallback:
        return None
    if m is not None:
        hi = m.start() + 1
    else:
        body = data.rstrip(b" \t\n\r")
        if not body.endswith(b"]"):
            return None
        hi = len(body) - 1
        if not data[lo:hi].strip():
            return None  # "[..., ]" or "[ ]": for the exact reader
    return start + lo, start + hi, data[lo:hi]


def _worker_range(path: str, pattern: bytes, start: int, end: int, first: bool, confirmed: bool) -> tuple | None:
    """In a worker process: normalise the tasks of one byte range of the export with a fresh :class:`Normaliser`."""
    import resource

    opts = _WORKER
    if opts.get("path") != path:
        if "fd" in opts:
            os.close(opts["fd"])
        opts["fd"] = os.open(path, os.O_RDONLY)
        opts["size"] = os.fstat(opts["fd"]).st_size
        opts["path"] = path
    if opts.get("pattern") != pattern:
        opts["boundary"] = re.compile(pattern)
        opts["pattern"] = pattern
    cut = _range_items(opts["fd"], opts["size"], opts["boundary"], start, end, first)
    if cut is None:
        return None
    lo, hi, items = cut
    norm = Normaliser(opts["schema"], min_annotators=opts["min_annotators"], offsets=opts["offsets"],
                      source=opts["source"], team=opts["team"])
    norm._config_confirmed = confirmed
    # a range's ids and lead times all go back to the parent in _batch_state: none may move to disk here
    norm._seen.limit = norm._lead.limit = math.inf
    try:
        batch = b"[" + items + b"]"
        if first:  # the first task's checks (JSON_MIN, not tasks...) belong to the one-process reader
            head = next(_cut_batches(io.BytesIO(batch), _BATCH))[0]
            if head is None:
                return None
            _check_first_task(orjson.loads(head)[0], opts["source"])
        out = _run_batch(norm, batch, 0) if items else (0, b"", b"", b"", b"")
        if out is None:
            return None
        state = norm._batch_state()
    finally:
        norm.close()
    # the lines go to this worker's spool file; the parent copies them into place (os.copy_file_range)
    spool = opts.get("spool")
    if spool is None:
        spool = opts["spool"] = open(os.path.join(opts["spool_dir"], f".normalise-spool-{os.getpid()}"), "ab")
    at = spool.tell()
    for data in out[1:]:
        spool.write(data)
    spool.flush()
    ref = (spool.name, at, tuple(len(data) for data in out[1:]))
    return lo, hi, (out[0], ref), state, norm._index_used, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def default_workers() -> int:
    """Worker processes :func:`normalise_export` uses by default: the CPUs this process may run on, at most 4.

    Each worker adds about 10 MB of its own (measured: its range, its objects, the pages of this
    process it writes to); four keep a run under the 300 MB budget with everything else. More can
    be asked for (``workers=``).
    """
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 4))


def _start_pool(workers: int, norm_options: dict[str, Any]) -> Any:
    """A process pool of ``workers`` processes for :func:`_normalise_parallel`, its processes started.

    ``fork`` where the platform has it: the workers start at once, from the state of this
    process, without importing anything again (``spawn`` and ``forkserver`` would run the caller's
    script again unless it has an ``if __name__ == "__main__"`` guard). A first trivial job starts
    them all now, before any progress bar or reading thread exists, which must not be running
    when this process forks.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method), initializer=_worker_init,
                               initargs=(norm_options,))
    try:
        pool.submit(int).result()
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    return pool


def _first_item(reader: _CountingReader, bom: int) -> tuple[bytes, int]:
    """The item boundary pattern of this export and the byte where its first item starts."""
    head = reader.read(65536)  # (after the BOM, if any: bom bytes)
    m = re.compile(rb"\[" + _JWS).match(head, _skip_ws(head).end())
    opening = _OPENING.match(head, m.end()) if m else None
    if opening is None:
        raise _Fallback("the export does not open with a task the parallel reader can cut at")
    return _boundary_pattern(*opening.groups()), bom + m.end()


def _hash_in_thread(reader: _CountingReader) -> tuple[Any, list[BaseException]]:
    """Read the rest of the file through ``reader`` in a thread (the sha256 and the progress bar read it once)."""
    import threading

    failure: list[BaseException] = []

    def hash_rest() -> None:
        try:
            while reader.read(1 << 20):
                pass
        except BaseException as exc:  # pragma: no cover - reported by the caller
            failure.append(exc)

    hasher = threading.Thread(target=hash_rest, name="normalise-sha256", daemon=True)
    hasher.start()
    return hasher, failure


def _normalise_parallel(
    export_path: Path, reader: _CountingReader, bom: int, norm: Normaliser, write: Mapping[str, Any],
    copy: Mapping[str, Any], pool: Any, workers: int, info: dict[str, Any],
) -> None:
    """Normalise the export with a pool of ``workers`` processes; the same lines and state as one process.

    The export is split into byte ranges of :data:`_PARALLEL_BATCH` bytes; each worker reads its
    range itself (from the page cache), cuts it at task boundaries (:func:`_range_items`),
    normalises its tasks with a fresh Normaliser, writes their JSONL lines to its own spool file
    and sends back where they are, with its state.
    This process only hands out ranges, reads the whole file once in a thread for the sha256 and
    the progress bar, and takes the results back in order: it copies their lines into the output
    files (:func:`_copier`, in the kernel) and adds their state to ``norm`` (:meth:`Normaliser._absorb`). A worker cannot know two things: the task and
    segment ids of earlier ranges, and the position in the export of its first task. So the ids of
    each range are checked against all earlier ones (:meth:`_SeenKeys.add_batch`), and when one
    was already there, or when a message had to name a task by its position (a task without an
    id), the range is normalised again here, with ``norm`` itself, which then decides exactly as
    one process would. Anything else out of the ordinary (no task opening to cut at, a range that
    does not decode, a first item that is not a task, an error in a worker) raises
    :class:`_Fallback`: the caller starts again with one process, whose reader gives exact error
    positions. At most ``2 * workers`` ranges are in flight, so memory does not grow with the export.
    """
    from collections import deque

    stat = export_path.stat()
    size = stat.st_size
    pattern, first_item = _first_item(reader, bom)
    hasher, failure = _hash_in_thread(reader)
    peak = 0
    batches = index = reruns = last_end = 0
    pending: deque = deque()
    fd = reader.fileno()
    sources: dict[str, BinaryIO] = {}

    def take() -> None:
        nonlocal index, reruns, peak, batches, last_end
        job = pending.popleft()
        try:
            res = job.result()
        except Exception as exc:  # raised in the worker: the one-process reader says it properly
            raise _Fallback(f"a worker failed: {type(exc).__name__}: {exc}") from None
        if res is None:
            raise _Fallback("a range could not be cut or decoded")
        lo, hi, (n_tasks, (spool, at, sizes)), state, index_used, rss = res
        peak = max(peak, rss)
        if lo == hi and not n_tasks:
            return  # no task starts in this range
        # the ranges' items must follow one another with only a comma between them: then no item
        # was read twice or skipped, whatever the workers' cuts
        if lo != (first_item if not batches else _separated(fd, last_end, lo, _COMMA)):
            raise _Fallback("the ranges' items do not follow one another")
        last_end = hi
        batches += 1
        if index_used or not norm._seen.add_batch(state["task_ids"], state["segment_ids"]):
            reruns += 1
            with export_path.open("rb") as fh:
                fh.seek(lo)
                out = _run_batch(norm, b"[" + fh.read(hi - lo) + b"]", index)
            if out is None:  # pragma: no cover - it decoded in the worker
                raise _Fallback("a range did not decode")
            index += out[0]
            for name, data in zip(_LINE_FILES, out[1:]):
                if data:
                    write[name](data)
            return
        norm._absorb(state)
        _check_config(norm)
        index += n_tasks
        src = sources.get(spool)
        if src is None:
            src = sources[spool] = open(spool, "rb")
        for name, n in zip(_LINE_FILES, sizes):
            if n:
                copy[name](src, at, n)
            at += n

    try:
        for lo in range(first_item, size, _PARALLEL_BATCH):
            hi = min(lo + _PARALLEL_BATCH, size)
            pending.append(pool.submit(
                _worker_range, str(export_path), pattern, lo, hi, lo == first_item, norm._config_confirmed))
            while len(pending) >= 2 * workers or (pending and pending[0].done()):
                take()
        while pending:
            take()
        if not batches or _separated(fd, last_end, size, _CLOSING) != size:
            raise _Fallback("the last range does not end at the closing bracket")
        _check_config(norm, final=True)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # (their spool files go with their folder: normalise_export)
        for fh in sources.values():
            fh.close()
    hasher.join()
    if failure:  # pragma: no cover - a read error
        raise failure[0]
    after = export_path.stat()
    if (after.st_size, after.st_mtime_ns) != (stat.st_size, stat.st_mtime_ns) or reader.pos + bom != size:
        raise ExportError(f"{export_path}: the file changed while it was being read; normalise it again.")
    info.update(workers=workers, ranges=batches, ranges_rerun=reruns, worker_peak_rss_mb=round(peak / 1024, 1))


def _check_config(norm: Normaliser, *, final: bool = False) -> None:
    """:meth:`Normaliser._check_config` on the merged counts; its error is one for the one-process reader to give exactly."""
    try:
        norm._check_config(final=final)
    except SchemaError:
        raise _Fallback("results of another labelling config") from None


_COMMA = re.compile(_JWS + rb"," + _JWS)
_CLOSING = re.compile(_JWS + rb"\]" + _JWS)


def _separated(fd: int, start: int, end: int, separator: Any) -> int:
    """``end`` if the file's bytes ``[start, end)`` are exactly ``separator`` (whitespace around ``,`` or ``]``), else -1."""
    if end < start or end - start > 1 << 16:
        return -1
    return end if separator.fullmatch(os.pread(fd, end - start, start)) else -1


def _copier(fh: BinaryIO) -> Any:
    """``copy(src, offset, n)``: append ``n`` bytes of file ``src`` from ``offset`` to the buffered file ``fh``.

    In the kernel (``os.copy_file_range``) where it can, else read and written here.
    """
    def copy(src: BinaryIO, offset: int, n: int) -> None:
        fh.flush()
        out_fd, src_fd = fh.fileno(), src.fileno()
        while n:
            try:
                done = os.copy_file_range(src_fd, out_fd, n, offset)
            except (AttributeError, OSError):
                done = 0
            if not done:  # not supported here (or across file systems): copy through memory
                fh.write(os.pread(src_fd, n, offset))
                return
            offset += done
            n -= done

    return copy
