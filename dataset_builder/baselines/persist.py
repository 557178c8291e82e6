"""Saving and loading baselines with skops (never pickle), trusting only the project's own types.

Input
    A fitted baseline (:func:`save_model`), or a ``.skops`` file written by it (:func:`load_model`).
Output
    The ``.skops`` archive; the loaded estimator.
Invariants
    A file holding a type outside :data:`TRUSTED_TYPES` is refused before anything in it is built.
    A vectorizer's vocabulary is saved as two arrays, not as a dict (:func:`save_model`); a file
    saved with the dict loads as well. Models saved before the baselines were split into modules
    name their types under ``dataset_builder.baselines`` itself
    (``dataset_builder.baselines.MemorisationTagger``); those names stay trusted and importable
    there (:data:`LEGACY_TYPES`), so old results folders still load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

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


VOCABULARIES = {"vocabulary_": "packed_vocabulary_", "vocabulary": "packed_given_vocabulary_"}
"""A vectorizer's vocabulary dicts (the fitted one, the one it was given) and the attributes that
hold them in a saved model (:func:`save_model`)."""


def _vectorizers(obj: Any, seen: set[int] | None = None):
    """The scikit-learn ``CountVectorizer``\\s (``TfidfVectorizer`` too) inside a model: in its
    attributes, steps, lists, tuples and dicts, recursively (scikit-learn's and the project's objects only)."""
    from sklearn.feature_extraction.text import CountVectorizer

    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, CountVectorizer):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _vectorizers(item, seen)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _vectorizers(item, seen)
    elif type(obj).__module__.split(".")[0] in ("sklearn", "dataset_builder") and hasattr(obj, "__dict__"):
        for item in vars(obj).values():
            yield from _vectorizers(item, seen)


def pack_terms(terms: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Terms as their UTF-8 bytes end to end and the offsets where each ends (any code point, lone
    surrogates too)."""
    encoded = [t.encode("utf-8", "surrogatepass") for t in terms]
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
    return data, np.cumsum([len(e) for e in encoded], dtype=np.int64)


def unpack_terms(data: np.ndarray, ends: np.ndarray) -> dict[str, int]:
    """The vocabulary (term -> column) of :func:`pack_terms`' arrays, the terms numbered in order."""
    raw = data.tobytes()
    starts = [0, *ends[:-1].tolist()]
    return {raw[a:b].decode("utf-8", "surrogatepass"): i for i, (a, b) in enumerate(zip(starts, ends.tolist()))}


def save_model(model: Any, path: str | Path) -> None:
    """Save ``model`` with skops (no pickle).

    A vectorizer's vocabulary (fitted, and given as a parameter) is saved as two arrays
    (:func:`pack_terms`, in the attributes of :data:`VOCABULARIES`) instead of its dict: skops
    writes each of a dict's numpy integers as a file of its own, which took 289 s and 90 MB for
    the 110,000 terms of ``tfidf_logreg`` on 4,000 pairs (``benchmarks/stance_pairs.py``). The
    model itself is left as it was.
    """
    import skops.io as sio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    saved: list[tuple[Any, str, dict[str, int]]] = []
    try:
        for v in _vectorizers(model):
            for name in VOCABULARIES:
                vocabulary = getattr(v, name, None)
                if isinstance(vocabulary, dict):
                    terms = [""] * len(vocabulary)
                    for term, column in vocabulary.items():
                        terms[column] = term
                    saved.append((v, name, vocabulary))
                    setattr(v, VOCABULARIES[name], pack_terms(terms))
                    if name == "vocabulary":
                        v.vocabulary = None
                    else:
                        delattr(v, name)
        sio.dump(model, path)
    finally:
        for v, name, vocabulary in saved:
            setattr(v, name, vocabulary)
            delattr(v, VOCABULARIES[name])


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
    model = sio.load(path, trusted=list(untrusted))
    for v in _vectorizers(model):
        for name in VOCABULARIES:
            if hasattr(v, VOCABULARIES[name]):
                setattr(v, name, unpack_terms(*getattr(v, VOCABULARIES[name])))
                delattr(v, VOCABULARIES[name])
    return model
