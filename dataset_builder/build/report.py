"""What ``build`` read, wrote, dropped and why: :class:`BuildReport`.

Input
    The counts of a build, the files it wrote (relative path -> sha256) and its fingerprint.
Output
    A frozen report (``to_dict`` for JSON) that the card renders and the CLI prints.

Invariants (checked on creation): segments read = kept + held out; entity spans read = kept
(aligned + expanded) + held out + dropped (by reason); stance targets read = rows + held out +
dropped (by reason).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import DatasetBuilderError
from .bio import SPAN_STATUSES


@dataclass(frozen=True)
class BuildReport:
    """What ``build`` read, wrote, dropped and why. The counts add up (checked on creation)."""

    segments_read: int
    segments_held_out: int
    segments_kept: int
    ner_rows: Mapping[str, int]
    spans: Mapping[str, int]  # read, held_out, SPAN_STATUSES and dropped_disputed_segment
    stances: Mapping[str, int]  # read, held_out, dropped_duplicate, dropped_conflicting, kept
    stance_rows: Mapping[str, int]
    configs: tuple[str, ...]
    files: Mapping[str, str]  # relative path -> sha256
    fingerprint: str
    version: str
    out_dir: str
    annotations: Mapping[str, int] = field(default_factory=dict)  # read, kept, not_in_a_split (per-annotator records)
    warnings: tuple[str, ...] = ()
    segments_entities_disputed: int = 0  # kept for their stances, out of ner until adjudicated

    def __post_init__(self) -> None:
        problems = []
        if self.segments_read != self.segments_kept + self.segments_held_out:
            problems.append("segments")
        if "ner" in self.configs and sum(self.ner_rows.values()) != self.segments_kept - self.segments_entities_disputed:
            problems.append("ner rows")
        s = self.spans
        if s.get("read", 0) != s.get("held_out", 0) + s.get("dropped_disputed_segment", 0) + sum(
            s.get(k, 0) for k in SPAN_STATUSES
        ):
            problems.append("entity spans")
        st = self.stances
        if st.get("read", 0) != st.get("held_out", 0) + st.get("dropped_duplicate", 0) + st.get(
            "dropped_conflicting", 0
        ) + sum(self.stance_rows.values()):
            problems.append("stances")
        a = self.annotations
        if a and a.get("read", 0) != a.get("kept", 0) + a.get("not_in_a_split", 0):
            problems.append("annotations")
        if problems:
            raise DatasetBuilderError(f"BuildReport: {', '.join(problems)} do not add up: {self.to_dict()}")

    def summary(self) -> str:
        """The one line ``build`` prints: rows per split of each config, and what became of the
        entity spans and stance targets read (only the reasons that occurred), in words."""
        parts = [f"{config} rows {_counts(self.ner_rows if config == 'ner' else self.stance_rows, keep_zero=True)}"
                 for config in self.configs]
        if self.spans.get("read", 0) or "ner" in self.configs:
            parts.append(f"entity spans read {self.spans.get('read', 0)}: {_counts(self.spans, skip=('read',))}")
        if self.stances.get("read", 0) or "stance" in self.configs:
            parts.append(f"stance targets read {self.stances.get('read', 0)}: {_counts(self.stances, skip=('read',))}")
        return (f"built {', '.join(self.configs)} v{self.version} -> {self.out_dir}: {'; '.join(parts)}; "
                f"fingerprint {self.fingerprint[:16]}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "out_dir": self.out_dir,
            "configs": list(self.configs),
            "segments_read": self.segments_read,
            "segments_held_out": self.segments_held_out,
            "segments_kept": self.segments_kept,
            "segments_entities_disputed": self.segments_entities_disputed,
            "ner_rows": dict(self.ner_rows),
            "spans": dict(self.spans),
            "stances": dict(self.stances),
            "stance_rows": dict(self.stance_rows),
            "fingerprint": self.fingerprint,
            "files": dict(self.files),
            "annotations": dict(self.annotations),
            "warnings": list(self.warnings),
        }


def _counts(counts: Mapping[str, int], *, skip: tuple[str, ...] = (), keep_zero: bool = False) -> str:
    """``train 12, validation 2, test 3`` (keys with spaces for underscores; zeros left out unless
    ``keep_zero``; ``none`` when nothing is left)."""
    shown = [f"{k.replace('_', ' ')} {v}" for k, v in counts.items() if k not in skip and (v or keep_zero)]
    return ", ".join(shown) or "none"
