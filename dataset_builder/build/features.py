"""The declared features of the three configurations (``ner``, ``stance``, ``annotations``).

Input
    The config's entity labels (in config order) or stance labels. ``ner`` and ``stance`` rows also
    carry their article's ``title``, ``date``, ``source`` and ``url`` (:data:`ARTICLE_FIELDS`, null
    when unknown).
Output
    ``datasets.Features``, declared once here and never inferred (the parquet schemas and the
    README's ``dataset_info`` are written from them). The ``stance`` features say the target's
    kind: a span target has ``target`` with ``target_start``/``target_end`` (code points into
    ``text``); a given target (a headline, a claim, a topic outside the text) has ``target`` only.
    :func:`stance_task` is the stance task's declaration (target kind, primary metric, metric
    roles), written into the ``stance`` parquet files' metadata (:data:`STANCE_TASK_KEY`).
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from .bio import bio_names

ARTICLE_FIELDS = ("title", "date", "source", "url")
"""The article's fields copied onto every ``ner`` and ``stance`` row (strings, null when unknown)."""


def _article_features() -> dict:
    from datasets import Value

    return {name: Value("string") for name in ARTICLE_FIELDS}


def ner_features(entity_labels: Sequence[str]):
    """The ``ner`` configuration's declared features.

    ``Sequence`` (a list in datasets >= 4) and the ``[{...}]`` list-of-struct form read the same in
    datasets 3.x to 5.x.
    """
    import datasets

    return datasets.Features(
        {
            "id": datasets.Value("string"),
            "article_id": datasets.Value("string"),
            **_article_features(),
            "text": datasets.Value("string"),
            "tokens": datasets.Sequence(datasets.Value("string")),
            "token_starts": datasets.Sequence(datasets.Value("int32")),
            "token_ends": datasets.Sequence(datasets.Value("int32")),
            "ner_tags": datasets.Sequence(datasets.ClassLabel(names=bio_names(entity_labels))),
            "spans": [
                {
                    "start": datasets.Value("int32"),
                    "end": datasets.Value("int32"),
                    "label": datasets.Value("string"),
                    "text": datasets.Value("string"),
                }
            ],
        }
    )


STANCE_TASK_KEY = b"dataset_builder.stance_task"
"""Key of :func:`stance_task` (JSON) in the ``stance`` parquet files' schema metadata."""


def stance_task(schema: Any) -> dict[str, Any]:
    """``{"target_kind", "metric", "roles"}`` of a config's stance task (see :mod:`dataset_builder.schema`)."""
    labels = tuple(getattr(schema, "stance_labels", ()) or ())
    metric = getattr(schema, "stance_metric", None)
    roles = dict(getattr(schema, "stance_roles", ()) or ())
    if metric is None:  # a schema-like object without declared roles: the default rule of schema.py
        metric = "f_avg" if {"favor", "against"} <= set(labels) else "macro_f1"
        roles = {"favor": "favor", "against": "against"} if metric == "f_avg" else {}
    return {"target_kind": getattr(schema, "target_kind", None) or "span", "metric": metric, "roles": dict(sorted(roles.items()))}


def stance_task_json(task: dict[str, Any]) -> bytes:
    return json.dumps(task, sort_keys=True, ensure_ascii=False).encode("utf-8")


def stance_features(stance_labels: Sequence[str], target_kind: str = "span"):
    """The ``stance`` configuration's declared features (``target_kind`` ``"span"`` or ``"given"``)."""
    from datasets import ClassLabel, Features, Value

    offsets = {"target_start": Value("int32"), "target_end": Value("int32")} if target_kind == "span" else {}
    return Features(
        {
            "id": Value("string"),
            "article_id": Value("string"),
            **_article_features(),
            "segment_id": Value("string"),
            "text": Value("string"),
            "target": Value("string"),
            **offsets,
            "label": ClassLabel(names=list(stance_labels)),
        }
    )


def annotations_features():
    """The ``annotations`` configuration's declared features: one annotator's labels of one segment."""
    from datasets import Features, Value

    return Features(
        {
            "id": Value("string"),
            "segment_id": Value("string"),
            "article_id": Value("string"),
            "text": Value("string"),
            "annotator": Value("string"),
            "role": Value("string"),
            "gold_source": Value("string"),
            "entities": [{"start": Value("int32"), "end": Value("int32"), "label": Value("string"), "text": Value("string")}],
            "stances": [{"target_start": Value("int32"), "target_end": Value("int32"), "target_text": Value("string"),
                         "label": Value("string")}],
        }
    )
