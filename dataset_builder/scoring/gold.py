"""The gold side of a score: one split prepared as aligned arrays.

Input
    A gold split (``datasets.Dataset``, NER or stance, told apart by its columns) built by
    ``build``: unique ``id`` values, ``article_id``, and ``label`` (stance) or ``ner_tags`` with
    ``token_starts``/``token_ends`` and ``text`` (NER).
Output
    A :class:`_Gold`: ids and the row of each, the article of each row, the class or tag names,
    the gold labels (stance: one per row; NER: flat tag ids with segment starts and the article
    of each token), in the dataset's row order.

Raises :class:`~dataset_builder.errors.SchemaError` for an empty split, an id seen twice, or
token offsets that do not match the tags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SchemaError
from .dataset import _label_names, task_of
from .ner import TagSet


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
