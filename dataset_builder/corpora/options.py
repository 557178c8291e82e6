"""A reader's options: the formats, each format's defaults, option checks, and ids from file names.

Input
    What a reader is called with: format, file path, config, annotator, id prefix, label map and
    the choice parameters (``scheme``, ``on_error``, ``split``).
Output
    The resolved values: the :class:`~dataset_builder.schema.LabelSchema`, the annotator, the
    article id prefix and the label map (the user's map laid over :data:`DEFAULT_LABEL_MAPS`).
Invariants
    What is not given falls back to the format's default; ids of two files or corpora never
    collide (:func:`default_id_prefix`). A choice outside its allowed values raises
    :class:`~dataset_builder.errors.InputError` naming the parameter.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

from ..errors import InputError
from ..schema import LabelSchema, load_schema
from .labels import parse_label_map

FORMATS = ("conll", "newsmtsc", "semeval2016", "fnc1", "pairs")
SCHEMES = ("auto", "iob1", "iob2")
ON_ERROR = ("raise", "skip")

DEFAULT_CONFIGS = {"conll": "entities", "newsmtsc": "target_stance", "semeval2016": "given_target_stance",
                   "fnc1": "headline_stance", "pairs": "given_target_stance"}
"""The bundled config each format is imported with unless another is given."""

DEFAULT_ANNOTATORS = {"conll": "conll2003-gold", "newsmtsc": "newsmtsc-gold", "semeval2016": "semeval2016-gold",
                      "fnc1": "fnc1-gold", "pairs": "corpus-gold"}
"""The name the corpus's labels are attributed to unless another is given."""

DEFAULT_LABEL_MAPS: dict[str, dict[Any, str]] = {
    "conll": {},
    # NewsMTSC's files: 2.0/4.0/6.0; its flattened HuggingFace copy: -1/0/1 (the two never collide)
    "newsmtsc": {2.0: "against", 4.0: "neutral", 6.0: "favor", -1.0: "against", 0.0: "neutral", 1.0: "favor"},
    "semeval2016": {"FAVOR": "favor", "AGAINST": "against", "NONE": "neutral"},
    "fnc1": {},  # agree, disagree, discuss, unrelated: the labels of headline_stance
    "pairs": {},
}
"""Corpus label -> config label. A user map is laid over it; a label in neither passes unchanged,
and a label mapped to ``""`` is dropped (counted). Numeric keys match numerically (2 == 2.0)."""


def _check_options(func: str, **options: tuple[Any, Sequence[Any]]) -> None:
    for name, (value, allowed) in options.items():
        if value not in allowed:
            raise InputError(
                f"The '{name}' parameter of {func} must be one of {', '.join(map(str, allowed))}. Got {value!r} instead."
            )


def slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return slug or "x"


GENERIC_SUFFIXES = frozenset({".txt", ".tsv", ".csv", ".json", ".jsonl", ".conll", ".conllu", ".iob", ".bio"})
"""File name endings that say only the format: dropped from ids. Any other ending is part of the name."""


def file_stem(path: str | Path) -> str:
    """The file's name without a *generic* extension (:data:`GENERIC_SUFFIXES`), as a slug.

    ``train.jsonl`` -> ``train``, but ``eng.train`` -> ``eng-train`` and ``eng.testb`` ->
    ``eng-testb``: CoNLL-2003's files differ only in what ``Path.stem`` would drop.
    """
    name = Path(path).name
    suffix = Path(name).suffix
    if suffix.lower() in GENERIC_SUFFIXES and Path(name).stem:
        name = Path(name).stem
    return slug(name)


def default_id_prefix(fmt: str, path: str | Path) -> str:
    """``"conll"`` + ``eng.train`` -> ``"conll-eng-train"``: ids of two files or corpora never collide."""
    return f"{fmt}-{file_stem(path)}"


def _reader_options(
    fmt: str, path: Path, annotator: str | None, id_prefix: str | None, label_map: Any
) -> tuple[str, str, dict[Any, str]]:
    """``(annotator, article id prefix, label map)`` of a reader: what was given, over the format's defaults."""
    return (annotator or DEFAULT_ANNOTATORS[fmt], id_prefix or default_id_prefix(fmt, path),
            {**DEFAULT_LABEL_MAPS[fmt], **parse_label_map(label_map)})


def _resolve_schema(fmt: str, config: str | Path | LabelSchema | None) -> LabelSchema:
    if isinstance(config, LabelSchema):
        return config
    return load_schema(config if config is not None else DEFAULT_CONFIGS[fmt])
