"""What every scoring module shares: the scorer's settings, the choice check, the error.

Holds the scorer version, the bootstrap defaults and confidence, the allowed NER ``mode`` and
span ``alignment`` values, :func:`_check_choice` (a ``ValueError`` naming the parameter and its
choices) and :class:`PredictionsError`, which every validation of a predictions file raises.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..errors import InputError

SCORER_VERSION = "1.0.0"
DEFAULT_SEED = 0
DEFAULT_RESAMPLES = 1000
CONFIDENCE = 0.95
NER_MODES = ("conlleval", "strict")
ALIGNMENTS = ("strict", "contract", "expand")


class PredictionsError(InputError):
    """A predictions file does not match the gold split (ids, labels, lengths, offsets)."""


def _check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        raise ValueError(f"The {name!r} parameter must be one of {list(choices)}. Got {value!r} instead.")
