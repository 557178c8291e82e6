"""The dataset side of a score: identity of the data and loading of one split.

Input
    A dataset folder written by ``build`` (``<dir>/<config>/<split>.parquet`` with the
    HuggingFace ``Features`` in the parquet metadata, or anything ``datasets.load_dataset(<dir>,
    <config>)`` reads).
Output
    The dataset fingerprint and version, the split hash and a file's sha256 (the identities a
    report carries), a split as a ``datasets.Dataset``, its task and its class names.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterable

from ..errors import InputError, SchemaError


def dataset_fingerprint(dataset_dir: str | Path) -> str:
    """SHA-256 (hex) over the bytes of every ``*.parquet`` file under ``dataset_dir``.

    Files are read in sorted order of their POSIX path relative to ``dataset_dir``; paths with a
    component starting with ``.`` are skipped. Only bytes are hashed, so the fingerprint changes
    exactly when the data files change.

    Raises
    ------
    InputError
        ``dataset_dir`` is not a folder or holds no parquet file.
    """
    from ..build import parquet_fingerprint  # the earlier stage owns the definition

    root = Path(dataset_dir)
    if not root.is_dir():
        raise InputError(f"{root}: not a folder; pass the dataset folder written by `dataset-builder build`.")
    if not any(root.rglob("*.parquet")):
        raise InputError(f"{root}: no *.parquet file; build the dataset first (`dataset-builder build`).")
    return parquet_fingerprint(root)


def dataset_version(dataset_dir: str | Path) -> str:
    """The dataset's declared version.

    Read from the first non-blank line of ``<dir>/dataset_version.txt``; else the top-level
    ``version`` key of the YAML front matter of ``<dir>/README.md``; else ``"0.0.0"``.
    """
    root = Path(dataset_dir)
    version_file = root / "dataset_version.txt"
    if version_file.is_file():
        for line in version_file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                return line.strip()
    readme = root / "README.md"
    if readme.is_file():
        meta = _front_matter(readme)
        value = meta.get("version") if isinstance(meta, dict) else None
        if value is not None and str(value).strip():
            return str(value).strip()
    return "0.0.0"


def _front_matter(readme: Path) -> Any:
    import yaml

    text = readme.read_text(encoding="utf-8")
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}
    for i in range(1, len(lines)):
        if lines[i].strip() == "---":
            try:
                return yaml.safe_load("\n".join(lines[1:i])) or {}
            except yaml.YAMLError as exc:
                raise InputError(f"{readme}: YAML front matter does not parse ({exc}); fix the README header.") from None
    return {}


def split_hash(ids: Iterable[str]) -> str:
    """SHA-256 (hex) of the split's ids, sorted, joined by ``\\n``, UTF-8 encoded."""
    return hashlib.sha256("\n".join(sorted(ids)).encode("utf-8")).hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


READ_BATCH = 4096
"""Rows per batch when :func:`load_split` reads a parquet file."""


def load_split(dataset_dir: str | Path, config: str, split: str):
    """Load one split as a ``datasets.Dataset`` with its declared ``Features``.

    Reads ``<dir>/<config>/<split>.parquet`` directly when its metadata carries the HuggingFace
    features (fast, no cache written); otherwise falls back to
    ``datasets.load_dataset(str(dir), config, split=split)``.

    Raises
    ------
    InputError
        Neither way finds the split.
    """
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = Path(dataset_dir)
    path = root / config / f"{split}.parquet"
    if path.is_file():
        # batch by batch: reading the file whole decodes it at about 4x its size in memory at the peak
        # (50,000 news pairs: 442 MB for a 100 MB table; in batches 265 MB)
        parquet = pq.ParquetFile(path)
        table = pa.Table.from_batches(list(parquet.iter_batches(batch_size=READ_BATCH)), schema=parquet.schema_arrow)
        if table.schema.metadata and b"huggingface" in table.schema.metadata:
            meta = json.loads(table.schema.metadata[b"huggingface"]).get("info", {}).get("features")
            features = datasets.Features.from_dict(meta) if meta else datasets.Features.from_arrow_schema(table.schema)
            if not table.schema.equals(features.arrow_schema, check_metadata=False):
                # e.g. class ids stored as int32: bring the columns to the declared feature types
                try:
                    table = table.cast(features.arrow_schema)
                except (ValueError, TypeError, NotImplementedError) as exc:  # pyarrow's ArrowInvalid is a ValueError
                    raise SchemaError(
                        f"{path}: columns do not fit the features declared in its metadata ({exc}); rebuild the dataset."
                    ) from None
            # the file's digest as the fingerprint: without one, datasets hashes the whole table
            # (a peak of 400 MB more for 100 MB of news pairs)
            fingerprint = _file_sha256(path)[:32]
            return datasets.Dataset(datasets.table.InMemoryTable(table), info=datasets.DatasetInfo(features=features),
                                    fingerprint=fingerprint)
    try:
        return datasets.load_dataset(str(root), config, split=split)
    except Exception as exc:  # datasets raises many types; all mean "not there"
        raise InputError(
            f"{root}: cannot load config {config!r} split {split!r} ({type(exc).__name__}: {exc}); expected "
            f"{path} or a README.md whose `configs` name it. Check --config/--split or rebuild the dataset."
        ) from None


def _label_names(features: Any, column: str) -> tuple[str, ...]:
    """Class names of a ``ClassLabel`` column (or a sequence of ``ClassLabel``)."""
    feature = features[column]
    feature = getattr(feature, "feature", feature)
    names = getattr(feature, "names", None)
    if not names:
        raise SchemaError(
            f"column {column!r} is {feature!r}, not a ClassLabel with names; build the dataset with explicit "
            "Features (ClassLabel(names=...) from the annotation config)."
        )
    return tuple(names)


def task_of(dataset) -> str:
    """``"ner"`` when the split has ``ner_tags``, ``"stance"`` when it has ``label`` and ``target``."""
    columns = set(dataset.column_names)
    if "ner_tags" in columns:
        return "ner"
    if {"label", "target"} <= columns:
        return "stance"
    raise SchemaError(
        f"cannot tell the task of a split with columns {sorted(columns)}; expected `ner_tags` (NER) or "
        "`label` and `target` (stance)."
    )
