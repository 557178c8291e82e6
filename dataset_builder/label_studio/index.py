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

Without the cache (another machine, a new clone), the server itself says whether a push has
anything to do: after each push the project's newest task carries, in its ``meta``, a *note*
(:data:`NOTE_KEY`) with the stamp it was written at and the sha256 of the project's
``(segment_id, text digest)`` pairs (and, per annotator, of the segment ids they annotated). The
stamp request reads it with no extra cost; when the stamp is still the note's and a push's own
segments hash to the note's value, the project holds exactly those segments with those texts,
once each, and nothing is listed (the annotation count matters only to a push that needs to know
who annotated what: annotations submitted since the note do not make a push of segments list the
project, nor rewrite the note, so a no-op push leaves the export byte for byte as it was). Anything else (a stale or missing note, another set of
segments) lists the project as before. The note is only written from an index that matches its
stamp exactly (as many entries as tasks, the newest one included), so a note is never ahead of
the server; it is an optimisation, never the source of truth.

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

from ..errors import LabelStudioError
from .client import _Session
from .tasks import _text_digest

CACHE_ENV = "DATASET_BUILDER_CACHE"
"""Folder of the index cache (default ``~/.cache/dataset-builder``)."""

NOTE_KEY = "dataset_builder_index"
"""Key of the note in the ``meta`` of a project's newest task (see the module's docstring)."""

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
    ids_known: bool = True  # False: built from the server's note, which holds no task ids (never cached)
    newest: tuple[int, dict[str, Any]] = (0, {})  # (id, whole meta) of the newest task when the stamp was read

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

    def matches_stamp(self) -> bool:
        """As many entries as the stamp has tasks, the newest among them: the index is the project at its stamp."""
        ids = [tid for entries in self.tasks.values() for tid, _d, _w in entries]
        return self.ids_known and len(ids) == self.stamp.total and max(ids, default=0) == self.stamp.max_id

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
    return _stamp_and_meta(s, project_id)[0]


def _stamp_and_meta(s: _Session, project_id: int) -> tuple[Stamp, dict[str, Any]]:
    """:func:`project_stamp` and the ``meta`` of the newest task (where the note is), in the same request."""
    pager = s.call("check project tasks", s.client.tasks.list, project=project_id, fields="task_only",
                   include="id,meta", page_size=1, resolve_uri=False, query=json.dumps({"ordering": ["-tasks:id"]}))
    items = pager.items or []
    resp = pager.response
    meta = getattr(items[0], "meta", None) if items else None
    stamp = Stamp(total=int(getattr(resp, "total", 0) or 0), max_id=int(items[0].id) if items else 0,
                  annotations=int(getattr(resp, "total_annotations", 0) or 0))
    return stamp, dict(meta) if isinstance(meta, dict) else {}


def _set_digest(lines: Iterable[str]) -> str:
    """sha256 of a set of lines, whatever their order."""
    h = hashlib.sha256()
    for line in sorted(lines):
        h.update(line.encode("utf-8") + b"\n")
    return h.hexdigest()


def _make_note(index: SegmentIndex) -> dict[str, Any]:
    """The note for ``index``: its stamp, the digest of its (segment, text) pairs, and who annotated which."""
    by_user: dict[int, list[str]] = {}
    for sid, entries in index.tasks.items():
        for _tid, _dig, who in entries:
            for uid in who:
                by_user.setdefault(uid, []).append(sid)
    st = index.stamp
    return {"v": 1, "stamp": [st.total, st.max_id, st.annotations],
            "tasks": _set_digest(f"{sid}\x1f{dig}" for sid, entries in index.tasks.items() for _t, dig, _w in entries),
            "annotated": {str(uid): _set_digest(sids) for uid, sids in sorted(by_user.items())}}


def _from_note(project_id: int, stamp: Stamp, note: Any, expect: Iterable[tuple[str, str]],
               annotated: tuple[int, Iterable[str]] | None) -> SegmentIndex | None:
    """The index the server's note vouches for, when the project holds exactly the ``expect`` segments; else None.

    ``expect``: ``(segment_id, text digest)`` of every segment of the push (each id once); ``annotated``:
    ``(user id, segment ids)`` when the push also needs to know that this user annotated exactly these.
    """
    if not isinstance(note, dict) or note.get("v") != 1 or not isinstance(note.get("stamp"), list):
        return None
    # a push of segments only needs the tasks to be the note's (annotations submitted since do not
    # matter to it, so the note is not rewritten and the export keeps its bytes); one that also
    # needs who annotated what needs the annotation count to be the note's too
    if note["stamp"][:2] != [stamp.total, stamp.max_id] or (
            annotated is not None and note["stamp"] != [stamp.total, stamp.max_id, stamp.annotations]):
        return None
    pairs = dict(expect)
    if len(pairs) != stamp.total or _set_digest(f"{sid}\x1f{dig}" for sid, dig in pairs.items()) != note.get("tasks"):
        return None
    who: set[str] = set()
    uid = 0
    if annotated is not None:
        uid, sids = annotated
        who = set(sids)
        theirs = (note.get("annotated") or {}).get(str(uid))
        if (theirs or _set_digest(())) != _set_digest(who):
            return None
    index = SegmentIndex(project_id=project_id, stamp=stamp, ids_known=False, newest=(stamp.max_id, {NOTE_KEY: note}))
    for sid, dig in pairs.items():
        index.tasks[sid] = [(0, dig, (uid,) if sid in who else ())]
    return index


def list_index(s: _Session, project_id: int, page_size: int = 5000) -> SegmentIndex:
    """Read the index from the server: every task's id, ``data.segment_id``, text digest, annotators.

    The stamp is read first, so a task added while listing makes the next use list again.
    """
    stamp, meta = _stamp_and_meta(s, project_id)

    def read(request_options: Any) -> SegmentIndex:
        index = SegmentIndex(project_id=project_id, stamp=stamp, newest=(stamp.max_id, meta))
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


def load_index(s: _Session, project: Any, expect: Iterable[tuple[str, str]] | None = None,
               annotated: tuple[int, Iterable[str]] | None = None) -> SegmentIndex:
    """The project's index: empty for an empty project, vouched by the note, cached while the stamp holds, or listed.

    First (it is cheaper than reading a large cache file), ``expect`` (``(segment_id, text digest)`` of the
    push's segments) and ``annotated`` (``(user id, segment ids)`` that user should have annotated)
    are checked against the server's note (see the module's docstring): when the project holds
    exactly these, the index comes from them (without task ids: enough to see there is nothing to
    do) and nothing is read or listed.
    """
    stamp, meta = _stamp_and_meta(s, project.id)
    if stamp.total == 0:
        return SegmentIndex(project_id=project.id, stamp=stamp)
    if expect is not None:  # checked first: cheaper than reading a large cache file
        vouched = _from_note(project.id, stamp, meta.get(NOTE_KEY), expect, annotated)
        if vouched is not None:
            return vouched
    path = _cache_file(s, project)
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        cached = SegmentIndex.from_json(json.loads(path.read_text(encoding="utf-8")))
        if cached.project_id == project.id and cached.stamp == stamp:
            cached.newest = (stamp.max_id, meta)
            return cached
    index = list_index(s, project.id)
    save_index(s, project, index)
    return index


def save_index(s: _Session, project: Any, index: SegmentIndex) -> None:
    """Write the index to the cache (atomically; a cache that cannot be written is only a slower next push).

    When the index is the project at its stamp (:meth:`SegmentIndex.matches_stamp`), the note on
    the newest task is brought up to date too (best effort: a note not written is only a listing
    on the next push without the cache).
    """
    if not index.ids_known:
        return
    _write_note(s, index)
    path = _cache_file(s, project)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{id(index)}")
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(index.to_json(), separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, path)
    with contextlib.suppress(OSError):
        tmp.unlink(missing_ok=True)


def _write_note(s: _Session, index: SegmentIndex) -> None:
    """Put the index's note on the project's newest task (its other ``meta`` kept), unless it is there already."""
    if not index.matches_stamp():
        return
    note = _make_note(index)
    newest_id, newest_meta = index.newest
    if newest_id != index.stamp.max_id:
        newest_meta = {}  # the newest task is one this push imported (stamp as expected): it has no meta
    elif newest_meta.get(NOTE_KEY) == note:
        return
    meta = {**newest_meta, NOTE_KEY: note}
    with contextlib.suppress(LabelStudioError):
        s.call_once("note the project's index", s.client.tasks.update, id=str(index.stamp.max_id), meta=meta)
    index.newest = (index.stamp.max_id, meta)


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
