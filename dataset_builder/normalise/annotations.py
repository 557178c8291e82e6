"""Which annotations of a task are used, and who made them: the annotator, cancelled, empty and
same-annotator rules, and the handles annotators are named by.

Input
    A task's ``annotations`` list as exported, and the run's :class:`Team` (who is who).
Output
    ``(annotation, handle)`` pairs kept, in handle order; each annotation not used is counted under
    its reason (``cancelled``, ``empty``, ``superseded``, ``no_annotator``, ``bad_annotation``)
    and its results under ``in_<reason>``.
Invariants
    One annotation per annotator: the latest by ``updated_at`` (then the higher id). An annotation
    with no result at all is ``empty`` and does not vote: to say that a segment has no entity the
    annotator picks the config's "no entities" choice (``schema.NO_ENTITIES_CONTROL``). Annotators
    are named by a stable pseudonymous handle (:meth:`Team.handle`): the team's mapping file if it
    names them, else their Label Studio username when it is not an e-mail address, else a
    pseudonym of the e-mail (:func:`pseudonym`), else the user id; never an address, which no
    rejection shows either. Lead times of the kept annotations go to the run's bounded
    :class:`~.stores._LeadTimes`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..errors import InputError, SchemaError

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


class Team:
    """Who is who in a project: handles by user id / username / e-mail, and the adjudicators.

    Parameters
    ----------
    users : sequence of mappings, optional
        The project's users as ``pull`` writes them (``users.json``: ``id``, ``username``, ``email``).
    mapping : mapping of str to str, optional
        A team's own names: a user id, username or e-mail -> handle (wins over the default handle).
    adjudicators : iterable of str, optional
        Handles, usernames, user ids or e-mails of the adjudicators: their annotation decides a task
        and stays out of inter-annotator agreement.
    """

    def __init__(
        self, users: Sequence[Mapping[str, Any]] = (), mapping: Mapping[str, str] | None = None,
        adjudicators: Iterable[str] = (),
    ) -> None:
        mapping = {str(k).strip().lower() if "@" in str(k) else str(k).strip(): v for k, v in (mapping or {}).items()}
        for key, handle in mapping.items():
            if not isinstance(handle, str) or not handle.strip() or "@" in handle or handle.strip() == "gold":
                raise SchemaError(f"annotators mapping: {key if '@' not in key else pseudonym(key)!r} is mapped to "
                                  f"{handle if not isinstance(handle, str) or '@' not in handle else 'an e-mail address'!r}; "
                                  "a handle is a non-empty name that is not an e-mail address nor 'gold'")
        self.mapping = {k: v.strip() for k, v in mapping.items()}
        self.by_id: dict[str, str] = {}
        self.by_name: dict[str, str] = {}  # username / lower-cased e-mail -> handle
        for user in users:
            uid, username, email = str(user.get("id", "")), user.get("username") or "", user.get("email") or ""
            handle = self.mapping.get(uid) or self.mapping.get(username.strip()) or self.mapping.get(email.strip().lower())
            if not handle:
                if username.strip() and "@" not in username:
                    handle = username.strip()
                elif email.strip() or "@" in username:
                    handle = pseudonym(email or username)
                else:
                    handle = uid
            self.by_id[uid] = handle
            for name in (username.strip(), email.strip().lower()):
                if name:
                    self.by_name[name] = handle
        self.adjudicators = frozenset(self.resolve(a) for a in adjudicators)

    def resolve(self, name: str) -> str:
        """The handle of a team member given by handle, username, user id or e-mail."""
        name = str(name).strip()
        key = name.lower() if "@" in name else name
        return (self.mapping.get(key) or self.by_id.get(name) or self.by_name.get(key)
                or (pseudonym(name) if "@" in name else name))

    def handle(self, completed_by: Any, notes: Counter | None = None) -> str | None:
        """The handle of an annotation's ``completed_by`` (rules: module docstring); None when it names no one."""
        if type(completed_by) is int:
            uid = str(completed_by)
            return self.by_id.get(uid) or self.mapping.get(uid) or uid
        name = _annotator(completed_by, notes)
        if name is None:
            return None
        if isinstance(completed_by, dict) and completed_by.get("id") is None:
            completed_by = completed_by.get("email")
        if isinstance(completed_by, str) and "@" in completed_by:
            return self.resolve(completed_by)
        return self.by_id.get(name) or self.mapping.get(name) or name

    def role(self, handle: str) -> str:
        return "adjudicator" if handle in self.adjudicators else "annotator"


NO_TEAM = Team()


def read_mapping(path: str | Path) -> dict[str, str]:
    """A team's mapping file: a JSON object of Label Studio user id, username or e-mail -> handle."""
    try:
        mapping = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable JSON mapping of annotators to handles ({type(exc).__name__}: "
                         f"{exc}).") from None
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise InputError(f'{path}: expected a JSON object like {{"42": "ann-a", "jo": "ann-b"}} (user id, username '
                         "or e-mail -> handle).")
    return mapping


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


def choose_annotations(
    anns: list, where: str, rejections: list, counts: Counts, lead: Any, team: Team = NO_TEAM,
) -> list[tuple[dict, str]]:
    """Apply the cancelled / empty / no-annotator / same-annotator rules; return (annotation, handle) kept."""
    usable: dict[str, list[dict]] = {}
    all_stats = counts.stats
    named = team.by_id or team.mapping  # (without names, a user id is its own handle: the common case, inlined)
    counts.ann_read += len(anns)
    for ann in anns:
        if not isinstance(ann, dict) or not isinstance(ann.get("result", []), list):
            counts.ann_rej["bad_annotation"] += 1
            rejections.append(Rejection(STAGE, where, "bad_annotation", "annotation is not an object with a result list"))
            continue
        cb = ann.get("completed_by")
        annotator = str(cb) if type(cb) is int and not named else team.handle(cb, counts.notes)
        if annotator is None:
            drop_annotation(ann, "no_annotator", where, rejections, counts)
            continue
        stats = all_stats[annotator]
        stats.annotations += 1
        if ann.get("was_cancelled"):
            stats.cancelled += 1
            drop_annotation(ann, "cancelled", where, rejections, counts, log=False)
            continue
        if not ann.get("result"):
            stats.empty += 1
            drop_annotation(ann, "empty", where, rejections, counts)
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
