"""Build the dataset folder from gold annotations and a split manifest, and load it back.

Input
    Gold :class:`~dataset_builder.records.Annotation` records, the
    :class:`~dataset_builder.records.SplitManifest` written by ``split``, the
    :class:`~dataset_builder.schema.LabelSchema` of the labelling config and optionally the
    ``normalise`` report (passed on to the card).
Output
    The folder described in :mod:`dataset_builder.build` (parquet per configuration and split,
    ``dataset_version.txt``, the plot, the card) and a :class:`~dataset_builder.build.report.BuildReport`;
    :func:`load_built` reads one configuration back with all three splits.

Rules (the card states them too):

* **Stance rows**: one row per (segment, target); ``id`` is ``"{segment_id}@{start}-{end}"``. The
  same target twice with the same label is kept once (counted); with different labels it is
  dropped (counted: gold must be adjudicated).
* **Held-out articles** (see :mod:`dataset_builder.splits`) are excluded, and counted.
* **Determinism**: rows sorted by article id, then segment id (numbers compared as numbers), then
  target; features declared once (:mod:`.features`), never inferred; parquet written with fixed
  settings (:mod:`.parquet`); no timestamps anywhere. Same inputs, same bytes (within one
  pyarrow/matplotlib version).
* **Empty splits** are written as zero-row parquet files with the full schema but are left out
  of the README's loader configuration: ``datasets`` cannot load a split with no rows
  (huggingface/datasets#8401); :func:`load_built` returns them as empty datasets.
"""

from __future__ import annotations

from collections import Counter
from itertools import chain, groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import InputError, SchemaError
from ..records import GOLD, Annotation, Article, EntitySpan, SPLIT_NAMES, SplitManifest
from ..splits import natural_key
from .annotations import annotation_rows, annotation_tables, annotator_summary
from .bio import SPAN_STATUSES, _project
from .card import write_card
from .features import (
    ARTICLE_FIELDS,
    STANCE_TASK_KEY,
    annotations_features,
    ner_features,
    stance_features,
    stance_task,
    stance_task_json,
)
from .parquet import _list_array, _write_parquet, file_sha256, parquet_fingerprint
from .plot import PLOT_NAME, _plot
from .report import BuildReport
from .tokens import TOKENISER, TokenBatch, tokens_of

if TYPE_CHECKING:  # pragma: no cover
    from ..schema import LabelSchema

CONFIGS = ("ner", "stance", "annotations")
TOKENISER_KEY = b"dataset_builder.tokeniser"
"""Key of the tokeniser's name (:data:`~.tokens.TOKENISER`) in the ``ner`` parquet files' schema metadata,
so that the fingerprint (the files' bytes) changes with the tokeniser or its version."""
VERSION_NAME = "dataset_version.txt"


def build_dataset(
    gold: Sequence[Annotation],
    manifest: SplitManifest,
    schema: "LabelSchema",
    out_dir: str | Path,
    *,
    version: str = "0.1.0",
    normalise_report: Mapping[str, Any] | None = None,
    pretty_name: str | None = None,
    description: str | None = None,
    license: str = "unknown",
    citation: str | None = None,
    language: str = "en",
    articles: Sequence[Article] | None = None,
    annotations: Sequence[Annotation] | None = None,
    results: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> BuildReport:
    """Write the dataset folder described in the package docstring (:mod:`dataset_builder.build`).

    Parameters
    ----------
    gold : sequence of Annotation
        Gold annotations (``annotator == "gold"``), one per segment.
    manifest : SplitManifest
        Every gold article must be in one of its splits or held out.
    schema : LabelSchema
        Label names and order (``entity_labels``, ``stance_labels``), ``instructions``,
        ``name`` and ``config_hash``. A config without entity labels gives no ``ner``
        configuration; one without stance labels gives no ``stance`` configuration.
    out_dir : path
        Created if needed; the files listed above are overwritten, nothing else is touched.
    version : str
        Dataset version, written to ``dataset_version.txt`` and the card.
    normalise_report : mapping, optional
        The ``normalise`` report; its ``agreement`` and ``rejected`` entries are rendered.
    pretty_name, description, license, citation, language : str
        Card fields (``license`` is a Hub licence id such as ``cc-by-4.0``; ``unknown`` gives a
        warning in the report and the card).
    articles : sequence of Article, optional
        Their ``title``, ``date``, ``source`` and ``url`` go onto the rows (null when unknown or
        when the article is not given).
    annotations : sequence of Annotation, optional
        The per-annotator records of ``normalise`` (``annotations.jsonl``): the ``annotations``
        configuration and the card's annotator figures.
    results : mapping, optional
        A ``results.json`` of ``benchmark`` on this dataset: the card's baseline section.
    progress : callable, optional
        Called with the name of each phase as it starts.

    Returns
    -------
    BuildReport

    Raises
    ------
    InputError
        A non-gold or duplicate annotation, or a gold article that the manifest does not assign.
    SchemaError
        A label that is not in the config (the annotations were made with another config).
    """
    say = progress or (lambda _phase: None)
    out = Path(out_dir)
    version = _checked_version(version)
    entity_labels, stance_labels, configs = _labels_and_configs(schema)

    say("checking")
    split_of = _check_gold(gold, manifest)
    _check_labels(gold, getattr(schema, "name", "?"), entity_labels, stance_labels)

    kept = sorted(
        (a for a in gold if a.article_id in split_of), key=lambda a: (a.article_id, natural_key(a.segment_id))
    )
    held = [a for a in gold if a.article_id not in split_of]
    split_ids = {s: i for i, s in enumerate(SPLIT_NAMES)}
    row_split = np.array([split_ids[split_of[a.article_id]] for a in kept], dtype=np.int64)

    meta = _article_meta(articles, kept)
    tables: dict[str, dict[str, pa.Table]] = {}
    stats: dict[str, Any] = {"ner": {}, "stance": {}}
    spans_counts: dict[str, int] = {"read": sum(len(a.entities) for a in gold), "held_out": sum(len(a.entities) for a in held)}
    spans_counts.update({k: 0 for k in SPAN_STATUSES})
    ner_rows = {s: 0 for s in SPLIT_NAMES}
    if "ner" in configs:
        tables["ner"], stats["ner"], ner_rows, span_statuses = _ner_tables(kept, row_split, entity_labels, meta, say)
        spans_counts.update(span_statuses)
    stance_counts = {"read": sum(len(a.stances) for a in gold), "held_out": sum(len(a.stances) for a in held),
                     "dropped_duplicate": 0, "dropped_conflicting": 0}
    stance_rows = {s: 0 for s in SPLIT_NAMES}
    if "stance" in configs:
        tables["stance"], stats["stance"], stance_rows, dropped = _stance_tables(kept, row_split, stance_labels, meta, say,
                                                                                 stance_task(schema))
        stance_counts.update(dropped)
    annotation_counts: dict[str, int] = {}
    if annotations is not None:
        say("writing annotations")
        tables["annotations"], stats["annotations"], annotation_counts = _annotations_config(annotations, gold, split_of, schema)
        configs = configs + ("annotations",)

    say("writing files")
    files = _write_tables(out, tables)
    fingerprint = parquet_fingerprint(out)

    say("writing card")
    (out / VERSION_NAME).write_text(version + "\n", encoding="utf-8", newline="\n")
    _plot(stats, entity_labels, stance_labels, out / PLOT_NAME)
    files[PLOT_NAME] = file_sha256(out / PLOT_NAME)
    report = BuildReport(
        segments_read=len(gold), segments_held_out=len(held), segments_kept=len(kept), ner_rows=ner_rows,
        spans=spans_counts, stances={**stance_counts, "kept": sum(stance_rows.values())}, stance_rows=stance_rows,
        configs=configs, files=files, fingerprint=fingerprint, version=version, out_dir=str(out),
        segments_entities_disputed=sum(a.entities_disputed for a in kept),
        annotations=annotation_counts, warnings=_warnings(license, articles, annotations),
    )
    write_card(
        out, report=report, stats=stats, tables=tables, manifest=manifest, schema=schema,
        normalise_report=normalise_report, pretty_name=pretty_name, description=description, license=license,
        citation=citation, language=language, results=results,
    )
    return report


def _annotations_config(
    annotations: Sequence[Annotation], gold: Sequence[Annotation], split_of: Mapping[str, str], schema: Any
) -> tuple[dict[str, pa.Table], dict[str, Any], dict[str, int]]:
    """The ``annotations`` tables, their statistics (with the card's annotator summary) and counts."""
    rows = annotation_rows(annotations, gold, split_of)
    stats: dict[str, Any] = {s: {"rows": len(rows[s]), "articles": len({r["article_id"] for r in rows[s]})} for s in SPLIT_NAMES}
    stats["summary"] = annotator_summary(rows, schema)
    people = sum(1 for s in SPLIT_NAMES for r in rows[s] if r["role"] != "gold")
    read = sum(1 for a in annotations if a.annotator != GOLD)
    return annotation_tables(rows, annotations_features()), stats, {"read": read, "kept": people, "not_in_a_split": read - people}


def _warnings(license: str, articles: Any, annotations: Any) -> tuple[str, ...]:
    """What the card cannot say well: no licence, no article fields, no per-annotator labels."""
    out = []
    if license == "unknown":
        out.append("licence 'unknown': the Hub and users cannot tell whether the data may be reused; pass the "
                   "licence of the news and the annotations with --license (a Hub id such as cc-by-4.0).")
    if articles is None:
        out.append("no articles given: title, date, source and url are null on every row; pass --articles.")
    if annotations is None:
        out.append("no per-annotator annotations given: no 'annotations' configuration; pass --annotations "
                   "annotations.jsonl from normalise.")
    return tuple(out)


def _article_meta(articles: Sequence[Article] | None, kept: Sequence[Annotation]) -> dict[str, list]:
    """Per kept segment, its article's ``title``, ``date``, ``source``, ``url`` (None when unknown)."""
    by_id = {a.id: a for a in articles or ()}
    return {f: [getattr(by_id.get(a.article_id), f, None) for a in kept] for f in ARTICLE_FIELDS}


# --------------------------------------------------------------------------- reading and checking the inputs


def _checked_version(version: str) -> str:
    version = str(version).strip()
    if not version or any(c.isspace() for c in version):
        raise InputError(f"The dataset version must be a non-empty word such as 0.1.0; got {version!r}.")
    return version


def _labels_and_configs(schema: Any) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The config's entity and stance labels, and the configurations they give (``ner``, ``stance``)."""
    entity_labels = tuple(getattr(schema, "entity_labels", ()) or ())
    stance_labels = tuple(getattr(schema, "stance_labels", ()) or ())
    configs = tuple(c for c, labels in (("ner", entity_labels), ("stance", stance_labels)) if labels)
    if not configs:
        raise SchemaError(f"config {getattr(schema, 'name', '?')!r} has neither entity nor stance labels.")
    return entity_labels, stance_labels, configs


def _check_gold(gold: Sequence[Annotation], manifest: SplitManifest) -> dict[str, str]:
    """Refuse no gold, a non-gold or repeated annotation, or a gold article in no split; returns
    ``manifest.split_of()``."""
    if not gold:
        raise InputError("No gold annotations to build from; run `dataset-builder normalise` first.")
    split_of = manifest.split_of()
    seen: set[str] = set()
    unassigned: list[str] = []
    for ann in gold:
        if ann.annotator != GOLD:
            raise InputError(
                f"segment {ann.segment_id!r}: annotator is {ann.annotator!r}, expected {GOLD!r}; build from the gold "
                "file written by `dataset-builder normalise`."
            )
        if ann.segment_id in seen:
            raise InputError(f"segment {ann.segment_id!r} is annotated twice in the gold data; gold has one per segment.")
        seen.add(ann.segment_id)
        if ann.article_id not in split_of and ann.article_id not in manifest.held_out:
            unassigned.append(ann.article_id)
    if unassigned:
        missing = sorted(set(unassigned))
        raise InputError(
            f"{len(missing)} gold article(s) are in no split of the manifest ({', '.join(missing[:5])}"
            f"{', ...' if len(missing) > 5 else ''}); run `dataset-builder split` again so every article is assigned."
        )
    return split_of


def _label_index(labels: Sequence[str]) -> dict[str, int]:
    return {label: i for i, label in enumerate(labels)}


def _check_labels(
    gold: Sequence[Annotation], config_name: str, entity_labels: Sequence[str], stance_labels: Sequence[str]
) -> None:
    """Refuse an entity or stance label that is not in the config."""
    entity_index = _label_index(entity_labels)
    stance_index = _label_index(stance_labels)
    for ann in gold:
        for e in ann.entities:
            if e.label not in entity_index:
                raise SchemaError(
                    f"segment {ann.segment_id!r}: entity label {e.label!r} is not in config {config_name!r} "
                    f"(entity labels: {list(entity_labels)}); build with the config the annotations were made with."
                )
        for st in ann.stances:
            if st.label not in stance_index:
                raise SchemaError(
                    f"segment {ann.segment_id!r}: stance label {st.label!r} is not in config {config_name!r} "
                    f"(stance labels: {list(stance_labels)}); build with the config the annotations were made with."
                )



# --------------------------------------------------------------------------- rows per configuration


def _ner_tables(
    kept: Sequence[Annotation], row_split: np.ndarray, entity_labels: Sequence[str], meta: Mapping[str, list],
    say: Callable[[str], None],
) -> tuple[dict[str, pa.Table], dict[str, Any], dict[str, int], dict[str, int]]:
    """The ``ner`` table of each split (one row per kept segment whose entities are not disputed), its
    statistics, its row counts and the count of each span status that occurs (the agreed spans of a
    disputed segment are ``dropped_disputed_segment``: a partial row would teach wrong O tags)."""
    disputed = [a for a in kept if a.entities_disputed]
    if disputed:
        undisputed = np.array([not a.entities_disputed for a in kept], dtype=bool)
        kept, row_split = [a for a in kept if not a.entities_disputed], row_split[undisputed]
        meta = {k: [v for v, keep in zip(col, undisputed) if keep] for k, col in meta.items()}
    say("tokenising")
    features = ner_features(entity_labels)
    tok = tokens_of([a.text for a in kept], [a.tokens for a in kept])  # a corpus's own tokens are kept
    say("projecting spans")
    entity_index = _label_index(entity_labels)
    span_rows = np.fromiter(
        chain.from_iterable([i] * len(a.entities) for i, a in enumerate(kept)), dtype=np.int64
    )
    ents = [e for a in kept for e in a.entities]
    e_start = np.fromiter((e.start for e in ents), dtype=np.int64, count=len(ents))
    e_end = np.fromiter((e.end for e in ents), dtype=np.int64, count=len(ents))
    e_label = np.fromiter((entity_index[e.label] for e in ents), dtype=np.int64, count=len(ents))
    tags, status = _project(tok, span_rows, e_start, e_end, e_label)
    span_statuses = {SPAN_STATUSES[int(k)]: int(n) for k, n in zip(*np.unique(status, return_counts=True))}
    if disputed:
        span_statuses["dropped_disputed_segment"] = sum(len(a.entities) for a in disputed)
    say("writing ner")
    table = _ner_table(features, kept, meta, tok, tags, ents, e_start, e_end)
    tables: dict[str, pa.Table] = {}
    stats: dict[str, Any] = {}
    rows: dict[str, int] = {}
    n_tokens = np.diff(tok.offsets)
    tag_row = np.repeat(np.arange(len(kept)), n_tokens)
    span_split = row_split[span_rows] if len(span_rows) else np.zeros(0, dtype=np.int64)
    own_tokens = np.array([a.tokens is not None for a in kept], dtype=bool)
    for i, s in enumerate(SPLIT_NAMES):
        mask = row_split == i
        tables[s] = table.filter(pa.array(mask))
        rows[s] = int(mask.sum())
        split_tags = tags[row_split[tag_row] == i] if len(tags) else tags
        b_tags = Counter(split_tags[(split_tags % 2 == 1)].tolist())
        in_split = span_split == i
        stats[s] = {
            "rows": int(mask.sum()),
            "articles": len({a.article_id for a, m in zip(kept, mask) if m}),
            "tokens": int(n_tokens[mask].sum()),
            "rows_with_own_tokens": int(own_tokens[mask].sum()),
            "spans": dict(Counter(e_label[in_split].tolist())),
            "bio_entities": {(t - 1) // 2: n for t, n in b_tags.items()},
        }
    return tables, stats, rows, span_statuses


def _ner_table(
    features: Any,
    kept: Sequence[Annotation],
    meta: Mapping[str, list],
    tok: TokenBatch,
    tags: np.ndarray,
    ents: Sequence[EntitySpan],
    e_start: np.ndarray,
    e_end: np.ndarray,
) -> pa.Table:
    """All ``ner`` rows: segment columns, tokens with their offsets, BIO tag ids and the gold spans."""
    span_offsets = np.zeros(len(kept) + 1, dtype=np.int64)
    np.cumsum([len(a.entities) for a in kept], out=span_offsets[1:])
    spans_struct = pa.StructArray.from_arrays(
        [
            pa.array(e_start.astype(np.int32)),
            pa.array(e_end.astype(np.int32)),
            pa.array([e.label for e in ents], pa.string()),
            pa.array([e.text for e in ents], pa.string()),
        ],
        names=["start", "end", "label", "text"],
    )
    return pa.Table.from_arrays(
        [
            pa.array([a.segment_id for a in kept], pa.string()),
            pa.array([a.article_id for a in kept], pa.string()),
            *(pa.array(meta[f], pa.string()) for f in ARTICLE_FIELDS),
            pa.array([a.text for a in kept], pa.string()),
            _list_array(tok.offsets, tok.tokens),
            _list_array(tok.offsets, pa.array(tok.starts.astype(np.int32))),
            _list_array(tok.offsets, pa.array(tok.ends.astype(np.int32))),
            _list_array(tok.offsets, pa.array(tags)),
            _list_array(span_offsets, spans_struct),
        ],
        schema=features.arrow_schema,
    ).replace_schema_metadata({**(features.arrow_schema.metadata or {}), TOKENISER_KEY: TOKENISER.encode("utf-8")})


def _stance_tables(
    kept: Sequence[Annotation], row_split: np.ndarray, stance_labels: Sequence[str], meta: Mapping[str, list],
    say: Callable[[str], None], task: Mapping[str, Any],
) -> tuple[dict[str, pa.Table], dict[str, Any], dict[str, int], dict[str, int]]:
    """The ``stance`` table of each split (one row per kept target), its statistics, its row counts
    and the targets dropped as duplicate or conflicting. ``task`` (:func:`~.features.stance_task`)
    gives the target kind of the features and goes into the files' metadata."""
    say("writing stance")
    features = stance_features(stance_labels, task["target_kind"])
    cols, split_col, dropped = _stance_columns(kept, row_split, features, _label_index(stance_labels), meta)
    schema_arrow = features.arrow_schema
    table = pa.Table.from_arrays(
        [pa.array(cols[f.name], f.type) for f in schema_arrow], schema=schema_arrow
    ).replace_schema_metadata({**(schema_arrow.metadata or {}), STANCE_TASK_KEY: stance_task_json(dict(task))})
    split_arr = np.array(split_col, dtype=np.int64)
    labels_arr = np.array(cols["label"], dtype=np.int64)
    art_arr = cols["article_id"]
    tables: dict[str, pa.Table] = {}
    stats: dict[str, Any] = {}
    rows: dict[str, int] = {}
    for i, s in enumerate(SPLIT_NAMES):
        mask = split_arr == i
        tables[s] = table.filter(pa.array(mask))
        rows[s] = int(mask.sum())
        stats[s] = {
            "rows": int(mask.sum()),
            "articles": len({x for x, m in zip(art_arr, mask.tolist()) if m}),
            "labels": dict(Counter(labels_arr[mask].tolist())),
        }
    return tables, stats, rows, dropped


def _stance_columns(
    kept: Sequence[Annotation], row_split: np.ndarray, features: Any, stance_index: Mapping[str, int],
    meta: Mapping[str, list],
) -> tuple[dict[str, list], list[int], dict[str, int]]:
    """The ``stance`` columns (by feature name), the split of each row, and the dropped counts."""
    dropped = {"dropped_duplicate": 0, "dropped_conflicting": 0}
    cols: dict[str, list] = {k: [] for k in features}
    given = "target_start" not in features  # a given target (outside the text): no offsets
    split_col: list[int] = []
    for row, (a, sp) in enumerate(zip(kept, row_split.tolist())):
        if not a.stances:
            continue
        # Annotation sorts its stances by target, so repeats of a target are adjacent.
        groups = [a.stances] if len(a.stances) == 1 else [
            tuple(g) for _, g in groupby(a.stances, key=lambda x: x.sort_key()[:3])
        ]
        for group in groups:
            if len(group) > 1 and len({x.label for x in group}) > 1:
                dropped["dropped_conflicting"] += len(group)
                continue
            dropped["dropped_duplicate"] += len(group) - 1
            st = group[0]
            if st.given != given:
                raise SchemaError(f"gold segment {a.segment_id!r} has a {st.target_kind} stance target; the config's "
                                  f"targets are {'given' if given else 'span'} targets (rebuild with the config it was "
                                  "labelled with).")
            ts, te = st.target_start, st.target_end
            cols["id"].append(f"{a.segment_id}@target" if given else f"{a.segment_id}@{ts}-{te}")
            cols["article_id"].append(a.article_id)
            for f in ARTICLE_FIELDS:
                cols[f].append(meta[f][row])
            cols["segment_id"].append(a.segment_id)
            cols["text"].append(a.text)
            cols["target"].append(st.target_text)
            if not given:
                cols["target_start"].append(ts)
                cols["target_end"].append(te)
            cols["label"].append(stance_index[st.label])
            split_col.append(sp)
    return cols, split_col, dropped


# --------------------------------------------------------------------------- files


def _write_tables(out: Path, tables: Mapping[str, Mapping[str, pa.Table]]) -> dict[str, str]:
    """Write every table to ``out/{config}/{split}.parquet``, remove those of a configuration not
    built; returns relative path -> sha256."""
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for config in CONFIGS:
        for s in SPLIT_NAMES:
            path = out / config / f"{s}.parquet"
            if config in tables:
                _write_parquet(tables[config][s], path)
                files[f"{config}/{s}.parquet"] = file_sha256(path)
            elif path.exists():
                path.unlink()  # a stale file from a build with another config would be loaded
    return files


# --------------------------------------------------------------------------- loading


def load_built(out_dir: str | Path, config: str, *, cache_dir: str | Path | None = None):
    """Load one configuration of a built folder as a ``DatasetDict`` with all three splits.

    Uses ``datasets.load_dataset`` (``cache_dir`` passed on) for the non-empty splits and adds the
    empty ones (which ``datasets`` cannot load) as empty datasets with the declared features.
    """
    from datasets import Dataset, DatasetDict, Features, load_dataset

    out = Path(out_dir)
    if config not in CONFIGS or not (out / config).is_dir():
        raise InputError(f"{out}: no configuration {config!r}; expected one of {list(CONFIGS)} built there.")
    features = Features.from_arrow_schema(pq.read_schema(out / config / "train.parquet"))
    loaded = load_dataset(str(out), config, cache_dir=str(cache_dir) if cache_dir else None)
    return DatasetDict(
        {
            s: loaded[s] if s in loaded else Dataset.from_dict({k: [] for k in features}, features=features)
            for s in SPLIT_NAMES
        }
    )
