"""The whole chain on embedded defaults: what ``dataset-builder run`` does.

Input
    A folder of articles (default: the bundled ``data/sample_articles``), a labelling config
    (default ``entities_stance``), and optionally an export of annotations made earlier
    (default: the bundled ``data/sample_annotations/export.json``, two annotators) that is
    brought into the local server as those annotators' submissions.
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
from typing import Any, Callable

from . import baselines, build, ingest, label_studio, normalise, segment, splits
from .jsonl import write_json, write_jsonl
from .records import Annotation, Article, SplitManifest
from .schema import LabelSchema, load_schema

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_ARTICLES = REPO_ROOT / "data" / "sample_articles"
SAMPLE_ANNOTATIONS = REPO_ROOT / "data" / "sample_annotations" / "export.json"
DEFAULT_CONFIG = "entities_stance"
DEFAULT_PROJECT = "News sample: entities and stance"

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
    _run_push(connection, segments_path, schema, project_title, articles_path, report, log)
    if annotations is not None:
        _run_annotations(connection, project_title, annotations, report, log)
    export_path = _run_pull(connection, project_title, out, report, log)
    norm_dir, norm_dict = _run_normalise(export_path, schema, out, report, log)
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
) -> None:
    push = label_studio.push_segments(
        connection, segments_path, schema, project_title=project_title, articles=articles_path
    )
    report.stages["push"] = push.to_dict()
    log(
        f"push: read {push.read}, already in Label Studio {push.already_present}, imported {push.imported}, "
        f"rejected {push.rejected} -> project {push.project_id} {push.project_title!r}"
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
    export_path: Path, schema: LabelSchema, out: Path, report: RunReport, log: Log
) -> tuple[Path, dict[str, Any]]:
    norm_dir = out / "normalised"
    norm = normalise.normalise_export(export_path, schema, norm_dir)
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
    gold_path: Path, arts: list[Article], manifest_path: Path, report: RunReport, log: Log
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
    "who disagree in places. It exists to show the pipeline end to end: it is far too small for its "
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
