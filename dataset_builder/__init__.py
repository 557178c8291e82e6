"""dataset_builder: news articles → Label Studio → annotated, versioned HuggingFace dataset.

Stages, one module each: ingest, segment, label_studio (push/pull), normalise, splits, build,
baselines, scoring. Records live in ``records.py``; errors in ``errors.py``; ``cli.py`` is thin.
"""

__version__ = "0.1.0"
