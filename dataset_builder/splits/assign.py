"""Assignment: every gold article to train, validation or test (policy points 1, 3, 4, 5).

Input
    Gold annotations, optionally the articles (full texts and pins) and the previous manifest.
Output
    A :class:`SplitResult`: the :class:`~dataset_builder.records.SplitManifest` and a
    :class:`SplitReport` of what was read, assigned, held out and found.

Invariants: articles assigned + articles held out = gold articles read, and segments likewise;
the same inputs and options give the same manifest bytes.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from ..errors import DatasetBuilderError, InputError
from ..records import SPLIT_NAMES, Annotation, Article, NearDuplicateCluster, SplitManifest
from .files import gold_sha256
from .near_duplicates import (
    DEFAULT_NEAR_DUPLICATE_THRESHOLD,
    MINHASH_SCHEME,
    MINHASH_SEED,
    NUM_PERM,
    SHINGLE_SIZE,
    _article_texts,
    _components,
    find_near_duplicates,
    lsh_params,
)
from .pins import _pins

DEFAULT_RATIOS = (0.8, 0.1, 0.1)
DEFAULT_SALT = "dataset-builder"
SEGMENTS_DIM = "__segments__"
"""Stratification dimension that counts segments (the other dimensions are stance labels)."""

_PLACEMENT_PRIORITY = ("train", "test", "validation")


def parse_ratios(text: str | Sequence[float]) -> tuple[float, float, float]:
    """Parse ``"0.8,0.1,0.1"`` (train, validation, test) into a checked tuple.

    Raises
    ------
    InputError
        Not three numbers, a negative one, or a sum other than 1.
    """
    parts = text.split(",") if isinstance(text, str) else list(text)
    try:
        ratios = tuple(float(p) for p in parts)
    except ValueError:
        raise InputError(f"The ratios must be three numbers 'train,validation,test' such as 0.8,0.1,0.1; got {text!r}.") from None
    if len(ratios) != 3 or any(r < 0 or r != r for r in ratios) or abs(sum(ratios) - 1.0) > 1e-6:
        raise InputError(
            f"The ratios must be three numbers >= 0 that sum to 1 (train,validation,test), such as 0.8,0.1,0.1; "
            f"got {text!r}."
        )
    return ratios  # type: ignore[return-value]


@dataclass(frozen=True)
class SplitReport:
    """What ``split`` read, assigned, held out and found.

    Invariants: ``articles_read == sum(articles.values()) + len(held_out)``, and
    ``segments_read == sum(segments.values()) + held_out_segments``.
    """

    articles_read: int
    segments_read: int
    articles: Mapping[str, int]
    segments: Mapping[str, int]
    stance_labels: Mapping[str, Mapping[str, int]]
    held_out: Mapping[str, str]
    held_out_segments: int
    near_duplicate_clusters: int
    articles_in_clusters: int
    kept_from_previous: int
    newly_assigned: int
    previous_not_in_data: int
    text_source: str
    pinned: Mapping[str, int] | None = None
    pinned_crossings: tuple[NearDuplicateCluster, ...] = ()

    def __post_init__(self) -> None:
        if self.pinned is None:
            object.__setattr__(self, "pinned", {s: 0 for s in SPLIT_NAMES})
        if self.articles_read != sum(self.articles.values()) + len(self.held_out):
            raise DatasetBuilderError(f"SplitReport: articles do not add up: {self.to_dict()}")
        if self.segments_read != sum(self.segments.values()) + self.held_out_segments:
            raise DatasetBuilderError(f"SplitReport: segments do not add up: {self.to_dict()}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "articles_read": self.articles_read,
            "segments_read": self.segments_read,
            "articles": dict(self.articles),
            "segments": dict(self.segments),
            "stance_labels": {k: dict(v) for k, v in self.stance_labels.items()},
            "held_out": dict(self.held_out),
            "held_out_segments": self.held_out_segments,
            "near_duplicate_clusters": self.near_duplicate_clusters,
            "articles_in_clusters": self.articles_in_clusters,
            "kept_from_previous": self.kept_from_previous,
            "newly_assigned": self.newly_assigned,
            "previous_not_in_data": self.previous_not_in_data,
            "text_source": self.text_source,
            "pinned": dict(self.pinned),
            "pinned_crossings": [c.to_dict() for c in self.pinned_crossings],
        }


@dataclass(frozen=True)
class SplitResult:
    manifest: SplitManifest
    report: SplitReport


def salted_hash(salt: str, key: str) -> int:
    """64-bit integer from sha256(salt NUL key): the placement order of a group."""
    return int.from_bytes(hashlib.sha256(f"{salt}\0{key}".encode("utf-8")).digest()[:8], "big")


def assign_splits(
    gold: Sequence[Annotation],
    articles: Sequence[Article] | None = None,
    *,
    ratios: Sequence[float] = DEFAULT_RATIOS,
    salt: str = DEFAULT_SALT,
    near_duplicate_threshold: float = DEFAULT_NEAR_DUPLICATE_THRESHOLD,
    previous: SplitManifest | None = None,
    progress: Callable[[str], None] | None = None,
) -> SplitResult:
    """Assign every gold article to train, validation or test (see the package docstring).

    Parameters
    ----------
    gold : sequence of Annotation
        Gold annotations; their ``article_id`` values are the articles to split.
    articles : sequence of Article, optional
        Full texts for near-duplicate detection; every gold article must be among them. An
        article with ``meta["split"]`` is pinned to that split (package docstring, point 5).
    ratios : (train, validation, test)
        Target shares of segments and of each stance label.
    salt : str
        Changes the placement order (and so the split) of new groups.
    near_duplicate_threshold : float
        Exact word-shingle Jaccard similarity from which two articles are near-duplicates.
    previous : SplitManifest, optional
        The manifest of the last run: its articles keep their split, and its pinned articles stay
        pinned. Must have the same salt and ratios.
    progress : callable, optional
        Called with the name of each phase as it starts.

    Returns
    -------
    SplitResult
        ``manifest`` and ``report``.

    Raises
    ------
    InputError
        Bad ratios or threshold, a gold article without a text, a previous manifest with another
        salt or ratios, assigned articles that the data now says are near-duplicates across
        splits unless both are pinned (only ``--reassign`` can fix that, by moving articles), a
        bad ``meta["split"]`` value, or a pin that disagrees with the previous manifest.
    """
    ratios = _checked_ratios(gold, ratios, salt=salt, previous=previous)
    say = progress or (lambda _phase: None)
    say("near-duplicates")
    texts, text_source = _article_texts(gold, articles)
    pins = _pins(texts, articles, previous)
    clusters = find_near_duplicates(texts, threshold=near_duplicate_threshold)

    say("placing")
    prev_split = previous.split_of() if previous is not None else {}
    placement = _place(gold, texts, clusters, pins, prev_split, ratios=ratios, salt=salt)
    splits = {s: tuple(sorted(a for a, x in placement.placed.items() if x == s)) for s in SPLIT_NAMES}
    say("hashing")
    manifest = SplitManifest(
        salt=salt,
        ratios=ratios,
        splits=splits,
        near_duplicate_clusters=tuple(placement.clusters),
        held_out=placement.held_out,
        data_sha256=gold_sha256(gold),
        settings={
            "near_duplicate_threshold": near_duplicate_threshold,
            "shingle_size": SHINGLE_SIZE,
            "num_perm": NUM_PERM,
            "minhash_scheme": MINHASH_SCHEME,
            "minhash_seed": MINHASH_SEED,
            "lsh_bands_rows": list(lsh_params(near_duplicate_threshold)),
            "text_source": text_source,
        },
        pinned=tuple(sorted(pins)),
        pinned_crossings=tuple(placement.crossings),
    )
    report = _split_report(placement, splits, texts=texts, gold=gold, text_source=text_source, pins=pins,
                           prev_split=prev_split)
    return SplitResult(manifest=manifest, report=report)


def _checked_ratios(
    gold: Sequence[Annotation], ratios: Sequence[float], *, salt: str, previous: SplitManifest | None
) -> tuple[float, float, float]:
    """The parsed ratios; ``InputError`` for bad ratios, no gold, or a previous manifest with another salt or ratios."""
    ratios = parse_ratios(ratios)
    if not gold:
        raise InputError("No gold annotations to split; run `dataset-builder normalise` first.")
    if previous is not None and (previous.salt != salt or previous.ratios != ratios):
        raise InputError(
            f"The previous manifest used salt {previous.salt!r} and ratios {list(previous.ratios)}; this run asks for "
            f"salt {salt!r} and ratios {list(ratios)}. Use the same ones to keep every article where it is, or "
            "re-split from scratch (--reassign), which moves articles and needs a new major dataset version."
        )
    return ratios


@dataclass(frozen=True)
class _Placement:
    """Where the articles went: what :func:`assign_splits` turns into the manifest and the report."""

    counts: Mapping[str, Counter]  # article -> segments and stances per label
    placed: dict[str, str]  # article -> split
    held_out: dict[str, str]  # article -> reason
    current: Mapping[str, Counter]  # split -> summed counts of its articles
    dims: list[str]  # the stratification dimensions, sorted
    clusters: list[NearDuplicateCluster]  # kept: each within one split
    crossings: list[NearDuplicateCluster]  # across pinned splits: reported, not moved


def _place(
    gold: Sequence[Annotation],
    texts: Mapping[str, str],
    clusters: Sequence[NearDuplicateCluster],
    pins: Mapping[str, str],
    prev_split: Mapping[str, str],
    *,
    ratios: tuple[float, float, float],
    salt: str,
) -> _Placement:
    """Keep fixed articles (previous manifest, pins) where they are, hold out bridges, place new groups."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for ann in gold:
        c = counts[ann.article_id]
        c[SEGMENTS_DIM] += 1
        for st in ann.stances:
            c[st.label] += 1
    fixed = {**prev_split, **pins}  # they agree where both name an article (_pins checked)
    placed, held_out, new_groups = _keep_fixed(clusters, texts, fixed, pins, salt=salt)
    current, dims = _place_new_groups(new_groups, placed, counts, ratios)
    kept_clusters: list[NearDuplicateCluster] = []
    crossings: list[NearDuplicateCluster] = []  # across pinned splits: reported, not moved
    for c in clusters:
        kept = [p for p in c.pairs if p[0] not in held_out and p[1] not in held_out]
        for sub in _components(kept):
            (crossings if len({placed[a] for a in sub.articles}) > 1 else kept_clusters).append(sub)
    return _Placement(counts, placed, held_out, current, dims, kept_clusters, crossings)


def _keep_fixed(
    clusters: Sequence[NearDuplicateCluster],
    texts: Mapping[str, str],
    fixed: Mapping[str, str],
    pins: Mapping[str, str],
    *,
    salt: str,
) -> tuple[dict[str, str], dict[str, str], list[tuple[int, str, tuple[str, ...]]]]:
    """Groups (clusters, then lone articles) with a fixed article: placed or held out; the others: new.

    Returns ``placed`` (article -> split), ``held_out`` (article -> reason) and the new groups as
    ``(salted hash, first article, members)``.
    """
    in_cluster = {a: c for c in clusters for a in c.articles}
    components: list[tuple[str, ...]] = [c.articles for c in clusters]
    components += [(a,) for a in sorted(texts) if a not in in_cluster]
    held_out: dict[str, str] = {}
    placed: dict[str, str] = {}  # article -> split
    new_groups: list[tuple[int, str, tuple[str, ...]]] = []
    for members in components:
        fixed_here = {a: fixed[a] for a in members if a in fixed}
        where = sorted(set(fixed_here.values()))
        if not where:
            new_groups.append((salted_hash(salt, members[0]), members[0], members))
        elif len(where) == 1:
            placed.update({a: where[0] for a in members})
        else:
            cluster = in_cluster[members[0]]
            held_out.update(_bridging_articles(members, cluster, fixed_here, where))
            _refuse_unpinned_crossings(cluster, fixed_here, pins)
            placed.update(fixed_here)
    return placed, held_out, new_groups


def _bridging_articles(
    members: Sequence[str], cluster: NearDuplicateCluster, fixed_here: Mapping[str, str], where: Sequence[str]
) -> dict[str, str]:
    """The cluster's articles that are not fixed, with the reason they are held out (they would leak)."""
    held_out: dict[str, str] = {}
    for a in members:
        if a not in fixed_here:
            near = sorted({b if a == x else x for x, b, _ in cluster.pairs if a in (x, b)})
            near_desc = ", ".join(f"{b} ({fixed_here.get(b, 'new')})" for b in near)
            held_out[a] = (
                f"in a near-duplicate cluster whose articles are already in {' and '.join(where)} "
                f"(similar to {near_desc}); adding it to any split could leak"
            )
    return held_out


def _refuse_unpinned_crossings(
    cluster: NearDuplicateCluster, fixed_here: Mapping[str, str], pins: Mapping[str, str]
) -> None:
    """``InputError`` when fixed near-duplicates sit in different splits and are not both pinned."""
    sub = _components([p for p in cluster.pairs if p[0] in fixed_here and p[1] in fixed_here])
    for c in sub:
        crossing = [p for p in c.pairs if fixed_here[p[0]] != fixed_here[p[1]]]
        unpinned = [p for p in crossing if not (p[0] in pins and p[1] in pins)]
        if any(x in pins for p in unpinned for x in p[:2]):
            a, b, j = next(p for p in unpinned if p[0] in pins or p[1] in pins)
            raise InputError(
                f"Articles {a} ({fixed_here[a]}{', pinned' if a in pins else ''}) and {b} ({fixed_here[b]}"
                f"{', pinned' if b in pins else ''}) are near-duplicates (J={j}) in different splits, and not "
                "both pinned: the unpinned one was placed by an earlier run and cannot move. Re-split from "
                "scratch with --reassign (moves articles: new major dataset version), or raise "
                "--near-dup-threshold."
            )
        if unpinned:
            desc = ", ".join(f"{a} ({fixed_here[a]})" for a in c.articles)
            raise InputError(
                f"Articles {desc} are near-duplicates (pairs {list(c.pairs)}) but the previous manifest put "
                "them in different splits (the texts or the threshold changed). Raise --near-dup-threshold, "
                "or re-split from scratch with --reassign (moves articles: new major dataset version)."
            )


def _place_new_groups(
    new_groups: Sequence[tuple[int, str, tuple[str, ...]]],
    placed: dict[str, str],
    counts: Mapping[str, Counter],
    ratios: tuple[float, float, float],
) -> tuple[dict[str, Counter], list[str]]:
    """Place each new group in salted-hash order (policy point 4); adds them to ``placed``.

    Returns the summed counts per split and the stratification dimensions (sorted).
    """
    kept_counts = [counts[a] for a in placed] + [counts[a] for _, _, m in new_groups for a in m]
    dims = sorted({d for c in kept_counts for d in c})
    totals = {d: float(sum(c[d] for c in kept_counts)) for d in dims}
    current = {s: Counter() for s in SPLIT_NAMES}
    n_groups = Counter()
    for a, s in placed.items():
        current[s].update(counts[a])
        n_groups[s] += 1
    ratio_of = dict(zip(SPLIT_NAMES, ratios))
    active = [s for s in _PLACEMENT_PRIORITY if ratio_of[s] > 0]
    for _, _, members in sorted(new_groups):
        vec = Counter()
        for a in members:
            vec.update(counts[a])
        empty = [s for s in active if n_groups[s] == 0]
        choice = empty[0] if empty else _closest_split(vec, active, dims, totals, current, ratio_of)
        for a in members:
            placed[a] = choice
        current[choice].update(vec)
        n_groups[choice] += 1
    return current, dims


def _closest_split(
    vec: Counter,
    active: Sequence[str],
    dims: Sequence[str],
    totals: Mapping[str, float],
    current: Mapping[str, Counter],
    ratio_of: Mapping[str, float],
) -> str:
    """The split where adding ``vec`` best closes the gap to the targets (least squares, each
    dimension normalised by its total; ties go to the earlier split of ``active``)."""
    best: tuple[float, str] | None = None
    for s in active:
        delta = 0.0
        for d in dims:
            v = vec[d]
            if v and totals[d]:
                delta += (v * v + 2.0 * v * (current[s][d] - ratio_of[s] * totals[d])) / (totals[d] * totals[d])
        if best is None or delta < best[0] - 1e-12:
            best = (delta, s)
    return best[1]  # type: ignore[index]


def _split_report(
    placement: _Placement,
    splits: Mapping[str, tuple[str, ...]],
    *,
    texts: Mapping[str, str],
    gold: Sequence[Annotation],
    text_source: str,
    pins: Mapping[str, str],
    prev_split: Mapping[str, str],
) -> SplitReport:
    """The :class:`SplitReport` of a placement: what was read, assigned, held out and found."""
    current, counts, held_out, placed = placement.current, placement.counts, placement.held_out, placement.placed
    stance_by_split = {s: {d: current[s][d] for d in placement.dims if d != SEGMENTS_DIM} for s in SPLIT_NAMES}
    return SplitReport(
        articles_read=len(texts),
        segments_read=len(gold),
        articles={s: len(splits[s]) for s in SPLIT_NAMES},
        segments={s: current[s][SEGMENTS_DIM] for s in SPLIT_NAMES},
        stance_labels=stance_by_split,
        held_out=held_out,
        held_out_segments=sum(counts[a][SEGMENTS_DIM] for a in held_out),
        near_duplicate_clusters=len(placement.clusters),
        articles_in_clusters=sum(len(c.articles) for c in placement.clusters),
        kept_from_previous=sum(1 for a in placed if a in prev_split),
        newly_assigned=sum(1 for a in placed if a not in prev_split),
        previous_not_in_data=sum(1 for a in prev_split if a not in texts),
        text_source=text_source,
        pinned={s: sum(1 for x in pins.values() if x == s) for s in SPLIT_NAMES},
        pinned_crossings=tuple(placement.crossings),
    )
