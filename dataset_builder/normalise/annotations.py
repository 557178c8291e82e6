"""Which annotations of a task are used: the cancelled, no-annotator and same-annotator rules.

Input
    A task's ``annotations`` list as exported.
Output
    ``(annotation, annotator)`` pairs kept, in annotator order (user ids numerically); each
    annotation not used is counted under its reason (``cancelled``, ``superseded``,
    ``no_annotator``, ``bad_annotation``) and its results under ``in_<reason>``.
Invariants
    One annotation per annotator: the latest by ``updated_at`` (then the higher id). Annotators
    are named by their Label Studio user id, as a string; one known only by e-mail by a stable
    pseudonym of it (:func:`pseudonym`), never the address, which no rejection shows either. Lead
    times of the kept annotations go to the run's bounded :class:`~.stores._LeadTimes`.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from datetime import datetime, timezone
from typing import Any

from ..records import Rejection
from .report import STAGE, Counts, _annotator_key


def pseudonym(email: str) -> str:
    """The stable handle of an annotator known only by e-mail: ``annotator-`` + the first 8 hex digits of
    the sha256 of the lower-cased address."""
    return "annotator-" + hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()[:8]


def _annotator(completed_by: Any, notes: Counter | None = None) -> str | None:
    """The annotator's name: the Label Studio user id (an int, or an object's ``id``) as a string, else a
    pseudonym of the e-mail (a string with ``@``, or an object with only an ``email``), else a plain string."""
    if isinstance(completed_by, dict):
        cb = completed_by.get("id")
        if cb is None:
            email = completed_by.get("email")
            if isinstance(email, str) and email.strip():
                if notes is not None:
                    notes["annotator_from_email"] += 1
                return pseudonym(email)
        completed_by = cb
    if isinstance(completed_by, bool) or completed_by is None:
        return None
    if isinstance(completed_by, int):
        return str(completed_by)
    if isinstance(completed_by, str) and completed_by.strip():
        if "@" in completed_by:
            if notes is not None:
                notes["annotator_from_email"] += 1
            return pseudonym(completed_by)
        return completed_by.strip()
    return None


def _shown(completed_by: Any) -> str:
    """``completed_by`` as a rejection may show it: never an e-mail address or a user's other fields."""
    if isinstance(completed_by, dict):
        if "id" in completed_by:
            return f"an object with id {_shown(completed_by['id'])}"
        return f"an object with keys {', '.join(sorted(map(str, completed_by)))}" if completed_by else "{}"
    if isinstance(completed_by, str) and "@" in completed_by:
        return repr(pseudonym(completed_by))
    return repr(completed_by)


def from_completions(completions: Any) -> Any:
    """A Label Studio 0.x task's ``completions`` as 1.x ``annotations`` (the same fields, but ``skipped`` for
    ``was_cancelled`` and a number of seconds for ``created_at``); anything but a list is returned as it is."""
    if not isinstance(completions, list):
        return completions
    out = []
    for c in completions:
        if isinstance(c, dict):
            c = dict(c)
            if "was_cancelled" not in c and "skipped" in c:
                c["was_cancelled"] = bool(c["skipped"])
            made = c.get("created_at")
            if "updated_at" not in c and isinstance(made, (int, float)) and not isinstance(made, bool):
                try:
                    c["updated_at"] = datetime.fromtimestamp(made, timezone.utc).isoformat()
                except (OverflowError, OSError, ValueError):
                    pass
        out.append(c)
    return out


def _timestamp(value: Any) -> float:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return float("-inf")
    return float("-inf")


def _sortable_id(aid: Any) -> tuple[int, str]:
    return (aid, "") if isinstance(aid, int) and not isinstance(aid, bool) else (-1, str(aid))


def choose_annotations(anns: list, where: str, rejections: list, counts: Counts, lead: Any) -> list[tuple[dict, str]]:
    """Apply the cancelled / no-annotator / same-annotator rules; return (annotation, annotator) kept."""
    usable: dict[str, list[dict]] = {}
    all_stats = counts.stats
    counts.ann_read += len(anns)
    for ann in anns:
        if not isinstance(ann, dict) or not isinstance(ann.get("result", []), list):
            counts.ann_rej["bad_annotation"] += 1
            rejections.append(Rejection(STAGE, where, "bad_annotation", "annotation is not an object with a result list"))
            continue
        cb = ann.get("completed_by")
        annotator = str(cb) if type(cb) is int else _annotator(cb, counts.notes)  # (a user id, most of the time)
        if annotator is None:
            drop_annotation(ann, "no_annotator", where, rejections, counts)
            continue
        stats = all_stats[annotator]
        stats.annotations += 1
        if ann.get("was_cancelled"):
            stats.cancelled += 1
            drop_annotation(ann, "cancelled", where, rejections, counts, log=False)
            continue
        versions = usable.get(annotator)
        if versions is None:
            usable[annotator] = [ann]
        else:
            versions.append(ann)
    chosen = []
    for annotator in sorted(usable, key=_annotator_key) if len(usable) > 1 else usable:
        versions = usable[annotator]
        if len(versions) > 1:
            versions.sort(key=lambda a: (_timestamp(a.get("updated_at")), _sortable_id(a.get("id"))))
            for old in versions[:-1]:
                all_stats[annotator].superseded += 1
                drop_annotation(old, "superseded", where, rejections, counts)
        latest = versions[-1]
        lt = latest.get("lead_time")
        if type(lt) is float or isinstance(lt, (int, float)) and not isinstance(lt, bool):
            if math.isfinite(lt):
                lead.add(annotator, float(lt))
        chosen.append((latest, annotator))
    counts.ann_kept += len(chosen)
    return chosen


def drop_annotation(ann: dict, reason: str, where: str, rejections: list, counts: Counts, *, log: bool = True) -> None:
    """Count an annotation that is not used, and its results, under ``reason``."""
    counts.ann_rej[reason] += 1
    n = len(ann.get("result") or [])
    counts.res_read += n
    counts.res_rej[f"in_{reason}"] += n
    if log:
        rejections.append(
            Rejection(STAGE, f"{where} annotation {ann.get('id')}", reason,
                      f"completed_by={_shown(ann.get('completed_by'))}")
        )
