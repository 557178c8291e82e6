"""Reproducible, leak-free train/validation/test splits (the ``split`` stage).

Input
    Gold :class:`~dataset_builder.records.Annotation` records (``annotator == GOLD``, one per
    segment, as written by ``normalise``) and, for near-duplicate detection, the
    :class:`~dataset_builder.records.Article` records they came from (full article texts, as
    written by ``ingest``). Without articles, an article's text is taken to be its gold segments
    joined by newlines, and the manifest says so.
Output
    A :class:`~dataset_builder.records.SplitManifest` (``splits/manifest.json``) and a
    :class:`SplitReport`; :func:`check_splits` re-verifies a manifest against the data (and
    optionally against a built dataset folder).

Policy (the dataset card repeats it):

1. **Groups.** The unit of assignment is a *group*: one article, or a cluster of near-duplicate
   articles. No article has segments in two splits; no near-duplicate cluster spans two splits.
2. **Near duplicates.** Lower-cased ``\\w+`` words, word 5-shingles, a MinHash signature per
   article (``datasketch``, 128 permutations, scheme ``affine32``, seed 1) and MinHash LSH for
   candidate pairs, with bands chosen so that a pair exactly at the threshold is missed with
   probability <= 0.1% (far less above it; :func:`lsh_params`); every candidate pair is
   confirmed by the *exact* Jaccard similarity of the two shingle sets (default threshold 0.7). Clusters are the connected components of the confirmed
   pairs, so near-duplicates of near-duplicates join one cluster.
3. **Stability.** With a previous manifest, every article it lists keeps its split: adding articles
   never moves an assigned one. A new article that is a near-duplicate of assigned articles joins
   their split. New articles in a cluster whose assigned articles are in *different* splits (they
   bridge them) cannot join any split without a leak: they are held out (listed in the manifest
   with the reason, counted, never silently dropped).
4. **Placement of new groups (stratification).** New groups are taken in the order of a salted
   hash (sha256 of ``salt + "\\0" + smallest article id``), so the order is fixed by the salt and
   not by the input order. While a split with a non-zero ratio is still empty, the next group goes
   to it (train, then test, then validation); after that each group goes to the split where it
   best closes the gap to the target counts ``ratio x total`` over the dimensions *segments* and
   *stances per label* (least squares, each dimension normalised by its total; ties go to train,
   test, validation). Groups already placed (previous manifest, pins) count towards the targets.
5. **Pinned articles (official corpus splits).** An article whose record carries
   ``meta["split"]`` (``train``, ``validation`` or ``test``; written by ``import-corpus --split``,
   or a ``split`` column at ingest) goes to that split, always: a pin beats placement, and a pin
   stays a pin (the manifest lists pinned articles, and later runs keep them pinned even without
   the articles file). A previous manifest that put the article elsewhere is an error (articles
   never move). Unpinned articles in a cluster with pinned ones join the pinned split, or are held
   out when the pinned articles are in several splits. Near-duplicates *across* pinned splits are a
   property of the official corpus: they are not moved but reported (``pinned_crossings`` in the
   manifest, a note in ``check_splits``), so scores stay comparable with published ones. A
   near-duplicate pair across splits that involves an unpinned article is still an error.

   The trade-off: an article's split is fixed by the manifest, not by a pure function of its id.
   Rebuilding from scratch (``--reassign``) on a grown corpus is deterministic but may move
   articles; incremental runs (the default) never move one, and keep label proportions close to
   the targets as far as whole groups allow, but a group is never split to improve them.

Invariants: for every output, articles assigned + articles held out = gold articles read, and
segments likewise; the same inputs and options give the same manifest bytes; a pinned article is
in its pinned split; a manifest without pins has no ``pinned`` keys (same bytes as before pins).
"""

from __future__ import annotations

import hashlib
import json
import operator
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from .errors import DatasetBuilderError, InputError
from .jsonl import read_jsonl
from .records import GOLD, SPLIT_NAMES, Annotation, Article, NearDuplicateCluster, SplitManifest
from .records import SPLIT_PIN_KEY as PIN_KEY

DEFAULT_RATIOS = (0.8, 0.1, 0.1)
DEFAULT_SALT = "dataset-builder"
DEFAULT_NEAR_DUPLICATE_THRESHOLD = 0.7
SHINGLE_SIZE = 5
NUM_PERM = 128
MINHASH_SEED = 1
MINHASH_SCHEME = "affine32"
MANIFEST_NAME = "manifest.json"
SEGMENTS_DIM = "__segments__"
"""Stratification dimension that counts segments (the other dimensions are stance labels)."""

_PLACEMENT_PRIORITY = ("train", "test", "validation")
_WORD = re.compile(r"\w+")
_FMIX_1 = np.uint64(0xFF51AFD7ED558CCD)
_FMIX_2 = np.uint64(0xC4CEB9FE1A85EC53)
_SHINGLE_MUL = np.uint64(0x9E3779B97F4A7C15)


# --------------------------------------------------------------------------- reading inputs


def read_gold(path: str | Path) -> list[Annotation]:
    """Read a gold JSONL file (``Annotation.to_dict`` per line) written by ``normalise``.

    Raises
    ------
    InputError
        Missing file, a line that is not an annotation, an annotation whose annotator is not
        ``gold``, or a segment annotated twice (names the file and lines).
    """
    out: list[Annotation] = []
    first_line: dict[str, int] = {}
    for lineno, row in read_jsonl(path):
        try:
            ann = Annotation.from_dict(row)
        except KeyError as exc:
            raise InputError(f"{path}:{lineno}: the annotation has no {exc.args[0]!r} field; "
                             "expected a line written by `dataset-builder normalise`.") from None
        except (DatasetBuilderError, TypeError) as exc:
            raise InputError(f"{path}:{lineno}: {exc}") from None
        if ann.annotator != GOLD:
            raise InputError(
                f"{path}:{lineno}: annotator is {ann.annotator!r}, expected {GOLD!r}; pass the gold file "
                "written by `dataset-builder normalise`, not the per-annotator one."
            )
        if ann.segment_id in first_line:
            raise InputError(
                f"{path}:{lineno}: segment {ann.segment_id!r} is already annotated at line "
                f"{first_line[ann.segment_id]}; a gold file has one annotation per segment."
            )
        first_line[ann.segment_id] = lineno
        out.append(ann)
    return out


def read_articles(path: str | Path) -> list[Article]:
    """Read an articles JSONL file written by ``ingest`` (``Article.to_dict`` per line).

    Raises
    ------
    InputError
        Missing file, or a line that is not an article (names the file and line).
    """
    out = []
    for lineno, row in read_jsonl(path):
        try:
            out.append(Article.from_dict(row))
        except KeyError as exc:
            raise InputError(f"{path}:{lineno}: the article has no {exc.args[0]!r} field.") from None
        except (DatasetBuilderError, TypeError) as exc:
            raise InputError(f"{path}:{lineno}: {exc}") from None
    return out


def read_manifest(path: str | Path) -> SplitManifest:
    """Read ``splits/manifest.json``.

    Raises
    ------
    InputError
        Missing or malformed file, or a manifest that breaks its invariants (an article in two
        splits, a near-duplicate cluster across splits: the message names them).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such split manifest; run `dataset-builder split` first.")
    try:
        row = json.loads(path.read_text(encoding="utf-8"))
        return SplitManifest.from_dict(row)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a JSON split manifest ({exc}).") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: malformed split manifest ({type(exc).__name__}: {exc}); "
                         "re-create it with `dataset-builder split`.") from None
    except DatasetBuilderError as exc:
        raise InputError(f"{path}: {exc}") from None


def write_manifest(manifest: SplitManifest, path: str | Path) -> Path:
    """Write the manifest as sorted, indented JSON (same manifest, same bytes); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(manifest.to_dict(), ensure_ascii=False, indent=2) + "\n"
    path.write_text(text, encoding="utf-8", newline="\n")
    return path


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


def gold_sha256(gold: Iterable[Annotation]) -> str:
    """sha256 of the gold records in segment-id order (independent of file order and layout).

    Each record contributes ``segment_id, article_id, annotator, len(text)`` and its text, then
    ``E start,end,label`` per entity and ``S start,end,label`` per stance, NUL-separated (span
    texts follow from the offsets). Cheaper than hashing JSON, and as exact.
    """
    parts: list[str] = []
    for a in sorted(gold, key=lambda x: x.segment_id):
        parts.append(f"{a.segment_id}\0{a.article_id}\0{a.annotator}\0{len(a.text)}\0{a.text}\0")
        parts.extend(f"E{e.start},{e.end},{e.label}\0" for e in a.entities)
        parts.extend(f"S{s.target_start},{s.target_end},{s.label}\0" for s in a.stances)
        parts.append("\n")
    return hashlib.sha256("".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


# --------------------------------------------------------------------------- near duplicates


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

    for a, b, _ in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    members: dict[str, list[str]] = defaultdict(list)
    for x in list(parent):
        members[find(x)].append(x)
    edges: dict[str, list[tuple[str, str, float]]] = defaultdict(list)
    for p in pairs:
        edges[find(p[0])].append(p)
    return sorted(
        (NearDuplicateCluster(articles=tuple(sorted(m)), pairs=tuple(edges[root])) for root, m in members.items()),
        key=lambda c: c.articles,
    )


# --------------------------------------------------------------------------- assignment


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


def pinned_splits(articles: Iterable[Article]) -> dict[str, str]:
    """Article id -> pinned split, from each article's ``meta["split"]`` (absent, None or ``""``: not pinned).

    Raises
    ------
    InputError
        A ``split`` value other than train, validation or test (names the article and the value).
    """
    out: dict[str, str] = {}
    for a in articles:
        value = a.meta.get(PIN_KEY)
        if value is None or value == "":
            continue
        if value not in SPLIT_NAMES:
            raise InputError(
                f"Article {a.id!r} has meta {PIN_KEY!r} {value!r}; expected one of {', '.join(SPLIT_NAMES)} (its "
                "official split), or no such key for an article the splitter places. Re-import the file with "
                "`dataset-builder import-corpus ... --split train|validation|test`, or fix the 'split' column of "
                "the ingested file."
            )
        if out.get(a.id, value) != value:
            raise InputError(
                f"Article {a.id!r} is pinned twice, to {out[a.id]} and to {value}: two imported files gave the same "
                "article id (concatenated articles files?). Import them with distinct --id-prefix values or file "
                "names, so that ids of two files never collide."
            )
        out[a.id] = value
    return out


def _pins(
    texts: Mapping[str, str], articles: Sequence[Article] | None, previous: SplitManifest | None
) -> dict[str, str]:
    """The pins of this run: the previous manifest's (a pin stays a pin) and the articles' own,
    for gold articles only. A pin that disagrees with the previous manifest is an error."""
    prev_split = previous.split_of() if previous is not None else {}
    pins = {a: prev_split[a] for a in (previous.pinned if previous is not None else ()) if a in texts}
    data = {a: s for a, s in pinned_splits(articles or ()).items() if a in texts}
    moved = sorted((a, s, prev_split[a]) for a, s in data.items() if a in prev_split and prev_split[a] != s)
    if moved:
        a, s, old = moved[0]
        more = f" (and {len(moved) - 1} more article(s) likewise)" if len(moved) > 1 else ""
        raise InputError(
            f"Article {a!r} is pinned to {s} (its articles record has meta split {s!r}, as `import-corpus --split "
            f"{s}` writes) but the previous manifest put it in {old}{more}; articles never move between runs. "
            f"Re-import that file with --split {old} to keep the manifest, or re-split from scratch with --reassign "
            "(moves articles: new major dataset version)."
        )
    pins.update(data)
    return pins


def natural_key(text: str) -> tuple:
    """Sort key that orders embedded numbers numerically (``s-2`` before ``s-10``)."""
    parts = re.split(r"(\d+)", text)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


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
    """Assign every gold article to train, validation or test (see the module docstring).

    Parameters
    ----------
    gold : sequence of Annotation
        Gold annotations; their ``article_id`` values are the articles to split.
    articles : sequence of Article, optional
        Full texts for near-duplicate detection; every gold article must be among them. An
        article with ``meta["split"]`` is pinned to that split (module docstring, point 5).
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
    ratios = parse_ratios(ratios)
    if not gold:
        raise InputError("No gold annotations to split; run `dataset-builder normalise` first.")
    if previous is not None and (previous.salt != salt or previous.ratios != ratios):
        raise InputError(
            f"The previous manifest used salt {previous.salt!r} and ratios {list(previous.ratios)}; this run asks for "
            f"salt {salt!r} and ratios {list(ratios)}. Use the same ones to keep every article where it is, or "
            "re-split from scratch (--reassign), which moves articles and needs a new major dataset version."
        )
    say = progress or (lambda _phase: None)
    say("near-duplicates")
    texts, text_source = _article_texts(gold, articles)
    pins = _pins(texts, articles, previous)
    clusters = find_near_duplicates(texts, threshold=near_duplicate_threshold)

    say("placing")
    counts: dict[str, Counter] = defaultdict(Counter)
    for ann in gold:
        c = counts[ann.article_id]
        c[SEGMENTS_DIM] += 1
        for st in ann.stances:
            c[st.label] += 1

    in_cluster = {a: c for c in clusters for a in c.articles}
    components: list[tuple[str, ...]] = [c.articles for c in clusters]
    components += [(a,) for a in sorted(texts) if a not in in_cluster]
    prev_split = previous.split_of() if previous is not None else {}
    fixed = {**prev_split, **pins}  # they agree where both name an article (_pins checked)

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
            for a in members:
                if a not in fixed_here:
                    near = sorted({b if a == x else x for x, b, _ in cluster.pairs if a in (x, b)})
                    near_desc = ", ".join(f"{b} ({fixed_here.get(b, 'new')})" for b in near)
                    held_out[a] = (
                        f"in a near-duplicate cluster whose articles are already in {' and '.join(where)} "
                        f"(similar to {near_desc}); adding it to any split could leak"
                    )
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
            placed.update(fixed_here)

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
        if empty:
            choice = empty[0]
        else:
            best: tuple[float, str] | None = None
            for s in active:
                delta = 0.0
                for d in dims:
                    v = vec[d]
                    if v and totals[d]:
                        delta += (v * v + 2.0 * v * (current[s][d] - ratio_of[s] * totals[d])) / (totals[d] * totals[d])
                if best is None or delta < best[0] - 1e-12:
                    best = (delta, s)
            choice = best[1]  # type: ignore[index]
        for a in members:
            placed[a] = choice
        current[choice].update(vec)
        n_groups[choice] += 1

    kept_clusters: list[NearDuplicateCluster] = []
    crossings: list[NearDuplicateCluster] = []  # across pinned splits: reported, not moved
    for c in clusters:
        kept = [p for p in c.pairs if p[0] not in held_out and p[1] not in held_out]
        for sub in _components(kept):
            (crossings if len({placed[a] for a in sub.articles}) > 1 else kept_clusters).append(sub)
    splits = {s: tuple(sorted(a for a, x in placed.items() if x == s)) for s in SPLIT_NAMES}
    say("hashing")
    manifest = SplitManifest(
        salt=salt,
        ratios=ratios,
        splits=splits,
        near_duplicate_clusters=tuple(kept_clusters),
        held_out=held_out,
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
        pinned_crossings=tuple(crossings),
    )
    stance_by_split = {s: {d: current[s][d] for d in dims if d != SEGMENTS_DIM} for s in SPLIT_NAMES}
    report = SplitReport(
        articles_read=len(texts),
        segments_read=len(gold),
        articles={s: len(splits[s]) for s in SPLIT_NAMES},
        segments={s: current[s][SEGMENTS_DIM] for s in SPLIT_NAMES},
        stance_labels=stance_by_split,
        held_out=held_out,
        held_out_segments=sum(counts[a][SEGMENTS_DIM] for a in held_out),
        near_duplicate_clusters=len(kept_clusters),
        articles_in_clusters=sum(len(c.articles) for c in kept_clusters),
        kept_from_previous=sum(1 for a in placed if a in prev_split),
        newly_assigned=sum(1 for a in placed if a not in prev_split),
        previous_not_in_data=sum(1 for a in prev_split if a not in texts),
        text_source=text_source,
        pinned={s: sum(1 for x in pins.values() if x == s) for s in SPLIT_NAMES},
        pinned_crossings=tuple(crossings),
    )
    return SplitResult(manifest=manifest, report=report)


# --------------------------------------------------------------------------- checking


@dataclass(frozen=True)
class CheckReport:
    """Result of :func:`check_splits`: ``problems`` (leaks; non-empty means fail) and ``notes``."""

    problems: tuple[str, ...]
    notes: tuple[str, ...]
    articles_checked: int
    clusters_found: int

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": list(self.problems),
            "notes": list(self.notes),
            "articles_checked": self.articles_checked,
            "clusters_found": self.clusters_found,
        }


def check_splits(
    manifest: SplitManifest,
    gold: Sequence[Annotation],
    articles: Sequence[Article] | None = None,
    *,
    dataset_dir: str | Path | None = None,
) -> CheckReport:
    """Re-verify that nothing leaks across splits.

    Recomputes near-duplicate clusters from the *current* texts (with the manifest's settings)
    rather than trusting the clusters written in the manifest, and checks that every gold article
    is assigned exactly once and that no cluster crosses splits. With ``dataset_dir`` (a folder
    written by ``build``), also checks the ``article_id`` column of every ``<config>/<split>.parquet``
    against the manifest.

    Pinned articles (the manifest's ``pinned`` and, with ``articles``, each article's
    ``meta["split"]``) must be in their pinned split. A cluster that crosses splits only through
    pairs of pinned articles is the official corpus's own overlap: reported in ``notes``, not a
    problem; any cross-split pair with an unpinned article is a problem.

    Returns
    -------
    CheckReport
        ``problems`` names each article or cluster that crosses splits or is unassigned, and
        each pinned article outside its pinned split.
    """
    problems: list[str] = []
    notes: list[str] = []
    split_of = manifest.split_of()
    texts, text_source = _article_texts(gold, articles)
    for a in sorted(texts):
        if a not in split_of and a not in manifest.held_out:
            problems.append(f"article {a} is in the gold data but in no split; run `dataset-builder split` to assign it.")
    threshold = float(manifest.settings.get("near_duplicate_threshold", DEFAULT_NEAR_DUPLICATE_THRESHOLD))
    pinned = set(manifest.pinned)
    if articles is not None:
        for a, want in sorted(pinned_splits(articles).items()):
            if a not in texts:
                continue
            if a in split_of and split_of[a] != want:
                problems.append(f"article {a} is pinned to {want} (meta split) but the manifest puts it in "
                                f"{split_of[a]}; re-import it with --split {split_of[a]} or re-split with --reassign.")
            elif a in split_of and a not in pinned:
                notes.append(f"article {a} is pinned to {want} in the data but not in the manifest; run "
                             "`dataset-builder split` to record the pin.")
            pinned.add(a)
    assigned = {a: t for a, t in texts.items() if a in split_of}
    clusters = find_near_duplicates(assigned, threshold=threshold)
    for c in clusters:
        where = {split_of[a] for a in c.articles}
        if len(where) > 1:
            members = ", ".join(f"{a} ({split_of[a]}{', pinned' if a in pinned else ''})" for a in c.articles)
            pairs = "; ".join(f"{a}~{b} J={j}" for a, b, j in c.pairs)
            official = all(a in pinned and b in pinned for a, b, _ in c.pairs if split_of[a] != split_of[b])
            if official:
                notes.append(f"near-duplicate cluster crosses pinned splits (the official split's own overlap, "
                             f"reported, not a failure): {members} [{pairs}].")
            else:
                problems.append(f"near-duplicate cluster crosses splits: {members} [{pairs}].")
    if manifest.settings.get("text_source") and manifest.settings.get("text_source") != text_source:
        notes.append(f"near-duplicates recomputed from {text_source}; the manifest used {manifest.settings['text_source']}.")
    if manifest.data_sha256 and manifest.data_sha256 != gold_sha256(gold):
        notes.append("the gold data changed since the manifest was written (data_sha256 differs).")
    if dataset_dir is not None:
        problems.extend(_check_dataset_dir(Path(dataset_dir), split_of, manifest.held_out))
    return CheckReport(
        problems=tuple(problems), notes=tuple(notes), articles_checked=len(texts), clusters_found=len(clusters)
    )


def _check_dataset_dir(root: Path, split_of: Mapping[str, str], held_out: Mapping[str, str]) -> list[str]:
    import pyarrow.parquet as pq

    problems: list[str] = []
    files = sorted(p for p in root.glob("*/*.parquet") if p.stem in SPLIT_NAMES)
    if not files:
        return [f"{root}: no <config>/<split>.parquet files; is this a folder written by `dataset-builder build`?"]
    by_config: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in files:
        rel = path.relative_to(root).as_posix()
        for a in sorted(set(pq.read_table(path, columns=["article_id"]).column("article_id").to_pylist())):
            by_config[path.parent.name][a].add(path.stem)
            if a in held_out:
                problems.append(f"article {a} is in {rel} but the manifest holds it out ({held_out[a]}).")
            elif a not in split_of:
                problems.append(f"article {a} is in {rel} but in no split of the manifest.")
            elif split_of[a] != path.stem:
                problems.append(f"article {a} is in {rel} but the manifest puts it in {split_of[a]}.")
    for config, arts in sorted(by_config.items()):
        for a, where in sorted(arts.items()):
            if len(where) > 1:
                problems.append(f"article {a} has rows in several {config} splits: {', '.join(sorted(where))}.")
    return problems
