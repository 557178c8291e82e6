"""Agreement between annotators, kept as tallies that do not grow with the export.

Input
    Each task's usable annotations (:class:`~.results._Parsed`, in annotator order) and its gold.
Output
    The report's ``agreement``: stance, Krippendorff's alpha (nominal, ``krippendorff``; past
    100,000 units from the same coincidence matrix the library sums, see
    :func:`_krippendorff_alpha`) over (task, target) units and pairwise Cohen's kappa
    (``sklearn.metrics.cohen_kappa_score`` on the table of label pairs, as sample weights) over the
    targets both annotators labelled; entities, pairwise exact-span F1 (micro over the tasks both
    annotated, spans compared as ``(start, end, label)``). Per label (:meth:`Agreement.per_label`):
    pooled pairwise exact-span F1 of each entity label, pooled pairwise specific agreement of each
    stance label. Per annotator, F1/accuracy against gold (gold is partly made of the annotator's own
    votes, so this is optimistic). Only annotators are measured: the caller leaves out adjudicators
    and ground truth (:attr:`~.results._Parsed.decisive`).
Invariants
    Memory is flat: a k x k table per annotator pair for kappa, alpha units grouped by their value
    counts (a few hundred distinct rows at most). :meth:`Agreement.merge` of the tallies of byte
    ranges gives what one process measures.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from itertools import combinations
from typing import Any, Mapping, Sequence

from .report import _annotator_key, _r
from .results import _Parsed


class Agreement:
    """The pairwise and alpha tallies of a run, for the labels of one schema."""

    def __init__(self, schema: Any) -> None:
        self.schema = schema
        self._stance_index = {lab: i for i, lab in enumerate(schema.stance_labels)}
        self._pair_f1: dict[tuple[str, str], list[int]] = {}
        # (a, b) -> k*k counts: how often a gave label i and b label j to the same target
        self._pair_kappa: dict[tuple[str, str], list[int]] = {}
        # alpha units grouped by their value counts (a row of k counts -> number of units with it):
        # a few hundred distinct rows at most, whatever the number of units
        self._alpha_units: Counter[tuple[int, ...]] = Counter()
        # entity label -> [matched, spans of a, spans of b], pooled over every pair
        self._label_f1: dict[str, list[int]] = {}

    def tallies(self) -> tuple[dict, dict, Counter, dict]:
        """What :meth:`merge` adds up (picklable): the F1 and kappa tables, the alpha units, the per-label F1."""
        return self._pair_f1, self._pair_kappa, self._alpha_units, self._label_f1

    def merge(self, tallies: tuple[dict, dict, Counter, dict]) -> None:
        """Add another run's :meth:`tallies` (a worker's byte range) to these."""
        pair_f1, pair_kappa, alpha_units, label_f1 = tallies
        self._alpha_units.update(alpha_units)
        for table, theirs in ((self._pair_f1, pair_f1), (self._pair_kappa, pair_kappa), (self._label_f1, label_f1)):
            for key, cells in theirs.items():
                mine = table.get(key)
                if mine is None:
                    table[key] = list(cells)
                else:
                    for i, v in enumerate(cells):
                        mine[i] += v

    def add(self, parsed: Sequence[_Parsed]) -> None:
        """Add one task's annotations to the pairwise and alpha tallies.

        ``parsed`` is in annotator order (:func:`~.annotations.choose_annotations` sorts), so each pair's key is
        ``(first, second)`` in that order.
        """
        if len(parsed) < 2:
            return
        pair_f1, pair_kappa, index, label_f1 = self._pair_f1, self._pair_kappa, self._stance_index, self._label_f1
        width = len(index)
        for a, b in combinations(parsed, 2):
            key = (a.annotator, b.annotator)
            acc = pair_f1.get(key)
            if acc is None:
                acc = pair_f1[key] = [0, 0, 0, 0]
            ae, be = a.entities, b.entities
            matched = ae.keys() & be.keys()
            acc[0] += len(matched)
            acc[1] += len(ae)
            acc[2] += len(be)
            acc[3] += 1
            if ae or be:
                for i, spans in ((0, matched), (1, ae), (2, be)):
                    for span in spans:
                        cell = label_f1.get(span[2])
                        if cell is None:
                            cell = label_f1[span[2]] = [0, 0, 0]
                        cell[i] += 1
            ast, bst = a.stances, b.stances
            if ast and bst:
                common = ast.keys() & bst.keys()
                if common:
                    cells = pair_kappa.get(key)
                    if cells is None:
                        cells = pair_kappa[key] = [0] * (width * width)
                    for tgt in common:
                        cells[index[ast[tgt]] * width + index[bst[tgt]]] += 1
        if width:
            units: dict[tuple[int, int], list[int]] = {}
            for p in parsed:
                for tgt, lab in p.stances.items():
                    row = units.get(tgt)
                    if row is None:
                        row = units[tgt] = [0] * width
                    row[index[lab]] += 1
            alpha_units = self._alpha_units
            for row in units.values():
                if sum(row) >= 2:  # a unit with one value is unpairable and does not change alpha
                    alpha_units[tuple(row)] += 1

    def against_gold(self, stats: Any, parsed: Sequence[_Parsed], gold_ents: list | None, gold_st: Mapping) -> None:
        """Each annotator's entities and stances against the gold (``gold_ents`` None: entities disputed, not compared)."""
        g = set(gold_ents or ())
        for p in parsed:
            s = stats[p.annotator]
            if gold_ents is not None:
                s.gold_tp += len(g & p.entities.keys())
                s.gold_pred += len(p.entities)
                s.gold_true += len(g)
            for tgt, lab in gold_st.items():
                if tgt in p.stances:
                    s.gold_stance_n += 1
                    s.gold_stance_ok += p.stances[tgt] == lab

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.schema.entity_labels:
            pairs = []
            for (a, b), (tp, na, nb, ntasks) in sorted(
                self._pair_f1.items(), key=lambda kv: (_annotator_key(kv[0][0]), _annotator_key(kv[0][1]))
            ):
                f1 = 2 * tp / (na + nb) if na + nb else None
                pairs.append({"a": a, "b": b, "f1": _r(f1), "tasks": ntasks, "spans_a": na, "spans_b": nb, "matched": tp})
            out["entities"] = {"pairwise_f1": pairs}
        if self.schema.stance_labels:
            out["stance"] = self._stance_agreement()
        out["per_label"] = self.per_label()
        return out

    def per_label(self) -> list[dict[str, Any]]:
        """Per entity label, pooled pairwise exact-span F1; per stance label, pooled pairwise specific
        agreement (2 x both gave it / times either gave it, over targets both labelled). None without pairs."""
        out: list[dict[str, Any]] = []
        for label in self.schema.entity_labels or ():
            matched, na, nb = self._label_f1.get(label, (0, 0, 0))
            spans = na + nb
            out.append({"kind": "entity", "label": label, "measure": "pairwise exact-span F1",
                        "value": _r(2 * matched / spans) if spans else None, "n": spans})
        k = len(self._stance_index)
        tables = list(self._pair_kappa.values())
        for label, i in self._stance_index.items():
            both = sum(t[i * k + i] for t in tables)
            either = sum(sum(t[i * k + j] for j in range(k)) + sum(t[j * k + i] for j in range(k)) for t in tables)
            out.append({"kind": "stance", "label": label, "measure": "pairwise specific agreement",
                        "value": _r(2 * both / either) if either else None, "n": either})
        return out

    def _stance_agreement(self) -> dict[str, Any]:
        k = len(self._stance_index)
        patterns = self._alpha_units
        units = sum(patterns.values())
        alpha = None
        note = None
        if not units:
            note = "no unit labelled by two or more annotators"
        elif sum(1 for i in range(k) if any(row[i] for row in patterns)) < 2:
            note = "only one stance label used: alpha is undefined"
        else:
            alpha = _krippendorff_alpha(patterns)
        kappas = []
        for (a, b), cells in sorted(
            self._pair_kappa.items(), key=lambda kv: (_annotator_key(kv[0][0]), _annotator_key(kv[0][1]))
        ):
            kappas.append({"a": a, "b": b, "kappa": _r(_cohen_kappa(cells, k)), "n": sum(cells)})
        return {"krippendorff_alpha": _r(alpha), "units": units, "note": note, "pairwise_cohen_kappa": kappas}


# Below this many units Krippendorff's alpha is computed by the krippendorff package from the units
# themselves (it builds units x k x k float arrays); above it, from their k x k coincidence matrix.
_ALPHA_LIBRARY_UNITS = 100_000


def _krippendorff_alpha(patterns: Mapping[tuple[int, ...], int]) -> float:
    """Krippendorff's alpha (nominal) of units given as ``{value counts of a unit: number of such units}``.

    Up to :data:`_ALPHA_LIBRARY_UNITS` units, ``krippendorff.alpha`` computes it from the units
    (rows expanded in sorted order, so the float sums are always done in the same order). Beyond,
    its arrays would grow with the export (about 200 bytes per unit), so the same statistic is
    computed from the units' coincidence matrix, which is what the library sums: each unit with
    counts ``r`` (``m = sum(r)`` values) adds ``(r r^T - diag(r)) / (m - 1)``; with ``n_v`` its
    column sums and ``n`` their total, ``e = (n_v n_v^T - diag(n_v)) / (n - 1)`` and
    ``alpha = 1 - sum(o * d) / sum(e * d)`` with ``d`` the nominal distance (1 off the diagonal).
    The tests hold both to the library on random units.
    """
    import numpy as np

    rows = sorted(patterns)
    reps = np.array([patterns[r] for r in rows], dtype=np.int64)
    values = np.array(rows, dtype=np.float64)
    if int(reps.sum()) <= _ALPHA_LIBRARY_UNITS:
        import krippendorff

        return float(krippendorff.alpha(value_counts=np.repeat(values, reps, axis=0), level_of_measurement="nominal"))
    m = values.sum(axis=1)
    per_unit = (values[:, :, None] * values[:, None, :] - values[:, None, :] * np.eye(values.shape[1])) / (m - 1)[:, None, None]
    o = (per_unit * reps[:, None, None]).sum(axis=0)
    n_v = o.sum(axis=0)
    e = (np.outer(n_v, n_v) - np.diagflat(n_v)) / (n_v.sum() - 1)
    d = 1.0 - np.eye(len(n_v))
    return float(1.0 - (o * d).sum() / (e * d).sum())


def _cohen_kappa(cells: Sequence[int], k: int) -> float | None:
    """Cohen's kappa (``sklearn.metrics.cohen_kappa_score``) of a k x k table of label pairs; None if undefined."""
    import numpy as np

    pairs = [(i // k, i % k, n) for i, n in enumerate(cells) if n]
    if len({i for i, _, _ in pairs} | {j for _, j, _ in pairs}) < 2:
        return None
    from sklearn.metrics import cohen_kappa_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        kappa = cohen_kappa_score(
            np.array([i for i, _, _ in pairs]), np.array([j for _, j, _ in pairs]), labels=list(range(k)),
            sample_weight=np.array([n for _, _, n in pairs], dtype=np.float64),
        )
    return None if math.isnan(kappa) else float(kappa)
