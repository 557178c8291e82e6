"""Near-duplicate articles (wire copies of one story): shingles, MinHash LSH, exact Jaccard, clusters.

Input
    The text of each gold article (:func:`_article_texts`: the articles file's texts, or else
    the article's gold segments joined by newlines).
Output
    :class:`~dataset_builder.records.NearDuplicateCluster` records: the connected components
    of the confirmed pairs, sorted; deterministic. A cluster keeps only the pairs that joined it
    (a spanning tree: the confirmed pairs in sorted order that merged two parts), so it takes space
    linear in its size whatever the number of copies (n copies of one text confirm n(n-1)/2 pairs).

Method (policy point 2 of the package docstring): lower-cased ``\\w+`` words, word 5-shingles,
a MinHash signature per article (``datasketch``, 128 permutations, scheme ``affine32``, seed 1)
and MinHash LSH for candidate pairs, with bands chosen so that a pair exactly at the threshold
is missed with probability <= 0.1% (:func:`lsh_params`); every candidate pair is confirmed by
the *exact* Jaccard similarity of the two shingle sets (default threshold 0.7).
"""

from __future__ import annotations

import hashlib
import operator
import re
from collections import defaultdict
from typing import Mapping, Sequence

import numpy as np

from ..errors import InputError
from ..records import Annotation, Article, NearDuplicateCluster

DEFAULT_NEAR_DUPLICATE_THRESHOLD = 0.7
SHINGLE_SIZE = 5
NUM_PERM = 128
MINHASH_SEED = 1
MINHASH_SCHEME = "affine32"

_WORD = re.compile(r"\w+")
_FMIX_1 = np.uint64(0xFF51AFD7ED558CCD)
_FMIX_2 = np.uint64(0xC4CEB9FE1A85EC53)
_SHINGLE_MUL = np.uint64(0x9E3779B97F4A7C15)


def _fmix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * _FMIX_1
    h = h ^ (h >> np.uint64(33))
    h = h * _FMIX_2
    return h ^ (h >> np.uint64(33))


class _WordHasher:
    """Stable 64-bit word hashes (blake2b), cached: independent of process, corpus and order."""

    def __init__(self) -> None:
        self._cache: dict[str, int] = {}

    def _new(self, word: str) -> int:
        value = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")
        self._cache[word] = value
        return value

    def __call__(self, words: list[str]) -> np.ndarray:
        cache = self._cache
        for w in set(words).difference(cache):
            self._new(w)
        return np.fromiter(map(cache.__getitem__, words), dtype=np.uint64, count=len(words))


def shingle_set(text: str, *, shingle_size: int = SHINGLE_SIZE, _hasher: _WordHasher | None = None) -> np.ndarray:
    """The article's word ``shingle_size``-shingles as sorted unique 64-bit hashes.

    Words are the lower-cased ``\\w+`` runs; a text with fewer words than ``shingle_size`` has one
    shingle (all its words); a text without words has none.
    """
    words = _WORD.findall(text.lower())
    if not words:
        return np.empty(0, dtype=np.uint64)
    wh = (_hasher or _WordHasher())(words)
    k = min(shingle_size, len(words))
    n = len(words) - k + 1
    h = np.zeros(n, dtype=np.uint64)
    for j in range(k):  # uint64 arithmetic wraps: a polynomial hash of the k word hashes
        h = h * _SHINGLE_MUL + wh[j : j + n]
    return np.unique(_fmix64(h))


def lsh_params(threshold: float, num_perm: int = NUM_PERM, *, max_miss: float = 1e-3) -> tuple[int, int]:
    """LSH ``(bands, rows)`` for MinHash LSH: the most rows per band (fewest false candidates) such
    that a pair exactly at ``threshold`` is missed with probability ``(1 - t**r)**b <= max_miss``.

    Candidates are confirmed exactly, so false candidates only cost time, while a missed pair is a
    leak; datasketch's default weighting would miss about half the pairs at the threshold.
    """
    best = (num_perm, 1)
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        if (1.0 - threshold**rows) ** bands <= max_miss:
            best = (bands, rows)
    return best


def find_near_duplicates(
    texts: Mapping[str, str],
    *,
    threshold: float = DEFAULT_NEAR_DUPLICATE_THRESHOLD,
    shingle_size: int = SHINGLE_SIZE,
    num_perm: int = NUM_PERM,
) -> list[NearDuplicateCluster]:
    """Cluster near-duplicate texts (wire copies of one story).

    Parameters
    ----------
    texts : mapping of article id to text
    threshold : float
        Minimum exact Jaccard similarity of the word-shingle sets for a pair to count.
    shingle_size, num_perm : int
        Shingle length in words; MinHash permutations (candidate generation only).

    Returns
    -------
    list of NearDuplicateCluster
        Connected components (size >= 2) of the confirmed pairs, sorted; deterministic.
    """
    if not 0.0 < threshold <= 1.0:
        raise InputError(f"The near-duplicate threshold must be in (0, 1]; got {threshold!r}.")
    from datasketch import MinHash, MinHashLSH  # heavy import, only where needed

    hasher = _WordHasher()
    ids = sorted(texts)
    sets = {a: shingle_set(texts[a], shingle_size=shingle_size, _hasher=hasher) for a in ids}
    ids = [a for a in ids if sets[a].size]  # an article without words is nobody's duplicate
    if len(ids) < 2:
        return []
    # MinHash takes 32-bit inputs here: the upper half of the 64-bit shingle hash, passed through
    # unchanged (affine32 pre-mixes its input, so an identity hash function is fine).
    batches = [(sets[a] >> np.uint64(32)).astype(np.uint32).tolist() for a in ids]
    minhashes = MinHash.bulk(
        batches, num_perm=num_perm, seed=MINHASH_SEED, scheme=MINHASH_SCHEME, hashfunc=operator.index
    )
    bands, rows = lsh_params(threshold, num_perm)
    lsh = MinHashLSH(num_perm=num_perm, params=(bands, rows))
    with lsh.insertion_session() as session:
        for a, m in zip(ids, minhashes):
            session.insert(a, m, check_duplication=False)
    candidates: set[tuple[str, str]] = set()
    for a, m in zip(ids, minhashes):
        for b in lsh.query(m):
            if b != a:
                candidates.add((a, b) if a < b else (b, a))
    pairs: list[tuple[str, str, float]] = []
    for a, b in sorted(candidates):
        sa, sb = sets[a], sets[b]
        inter = np.intersect1d(sa, sb, assume_unique=True).size
        jaccard = inter / (sa.size + sb.size - inter)
        if jaccard >= threshold:
            pairs.append((a, b, round(jaccard, 4)))
    return _components(pairs)


def _components(pairs: Sequence[tuple[str, str, float]]) -> list[NearDuplicateCluster]:
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    joined: list[tuple[str, str, float]] = []  # the spanning edges: at most n - 1 per cluster of n
    for p in pairs:
        ra, rb = find(p[0]), find(p[1])
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
            joined.append(p)
    members: dict[str, list[str]] = defaultdict(list)
    for x in list(parent):
        members[find(x)].append(x)
    edges: dict[str, list[tuple[str, str, float]]] = defaultdict(list)
    for p in joined:
        edges[find(p[0])].append(p)
    return sorted(
        (NearDuplicateCluster(articles=tuple(sorted(m)), pairs=tuple(edges[root])) for root, m in members.items()),
        key=lambda c: c.articles,
    )


def _article_texts(gold: Sequence[Annotation], articles: Sequence[Article] | None) -> tuple[dict[str, str], str]:
    article_ids = sorted({a.article_id for a in gold})
    if articles is None:
        by_article: dict[str, list[Annotation]] = defaultdict(list)
        for ann in gold:
            by_article[ann.article_id].append(ann)
        return (
            {a: "\n".join(x.text for x in sorted(by_article[a], key=lambda x: natural_key(x.segment_id))) for a in article_ids},
            "gold segments",
        )
    by_id = {a.id: a for a in articles}
    missing = [a for a in article_ids if a not in by_id]
    if missing:
        shown = ", ".join(repr(m) for m in missing[:5])
        raise InputError(
            f"{len(missing)} article(s) of the gold data are not in the articles file ({shown}"
            f"{', ...' if len(missing) > 5 else ''}); pass the articles.jsonl that ingest wrote for this corpus."
        )
    return {a: by_id[a].text for a in article_ids}, "articles"


def natural_key(text: str) -> tuple:
    """Sort key that orders embedded numbers numerically (``s-2`` before ``s-10``)."""
    parts = re.split(r"(\d+)", text)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))
