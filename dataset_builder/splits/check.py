"""Checking a manifest: nothing leaks across splits (``split --check``).

Input
    A :class:`~dataset_builder.records.SplitManifest`, the gold annotations, optionally the
    articles (full texts and pins) and a dataset folder written by ``build``.
Output
    A :class:`CheckReport`: ``problems`` (leaks; non-empty means fail) and ``notes``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..records import SPLIT_NAMES, Annotation, Article, SplitManifest
from .files import gold_sha256
from .near_duplicates import DEFAULT_NEAR_DUPLICATE_THRESHOLD, _article_texts, find_near_duplicates
from .pins import pinned_splits


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
