"""The format dispatch: :func:`read_corpus` reads a file with the reader of its format.

Input
    A format (one of :data:`~dataset_builder.corpora.options.FORMATS`), a file, a config, the
    reader's options and, optionally, the official split the file is.
Output
    The reader's :class:`~dataset_builder.corpora.corpus.Corpus`, every article pinned to
    ``split`` when one is given (:func:`~dataset_builder.corpora.corpus.pin_split`).
Invariants
    An unknown format or split, or an option the format's reader does not take (other than
    ``None``, which is ignored), raises :class:`~dataset_builder.errors.InputError` before
    anything is read.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Callable

from ..errors import InputError
from ..records import SPLIT_NAMES
from ..schema import LabelSchema
from .conll import read_conll
from .corpus import Corpus, pin_split
from .newsmtsc import read_newsmtsc
from .options import FORMATS, _check_options
from .pairs import read_fnc1, read_pairs
from .semeval import read_semeval2016

READERS: dict[str, Callable[..., Corpus]] = {
    "conll": read_conll,
    "newsmtsc": read_newsmtsc,
    "semeval2016": read_semeval2016,
    "fnc1": read_fnc1,
    "pairs": read_pairs,
}


def read_corpus(fmt: str, path: str | Path, config: str | Path | LabelSchema | None = None, *,
                split: str | None = None, **options: Any) -> Corpus:
    """Read ``path`` as ``fmt`` (one of :data:`FORMATS`) with that reader's ``options``.

    ``split`` (train, validation or test), when given, pins every article to that official
    split (:func:`pin_split`).

    Raises
    ------
    InputError
        Unknown format or split, or an option the reader does not take; whatever the reader raises.
    """
    if fmt not in READERS:
        raise InputError(f"The 'format' parameter of read_corpus must be one of {', '.join(FORMATS)}. Got {fmt!r} instead.")
    if split is not None:
        _check_options("read_corpus", split=(split, SPLIT_NAMES))
    reader = READERS[fmt]
    accepted = set(inspect.signature(reader).parameters)
    unknown = sorted(k for k, v in options.items() if k not in accepted and v is not None)
    if unknown:
        raise InputError(f"format {fmt!r} takes no option {', '.join(unknown)}.")
    corpus = reader(path, config, **{k: v for k, v in options.items() if k in accepted})
    return corpus if split is None else pin_split(corpus, split)

