"""How much a model's pre-annotations helped: what annotators kept, changed and added, per model version.

Input
    A task's ``predictions`` (Label Studio pre-annotations, each with a ``model_version``) and the
    task's usable annotations (:class:`~.results._Parsed`) made by people (imported ground truth
    is not a person correcting a model and is left out).
Output
    Counts in the run's :class:`~.report.Counts` (``model_help``, keyed by ``(model version, kind,
    outcome)``) and, for the report, :func:`model_help_report`: per model version the annotations
    compared and, for entities and for stances, how many predicted items were ``kept`` (submitted
    unchanged), ``relabelled`` (same span or target, another label), ``moved`` (entities only: an
    overlapping span with other boundaries), ``deleted`` (no counterpart in the submission), and
    how many submitted items were ``added`` (no predicted counterpart).
Invariants
    A prediction's results are read by the same rules as annotations (:class:`~.results.ResultReader`
    with counts of its own, so the report's result tallies stay about annotations). Per model
    version the latest prediction of a task is compared (by id). Each predicted item gets exactly
    one outcome per annotation, each submitted item is matched at most once: ``kept + relabelled +
    moved + deleted`` equals the predicted items times the annotations compared. A prediction never
    becomes gold: only submitted annotations vote.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Mapping, Sequence

from .report import Counts
from .results import ResultReader, _Parsed
from .spans import SpanRules, _TextIndex

OUTCOMES = ("kept", "relabelled", "moved", "deleted", "added")


class ModelHelp:
    """Compares a task's latest prediction per model version with what each annotator submitted."""

    def __init__(self, schema: Any, offsets: str, counts: Counts) -> None:
        self.counts = counts
        scratch = Counts()  # the predictions' own result counts: not part of the report's tallies
        self._reader = ResultReader(schema, scratch, SpanRules(offsets, scratch, schema.entity_from_name))
        self._reader.count_names = False

    def add(self, predictions: Any, parsed: Sequence[_Parsed], ti: _TextIndex, target: Any, where: str) -> None:
        people = [p for p in parsed if not p.ground_truth]
        if not people or not isinstance(predictions, list):
            return
        latest: dict[str, Mapping[str, Any]] = {}
        for pred in predictions:
            if not isinstance(pred, dict) or not isinstance(pred.get("result"), list):
                continue
            version = pred.get("model_version")
            version = str(version) if version not in (None, "") else "(no model_version)"
            if version not in latest or _pred_order(pred) >= _pred_order(latest[version]):
                latest[version] = pred
        tally = self.counts.model_help
        for version, pred in sorted(latest.items()):
            got = self._reader.read(pred, version, ti, target, where, [])
            if not got.entities and not got.stances:
                continue  # a pre-mark of the target only, or nothing usable: nothing to correct
            for p in people:
                tally[(version, "annotations", "compared")] += 1
                for outcome, n in _entity_outcomes(got.entities, p.entities).items():
                    tally[(version, "entities", outcome)] += n
                for outcome, n in _stance_outcomes(got.stances, p.stances).items():
                    tally[(version, "stances", outcome)] += n


def _pred_order(pred: Mapping[str, Any]) -> tuple[int, str]:
    pid = pred.get("id")
    return (pid, "") if isinstance(pid, int) and not isinstance(pid, bool) else (-1, str(pid))


def _entity_outcomes(predicted: Mapping[tuple[int, int, str], str], submitted: Mapping[tuple[int, int, str], str]) -> Counter:
    out: Counter = Counter()
    left = [k for k in submitted if k not in predicted]  # submitted spans not yet matched
    for key in sorted(predicted):
        if key in submitted:
            out["kept"] += 1
            continue
        s, e, label = key
        same = next((k for k in left if k[0] == s and k[1] == e), None)
        if same is not None:
            out["relabelled"] += 1
            left.remove(same)
            continue
        near = next((k for k in left if k[0] < e and s < k[1]), None)
        if near is not None:
            out["moved"] += 1
            left.remove(near)
        else:
            out["deleted"] += 1
    out["added"] += len(left)
    return out


def _stance_outcomes(predicted: Mapping[Any, str], submitted: Mapping[Any, str]) -> Counter:
    out: Counter = Counter()
    for target, label in predicted.items():
        if target not in submitted:
            out["deleted"] += 1
        else:
            out["kept" if submitted[target] == label else "relabelled"] += 1
    out["added"] += sum(1 for t in submitted if t not in predicted)
    return out


def model_help_report(tally: Mapping[tuple[str, str, str], int]) -> dict[str, dict[str, Any]]:
    """Per model version: annotations compared, entity and stance outcomes, and the share of predicted
    items kept unchanged (None when nothing was predicted)."""
    out: dict[str, dict[str, Any]] = {}
    for version in sorted({k[0] for k in tally}):
        row: dict[str, Any] = {"annotations": tally.get((version, "annotations", "compared"), 0)}
        for kind in ("entities", "stances"):
            counts = {o: tally.get((version, kind, o), 0) for o in OUTCOMES if kind == "entities" or o != "moved"}
            predicted = sum(n for o, n in counts.items() if o != "added")
            row[kind] = {**counts, "kept_share": round(counts["kept"] / predicted, 4) if predicted else None}
        out[version] = row
    return out
