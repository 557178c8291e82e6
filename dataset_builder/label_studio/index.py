"""The segment index of a project: which tasks hold which ``segment_id``, read cheaply and kept honest.

Input
    A project on the server.
Output
    :class:`SegmentIndex`: ``segment_id -> [(task id, sha256 of the text, annotator ids)]`` in
    task id order, and the :class:`Stamp` of the project it was read at.

Why a cache: listing a project's tasks costs Label Studio 1.23.2 about 1 ms per task in its
data manager whatever fields are asked for (measured: 20,000 tasks in 21-27 s with
``include=id`` or ``include=id,data``, while importing them took 14 s), so a push that listed
the whole project each time cost more when it added nothing than when it imported everything.
The index is kept in a local cache file and used only while the server's stamp of the project
(task count, highest task id, submitted-annotation count; one request of one task) is the one
it was read at. Any task imported or deleted, by anyone from anywhere, changes the stamp (ids
are never reused), and the project is then listed again. The server stays the source of truth;
what the stamp does not see is an edit of a task's text in place.

Invariants
    * The cache file holds no secret (no key, no URL user info); it is named by a hash of the
      server URL, the project id and the project's creation time.
    * Concurrent pushes converge (:func:`remove_duplicates`): of the tasks of one segment the
      one with the lowest id stays; later ones created since the push began are deleted, so every
      pusher that looks deletes the same ones.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .client import _Session
from .tasks import _text_digest

CACHE_ENV = "DATASET_BUILDER_CACHE"
"""Folder of the index cache (default ``~/.cache/dataset-builder``)."""

_Entry = tuple[int, str, tuple[int, ...]]
"""One task of a segment: ``(task id, sha256 of its text, ids of the users who annotated it)``."""


@dataclass(frozen=True)
class Stamp:
    """What one cheap request says of a project; it changes whenever a task is added or deleted."""

    total: int
    max_id: int
    annotations: int


@dataclass
class SegmentIndex:
    """``segment_id -> [(task id, text digest, annotator ids)]`` of a project, as of ``stamp``."""

    project_id: int
    stamp: Stamp
    tasks: dict[str, list[_Entry]] = field(default_factory=dict)

    def digest(self, sid: str) -> str | None:
        entries = self.tasks.get(sid)
        return entries[0][1] if entries else None

    def task_id(self, sid: str) -> int | None:
        entries = self.tasks.get(sid)
        return entries[0][0] if entries else None

    def annotated_by(self, sid: str, user_id: int) -> bool:
        entries = self.tasks.get(sid)
        return bool(entries) and user_id in entries[0][2]

    def add_annotator(self, sid: str, user_id: int) -> None:
        """Record an annotation by ``user_id`` on the (first) task of ``sid``."""
        tid, digest, who = self.tasks[sid][0]
        self.tasks[sid][0] = (tid, digest, tuple(sorted({*who, user_id})))

    def add(self, sid: str, task_id: int, digest: str, annotators: Iterable[int] = ()) -> None:
        self.tasks.setdefault(sid, []).append((task_id, digest, tuple(annotators)))
        self.tasks[sid].sort()

    def to_json(self) -> dict[str, Any]:
        return {"project_id": self.project_id, "stamp": [self.stamp.total, self.stamp.max_id, self.stamp.annotations],
                "tasks": [[sid, tid, dig, list(who)] for sid, entries in self.tasks.items() for tid, dig, who in entries]}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "SegmentIndex":
        index = cls(project_id=int(obj["project_id"]), stamp=Stamp(*map(int, obj["stamp"])))
        for sid, tid, dig, who in obj["tasks"]:
            index.tasks.setdefault(str(sid), []).append((int(tid), str(dig), tuple(int(w) for w in who)))
        for entries in index.tasks.values():
            entries.sort()
        return index


def project_stamp(s: _Session, project_id: int) -> Stamp:
    """The project's task count, highest task id and submitted-annotation count (one request, one task)."""
    pager = s.call("check project tasks", s.client.tasks.list, project=project_id, fields="task_only", include="id",
                   page_size=1, resolve_uri=False, query=json.dumps({"ordering": ["-tasks:id"]}))
    items = pager.items or []
    resp = pager.response
    return Stamp(total=int(getattr(resp, "total", 0) or 0), max_id=int(items[0].id) if items else 0,
                 annotations=int(getattr(resp, "total_annotations", 0) or 0))


def list_index(s: _Session, project_id: int, page_size: int = 5000) -> SegmentIndex:
    """Read the index from the server: every task's id, ``data.segment_id``, text digest, annotators.

    The stamp is read first, so a task added while listing makes the next use list again.
    """
    stamp = project_stamp(s, project_id)

    def read(request_options: Any) -> SegmentIndex:
        index = SegmentIndex(project_id=project_id, stamp=stamp)
        # review=true: the server computes the annotator ids (a GROUP BY) instead of sending annotations
        for task in s.client.tasks.list(project=project_id, fields="task_only", include="id,data,annotators",
                                        review=True, resolve_uri=False, page_size=page_size,
                                        request_options=request_options):
            data = task.data or {}
            sid = data.get("segment_id")
            if isinstance(sid, str):
                who = getattr(task, "annotators", None) or ()
                index.add(sid, int(task.id), _text_digest(str(data.get("text", ""))), (int(w) for w in who))
        return index

    # The whole listing is retried, not one page: a half-read listing is never used.
    return s.call("list tasks", read)


def _cache_file(s: _Session, project: Any) -> Path:
    root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "dataset-builder")
    key = f"{s.conn.safe_url}\x1f{project.id}\x1f{getattr(project, 'created_at', '')}"
    return root / "label-studio-index" / f"{hashlib.sha256(key.encode('utf-8')).hexdigest()[:24]}.json"


def load_index(s: _Session, project: Any) -> SegmentIndex:
    """The project's index: empty for an empty project, the cached one while the stamp matches, else listed."""
    stamp = project_stamp(s, project.id)
    if stamp.total == 0:
        return SegmentIndex(project_id=project.id, stamp=stamp)
    path = _cache_file(s, project)
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        cached = SegmentIndex.from_json(json.loads(path.read_text(encoding="utf-8")))
        if cached.project_id == project.id and cached.stamp == stamp:
            return cached
    index = list_index(s, project.id)
    save_index(s, project, index)
    return index


def save_index(s: _Session, project: Any, index: SegmentIndex) -> None:
    """Write the index to the cache (atomically; a cache that cannot be written is only a slower next push)."""
    path = _cache_file(s, project)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{id(index)}")
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(index.to_json(), separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, path)
    with contextlib.suppress(OSError):
        tmp.unlink(missing_ok=True)


def remove_duplicates(s: _Session, index: SegmentIndex, segment_ids: Iterable[str], since_id: int) -> set[int]:
    """Delete the later tasks of each segment of ``segment_ids`` that has several; returns the ids deleted.

    Of the tasks of one segment the lowest id stays. Only tasks created after ``since_id`` (the
    highest task id when this push began) are deleted: two pushes that raced each delete the same
    later copies, and a task that was there before the push is never touched.
    """
    doomed = sorted(tid for sid in set(segment_ids) for tid, _d, _w in index.tasks.get(sid, ())[1:] if tid > since_id)
    if doomed:
        # Deleting a selection is idempotent (ids already gone are ignored), so it may be resent.
        s.call(f"delete {len(doomed)} duplicate task(s)", s.client.actions.create, id="delete_tasks",
               project=index.project_id, selected_items={"all": False, "included": doomed})
        gone = set(doomed)
        for sid in list(index.tasks):
            index.tasks[sid] = [e for e in index.tasks[sid] if e[0] not in gone]
    return set(doomed)
