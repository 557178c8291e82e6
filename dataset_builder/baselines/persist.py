"""Saving and loading baselines with skops (never pickle), trusting only the project's own types.

Input
    A fitted baseline (:func:`save_model`), or a ``.skops`` file written by it (:func:`load_model`).
Output
    The ``.skops`` archive; the loaded estimator.
Invariants
    A file holding a type outside :data:`TRUSTED_TYPES` is refused before anything in it is built.
    Models saved before the baselines were split into modules name their types under
    ``dataset_builder.baselines`` itself (``dataset_builder.baselines.MemorisationTagger``); those
    names stay trusted and importable there (:data:`LEGACY_TYPES`), so old results folders still load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError

#: Names under which models saved before the split (into ``ner``, ``stance``, ``persist``) hold
#: the project's types; ``dataset_builder.baselines`` still exports each of them.
LEGACY_TYPES = (
    "dataset_builder.baselines._joined",
    "dataset_builder.baselines.MemorisationTagger",
    "dataset_builder.baselines.TokenDummyTagger",
    "dataset_builder.baselines.TokenFeaturizer",
)

#: Types a saved baseline may contain beyond what skops trusts itself (most of scikit-learn and numpy).
TRUSTED_TYPES = (
    "dataset_builder.baselines.stance._joined",
    "dataset_builder.baselines.stance.TfidfLogReg",
    "dataset_builder.baselines.pairs.PairFeatures",
    "dataset_builder.baselines.pairs.PerTargetSVM",
    "dataset_builder.baselines.pairs._text_of",
    "dataset_builder.baselines.pairs._lead",
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",  # pair_relation's trees
    "dataset_builder.baselines.ner.MemorisationTagger",
    "dataset_builder.baselines.ner.TokenDummyTagger",
    "dataset_builder.baselines.ner.TokenFeaturizer",
    "dataset_builder.baselines.ner.TagEncodingCRF",
    "sklearn_crfsuite.estimator.CRF",
    "sklearn_crfsuite._fileresource.FileResource",
    "pycrfsuite._logparser.TrainLogParser",
    "collections.Counter",
) + LEGACY_TYPES


def save_model(model: Any, path: str | Path) -> None:
    """Save ``model`` with skops (no pickle)."""
    import skops.io as sio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sio.dump(model, path)


def load_model(path: str | Path) -> Any:
    """Load a baseline saved by :func:`save_model`, trusting only :data:`TRUSTED_TYPES`.

    Raises
    ------
    InputError
        The file is missing or holds a type outside the trusted list.
    """
    import skops.io as sio

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such model file; run `dataset-builder benchmark` first.")
    untrusted = sio.get_untrusted_types(file=path)
    unknown = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unknown:
        raise InputError(f"{path}: holds types not trusted by dataset_builder: {unknown}; inspect the file before loading it.")
    return sio.load(path, trusted=list(untrusted))
