"""Push a corpus: segments with the labels of an existing corpus, as annotations or pre-annotations.

Tasks are built as :mod:`.push` builds them and carry their labels in the same ``import_tasks``
requests (one request per batch, not one per annotation).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from ..errors import DatasetBuilderError, InputError, LabelStudioError, SchemaError
from ..records import Rejection
from ..schema import LabelSchema, load_schema
from .annotations import ensure_users
from .client import RetryPolicy, _Session, _session
from .connection import Connection
from .index import SegmentIndex, load_index, project_stamp, save_index
from .projects import ProjectInfo, _ensure_project
from .push import (
    PushReport,
    PushStopped,
    _count_batch,
    _import_in_batches,
    _new_segment,
    _Pending,
    _Progress,
    _settle_after_import,
    _split_existing,
)
from .spool import TaskSpool
from .tasks import TARGET_MODEL_VERSION, _target_region, _text_digest, prediction_result, task_data, with_context


@dataclass(frozen=True)
class CorpusPushReport:
    """What :func:`push_corpus` did: the tasks (``push``) and the corpus labels they carry.

    For the labels: ``labels_read == with_new_tasks + added_to_existing + already_present +
    skipped``, where ``skipped`` counts labels not sent: of rejected rows, empty pre-annotations,
    and pre-annotations for tasks that were already there (as ``push`` does, predictions go
    with new tasks only).
    """

    push: PushReport
    mode: str
    annotator: str  # e-mail of the source annotator (annotations) or the model_version (predictions)
    annotator_id: int | None
    ground_truth: bool | None
    labels_read: int
    with_new_tasks: int
    added_to_existing: int
    already_present: int
    skipped: int

    def __post_init__(self) -> None:
        total = self.with_new_tasks + self.added_to_existing + self.already_present + self.skipped
        if self.labels_read != total:
            raise DatasetBuilderError(f"CorpusPushReport does not add up: labels read {self.labels_read} != {total}.")

    def to_dict(self) -> dict[str, Any]:
        return {**self.push.to_dict(), "mode": self.mode, "annotator": self.annotator,
                "annotator_id": self.annotator_id, "ground_truth": self.ground_truth,
                "labels_read": self.labels_read, "labels_with_new_tasks": self.with_new_tasks,
                "labels_added_to_existing_tasks": self.added_to_existing,
                "labels_already_present": self.already_present, "labels_skipped": self.skipped}

def push_corpus(
    conn: Connection,
    segments: Iterable[Mapping[str, Any]],
    labels: Mapping[str, Mapping[str, Any]],
    config: str | Path | LabelSchema,
    *,
    project_title: str | None = None,
    mode: str = "annotations",
    annotator: str = "corpus-gold@localhost",
    model_version: str | None = None,
    ground_truth: bool = True,
    annotators: int | None = None,
    batch_size: int = 5000,
    retry: RetryPolicy | None = None,
    on_batch: Callable[[int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> CorpusPushReport:
    """Push segments with labels from an existing corpus, as annotations or as pre-annotations.

    Tasks are built as :func:`push_segments` builds them (same data, same target pre-mark) and
    carry ``labels[segment_id]`` (a row of :func:`prediction_result`: ``entities``/``stances``,
    code points) in the same ``import_tasks`` request: one request per ``batch_size`` tasks,
    not one per annotation. An empty label row is an annotation with no region (the corpus says
    "nothing here"), which normalise turns into gold with no entity.

    ``mode="annotations"``: each label row is an annotation ``completed_by`` the user ``annotator``
    (an e-mail; created if missing) with ``ground_truth`` as given (Label Studio 1.23.2 marks an
    imported annotation ground truth unless told otherwise, so it is always sent explicitly).
    ``mode="predictions"``: a prediction with ``model_version`` (default: ``annotator``).

    ``annotators``: how many different annotators Label Studio's stream gives each task to (as
    :func:`push_segments`; None leaves the project's setting alone).

    Idempotent like :func:`push_segments`: segments already in the project are not imported again;
    in annotations mode such a task gets the annotation (one API call each) unless ``annotator``
    already has one on it.

    Raises
    ------
    LabelStudioError
        As :func:`push_segments`.
    ValueError
        Bad ``mode`` or ``batch_size``.
    """
    if mode not in ("annotations", "predictions"):
        raise ValueError(f"The 'mode' parameter of push_corpus must be one of annotations, predictions. Got {mode!r} instead.")
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"The 'batch_size' parameter of push_corpus must be an int >= 1. Got {batch_size!r} instead.")
    schema = config if isinstance(config, LabelSchema) else load_schema(config)
    title = project_title or schema.name
    version = model_version or annotator
    uid = ensure_users(conn, [annotator])[annotator] if mode == "annotations" else None
    with TaskSpool() as spool:
        run = _CorpusPush(schema=schema, labels=labels, mode=mode, uid=uid, version=version,
                          ground_truth=ground_truth, spool=spool)
        run.plan(segments)

        if not run.read:
            raise InputError("no segment rows given; nothing pushed and no project created.")
        project: ProjectInfo | None = None
        try:
            with _session(conn, retry=retry, sleep=sleep) as s:
                project = _ensure_project(s, schema, title, annotators=annotators)
                index = load_index(s, project, expect=((p.sid, p.digest) for p in run.pending),
                                   annotated=(uid, run.carries) if mode == "annotations" and uid else None)
                todo, present, conflicting = _split_existing(index, project.id, run.pending, run.rejections)
                run.tasks.already = len(present)
                run.skipped += sum(1 for sid in conflicting if sid in labels)
                on_existing = [sid for sid in present if sid in labels]
                if on_batch is not None and run.read - len(todo):
                    on_batch(run.read - len(todo))
                run.import_new(s, project.id, todo, batch_size, on_batch)
                index = run.settle(s, project, index)
                if on_existing and mode == "annotations":
                    run.annotate_existing(s, project, index, on_existing)
                else:
                    run.skipped += len(on_existing)
        except LabelStudioError as exc:
            if project is None:
                raise
            raise PushStopped(str(exc), run.push_report(project, title, error=str(exc))) from None
        return run.report(project, title, annotator)


@dataclass
class _CorpusPush:
    """One run of :func:`push_corpus`: its settings, the tasks it builds, and the counts it reports."""

    schema: LabelSchema
    labels: Mapping[str, Mapping[str, Any]]
    mode: str
    uid: int | None  # the annotator's user id (annotations mode)
    version: str  # model_version of the predictions (predictions mode)
    ground_truth: bool
    spool: TaskSpool  # the planned tasks, serialised (see :mod:`.spool`)
    pending: list[_Pending] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # segment id -> annotation result
    carries: set[str] = field(default_factory=set)  # segment ids whose task carries the corpus label
    read: int = 0
    labelled: int = 0
    tasks: _Progress = field(default_factory=_Progress)  # the tasks' counts (PushReport's)
    with_new: int = 0
    added: int = 0
    labels_present: int = 0  # labels already there (CorpusPushReport.already_present)
    skipped: int = 0

    def plan(self, segments: Iterable[Mapping[str, Any]]) -> None:
        """Build a task for each valid row into ``pending``; refused rows go to ``rejections``."""
        seen: dict[str, str] = {}
        for i, row in enumerate(with_context(segments), start=1):
            self.read += 1
            where = f"row {i}"
            sid = row.get("id")
            has_label = isinstance(sid, str) and sid in self.labels
            self.labelled += has_label
            seg = _new_segment(row, where, seen, self.rejections)
            if seg is None:
                self.skipped += has_label
                continue
            try:
                data = task_data(self.schema, seg, row)
                result = prediction_result(self.schema, seg.id, seg.text, self.labels[seg.id]) if has_label else []
            except SchemaError as exc:
                self.rejections.append(Rejection("push", where, "invalid_labels" if has_label else "missing_target",
                                                 str(exc)))
                self.skipped += has_label
                continue
            task = self._task(seg.id, data, result, has_label)
            self.pending.append(_Pending(where, seg.id, _text_digest(data["text"]), self.spool.add(task)))

    def _task(self, sid: str, data: dict[str, Any], result: list[dict[str, Any]], has_label: bool) -> dict[str, Any]:
        """The task for one segment, with its label as an annotation or a prediction, and the target pre-mark."""
        schema = self.schema
        task: dict[str, Any] = {"data": data}
        target = [_target_region(schema, sid, data)] if schema.has_target and schema.target_from_name else []
        if self.mode == "annotations":
            if target:
                task["predictions"] = [{"model_version": TARGET_MODEL_VERSION, "result": target}]
            if has_label:
                # what an annotator's submission of a pre-marked task holds: the target region too
                self.results[sid] = target + result
                task["annotations"] = [{"result": self.results[sid], "completed_by": self.uid,
                                        "ground_truth": self.ground_truth}]
                self.carries.add(sid)
        elif result:
            task["predictions"] = [{"model_version": self.version, "result": target + result}]
            self.carries.add(sid)
        elif target:
            task["predictions"] = [{"model_version": TARGET_MODEL_VERSION, "result": target}]
        return task

    def __post_init__(self) -> None:
        self.tasks.rejections = self.rejections  # one list: the rows refused, whoever refuses them

    def import_new(self, s: _Session, project_id: int, todo: list[_Pending], batch_size: int,
                   on_batch: Callable[[int], None] | None) -> None:
        """Import the new tasks in batches, counting the labels they carried in."""
        for batch, done, bad, found, ids in _import_in_batches(s, project_id, todo, batch_size, self.rejections,
                                                               self.spool):
            _count_batch(self.tasks, done, bad, found, ids)
            done_ids = {p.sid for p in done}
            self.with_new += len(done_ids & self.carries)
            # an empty pre-annotation
            self.skipped += sum(1 for sid in done_ids if sid in self.labels and sid not in self.carries)
            not_done = sum(1 for p in batch if p.sid not in done_ids and p.sid in self.labels)
            if bad:
                self.skipped += not_done  # the server refused the batch (rejections say why)
            else:
                self.labels_present += not_done  # imported, with its label, by an attempt whose answer was lost
            if on_batch is not None:
                on_batch(len(batch))

    def settle(self, s: _Session, project: ProjectInfo, index: SegmentIndex) -> SegmentIndex:
        """Converge with concurrent pushes (see :func:`~.push._settle_after_import`); returns the index now."""
        annotated = {sid: (self.uid,) for sid in self.carries} if self.mode == "annotations" and self.uid else {}
        carried = self.with_new if annotated else 0
        index, removed = _settle_after_import(s, project, index, self.tasks, [p.sid for p in self.pending],
                                              annotations=carried, annotators=annotated)
        moved = len(removed & self.carries)  # another push's copy, with the same label, stays
        self.with_new -= moved
        self.labels_present += moved
        return index

    def annotate_existing(self, s: _Session, project: ProjectInfo, index: SegmentIndex, on_existing: list[str]) -> None:
        """Add the annotation to tasks that were already there, unless the annotator has one on it."""
        assert self.uid is not None
        made: list[str] = []
        for sid in on_existing:
            task_id = index.task_id(sid)
            if index.annotated_by(sid, self.uid):
                self.labels_present += 1
                continue
            # Not resent automatically (a resend could make two annotations); running again resumes.
            s.call_once(f"create annotation on task {task_id}", s.client.annotations.create, id=task_id,
                        result=self.results[sid], completed_by=self.uid, ground_truth=self.ground_truth)
            self.added += 1
            made.append(sid)
        if made:
            stamp = dataclasses.replace(index.stamp, annotations=index.stamp.annotations + len(made))
            if project_stamp(s, project.id) == stamp:
                for sid in made:
                    index.add_annotator(sid, self.uid)
                index.stamp = stamp
                save_index(s, project, index)

    def push_report(self, project: ProjectInfo, title: str, error: str | None = None) -> PushReport:
        t = self.tasks
        return PushReport(
            project_id=project.id, project_title=title, project_created=project.created,
            config_name=self.schema.name, read=self.read, already_present=t.already,
            imported=t.imported, failed=t.failed, predictions=0 if self.mode == "annotations" else self.with_new,
            rejections=tuple(self.rejections), not_pushed=self.read - t.settled if error else 0, error=error,
            duplicates_removed=t.duplicates_removed,
        )

    def report(self, project: ProjectInfo, title: str, annotator: str) -> CorpusPushReport:
        annotations = self.mode == "annotations"
        return CorpusPushReport(
            push=self.push_report(project, title), mode=self.mode, annotator=annotator if annotations else self.version,
            annotator_id=self.uid, ground_truth=self.ground_truth if annotations else None, labels_read=self.labelled,
            with_new_tasks=self.with_new, added_to_existing=self.added, already_present=self.labels_present,
            skipped=self.skipped,
        )
