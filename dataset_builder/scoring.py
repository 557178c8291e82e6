"""Score a predictions file against one split of the built dataset, reproducibly.

Input
    A dataset folder written by ``build`` (``<dir>/<config>/<split>.parquet`` with the
    HuggingFace ``Features`` in the parquet metadata, or anything ``datasets.load_dataset(<dir>,
    <config>)`` reads) and a predictions file in JSONL, one object per line:

    * stance: ``{"id": "<row id>", "label": "<class name>"}``;
    * NER: ``{"id": "<segment id>", "tags": ["O", "B-PER", ...]}`` (one tag per token of the
      dataset's ``tokens``, names from the dataset's ``ner_tags`` ``ClassLabel``) or
      ``{"id": "<segment id>", "spans": [{"start": 0, "end": 5, "label": "PER"}, ...]}`` with
      half-open character offsets into the row's ``text`` (an optional ``"text"`` key is checked
      against ``text[start:end]``). Spans are projected onto the dataset's own tokens
      (``token_starts``/``token_ends``) as IOB2 tags, then scored exactly like ``tags``: the
      token grid of the gold data is the unit, so a span and its tag form always get the same
      score. How a span boundary that falls inside a token is handled is the caller's choice
      (``alignment``): ``strict`` (default) rejects it, ``contract`` keeps the tokens wholly
      inside the span (a span covering no whole token is dropped and counted), ``expand`` keeps
      every token the span touches.

Output
    A report (plain dict, JSON-ready) with the metrics, their 95% bootstrap confidence
    intervals, the dataset fingerprint and version, the split hash, the scorer version and the
    seed; :func:`report_to_json` and :func:`report_to_markdown` render it. Identical inputs give
    byte-identical renderings: no timestamps, no paths beyond file names, floats rounded to 10
    decimals, bootstrap sums done on exact integer counts.

Metrics
    * NER, ``mode="conlleval"``: entity-level micro and per-type precision/recall/F1 with the
      chunk rules of the CoNLL-2000 ``conlleval`` script (an ``I-`` tag after ``O``, after an
      ``E-``/``S-`` tag, or after a tag of another type starts an entity; a ``B-``/``S-`` tag
      always starts one), so IOB1 and IOB2 (and IOBES) tag sequences are read as conlleval reads
      them. Numbers equal ``seqeval``'s default mode (property-tested).
    * NER, ``mode="strict"``: only well-formed entities count: ``B-X (I-X)*`` for IOB2 label
      sets, ``S-X`` or ``B-X (I-X)* E-X`` for IOBES label sets (a label set with any ``E-``/``S-``
      label is IOBES). Tokens of a malformed entity count as no entity. Use conlleval mode for
      IOB1 data.
    * Stance: accuracy, per-class precision/recall/F1, macro-F1 (mean over every class of the
      label set), ``F_avg`` = mean F1 of the favor and against classes (SemEval-2016 Task 6),
      and the confusion matrix (rows gold, columns predicted, label-set order).
    * Zero division gives 0 (precision with no prediction, recall with no gold, F1 when both are
      0), as conlleval and seqeval report it.

Confidence intervals
    Bootstrap over ARTICLES, not rows: rows of one article are not independent. Per-article
    counts (NER: correct/predicted/gold entities per type; stance: a confusion matrix) are
    computed once; each of the ``resamples`` draws ``n_articles`` article indices with
    replacement from ``numpy.random.default_rng(seed)`` and sums their counts (a matrix product
    of draw counts and per-article counts), so 1,000 resamples cost one small matrix product.
    The interval is the 2.5th and 97.5th percentile (numpy's ``linear`` method). A paired
    comparison of two prediction files uses the same draws for both and reports the difference,
    its interval and the share of resamples in which the observed winner does not win.

Invariants
    Every gold id is predicted exactly once; no unknown id; labels come from the dataset's label
    set; a tag sequence has one tag per token. Anything else raises :class:`PredictionsError`
    naming the file, line, value seen, value expected and the fix.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import sys
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .errors import InputError, SchemaError
from .jsonl import read_jsonl

SCORER_VERSION = "1.0.0"
DEFAULT_SEED = 0
DEFAULT_RESAMPLES = 1000
CONFIDENCE = 0.95
NER_MODES = ("conlleval", "strict")
ALIGNMENTS = ("strict", "contract", "expand")
_ROUND = 10
# Upper bound on draw-count cells held at once (resamples x articles) during the bootstrap.
_BOOTSTRAP_CELLS = 4_000_000

# Tag prefixes as small ints; "O" has type -1.
_O, _B, _I, _E, _S = 0, 1, 2, 3, 4
_PREFIX_CODES = {"B": _B, "I": _I, "E": _E, "S": _S}


class PredictionsError(InputError):
    """A predictions file does not match the gold split (ids, labels, lengths, offsets)."""


# --------------------------------------------------------------------------- dataset identity


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
    from .build import parquet_fingerprint  # the earlier stage owns the definition

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


# --------------------------------------------------------------------------- loading


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
    import pyarrow.parquet as pq

    root = Path(dataset_dir)
    path = root / config / f"{split}.parquet"
    if path.is_file():
        table = pq.read_table(path)
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
            return datasets.Dataset(datasets.table.InMemoryTable(table), info=datasets.DatasetInfo(features=features))
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


# --------------------------------------------------------------------------- tag schemes


@dataclass(frozen=True, eq=False)
class TagSet:
    """A parsed NER label set: per label id its prefix code and type id.

    Invariants: ``names`` are ``"O"`` or ``P-TYPE`` with ``P`` in B, I, E, S and a non-empty
    ``TYPE`` (split at the first ``-`` as conlleval does); ``types`` are in order of first
    appearance in ``names``; ``scheme`` is ``"IOBES"`` when any label has prefix E or S, else
    ``"IOB2"`` (used by strict mode only).
    """

    names: tuple[str, ...]
    types: tuple[str, ...]
    prefixes: np.ndarray
    type_ids: np.ndarray
    scheme: str

    @classmethod
    def from_names(cls, names: Sequence[str]) -> "TagSet":
        names = tuple(names)
        if len(set(names)) != len(names):
            raise SchemaError(f"NER label set has duplicate names: {list(names)}; each tag must appear once.")
        types: list[str] = []
        prefixes = np.zeros(len(names), dtype=np.int8)
        type_ids = np.full(len(names), -1, dtype=np.int32)
        for i, name in enumerate(names):
            if name == "O":
                continue
            prefix, sep, typ = name.partition("-")
            if not sep or prefix not in _PREFIX_CODES or not typ:
                raise SchemaError(
                    f"NER label {name!r} is not an IOB tag; expected 'O' or 'B-TYPE', 'I-TYPE', 'E-TYPE', 'S-TYPE'. "
                    "Fix the label set in the annotation config."
                )
            if typ not in types:
                types.append(typ)
            prefixes[i] = _PREFIX_CODES[prefix]
            type_ids[i] = types.index(typ)
        scheme = "IOBES" if bool(np.isin(prefixes, (_E, _S)).any()) else "IOB2"
        return cls(names=names, types=tuple(types), prefixes=prefixes, type_ids=type_ids, scheme=scheme)

    def index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}


def _chunks(tag_ids: np.ndarray, seg_start: np.ndarray, tagset: TagSet, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entities of a flat tag array: ``(starts, ends, type_ids)``, ends exclusive, sorted.

    ``seg_start[t]`` is True where a new sequence (segment) begins: no entity crosses it.
    """
    n = len(tag_ids)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty.astype(np.int32)
    p = tagset.prefixes[tag_ids]
    ty = tagset.type_ids[tag_ids]
    pp = np.empty_like(p)
    pp[0] = _O
    pp[1:] = p[:-1]
    pp[seg_start] = _O
    pty = np.empty_like(ty)
    pty[0] = -1
    pty[1:] = ty[:-1]
    pty[seg_start] = -1
    non_o = p != _O
    if mode == "conlleval":
        # conlleval's startOfChunk; its endOfChunk then fires exactly where the next token is O,
        # starts a chunk, or begins a new sequence, so chunks are runs cut at those points.
        i_or_e = (p == _I) | (p == _E)
        head = non_o & ((p == _B) | (p == _S) | (ty != pty) | (i_or_e & ((pp == _E) | (pp == _S) | (pp == _O))))
    elif mode == "strict":
        linked = (pp == _B) | (pp == _I)
        cont = (p == _I) | (p == _E) if tagset.scheme == "IOBES" else (p == _I)
        head = non_o & ~(cont & linked & (ty == pty))
    else:  # pragma: no cover - validated by callers
        raise ValueError(mode)
    continues = np.zeros(n, dtype=bool)
    continues[:-1] = non_o[1:] & ~head[1:]
    starts = np.flatnonzero(head)
    ends = np.flatnonzero(non_o & ~continues) + 1
    types = ty[starts]
    if mode == "strict":
        first = p[starts]
        if tagset.scheme == "IOBES":
            last = p[ends - 1]
            valid = ((first == _S) & (ends - starts == 1)) | ((first == _B) & (last == _E))
        else:
            valid = first == _B
        starts, ends, types = starts[valid], ends[valid], types[valid]
    return starts, ends, types


def entities_from_tags(tags: Sequence[str], *, mode: str = "conlleval", labels: Sequence[str] | None = None) -> list[tuple[str, int, int]]:
    """Entities ``(type, start, end)`` (token indices, end exclusive) of one tag sequence.

    Parameters
    ----------
    tags : the tag sequence (``"O"``, ``"B-PER"``, ...).
    mode : ``"conlleval"`` or ``"strict"`` (see the module docstring).
    labels : the full label set; default: the tags seen (this decides IOB2 vs IOBES in strict mode).
    """
    _check_choice("mode", mode, NER_MODES)
    tagset = TagSet.from_names(sorted(set(tags) | {"O"}) if labels is None else labels)
    index = tagset.index()
    ids = np.array([index[t] for t in tags], dtype=np.int64)
    seg_start = np.zeros(len(ids), dtype=bool)
    starts, ends, types = _chunks(ids, seg_start, tagset, mode)
    return [(tagset.types[t], int(s), int(e)) for s, e, t in zip(starts, ends, types)]


def ner_counts(
    gold_ids: np.ndarray,
    pred_ids: np.ndarray,
    seg_start: np.ndarray,
    group_of_token: np.ndarray,
    n_groups: int,
    tagset: TagSet,
    *,
    mode: str = "conlleval",
) -> np.ndarray:
    """Per-group entity counts, shape ``(n_groups, 3, n_types)``: correct, predicted, gold.

    An entity is correct when gold and prediction have one with the same start, end and type.
    ``group_of_token`` maps each token to its group (article) index.
    """
    n_types = len(tagset.types)
    g_s, g_e, g_t = _chunks(gold_ids, seg_start, tagset, mode)
    p_s, p_e, p_t = _chunks(pred_ids, seg_start, tagset, mode)
    n = len(gold_ids)
    gold_end = np.full(n + 1, -1, dtype=np.int64)
    gold_type = np.full(n + 1, -1, dtype=np.int32)
    gold_end[g_s] = g_e
    gold_type[g_s] = g_t
    correct = (gold_end[p_s] == p_e) & (gold_type[p_s] == p_t)
    size = n_groups * n_types
    counts = np.empty((n_groups, 3, n_types), dtype=np.int64)
    for row, (starts, types) in enumerate(((p_s[correct], p_t[correct]), (p_s, p_t), (g_s, g_t))):
        key = group_of_token[starts].astype(np.int64) * n_types + types
        counts[:, row, :] = np.bincount(key, minlength=size).reshape(n_groups, n_types)
    return counts


def _prf(tp: np.ndarray, n_pred: np.ndarray, n_gold: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 (2PR/(P+R), the conlleval and seqeval formula); 0 on zero division."""
    tp = np.asarray(tp, dtype=np.float64)
    n_pred = np.asarray(n_pred, dtype=np.float64)
    n_gold = np.asarray(n_gold, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(n_pred > 0, tp / np.where(n_pred > 0, n_pred, 1), 0.0)
        recall = np.where(n_gold > 0, tp / np.where(n_gold > 0, n_gold, 1), 0.0)
        denom = precision + recall
        f1 = np.where(denom > 0, 2 * precision * recall / np.where(denom > 0, denom, 1), 0.0)
    return precision, recall, f1


def _ner_metric_arrays(sums: np.ndarray) -> dict[str, np.ndarray]:
    """From summed counts ``(..., 3, T)``: micro and per-type P/R/F1 arrays."""
    tp, n_pred, n_gold = sums[..., 0, :], sums[..., 1, :], sums[..., 2, :]
    p, r, f = _prf(tp, n_pred, n_gold)
    mp, mr, mf = _prf(tp.sum(-1), n_pred.sum(-1), n_gold.sum(-1))
    return {"micro_precision": mp, "micro_recall": mr, "micro_f1": mf, "type_precision": p, "type_recall": r, "type_f1": f}


def ner_report_from_tags(
    y_true: Sequence[Sequence[str]],
    y_pred: Sequence[Sequence[str]],
    *,
    mode: str = "conlleval",
    labels: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Full entity-level report for lists of tag sequences (the shape seqeval takes).

    Returns ``{"micro": {...}, "per_type": {TYPE: {...}}}`` where each entry has precision,
    recall, f1, n_gold, n_pred, n_correct (unrounded floats). ``labels`` defaults to the tags
    seen in either input.
    """
    _check_choice("mode", mode, NER_MODES)
    if len(y_true) != len(y_pred):
        raise PredictionsError(f"y_true has {len(y_true)} sequences but y_pred has {len(y_pred)}; pass one prediction per sequence.")
    lengths = np.fromiter(map(len, y_true), dtype=np.int64, count=len(y_true))
    pred_lengths = np.fromiter(map(len, y_pred), dtype=np.int64, count=len(y_pred))
    bad = np.flatnonzero(lengths != pred_lengths)
    if len(bad):
        i = int(bad[0])
        raise PredictionsError(f"sequence {i}: {pred_lengths[i]} predicted tags for {lengths[i]} gold tags; predict one tag per token.")
    n = int(lengths.sum())
    if labels is None:
        seen = set(chain.from_iterable(y_true)) | set(chain.from_iterable(y_pred)) | {"O"}
        labels = sorted(seen)
    tagset = TagSet.from_names(labels)
    index = tagset.index()
    try:
        gold = np.fromiter(map(index.__getitem__, chain.from_iterable(y_true)), dtype=np.int64, count=n)
        pred = np.fromiter(map(index.__getitem__, chain.from_iterable(y_pred)), dtype=np.int64, count=n)
    except KeyError as exc:
        raise PredictionsError(f"tag {exc.args[0]!r} is not in the label set {list(tagset.names)}.") from None
    seg_start = np.zeros(n, dtype=bool)
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    seg_start[offsets[lengths > 0]] = True
    counts = ner_counts(gold, pred, seg_start, np.zeros(n, dtype=np.int64), 1, tagset, mode=mode)[0]
    return _ner_metrics_dict(counts, tagset.types)


def _ner_metrics_dict(counts: np.ndarray, types: Sequence[str]) -> dict[str, Any]:
    arrays = _ner_metric_arrays(counts)
    micro = {
        "precision": float(arrays["micro_precision"]),
        "recall": float(arrays["micro_recall"]),
        "f1": float(arrays["micro_f1"]),
        "n_gold": int(counts[2].sum()),
        "n_pred": int(counts[1].sum()),
        "n_correct": int(counts[0].sum()),
    }
    per_type = {
        typ: {
            "precision": float(arrays["type_precision"][k]),
            "recall": float(arrays["type_recall"][k]),
            "f1": float(arrays["type_f1"][k]),
            "n_gold": int(counts[2, k]),
            "n_pred": int(counts[1, k]),
            "n_correct": int(counts[0, k]),
        }
        for k, typ in enumerate(types)
    }
    return {"micro": micro, "per_type": per_type}


# --------------------------------------------------------------------------- stance metrics


def _stance_metric_arrays(conf: np.ndarray, favor: int, against: int) -> dict[str, np.ndarray]:
    """From confusion sums ``(..., K, K)`` (rows gold, cols predicted): stance metric arrays."""
    tp = np.diagonal(conf, axis1=-2, axis2=-1)
    n_pred = conf.sum(-2)
    n_gold = conf.sum(-1)
    p, r, f = _prf(tp, n_pred, n_gold)
    total = n_gold.sum(-1).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        accuracy = np.where(total > 0, tp.sum(-1) / np.where(total > 0, total, 1), 0.0)
    return {
        "accuracy": accuracy,
        "macro_f1": f.mean(-1),
        "f_avg": (f[..., favor] + f[..., against]) / 2,
        "class_precision": p,
        "class_recall": r,
        "class_f1": f,
    }


# --------------------------------------------------------------------------- gold splits


@dataclass(frozen=True, eq=False)
class _Gold:
    """A gold split prepared for scoring (arrays aligned with the dataset's row order)."""

    task: str
    ids: tuple[str, ...]
    row_of_id: dict[str, int]
    articles: tuple[str, ...]
    article_of_row: np.ndarray
    labels: tuple[str, ...]  # stance class names or NER tag names
    gold: np.ndarray  # stance: label per row; NER: flat tag ids
    # NER only
    tagset: TagSet | None = None
    offsets: np.ndarray | None = None  # row r's tokens are gold[offsets[r]:offsets[r+1]]
    seg_start: np.ndarray | None = None
    article_of_token: np.ndarray | None = None
    texts: tuple[str, ...] | None = None
    token_starts: Any = None  # pyarrow ListArray
    token_ends: Any = None


def _prepare_gold(dataset) -> _Gold:
    import pyarrow.compute as pc

    task = task_of(dataset)
    table = dataset.with_format("arrow")[:]
    ids = tuple(table.column("id").to_pylist())
    if not ids:
        raise SchemaError("the gold split is empty; there is nothing to score.")
    row_of_id: dict[str, int] = {}
    for row, id_ in enumerate(ids):
        if id_ in row_of_id:
            raise SchemaError(f"gold split has id {id_!r} twice (rows {row_of_id[id_]} and {row}); rebuild the dataset.")
        row_of_id[id_] = row
    article_ids = np.array(table.column("article_id").to_pylist(), dtype=object)
    articles, article_of_row = np.unique(article_ids.astype(str), return_inverse=True)
    common = dict(ids=ids, row_of_id=row_of_id, articles=tuple(articles.tolist()), article_of_row=article_of_row.astype(np.int64))
    if task == "stance":
        names = _label_names(dataset.features, "label")
        gold = table.column("label").to_numpy().astype(np.int64)
        return _Gold(task=task, labels=names, gold=gold, **common)
    names = _label_names(dataset.features, "ner_tags")
    tagset = TagSet.from_names(names)
    tags = table.column("ner_tags").combine_chunks()
    offsets = tags.offsets.to_numpy().astype(np.int64)
    offsets = offsets - offsets[0]
    gold = pc.list_flatten(tags).to_numpy(zero_copy_only=False).astype(np.int64)
    lengths = np.diff(offsets)
    starts_col = table.column("token_starts").combine_chunks()
    ends_col = table.column("token_ends").combine_chunks()
    for name, col in (("token_starts", starts_col), ("token_ends", ends_col)):
        col_lengths = pc.list_value_length(col).fill_null(0).to_numpy(zero_copy_only=False)
        bad = np.flatnonzero(col_lengths != lengths)
        if len(bad):
            r = int(bad[0])
            raise SchemaError(f"gold row {ids[r]!r}: {col_lengths[r]} {name} for {lengths[r]} ner_tags; rebuild the dataset.")
    seg_start = np.zeros(len(gold), dtype=bool)
    seg_start[offsets[:-1][lengths > 0]] = True
    article_of_token = np.repeat(common["article_of_row"], lengths)
    texts = tuple(table.column("text").to_pylist())
    return _Gold(
        task=task,
        labels=names,
        gold=gold,
        tagset=tagset,
        offsets=offsets,
        seg_start=seg_start,
        article_of_token=article_of_token,
        texts=texts,
        token_starts=starts_col,
        token_ends=ends_col,
        **common,
    )


# --------------------------------------------------------------------------- predictions


def _read_prediction_rows(path: Path, gold: _Gold, key_names: tuple[str, ...]) -> Iterable[tuple[int, int, dict[str, Any]]]:
    """Yield ``(line, row, object)`` per prediction; check ids; raise on missing ids at the end."""
    seen: dict[str, int] = {}
    for lineno, obj in read_jsonl(path):
        id_ = obj.get("id")
        if not isinstance(id_, str):
            raise PredictionsError(f"{path}:{lineno}: 'id' is {id_!r}; every line needs a string 'id' from the gold split.")
        if id_ in seen:
            raise PredictionsError(
                f"{path}:{lineno}: id {id_!r} is predicted twice (first at line {seen[id_]}); keep one prediction per id."
            )
        row = gold.row_of_id.get(id_)
        if row is None:
            raise PredictionsError(
                f"{path}:{lineno}: unknown id {id_!r}, not in the gold split ({len(gold.ids)} ids); predict only ids of the "
                "split you score against (check --config/--split)."
            )
        seen[id_] = lineno
        present = [k for k in key_names if k in obj]
        if len(present) != 1:
            wanted = " or ".join(repr(k) for k in key_names)
            raise PredictionsError(f"{path}:{lineno}: id {id_!r} has keys {sorted(obj)}; expected exactly one of {wanted}.")
        yield lineno, row, obj
    if len(seen) != len(gold.ids):
        missing = [i for i in gold.ids if i not in seen]
        shown = ", ".join(repr(i) for i in missing[:5])
        raise PredictionsError(
            f"{path}: {len(missing)} of {len(gold.ids)} gold ids have no prediction (e.g. {shown}); predict every id of the split."
        )


def read_stance_predictions(path: str | Path, gold: _Gold) -> np.ndarray:
    """Predicted class index per gold row, validated (see the module docstring)."""
    path = Path(path)
    index = {name: i for i, name in enumerate(gold.labels)}
    pred = np.full(len(gold.ids), -1, dtype=np.int64)
    for lineno, row, obj in _read_prediction_rows(path, gold, ("label",)):
        label = obj["label"]
        if not isinstance(label, str) or label not in index:
            raise PredictionsError(
                f"{path}:{lineno}: unknown label {label!r} for id {gold.ids[row]!r}; expected one of {list(gold.labels)}."
            )
        pred[row] = index[label]
    return pred


def read_ner_predictions(path: str | Path, gold: _Gold, *, alignment: str = "strict") -> tuple[np.ndarray, int]:
    """Predicted tag ids, flat and aligned with the gold tokens, and the number of spans dropped.

    ``spans`` are projected to IOB2 tags on the gold tokens (see ``alignment`` in the module
    docstring); only ``alignment="contract"`` can drop a span.
    """
    _check_choice("alignment", alignment, ALIGNMENTS)
    path = Path(path)
    assert gold.tagset is not None and gold.offsets is not None
    index = gold.tagset.index()
    pred = np.zeros(len(gold.gold), dtype=np.int64)
    o_id = index.get("O")
    if o_id is None:
        raise SchemaError(f"NER label set {list(gold.labels)} has no 'O' tag; add it to the label set.")
    pred[:] = o_id
    dropped = 0
    for lineno, row, obj in _read_prediction_rows(path, gold, ("tags", "spans")):
        lo, hi = int(gold.offsets[row]), int(gold.offsets[row + 1])
        if "tags" in obj:
            tags = obj["tags"]
            if not isinstance(tags, list):
                raise PredictionsError(f"{path}:{lineno}: 'tags' must be a list of tag names; got {type(tags).__name__}.")
            if len(tags) != hi - lo:
                raise PredictionsError(
                    f"{path}:{lineno}: id {gold.ids[row]!r} has {len(tags)} tags but the segment has {hi - lo} tokens; "
                    "predict one tag per token of the dataset's `tokens`."
                )
            ids = [index.get(t, -1) if isinstance(t, str) else -1 for t in tags]
            if -1 in ids:
                bad = tags[ids.index(-1)]
                raise PredictionsError(
                    f"{path}:{lineno}: unknown tag {bad!r} for id {gold.ids[row]!r}; expected one of {list(gold.labels)}."
                )
            pred[lo:hi] = ids
        else:
            tags_row, n_dropped = _spans_to_tag_ids(path, lineno, gold, row, obj["spans"], alignment, index)
            pred[lo:hi] = tags_row
            dropped += n_dropped
    return pred, dropped


def _spans_to_tag_ids(
    path: Path, lineno: int, gold: _Gold, row: int, spans: Any, alignment: str, index: Mapping[str, int]
) -> tuple[list[int], int]:
    where = f"{path}:{lineno}: id {gold.ids[row]!r}"
    if not isinstance(spans, list):
        raise PredictionsError(f"{where}: 'spans' must be a list of {{start, end, label}} objects; got {type(spans).__name__}.")
    assert gold.texts is not None
    text = gold.texts[row]
    t_starts = gold.token_starts[row].as_py()
    t_ends = gold.token_ends[row].as_py()
    o_id = index["O"]
    out = [o_id] * len(t_starts)
    owner = [-1] * len(t_starts)
    dropped = 0
    for k, span in enumerate(spans):
        if not isinstance(span, dict):
            raise PredictionsError(f"{where}: span {k} is {span!r}; expected an object with start, end, label.")
        start, end, label = span.get("start"), span.get("end"), span.get("label")
        if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
            raise PredictionsError(f"{where}: span {k} has start={start!r}, end={end!r}; expected integer character offsets.")
        if not 0 <= start < end <= len(text):
            raise PredictionsError(
                f"{where}: span {k} [{start}, {end}) is outside the text (length {len(text)}) or empty; "
                "offsets are half-open code-point offsets into the row's `text`."
            )
        if "text" in span and span["text"] != text[start:end]:
            raise PredictionsError(
                f"{where}: span {k} text {span['text']!r} does not match text[{start}:{end}] = {text[start:end]!r}; "
                "fix the offsets (code points, not UTF-16 units)."
            )
        b_id, i_id = index.get(f"B-{label}"), index.get(f"I-{label}")
        if not isinstance(label, str) or b_id is None or i_id is None:
            types = [t for t in (gold.tagset.types if gold.tagset else ()) if f"B-{t}" in index and f"I-{t}" in index]
            raise PredictionsError(f"{where}: span {k} has unknown label {label!r}; expected one of {types}.")
        if alignment == "strict":
            first = bisect.bisect_left(t_starts, start)
            last = bisect.bisect_left(t_ends, end)
            if first >= len(t_starts) or t_starts[first] != start or last >= len(t_ends) or t_ends[last] != end:
                raise PredictionsError(
                    f"{where}: span {k} [{start}, {end}) {text[start:end]!r} does not start and end on token boundaries; "
                    "align it to the dataset's tokens or choose alignment 'contract' or 'expand'."
                )
            covered = range(first, last + 1)
        elif alignment == "contract":
            covered = [t for t in range(len(t_starts)) if t_starts[t] >= start and t_ends[t] <= end]
        else:
            covered = [t for t in range(len(t_starts)) if t_starts[t] < end and t_ends[t] > start]
        if not covered:
            dropped += 1
            continue
        for j, t in enumerate(covered):
            if owner[t] != -1:
                raise PredictionsError(
                    f"{where}: spans {owner[t]} and {k} overlap on token {t}; a token carries one tag, so keep one of them."
                )
            owner[t] = k
            out[t] = b_id if j == 0 else i_id
    return out, dropped


# --------------------------------------------------------------------------- bootstrap


def bootstrap_sums(per_article: np.ndarray, *, resamples: int, seed: int) -> np.ndarray:
    """Sums of per-article counts over ``resamples`` article resamples, shape ``(resamples, ...)``.

    Resample ``b`` draws ``n_articles`` indices with replacement (``default_rng(seed)``, drawn in
    row order, so the draws do not depend on how the work is batched); its sum is exact (integer
    counts, float64 products below 2**53).
    """
    n_articles = per_article.shape[0]
    flat = per_article.reshape(n_articles, -1).astype(np.float64)
    rng = np.random.default_rng(seed)
    out = np.empty((resamples, flat.shape[1]), dtype=np.float64)
    batch = max(1, _BOOTSTRAP_CELLS // max(1, n_articles))
    for lo in range(0, resamples, batch):
        hi = min(resamples, lo + batch)
        draws = rng.integers(0, n_articles, size=(hi - lo, n_articles))
        draws += (np.arange(hi - lo, dtype=np.int64) * n_articles)[:, None]
        weights = np.bincount(draws.ravel(), minlength=(hi - lo) * n_articles).reshape(hi - lo, n_articles)
        out[lo:hi] = weights.astype(np.float64) @ flat
    return np.rint(out).reshape((resamples,) + per_article.shape[1:])


def _interval(samples: np.ndarray) -> np.ndarray:
    tail = (1 - CONFIDENCE) / 2 * 100
    return np.percentile(samples, [tail, 100 - tail], axis=0, method="linear")


# --------------------------------------------------------------------------- scoring


def _check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        raise ValueError(f"The {name!r} parameter must be one of {list(choices)}. Got {value!r} instead.")


def _r(x: Any) -> float:
    value = round(float(x), _ROUND)
    return 0.0 if value == 0 else value  # no "-0.0"


def _ci(lo_hi: np.ndarray) -> list[float]:
    return [_r(lo_hi[0]), _r(lo_hi[1])]


def score_split(
    dataset,
    predictions: str | Path,
    *,
    mode: str = "conlleval",
    alignment: str = "strict",
    favor_label: str = "favor",
    against_label: str = "against",
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    compare_with: str | Path | None = None,
) -> dict[str, Any]:
    """Score ``predictions`` against a gold ``datasets.Dataset`` (one split).

    Parameters
    ----------
    dataset : the gold split (NER or stance, told apart by its columns).
    predictions : JSONL predictions file.
    mode : NER chunk rules, ``"conlleval"`` or ``"strict"``.
    alignment : how NER ``spans`` snap to tokens: ``"strict"``, ``"contract"``, ``"expand"``.
    favor_label, against_label : the stance classes averaged by ``F_avg``.
    resamples, seed : bootstrap resamples (0 for none) and the numpy seed.
    compare_with : a second predictions file for a paired bootstrap comparison.

    Returns
    -------
    dict
        The report, without dataset fingerprint/version (see :func:`score_predictions`).

    Raises
    ------
    PredictionsError, InputError, SchemaError
        Invalid predictions, unreadable file, or a gold split that breaks the schema.
    """
    _check_choice("mode", mode, NER_MODES)
    _check_choice("alignment", alignment, ALIGNMENTS)
    if not isinstance(resamples, int) or resamples < 0:
        raise ValueError(f"The 'resamples' parameter must be an int >= 0. Got {resamples!r} instead.")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"The 'seed' parameter must be an int >= 0. Got {seed!r} instead.")
    gold = _prepare_gold(dataset)
    paths = [Path(predictions)] + ([Path(compare_with)] if compare_with is not None else [])
    n_articles = len(gold.articles)
    extra: dict[str, Any] = {}
    if gold.task == "ner":
        assert gold.tagset is not None and gold.seg_start is not None and gold.article_of_token is not None
        if not gold.tagset.types:
            raise SchemaError(f"NER label set {list(gold.labels)} has no entity type; add B-/I- tags to the label set.")
        per_file = []
        dropped = []
        for path in paths:
            pred, n_dropped = read_ner_predictions(path, gold, alignment=alignment)
            per_file.append(ner_counts(gold.gold, pred, gold.seg_start, gold.article_of_token, n_articles, gold.tagset, mode=mode))
            dropped.append(n_dropped)
        metric_fn = _ner_metric_arrays
        headline = ("micro_precision", "micro_recall", "micro_f1")
        extra = {"mode": mode, "scheme": gold.tagset.scheme if mode == "strict" else "conlleval", "alignment": alignment,
                 "spans_dropped": dropped[0], "n_tokens": int(len(gold.gold))}
    else:
        index = {name: i for i, name in enumerate(gold.labels)}
        for role, name in (("favor_label", favor_label), ("against_label", against_label)):
            if name not in index:
                raise SchemaError(
                    f"stance {role} {name!r} is not a class of the label set {list(gold.labels)}; pass the class names "
                    "F_avg averages (--favor/--against)."
                )
        k = len(gold.labels)
        per_file = []
        for path in paths:
            pred = read_stance_predictions(path, gold)
            key = gold.article_of_row * (k * k) + gold.gold * k + pred
            per_file.append(np.bincount(key, minlength=n_articles * k * k).reshape(n_articles, k, k))
        fav, ag = index[favor_label], index[against_label]

        def metric_fn(conf: np.ndarray) -> dict[str, np.ndarray]:
            return _stance_metric_arrays(conf, fav, ag)

        headline = ("accuracy", "macro_f1", "f_avg")
        extra = {"favor_label": favor_label, "against_label": against_label}

    counts = per_file[0]
    point = metric_fn(counts.sum(0))
    if resamples:
        stacked = np.stack(per_file, axis=1)  # (A, files, ...)
        sums = bootstrap_sums(stacked, resamples=resamples, seed=seed)
        boot = [metric_fn(sums[:, i]) for i in range(len(paths))]
        intervals = {name: _interval(values) for name, values in boot[0].items()}
    else:
        boot = []
        intervals = {}

    if gold.task == "ner":
        assert gold.tagset is not None
        metrics = _ner_metrics_dict(counts.sum(0), gold.tagset.types)
        ci: dict[str, Any] = {}
        if intervals:
            ci = {
                "micro": {m: _ci(intervals[f"micro_{m}"]) for m in ("precision", "recall", "f1")},
                "per_type": {
                    typ: {m: _ci(intervals[f"type_{m}"][:, j]) for m in ("precision", "recall", "f1")}
                    for j, typ in enumerate(gold.tagset.types)
                },
            }
        primary = "micro_f1"
        primary_value = metrics["micro"]["f1"]
    else:
        total = counts.sum(0)
        metrics = {
            "accuracy": float(point["accuracy"]),
            "macro_f1": float(point["macro_f1"]),
            "f_avg": float(point["f_avg"]),
            "per_class": {
                name: {
                    "precision": float(point["class_precision"][j]),
                    "recall": float(point["class_recall"][j]),
                    "f1": float(point["class_f1"][j]),
                    "support": int(total[j].sum()),
                    "n_pred": int(total[:, j].sum()),
                }
                for j, name in enumerate(gold.labels)
            },
            "confusion_matrix": {"labels": list(gold.labels), "rows": "gold", "columns": "predicted", "matrix": total.tolist()},
        }
        ci = {}
        if intervals:
            ci = {m: _ci(intervals[m]) for m in headline}
            ci["per_class"] = {
                name: {m: _ci(intervals[f"class_{m}"][:, j]) for m in ("precision", "recall", "f1")}
                for j, name in enumerate(gold.labels)
            }
        primary = "f_avg"
        primary_value = metrics["f_avg"]

    report: dict[str, Any] = {
        "scorer_version": SCORER_VERSION,
        "task": gold.task,
        "split_hash": split_hash(gold.ids),
        "n_examples": len(gold.ids),
        "n_articles": n_articles,
        "predictions": {"file": paths[0].name, "sha256": _file_sha256(paths[0])},
        **extra,
        "primary_metric": primary,
        "primary_value": primary_value,
        "metrics": metrics,
        "bootstrap": {"unit": "article", "resamples": resamples, "seed": seed, "confidence": CONFIDENCE,
                      "interval": "percentile (numpy linear)"},
        "ci": ci,
    }
    if compare_with is not None:
        other = metric_fn(per_file[1].sum(0))
        comparison: dict[str, Any] = {"predictions": {"file": paths[1].name, "sha256": _file_sha256(paths[1])}, "metrics": {}}
        for name in headline:
            a, b = float(point[name]), float(other[name])
            entry: dict[str, Any] = {"a": a, "b": b, "delta": a - b}
            if boot:
                delta = boot[0][name] - boot[1][name]
                entry["ci"] = _ci(_interval(delta))
                if a > b:
                    entry["p_not_better"] = float(np.mean(delta <= 0))
                elif b > a:
                    entry["p_not_better"] = float(np.mean(delta >= 0))
                else:
                    entry["p_not_better"] = 1.0
            comparison["metrics"][name] = entry
        if gold.task == "ner":
            comparison["spans_dropped"] = dropped[1]
        report["comparison"] = comparison
    return _rounded(report)


def score_predictions(
    dataset_dir: str | Path,
    predictions: str | Path,
    *,
    config: str = "ner",
    split: str = "test",
    **options: Any,
) -> dict[str, Any]:
    """Score ``predictions`` against ``<dataset_dir>`` config ``config`` split ``split``.

    Same options and report as :func:`score_split`, plus ``config``, ``split``,
    ``dataset_fingerprint`` and ``dataset_version`` at the top of the report.
    """
    dataset = load_split(dataset_dir, config, split)
    body = score_split(dataset, predictions, **options)
    head = {
        "scorer_version": body.pop("scorer_version"),
        "config": config,
        "split": split,
        "dataset_fingerprint": dataset_fingerprint(dataset_dir),
        "dataset_version": dataset_version(dataset_dir),
    }
    return {**head, **body}


def _rounded(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(float(value)):
            raise ValueError(f"non-finite metric {value!r}")  # cannot happen: zero divisions give 0
        return _r(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


# --------------------------------------------------------------------------- rendering


def report_to_json(report: Mapping[str, Any]) -> str:
    """The report as JSON text: 2-space indent, keys in report order, UTF-8, final newline."""
    return json.dumps(report, ensure_ascii=False, indent=2) + "\n"


def _fmt(x: float) -> str:
    return f"{x:.4f}"


def _fmt_ci(ci: Any) -> str:
    return f"[{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci else "-"


def report_to_markdown(report: Mapping[str, Any]) -> str:
    """The report as a markdown section: headline table with CIs, then per-type/per-class table."""
    title = f"{report.get('config', report['task'])} / {report.get('split', 'split')}"
    boot = report["bootstrap"]
    lines = [f"### Scores: {title}", ""]
    ident = [f"predictions `{report['predictions']['file']}`", f"scorer {report['scorer_version']}",
             f"{report['n_examples']} examples in {report['n_articles']} articles"]
    if "dataset_version" in report:
        ident.append(f"dataset {report['dataset_version']} (`{report['dataset_fingerprint'][:12]}`)")
    ident.append(f"split `{report['split_hash'][:12]}`")
    if boot["resamples"]:
        ident.append(f"{int(boot['confidence'] * 100)}% CI: {boot['resamples']} article bootstrap resamples, seed {boot['seed']}")
    lines += ["; ".join(ident) + ".", ""]
    metrics, ci = report["metrics"], report["ci"]
    lines += ["| metric | value | 95% CI |", "|---|---:|---|"]
    if report["task"] == "ner":
        for m in ("precision", "recall", "f1"):
            lines.append(f"| micro {m} | {_fmt(metrics['micro'][m])} | {_fmt_ci(ci.get('micro', {}).get(m))} |")
        lines += ["", f"Mode: {report['mode']}" + (f" ({report['scheme']})" if report["mode"] == "strict" else "") + ".", ""]
        lines += ["| type | precision | recall | F1 | F1 95% CI | gold | predicted | correct |", "|---|---:|---:|---:|---|---:|---:|---:|"]
        for typ, row in metrics["per_type"].items():
            f1_ci = ci.get("per_type", {}).get(typ, {}).get("f1")
            lines.append(
                f"| {typ} | {_fmt(row['precision'])} | {_fmt(row['recall'])} | {_fmt(row['f1'])} | {_fmt_ci(f1_ci)} | "
                f"{row['n_gold']} | {row['n_pred']} | {row['n_correct']} |"
            )
    else:
        for m, label in (("accuracy", "accuracy"), ("macro_f1", "macro-F1"),
                         ("f_avg", f"F_avg ({report['favor_label']}, {report['against_label']})")):
            lines.append(f"| {label} | {_fmt(metrics[m])} | {_fmt_ci(ci.get(m))} |")
        lines += ["", "| class | precision | recall | F1 | F1 95% CI | support | predicted |", "|---|---:|---:|---:|---|---:|---:|"]
        for name, row in metrics["per_class"].items():
            f1_ci = ci.get("per_class", {}).get(name, {}).get("f1")
            lines.append(
                f"| {name} | {_fmt(row['precision'])} | {_fmt(row['recall'])} | {_fmt(row['f1'])} | {_fmt_ci(f1_ci)} | "
                f"{row['support']} | {row['n_pred']} |"
            )
        cm = metrics["confusion_matrix"]
        lines += ["", "| gold \\ predicted | " + " | ".join(cm["labels"]) + " |", "|---|" + "---:|" * len(cm["labels"])]
        for name, counts in zip(cm["labels"], cm["matrix"]):
            lines.append(f"| {name} | " + " | ".join(str(c) for c in counts) + " |")
    if "comparison" in report:
        comp = report["comparison"]
        lines += ["", f"Paired bootstrap: `{report['predictions']['file']}` (a) vs `{comp['predictions']['file']}` (b).", "",
                  "| metric | a | b | a - b | 95% CI | p(winner not better) |", "|---|---:|---:|---:|---|---:|"]
        for name, row in comp["metrics"].items():
            p = _fmt(row["p_not_better"]) if "p_not_better" in row else "-"
            lines.append(f"| {name} | {_fmt(row['a'])} | {_fmt(row['b'])} | {_fmt(row['delta'])} | {_fmt_ci(row.get('ci'))} | {p} |")
    return "\n".join(lines) + "\n"


def _main(argv: Sequence[str] | None = None) -> int:
    """``python -m dataset_builder.scoring``: the ``dataset-builder score`` command."""
    import click

    from .cli import score as score_command
    from .errors import DatasetBuilderError

    try:
        result = score_command.main(args=list(sys.argv[1:] if argv is None else argv),
                                    prog_name="python -m dataset_builder.scoring", standalone_mode=False)
    except DatasetBuilderError as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted!", err=True)
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main())
