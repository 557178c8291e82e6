"""Label maps: corpus label -> config label, as given on the command line, in a JSON file or as a mapping.

Input
    A label map spec (``"2=against,4=neutral,6=favor"``, a JSON object file, or a mapping) and,
    while a reader runs, the config's labels of one kind (entity or stance).
Output
    ``{key: label}`` (:func:`parse_label_map`), and :class:`_Labels`: the map together with the
    config labels it maps into, as the readers use it.
Invariants
    Keys that read as numbers become floats, so ``2``, ``"2"`` and ``2.0`` are one key; a value
    ``""`` drops that label. Keys are shown back as written (``2.0`` -> ``2``) by :func:`_show`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..errors import InputError


def _map_key(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return number if math.isfinite(number) else value
    return value


def parse_label_map(spec: str | Path | Mapping[Any, str] | None) -> dict[Any, str]:
    """``"2=against,4=neutral,6=favor"``, a JSON object file, or a mapping -> ``{key: label}``.

    Keys that read as numbers become floats, so ``2``, ``"2"`` and ``2.0`` are one key. A value
    ``""`` drops that label (``MISC=`` drops MISC chunks).

    Raises
    ------
    InputError
        An entry without ``=``, an empty key, or a JSON file that is not an object of strings.
    """
    if spec is None:
        return {}
    items: Iterable[tuple[Any, Any]]
    if isinstance(spec, Mapping):
        items = spec.items()
    else:
        text = str(spec)
        path = Path(text)
        if text.endswith(".json") or (path.suffix and path.is_file()):
            items = _label_map_file(path)
        else:
            items = _label_map_pairs(text)
    out: dict[Any, str] = {}
    for key, value in items:
        if not isinstance(value, str) or (isinstance(key, str) and not key.strip()):
            raise InputError(f"label map entry {key!r}: {value!r}: keys must be non-empty and values strings.")
        out[_map_key(key)] = value
    return out


def _label_map_file(path: Path) -> Iterable[tuple[Any, Any]]:
    """The entries of a label map given as a JSON object file."""
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the label map ({exc}); expected a JSON object.") from None
    if not isinstance(obj, dict):
        raise InputError(f"{path}: the label map must be a JSON object {{corpus label: config label}}.")
    return obj.items()


def _label_map_pairs(text: str) -> list[tuple[str, str]]:
    """The entries of a label map given as ``CORPUS=CONFIG`` pairs separated by commas."""
    pairs = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if "=" not in part:
            raise InputError(
                f"label map entry {part!r} has no '='; write CORPUS=CONFIG pairs separated by commas, "
                "e.g. '2=against,4=neutral,6=favor' (CORPUS= drops that label)."
            )
        key, value = part.split("=", 1)
        pairs.append((key.strip(), value.strip()))
    return pairs


def _show(key: Any) -> str:
    return f"{key:g}" if isinstance(key, float) else str(key)


@dataclass(frozen=True)
class _Labels:
    """A reader's label map (``lmap``) and the labels of config ``config`` it maps into (``allowed``)."""

    lmap: Mapping[Any, str]
    allowed: frozenset[str]
    config: str

    def shown(self) -> dict[str, str]:
        """The label map as the report shows it (keys as written: ``2.0`` -> ``"2"``)."""
        return {_show(k): v for k, v in self.lmap.items()}
