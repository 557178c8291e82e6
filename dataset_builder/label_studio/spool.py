"""A push's tasks, serialised once into a temporary file and read back batch by batch.

A push reads its input once: each valid row becomes a task, which goes here as compact JSON,
while the push keeps only ``(where, segment id, text digest, spool number)`` per row. The
batches it imports are read back as bytes and sent as they are (no second encoding), so a
push's memory does not hold the tasks' texts, whatever the number of tasks.
"""

from __future__ import annotations

import json
import tempfile
from array import array
from typing import Any, Iterable, Mapping


def task_json(task: Mapping[str, Any]) -> bytes:
    """The task as compact JSON (ASCII: any code point, lone surrogates too, is escaped)."""
    return json.dumps(task, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode("ascii")


def json_list(bodies: Iterable[bytes]) -> bytes:
    """``[body, body, ...]``: a JSON list of already-serialised items."""
    return b"[" + b",".join(bodies) + b"]"


class TaskSpool:
    """Append-only store of serialised tasks in an anonymous temporary file (gone when closed).

    ``add`` returns the task's number; ``body`` and ``task`` read it back. Only two integers per
    task stay in memory.
    """

    def __init__(self) -> None:
        self._fh = tempfile.TemporaryFile(prefix="dataset-builder-push-")
        self._offsets = array("q")
        self._lengths = array("q")
        self._end = 0

    def __len__(self) -> int:
        return len(self._offsets)

    def add(self, task: Mapping[str, Any]) -> int:
        body = task_json(task)
        self._fh.seek(self._end)
        self._fh.write(body)
        self._offsets.append(self._end)
        self._lengths.append(len(body))
        self._end += len(body)
        return len(self._offsets) - 1

    def body(self, number: int) -> bytes:
        self._fh.seek(self._offsets[number])
        return self._fh.read(self._lengths[number])

    def task(self, number: int) -> dict[str, Any]:
        return json.loads(self.body(number))

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> "TaskSpool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
