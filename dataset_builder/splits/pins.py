"""Pinned articles (official corpus splits): which article is pinned to which split.

Input
    Articles whose record carries ``meta["split"]`` (``train``, ``validation`` or ``test``;
    written by ``import-corpus --split``, or a ``split`` column at ingest), and the previous
    manifest's ``pinned`` list.
Output
    Article id -> pinned split (policy point 5 of the package docstring: a pin beats placement,
    and a pin stays a pin).
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from ..errors import InputError
from ..records import SPLIT_NAMES, Article, SplitManifest
from ..records import SPLIT_PIN_KEY as PIN_KEY


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
