"""The normaliser: one task at a time, from an exported task to its output and the run's counts.

Input
    Exported tasks (dicts as :mod:`.reader` yields them) and the project's
    :class:`~dataset_builder.schema.LabelSchema`.
Output
    For each task a :class:`~.output._TaskOut` (what :mod:`.output` writes) or, through
    :meth:`Normaliser.process`, a :class:`~.output.TaskResult` of records; :meth:`Normaliser.report`
    at the end.
Invariants
    The task-level rules (ids, text, target, duplicates, min_annotators, gold) live here; the
    annotation, result, span, vote and agreement rules in their modules, each once. A task is
    either kept (one gold record) or rejected for one reason; its annotations and results are
    counted either way, so the report adds up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from ..errors import SchemaError
from ..records import Rejection
from ..schema import TARGET_FIELDS
from .adjudication import vote
from .agreement import Agreement
from .model_help import ModelHelp, model_help_report
from .annotations import NO_TEAM, Team, choose_annotations, from_completions
from .output import TaskResult, _TaskOut, task_result
from .report import STAGE, Counts, NormaliseReport, _sorted_counts
from .results import GivenTarget, ResultReader, _Parsed
from .spans import OFFSET_MODES, SpanRules, _TextIndex, given_tokens
from .stores import _LeadTimes, _SeenKeys, _Spill


# Rejections of a result that belongs to the config (they are about its data, not its control): with
# the kept ones, they confirm that the export was labelled with the config (see Normaliser._check_config)
_CONFIG_RESULTS = (
    "bad_offsets", "negative_offset", "end_not_after_start", "past_end", "inside_surrogate_pair", "text_not_found",
    "text_ambiguous", "whitespace_only", "stance_target_rejected", "conflicting_stance", "duplicate_stance",
    "target_marker",
)


class Normaliser:
    """Stateful per-task normaliser; feed tasks with :meth:`process`, then ask :meth:`report`.

    Parameters
    ----------
    schema : LabelSchema
        From :func:`dataset_builder.schema.load_schema`; the only source of label names.
    min_annotators : int, default 1
        Tasks with fewer usable annotators (and no ground truth) get no gold record.
    offsets : {"auto", "codepoints", "utf16"}, default "auto"
        How to read ``value.start``/``value.end`` (see the package docstring).
    source : str
        Name used in rejections and the report (normally the export path).
    team : Team, optional
        Who is who (:class:`~.annotations.Team`): the handles annotators are named by and the
        adjudicators, whose annotation decides a task. Default: user ids as handles, no adjudicator.
    spill_dir : str or Path, optional
        Where duplicate detection and lead times move to an SQLite file once they outgrow
        memory (see :class:`~.stores._Spill`); default: the system's temporary folder. Call
        :meth:`close` when done.

    Raises
    ------
    SchemaError
        Invalid options, or a config normalise cannot turn into entity spans / targeted stance.
    """

    def __init__(
        self, schema: Any, *, min_annotators: int = 1, offsets: str = "auto", source: str = "export",
        spill_dir: str | Path | None = None, team: Team = NO_TEAM,
    ) -> None:
        if offsets not in OFFSET_MODES:
            raise SchemaError(
                f"The 'offsets' parameter of normalise must be one of {', '.join(OFFSET_MODES)}. Got {offsets!r} instead."
            )
        if not isinstance(min_annotators, int) or isinstance(min_annotators, bool) or min_annotators < 1:
            raise SchemaError(
                f"The 'min_annotators' parameter of normalise must be an int >= 1. Got {min_annotators!r} instead."
            )
        if schema.stance_labels and not schema.stance_per_region and not schema.has_target:
            raise SchemaError(
                f"{schema.path}: the stance <Choices> is per task but the config gives no target ($target); a stance "
                "needs a target span. Make the stance perRegion=\"true\" or add the target fields."
            )
        self.schema = schema
        self.min_annotators = min_annotators
        self.offsets = offsets
        self.source = source
        self.team = team
        self.counts = Counts()
        self._results = ResultReader(schema, self.counts, SpanRules(offsets, self.counts, schema.entity_from_name))
        self._agreement = Agreement(schema)
        self._model_help = ModelHelp(schema, offsets, self.counts)
        self._known_from = {n for n in (schema.entity_from_name, schema.stance_from_name, schema.target_from_name) if n}
        self._index_used = False  # a message named a task by its position (see .parallel)
        self._spill = _Spill(spill_dir)
        self._seen = _SeenKeys(self._spill)  # task ids and segment ids met so far
        self._lead = _LeadTimes(self._spill)  # annotator -> lead times of the annotations kept

    @property
    def _config_confirmed(self) -> bool:
        """A result of one of the config's controls was seen (from then on from_names are not counted)."""
        return not self._results.count_names

    @_config_confirmed.setter
    def _config_confirmed(self, value: bool) -> None:
        self._results.count_names = not value

    @property
    def _alpha_units(self) -> Any:
        return self._agreement._alpha_units

    # ---- public -----------------------------------------------------------------------------

    def process(self, task: Any, index: int) -> TaskResult:
        """Normalise one exported task (the ``index``-th item of the export)."""
        return task_result(self.decide(task, index))

    def decide(self, task: Any, index: int) -> _TaskOut:
        """:meth:`process` up to the output: what :func:`~.output.task_lines` writes."""
        self.counts.tasks_read += 1
        rejections: list[Rejection] = []
        head = self._task_head(task, index, rejections)
        if isinstance(head, _TaskOut):
            return head
        task_id, where, text, segment_id, article_id, target, anns_raw, tokens = head
        tindex = _TextIndex(text)
        read = self._results.read
        parsed = [
            read(ann, annotator, tindex, target, where, rejections)
            for ann, annotator in choose_annotations(anns_raw, where, rejections, self.counts, self._lead, self.team)
        ]
        if not self._config_confirmed:
            self._check_config()
        adjudicators = self.team.adjudicators
        if adjudicators:
            for p in parsed:
                p.adjudicator = p.annotator in adjudicators
        stats = self.counts.stats
        for p in parsed:
            if p.ground_truth:
                stats[p.annotator].ground_truth += 1
        self._agreement.add([p for p in parsed if not p.decisive])
        predictions = task.get("predictions")
        if predictions and parsed:
            self._model_help.add(predictions, parsed, tindex, target, where)  # measured, never gold
        out = _TaskOut(task_id, index, segment_id, article_id, text, parsed, None, rejections, ())
        out.tokens = tokens  # a corpus's own tokens (data.tokens), onto the gold line
        self._decide_gold(out, where)
        return out

    def report(self, *, sha256: str | None = None) -> NormaliseReport:
        """The report so far (call after the last :meth:`process`).

        Raises
        ------
        SchemaError
            Results were read but none belongs to the config's controls: the export was made with
            another labelling config.
        """
        self._check_config(final=True)
        c = self.counts
        tasks, annotations, results = c.tallies()
        return NormaliseReport(
            source=self.source,
            sha256=sha256,
            config=self.schema.name,
            config_hash=self.schema.config_hash,
            options={"offsets": self.offsets, "min_annotators": self.min_annotators,
                     **({"adjudicators": sorted(self.team.adjudicators)} if self.team.adjudicators else {})},
            tasks=tasks,
            annotations=annotations,
            results=results,
            counts=c.counted_cases(),
            gold=_sorted_counts(c.gold_counts),
            agreement=self._agreement.to_dict(),
            model_help=model_help_report(c.model_help),
            **dict(zip(("annotators", "adjudicators", "gold_sources"),
                       c.annotators(self._lead.median, self.team.adjudicators))),
        )

    def close(self) -> None:
        """Delete the spill file, if one was made (the report must have been taken before)."""
        self._spill.close()

    # ---- tasks ------------------------------------------------------------------------------

    def _task_head(self, task: Any, index: int, rejections: list) -> _TaskOut | tuple:
        """The task's checked fields ``(id, where, text, segment id, article id, target, annotations)``, or its rejection."""
        if not isinstance(task, dict):
            return self._reject_task(None, index, "not_a_task", f"item is {type(task).__name__}", rejections)
        task_id = task.get("id")
        if task_id is None:
            self._index_used = True
            where = f"{self.source} item {index}"
        else:
            where = f"{self.source} task {task_id}"
        anns_raw = task.get("annotations")
        if anns_raw is None and "completions" in task:  # a Label Studio 0.x task: its completions are the annotations
            anns_raw = from_completions(task["completions"])
            if isinstance(anns_raw, list):
                self.counts.notes["completions_read_as_annotations"] += len(anns_raw)

        def reject(reason: str, detail: str) -> _TaskOut:
            return self._reject_whole(task_id, index, anns_raw, reason, f"{where}: {detail}", rejections)

        if not isinstance(task_id, int) or isinstance(task_id, bool):
            return reject("bad_task_id", f"'id' is {task_id!r}, expected an integer task id")
        if not self._seen.add_task(task_id):
            return reject("duplicate_task_id", f"task id {task_id} appeared earlier in the export")
        data = task.get("data")
        if not isinstance(data, dict):
            return reject("missing_data", f"'data' is {type(data).__name__}, expected an object")
        text_field = self.schema.text_field
        text = data.get(text_field)
        if text is None:
            return reject("missing_text", f"data has no {text_field!r} (keys: {', '.join(sorted(data))})")
        if not isinstance(text, str):
            return reject("text_not_string", f"data.{text_field} is {type(text).__name__}")
        if not text.strip():
            return reject("empty_text", f"data.{text_field} is empty or whitespace")
        notes = self.counts.notes
        segment_id = data.get("segment_id")
        if not isinstance(segment_id, str) or not segment_id:
            segment_id = f"ls-task-{task_id}"
            notes["segment_id_from_task_id"] += 1
        if not self._seen.add_segment(segment_id):
            return reject("duplicate_segment_id", f"segment {segment_id!r} is also in an earlier task; delete one task")
        article_id = data.get("article_id")
        if not isinstance(article_id, str) or not article_id:
            article_id = segment_id
            notes["article_id_from_segment_id"] += 1
        target: tuple[int, int] | GivenTarget | None = None
        if self.schema.has_target:
            target = self._task_target(data, text, self.schema.target_kind == "given")
            if isinstance(target, str):
                if not self._config_confirmed and not any(k in data for k in TARGET_FIELDS):
                    self.counts.tasks_without_target += 1  # evidence of another config (see _check_config)
                    self._check_config()
                return reject("bad_target", target)
        tokens = given_tokens(data.get("tokens"), text)
        if isinstance(tokens, str):
            return reject("bad_tokens", tokens)
        for key, note in (("drafts", "drafts_ignored"), ("predictions", "predictions_ignored")):
            extra = task.get(key)
            if isinstance(extra, list) and extra:
                notes[note] += len(extra)
        if not isinstance(anns_raw, list) or not anns_raw:
            if anns_raw is not None and not isinstance(anns_raw, list):
                return reject("bad_annotations", f"'annotations' is {type(anns_raw).__name__}")
            return self._reject_task(task_id, index, "no_annotations", f"{where}: no annotation", rejections)
        return task_id, where, text, segment_id, article_id, target, anns_raw, tokens

    def _decide_gold(self, out: _TaskOut, where: str) -> None:
        """Gold for the task's units from its usable annotations, or the reason it has none (into ``out``).

        The deciders are the decisive annotations (an adjudicator's, ground truth) when there are
        any, else every annotator. The segment's entities are one unit and each stance target
        another: a tie on one never drops the others. A tie on entities keeps the segment out of
        ``ner`` (``entities_disputed``); a task where nothing at all was decided has no gold.
        """
        parsed, task_id, index, rejections = out.parsed, out.task_id, out.index, out.rejections
        if not parsed:
            self._reject_task(task_id, index, "no_usable_annotation",
                              f"{where}: every annotation was cancelled or unusable", rejections)
            return
        voters: list[_Parsed] = [p for p in parsed if p.decisive]
        source = ("from_adjudicator" if any(p.adjudicator for p in voters) else "from_ground_truth") if voters else "from_vote"
        if not voters:
            voters = list(parsed)
            if len(parsed) < self.min_annotators:
                self._reject_task(task_id, index, "below_min_annotators",
                                  f"{where}: {len(parsed)} annotator(s), min_annotators is {self.min_annotators}",
                                  rejections)
                return
        gold_ents, gold_st, unresolved = vote(voters, out.text)
        gc = self.counts.gold_counts
        disputed = False
        if unresolved:
            for u in unresolved:
                u.update({"task_id": task_id, "segment_id": out.segment_id})
            out.unresolved = tuple(unresolved)
            gc["unresolved_items"] += len(unresolved)
            disputed = any(u["kind"] == "entity" for u in unresolved)
            gc["entities_disputed"] += disputed
            gc["stances_unresolved"] += sum(u["kind"] == "stance" for u in unresolved)
            has_entities = bool(self.schema.entity_labels)
            if (disputed or not has_entities) and not gold_st:
                self._reject_task(task_id, index, "unresolved_tie",
                                  f"{where}: {len(unresolved)} tied item(s) and nothing decided; run 'dataset-builder "
                                  "adjudicate' and resolve them as the adjudicator", rejections)
                return
        out.gold = (gold_ents, gold_st, disputed)
        self.counts.tasks_kept += 1
        gc["records"] += 1
        gc["entities"] += 0 if disputed else len(gold_ents)
        gc["stances"] += len(gold_st)
        gc[source] += 1
        self._agreement.against_gold(self.counts.stats, [p for p in parsed if not p.decisive],
                                     None if disputed else gold_ents, gold_st)

    def _reject_whole(
        self, task_id: Any, index: int, anns_raw: Any, reason: str, detail: str, rejections: list
    ) -> _TaskOut:
        """Reject a task; every annotation and result in it is rejected with the task's reason."""
        c = self.counts
        n_anns = len(anns_raw) if isinstance(anns_raw, list) else 0
        n_results = 0
        if isinstance(anns_raw, list):
            n_results = sum(len(a["result"]) for a in anns_raw if isinstance(a, dict) and isinstance(a.get("result"), list))
        c.ann_read += n_anns
        c.ann_rej[f"in_rejected_task:{reason}"] += n_anns
        c.res_read += n_results
        c.res_rej[f"in_rejected_task:{reason}"] += n_results
        return self._reject_task(task_id, index, reason, detail, rejections)

    def _reject_task(self, task_id: Any, index: int, reason: str, detail: str, rejections: list) -> _TaskOut:
        self.counts.task_rej[reason] += 1
        if task_id is None:
            self._index_used = True
            src = f"{self.source} item {index}"
        else:
            src = f"{self.source} task {task_id}"
        rejections.append(Rejection(STAGE, src, reason, detail))
        task_id = task_id if isinstance(task_id, int) else None
        return _TaskOut(task_id, index, None, None, None, (), None, rejections, ())

    @staticmethod
    def _task_target(data: Mapping[str, Any], text: str, given: bool) -> tuple[int, int] | GivenTarget | str:
        """The task's target: a span's offsets, or the given target text (outside the text); else what is wrong."""
        t, ts, te = data.get("target"), data.get("target_start"), data.get("target_end")
        if given:
            if not isinstance(t, str) or not t.strip():
                return f"data.target is {t!r}, expected the given target (a headline, a claim, a topic) as a non-empty string"
            return GivenTarget(t)
        for name, v in (("target_start", ts), ("target_end", te)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                return f"data.{name} is {v!r}, expected an int >= 0"
        if not isinstance(t, str) or te <= ts or te > len(text) or text[ts:te] != t:
            return (
                f"data.target {t!r} is not text[{ts}:{te}] = {text[ts:te]!r}; target offsets must be code points "
                "of the segment text"
            )
        return (ts, te)

    def _check_config(self, *, final: bool = False) -> None:
        """Fail fast when the export was labelled with another config.

        The config is confirmed by the first result it can use (kept, or rejected only for its
        data: see :data:`_CONFIG_RESULTS`), not by a from_name alone (configs share names:
        ``stance`` is a per-region control in one config and a per-task one in another). Refused:
        50 results read (or all of them, at the end) and none usable; or, for a config with a given
        target, 50 tasks (or all) without any target field and no usable result.
        """
        if self._config_confirmed:
            return
        c = self.counts
        res_rej = c.res_rej
        if c.res_kept or any(res_rej[r] for r in _CONFIG_RESULTS):
            self._config_confirmed = True
            return
        seen_names = c.from_names_seen
        seen = sum(seen_names.values())
        name = self.schema.name
        if seen and (final or seen >= 50):
            reasons = sorted(((n, r) for r, n in res_rej.items() if n and not r.startswith("in_")), reverse=True)
            raise SchemaError(
                f"{self.source}: none of the first {seen} results belongs to config {name!r} in a way it can use "
                f"(from_name seen: {', '.join(sorted(seen_names)[:8])}; expected: {', '.join(sorted(self._known_from))}; "
                f"rejected as: {', '.join(f'{r} {n}' for n, r in reasons[:4])}); pass the --config the project was "
                "labelled with."
            )
        untargeted = c.tasks_without_target
        if untargeted and (final or untargeted >= 50):
            raise SchemaError(
                f"{self.source}: none of the first {untargeted} task(s) has the target fields config {name!r} needs "
                "(data.target, target_start, target_end) and no result belongs to it; pass the --config the project "
                "was labelled with."
            )

    # ---- merging the state of batches normalised elsewhere (see .parallel) --------------------

    def _batch_state(self) -> dict[str, Any]:
        """Everything :meth:`_absorb` adds up, of a Normaliser that read one batch (picklable)."""
        return {
            "counts": self.counts, "confirmed": self._config_confirmed, "agreement": self._agreement.tallies(),
            "lead": self._lead.in_memory(), "task_ids": self._seen.tasks_in_memory(),
            "segment_ids": self._seen.segments_in_memory(),
        }

    def _absorb(self, state: Mapping[str, Any]) -> None:
        """Add a batch's :meth:`_batch_state` to this one (its keys were checked by :meth:`_SeenKeys.add_batch`)."""
        self.counts.merge(state["counts"])
        self._config_confirmed = self._config_confirmed or state["confirmed"]
        self._agreement.merge(state["agreement"])
        for name, values in state["lead"].items():
            self._lead.extend(name, values)
