"""Metrics from summed counts: precision, recall and F1 (NER and stance), accuracy, F_avg.

Input
    Summed counts with any leading axes (one sum, or one per bootstrap resample): NER
    ``(..., 3, n_types)`` correct/predicted/gold entity counts (:func:`.ner.ner_counts`), stance
    ``(..., K, K)`` confusion matrices.
Output
    Dicts of metric arrays with the leading axes kept, so one call scores every resample. An
    undefined value is NaN in the arrays and ``None`` (JSON ``null``) in the report, never 0.

Metrics
    * Precision = TP / predicted, undefined when nothing was predicted; recall = TP / gold,
      undefined when there is no gold; F1 = 2PR / (P + R) (the conlleval and seqeval formula),
      0 when TP = 0, undefined only when there is neither gold nor prediction (scikit-learn's
      ``zero_division`` cases, reported as null instead of a chosen number).
    * Stance macro-F1 (:data:`MACRO_CONVENTION`): the mean F1 over the classes with gold support
      in the split, as scikit-learn's ``f1_score(average="macro", labels=<the classes present in
      y_true>)``; a class with no gold example is left out (and named in the report), since its F1
      only measures false alarms. Undefined when no class has support.
    * ``F_avg`` (:data:`F_AVG_CONVENTION`) = mean F1 of the favor and against classes
      (SemEval-2016 Task 6); undefined unless both have gold support in the split.
    * ``fnc1`` (:data:`FNC1_CONVENTION`): FNC-1's relative score, as its official ``scorer.py``
      computes it: a pair scores 0.25 when gold and prediction agree on relatedness (the
      ``unrelated`` class against all the others, the related classes), and 0.75 more when a
      related pair's exact class is right (0.25 + 0.50 + 0.25 = 1 for it); the sum over pairs is
      divided by the best possible sum (0.25 per unrelated gold pair, 1 per related one). A
      fraction in [0, 1] (the scorer prints it x 100 as a percent); undefined on an empty split.
    * Accuracy, and the confusion matrix (rows gold, columns predicted, label-set order).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

MACRO_CONVENTION = (
    "mean F1 over the classes with gold support in the split: scikit-learn f1_score(average='macro', "
    "labels=<classes present in the gold labels>); classes without gold support are left out"
)
F_AVG_CONVENTION = "SemEval-2016 Task 6: mean F1 of the favor and against classes; null unless both have gold support"
FNC1_CONVENTION = (
    "FNC-1 scorer.py: 0.25 per pair right on relatedness (unrelated vs the related classes), 0.75 more per related pair "
    "with the exact class; relative score = score / best possible score (0.25 per unrelated pair, 1 per related pair)"
)


def fnc1_score(conf: np.ndarray, unrelated: int) -> tuple[np.ndarray, np.ndarray]:
    """FNC-1's ``(score, best possible score)`` from confusion sums ``(..., K, K)`` (rows gold, columns
    predicted); ``unrelated`` is the index of the unrelated class (see the module docstring)."""
    conf = np.asarray(conf, dtype=np.float64)
    related = np.ones(conf.shape[-1], dtype=bool)
    related[unrelated] = False
    diag = np.diagonal(conf, axis1=-2, axis2=-1)
    both_related = conf[..., related, :][..., related].sum((-2, -1))
    score = 0.25 * diag[..., unrelated] + 0.25 * both_related + 0.75 * diag[..., related].sum(-1)
    n_gold = conf.sum(-1)
    best = 0.25 * n_gold[..., unrelated] + n_gold[..., related].sum(-1)
    return score, best


def _value(x: Any) -> float | None:
    """A metric as a float, or ``None`` when it is undefined (NaN)."""
    x = float(x)
    return None if math.isnan(x) else x


def _prf(tp: np.ndarray, n_pred: np.ndarray, n_gold: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 (2PR/(P+R)); NaN where undefined (see the module docstring)."""
    tp = np.asarray(tp, dtype=np.float64)
    n_pred = np.asarray(n_pred, dtype=np.float64)
    n_gold = np.asarray(n_gold, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(n_pred > 0, tp / np.where(n_pred > 0, n_pred, 1), np.nan)
        recall = np.where(n_gold > 0, tp / np.where(n_gold > 0, n_gold, 1), np.nan)
        hit = tp > 0  # then P and R are both defined and > 0
        denom = np.where(hit, precision + recall, 1)
        f1 = np.where(hit, 2 * np.where(hit, precision * recall, 0) / denom, 0.0)
        f1 = np.where(n_pred + n_gold > 0, f1, np.nan)
    return precision, recall, f1


def _ner_metric_arrays(sums: np.ndarray) -> dict[str, np.ndarray]:
    """From summed counts ``(..., 3, T)``: micro and per-type P/R/F1 arrays."""
    tp, n_pred, n_gold = sums[..., 0, :], sums[..., 1, :], sums[..., 2, :]
    p, r, f = _prf(tp, n_pred, n_gold)
    mp, mr, mf = _prf(tp.sum(-1), n_pred.sum(-1), n_gold.sum(-1))
    return {"micro_precision": mp, "micro_recall": mr, "micro_f1": mf, "type_precision": p, "type_recall": r, "type_f1": f}


def _ner_metrics_dict(counts: np.ndarray, types: Sequence[str]) -> dict[str, Any]:
    arrays = _ner_metric_arrays(counts)
    micro = {
        "precision": _value(arrays["micro_precision"]),
        "recall": _value(arrays["micro_recall"]),
        "f1": _value(arrays["micro_f1"]),
        "n_gold": int(counts[2].sum()),
        "n_pred": int(counts[1].sum()),
        "n_correct": int(counts[0].sum()),
    }
    per_type = {
        typ: {
            "precision": _value(arrays["type_precision"][k]),
            "recall": _value(arrays["type_recall"][k]),
            "f1": _value(arrays["type_f1"][k]),
            "n_gold": int(counts[2, k]),
            "n_pred": int(counts[1, k]),
            "n_correct": int(counts[0, k]),
        }
        for k, typ in enumerate(types)
    }
    return {"micro": micro, "per_type": per_type}


def undefined_notes(name: str, row: dict[str, Any], thing: str | None = None) -> list[str]:
    """Why each null of a per-class or micro row (precision, recall, F1) is undefined; ``thing``
    names what is counted (default: ``name``)."""
    thing = thing or name
    notes = []
    if row.get("precision") is None:
        notes.append(f"{name} precision: null (undefined: nothing was predicted as {thing})")
    if row.get("recall") is None:
        notes.append(f"{name} recall: null (undefined: the split has no gold {thing})")
    if row.get("f1") is None:
        notes.append(f"{name} F1: null (undefined: neither gold nor predicted {thing})")
    return notes


def _stance_metric_arrays(
    conf: np.ndarray, favor: int | None = None, against: int | None = None, unrelated: int | None = None
) -> dict[str, np.ndarray]:
    """From confusion sums ``(..., K, K)`` (rows gold, cols predicted): stance metric arrays (``f_avg``
    with the favor and against classes, ``fnc1`` with the unrelated class)."""
    tp = np.diagonal(conf, axis1=-2, axis2=-1)
    n_pred = conf.sum(-2)
    n_gold = conf.sum(-1)
    p, r, f = _prf(tp, n_pred, n_gold)
    total = n_gold.sum(-1).astype(np.float64)
    supported = n_gold > 0
    n_supported = supported.sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        accuracy = np.where(total > 0, tp.sum(-1) / np.where(total > 0, total, 1), np.nan)
        macro = np.where(n_supported > 0, np.where(supported, f, 0.0).sum(-1) / np.where(n_supported > 0, n_supported, 1), np.nan)
    out = {"accuracy": accuracy, "macro_f1": macro}
    if favor is not None and against is not None:
        both = supported[..., favor] & supported[..., against]
        out["f_avg"] = np.where(both, (f[..., favor] + f[..., against]) / 2, np.nan)
    if unrelated is not None:
        score, best = fnc1_score(conf, unrelated)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["fnc1"] = np.where(best > 0, score / np.where(best > 0, best, 1), np.nan)
    return {**out, "class_precision": p, "class_recall": r, "class_f1": f}
