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

Modules
    * :mod:`.files`: reading gold, articles and the manifest; writing the manifest; the gold hash.
    * :mod:`.near_duplicates`: article texts, shingles, MinHash LSH, exact Jaccard, clusters.
    * :mod:`.pins`: pinned articles (official corpus splits).
    * :mod:`.assign`: :func:`assign_splits`, its report and the placement of new groups.
    * :mod:`.check`: :func:`check_splits`, re-verifying a manifest against the data.
"""

from ..records import SPLIT_PIN_KEY as PIN_KEY
from .assign import (
    DEFAULT_RATIOS,
    DEFAULT_SALT,
    SEGMENTS_DIM,
    SplitReport,
    SplitResult,
    assign_splits,
    parse_ratios,
    salted_hash,
)
from .check import CheckReport, check_splits
from .files import MANIFEST_NAME, gold_sha256, read_annotations, read_articles, read_gold, read_manifest, write_manifest
from .near_duplicates import (
    DEFAULT_NEAR_DUPLICATE_THRESHOLD,
    MINHASH_SCHEME,
    MINHASH_SEED,
    NUM_PERM,
    SHINGLE_SIZE,
    find_near_duplicates,
    lsh_params,
    natural_key,
    shingle_set,
)
from .pins import pinned_splits

__all__ = [
    "DEFAULT_NEAR_DUPLICATE_THRESHOLD",
    "DEFAULT_RATIOS",
    "DEFAULT_SALT",
    "MANIFEST_NAME",
    "MINHASH_SCHEME",
    "MINHASH_SEED",
    "NUM_PERM",
    "PIN_KEY",
    "SEGMENTS_DIM",
    "SHINGLE_SIZE",
    "CheckReport",
    "SplitReport",
    "SplitResult",
    "assign_splits",
    "check_splits",
    "find_near_duplicates",
    "gold_sha256",
    "lsh_params",
    "natural_key",
    "parse_ratios",
    "pinned_splits",
    "read_articles",
    "read_annotations",
    "read_gold",
    "read_manifest",
    "salted_hash",
    "shingle_set",
    "write_manifest",
]
