"""Metrics from summed counts: precision, recall and F1 (NER and stance), accuracy, F_avg.

Input
    Summed counts with any leading axes (one sum, or one per bootstrap resample): NER
    ``(..., 3, n_types)`` correct/predicted/gold entity counts (:func:`.ner.ner_counts`), stance
    ``(..., K, K)`` confusion matrices.
Output
    Dicts of metric arrays with the leading axes kept, so one call scores every resample.

Metrics
    * Stance: accuracy, per-class precision/recall/F1, macro-F1 (mean over every class of the
      label set), ``F_avg`` = mean F1 of the favor and against classes (SemEval-2016 Task 6),
      and the confusion matrix (rows gold, columns predicted, label-set order).
    * Zero division gives 0 (precision with no prediction, recall with no gold, F1 when both are
      0), as conlleval and seqeval report it.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def _prf(tp: np.ndarray, n_pred: np.ndarray, n_gold: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 (2PR/(P+R), the conlleval and seqeval formula); 0 on zero division."""
    tp = np.asarray(tp, dtype=np.float64)
    n_pred = np.asarray(n_pred, dtype=np.float64)
    n_gold = np.asarray(n_gold, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(n_pred > 0, tp / np.where(n_pred > 0, n_pred, 1), 0.0)
        recall = np.where(n_gold > 0, tp / np.where(n_gold > 0, n_gold, 1), 0.0)
        denom = precision + recall
        f1 = np.where(denom > 0, 2 * precision * recall / np.where(denom > 0, denom, 1), 0.0)
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
        "precision": float(arrays["micro_precision"]),
        "recall": float(arrays["micro_recall"]),
        "f1": float(arrays["micro_f1"]),
        "n_gold": int(counts[2].sum()),
        "n_pred": int(counts[1].sum()),
        "n_correct": int(counts[0].sum()),
    }
    per_type = {
        typ: {
            "precision": float(arrays["type_precision"][k]),
            "recall": float(arrays["type_recall"][k]),
            "f1": float(arrays["type_f1"][k]),
            "n_gold": int(counts[2, k]),
            "n_pred": int(counts[1, k]),
            "n_correct": int(counts[0, k]),
        }
        for k, typ in enumerate(types)
    }
    return {"micro": micro, "per_type": per_type}


def _stance_metric_arrays(conf: np.ndarray, favor: int, against: int) -> dict[str, np.ndarray]:
    """From confusion sums ``(..., K, K)`` (rows gold, cols predicted): stance metric arrays."""
    tp = np.diagonal(conf, axis1=-2, axis2=-1)
    n_pred = conf.sum(-2)
    n_gold = conf.sum(-1)
    p, r, f = _prf(tp, n_pred, n_gold)
    total = n_gold.sum(-1).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        accuracy = np.where(total > 0, tp.sum(-1) / np.where(total > 0, total, 1), 0.0)
    return {
        "accuracy": accuracy,
        "macro_f1": f.mean(-1),
        "f_avg": (f[..., favor] + f[..., against]) / 2,
        "class_precision": p,
        "class_recall": r,
        "class_f1": f,
    }
