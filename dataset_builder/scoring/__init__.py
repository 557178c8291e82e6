"""Score a predictions file against one split of the built dataset, reproducibly (the ``score`` stage).

Input
    A dataset folder written by ``build`` (``<dir>/<config>/<split>.parquet`` with the
    HuggingFace ``Features`` in the parquet metadata, or anything ``datasets.load_dataset(<dir>,
    <config>)`` reads) and a predictions file in JSONL, one object per line (stance ``label``,
    NER ``tags`` or ``spans``; the formats and the span ``alignment`` choices are in
    :mod:`.predictions`).

Output
    A report (plain dict, JSON-ready) with the metrics, their 95% bootstrap confidence
    intervals, the dataset fingerprint and version, the split hash, the scorer version and the
    seed; :func:`report_to_json` and :func:`report_to_markdown` render it. Identical inputs give
    byte-identical renderings: no timestamps, no paths beyond file names, floats rounded to 10
    decimals, bootstrap sums done on exact integer counts.

Metrics
    NER: entity-level micro and per-type precision/recall/F1, with the chunk rules of
    ``conlleval`` or strict ones (:mod:`.ner`). Stance: accuracy, per-class scores, macro-F1,
    ``F_avg`` and the confusion matrix (:mod:`.metrics`). Confidence intervals: bootstrap over
    articles, not rows (:mod:`.bootstrap`).

Invariants
    Every gold id is predicted exactly once; no unknown id; labels come from the dataset's label
    set; a tag sequence has one tag per token. Anything else raises :class:`PredictionsError`
    naming the file, line, value seen, value expected and the fix.

Modules
    * :mod:`.settings`: scorer version, defaults, allowed modes and alignments, ``PredictionsError``.
    * :mod:`.dataset`: dataset fingerprint and version, split hash, loading a split, its task.
    * :mod:`.ner`: tag sets, chunk rules, per-article entity counts, reports for tag sequences.
    * :mod:`.metrics`: precision/recall/F1, accuracy and ``F_avg`` from summed counts.
    * :mod:`.gold`: a gold split prepared as aligned arrays.
    * :mod:`.predictions`: reading and validating a predictions file (tags, spans, labels).
    * :mod:`.bootstrap`: the article bootstrap and its percentile interval.
    * :mod:`.score`: :func:`score_split` and :func:`score_predictions`, the report.
    * :mod:`.report`: the report as JSON and as markdown.

``python -m dataset_builder.scoring ARGS`` runs ``dataset-builder score ARGS`` (``__main__.py``).
"""

from .bootstrap import bootstrap_sums
from .dataset import dataset_fingerprint, dataset_version, load_split, split_hash, task_of
from .ner import TagSet, entities_from_tags, ner_counts, ner_report_from_tags
from .predictions import read_ner_predictions, read_stance_predictions
from .report import format_metric, report_to_json, report_to_markdown
from .score import score_predictions, score_split
from .settings import (
    ALIGNMENTS,
    CONFIDENCE,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    MIN_CI_ARTICLES,
    NER_MODES,
    SCORER_VERSION,
    PredictionsError,
    too_few_articles,
)

__all__ = [
    "ALIGNMENTS",
    "CONFIDENCE",
    "DEFAULT_RESAMPLES",
    "DEFAULT_SEED",
    "MIN_CI_ARTICLES",
    "NER_MODES",
    "SCORER_VERSION",
    "PredictionsError",
    "TagSet",
    "bootstrap_sums",
    "dataset_fingerprint",
    "dataset_version",
    "entities_from_tags",
    "format_metric",
    "load_split",
    "ner_counts",
    "ner_report_from_tags",
    "read_ner_predictions",
    "read_stance_predictions",
    "report_to_json",
    "report_to_markdown",
    "score_predictions",
    "score_split",
    "split_hash",
    "task_of",
    "too_few_articles",
]
