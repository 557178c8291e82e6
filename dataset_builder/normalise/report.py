"""What a normalise run counted and measured, and the report made of it.

Input
    The counts the rules add to while tasks are read (:class:`Counts`, one per run or per worker's
    byte range, merged in export order) and the measurements of :mod:`.agreement`.
Output
    :class:`NormaliseReport` (``report.json`` / ``report.txt``), made of :class:`Tally` objects.
Invariants
    For tasks, annotations and results, ``read == kept + sum(rejected.values())`` (checked when a
    :class:`Tally` is made: a report that does not add up cannot exist). Counts are listed sorted.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any, Mapping

from ..errors import SchemaError

STAGE = "normalise"


def _sorted_counts(c: Mapping[str, int]) -> dict[str, int]:
    return {k: c[k] for k in sorted(c) if c[k]}


@lru_cache(maxsize=4096)  # a few annotators, sorted for every task
def _annotator_key(a: str) -> tuple[int, int, str]:
    return (0, int(a), a) if a.isdigit() else (1, 0, a)


def _r(x: float | None) -> float | None:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return round(float(x), 4)


@dataclass(frozen=True)
class Tally:
    """``read`` things, of which ``kept`` were kept and the rest rejected by reason.

    Invariant (checked): ``read == kept + sum(rejected.values())``.
    """

    read: int
    kept: int
    rejected: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rejected", _sorted_counts(self.rejected))
        if self.read != self.kept + sum(self.rejected.values()):
            raise SchemaError(
                f"internal accounting error: read {self.read} != kept {self.kept} + rejected "
                f"{sum(self.rejected.values())} ({self.rejected}); please report this bug."
            )

    def to_dict(self) -> dict[str, Any]:
        return {"read": self.read, "kept": self.kept, "rejected": dict(self.rejected)}


@dataclass(frozen=True)
class NormaliseReport:
    """What :func:`normalise_export` / :func:`normalise_tasks` read, kept, rejected, fixed and measured.

    ``tasks``, ``annotations`` and ``results`` are :class:`Tally` objects whose counts add up;
    ``tasks.kept`` is the number of gold records. ``counts`` holds the other counted cases (fixes,
    offsets conventions, ignored drafts...), ``agreement`` and ``annotators`` the measurements.
    """

    source: str
    sha256: str | None
    config: str
    config_hash: str
    options: Mapping[str, Any]
    tasks: Tally
    annotations: Tally
    results: Tally
    counts: Mapping[str, Mapping[str, int]]
    gold: Mapping[str, int]
    agreement: Mapping[str, Any]
    annotators: Mapping[str, Mapping[str, Any]]
    adjudicators: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    gold_sources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    model_help: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": STAGE,
            "source": self.source,
            "sha256": self.sha256,
            "config": self.config,
            "config_hash": self.config_hash,
            "options": dict(self.options),
            "tasks": self.tasks.to_dict(),
            "annotations": self.annotations.to_dict(),
            "results": self.results.to_dict(),
            # every rejection in one flat mapping ("tasks.no_annotations": 3, ...), for the dataset card
            "rejected": {
                f"{name}.{reason}": n
                for name, t in (("tasks", self.tasks), ("annotations", self.annotations), ("results", self.results))
                for reason, n in t.rejected.items()
            },
            "counts": {k: dict(v) for k, v in self.counts.items()},
            "gold": dict(self.gold),
            "agreement": self.agreement,
            "annotators": {k: dict(v) for k, v in self.annotators.items()},
            "adjudicators": {k: dict(v) for k, v in self.adjudicators.items()},
            "gold_sources": {k: dict(v) for k, v in self.gold_sources.items()},
            "model_help": {k: dict(v) for k, v in self.model_help.items()},
        }

    def summary(self) -> str:
        """A readable multi-line summary (what the CLI prints and ``report.txt`` holds)."""
        lines = [f"normalise {self.source} (config {self.config}, offsets={self.options['offsets']}, "
                 f"min_annotators={self.options['min_annotators']})"]
        for name, t in (("tasks", self.tasks), ("annotations", self.annotations), ("results", self.results)):
            lines.append(f"  {name:<12} read {t.read:>8}  kept {t.kept:>8}  rejected {t.read - t.kept:>8}")
            for reason, n in t.rejected.items():
                lines.append(f"      {reason:<28} {n:>8}")
        lines.append(
            f"  gold: {self.gold.get('records', 0)} records, {self.gold.get('entities', 0)} entities, "
            f"{self.gold.get('stances', 0)} stances ({self.gold.get('from_adjudicator', 0)} tasks from an adjudicator, "
            f"{self.gold.get('from_ground_truth', 0)} from ground truth, {self.gold.get('from_vote', 0)} by vote)"
        )
        lines.append(
            f"  waiting for adjudication: {self.gold.get('unresolved_items', 0)} tied items; "
            f"{self.gold.get('entities_disputed', 0)} segments with disputed entities (out of ner), "
            f"{self.gold.get('stances_unresolved', 0)} stance targets undecided"
        )
        for group, c in self.counts.items():
            if c:
                lines.append(f"  {group}: " + ", ".join(f"{k}={v}" for k, v in c.items()))
        st = self.agreement.get("stance", {})
        en = self.agreement.get("entities", {})
        if st:
            lines.append(f"  stance agreement: Krippendorff alpha (nominal) = {st.get('krippendorff_alpha')} "
                         f"over {st.get('units', 0)} units")
            for p in st.get("pairwise_cohen_kappa", []):
                lines.append(f"      kappa {p['a']} vs {p['b']}: {p['kappa']} (n={p['n']})")
        if en:
            for p in en.get("pairwise_f1", []):
                lines.append(f"  entity F1 {p['a']} vs {p['b']}: {p['f1']} over {p['tasks']} tasks")
        for row in self.agreement.get("per_label", []):
            lines.append(f"  {row['kind']} {row['label']}: {row['measure']} {row['value']} (n={row['n']})")
        for version, row in self.model_help.items():
            for kind in ("entities", "stances"):
                c = row[kind]
                lines.append(f"  model {version}, {kind}: over {row['annotations']} annotations, " + ", ".join(
                    f"{k} {v}" for k, v in c.items() if k != "kept_share") + f" (kept share {c['kept_share']})")
        for role, people in (("annotator", self.annotators), ("adjudicator", self.adjudicators),
                             ("gold source", self.gold_sources)):
            for name, a in people.items():
                line = (f"  {role} {name}: {a['annotations']} annotations ({a['cancelled']} cancelled, {a['empty']} "
                        f"empty, {a['superseded']} superseded), {a['entities']} entities, {a['stances']} stances, "
                        f"median lead_time {a['median_lead_time']}")
                if role == "annotator":
                    line += (f", entity F1 vs gold {a['gold_entity_f1']}, "
                             f"stance accuracy vs gold {a['gold_stance_accuracy']}")
                lines.append(line)
        return "\n".join(lines) + "\n"


@dataclass
class _AnnStats:
    """One annotator's counts: annotations read, cancelled, superseded, kept spans, and against gold."""

    annotations: int = 0
    cancelled: int = 0
    empty: int = 0
    superseded: int = 0
    ground_truth: int = 0  # kept annotations marked ground truth
    entities: int = 0
    stances: int = 0
    gold_tp: int = 0
    gold_pred: int = 0
    gold_true: int = 0
    gold_stance_ok: int = 0
    gold_stance_n: int = 0


_ANN_STATS_FIELDS = tuple(f.name for f in fields(_AnnStats))


class Counts:
    """Every count of a run: the three tallies' parts, the counted cases, and per-annotator stats.

    The rules add to it as they read; :meth:`merge` adds another run's counts (a worker's byte
    range), so that one process and several give the same report.
    """

    SUMMED = ("tasks_read", "tasks_kept", "ann_read", "ann_kept", "res_read", "res_kept", "tasks_without_target")
    COUNTED = ("task_rej", "ann_rej", "res_rej", "fixes", "conventions", "notes", "gold_counts", "from_names_seen",
               "model_help")
    __slots__ = SUMMED + COUNTED + ("stats",)

    def __init__(self) -> None:
        for name in self.SUMMED:
            setattr(self, name, 0)
        for name in self.COUNTED:
            setattr(self, name, Counter())
        self.stats: defaultdict[str, _AnnStats] = defaultdict(_AnnStats)

    def merge(self, other: "Counts") -> None:
        for name in self.SUMMED:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in self.COUNTED:
            getattr(self, name).update(getattr(other, name))
        for annotator, theirs in other.stats.items():
            mine = self.stats[annotator]
            for f in _ANN_STATS_FIELDS:
                setattr(mine, f, getattr(mine, f) + getattr(theirs, f))

    def annotators(self, median: Any, adjudicators: frozenset = frozenset()) -> tuple[dict, dict, dict]:
        """The report's rows of ``(annotators, adjudicators, gold sources)``, each sorted by handle.

        ``median(name)`` gives the lead time. A gold source is an annotator all of whose kept
        annotations are ground truth (an imported corpus); adjudicators are named by the team.
        """
        out: tuple[dict, dict, dict] = ({}, {}, {})
        for name in sorted(self.stats, key=_annotator_key):
            s = self.stats[name]
            kept = s.annotations - s.cancelled - s.empty - s.superseded
            group = 1 if name in adjudicators else 2 if s.ground_truth and s.ground_truth == kept else 0
            out[group][name] = {
                "annotations": s.annotations,
                "cancelled": s.cancelled,
                "empty": s.empty,
                "superseded": s.superseded,
                "entities": s.entities,
                "stances": s.stances,
                "median_lead_time": _r(median(name)),
                "gold_entity_f1": _r(2 * s.gold_tp / (s.gold_pred + s.gold_true)) if s.gold_pred + s.gold_true else None,
                "gold_stance_accuracy": _r(s.gold_stance_ok / s.gold_stance_n) if s.gold_stance_n else None,
                "gold_stance_n": s.gold_stance_n,
            }
        return out

    def tallies(self) -> tuple[Tally, Tally, Tally]:
        """``(tasks, annotations, results)``; raises if they do not add up."""
        return (Tally(self.tasks_read, self.tasks_kept, self.task_rej),
                Tally(self.ann_read, self.ann_kept, self.ann_rej),
                Tally(self.res_read, self.res_kept, self.res_rej))

    def counted_cases(self) -> dict[str, dict[str, int]]:
        return {
            "span_fixes": _sorted_counts(self.fixes),
            "offsets_convention": _sorted_counts(self.conventions),
            "notes": _sorted_counts(self.notes),
        }
