"""What the stance readers (:mod:`.newsmtsc`, :mod:`.semeval`, :mod:`.pairs`) share: the config check and the stance label.

Input
    The format and config a stance reader was given; each corpus stance label (a polarity or a
    stance name) with the reader's :class:`~dataset_builder.corpora.labels._Labels`.
Output
    The config, annotator, id prefix and labels a stance reader works with (:func:`_stance_options`),
    and the config label of each corpus label (:func:`_stance_label`; ``""`` means the label map
    drops it).
Invariants
    The config has a stance toward a given target (one target per task), else
    :class:`~dataset_builder.errors.SchemaError`; a corpus label is mapped by the label map, or
    passes unchanged when it already is a stance label of the config, or is a problem of its unit
    (``unknown_label``, a schema error).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import SchemaError
from ..schema import LabelSchema
from .labels import _Labels, _map_key, _show
from .ledger import _Bad
from .options import DEFAULT_CONFIGS, _reader_options, _resolve_schema


def _stance_label(raw: Any, labels: _Labels, line: int, what: str) -> str:
    """Map a corpus label; ``""`` means dropped. Raises :class:`_Bad` for an unknown one."""
    key = _map_key(raw)
    if key in labels.lmap:
        return labels.lmap[key]
    if isinstance(raw, str) and raw in labels.allowed:
        return raw
    known = ", ".join(f"{_show(k)}->{v or '(drop)'}" for k, v in labels.lmap.items()) or "none"
    raise _Bad(
        "unknown_label", line,
        f"{what} {raw!r} is neither in the label map ({known}) nor a stance label of config {labels.config!r} "
        f"({', '.join(sorted(labels.allowed))}); add it with --label-map {_show(key)}=LABEL (or {_show(key)}= to "
        "drop it)",
        schema_error=True,
    )


def _stance_options(fmt: str, path: Path, config: str | Path | LabelSchema | None, annotator: str | None,
                    id_prefix: str | None, label_map: Any, *, kind: str = "span") -> tuple[LabelSchema, str, str, _Labels]:
    """``(config, annotator, article id prefix, stance labels)`` of a stance reader, over the format's defaults;
    ``kind`` is the kind of target the format has (a span of the text, or a given target outside it)."""
    schema = _stance_schema(fmt, config, kind)
    annotator, prefix, lmap = _reader_options(fmt, path, annotator, id_prefix, label_map)
    return schema, annotator, prefix, _Labels(lmap, frozenset(schema.stance_labels), schema.name)


def _stance_schema(fmt: str, config: str | Path | LabelSchema | None, kind: str) -> LabelSchema:
    schema = _resolve_schema(fmt, config)
    if not schema.stance_labels or not schema.has_target:
        raise SchemaError(
            f"config {schema.name!r} has no stance toward a given target ($target and a per-task stance <Choices>), "
            f"so it cannot hold {fmt} labels; use --config {DEFAULT_CONFIGS[fmt]}."
        )
    if schema.target_kind != kind:
        what = {"span": "a span of the text (the target marker <Labels name=\"target\">)",
                "given": "given text outside the text ($target without the target marker)"}
        raise SchemaError(f"config {schema.name!r} takes {what[schema.target_kind]} as the target, but {fmt} targets "
                          f"are {what[kind]}; use --config {DEFAULT_CONFIGS[fmt]}.")
    return schema
