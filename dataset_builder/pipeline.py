"""The whole chain on embedded defaults: what ``dataset-builder run`` does.

Input
    A folder of articles (default: the bundled ``data/sample_articles``), a labelling config
    (default ``entities_stance``), and optionally an export of annotations made earlier
    (default: the bundled ``data/sample_annotations/export.json``: two annotators and the
    adjudicator who decided what they disputed) that is brought into the local server as those
    users' submissions; the project gives each task to two annotators.
Output
    Under ``out_dir``: ``articles.jsonl``, ``segments.jsonl``, the raw export snapshot, the
    normalised annotations, the dataset folder (parquet, README, card), ``results/`` (models,
    predictions, ``results.json``, ``leaderboard.md``). The split manifest is kept in
    ``splits_dir`` (default ``splits/``) so that later runs never move an article, and the card
    is copied to ``card_path`` when given.
Invariants
    Each stage reports its counts; running twice gives byte-identical dataset, card and scores,
    and the second run creates no task and no annotation twice.

This module only chains the stages' public functions; each stage keeps working on its own
(``ingest``, ``segment``, ``push``, ``pull``, ``normalise``, ``split``, ``build``, ``benchmark``).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from . import baselines, build, ingest, label_studio, normalise, predict, segment, splits
from .jsonl import read_jsonl, write_json, write_jsonl
from .records import Annotation, Article, SplitManifest
from .schema import LabelSchema, load_schema

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_ARTICLES = REPO_ROOT / "data" / "sample_articles"
SAMPLE_ANNOTATIONS = REPO_ROOT / "data" / "sample_annotations" / "export.json"
DEFAULT_CONFIG = "entities_stance"
DEFAULT_PROJECT = "News sample: entities and stance"
SAMPLE_ADJUDICATOR = "adjudicator"
"""The bundled sample's adjudicator (Label Studio username): their annotations decide what alex and sam disputed."""

Log = Callable[[str], None]


@dataclass
class RunReport:
    """Where everything went and what each stage counted."""

    out_dir: Path
    url: str
    username: str
    password_file: Path | None
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)
    leaderboard: str = ""

    def summary(self) -> str:
        """What ``dataset-builder run`` prints at the end: the leaderboard, the paths, where to log in."""
        lines = ["", self.leaderboard.rstrip(), "", "Wrote:"] + [f"  {name:<12} {path}" for name, path in self.paths.items()]
        return "\n".join(lines + [
            "", f"Annotate more at {self.url} (log in as {self.username}; password in {self.password_file}).",
            "Then run 'dataset-builder run' again: new annotations flow into the dataset, nothing is duplicated."])


def run_all(
    *,
    articles: str | Path = SAMPLE_ARTICLES,
    annotations: str | Path | None = SAMPLE_ANNOTATIONS,
    config: str | Path = DEFAULT_CONFIG,
    project_title: str = DEFAULT_PROJECT,
    out_dir: str | Path = "out",
    splits_dir: str | Path = "splits",
    card_path: str | Path | None = None,
    data_dir: str | Path = label_studio.DEFAULT_DATA_DIR,
    port: int = label_studio.DEFAULT_PORT,
    connection: label_studio.Connection | None = None,
    resamples: int = 1000,
    version: str = "0.1.0",
    annotators: int = 2,
    adjudicators: Sequence[str] | None = None,
    log: Callable[[str], None] = lambda line: None,
) -> RunReport:
    """Run ingest → segment → push → (sample annotations) → pull → normalise → split → build → benchmark.

    Parameters
    ----------
    articles : folder or file of articles for :func:`dataset_builder.ingest.ingest`.
    annotations : a Label Studio JSON export whose annotations are submitted, as their
        annotators, to the tasks with the same ``segment_id``; None to skip.
    connection : an existing Label Studio to use; by default a local one is started (or
        reused) in ``data_dir`` on ``port``.
    annotators : how many different annotators Label Studio's stream gives each task to.
    adjudicators : handles (Label Studio usernames) whose annotations decide a task's items and
        stay out of agreement; None: the sample's adjudicator when the bundled sample
        annotations are used, else none.
    log : called with one line per stage (the CLI prints them).

    Raises
    ------
    DatasetBuilderError
        Whatever a stage raises; the stages before it have written their outputs.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    schema = load_schema(config)
    connection, report = _connect(connection, out, data_dir=data_dir, port=port, log=log)
    arts, articles_path = _run_ingest(articles, out, report, log)
    segments_path = _run_segment(articles_path, out, report, log)
    if adjudicators is None:
        is_sample_annotations = annotations is not None and Path(annotations).resolve() == SAMPLE_ANNOTATIONS.resolve()
        adjudicators = (SAMPLE_ADJUDICATOR,) if is_sample_annotations else ()
    _run_push(connection, segments_path, schema, project_title, articles_path, report, log, annotators=annotators)
    if annotations is not None:
        _run_annotations(connection, project_title, annotations, report, log)
    export_path = _run_pull(connection, project_title, out, report, log)
    norm_dir, norm_dict = _run_normalise(export_path, schema, out, report, log, adjudicators=tuple(adjudicators))
    gold, manifest = _run_split(norm_dir / "gold.jsonl", arts, Path(splits_dir) / "manifest.json", report, log)
    is_sample = Path(articles).resolve() == SAMPLE_ARTICLES.resolve()
    build_options = dict(version=version, normalise_report=norm_dict, description=SAMPLE_NOTE if is_sample else None,
                         articles=arts, annotations=splits.read_annotations(norm_dir / "annotations.jsonl"))
    dataset_dir = _run_build(gold, manifest, schema, out, report, log, **build_options)
    results = _run_benchmark(dataset_dir, out / "results", report, log, resamples=resamples)
    _run_build(gold, manifest, schema, out, report, log, results=results, **build_options)  # the card with the baselines
    if card_path is not None:
        _copy_card(dataset_dir, Path(card_path))
        report.paths["card"] = Path(card_path)
    return report


# Each step below runs one stage on the outputs of the one before, records its counts in
# ``report.stages`` and its outputs in ``report.paths``, and logs one line.


def _connect(
    connection: label_studio.Connection | None, out: Path, *, data_dir: str | Path, port: int, log: Log
) -> tuple[label_studio.Connection, RunReport]:
    """The Label Studio to use (``connection``, or a local server started or reused) and the report."""
    if connection is not None:
        return connection, RunReport(out, connection.url, "", None)
    server = label_studio.start_server(data_dir, port=port)
    connection = server.connection()
    report = RunReport(out, server.url, server.username, server.password_file)
    log(f"label studio: {'reusing' if server.reused else 'started'} {server.url} (data in {server.data_dir})")
    return connection, report


def _run_ingest(articles: str | Path, out: Path, report: RunReport, log: Log) -> tuple[list[Article], Path]:
    articles_path = out / "articles.jsonl"
    arts, ingest_report = ingest.ingest([articles])
    write_jsonl(articles_path, (a.to_dict() for a in arts))
    _save(out / "articles.report.json", ingest_report.to_dict())
    report.stages["ingest"] = {"read": ingest_report.read, "kept": ingest_report.kept, "rejected": len(ingest_report.rejected)}
    log(ingest_report.summary())
    return arts, articles_path


def _run_segment(articles_path: Path, out: Path, report: RunReport, log: Log) -> Path:
    segments_path = out / "segments.jsonl"
    seg_report = segment.segment_file(articles_path, segments_path)
    report.stages["segment"] = seg_report.to_dict()
    log(seg_report.summary())
    return segments_path


def _run_push(
    connection: label_studio.Connection,
    segments_path: Path,
    schema: LabelSchema,
    project_title: str,
    articles_path: Path,
    report: RunReport,
    log: Log,
    *,
    annotators: int,
) -> None:
    push = label_studio.push_segments(
        connection, segments_path, schema, project_title=project_title, articles=articles_path, annotators=annotators
    )
    report.stages["push"] = push.to_dict()
    log(
        f"push: read {push.read}, already in Label Studio {push.already_present}, imported {push.imported}, "
        f"rejected {push.rejected} -> project {push.project_id} {push.project_title!r} ({annotators} annotator(s) per task)"
    )


def _run_annotations(
    connection: label_studio.Connection, project_title: str, annotations: str | Path, report: RunReport, log: Log
) -> None:
    sub = label_studio.submit_export_annotations(connection, project_title, annotations)
    report.stages["annotations"] = sub
    log(
        f"sample annotations: read {sub['read']}, submitted {sub['submitted']}, already there "
        f"{sub['already_present']}, no matching task {sub['no_task']}"
    )


def _run_pull(connection: label_studio.Connection, project_title: str, out: Path, report: RunReport, log: Log) -> Path:
    pulled = label_studio.pull_export(connection, project_title, out_dir=out / "exports")
    report.stages["pull"] = {"tasks": pulled.task_count, "annotations": pulled.annotation_count}
    report.paths["export"] = pulled.export_path
    log(f"pull: {pulled.task_count} tasks, {pulled.annotation_count} annotations -> {pulled.export_path}")
    return pulled.export_path


def _run_normalise(
    export_path: Path, schema: LabelSchema, out: Path, report: RunReport, log: Log, *, adjudicators: tuple[str, ...]
) -> tuple[Path, dict[str, Any]]:
    norm_dir = out / "normalised"
    norm = normalise.normalise_export(export_path, schema, norm_dir, adjudicators=adjudicators)
    norm_dict = norm.to_dict()
    report.stages["normalise"] = {"tasks": norm_dict["tasks"], "annotations": norm_dict["annotations"]}
    log(
        "normalise: " + "; ".join(
            f"{what} read {norm_dict[what]['read']}, kept {norm_dict[what]['kept']}, rejected "
            f"{sum(norm_dict[what]['rejected'].values())}" + _reasons(norm_dict[what]['rejected'])
            for what in ("tasks", "annotations", "results")
        ) + f" -> {norm_dir}"
    )
    return norm_dir, norm_dict


def _run_split(
    gold_path: Path, arts: list[Article] | None, manifest_path: Path, report: RunReport, log: Log
) -> tuple[list[Annotation], SplitManifest]:
    """Split the gold data, keeping the articles of the manifest at ``manifest_path`` where they are."""
    gold = splits.read_gold(gold_path)
    previous = splits.read_manifest(manifest_path) if manifest_path.exists() else None
    split_result = splits.assign_splits(gold, arts, previous=previous)
    splits.write_manifest(split_result.manifest, manifest_path)
    report.stages["split"] = split_result.report.to_dict()
    report.paths["splits"] = manifest_path
    sr = split_result.report
    log(
        f"split: {sr.articles_read} articles, {sr.segments_read} segments; articles per split "
        + ", ".join(f"{k} {v}" for k, v in sr.articles.items())
        + f"; held out {sum(sr.held_out.values())}; near-duplicate clusters {sr.near_duplicate_clusters}"
        + f"; kept from previous manifest {sr.kept_from_previous} -> {manifest_path}"
    )
    return gold, split_result.manifest


def _run_build(
    gold: list[Annotation],
    manifest: SplitManifest,
    schema: LabelSchema,
    out: Path,
    report: RunReport,
    log: Log,
    *,
    version: str,
    normalise_report: dict[str, Any],
    description: str | None,
    articles: list[Article],
    annotations: list[Annotation],
    results: dict[str, Any] | None = None,
) -> Path:
    """Build the dataset (with the benchmark's ``results`` in the card when given: the second build)."""
    dataset_dir = out / "dataset"
    built = build.build_dataset(
        gold,
        manifest,
        schema,
        dataset_dir,
        version=version,
        normalise_report=normalise_report,
        pretty_name="News entities and stance (bundled sample)",
        description=description,
        articles=articles,
        annotations=annotations,
        results=results,
    )
    report.stages["build"] = {"ner_rows": dict(built.ner_rows), "stance_rows": dict(built.stance_rows), "fingerprint": built.fingerprint}
    report.paths["dataset"] = dataset_dir
    log(f"build: ner rows {dict(built.ner_rows)}, stance rows {dict(built.stance_rows)} -> {dataset_dir}"
        + ("" if results is None else " (card with the baseline results)"))
    for warning in built.warnings if results is None else ():
        log(f"build warning: {warning}")
    return dataset_dir


def _run_benchmark(dataset_dir: Path, results_dir: Path, report: RunReport, log: Log, *, resamples: int) -> dict[str, Any]:
    results = baselines.run_benchmark(dataset_dir, results_dir, resamples=resamples)
    report.leaderboard = baselines.leaderboard_markdown(results)
    report.paths["results"] = results_dir / "results.json"
    report.paths["leaderboard"] = results_dir / "leaderboard.md"
    log(f"benchmark: {len(results['baselines'])} baselines trained and scored on {results['eval_split']} -> {results_dir}")
    for warning in results["warnings"]:
        log(f"benchmark warning: {warning}")
    return results


SAMPLE_NOTE = (
    "A tiny sample built from the two bundled wire stories, annotated by two annotators (alex and sam) "
    "who disagree in places; an adjudicator decided what they disputed. It exists to show the pipeline end to end: it is far too small for its "
    "scores to mean anything statistically."
)


def _reasons(counts: dict[str, int]) -> str:
    return f" ({', '.join(f'{k}: {v}' for k, v in counts.items())})" if counts else ""


def _save(path: Path, data: dict[str, Any]) -> None:
    write_json(path, data)


def _copy_card(dataset_dir: Path, card_path: Path) -> None:
    """Copy the dataset card next to the repository's README, with its plot beside it."""
    card_path.parent.mkdir(parents=True, exist_ok=True)
    text = (dataset_dir / "DATASET_CARD.md").read_text(encoding="utf-8")
    plot = dataset_dir / build.PLOT_NAME
    if plot.exists():
        target = card_path.parent / "docs" / build.PLOT_NAME
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(plot, target)
        text = text.replace(f"]({build.PLOT_NAME})", f"](docs/{build.PLOT_NAME})")
    card_path.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------------------------
# The team's loop: what waits for adjudication (with links into Label Studio), and the status
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DisputedTask:
    """One task with items the annotators disputed: its link and what is disputed, in words."""

    task_id: int
    segment_id: str
    link: str
    items: tuple[dict[str, Any], ...]

    def lines(self) -> list[str]:
        return [describe_disputed(item) for item in self.items]

    def to_dict(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "segment_id": self.segment_id, "link": self.link,
                "disputed": self.lines(), "items": [dict(i) for i in self.items]}


@dataclass(frozen=True)
class AdjudicationReport:
    """What ``adjudicate`` found and prepared: the tab, the disputed tasks, where the snapshot went."""

    project_title: str
    project_id: int
    view_id: int
    view_action: str
    tab_link: str
    adjudicators: tuple[str, ...]
    export_path: Path
    tasks: tuple[DisputedTask, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"project_title": self.project_title, "project_id": self.project_id, "view": self.view_id,
                "view_title": label_studio.VIEW_TITLE, "view_action": self.view_action, "tab": self.tab_link,
                "adjudicators": list(self.adjudicators), "export": str(self.export_path),
                "tasks_disputed": len(self.tasks), "items_disputed": sum(len(t.items) for t in self.tasks),
                "tasks": [t.to_dict() for t in self.tasks]}

    def summary(self) -> str:
        n_items = sum(len(t.items) for t in self.tasks)
        head = (f"project {self.project_title!r} (id {self.project_id}): {len(self.tasks)} task(s) with "
                f"{n_items} disputed item(s); Data Manager tab {label_studio.VIEW_TITLE!r} {self.view_action}: "
                f"{self.tab_link}")
        lines = [head]
        for task in self.tasks:
            lines += ["", f"task {task.task_id} (segment {task.segment_id}): {task.link}"]
            lines += [f"  - {line}" for line in task.lines()]
        who = ", ".join(self.adjudicators) if self.adjudicators else "the adjudicator"
        lines += ["", f"To resolve: {who} logs in, opens each link, presses '+' (or duplicates one annotator's "
                  "version), fixes it and submits. Then normalise with --adjudicator HANDLE (or run adjudicate "
                  "again: resolved tasks leave the tab)." if self.tasks else "Nothing waits for adjudication."]
        return "\n".join(lines) + "\n"


def describe_disputed(item: Mapping[str, Any]) -> str:
    """One line of plain words for an item of ``unresolved.jsonl``."""
    where = f"\"{item.get('text', '')}\" [{item.get('start')}, {item.get('end')})"
    voters = item.get("voters")
    if item.get("kind") == "entity":
        return (f"entity {where} as {item.get('label')}: marked by {item.get('votes')} of {voters} annotators")
    votes = item.get("votes") or {}
    given = ", ".join(f"{label} {count}" for label, count in sorted(votes.items())) if isinstance(votes, dict) else votes
    return f"stance toward {where}: {given or 'no votes'} (of {voters} annotators)"


def _read_jsonl_lines(path: Path) -> list[dict[str, Any]]:
    return [row for _, row in read_jsonl(path)] if path.exists() else []


def _pull_and_normalise(connection: label_studio.Connection, project_title: str, out: Path, config: Any,
                        adjudicators: Sequence[str]) -> tuple[Path, Path, Any, Any]:
    """Pull the project into ``out/exports`` and normalise the snapshot into ``out/normalised``;
    returns ``(export path, normalised folder, normalise report, labelling schema)``."""
    pulled = label_studio.pull_export(connection, project_title, out_dir=out / "exports")
    snapshot = normalise.find_snapshot(pulled.export_path)
    schema = snapshot.schema(config)
    norm_dir = out / "normalised"
    report = normalise.normalise_export(pulled.export_path, schema, norm_dir, adjudicators=tuple(adjudicators))
    return pulled.export_path, norm_dir, report, schema


def adjudicate(connection: label_studio.Connection, project_title: str, *, out_dir: str | Path = "out/adjudicate",
               config: str | Path | None = None, adjudicators: Sequence[str] = ()) -> AdjudicationReport:
    """List and prepare what needs adjudication: pull, normalise, the Data Manager tab, links.

    Writes ``adjudication.json`` and ``adjudication.txt`` (the same list, for a person) under
    ``out_dir`` beside the snapshot (``exports/``) and its normalised files (``normalised/``).
    Idempotent: the tab is refreshed in place, and the same annotations give the same list.
    """
    out = Path(out_dir)
    export_path, norm_dir, _report, _schema = _pull_and_normalise(connection, project_title, out, config, adjudicators)
    by_task: dict[int, list[dict[str, Any]]] = {}
    segment_of: dict[int, str] = {}
    for item in _read_jsonl_lines(norm_dir / "unresolved.jsonl"):
        tid = int(item["task_id"])
        segment_of[tid] = str(item.get("segment_id", ""))
        by_task.setdefault(tid, []).append({k: v for k, v in item.items() if k not in ("task_id", "segment_id")})
    view = label_studio.prepare_view(connection, project_title, by_task)
    tasks = tuple(DisputedTask(tid, segment_of[tid], view.link(tid), tuple(by_task[tid])) for tid in sorted(by_task))
    report = AdjudicationReport(project_title, view.project_id, view.view_id, view.action, view.tab_link,
                                tuple(adjudicators), export_path, tasks)
    write_json(out / "adjudication.json", report.to_dict())
    (out / "adjudication.txt").write_text(report.summary(), encoding="utf-8")
    return report


@dataclass(frozen=True)
class StatusReport:
    """Where a project stands, for the team lead (see :func:`team_status`)."""

    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.data

    def summary(self) -> str:
        d = self.data
        lines = [f"project {d['project_title']!r} (id {d['project_id']}), {d['annotators_per_task']} annotator(s) "
                 f"per task: {d['tasks_done']} of {d['tasks']} tasks done, {d['tasks_started']} started, "
                 f"{d['tasks_waiting']} waiting for adjudication ({d['items_waiting']} disputed item(s))", ""]
        rows = [("annotator", "role", "annotations", "cancelled", "empty", "median lead time (s)")]
        for role, people in (("annotator", d["annotators"]), ("adjudicator", d["adjudicators"]),
                             ("gold source", d["gold_sources"])):
            for handle, c in sorted(people.items()):
                lead = c.get("median_lead_time")
                rows.append((handle, role, str(c.get("annotations", 0)), str(c.get("cancelled", 0)),
                             str(c.get("empty", 0)), "-" if lead is None else f"{lead:g}"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
        lines += ["", "agreement so far (adjudicators and gold sources left out):"]
        lines += [f"  {line}" for line in d["agreement"]] or ["  not measured yet (no task has two annotators)"]
        lines += ["", "model help (predicted items the annotators kept, relabelled, moved, deleted; items they added):"]
        lines += [f"  {line}" for line in model_help_lines(d.get("model_help") or {})] or ["  no prediction compared yet"]
        return "\n".join(lines) + "\n"


def model_help_lines(help_: Mapping[str, Any]) -> list[str]:
    """The normalise report's ``model_help``, one line per model version and kind, in words."""
    out = []
    for version, row in sorted(help_.items()):
        for kind in ("entities", "stances"):
            c = row.get(kind) or {}
            if not any(c.get(o) for o in ("kept", "relabelled", "moved", "deleted", "added")):
                continue
            share = "" if c.get("kept_share") is None else f" (kept share {c['kept_share']})"
            moved = f", moved {c.get('moved', 0)}" if kind == "entities" else ""
            out.append(f"{version}, {kind} over {row.get('annotations', 0)} annotation(s): kept {c.get('kept', 0)}, "
                       f"relabelled {c.get('relabelled', 0)}{moved}, deleted {c.get('deleted', 0)}, "
                       f"added {c.get('added', 0)}{share}")
    return out


def _agreement_lines(agreement: Mapping[str, Any]) -> list[str]:
    """The normalise report's agreement, in words: overall measures, then per label."""
    out = []
    ents = (agreement.get("entities") or {}).get("pairwise_f1") or []
    for pair in ents:
        out.append(f"entities, span F1 {pair['a']} vs {pair['b']}: {pair['f1']} over {pair['tasks']} task(s)")
    stance = agreement.get("stance") or {}
    if stance.get("krippendorff_alpha") is not None:
        out.append(f"stance, Krippendorff's alpha: {stance['krippendorff_alpha']} over {stance.get('units')} unit(s)")
    for row in agreement.get("per_label") or []:
        if not row.get("n"):
            continue
        value = "-" if row.get("value") is None else row["value"]
        out.append(f"{row['kind']} {row['label']}, {row['measure']}: {value} (n {row.get('n')})")
    return out


def team_status(connection: label_studio.Connection, project_title: str, *, out_dir: str | Path = "out/status",
                config: str | Path | None = None, adjudicators: Sequence[str] = ()) -> StatusReport:
    """Tasks done out of total, each annotator's counts and lead times, agreement, what waits for adjudication.

    A task is done when as many different annotators as the project gives each task to (not
    counting adjudicators and gold sources) submitted one; it waits for adjudication while
    normalise leaves some of its items unresolved. Reads a fresh pull, normalised under ``out_dir``.
    """
    out = Path(out_dir)
    overview = label_studio.project_overview(connection, project_title)
    _export, norm_dir, report, _schema = _pull_and_normalise(connection, project_title, out, config, adjudicators)
    rep = report.to_dict()
    decisive = set(rep.get("adjudicators") or {}) | set(rep.get("gold_sources") or {})
    voters: dict[int, set[str]] = {}
    for row in _read_jsonl_lines(norm_dir / "annotations.jsonl"):
        if row.get("ground_truth") or row.get("adjudicator") or row.get("annotator") in decisive:
            continue
        voters.setdefault(int(row["task_id"]), set()).add(str(row.get("annotator")))
    waiting = _read_jsonl_lines(norm_dir / "unresolved.jsonl")
    need = overview["annotators_per_task"]
    data = {
        "project_title": overview["title"], "project_id": overview["id"], "annotators_per_task": need,
        "tasks": rep["tasks"]["read"], "tasks_done": sum(1 for v in voters.values() if len(v) >= need),
        "tasks_started": sum(1 for v in voters.values() if 0 < len(v) < need),
        "tasks_waiting": len({int(u["task_id"]) for u in waiting}), "items_waiting": len(waiting),
        "annotators": rep.get("annotators") or {}, "adjudicators": rep.get("adjudicators") or {},
        "gold_sources": rep.get("gold_sources") or {}, "agreement": _agreement_lines(rep.get("agreement") or {}),
        "agreement_measures": rep.get("agreement") or {},
        "model_help": rep.get("model_help") or {},
    }
    return StatusReport(data)


# --------------------------------------------------------------------------------------------
# The round a team lead runs after a day of annotation: the model learns, the stream re-orders
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoundReport:
    """What :func:`annotation_round` did, stage by stage (``stages``) and where it wrote (``paths``)."""

    stages: dict[str, dict[str, Any]]
    paths: dict[str, Path]

    def to_dict(self) -> dict[str, Any]:
        return {"stages": self.stages, "paths": {k: str(v) for k, v in self.paths.items()}}

    def summary(self) -> str:
        pushed = self.stages["push_predictions"]
        order = (f"the stream now hands out the lowest scores of {pushed['model_version']} first"
                 if pushed["order_set"] else "the stream's order was already this model's")
        return (f"round: {self.stages['predict']['rows']} task(s) left, {pushed['attached']} new prediction(s) "
                f"({pushed['already_there']} already there); {order}.\n")


def annotation_round(connection: label_studio.Connection, project_title: str, *, out_dir: str | Path = "out/round",
                     splits_dir: str | Path = "splits", articles: str | Path | None = None,
                     config: str | Path | None = None, adjudicators: Sequence[str] = (), version: str = "0.1.0",
                     resamples: int = 1000, ner: str | None = predict.DEFAULT_NER,
                     stance: str | None = predict.DEFAULT_STANCE, log: Log = lambda line: None) -> RoundReport:
    """Pull, normalise, split, build, train the baselines, predict on the tasks not done yet, push those
    predictions and order the stream by their scores (most informative first).

    Writes under ``out_dir``: the snapshot, ``normalised/``, ``dataset/``, ``results/``,
    ``predictions.jsonl`` and ``round.json``; the split manifest stays in ``splits_dir`` (articles
    never move). Idempotent: with no new annotation the dataset, the models' ``model_version`` (it
    names the dataset fingerprint) and so the predictions are the same, and Label Studio's tasks,
    predictions and settings are left as they are (pull still makes its export snapshot there).
    """
    out = Path(out_dir)
    report = RunReport(out, connection.url, "", None)
    export_path, norm_dir, norm, schema = _pull_and_normalise(connection, project_title, out, config, adjudicators)
    norm_dict = norm.to_dict()
    report.stages["normalise"] = {"tasks": norm_dict["tasks"], "annotations": norm_dict["annotations"],
                                  "model_help": norm_dict.get("model_help") or {}}
    log(f"pull + normalise: {norm_dict['tasks']['read']} tasks, {norm_dict['annotations']['kept']} annotation(s) kept "
        f"-> {norm_dir}")
    arts = splits.read_articles(articles) if articles is not None else None
    gold, manifest = _run_split(norm_dir / "gold.jsonl", arts, Path(splits_dir) / "manifest.json", report, log)
    build_options = dict(version=version, normalise_report=norm_dict, description=None, articles=arts,
                         annotations=splits.read_annotations(norm_dir / "annotations.jsonl"))
    dataset_dir = _run_build(gold, manifest, schema, out, report, log, **build_options)
    results = _run_benchmark(dataset_dir, out / "results", report, log, resamples=resamples)
    _run_build(gold, manifest, schema, out, report, log, results=results, **build_options)
    predicted = predict.predict_project(connection, project_title, out / "results", schema, out / "predictions.jsonl",
                                        ner=ner, stance=stance)
    report.stages["predict"] = predicted.to_dict()
    report.paths["predictions"] = predicted.path
    log(predicted.summary())
    rows = [row for _, row in read_jsonl(predicted.path)]
    pushed = label_studio.push_predictions(connection, project_title, schema, rows, model_version=predicted.model_version)
    report.stages["push_predictions"] = pushed.to_dict()
    log(f"push predictions: {pushed.attached} attached, {pushed.already_there} already there, {pushed.no_task} without "
        f"a task; order {'set' if pushed.order_set else 'unchanged'} (model_version {pushed.model_version})")
    done = RoundReport(report.stages, report.paths)
    write_json(out / "round.json", done.to_dict())
    return done
