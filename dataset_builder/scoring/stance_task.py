"""A stance split's metric roles: which metric ranks, which classes play its roles.

Input
    The label set of a gold stance split, what ``build`` declared for it (the ``stance`` parquet
    files' ``dataset_builder.stance_task`` metadata: target kind, metric, roles, from the labelling
    config) and the caller's options (``metric``, ``favor_label``, ``against_label``,
    ``unrelated_label``), which win over the declaration.
Output
    :class:`StanceTask`: the primary metric (``f_avg``, ``fnc1`` or ``macro_f1``), the class of each
    role, and the class indices the metric arrays need.
Invariants
    Every role names a class of the label set, else :class:`~dataset_builder.errors.SchemaError`
    naming the class, the label set and the option that fixes it. Without a declaration and
    without options: ``f_avg`` when the label set has ``favor`` and ``against`` (the scorer's
    earlier behaviour), else ``macro_f1``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import SchemaError
from .settings import _check_choice

STANCE_METRICS = ("f_avg", "fnc1", "macro_f1")
STANCE_TASK_KEY = b"dataset_builder.stance_task"  # the key build writes (build.features.STANCE_TASK_KEY)
_ROLES = {"f_avg": ("favor", "against"), "fnc1": ("unrelated",), "macro_f1": ()}
_OPTION = {"favor": "--favor", "against": "--against", "unrelated": "--unrelated"}


@dataclass(frozen=True)
class StanceTask:
    """The primary metric of a stance split and the class of each of its roles."""

    metric: str
    roles: Mapping[str, str]
    index: Mapping[str, int]  # role -> class index

    def metric_kwargs(self) -> dict[str, int]:
        """The keyword arguments of :func:`~.metrics._stance_metric_arrays`."""
        return dict(self.index)

    def headline(self) -> tuple[str, ...]:
        """The metrics a paired comparison reports (the primary one last)."""
        return ("accuracy", "macro_f1") + (() if self.metric == "macro_f1" else (self.metric,))


def declared_task(dataset_dir: str | Path, config: str, split: str) -> dict[str, Any] | None:
    """What ``build`` declared for a stance split (None for an older build or another config)."""
    import pyarrow.parquet as pq

    path = Path(dataset_dir) / config / f"{split}.parquet"
    if not path.is_file():
        return None
    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(STANCE_TASK_KEY)
    return json.loads(raw) if raw else None


def resolve_task(labels: Sequence[str], *, declared: Mapping[str, Any] | None = None, metric: str | None = None,
                 favor_label: str | None = None, against_label: str | None = None,
                 unrelated_label: str | None = None) -> StanceTask:
    """The :class:`StanceTask` of a label set (rules: module docstring)."""
    declared = declared or {}
    given = {"favor": favor_label, "against": against_label, "unrelated": unrelated_label}
    if metric is None:
        metric = declared.get("metric")
    if metric is None:
        if given["unrelated"] is not None:
            metric = "fnc1"
        elif {"favor", "against"} <= set(labels) or (given["favor"] and given["against"]):
            metric = "f_avg"
        else:
            metric = "macro_f1"
    _check_choice("metric", metric, STANCE_METRICS)
    roles = {}
    index = {name: i for i, name in enumerate(labels)}
    declared_roles = declared.get("roles") or {}
    for role in _ROLES[metric]:
        name = given[role] or declared_roles.get(role) or role
        if name not in index:
            raise SchemaError(
                f"stance {role}_label {name!r} is not a class of the label set {list(labels)}; pass the class that "
                f"plays the {role} role of {metric} ({_OPTION[role]}) or another --metric ({', '.join(STANCE_METRICS)})."
            )
        roles[role] = name
    if metric == "fnc1" and len(labels) < 2:
        raise SchemaError(f"the FNC-1 score needs the unrelated class and at least one related class; got {list(labels)}.")
    return StanceTask(metric, roles, {role: index[name] for role, name in roles.items()})
