"""The declared features of the two configurations (``ner``, ``stance``).

Input
    The config's entity labels (in config order) or stance labels.
Output
    ``datasets.Features``, declared once here and never inferred (the parquet schemas and the
    README's ``dataset_info`` are written from them).
"""

from __future__ import annotations

from typing import Sequence

from .bio import bio_names


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
            "segment_id": Value("string"),
            "text": Value("string"),
            "target": Value("string"),
            "target_start": Value("int32"),
            "target_end": Value("int32"),
            "label": ClassLabel(names=list(stance_labels)),
        }
    )
