"""Pre-annotations on tasks that are already in a project, and the order of the labelling stream.

Input
    A project, its segment index (``segment_id -> task id``), predictions rows (see
    :func:`~.tasks.prediction_result`) with a ``model_version`` and, for ordering, a task ``score``.
Output
    New Label Studio predictions (``/api/projects/<id>/import/predictions``) on the tasks that have
    none of that ``model_version`` yet, and the project's ``model_version`` and ``sampling``.

Invariants
    Idempotent: a task that already carries a prediction of the ``model_version`` gets none again,
    and the project is written only when its settings differ. Tasks are never created, moved or
    deleted here: a new round adds a prediction (a new ``model_version``) to the same tasks.

Ordering (read from Label Studio 1.23.2's ``projects/functions/next_task.py``): with ``sampling``
"Uncertainty sampling" the stream (``/api/projects/<id>/next``) gives the not-yet-done tasks that
have a prediction of the project's ``model_version`` in ascending ``score`` (lowest first), then the
others at random. Its breadth-first queue comes first when ``maximum_annotations > 1`` (tasks others
began, before new ones), so overlap is completed before the order is followed. With more than one
annotator in the project, the stream picks at random among the first ``annotators + 1`` of that order
(to keep people off the same task), so the order holds for the group, not exactly per person.
The editor pre-fills a task with its predictions of the project's ``model_version`` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..errors import InputError
from ..schema import LabelSchema, load_schema
from .client import RetryPolicy, _Session, _session
from .connection import Connection
from .index import SegmentIndex, list_index
from .projects import UNCERTAINTY_SAMPLING, _check_project_schema, _project_by_title
from .tasks import TARGET_MODEL_VERSION, _target_region, _text_digest, prediction_result, prediction_score



def existing_versions(s: _Session, project_id: int) -> dict[int, set[str]]:
    """``task id -> model versions`` of the predictions the project's tasks carry."""
    out: dict[int, set[str]] = {}
    for pred in s.call("list predictions", s.client.predictions.list, project=project_id):
        task = getattr(pred, "task", None)
        if isinstance(task, int):
            out.setdefault(task, set()).add(str(getattr(pred, "model_version", "") or ""))
    return out


def attach_predictions(s: _Session, project_id: int, items: Sequence[tuple[int, dict[str, Any]]],
                       batch_size: int = 1000) -> int:
    """Import ``(task id, prediction)`` pairs; each prediction has ``model_version``, ``result``, maybe
    ``score``. Returns how many were sent. A batch is sent once (a resend could attach twice);
    running the command again attaches what is missing."""
    sent = 0
    for i in range(0, len(items), batch_size):
        batch = [{"task": tid, **pred} for tid, pred in items[i:i + batch_size]]
        s.call_once(f"import of {len(batch)} predictions", s.client.projects.import_predictions, id=project_id,
                    request=batch)
        sent += len(batch)
    return sent


def ordering_settings(model_version: str) -> dict[str, Any]:
    """The project fields by which the stream hands out tasks lowest ``score`` of ``model_version`` first."""
    return {"model_version": model_version, "sampling": UNCERTAINTY_SAMPLING}


def apply_ordering(s: _Session, project_id: int, model_version: str) -> bool:
    """Set the project's ``model_version`` and uncertainty sampling unless it has them (no write then).
    Returns whether it wrote."""
    project = s.call("get project", s.client.projects.get, id=project_id)
    wanted = ordering_settings(model_version)
    if all(getattr(project, key, None) == value for key, value in wanted.items()):
        return False
    s.call("set the task order", s.client.projects.update, id=project_id, **wanted)
    return True


def with_target(schema: LabelSchema, result: list[dict[str, Any]], target_region: dict[str, Any] | None) -> list[dict[str, Any]]:
    """``result`` with the given target's read-only pre-mark first (the editor shows only the predictions
    of the project's ``model_version``, so a model's prediction carries the pre-mark too)."""
    if target_region is None:
        return result
    return [target_region] + [r for r in result if r.get("from_name") != schema.target_from_name]


def task_prediction(schema: LabelSchema, sid: str, data: Mapping[str, Any], row: Mapping[str, Any] | None,
                    model_version: str | None) -> dict[str, Any] | None:
    """A task's prediction: the row's pre-annotations (with the target pre-mark), else the pre-mark alone, else None.

    Raises
    ------
    SchemaError
        The row does not fit the config (see :func:`~.tasks.prediction_result`).
    """
    result: list[dict[str, Any]] = []
    if row is not None:
        result = prediction_result(schema, sid, data["text"], row)
    target = _target_region(schema, sid, data) if schema.has_target and schema.target_from_name else None
    result = with_target(schema, result, target)
    if not result:
        return None
    version = model_version if row is not None else (model_version or TARGET_MODEL_VERSION)
    pred: dict[str, Any] = {"model_version": version, "result": result}
    score = prediction_score(row) if row is not None else None
    if score is not None:
        pred["score"] = score
    return pred


def attach_missing(s: _Session, project_id: int, index: SegmentIndex, schema: LabelSchema,
                   wanted: Sequence[tuple[str, Mapping[str, Any], Mapping[str, Any]]], model_version: str) -> set[str]:
    """Attach ``(segment id, task data, predictions row)`` to the segment's task when the task is there
    with that text and has no prediction of ``model_version``; returns the segment ids attached."""
    if not index.ids_known or any(index.task_id(sid) is None for sid, _, _ in wanted):
        index = list_index(s, project_id)
    have = existing_versions(s, project_id)
    items, done = [], set()
    for sid, data, row in wanted:
        tid = index.task_id(sid)
        if tid is None or index.digest(sid) != _text_digest(str(data["text"])) or model_version in have.get(tid, ()):
            continue  # not there, another text (a conflict), or that version is there already
        pred = task_prediction(schema, sid, data, row, model_version)
        if pred is not None:
            items.append((tid, pred))
            done.add(sid)
    attach_predictions(s, project_id, items)
    return done


@dataclass(frozen=True)
class PredictionPushReport:
    """What :func:`push_predictions` did. Invariant: ``read == attached + already_there + no_task``."""

    project_id: int
    model_version: str
    read: int
    attached: int
    already_there: int
    no_task: int
    order_set: bool

    def __post_init__(self) -> None:
        if self.read != self.attached + self.already_there + self.no_task:
            raise InputError(f"PredictionPushReport does not add up: {self}")

    def to_dict(self) -> dict[str, Any]:
        return {"project_id": self.project_id, "model_version": self.model_version, "read": self.read,
                "attached": self.attached, "already_there": self.already_there, "no_task": self.no_task,
                "order_set": self.order_set}


def push_predictions(conn: Connection, project_title: str, config: str | Path | LabelSchema,
                     rows: Iterable[Mapping[str, Any]], *, model_version: str | None = None,
                     retry: RetryPolicy | None = None) -> PredictionPushReport:
    """Attach predictions rows (``segment_id`` ...; see :func:`~.tasks.prediction_result`) to the project's
    tasks that lack one of ``model_version`` (default: the rows' own), then order the stream by their
    scores (:func:`apply_ordering`) when they have scores. Idempotent; creates no task.

    Raises
    ------
    InputError
        Rows without a ``segment_id`` or with several model versions and none passed.
    LabelStudioError
        No such project, or one made with another config.
    """
    schema = config if isinstance(config, LabelSchema) else load_schema(config)
    rows = list(rows)
    for k, row in enumerate(rows, start=1):
        if not isinstance(row.get("segment_id"), str):
            raise InputError(f"prediction row {k} without a string 'segment_id'.")
    versions = {str(r.get("model_version")) for r in rows if r.get("model_version")}
    version = model_version or (versions.pop() if len(versions) == 1 else None)
    if not version:
        raise InputError("predictions need a model_version (pass one, or rows that all carry the same).")
    with _session(conn, retry=retry) as s:
        project = _project_by_title(s, project_title)
        _check_project_schema(project, schema)
        index = list_index(s, project.id)
        data_of = _task_data(s, project.id, {r["segment_id"] for r in rows})
        wanted = [(r["segment_id"], data_of[r["segment_id"]], r) for r in rows if r["segment_id"] in data_of]
        done = attach_missing(s, project.id, index, schema, wanted, version) if wanted else set()
        ordered = any(prediction_score(r) is not None for r in rows) and apply_ordering(s, project.id, version)
    return PredictionPushReport(int(project.id), version, len(rows), len(done), len(wanted) - len(done),
                                len(rows) - len(wanted), bool(ordered))


def _task_data(s: _Session, project_id: int, sids: set[str]) -> dict[str, dict[str, Any]]:
    """``segment_id -> task data`` of the project's tasks among ``sids``."""
    out: dict[str, dict[str, Any]] = {}
    for task in remaining_tasks_in(s, project_id, only_left=False):
        sid = task["data"].get("segment_id")
        if sid in sids:
            out.setdefault(sid, task["data"])
    return out


def remaining_tasks_in(s: _Session, project_id: int, *, only_left: bool = True) -> list[dict[str, Any]]:
    """``[{"id", "data"}]`` of the project's tasks (``only_left``: those not done, Label Studio's
    ``is_labeled`` false: fewer submissions than annotators per task), in id order."""

    def read(request_options: Any) -> list[dict[str, Any]]:
        out = []
        for task in s.client.tasks.list(project=project_id, fields="task_only", include="id,data,is_labeled",
                                        page_size=5000, request_options=request_options):
            if only_left and getattr(task, "is_labeled", False):
                continue
            out.append({"id": int(task.id), "data": dict(task.data or {})})
        return sorted(out, key=lambda t: t["id"])

    return s.call("list tasks", read)


def remaining_tasks(conn: Connection, project_title: str) -> list[dict[str, Any]]:
    """The tasks of ``project_title`` that are not done yet (see :func:`remaining_tasks_in`)."""
    with _session(conn) as s:
        return remaining_tasks_in(s, int(_project_by_title(s, project_title).id))
