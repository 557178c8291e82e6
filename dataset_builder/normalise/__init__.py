"""Normalise a Label Studio JSON export into per-annotator and gold :class:`Annotation` records (a package).

Input
    Label Studio's standard ``JSON`` export (a top-level array of tasks, each with ``data``,
    ``annotations[]``, ``drafts``, ``predictions``; a 0.x export's ``completions[]`` are read as
    annotations) and the :class:`~dataset_builder.schema.LabelSchema` of the labelling config the
    project used. The export is a file, a snapshot folder ``pull`` wrote or a project folder of
    them (its latest snapshot); a snapshot's ``manifest.json`` names the config, which is then the
    default, and another is refused (:mod:`.snapshot`). The export is read *streaming*: a few tasks at a time
    are cut out of a buffer of a few megabytes and decoded at C speed (``orjson``; the standard
    library's decoder where exact error positions are needed, see :mod:`.reader`). Exports of
    8 MB and more are normalised by worker processes, one byte range each, with the same output
    byte for byte (:mod:`.parallel`); anything unusual is read again by one process.
Memory
    Flat whatever the size of the export: a few batches of tasks, the per-annotator and per-pair
    tallies, agreement kept as tallies (a k x k table per annotator pair for kappa; alpha units
    grouped by their value counts, a few hundred distinct rows at most), and what must remember
    every task exactly (task and segment ids for duplicates, lead times for the median) in memory
    up to 100,000 tasks / 250,000 lead times, then in an SQLite file next to the output
    (:class:`.stores._Spill`), deleted at the end.
Output
    Per-annotator :class:`Annotation` records, one adjudicated ``GOLD`` record per resolved task,
    :class:`Rejection` records, unresolved ties, and a :class:`NormaliseReport` whose counts add up:
    for tasks, annotations and results, ``read == kept + sum(rejected.values())``.
Invariants
    Offsets are half-open ``[start, end)`` Python code points of the task text and every span's
    text equals ``text[start:end]``. One path from a task to its output: the JSON lines of
    :mod:`.output`; :func:`normalise_tasks` gives the records parsed from those same lines, which
    check every span. Label names come from the schema only.
    Identical input gives identical records in identical order (export order; annotators sorted).

Modules, in the order data flows through them (each docstring states its input, output and invariants)
-------------------------------------------------------------------------------------------------------
``snapshot``      which export (file, snapshot folder, a project's latest) and which config (its manifest)
``reader``        the export, streaming: ``(index, task)`` in export order; format checks
``normaliser``    one task at a time: the task-level rules, then annotations, results, gold
``annotations``   which annotations are used (cancelled, superseded, no annotator)
``results``       an annotation's results: entity spans and stances by the config's controls
``spans``         the offset and span rules (conventions, re-alignment, trimming)
``adjudication``  gold per task by ground truth or majority; ties listed, never guessed
``agreement``     alpha, kappa and pairwise F1 as bounded tallies
``stores``        task/segment ids and lead times, moved to SQLite when large
``report``        the counts of a run and the report made of them
``output``        a task's JSON lines (the only form the records are written in) and its records
``parallel``      byte ranges normalised by worker processes, the same output as one process
``export``        the entry points :func:`normalise_export` and :func:`normalise_tasks`


Rules (each case is counted in the report under the name in brackets)
----------------------------------------------------------------------
What Label Studio stores (checked on label-studio 1.23.2): the API stores ``value.start``/``end``
exactly as the client sends them (a span after an emoji sent in UTF-16 units comes back in UTF-16
units, one sent in code points comes back in code points; see ``tests/fixtures/exports``). Its
editor's source (``web/libs/editor/src/tags/object/RichText/domManager.ts``, shipped as a source map)
counts text offsets over ``[...text]``, i.e. code points; older releases counted UTF-16 units.
That was read in the source, not observed in a browser. So an export can hold either convention,
and ``auto`` decides per annotation where a span proves it, else per span.

Offsets (``offsets=``):
    ``"codepoints"`` takes ``value.start``/``value.end`` as Python code points; ``"utf16"`` as
    UTF-16 code units (what a JavaScript string counts) and converts them. ``"auto"`` (default)
    decides per span: if no character outside the Basic Multilingual Plane precedes the span's
    end both readings agree [identical]; otherwise the reading whose slice matches ``value.text``
    wins [codepoints] / [utf16]. Such a span is evidence for its whole annotation (one client
    counted all its offsets): a span without evidence of its own (no ``value.text``, or it fits
    neither or both readings) follows the convention its annotation's spans prove when they all
    prove the same one [followed_annotation_utf16] / [followed_annotation_codepoints]; evidence
    never crosses annotations, and conflicting evidence decides nothing. Otherwise, without a
    usable ``value.text`` it assumes code points [assumed_codepoints] (what Label Studio 1.23's
    editor stores: its text regions are counted over ``[...text]``, i.e. code points, and what its
    API stores is what the client sent). When both
    readings fit ``value.text`` (the same text recurs at both places) code points win
    [both_fit_chose_codepoints]. When neither reading fits ``value.text`` the code point reading
    goes on to re-alignment [unconfirmed_codepoints]; when only the UTF-16 reading lies inside the
    text it is used [utf16_only_fit] / [unconfirmed_utf16].
Spans (a ``labels`` result of the entity control):
    type/range checks first: non-integer offsets [bad_offsets], negative [negative_offset],
    ``end <= start`` [end_not_after_start], past the end of the text [past_end], an offset inside
    a surrogate pair in utf16 mode [inside_surrogate_pair]. ``value.text`` is only a cross-check:
    equal, or equal once whitespace runs are collapsed [text_whitespace_differs], passes; otherwise
    the span is re-aligned to ``value.text`` when that text (whitespace-flexible) occurs exactly
    once in the segment [realigned], or exactly once within ``max(32, len)`` code points of the
    given start [realigned_nearby]; else rejected [text_not_found] / [text_ambiguous]. Leading and
    trailing whitespace is trimmed [trimmed]; a whitespace-only span is rejected [whitespace_only].
    The guidelines keep a trailing ``'s`` out of a name: ``Nokia's`` / ``Nokia’s`` becomes
    ``Nokia``, a plural's trailing apostrophe goes too [possessive_trimmed], except for names
    whose ``'s`` is theirs (``McDonald's``, ``Sotheby's``: a short list in ``spans.py``)
    [possessive_kept_in_name]. Punctuation at a name's edges goes [punctuation_trimmed]: quotes,
    an unclosed bracket, ``, ; :``, and a trailing full stop unless it ends an abbreviation
    (``Inc.``, ``Jr.``), an initial (``Malcolm X.``) or an initialism (``U.S.``). Both run before
    the votes, so annotators who differ only there agree; each is counted once per span.
    A result whose region ``id`` is neither a string nor an integer [bad_region_id].
    No/empty labels [no_label]; a label not in the schema [unknown_label]; a region with several
    labels gives one span per label [multi_label_region]; the same span twice in one annotation is
    kept once [duplicate_span]. Overlapping and nested spans are kept as they are.
Stance:
    per-region configs join a ``choices`` result to the span with the same region ``id`` in the
    same annotation. A stance whose id names no span is rejected [stance_orphan]; one whose span was
    rejected is rejected too [stance_target_rejected]; a span without a stance stays an entity with
    no stance [span_without_stance]. Configs with a given target (``has_target``) take the target
    from ``data.target``/``target_start``/``target_end`` (code points; a target that does not fit
    the text rejects the task [bad_target]). A task's ``data.tokens`` (a corpus's own tokens,
    ``[start, end)`` code points, from ``import-corpus``) go onto its gold record
    (``Annotation.tokens``) for ``build``; tokens that do not fit the text reject the task
    [bad_tokens]. Not exactly one choice [stance_not_single_choice];
    a choice not in the schema [unknown_stance_label]; two stances for one target in one
    annotation: same label kept once [duplicate_stance], different labels both rejected
    [conflicting_stance]. Results of the target marker control are ignored [target_marker].
Annotations:
    cancelled (skipped) ones are not used [cancelled]; the same annotator twice: the latest by
    ``updated_at`` (then the higher id) is kept, the others are not used [superseded]; no
    ``completed_by`` [no_annotator]; a malformed annotation [bad_annotation]. Results inside an
    annotation that is not used are rejected with the annotation's reason (``in_cancelled``, ...).
    Drafts are never annotations: they are counted (``drafts_ignored``) and not read further;
    predictions likewise (``predictions_ignored``). An annotation with no result at all is rejected
    as ``empty`` (it does not vote); the config's explicit "no entities" choice
    (``<Choices name="no_entities">``) is a vote for no entity [no_entities_choice] (beside spans
    it is counted [no_entities_choice_with_spans] and the spans win). Annotators are named by a
    stable pseudonymous handle (:class:`Team`): the team's mapping file (user id, username or
    e-mail -> handle) if it names them, else the Label Studio username from the snapshot's
    ``users.json`` when it is not an e-mail address, else a pseudonym of the e-mail, else the user
    id (``completed_by``, or its object's ``id``) as a string; one known only by e-mail (a
    ``completed_by`` string with ``@``, or an object with an ``email`` and no ``id``) by the stable
    pseudonym ``annotator-`` + the first 8 hex digits of the sha256 of the lower-cased address
    [annotator_from_email], never the address itself (nor does a rejection show it). A Label
    Studio 0.x task's ``completions`` are its annotations (``skipped`` is ``was_cancelled``, a
    numeric ``created_at`` stands for ``updated_at``) [completions_read_as_annotations].
Config:
    the export must have been labelled with the config: it is confirmed by the first result the
    config can use (kept, or rejected only for its data: offsets, text, a stance's span, the
    target marker), not by a ``from_name`` alone (``stance`` is per region in one bundled config
    and per task in another). 50 results (or all, when fewer) with none usable, or, for a config
    with a given target, 50 tasks (or all) without any target field, are refused as another
    config (:class:`~dataset_builder.errors.SchemaError`), as is a config other than the one the
    snapshot's ``manifest.json`` names.
Tasks and gold:
    a task with no annotation [no_annotations], none usable [no_usable_annotation], fewer
    annotators than ``min_annotators`` and no decisive annotation [below_min_annotators], or
    nothing decided at all [unresolved_tie] gets no gold record (its per-annotator records are
    still written). Gold comes from the decisive annotations if any (an adjudicator's: a team
    member named with ``adjudicators``; or Label Studio ``ground_truth``, e.g. an imported corpus),
    else from all usable ones ("voters", n of them). Gold is decided per unit: the segment's
    entities are one unit, each stance target another. An entity ``(start, end, label)`` is gold
    when more than n/2 voters marked it, unresolved at exactly n/2, dropped below; any unresolved
    entity makes the segment's entities disputed (``entities_disputed`` on the gold record: the
    segment stays out of ``ner`` until adjudicated, its decided stances stay). A stance target is
    decided when more than n/2 voters gave it a stance (unresolved at exactly n/2, dropped below)
    and then takes the label with the most votes; a tie for first place is unresolved, and the
    other targets and the entities are still decided. Unresolved items are never guessed: they are
    listed (see :attr:`TaskResult.unresolved`, ``unresolved.jsonl``) for the adjudicator.
Agreement:
    stance: Krippendorff's alpha (nominal, ``krippendorff``; past 100,000 units from the same
    coincidence matrix the library sums, see :func:`.agreement._krippendorff_alpha`) over (task, target) units
    and pairwise Cohen's kappa (``sklearn.metrics.cohen_kappa_score`` on the table of label pairs,
    as sample weights) over the targets both annotators labelled; entities: pairwise exact-span F1 (micro over the tasks both annotated, spans compared
    as ``(start, end, label)``); per label: pooled pairwise span F1 of each entity label and
    pooled specific agreement of each stance label; per annotator: counts, median ``lead_time``,
    F1/accuracy against gold (gold is partly made of the annotator's own votes, so this is
    optimistic). Only annotators are measured: adjudicators and ground-truth sources are left out
    of agreement and reported apart (``adjudicators``, ``gold_sources``).
"""

from .annotations import Team, read_mapping
from .export import normalise_export, normalise_tasks
from .normaliser import Normaliser
from .output import OUTPUT_FILES, TaskResult
from .parallel import default_workers
from .reader import iter_export
from .report import STAGE, NormaliseReport, Tally
from .snapshot import Snapshot, find_snapshot
from .spans import OFFSET_MODES

__all__ = [
    "OFFSET_MODES",
    "OUTPUT_FILES",
    "STAGE",
    "NormaliseReport",
    "Normaliser",
    "Snapshot",
    "Tally",
    "TaskResult",
    "Team",
    "default_workers",
    "find_snapshot",
    "iter_export",
    "normalise_export",
    "normalise_tasks",
    "read_mapping",
]
