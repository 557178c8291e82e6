"""The declared features of the three configurations (``ner``, ``stance``, ``annotations``).

Input
    The config's entity labels (in config order) or stance labels. ``ner`` and ``stance`` rows also
    carry their article's ``title``, ``date``, ``source`` and ``url`` (:data:`ARTICLE_FIELDS`, null
    when unknown).
Output
    ``datasets.Features``, declared once here and never inferred (the parquet schemas and the
    README's ``dataset_info`` are written from them).
"""

from __future__ import annotations

from typing import Sequence

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


def stance_features(stance_labels: Sequence[str]):
    """The ``stance`` configuration's declared features."""
    from datasets import ClassLabel, Features, Value

    return Features(
        {
            "id": Value("string"),
            "article_id": Value("string"),
            **_article_features(),
            "segment_id": Value("string"),
            "text": Value("string"),
            "target": Value("string"),
            "target_start": Value("int32"),
            "target_end": Value("int32"),
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
