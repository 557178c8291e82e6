"""Scoring one split: counts per article, point metrics, bootstrap intervals, the report.

Input
    A gold split (``datasets.Dataset``) or a dataset folder with a config and split, and one
    predictions file (a second one for a paired comparison).
Output
    A report (plain dict, JSON-ready) with the metrics, their 95% bootstrap confidence
    intervals, the split hash, the scorer version and the seed (and, from a dataset folder,
    the dataset fingerprint and version). Floats are rounded to 10 decimals; bootstrap sums
    are done on exact integer counts.

Scores that mean nothing say so: an undefined metric is ``null`` with a line in ``notes`` (never
0); on a split of fewer than :data:`~.settings.MIN_CI_ARTICLES` articles no interval is computed
and ``bootstrap.ci_note`` says why; ``macro_average`` names the classes macro-F1 averages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..errors import SchemaError
from .bootstrap import _interval, bootstrap_sums
from .dataset import _file_sha256, dataset_fingerprint, dataset_version, load_split, split_hash
from .gold import _Gold, _prepare_gold
from .metrics import (
    F_AVG_CONVENTION,
    FNC1_CONVENTION,
    MACRO_CONVENTION,
    _ner_metric_arrays,
    _ner_metrics_dict,
    _stance_metric_arrays,
    _value,
    undefined_notes,
)
from .ner import TagSet, conlleval_lines, ner_counts
from .predictions import read_ner_predictions, read_stance_predictions
from .stance_task import StanceTask, declared_task, resolve_task
from .settings import (
    ALIGNMENTS,
    CONFIDENCE,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    MIN_CI_ARTICLES,
    NER_MODES,
    SCORER_VERSION,
    _check_choice,
    too_few_articles,
)

_ROUND = 10


def _r(x: Any) -> float | None:
    if math.isnan(float(x)):
        return None  # undefined
    value = round(float(x), _ROUND)
    return 0.0 if value == 0 else value  # no "-0.0"


def _ci(lo_hi: np.ndarray) -> list[float] | None:
    """An interval, or None when the metric is defined in no resample."""
    if np.isnan(lo_hi).any():
        return None
    return [_r(lo_hi[0]), _r(lo_hi[1])]


def score_split(
    dataset,
    predictions: str | Path,
    *,
    mode: str = "conlleval",
    alignment: str = "strict",
    favor_label: str | None = None,
    against_label: str | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    compare_with: str | Path | None = None,
    metric: str | None = None,
    unrelated_label: str | None = None,
    declared: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Score ``predictions`` against a gold ``datasets.Dataset`` (one split).

    Parameters
    ----------
    dataset : the gold split (NER or stance, told apart by its columns).
    predictions : JSONL predictions file.
    mode : NER chunk rules, ``"conlleval"`` or ``"strict"``.
    alignment : how NER ``spans`` snap to tokens: ``"strict"``, ``"contract"``, ``"expand"``.
    favor_label, against_label : the stance classes averaged by ``F_avg``.
    metric : the stance primary metric, ``f_avg``, ``fnc1`` or ``macro_f1`` (default: ``declared``,
        else as :func:`~.stance_task.resolve_task` decides from the label set).
    unrelated_label : FNC-1's unrelated class (``fnc1``).
    declared : what ``build`` declared for the split (:func:`~.stance_task.declared_task`).
    resamples, seed : bootstrap resamples (0 for none) and the numpy seed.
    compare_with : a second predictions file for a paired bootstrap comparison.

    Returns
    -------
    dict
        The report, without dataset fingerprint/version (see :func:`score_predictions`).

    Raises
    ------
    PredictionsError, InputError, SchemaError
        Invalid predictions, unreadable file, or a gold split that breaks the schema.
    """
    _check_options(mode=mode, alignment=alignment, resamples=resamples, seed=seed)
    gold = _prepare_gold(dataset)
    paths = [Path(predictions)] + ([Path(compare_with)] if compare_with is not None else [])
    if gold.task == "ner":
        counts = _count_ner(gold, paths, mode=mode, alignment=alignment)
    else:
        counts = _count_stance(gold, paths, resolve_task(
            gold.labels, declared=declared, metric=metric, favor_label=favor_label, against_label=against_label,
            unrelated_label=unrelated_label))
    total = counts.per_file[0].sum(0)
    point = counts.metric_fn(total)
    too_few = too_few_articles(len(gold.articles))
    ci_note = ("not available: resamples is 0" if not resamples else f"not available: {too_few}" if too_few else None)
    boot, intervals = _bootstrap_metrics(counts, resamples=resamples if ci_note is None else 0, seed=seed)
    if gold.task == "ner":
        assert gold.tagset is not None
        metrics, ci, primary, primary_value = _ner_metrics(total, gold.tagset, intervals)
        assert counts.tokens_correct is not None
        n_tokens, n_right = int(len(gold.gold)), counts.tokens_correct[0]
        metrics["accuracy"] = n_right / n_tokens if n_tokens else float("nan")
        metrics["n_tokens_correct"] = n_right
        metrics["conlleval"] = conlleval_lines(total, gold.tagset.types, n_tokens, n_right)
        notes = _ner_notes(metrics)
    else:
        metrics, ci, primary, primary_value = _stance_metrics(point, total, gold.labels, intervals, counts.headline,
                                                              counts.extra["metric"])
        notes = _stance_notes(metrics, counts.extra)
    report: dict[str, Any] = {
        "scorer_version": SCORER_VERSION,
        "task": gold.task,
        "split_hash": split_hash(gold.ids),
        "n_examples": len(gold.ids),
        "n_articles": len(gold.articles),
        "predictions": {"file": paths[0].name, "sha256": _file_sha256(paths[0])},
        **counts.extra,
        "primary_metric": primary,
        "primary_value": primary_value,
        "metrics": metrics,
        "notes": notes,
        "bootstrap": {"unit": "article", "resamples": resamples, "seed": seed, "confidence": CONFIDENCE,
                      "interval": "percentile (numpy linear)", "min_articles": MIN_CI_ARTICLES,
                      "available": ci_note is None, **({"ci_note": ci_note} if ci_note else {})},
        "ci": ci,
    }
    if compare_with is not None:
        report["comparison"] = _comparison(paths[1], counts, point, boot)
    return _rounded(report)


def _check_options(*, mode: str, alignment: str, resamples: Any, seed: Any) -> None:
    """``ValueError`` for an unknown mode or alignment, or resamples/seed that are not ints >= 0."""
    _check_choice("mode", mode, NER_MODES)
    _check_choice("alignment", alignment, ALIGNMENTS)
    if not isinstance(resamples, int) or resamples < 0:
        raise ValueError(f"The 'resamples' parameter must be an int >= 0. Got {resamples!r} instead.")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"The 'seed' parameter must be an int >= 0. Got {seed!r} instead.")


@dataclass(frozen=True, eq=False)
class _Counts:
    """Per-article counts of each predictions file, and how summed counts become metrics."""

    per_file: list[np.ndarray]  # one array per predictions file, articles first
    metric_fn: Callable[[np.ndarray], dict[str, np.ndarray]]
    headline: tuple[str, ...]  # the metrics a paired comparison reports
    extra: dict[str, Any]  # task-specific report keys, in report order
    dropped: list[int] | None = None  # NER: spans dropped per predictions file
    tokens_correct: list[int] | None = None  # NER: tokens whose predicted tag is the gold tag, per file


def _count_ner(gold: _Gold, paths: Sequence[Path], *, mode: str, alignment: str) -> _Counts:
    """Per-article entity counts ``(A, 3, n_types)`` of each NER predictions file."""
    assert gold.tagset is not None and gold.seg_start is not None and gold.article_of_token is not None
    if not gold.tagset.types:
        raise SchemaError(f"NER label set {list(gold.labels)} has no entity type; add B-/I- tags to the label set.")
    n_articles = len(gold.articles)
    per_file = []
    dropped = []
    correct = []
    for path in paths:
        pred, n_dropped = read_ner_predictions(path, gold, alignment=alignment)
        per_file.append(ner_counts(gold.gold, pred, gold.seg_start, gold.article_of_token, n_articles, gold.tagset, mode=mode))
        dropped.append(n_dropped)
        correct.append(int(np.count_nonzero(gold.gold == pred)))
    extra = {"mode": mode, "scheme": gold.tagset.scheme if mode == "strict" else "conlleval", "alignment": alignment,
             "spans_dropped": dropped[0], "n_tokens": int(len(gold.gold))}
    return _Counts(per_file, _ner_metric_arrays, ("micro_precision", "micro_recall", "micro_f1"), extra, dropped, correct)


def _count_stance(gold: _Gold, paths: Sequence[Path], task: StanceTask) -> _Counts:
    """Per-article confusion matrices ``(A, K, K)`` of each stance predictions file."""
    n_articles = len(gold.articles)
    k = len(gold.labels)
    per_file = []
    for path in paths:
        pred = read_stance_predictions(path, gold)
        key = gold.article_of_row * (k * k) + gold.gold * k + pred
        per_file.append(np.bincount(key, minlength=n_articles * k * k).reshape(n_articles, k, k))
    metric_fn = partial(_stance_metric_arrays, **task.metric_kwargs())
    extra = {"metric": task.metric, **{f"{role}_label": name for role, name in task.roles.items()}}
    return _Counts(per_file, metric_fn, task.headline(), extra)


def _bootstrap_metrics(
    counts: _Counts, *, resamples: int, seed: int
) -> tuple[list[dict[str, np.ndarray]], dict[str, np.ndarray]]:
    """Metric arrays per resample for each file (same draws for all), and the first file's intervals."""
    if not resamples:
        return [], {}
    stacked = np.stack(counts.per_file, axis=1)  # (A, files, ...)
    sums = bootstrap_sums(stacked, resamples=resamples, seed=seed)
    boot = [counts.metric_fn(sums[:, i]) for i in range(len(counts.per_file))]
    return boot, {name: _interval(values) for name, values in boot[0].items()}


def _ner_metrics(
    total: np.ndarray, tagset: TagSet, intervals: dict[str, np.ndarray]
) -> tuple[dict[str, Any], dict[str, Any], str, float]:
    """NER ``metrics`` and ``ci`` of the report, the primary metric's name and value."""
    metrics = _ner_metrics_dict(total, tagset.types)
    ci: dict[str, Any] = {}
    if intervals:
        ci = {
            "micro": {m: _ci(intervals[f"micro_{m}"]) for m in ("precision", "recall", "f1")},
            "per_type": {
                typ: {m: _ci(intervals[f"type_{m}"][:, j]) for m in ("precision", "recall", "f1")}
                for j, typ in enumerate(tagset.types)
            },
        }
    return metrics, ci, "micro_f1", metrics["micro"]["f1"]


def _stance_metrics(
    point: dict[str, np.ndarray],
    total: np.ndarray,
    labels: Sequence[str],
    intervals: dict[str, np.ndarray],
    headline: Sequence[str],
    primary: str = "f_avg",
) -> tuple[dict[str, Any], dict[str, Any], str, float]:
    """Stance ``metrics`` (with the confusion matrix) and ``ci`` of the report, the primary metric's name and value."""
    metrics: dict[str, Any] = {
        "accuracy": _value(point["accuracy"]),
        "macro_f1": _value(point["macro_f1"]),
        "macro_average": {"convention": MACRO_CONVENTION,
                          "classes": [name for j, name in enumerate(labels) if total[j].sum() > 0],
                          "left_out": [name for j, name in enumerate(labels) if total[j].sum() == 0]},
        **({"f_avg": _value(point["f_avg"]), "f_avg_convention": F_AVG_CONVENTION} if "f_avg" in point else {}),
        **({"fnc1": _value(point["fnc1"]), "fnc1_convention": FNC1_CONVENTION} if "fnc1" in point else {}),
        "per_class": {
            name: {
                "precision": _value(point["class_precision"][j]),
                "recall": _value(point["class_recall"][j]),
                "f1": _value(point["class_f1"][j]),
                "support": int(total[j].sum()),
                "n_pred": int(total[:, j].sum()),
            }
            for j, name in enumerate(labels)
        },
        "confusion_matrix": {"labels": list(labels), "rows": "gold", "columns": "predicted", "matrix": total.tolist()},
    }
    ci: dict[str, Any] = {}
    if intervals:
        ci = {m: _ci(intervals[m]) for m in headline}
        ci["per_class"] = {
            name: {m: _ci(intervals[f"class_{m}"][:, j]) for m in ("precision", "recall", "f1")}
            for j, name in enumerate(labels)
        }
    return metrics, ci, primary, metrics[primary]


def _ner_notes(metrics: Mapping[str, Any]) -> list[str]:
    """Why each null NER metric is undefined."""
    notes = undefined_notes("micro", metrics["micro"], "an entity of any type")
    for typ, row in metrics["per_type"].items():
        notes += undefined_notes(typ, row)
    return notes


def _stance_notes(metrics: Mapping[str, Any], extra: Mapping[str, Any]) -> list[str]:
    """Why each null stance metric is undefined, and which classes macro-F1 leaves out."""
    notes = []
    left_out = metrics["macro_average"]["left_out"]
    if metrics["macro_f1"] is None:
        notes.append("macro_f1: null (undefined: no class has gold support in the split)")
    elif left_out:
        notes.append(f"macro_f1: averaged over {', '.join(metrics['macro_average']['classes'])} only; "
                     f"no gold support for {', '.join(left_out)}")
    if "f_avg" in metrics and metrics["f_avg"] is None:
        missing = [c for c in (extra["favor_label"], extra["against_label"]) if metrics["per_class"][c]["support"] == 0]
        notes.append(f"f_avg: null (undefined: the split has no gold example of {' or '.join(missing)}; F_avg needs "
                     f"both {extra['favor_label']} and {extra['against_label']})")
    for name, row in metrics["per_class"].items():
        notes += undefined_notes(name, {**row, "n_gold": row["support"]})
    return notes


def _comparison(
    other_path: Path, counts: _Counts, point: dict[str, np.ndarray], boot: list[dict[str, np.ndarray]]
) -> dict[str, Any]:
    """The paired comparison of the first predictions file (a) with the second (b), on the headline metrics."""
    other = counts.metric_fn(counts.per_file[1].sum(0))
    comparison: dict[str, Any] = {"predictions": {"file": other_path.name, "sha256": _file_sha256(other_path)}, "metrics": {}}
    for name in counts.headline:
        a, b = float(point[name]), float(other[name])
        entry: dict[str, Any] = {"a": a, "b": b, "delta": a - b}
        if boot and not math.isnan(a - b):
            delta = boot[0][name] - boot[1][name]
            entry["ci"] = _ci(_interval(delta))
            defined = delta[~np.isnan(delta)]
            if not len(defined):
                pass
            elif a > b:
                entry["p_not_better"] = float(np.mean(defined <= 0))
            elif b > a:
                entry["p_not_better"] = float(np.mean(defined >= 0))
            else:
                entry["p_not_better"] = 1.0
        comparison["metrics"][name] = entry
    if counts.dropped is not None:
        comparison["spans_dropped"] = counts.dropped[1]
    return comparison


def score_predictions(
    dataset_dir: str | Path,
    predictions: str | Path,
    *,
    config: str = "ner",
    split: str = "test",
    **options: Any,
) -> dict[str, Any]:
    """Score ``predictions`` against ``<dataset_dir>`` config ``config`` split ``split``.

    Same options and report as :func:`score_split`, plus ``config``, ``split``,
    ``dataset_fingerprint`` and ``dataset_version`` at the top of the report.
    """
    dataset = load_split(dataset_dir, config, split)
    if "declared" not in options:
        options["declared"] = declared_task(dataset_dir, config, split)
    body = score_split(dataset, predictions, **options)
    head = {
        "scorer_version": body.pop("scorer_version"),
        "config": config,
        "split": split,
        "dataset_fingerprint": dataset_fingerprint(dataset_dir),
        "dataset_version": dataset_version(dataset_dir),
    }
    return {**head, **body}


def _rounded(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    if isinstance(value, (float, np.floating)):
        if math.isinf(float(value)):
            raise ValueError(f"infinite metric {value!r}")  # cannot happen: zero divisions give NaN
        return _r(value)  # NaN (undefined) -> None
    if isinstance(value, np.integer):
        return int(value)
    return value
