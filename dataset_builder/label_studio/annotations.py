"""Annotations and users: submit annotations as annotators do, find or create the users behind them.

``submit_export_annotations`` replays the annotations of a Label Studio JSON export into a
project, idempotently (one API call per annotation).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import ExportError
from .client import _Session, _session
from .connection import Connection
from .projects import _project_by_title


def submit_annotation(conn: Connection, task_id: int, result: Sequence[Mapping[str, Any]], *,
                      lead_time: float = 1.0, was_cancelled: bool = False, completed_by: int | None = None,
                      ground_truth: bool = False) -> int:
    """Create an annotation as an annotator's browser does on Submit; returns its id.

    ``completed_by`` attributes it to another user (an id from :func:`ensure_users`); by default
    it belongs to the owner of the API key. ``ground_truth`` marks an adjudicated annotation.
    """
    with _session(conn) as s:
        extra = {} if completed_by is None else {"completed_by": completed_by}
        ann = s.call("create annotation", s.client.annotations.create, id=task_id, result=[dict(r) for r in result],
                     lead_time=lead_time, was_cancelled=was_cancelled, ground_truth=ground_truth, **extra)
        return int(ann.id)


def ensure_users(conn: Connection, emails: Sequence[str]) -> dict[str, int]:
    """Find or create a Label Studio user for each e-mail; returns ``{email: user id}``.

    Users are created without a password (an administrator sets one, or they sign up with that
    e-mail); they exist so that annotations can be attributed to them.
    """
    with _session(conn) as s:
        existing = {u.email: int(u.id) for u in s.call("list users", s.client.users.list)}
        out: dict[str, int] = {}
        for email in emails:
            if email not in existing:
                name = email.split("@", 1)[0]
                existing[email] = int(s.call("create user", s.client.users.create, email=email, username=name,
                                             first_name=name).id)
            out[email] = existing[email]
        return out


def _annotated_tasks(s: _Session, project_id: int) -> tuple[dict[str, int], set[tuple[int, int]]]:
    """``({segment_id: task id}, {(task id, user id of an annotation on it)})`` for a project's tasks.

    What re-submitting annotations needs to resume without making the same annotation twice.
    """
    by_segment: dict[str, int] = {}
    annotated: set[tuple[int, int]] = set()
    for task in s.client.tasks.list(project=project_id, fields="all", page_size=5000, request_options=s.opts):
        seg = (task.data or {}).get("segment_id")
        if isinstance(seg, str):
            by_segment[seg] = int(task.id)
        for ann in task.annotations or ():
            ann = ann if isinstance(ann, dict) else ann.dict()
            who = ann.get("completed_by")
            who = who.get("id") if isinstance(who, dict) else who
            if who is not None:
                annotated.add((int(task.id), int(who)))
    return by_segment, annotated


def submit_export_annotations(conn: Connection, project_title: str, export: str | Path,
                              annotators: Mapping[str, str] | None = None) -> dict[str, int]:
    """Submit the annotations of a Label Studio JSON export to a project, as their annotators.

    Each exported task is matched to the project's task with the same ``data.segment_id``; each
    of its annotations is created there as the user whose e-mail ``annotators`` gives for the
    exported ``completed_by`` id (default: ``annotators.json`` beside the export, else
    ``annotator-<id>@localhost``). Idempotent: an annotation is skipped when that user already
    has one on that task, so running twice submits nothing twice.

    Returns
    -------
    dict
        ``read`` (annotations in the export) = ``submitted`` + ``already_present`` + ``no_task``
        (no task with that segment id in the project).

    Raises
    ------
    ExportError
        The export is not a JSON list of tasks, or a task lacks ``data.segment_id``.
    """
    export = Path(export)
    try:
        tasks = json.loads(export.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExportError(f"{export}: cannot read the annotations export ({exc}).") from None
    if not isinstance(tasks, list):
        raise ExportError(f"{export}: expected Label Studio's JSON export (a list of tasks); got {type(tasks).__name__}.")
    if annotators is None:
        sidecar = export.with_name("annotators.json")
        annotators = json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.exists() else {}
    wanted: list[tuple[str, Mapping[str, Any], str]] = []
    for n, task in enumerate(tasks):
        seg = (task.get("data") or {}).get("segment_id") if isinstance(task, dict) else None
        if not isinstance(seg, str):
            raise ExportError(f"{export}: task #{n} (id {task.get('id') if isinstance(task, dict) else '?'}) has no data.segment_id.")
        for ann in task.get("annotations") or ():
            who = ann.get("completed_by")
            uid = who.get("id") if isinstance(who, dict) else who
            wanted.append((seg, ann, annotators.get(str(uid)) or f"annotator-{uid}@localhost"))
    users = ensure_users(conn, sorted({email for _, _, email in wanted}))
    counts = {"read": len(wanted), "submitted": 0, "already_present": 0, "no_task": 0}
    with _session(conn) as s:
        project = _project_by_title(s, project_title)
        by_segment, done = _annotated_tasks(s, project.id)
        for seg, ann, email in wanted:
            task_id = by_segment.get(seg)
            if task_id is None:
                counts["no_task"] += 1
                continue
            if (task_id, users[email]) in done:
                counts["already_present"] += 1
                continue
            s.call("create annotation", s.client.annotations.create, id=task_id, result=list(ann.get("result") or []),
                   lead_time=ann.get("lead_time") or 0.0, was_cancelled=bool(ann.get("was_cancelled")),
                   ground_truth=bool(ann.get("ground_truth")), completed_by=users[email])
            done.add((task_id, users[email]))
            counts["submitted"] += 1
    return counts

