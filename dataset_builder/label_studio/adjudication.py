"""Adjudication in the Community edition: a Data Manager tab of the tasks to resolve, and links into it.

Input
    A project (by title) and the ids of its tasks that need adjudication (what normalise left
    unresolved; :func:`dataset_builder.pipeline.adjudicate` decides them).
Output
    The project's Data Manager view (tab) :data:`VIEW_TITLE`, filtered to exactly those tasks
    (an OR group of ``filter:tasks:id`` equal items; with none, a filter that matches no task),
    and a link per task, ``<url>/projects/<pid>/data?tab=<view id>&task=<task id>``, which opens
    the task in the Label Studio UI with each annotator's annotation as a tab.
Invariants
    One view of that title per project, whoever made it (Data Manager views are shared by the
    organization): it is created once, then updated in place only when its filter changes (the
    lowest id stays when there are several); running it again with the same tasks writes nothing.

The route a person takes: the adjudicator (a named team member) opens a link, reads the
annotators' versions, presses "+" (or duplicates one version), fixes it and submits; normalise,
told that member's handle with ``--adjudicator``, takes their annotation as decisive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from ..errors import LabelStudioError
from .client import _Session, _session
from .connection import Connection
from .projects import _project_by_title

VIEW_TITLE = "Needs adjudication"
"""Title of the Data Manager tab that lists the tasks waiting for adjudication."""

_NO_TASK = 0
"""A task id no task has (ids start at 1): the filter of an empty view."""


@dataclass(frozen=True)
class AdjudicationView:
    """The project's adjudication tab: ids, the tasks it shows, and what this call did to it."""

    project_id: int
    view_id: int
    task_ids: tuple[int, ...]
    action: str  # "created", "updated" or "unchanged"
    url: str

    def link(self, task_id: int) -> str:
        """The link that opens ``task_id`` in the tab, in the Label Studio UI."""
        return task_link(self.url, self.project_id, self.view_id, task_id)

    @property
    def tab_link(self) -> str:
        return f"{self.url.rstrip('/')}/projects/{self.project_id}/data?tab={self.view_id}"


def task_link(url: str, project_id: int, view_id: int, task_id: int) -> str:
    """``<url>/projects/<pid>/data?tab=<view id>&task=<task id>``."""
    return f"{url.rstrip('/')}/projects/{project_id}/data?tab={view_id}&task={task_id}"


def view_filters(task_ids: Iterable[int]) -> dict[str, Any]:
    """The Data Manager filter that shows exactly ``task_ids`` (none when empty)."""
    ids = sorted({int(t) for t in task_ids}) or [_NO_TASK]
    return {"conjunction": "or",
            "items": [{"filter": "filter:tasks:id", "operator": "equal", "type": "Number", "value": t} for t in ids]}


def view_data(task_ids: Iterable[int], title: str = VIEW_TITLE) -> dict[str, Any]:
    return {"title": title, "filters": view_filters(task_ids), "ordering": ["tasks:id"]}


def _plain(value: Any) -> Any:
    if hasattr(value, "dict"):
        return value.dict()
    return value


def _views_titled(s: _Session, project_id: int, title: str) -> list[Any]:
    views = s.call("list Data Manager views", s.client.views.list, project=project_id)
    return sorted((v for v in views if (_plain(v.data) or {}).get("title") == title), key=lambda v: int(v.id))


def _same(view: Any, wanted: dict[str, Any]) -> bool:
    data = _plain(view.data) or {}
    return data.get("filters") == wanted["filters"] and data.get("ordering") == wanted["ordering"]


def prepare_view(conn: Connection, project_title: str, task_ids: Iterable[int], *,
                 title: str = VIEW_TITLE) -> AdjudicationView:
    """Create or refresh the project's tab ``title`` so that it shows exactly ``task_ids``.

    Raises
    ------
    LabelStudioError
        No project (or several) with that title; the server refused the view.
    """
    ids = tuple(sorted({int(t) for t in task_ids}))
    wanted = view_data(ids, title)
    with _session(conn) as s:
        project = _project_by_title(s, project_title)
        found = _views_titled(s, project.id, title)
        action = "unchanged"
        if not found:
            s.call_once("create Data Manager view", s.client.views.create, project=project.id, data=wanted)
            action = "created"
            found = _views_titled(s, project.id, title)  # a rival may have made one too: the lowest stays
        if not found:
            raise LabelStudioError(f"Label Studio made no view {title!r} in project {project.id}; try again.")
        keep = found[0]
        for extra in found[1:]:
            s.call("delete duplicate view", s.client.views.delete, id=str(extra.id))
        if not _same(keep, wanted):
            s.call("update Data Manager view", s.client.views.update, id=str(keep.id), project=project.id,
                   data=wanted)
            action = "updated" if action == "unchanged" else action
        return AdjudicationView(project_id=int(project.id), view_id=int(keep.id), task_ids=ids, action=action,
                                url=conn.safe_url)
