"""Push: segments -> tasks of a project, idempotently, in batches, with retries; concurrent pushes converge.

The server is the source of truth: before importing, push reads the ``segment_id`` of the tasks
already there (:mod:`.index`: a cached index, used while the server's stamp of the project still
matches it), so re-running a push after a crash imports only what is missing. A batch whose
outcome is unknown (the request may have reached the server) is re-checked against the server
before it is sent again. After importing, push checks the stamp again: when another push (from
any machine) imported at the same time, it lists the project and deletes the later copy of each
segment that got two tasks, so concurrent pushes end with one task per segment.

Memory: the input is read once; each task goes, serialised, into a temporary file
(:class:`~.spool.TaskSpool`), and push keeps only where each row was read, its segment id and its
text's digest. Batches are read back and sent as the tasks' own bytes.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple

from ..errors import DatasetBuilderError, InputError, LabelStudioError, SchemaError
from ..jsonl import read_jsonl
from ..records import Rejection, Segment
from ..schema import LabelSchema, load_schema
from .client import RetryPolicy, _give_up, _Session, _session, _Transient
from .connection import Connection
from .index import (
    SegmentIndex,
    Stamp,
    list_index,
    load_index,
    project_stamp,
    remove_duplicates,
    save_index,
)
from .predictions import apply_ordering, attach_missing, task_prediction
from .projects import ProjectInfo, _ensure_project
from .spool import TaskSpool, json_list
from .tasks import _text_digest, prediction_score, task_data, with_context


class _Pending(NamedTuple):
    """A task to import: where its row was read, its segment, its text's digest, and the task's
    number in the push's :class:`~.spool.TaskSpool` (all a push keeps of it)."""

    where: str
    sid: str
    digest: str
    number: int

_SEGMENT_FIELDS = tuple(f.name for f in dataclasses.fields(Segment)
                        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
"""The fields a segment row must have (``unit`` has a default)."""


@dataclass(frozen=True)
class PushReport:
    """What a push did. Invariant: ``read == already_present + imported + len(rejections) + not_pushed``.

    ``rejections`` holds every row not turned into a task, with its reason: ``invalid_segment``,
    ``missing_field``, ``duplicate_in_input``, ``missing_target``, ``conflicts_with_existing_task``
    (the project has a task with this ``segment_id`` but another text) and ``import_failed`` (the
    server refused the batch; counted in ``failed``). ``not_pushed`` counts the rows a push that
    stopped part way (``error``) did not reach; running it again pushes them.

    Predictions (``push --predictions``), when read: ``predictions_read == predictions +
    predictions_skipped + len(prediction_rejections)``. ``predictions`` went in with new tasks or
    onto tasks already there that had no prediction of that ``model_version`` (of them,
    ``predictions_on_existing``); ``predictions_skipped`` were for tasks that already carry one of
    that ``model_version``, or not reached; ``order_set``: the push set the project's
    ``model_version`` and uncertainty sampling (predictions with a task ``score``); ``prediction_rejections`` name the predictions file and line of each row whose
    ``segment_id`` is in no segment row (``unknown_segment``) or whose segment row was rejected
    (``segment_rejected``). ``duplicates_removed`` counts the later copies deleted after a
    concurrent push of the same segments (see :func:`~.index.remove_duplicates`).
    """

    project_id: int
    project_title: str
    project_created: bool
    config_name: str
    read: int
    already_present: int
    imported: int
    failed: int
    predictions: int
    rejections: tuple[Rejection, ...] = ()
    not_pushed: int = 0
    error: str | None = None
    duplicates_removed: int = 0
    predictions_read: int | None = None
    predictions_skipped: int = 0
    prediction_rejections: tuple[Rejection, ...] = ()
    predictions_on_existing: int = 0
    order_set: bool = False

    def __post_init__(self) -> None:
        if self.read != self.already_present + self.imported + len(self.rejections) + self.not_pushed:
            raise DatasetBuilderError(
                f"PushReport does not add up: read {self.read} != already_present {self.already_present} + "
                f"imported {self.imported} + rejected {len(self.rejections)}"
                + (f" + not pushed {self.not_pushed}." if self.not_pushed else ".")
            )
        if self.predictions_read is not None and self.predictions_read != (
                self.predictions + self.predictions_skipped + len(self.prediction_rejections)):
            raise DatasetBuilderError(
                f"PushReport does not add up: predictions read {self.predictions_read} != attached "
                f"{self.predictions} + skipped {self.predictions_skipped} + rejected {len(self.prediction_rejections)}."
            )

    @property
    def rejected(self) -> int:
        return len(self.rejections)

    def reasons(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rejections:
            out[r.reason] = out.get(r.reason, 0) + 1
        return dict(sorted(out.items()))

    def prediction_reasons(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.prediction_rejections:
            out[r.reason] = out.get(r.reason, 0) + 1
        return dict(sorted(out.items()))

    def to_dict(self) -> dict[str, Any]:
        out = {
            "project_id": self.project_id,
            "project_title": self.project_title,
            "project_created": self.project_created,
            "config": self.config_name,
            "read": self.read,
            "already_present": self.already_present,
            "imported": self.imported,
            "failed": self.failed,
            "rejected": self.rejected,
            "rejected_by_reason": self.reasons(),
            "predictions": self.predictions,
        }
        if self.predictions_read is not None:
            out.update({"predictions_read": self.predictions_read, "predictions_skipped": self.predictions_skipped,
                        "predictions_rejected": len(self.prediction_rejections),
                        "predictions_rejected_by_reason": self.prediction_reasons(),
                        "predictions_on_existing": self.predictions_on_existing, "order_set": self.order_set})
        if self.duplicates_removed:
            out["duplicates_removed"] = self.duplicates_removed
        if self.error is not None:
            out.update({"not_pushed": self.not_pushed, "error": self.error})
        return out


class PushStopped(LabelStudioError):
    """A push that stopped part way; ``report`` says what it did (its ``error`` is this message)."""

    def __init__(self, message: str, report: PushReport):
        super().__init__(message)
        self.report = report


def _read_articles_meta(path: str | Path | None) -> dict[str, dict[str, Any]]:
    if path is None:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for lineno, row in read_jsonl(path):
        if "id" not in row:
            raise InputError(f"{path}:{lineno}: article row without 'id'.")
        out[str(row["id"])] = {"title": row.get("title"), "date": row.get("date"), "source": row.get("source")}
    return out


def _read_predictions(path: str | Path | None) -> dict[str, tuple[str, dict[str, Any]]]:
    """``segment_id -> (file:line, row)`` of a predictions file.

    Raises
    ------
    InputError
        A row without a string ``segment_id`` (a benchmark predictions row, ``{"id", "tags"}`` per
        dataset token or ``{"id", "label"}`` per stance row, is named as such), or a second row
        for one segment.
    """
    if path is None:
        return {}
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for lineno, row in read_jsonl(path):
        sid = row.get("segment_id")
        if not isinstance(sid, str) and "id" in row and ("tags" in row or "label" in row):
            key = "tags" if "tags" in row else "label"
            raise InputError(
                f"{path}:{lineno}: a benchmark predictions row ({{'id', '{key}'}}: labels of the dataset's rows, "
                "for `score`), not pre-annotations; push takes character spans per segment: run `dataset-builder "
                "predict RESULTS_DIR --segments SEGMENTS -o predictions.jsonl` and push that file.")
        if not isinstance(sid, str):
            raise InputError(f"{path}:{lineno}: prediction row without a string 'segment_id'.")
        if sid in out:
            raise InputError(f"{path}:{lineno}: second prediction for segment {sid!r} (first at {out[sid][0]}).")
        out[sid] = (f"{path}:{lineno}", row)
    return out


def _segment_rows(segments: str | Path | Iterable[Mapping[str, Any]]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``(where, row)`` for each input row: ``file:line`` for a JSONL path, ``row N`` for an iterable.

    Each row carries its neighbours' texts as ``context_before``/``context_after`` (:func:`with_context`).
    """
    if isinstance(segments, (str, Path)):
        src = str(segments)
        located: Iterator[tuple[str, Any]] = ((f"{src}:{ln}", r) for ln, r in read_jsonl(segments))
    else:
        located = ((f"row {i}", r) for i, r in enumerate(segments, start=1))
    wheres, rows = itertools.tee(located)  # with_context reads one row ahead: tee keeps just that one
    return zip((where for where, _ in wheres), with_context(row for _, row in rows))


def _new_segment(row: Mapping[str, Any], where: str, seen: dict[str, str],
                 rejections: list[Rejection]) -> Segment | None:
    """The row's Segment, or None after recording why it is refused: not a segment, or seen before."""
    missing = [name for name in _SEGMENT_FIELDS if name not in row]
    if missing:
        rejections.append(Rejection(
            "push", where, "missing_field",
            f"segment row without {', '.join(repr(m) for m in missing)} (a segment row needs "
            f"{', '.join(_SEGMENT_FIELDS)}; rows come from 'segment')",
        ))
        return None
    try:
        seg = Segment.from_dict(row)
    except (DatasetBuilderError, KeyError, TypeError) as exc:
        rejections.append(Rejection("push", where, "invalid_segment", str(exc)))
        return None
    if seg.id in seen:
        rejections.append(Rejection("push", where, "duplicate_in_input", f"segment {seg.id!r} first at {seen[seg.id]}"))
        return None
    seen[seg.id] = where
    return seg


def _refuse_empty(segments: Any, read: int) -> None:
    """A push of nothing must not create an empty project."""
    if read:
        return
    what = f"{segments}: no segment rows (the file is empty or blank)" if isinstance(segments, (str, Path)) \
        else "no segment rows given"
    raise InputError(f"{what}; nothing pushed and no project created. Push the segments.jsonl written by 'segment'.")


@dataclass
class _Progress:
    """What a push has settled so far: the counts of its report, kept up to date batch by batch."""

    read: int = 0
    already: int = 0
    imported: int = 0
    failed: int = 0
    duplicates_removed: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    added: list[tuple[str, int, str]] = field(default_factory=list)  # (segment id, task id, text digest) imported
    imported_sids: set[str] = field(default_factory=set)
    row_sids: dict[str, str] = field(default_factory=dict)  # segment id -> where its first row was read
    relist: bool = False  # an import whose answer was lost: the index must be read again
    attached_sids: set[str] = field(default_factory=set)  # tasks already there that got a prediction now
    order_set: bool = False

    @property
    def settled(self) -> int:
        return self.already + self.imported + len(self.rejections)


def push_segments(
    conn: Connection,
    segments: str | Path | Iterable[Mapping[str, Any]],
    config: str | Path | LabelSchema,
    *,
    project_title: str | None = None,
    articles: str | Path | None = None,
    predictions: str | Path | None = None,
    model_version: str | None = None,
    annotators: int | None = None,
    batch_size: int = 5000,
    retry: RetryPolicy | None = None,
    on_batch: Callable[[int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> PushReport:
    """Import segments as tasks into the project ``project_title`` (created from ``config`` if absent).

    Parameters
    ----------
    segments : path or iterable of dict
        ``segments.jsonl`` (rows of Segment, optionally with ``title``/``date``/``source`` and target
        fields). Each task shows the neighbouring segments of the same article (in this order) as
        context, and the title, source and date that exist.
    config : str, path or LabelSchema
        A bundled config name, a config path, or a loaded schema.
    project_title : str, optional
        Defaults to the config name.
    articles : path, optional
        ``articles.jsonl`` to take ``title``/``date`` from, by ``article_id``.
    predictions : path, optional
        JSONL of pre-annotations, one row per ``segment_id`` (see :func:`prediction_result`);
        attached to newly imported tasks only. A row for no segment, or for a rejected one, is
        rejected with its line (``PushReport.prediction_rejections``).
    model_version : str, optional
        Required with ``predictions``.
    annotators : int, optional
        How many different annotators Label Studio's own labelling stream gives each task to
        (``maximum_annotations``, overlap on every task, tasks others began first; see
        :func:`~.projects.overlap_settings`). Set on a new project and updated on an existing one
        when it differs; None leaves the project's setting as it is.
    batch_size : int
        Tasks per import request.
    on_batch : callable, optional
        Called with the number of rows settled after each batch (for a progress bar).

    Returns
    -------
    PushReport

    Raises
    ------
    PushStopped
        The push stopped part way (server unreachable after the retries, wrong key ...); its
        ``report`` says what was done. Nothing is lost: run again to resume.
    LabelStudioError
        Project title ambiguous or bound to another config (nothing pushed).
    InputError, SchemaError
        Unreadable or empty input files, predictions that do not fit the config.
    """
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"The 'batch_size' parameter of push_segments must be an int >= 1. Got {batch_size!r} instead.")
    schema = config if isinstance(config, LabelSchema) else load_schema(config)
    title = project_title or schema.name
    meta = _read_articles_meta(articles)
    preds = _read_predictions(predictions)
    if predictions is not None and not model_version:
        model_version = _rows_model_version(predictions, preds)
    run = _Progress()
    with TaskSpool() as spool:
        pending = _plan_segment_tasks(_segment_rows(segments), schema, meta, preds, model_version, run, spool)
        _refuse_empty(segments, run.read)
        project: ProjectInfo | None = None
        try:
            with _session(conn, retry=retry, sleep=sleep) as s:
                project = _ensure_project(s, schema, title, annotators=annotators)
                index = load_index(s, project, expect=((p.sid, p.digest) for p in pending))
                todo, present, _conflicting = _split_existing(index, project.id, pending, run.rejections)
                run.already = len(present)
                if on_batch is not None and run.settled:
                    on_batch(run.settled)
                for batch, done, bad, found, ids in _import_in_batches(s, project.id, todo, batch_size,
                                                                       run.rejections, spool):
                    _count_batch(run, done, bad, found, ids)
                    if on_batch is not None:
                        on_batch(len(batch))
                index, _mine = _settle_after_import(s, project, index, run, [p.sid for p in pending])
                if preds and model_version:
                    _predict_existing(s, project, index, schema, pending, spool, preds, model_version, run)
        except LabelStudioError as exc:
            if project is None:
                raise
            report = _segments_report(project, title, schema, run, preds, str(exc))
            raise PushStopped(str(exc), report) from None
    return _segments_report(project, title, schema, run, preds, None)


def _count_batch(run: _Progress, done: list[_Pending], bad: int, found: int, ids: list[int] | None) -> None:
    run.imported += len(done)
    run.imported_sids.update(p.sid for p in done)
    run.failed += bad
    run.already += found
    if found or (done and (ids is None or len(ids) != len(done))):
        run.relist = True
    if done and ids is not None and len(ids) == len(done):
        run.added.extend((p.sid, tid, p.digest) for p, tid in zip(done, ids))


def _settle_after_import(s: _Session, project: ProjectInfo, index: SegmentIndex, run: _Progress,
                         segment_ids: list[str], *, annotations: int = 0,
                         annotators: Mapping[str, tuple[int, ...]] | None = None) -> tuple[SegmentIndex, set[str]]:
    """After importing: keep the index, or, when others pushed at the same time, remove the duplicates.

    When the project's stamp is what this push alone makes it (``annotations``: how many the
    imported tasks carried; ``annotators``: who annotated them, by segment id), no one else added
    or deleted a task meanwhile: the index plus what
    was imported is the project. Otherwise the project is listed again and the later copy of
    each of this push's segments that has two tasks is deleted; a segment whose task of this
    push was deleted counts as already present (another push put it there first).

    Returns the index of the project now and the segment ids whose task of this push was deleted.
    """
    before = index.stamp
    ids = [tid for _, tid, _ in run.added]
    expected = Stamp(total=before.total + run.imported, max_id=max([before.max_id, *ids]),
                     annotations=before.annotations + annotations)
    if not run.imported and not run.relist:
        return index, set()
    if not run.relist and project_stamp(s, project.id) == expected:
        for sid, tid, digest in run.added:
            index.add(sid, tid, digest, (annotators or {}).get(sid, ()))
        index.stamp = expected
        save_index(s, project, index)
        return index, set()
    fresh = list_index(s, project.id)
    deleted = remove_duplicates(s, fresh, segment_ids, since_id=before.max_id)
    save_index(s, project, fresh)
    mine = {sid for sid, tid, _ in run.added if tid in deleted}
    run.imported_sids -= mine
    run.duplicates_removed = len(deleted)
    run.imported -= len(mine)
    run.already += len(mine)
    return fresh, mine


def _segments_report(project: ProjectInfo, title: str, schema: LabelSchema, run: _Progress,
                     preds: Mapping[str, tuple[str, dict[str, Any]]], error: str | None) -> PushReport:
    """The push's report, with each predictions row accounted for: attached, skipped or rejected."""
    rejected_at = {r.source: r for r in run.rejections}
    n_preds = skipped = 0
    pred_rejections: list[Rejection] = []
    for sid, (where, _row) in preds.items():
        seg_where = run.row_sids.get(sid)
        if seg_where is None:
            pred_rejections.append(Rejection("push", where, "unknown_segment",
                                             f"no segment row has segment_id {sid!r}; the prediction was not attached"))
        elif seg_where in rejected_at:
            pred_rejections.append(Rejection(
                "push", where, "segment_rejected",
                f"the segment row of {sid!r} ({seg_where}) was rejected ({rejected_at[seg_where].reason}); "
                "the prediction was not attached"))
        elif sid in run.imported_sids or sid in run.attached_sids:
            n_preds += 1
        else:
            skipped += 1
    return PushReport(
        project_id=project.id, project_title=title, project_created=project.created, config_name=schema.name,
        read=run.read, already_present=run.already, imported=run.imported, failed=run.failed, predictions=n_preds,
        rejections=tuple(run.rejections), not_pushed=run.read - run.settled if error else 0, error=error,
        duplicates_removed=run.duplicates_removed, predictions_read=len(preds) if preds else None,
        predictions_skipped=skipped, prediction_rejections=tuple(pred_rejections),
        predictions_on_existing=len(run.attached_sids), order_set=run.order_set,
    )


def _plan_segment_tasks(rows: Iterable[tuple[str, Mapping[str, Any]]], schema: LabelSchema,
                        meta: Mapping[str, Mapping[str, Any]], preds: Mapping[str, tuple[str, dict[str, Any]]],
                        model_version: str | None, run: _Progress, spool: TaskSpool) -> list[_Pending]:
    """Build a task for each valid row into ``spool``; rows read and refused rows (with why) go to ``run``."""
    pending: list[_Pending] = []
    seen: dict[str, str] = {}
    rejections = run.rejections
    for where, row in rows:
        run.read += 1
        if isinstance(row.get("id"), str):
            run.row_sids.setdefault(row["id"], where)
        seg = _new_segment(row, where, seen, rejections)
        if seg is None:
            continue
        try:
            data = task_data(schema, seg, row, meta)
        except SchemaError as exc:
            rejections.append(Rejection("push", where, "missing_target", str(exc)))
            continue
        task = _segment_task(schema, seg, data, preds.get(seg.id), model_version)
        pending.append(_Pending(where, seg.id, _text_digest(data["text"]), spool.add(task)))
    return pending


def _segment_task(schema: LabelSchema, seg: Segment, data: dict[str, Any],
                  pred_row: tuple[str, dict[str, Any]] | None, model_version: str | None) -> dict[str, Any]:
    """One task: its ``data`` and the prediction, if any (the row's pre-annotations, the target pre-mark).

    Raises
    ------
    SchemaError
        The predictions row does not fit the config (see :func:`prediction_result`).
    """
    task: dict[str, Any] = {"data": data}
    pred = task_prediction(schema, seg.id, data, None if pred_row is None else pred_row[1], model_version)
    if pred is not None:
        task["predictions"] = [pred]
    return task


def _rows_model_version(path: str | Path, preds: Mapping[str, tuple[str, dict[str, Any]]]) -> str:
    """The one ``model_version`` the rows carry (``dataset-builder predict`` writes it), when none is passed."""
    versions = {str(row.get("model_version")) for _, row in preds.values() if row.get("model_version")}
    if len(versions) != 1 or any(not row.get("model_version") for _, row in preds.values()):
        raise InputError(f"{path}: --predictions needs --model-version (Label Studio groups pre-annotations by model "
                         "version), or rows that all carry the same 'model_version'"
                         + (f"; they carry {sorted(versions)}." if len(versions) > 1 else "."))
    return versions.pop()


def _predict_existing(s: _Session, project: ProjectInfo, index: SegmentIndex, schema: LabelSchema,
                      pending: list[_Pending], spool: TaskSpool, preds: Mapping[str, tuple[str, dict[str, Any]]],
                      model_version: str, run: _Progress) -> None:
    """Predictions for the tasks already there without one of ``model_version``; then the stream's order
    (:func:`~.predictions.attach_missing`, :func:`~.predictions.apply_ordering`)."""
    wanted = [(p.sid, spool.task(p.number)["data"], preds[p.sid][1]) for p in pending
              if p.sid in preds and p.sid not in run.imported_sids]
    if wanted:
        run.attached_sids |= attach_missing(s, project.id, index, schema, wanted, model_version)
    if any(prediction_score(row) is not None for _, row in preds.values()):
        run.order_set = apply_ordering(s, project.id, model_version)


def _split_existing(index: SegmentIndex, project_id: int, pending: list[_Pending],
                    rejections: list[Rejection]) -> tuple[list[_Pending], list[str], list[str]]:
    """Sort ``pending`` against the project's tasks: ``(to import, segment ids present, conflicting ids)``.

    A segment whose task is there with another text is a conflict, recorded in ``rejections``.
    """
    todo: list[_Pending] = []
    present: list[str] = []
    conflicting: list[str] = []
    for p in pending:
        digest = index.digest(p.sid)
        if digest is None:
            todo.append(p)
        elif digest != p.digest:
            rejections.append(_conflict(project_id, p.where, p.sid))
            conflicting.append(p.sid)
        else:
            present.append(p.sid)
    return todo, present, conflicting


def _conflict(project_id: int, where: str, sid: str) -> Rejection:
    """The project already has a task for ``sid`` with another text: never imported again."""
    return Rejection(
        "push", where, "conflicts_with_existing_task",
        f"project {project_id} has a task for segment {sid!r} with another text; "
        "segment ids must be stable, or push into a new project",
    )


def _import_in_batches(s: _Session, project_id: int, todo: list[_Pending], batch_size: int, rejections: list[Rejection],
                       spool: TaskSpool) -> Iterator[tuple[list[_Pending], list[_Pending], int, int, list[int] | None]]:
    """Import ``todo`` in batches; yield ``(batch, done, failed, already_present, task ids of done)`` per batch.

    The task ids are None when the server did not say them (or said them for another count).
    The tasks are read from ``spool`` one batch at a time.
    """
    for i in range(0, len(todo), batch_size):
        batch = todo[i : i + batch_size]
        yield (batch, *_import_batch(s, project_id, batch, rejections, spool))


def _import_batch(s: _Session, project_id: int, batch: list[_Pending], rejections: list[Rejection],
                  spool: TaskSpool) -> tuple[list[_Pending], int, int, list[int] | None]:
    """Import one batch, retrying; returns ``(imported items, failed count, found already present, task ids)``.

    The batch is sent as one JSON list of the tasks' own bytes (:meth:`~.client._Session.import_json`).
    """
    from label_studio_sdk.core.api_error import ApiError

    attempt = 0
    present = 0
    while True:
        try:
            ids = s.import_json(project_id, json_list(spool.body(p.number) for p in batch))
            return batch, 0, present, ids if ids is not None and len(ids) == len(batch) else None
        except Exception as exc:  # noqa: BLE001
            mapped = s.classify(exc, f"import of {len(batch)} tasks")
            if isinstance(mapped, _Transient):
                if attempt >= s.retry.retries:
                    raise _give_up(mapped, attempt) from None
                s.sleep(s.retry.delay(attempt))
                attempt += 1
                if mapped.sent:
                    # The server may have imported the batch before failing: check before resending.
                    existing = list_index(s, project_id).tasks
                    before = len(batch)
                    batch = [b for b in batch if b.sid not in existing]
                    present += before - len(batch)
                    if not batch:
                        return [], 0, present, None
                continue
            if isinstance(exc, ApiError) and exc.status_code == 400:
                for p in batch:
                    rejections.append(Rejection("push", p.where, "import_failed", str(mapped)))
                return [], len(batch), present, None
            if mapped is exc:
                raise
            raise mapped from None
