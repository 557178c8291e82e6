"""NewsMTSC target-stance JSONL (format ``newsmtsc``): sentences with targets -> one segment per target.

Input
    A NewsMTSC JSONL file and a config with a stance toward a given target (default ``target_stance``).
Output
    A :class:`~dataset_builder.corpora.corpus.Corpus` whose units are targets: one article per line
    (one sentence), one segment per kept target, each annotation holding that target's stance.

Format (what the reader assumes; the tests pin every rule)
-----------------------------------------------------------
``newsmtsc`` - NewsMTSC JSONL (Hamborg & Donnay, EACL 2021): one object per line with
``sentence_normalized``, ``primary_gid`` and ``targets``, each target with ``from``, ``to``,
``mention`` and ``polarity`` (2.0 negative, 4.0 neutral, 6.0 positive); the flattened form of the
HuggingFace copy (``sentence``, ``id``, and ``from``/``to``/``mention``/``polarity`` on the row
itself) is read too. ``to`` is **exclusive**: the data has ``sentence[from:to] == mention`` (the
dataset's readme says "last character", but e.g. ``"Winner wrote ..."`` has ``from`` 0, ``to`` 6,
``mention`` ``"Winner"``); a mention that only fits with an inclusive end is an error that says
so. ``further_mentions`` (automatic coreference) are not read, only counted. Each line is an
article of one sentence; each target becomes its own segment (``<article>-s0000-tNN``, same text)
because the ``target_stance`` config has one target per task. Polarity is mapped by
:data:`~dataset_builder.corpora.options.DEFAULT_LABEL_MAPS`: 2.0 (or -1) negative -> against,
4.0 (or 0) neutral -> neutral, 6.0 (or 1) positive -> favor; the sentiment *toward the target* is
read as the segment's stance toward it.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any, Mapping

from ..ingest import describe_control_character, find_control_character
from ..jsonl import json_error
from ..records import Annotation, Article, Segment, StanceLabel
from ..schema import LabelSchema
from .corpus import Corpus
from .labels import _Labels
from .ledger import _Bad, _Ledger
from .options import ON_ERROR, _check_options, slug
from .stance import _stance_label, _stance_options
from .text import _lines, _read_bytes, clean_with_offsets, decode

_Target = tuple[int, int, str, str, int]
"""A target kept so far: ``(from, to, mention, config label, index k in the line's targets)``."""


def read_newsmtsc(
    path: str | Path,
    config: str | Path | LabelSchema | None = None,
    *,
    label_map: str | Path | Mapping[Any, str] | None = None,
    annotator: str | None = None,
    id_prefix: str | None = None,
    on_error: str = "raise",
) -> Corpus:
    """Read NewsMTSC-style target-stance JSONL (see the module docstring).

    Units are targets: ``read`` counts targets, a rejected target is a rejected unit. A line that
    is not a JSON object, or has no sentence, rejects all its targets at once (counted as one
    unit when its targets cannot be counted).

    Raises
    ------
    InputError
        Bad JSON, missing keys, offsets that are not integers, outside the sentence, or that do
        not give the mention; a duplicate sentence id.
    SchemaError
        A polarity the label map does not cover, or a config without a given target.
    """
    _check_options("read_newsmtsc", on_error=(on_error, ON_ERROR))
    fmt = "newsmtsc"
    path = Path(path)
    schema, annotator, prefix, labels = _stance_options(fmt, path, config, annotator, id_prefix, label_map)
    text, enc = decode(_read_bytes(path), path, "utf-8")
    ledger = _Ledger(str(path), on_error)
    seen_ids: dict[str, int] = {}
    for lineno, line in enumerate(_lines(text), start=1):
        if not line.strip():
            continue
        row = _newsmtsc_line(line, lineno, prefix, seen_ids, ledger)
        if row is None:
            continue
        sentence, targets, gid, article_id = row
        # offsets first (checked on the sentence as given), then the clean text with moved offsets
        kept = _newsmtsc_targets(targets, sentence, lineno, labels, ledger)
        if kept:
            _newsmtsc_article(article_id, gid, sentence, kept, lineno, annotator, path.name, ledger)
    return ledger.corpus(fmt, schema, annotator, enc, labels, unit="target")


def _newsmtsc_line(line: str, lineno: int, prefix: str, seen_ids: dict[str, int],
                   ledger: _Ledger) -> tuple[str, list[Any], str, str] | None:
    """One line -> ``(sentence, targets, corpus id, article id)``, or ``None`` when the whole line is rejected.

    A rejected line counts as read once per target (once when its targets cannot be counted) and
    is rejected as often, so read = kept + rejected; a kept line's targets are counted as read by
    :func:`_newsmtsc_targets`.
    """
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        ledger.read += 1
        ledger.fail(_Bad("bad_json", lineno, f"not valid JSON ({json_error(exc)})"))
        return None
    targets = row.get("targets") if isinstance(row, dict) else None
    if isinstance(row, dict) and targets is None and "from" in row:
        targets = [row]  # the flattened HuggingFace form: one target per row
    n_targets = len(targets) if isinstance(targets, list) else 1
    try:
        if not isinstance(row, dict):
            raise _Bad("bad_row", lineno, f"expected a JSON object, got {type(row).__name__}")
        sentence = row.get("sentence_normalized", row.get("sentence"))
        if not isinstance(sentence, str) or not sentence.strip():
            raise _Bad("no_sentence", lineno,
                       f"'sentence_normalized' is {sentence!r}; expected the sentence text (or 'sentence')")
        control = find_control_character(sentence)
        if control is not None:  # a JSON escape (\u0000): raw ones are refused with the file
            raise _Bad("control_character", lineno,
                       f"the sentence holds {describe_control_character(sentence, control)}; control characters "
                       "are not text: remove them")
        if not isinstance(targets, list) or not targets:
            raise _Bad("no_targets", lineno,
                       f"'targets' is {targets!r}; expected a non-empty list of {{from, to, mention, polarity}}")
        gid = row.get("primary_gid", row.get("id"))
        gid = str(gid) if gid is not None and str(gid).strip() else f"line{lineno}"
        article_id = f"{prefix}-{slug(gid)}"
        if article_id in seen_ids:
            raise _Bad("duplicate_id", lineno,
                       f"id {gid!r} gives article id {article_id!r}, already used on line {seen_ids[article_id]}")
    except _Bad as bad:
        ledger.read += n_targets
        ledger.fail(bad, labels_in_unit=n_targets)
        if n_targets > 1:  # one rejection per target keeps read = kept + rejected
            for _ in range(n_targets - 1):
                ledger.fail(bad)
        return None
    seen_ids[article_id] = lineno
    return sentence, targets, gid, article_id


def _newsmtsc_targets(targets: list[Any], sentence: str, lineno: int, labels: _Labels,
                      ledger: _Ledger) -> list[_Target]:
    """The line's targets that pass their checks on the sentence as given and keep a label."""
    kept: list[_Target] = []
    for k, tgt in enumerate(targets):
        ledger.read += 1
        try:
            start, end, mention, label = _newsmtsc_target(tgt, k, sentence, lineno, labels)
        except _Bad as bad:
            ledger.fail(bad, labels_in_unit=1)
            continue
        ledger.labels_read += 1
        if label == "":
            ledger.drop_unit(lineno, f"target {k} {mention!r}: polarity mapped to nothing")
            continue
        if tgt.get("further_mentions"):
            ledger.notes["further_mentions_ignored"] += len(tgt["further_mentions"])
        kept.append((start, end, mention, label, k))
    return kept


def _newsmtsc_article(article_id: str, gid: str, sentence: str, kept: list[_Target], lineno: int,
                      annotator: str, source_file: str, ledger: _Ledger) -> None:
    """The cleaned sentence as an article, with one segment per target that still fits it."""
    try:
        clean, moved = clean_with_offsets(sentence, [p for t in kept for p in t[:2]], ledger.notes)
    except ValueError as exc:
        for _, _, mention, _, k in kept:
            ledger.labels_read -= 1  # counted as read before; fail() counts it again with its reason
            ledger.fail(_Bad("offsets_not_nfc_boundaries", lineno, f"target {k} {mention!r}: {exc}"),
                        labels_in_unit=1)
        return
    spans_seen: Counter[tuple[int, int]] = Counter()
    made = 0
    for j, (_, _, mention, label, k) in enumerate(kept):
        s0, e0 = moved[2 * j], moved[2 * j + 1]
        if e0 <= s0 or clean[s0:e0] != unicodedata.normalize("NFC", mention.replace("\r", " ")):
            ledger.labels_read -= 1
            ledger.fail(_Bad("offsets_outside_sentence", lineno,
                             f"target {k} {mention!r} lies partly in whitespace trimmed off the sentence"),
                        labels_in_unit=1)
            continue
        spans_seen[(s0, e0)] += 1
        seg = Segment(id=f"{article_id}-s0000-t{k:02d}", article_id=article_id, index=0, start=0,
                      end=len(clean), text=clean, unit="sentence")
        ledger.keep(seg, Annotation(segment_id=seg.id, article_id=article_id, text=clean, annotator=annotator,
                                    stances=(StanceLabel(s0, e0, clean[s0:e0], label),)))
        made += 1
    twice = sum(n - 1 for n in spans_seen.values())
    if twice:
        ledger.notes["same_target_span_twice_in_a_sentence"] += twice
    if made:
        ledger.articles.append(Article(id=article_id, text=clean, meta={
            "format": "newsmtsc", "source_file": source_file, "line": lineno, "corpus_id": gid}))


def _newsmtsc_target(tgt: Any, k: int, sentence: str, line: int, labels: _Labels) -> tuple[int, int, str, str]:
    """One target checked on the sentence as given -> ``(from, to, mention, config label)``."""
    if not isinstance(tgt, dict):
        raise _Bad("bad_target", line, f"target {k} is {type(tgt).__name__}; expected an object")
    missing = [key for key in ("from", "to", "mention", "polarity") if key not in tgt]
    if missing:
        raise _Bad("bad_target", line, f"target {k} has no {', '.join(missing)}; expected from, to, mention, polarity")
    start, end, mention = tgt["from"], tgt["to"], tgt["mention"]
    for name, v in (("from", start), ("to", end)):
        if not isinstance(v, int) or isinstance(v, bool):
            raise _Bad("bad_offsets", line, f"target {k}: '{name}' is {v!r}; expected an integer code-point offset")
    if not isinstance(mention, str) or not mention:
        raise _Bad("bad_target", line, f"target {k}: 'mention' is {mention!r}; expected the target's text")
    n = len(sentence)
    if not (0 <= start < end <= n):
        hint = " (to is exclusive)" if end == start else ""
        raise _Bad(
            "offsets_outside_sentence", line,
            f"target {k} {mention!r}: [{start}, {end}) is outside the sentence of {n} characters{hint}; "
            f"expected 0 <= from < to <= {n}",
        )
    if sentence[start:end] != mention:
        hint = ""
        if sentence[start : end + 1] == mention:
            hint = ("; it fits with an inclusive 'to' (sentence[from:to+1]), but NewsMTSC's data has an exclusive "
                    "'to': add 1 to every 'to' of this file")
        raise _Bad(
            "mention_mismatch", line,
            f"target {k}: mention {mention!r} is not sentence[{start}:{end}] = {sentence[start:end]!r}{hint}",
        )
    label = _stance_label(tgt["polarity"], labels, line, f"target {k} polarity")
    return start, end, mention, label

