"""The split stage's files: gold and articles JSONL in, the manifest JSON in and out.

Input
    ``gold.jsonl`` written by ``normalise`` (one gold annotation per segment), ``articles.jsonl``
    written by ``ingest``, and ``splits/manifest.json``.
Output
    The records (:class:`~dataset_builder.records.Annotation`, :class:`~dataset_builder.records.Article`,
    :class:`~dataset_builder.records.SplitManifest`), the manifest written as sorted, indented
    JSON (same manifest, same bytes), and :func:`gold_sha256`, the identity of the gold data
    the manifest records.

Every reader raises :class:`~dataset_builder.errors.InputError` naming the file (and line).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import DatasetBuilderError, InputError
from ..jsonl import read_jsonl
from ..records import GOLD, Annotation, Article, SplitManifest

MANIFEST_NAME = "manifest.json"


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
    for lineno, ann in _annotations(path):
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


def _annotations(path: str | Path) -> Iterator[tuple[int, Annotation]]:
    """``(line number, Annotation)`` of each line of an annotations JSONL file."""
    for lineno, row in read_jsonl(path):
        try:
            yield lineno, Annotation.from_dict(row)
        except KeyError as exc:
            raise InputError(f"{path}:{lineno}: the annotation has no {exc.args[0]!r} field; "
                             "expected a line written by `dataset-builder normalise`.") from None
        except (DatasetBuilderError, TypeError) as exc:
            raise InputError(f"{path}:{lineno}: {exc}") from None


def read_annotations(path: str | Path) -> list[Annotation]:
    """Read the per-annotator ``annotations.jsonl`` written by ``normalise``.

    Raises
    ------
    InputError
        Missing file, a line that is not an annotation, or a gold line (names the file and line).
    """
    out = []
    for lineno, ann in _annotations(path):
        if ann.annotator == GOLD:
            raise InputError(f"{path}:{lineno}: annotator is {GOLD!r}; pass the per-annotator annotations.jsonl "
                             "written by `dataset-builder normalise`, not gold.jsonl.")
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


def gold_sha256(gold: Iterable[Annotation]) -> str:
    """sha256 of the gold records in segment-id order (independent of file order and layout).

    Each record contributes ``segment_id, article_id, annotator, len(text)`` and its text, then
    ``E start,end,label`` per entity and ``S start,end,label`` per stance (``G len(target)``, the
    given target and the label for a given target), NUL-separated (span texts follow from the offsets). Cheaper than hashing JSON, and as exact.
    """
    parts: list[str] = []
    for a in sorted(gold, key=lambda x: x.segment_id):
        parts.append(f"{a.segment_id}\0{a.article_id}\0{a.annotator}\0{len(a.text)}\0{a.text}\0")
        parts.extend(f"E{e.start},{e.end},{e.label}\0" for e in a.entities)
        parts.extend(f"S{s.target_start},{s.target_end},{s.label}\0" if not s.given else
                     f"G{len(s.target_text)}\0{s.target_text}\0{s.label}\0" for s in a.stances)
        parts.append("\n")
    return hashlib.sha256("".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
