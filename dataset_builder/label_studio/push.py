"""Push: segments -> tasks of a project, idempotently, in batches, with retries.

The server is the source of truth: before importing, push lists the ``segment_id`` of the tasks
already there, so re-running a push after a crash imports only what is missing. A batch whose
outcome is unknown (the request may have reached the server) is re-checked against the server
before it is sent again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from ..errors import DatasetBuilderError, InputError, SchemaError
from ..jsonl import read_jsonl
from ..records import Rejection, Segment
from ..schema import LabelSchema, load_schema
from .client import RetryPolicy, _give_up, _Session, _session, _Transient
from .connection import Connection
from .projects import ProjectInfo, _ensure_project
from .tasks import TARGET_MODEL_VERSION, _target_region, _text_digest, prediction_result, task_data

_Pending = tuple[str, str, dict[str, Any]]
"""A task to import: ``(where the row was read, segment_id, task)``."""


@dataclass(frozen=True)
class PushReport:
    """What a push did. Invariant: ``read == already_present + imported + len(rejections)``.

    ``rejections`` holds every row not turned into a task, with its reason: ``invalid_segment``,
    ``duplicate_in_input``, ``missing_target``, ``conflicts_with_existing_task`` (the project has a
    task with this ``segment_id`` but another text) and ``import_failed`` (the server refused the
    batch; counted in ``failed``).
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

    def __post_init__(self) -> None:
        if self.read != self.already_present + self.imported + len(self.rejections):
            raise DatasetBuilderError(
                f"PushReport does not add up: read {self.read} != already_present {self.already_present} + "
                f"imported {self.imported} + rejected {len(self.rejections)}."
            )

    @property
    def rejected(self) -> int:
        return len(self.rejections)

    def reasons(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rejections:
            out[r.reason] = out.get(r.reason, 0) + 1
        return dict(sorted(out.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
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


def _existing_segments(s: _Session, project_id: int, page_size: int = 5000) -> dict[str, str]:
    """``segment_id -> sha256(text)`` of the project's tasks, read from the server (with retries)."""

    def read(request_options: Any) -> dict[str, str]:
        out: dict[str, str] = {}
        for task in s.client.tasks.list(project=project_id, fields="task_only", include="id,data",
                                        page_size=page_size, request_options=request_options):
            data = task.data or {}
            sid = data.get("segment_id")
            if isinstance(sid, str):
                out[sid] = _text_digest(str(data.get("text", "")))
        return out

    # The whole listing is retried, not one page: a half-read listing is never used.
    return s.call("list tasks", read)


def _read_articles_meta(path: str | Path | None) -> dict[str, dict[str, Any]]:
    if path is None:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for lineno, row in read_jsonl(path):
        if "id" not in row:
            raise InputError(f"{path}:{lineno}: article row without 'id'.")
        out[str(row["id"])] = {"title": row.get("title"), "date": row.get("date")}
    return out


def _read_predictions(path: str | Path | None) -> dict[str, tuple[int, dict[str, Any]]]:
    if path is None:
        return {}
    out: dict[str, tuple[int, dict[str, Any]]] = {}
    for lineno, row in read_jsonl(path):
        sid = row.get("segment_id")
        if not isinstance(sid, str):
            raise InputError(f"{path}:{lineno}: prediction row without a string 'segment_id'.")
        if sid in out:
            raise InputError(f"{path}:{lineno}: second prediction for segment {sid!r} (first at line {out[sid][0]}).")
        out[sid] = (lineno, row)
    return out


def _segment_rows(segments: str | Path | Iterable[Mapping[str, Any]]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``(where, row)`` for each input row: ``file:line`` for a JSONL path, ``row N`` for an iterable."""
    if isinstance(segments, (str, Path)):
        src = str(segments)
        return ((f"{src}:{ln}", r) for ln, r in read_jsonl(segments))
    return ((f"row {i}", r) for i, r in enumerate(segments, start=1))


def _new_segment(row: Mapping[str, Any], where: str, seen: dict[str, str],
                 rejections: list[Rejection]) -> Segment | None:
    """The row's Segment, or None after recording why it is refused: not a segment, or seen before."""
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


def push_segments(
    conn: Connection,
    segments: str | Path | Iterable[Mapping[str, Any]],
    config: str | Path | LabelSchema,
    *,
    project_title: str | None = None,
    articles: str | Path | None = None,
    predictions: str | Path | None = None,
    model_version: str | None = None,
    batch_size: int = 5000,
    retry: RetryPolicy | None = None,
    on_batch: Callable[[int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> PushReport:
    """Import segments as tasks into the project ``project_title`` (created from ``config`` if absent).

    Parameters
    ----------
    segments : path or iterable of dict
        ``segments.jsonl`` (rows of Segment, optionally with ``title``/``date`` and target fields).
    config : str, path or LabelSchema
        A bundled config name, a config path, or a loaded schema.
    project_title : str, optional
        Defaults to the config name.
    articles : path, optional
        ``articles.jsonl`` to take ``title``/``date`` from, by ``article_id``.
    predictions : path, optional
        JSONL of pre-annotations, one row per ``segment_id`` (see :func:`prediction_result`);
        attached to newly imported tasks only.
    model_version : str, optional
        Required with ``predictions``.
    batch_size : int
        Tasks per import request.
    on_batch : callable, optional
        Called with the number of rows settled after each batch (for a progress bar).

    Returns
    -------
    PushReport

    Raises
    ------
    LabelStudioError
        Server unreachable after the retries (nothing is lost: run again to resume), wrong key,
        project title ambiguous or bound to another config.
    InputError, SchemaError
        Unreadable input files, predictions that do not fit the config.
    """
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"The 'batch_size' parameter of push_segments must be an int >= 1. Got {batch_size!r} instead.")
    if predictions is not None and not model_version:
        raise InputError("--predictions needs --model-version (Label Studio groups pre-annotations by model version).")
    schema = config if isinstance(config, LabelSchema) else load_schema(config)
    title = project_title or schema.name
    meta = _read_articles_meta(articles)
    preds = _read_predictions(predictions)
    rejections: list[Rejection] = []
    read, pending = _plan_segment_tasks(_segment_rows(segments), schema, meta, preds, model_version, rejections)

    with _session(conn, retry=retry, sleep=sleep) as s:
        project = _ensure_project(s, schema, title)
        todo, present, _conflicting = _split_existing(s, project, pending, rejections)
        already = len(present)
        settled_early = len(pending) - len(todo) + (read - len(pending))
        if on_batch is not None and settled_early:
            on_batch(settled_early)

        imported = failed = n_preds = 0
        for batch, done, bad, found in _import_in_batches(s, project.id, todo, batch_size, rejections):
            imported += len(done)
            failed += bad
            already += found
            n_preds += sum(1 for _, sid, _t in done if sid in preds)
            if on_batch is not None:
                on_batch(len(batch))

    return PushReport(
        project_id=project.id, project_title=title, project_created=project.created, config_name=schema.name,
        read=read, already_present=already, imported=imported, failed=failed, predictions=n_preds,
        rejections=tuple(rejections),
    )


def _plan_segment_tasks(rows: Iterable[tuple[str, Mapping[str, Any]]], schema: LabelSchema,
                        meta: Mapping[str, Mapping[str, Any]], preds: Mapping[str, tuple[int, dict[str, Any]]],
                        model_version: str | None, rejections: list[Rejection]) -> tuple[int, list[_Pending]]:
    """Build a task for each valid row: ``(rows read, tasks)``; refused rows go to ``rejections``."""
    pending: list[_Pending] = []
    seen: dict[str, str] = {}
    read = 0
    for where, row in rows:
        read += 1
        seg = _new_segment(row, where, seen, rejections)
        if seg is None:
            continue
        try:
            data = task_data(schema, seg, row, meta)
        except SchemaError as exc:
            rejections.append(Rejection("push", where, "missing_target", str(exc)))
            continue
        pending.append((where, seg.id, _segment_task(schema, seg, data, preds.get(seg.id), model_version)))
    return read, pending


def _segment_task(schema: LabelSchema, seg: Segment, data: dict[str, Any],
                  pred_row: tuple[int, dict[str, Any]] | None, model_version: str | None) -> dict[str, Any]:
    """One task: its ``data`` and the prediction, if any (the row's pre-annotations, the target pre-mark).

    Raises
    ------
    SchemaError
        The predictions row does not fit the config (see :func:`prediction_result`).
    """
    task: dict[str, Any] = {"data": data}
    result: list[dict[str, Any]] = []
    if pred_row is not None:
        result = prediction_result(schema, seg.id, seg.text, pred_row[1])
    if schema.has_target and schema.target_from_name:
        result = [_target_region(schema, seg.id, data)] + [r for r in result if r.get("from_name") != schema.target_from_name]
    if result:
        version = model_version if pred_row is not None else (model_version or TARGET_MODEL_VERSION)
        pred: dict[str, Any] = {"model_version": version, "result": result}
        score = (pred_row or (0, {}))[1].get("score")
        if isinstance(score, (int, float)) and not isinstance(score, bool):
            pred["score"] = float(score)
        task["predictions"] = [pred]
    return task


def _split_existing(s: _Session, project: ProjectInfo, pending: list[_Pending],
                    rejections: list[Rejection]) -> tuple[list[_Pending], list[str], list[str]]:
    """Sort ``pending`` against the project's tasks: ``(to import, segment ids present, conflicting ids)``.

    A segment whose task is there with another text is a conflict, recorded in ``rejections``.
    """
    existing = {} if project.created or project.task_number == 0 else _existing_segments(s, project.id)
    todo: list[_Pending] = []
    present: list[str] = []
    conflicting: list[str] = []
    for where, sid, task in pending:
        if sid not in existing:
            todo.append((where, sid, task))
        elif existing[sid] != _text_digest(task["data"]["text"]):
            rejections.append(_conflict(project.id, where, sid))
            conflicting.append(sid)
        else:
            present.append(sid)
    return todo, present, conflicting


def _conflict(project_id: int, where: str, sid: str) -> Rejection:
    """The project already has a task for ``sid`` with another text: never imported again."""
    return Rejection(
        "push", where, "conflicts_with_existing_task",
        f"project {project_id} has a task for segment {sid!r} with another text; "
        "segment ids must be stable, or push into a new project",
    )


def _import_in_batches(s: _Session, project_id: int, todo: list[_Pending], batch_size: int,
                       rejections: list[Rejection]) -> Iterator[tuple[list[Any], list[Any], int, int]]:
    """Import ``todo`` in batches; yield ``(batch, done, failed, already_present)`` per batch."""
    for i in range(0, len(todo), batch_size):
        batch = todo[i : i + batch_size]
        yield (batch, *_import_batch(s, project_id, batch, rejections))


def _import_batch(s: _Session, project_id: int, batch: list[_Pending],
                  rejections: list[Rejection]) -> tuple[list[_Pending], int, int]:
    """Import one batch, retrying; returns ``(imported items, failed count, found already present)``."""
    from label_studio_sdk.core.api_error import ApiError

    attempt = 0
    present = 0
    while True:
        try:
            s.client.projects.import_tasks(id=project_id, request=[t for _, _, t in batch], request_options=s.opts)
            return batch, 0, present
        except Exception as exc:  # noqa: BLE001
            mapped = s.classify(exc, f"import of {len(batch)} tasks")
            if isinstance(mapped, _Transient):
                if attempt >= s.retry.retries:
                    raise _give_up(mapped, attempt) from None
                s.sleep(s.retry.delay(attempt))
                attempt += 1
                if mapped.sent:
                    # The server may have imported the batch before failing: check before resending.
                    existing = _existing_segments(s, project_id)
                    before = len(batch)
                    batch = [b for b in batch if b[1] not in existing]
                    present += before - len(batch)
                    if not batch:
                        return [], 0, present
                continue
            if isinstance(exc, ApiError) and exc.status_code == 400:
                for where, sid, _ in batch:
                    rejections.append(Rejection("push", where, "import_failed", str(mapped)))
                return [], len(batch), present
            if mapped is exc:
                raise
            raise mapped from None
