"""Projects: found by exact title, created from a labelling config, checked against it.

Also the plain project operations that tests and benchmarks use (they must not import the SDK
themselves): list a project's task data, one raw import, delete.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import LabelStudioError
from ..schema import LabelSchema, load_schema, parse_schema
from .client import RetryPolicy, _Session, _session
from .connection import Connection


@dataclass(frozen=True)
class ProjectInfo:
    id: int
    title: str
    created: bool
    task_number: int | None
    created_at: str = ""  # the server's creation time: with the id, names the project's index cache


def _instructions_html(schema: LabelSchema) -> str:
    return "".join(f"<p>{html.escape(line)}</p>" for line in schema.instructions.splitlines() if line.strip())


UNCERTAINTY_SAMPLING = "Uncertainty sampling"
"""Label Studio's sampling that follows the predictions' ``score`` of the project's ``model_version``,
ascending (set by a push of scored predictions, :mod:`.predictions`)."""

OVERLAP_SAMPLING = "Sequential sampling"
"""How the labelling stream orders tasks; with ``maximum_annotations > 1`` it gives the tasks that
other annotators began first (Label Studio's breadth-first queue), so agreement is measured early."""


def overlap_settings(annotators: int) -> dict[str, Any]:
    """The project fields by which Label Studio 1.23.2's own stream gives each task to ``annotators`` people.

    ``maximum_annotations`` is how many different annotators each task goes to (a task leaves the
    stream once that many have submitted); ``overlap_cohort_percentage`` 100 applies it to every
    task; ``show_overlap_first`` and sequential sampling hand out tasks others began before new ones.
    """
    if not isinstance(annotators, int) or isinstance(annotators, bool) or annotators < 1:
        raise ValueError(f"annotators per task must be an int >= 1; got {annotators!r}.")
    return {"maximum_annotations": annotators, "overlap_cohort_percentage": 100,
            "show_overlap_first": annotators > 1, "sampling": OVERLAP_SAMPLING}


def _apply_overlap(s: _Session, project: Any, annotators: int | None) -> None:
    """Set the project's overlap to ``annotators`` per task, unless it already is (no write then).

    A project whose stream follows a model's scores (uncertainty sampling, set by a push of
    scored predictions) keeps that order: the breadth-first queue of the overlap comes first anyway.
    """
    if annotators is None:
        return
    wanted = overlap_settings(annotators)
    if getattr(project, "sampling", None) == UNCERTAINTY_SAMPLING:
        wanted["sampling"] = UNCERTAINTY_SAMPLING
    if all(getattr(project, key, None) == value for key, value in wanted.items()):
        return
    s.call("set annotators per task", s.client.projects.update, id=project.id, **wanted)


def _find_projects(s: _Session, title: str) -> list[Any]:
    pager = s.call("list projects", s.client.projects.list, title=title, page_size=100)
    return [p for p in pager if p.title == title]


def _check_project_schema(project: Any, schema: LabelSchema) -> None:
    on_server = parse_schema(
        (project.label_config or "").encode("utf-8"), name=f"project {project.id}", path=Path(f"project-{project.id}")
    )
    mine = (schema.entity_labels, schema.stance_labels, schema.entity_from_name, schema.stance_from_name,
            schema.to_name, schema.stance_per_region, schema.has_target)
    theirs = (on_server.entity_labels, on_server.stance_labels, on_server.entity_from_name,
              on_server.stance_from_name, on_server.to_name, on_server.stance_per_region, on_server.has_target)
    if mine != theirs:
        raise LabelStudioError(
            f"project {project.title!r} (id {project.id}) has labels {on_server.labels} and controls "
            f"{on_server.entity_from_name}/{on_server.stance_from_name}, but config {schema.name!r} has "
            f"{schema.labels} and {schema.entity_from_name}/{schema.stance_from_name}; push with the config the "
            "project was made with, or choose another --project-title."
        )


def _apply_config(s: _Session, project: Any, schema: LabelSchema) -> None:
    """Bring an existing project's labelling config to ``schema``'s text when only its presentation
    differs (same labels and controls: :func:`_check_project_schema` checked), e.g. after an upgrade
    added context lines or the "no entities" choice. Written only when it differs."""
    if (project.label_config or "").strip() == schema.xml.strip():  # (Label Studio drops the final newline)
        return
    try:
        s.call("update the project's labelling config", s.client.projects.update, id=project.id,
               label_config=schema.xml,
               description=f"dataset-builder config {schema.name} (sha256 {schema.config_hash[:12]})")
    except LabelStudioError as exc:
        raise LabelStudioError(
            f"project {project.title!r} (id {project.id}) has an older version of config {schema.name!r} and Label "
            f"Studio refused the current one ({exc}); push with the config the project was made with, or choose "
            "another --project-title."
        ) from None


def ensure_project(conn: Connection, schema: LabelSchema, title: str, *,
                   retry: RetryPolicy | None = None, annotators: int | None = None) -> ProjectInfo:
    """Find the project called exactly ``title``, or create it with ``schema``'s config.

    ``annotators`` (when given) is how many different annotators each task goes to
    (:func:`overlap_settings`); an existing project is updated when it differs, and so is its
    labelling config when only its presentation changed (same labels and controls).

    Raises
    ------
    LabelStudioError
        Several projects have that title, or the existing one's labels differ from ``schema``'s.
    """
    with _session(conn, retry=retry) as s:
        return _ensure_project(s, schema, title, annotators=annotators)


def _ensure_project(s: _Session, schema: LabelSchema, title: str, *, annotators: int | None = None) -> ProjectInfo:
    if not title or not title.strip():
        raise LabelStudioError("the project title is empty; pass --project-title.")
    found = _find_unique(s, title)
    if found:
        project = s.call("get project", s.client.projects.get, id=found.id)
        _check_project_schema(project, schema)
        _apply_config(s, project, schema)
        _apply_overlap(s, project, annotators)
        return ProjectInfo(id=project.id, title=title, created=False, task_number=getattr(found, "task_number", None),
                           created_at=str(getattr(project, "created_at", "")))
    # Creating is not idempotent: no automatic resend (a retry could make two projects).
    mine = s.call_once(
        "create project",
        s.client.projects.create,
        title=title,
        label_config=schema.xml,
        description=f"dataset-builder config {schema.name} (sha256 {schema.config_hash[:12]})",
        expert_instruction=_instructions_html(schema),
        show_instruction=True,
        **({} if annotators is None else overlap_settings(annotators)),
    )
    info = _settle_created(s, schema, title, mine)
    if annotators is not None and info.id != mine.id:  # a rival created it: its settings may differ
        _apply_overlap(s, s.call("get project", s.client.projects.get, id=info.id), annotators)
    return info


def _settle_created(s: _Session, schema: LabelSchema, title: str, mine: Any) -> ProjectInfo:
    """Pushes that all found no project created one each: the lowest id stays, the others are deleted.

    Every creator lists the projects with the title after creating its own (twice, a moment
    apart: a rival's may show up late) and deletes every empty one but the lowest: its own when it
    lost, and any a server-side retry of a create left behind (Label Studio on SQLite may insert a
    project twice for one request when the database is busy). They were all made during the race
    (none had the title when this push looked), and no push imports into any but the lowest.
    """
    seen: dict[int, Any] = {}
    for attempt in range(2):
        if attempt:
            time.sleep(0.3)  # not a back-off: the sleep tests inject counts only retries
        seen.update({p.id: p for p in _find_projects(s, title)})
    winner = min([mine.id, *seen])
    for pid in sorted(seen):
        if pid != winner and (pid == mine.id or not getattr(seen[pid], "task_number", 0)):
            _delete_quietly(s, pid)
    if winner == mine.id:
        return ProjectInfo(id=mine.id, title=title, created=True, task_number=0,
                           created_at=str(getattr(mine, "created_at", "")))
    project = s.call("get project", s.client.projects.get, id=winner)
    _check_project_schema(project, schema)
    return ProjectInfo(id=project.id, title=title, created=False, task_number=None,
                       created_at=str(getattr(project, "created_at", "")))


def _delete_quietly(s: _Session, project_id: int) -> None:
    """Delete a project made during a creation race; one a rival deleted first is gone already."""
    try:
        s.call("delete duplicate project", s.client.projects.delete, id=project_id)
    except LabelStudioError as exc:
        if "HTTP 404" not in str(exc):
            raise


def _find_unique(s: _Session, title: str, *, settle: int = 5, wait: float = 0.5) -> Any | None:
    """The one project titled ``title``, or None.

    Several with that title may be a race between two pushes that is settling (the later one
    deletes its own within a moment): listed again a few times before it is refused.

    Raises
    ------
    LabelStudioError
        Several projects still have that title.
    """
    for attempt in range(settle + 1):
        found = _find_projects(s, title)
        if len(found) <= 1:
            return found[0] if found else None
        if attempt < settle:
            time.sleep(wait)
    ids = ", ".join(str(p.id) for p in sorted(found, key=lambda p: p.id))
    raise LabelStudioError(f"{len(found)} projects are titled {title!r} (ids {ids}); rename all but one.")


def _project_by_title(s: _Session, title: str) -> Any:
    found = _find_unique(s, title)
    if found is None:
        raise LabelStudioError(f"no project titled {title!r} at {s.conn.safe_url}; check --project-title.")
    return s.call("get project", s.client.projects.get, id=found.id)


def project_overview(conn: Connection, project_title: str) -> dict[str, Any]:
    """``{"id", "title", "annotators_per_task", "tasks"}`` of a project (what ``status`` shows about it)."""
    with _session(conn) as s:
        project = _project_by_title(s, project_title)
        return {"id": int(project.id), "title": project.title,
                "annotators_per_task": int(getattr(project, "maximum_annotations", None) or 1),
                "tasks": int(getattr(project, "task_number", None) or 0)}


# --------------------------------------------------------------------------------------------
# Helpers for tests and benchmarks (they must not import the SDK themselves)
# --------------------------------------------------------------------------------------------


def list_task_data(conn: Connection, project_title: str) -> list[dict[str, Any]]:
    """``[{"id": task_id, "data": {...}}, ...]`` of a project, in id order."""
    with _session(conn) as s:
        project = _project_by_title(s, project_title)
        out = []
        for task in s.client.tasks.list(project=project.id, fields="task_only", include="id,data",
                                        page_size=5000, request_options=s.opts):
            out.append({"id": task.id, "data": dict(task.data or {})})
        return sorted(out, key=lambda t: t["id"])


def raw_import(conn: Connection, project_title: str, config: str | Path | LabelSchema,
               tasks: Sequence[Mapping[str, Any]]) -> int:
    """One plain ``import_tasks`` call into a new project (the benchmark's baseline); returns its id."""
    schema = config if isinstance(config, LabelSchema) else load_schema(config)
    with _session(conn, timeout=3600.0) as s:
        project = s.client.projects.create(title=project_title, label_config=schema.xml, request_options=s.opts)
        s.client.projects.import_tasks(id=project.id, request=list(tasks), request_options=s.opts)
        return int(project.id)


def delete_project(conn: Connection, project_title: str) -> None:
    with _session(conn) as s:
        project = _project_by_title(s, project_title)
        s.call("delete project", s.client.projects.delete, id=project.id)
