"""Bounded stores: the state of a normalise run that grows with the export, moved to disk when large.

Input
    Task ids and segment ids (for exact duplicate detection) and each annotator's lead times (for
    an exact median), one task at a time or a batch of them (from a worker process).
Output
    Whether a key was new (:class:`_SeenKeys`), the median (:class:`_LeadTimes`).
Invariants
    Memory is bounded: up to :data:`_SEEN_IN_MEMORY` task ids / :data:`_LEAD_IN_MEMORY` lead
    times in Python containers, then everything moves to an SQLite file in a temporary folder
    (:class:`_Spill`) that :meth:`_Spill.close` deletes. The answers are the same either way.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import statistics
import tempfile
from array import array
from pathlib import Path
from typing import Sequence

# Task ids (and as many segment ids) kept in Python sets before they move to SQLite (~18 MB here)
_SEEN_IN_MEMORY = 100_000
# Lead times kept in memory before they move to SQLite (8 bytes each)
_LEAD_IN_MEMORY = 250_000


class _Spill:
    """An SQLite database in a temporary folder, made on first use, for state that outgrows memory.

    One uncommitted transaction without a journal (nothing needs to survive the run, and nothing
    is ever rolled back); SQLite keeps a page cache of 8 MB and sorts on disk, so memory stays
    flat whatever goes in. :meth:`close` deletes it.
    """

    def __init__(self, directory: str | Path | None) -> None:
        self.directory = directory
        self.db: sqlite3.Connection | None = None
        self._folder: str | None = None

    def connect(self) -> sqlite3.Connection:
        if self.db is None:
            if self.directory is not None:
                Path(self.directory).mkdir(parents=True, exist_ok=True)
            self._folder = tempfile.mkdtemp(prefix=".normalise-spill-", dir=self.directory)
            self.db = sqlite3.connect(os.path.join(self._folder, "spill.sqlite"), isolation_level=None)
            for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-8192", "temp_store=FILE"):
                self.db.execute(f"PRAGMA {pragma}")
            self.db.execute("BEGIN")
        return self.db

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


class _SeenKeys:
    """Exact duplicate detection for task ids and segment ids, in Python sets, then in SQLite.

    Up to :data:`_SEEN_IN_MEMORY` task ids the keys are in two sets (about 130 bytes a task);
    past that they all move to two SQLite tables (primary keys, ``INSERT OR IGNORE``), about
    4 microseconds a task more, with flat memory.
    """

    def __init__(self, spill: _Spill, limit: float | None = None) -> None:
        self._tasks: set[int] = set()
        self._segments: set[str] = set()
        self._spill = spill
        self._db: sqlite3.Connection | None = None
        self.limit = _SEEN_IN_MEMORY if limit is None else limit

    def add_task(self, task_id: int) -> bool:
        """Remember ``task_id``; False if it was already there."""
        if self._db is None:
            if task_id in self._tasks:
                return False
            self._tasks.add(task_id)
            if len(self._tasks) > self.limit:
                self._move()
            return True
        return self._db.execute("INSERT OR IGNORE INTO task VALUES (?)", (str(task_id),)).rowcount == 1

    def add_segment(self, segment_id: str) -> bool:
        """Remember ``segment_id``; False if it was already there."""
        if self._db is None:
            if segment_id in self._segments:
                return False
            self._segments.add(segment_id)
            return True
        return self._db.execute("INSERT OR IGNORE INTO segment VALUES (?)", (segment_id,)).rowcount == 1

    def add_batch(self, task_ids: Sequence[int], segment_ids: Sequence[str]) -> bool:
        """Remember all of them if none was there yet (each list has no repeats) and say True; else add nothing."""
        if self._db is None:
            if not self._tasks.isdisjoint(task_ids) or not self._segments.isdisjoint(segment_ids):
                return False
            self._tasks.update(task_ids)
            self._segments.update(segment_ids)
            if len(self._tasks) > self.limit:
                self._move()
            return True
        db = self._db
        tasks = [str(t) for t in task_ids]
        for table, keys in (("task", tasks), ("segment", segment_ids)):
            for i in range(0, len(keys), 500):  # (no ROLLBACK without a journal: look before adding)
                part = keys[i : i + 500]
                found = db.execute(f"SELECT 1 FROM {table} WHERE k IN ({','.join('?' * len(part))}) LIMIT 1", part)
                if found.fetchone() is not None:
                    return False
        db.executemany("INSERT INTO task VALUES (?)", [(t,) for t in tasks])
        db.executemany("INSERT INTO segment VALUES (?)", [(k,) for k in segment_ids])
        return True

    def tasks_in_memory(self) -> list[int]:
        return list(self._tasks)

    def segments_in_memory(self) -> list[str]:
        return list(self._segments)

    def _move(self) -> None:
        db = self._db = self._spill.connect()
        db.execute("CREATE TABLE task (k TEXT PRIMARY KEY) WITHOUT ROWID")
        db.execute("CREATE TABLE segment (k TEXT PRIMARY KEY) WITHOUT ROWID")
        db.executemany("INSERT INTO task VALUES (?)", [(str(t),) for t in self._tasks])
        db.executemany("INSERT INTO segment VALUES (?)", [(s,) for s in self._segments])
        self._tasks, self._segments = set(), set()


class _LeadTimes:
    """Each annotator's lead times, for an exact median: arrays up to :data:`_LEAD_IN_MEMORY`, then SQLite."""

    def __init__(self, spill: _Spill, limit: float | None = None) -> None:
        self._mem: dict[str, array] = {}
        self._n = 0
        self._spill = spill
        self._db: sqlite3.Connection | None = None
        self.limit = _LEAD_IN_MEMORY if limit is None else limit

    def add(self, annotator: str, value: float) -> None:
        self.extend(annotator, (value,))

    def extend(self, annotator: str, values: Sequence[float]) -> None:
        if self._db is None:
            mine = self._mem.get(annotator)
            if mine is None:
                mine = self._mem[annotator] = array("d")
            mine.extend(values)
            self._n += len(values)
            if self._n > self.limit:
                self._move()
        else:
            self._db.executemany("INSERT INTO lead VALUES (?, ?)", [(annotator, v) for v in values])

    def in_memory(self) -> dict[str, array]:
        return self._mem

    def median(self, annotator: str) -> float | None:
        """``statistics.median`` of the annotator's lead times (None without any)."""
        if self._db is None:
            values = self._mem.get(annotator)
            return statistics.median(values) if values else None
        (n,) = self._db.execute("SELECT count(*) FROM lead WHERE a = ?", (annotator,)).fetchone()
        if not n:
            return None
        mid = [v for (v,) in self._db.execute(
            "SELECT v FROM lead WHERE a = ? ORDER BY v LIMIT ? OFFSET ?", (annotator, 2 - n % 2, (n - 1) // 2)
        )]
        return mid[0] if n % 2 else (mid[0] + mid[1]) / 2

    def _move(self) -> None:
        db = self._db = self._spill.connect()
        db.execute("CREATE TABLE lead (a TEXT, v REAL)")
        for annotator, values in self._mem.items():
            db.executemany("INSERT INTO lead VALUES (?, ?)", [(annotator, v) for v in values])
        self._mem = {}


# --------------------------------------------------------------------------------------------
# The normaliser
# --------------------------------------------------------------------------------------------

