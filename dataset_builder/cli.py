"""Command-line interface: one thin sub-command per pipeline stage.

Each command parses options, calls one library function and prints its report. Domain errors
(:class:`~dataset_builder.errors.DatasetBuilderError`) become one line on stderr and exit code 1;
nothing else is caught, so a real bug still shows its traceback.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager

import click

from . import __version__
from .errors import DatasetBuilderError


class _Group(click.Group):
    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except DatasetBuilderError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="dataset-builder")
def cli() -> None:
    """Turn news articles into an annotated, versioned HuggingFace dataset with baselines.

    \b
    The whole chain on the bundled sample (starts a local Label Studio):
      run        ingest -> segment -> push -> sample annotations -> pull -> normalise
                 -> split -> build -> benchmark, printing each stage's counts

    \b
    Stages (each a sub-command, each usable on its own):
      ingest     articles (.txt folder, JSONL, CSV) -> articles.jsonl + report
      segment    articles.jsonl -> segments.jsonl (sentences, paragraphs, windows)
      serve/stop a local Label Studio (SQLite in .ls-data, 127.0.0.1:8080)
      push       segments.jsonl -> Label Studio tasks (idempotent, resumable)
      import-corpus  an annotated corpus (CoNLL, NewsMTSC, SemEval-2016 stance) -> articles,
                 segments and tasks carrying its labels as annotations or pre-annotations
      pull       Label Studio project -> raw export snapshot + manifest
      normalise  export.json -> per-annotator + gold annotations, agreement, report
      split      gold.jsonl -> splits/manifest.json (by article, near-duplicates together, stable)
      build      gold.jsonl + manifest -> HuggingFace dataset folder (ner, stance, annotations) + card
      score      predictions JSONL + dataset split -> metrics JSON/markdown with 95% CIs
      benchmark  dataset -> baselines, predictions, results.json, leaderboard.md (+ CI gate)
      publish    dataset -> a Hub dataset folder (README + parquet), uploaded with --repo-id
    """


def _progress(desc: str, unit: str = "it"):
    """A tqdm wrapper for long loops: on stderr, silent when stderr is not a terminal."""
    from tqdm import tqdm

    return lambda iterable: tqdm(iterable, desc=desc, unit=unit, disable=None, file=sys.stderr)


@contextmanager
def _phases(desc: str, total: int):
    """A tqdm bar of named steps on stderr: yields ``phase(name)``, which shows the name and advances."""
    from tqdm import tqdm

    with tqdm(total=total, desc=desc, unit="step", disable=None, file=sys.stderr) as bar:
        yield lambda name: (bar.set_postfix_str(name), bar.update(1))


def _write_report(path, report: dict) -> None:
    from .jsonl import write_json

    write_json(path, report)


@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Articles JSONL to write.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False),
    help="Where to write the JSON report (default: OUTPUT with .report.json).",
)
@click.option(
    "--rules",
    type=click.Path(exists=True, dir_okay=False),
    help="JSON list of boilerplate rules {name, pattern, scope} used instead of the built-in ones.",
)
@click.option("--no-boilerplate", is_flag=True, help="Keep every line: apply no boilerplate rule.")
@click.option("--strict", is_flag=True, help="Exit non-zero if any row was rejected (the output is still written).")
def ingest(inputs, output, report_path, rules, no_boilerplate, strict):
    """Read news articles and write them as clean, id'd JSONL.

    INPUTS are .txt files (one article each), folders of .txt files, .jsonl files (one
    {"text", "id"?, "title"?, "date"?, "source"?, "url"?} object per line) or .csv files with
    the same columns. Text is decoded (UTF-8, or cp1252 with a warning), normalised to NFC with
    \\n line ends, and boilerplate lines (gallery links, bylines, share widgets) are removed and
    listed in the report. Ids are the given id or a hash of the clean text, so they are stable.
    Rows that cannot become an article are rejected with a reason: kept + rejected = read.

    \b
    Example:
      dataset-builder ingest data/sample_articles -o out/articles.jsonl
    """
    from . import ingest as ingest_mod
    from .jsonl import write_jsonl

    if no_boilerplate and rules:
        raise click.UsageError("--rules and --no-boilerplate exclude each other; pick one.")
    chosen = () if no_boilerplate else ingest_mod.load_rules(rules) if rules else ingest_mod.DEFAULT_RULES
    articles, report = ingest_mod.ingest(inputs, rules=chosen, progress=_progress("ingest", "article"))
    write_jsonl(output, (a.to_dict() for a in articles))
    report_path = report_path or str(output).removesuffix(".jsonl") + ".report.json"
    _write_report(report_path, report.to_dict())
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    for rejection in report.rejected:
        click.echo(f"rejected ({rejection.reason}): {rejection.detail}", err=True)
    click.echo(f"{report.summary()} -> {output} (report: {report_path})", err=True)
    if strict and report.rejected:
        raise click.exceptions.Exit(1)


@cli.command("segment")
@click.argument("articles", type=click.Path(dir_okay=False, path_type=str))
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, writable=True, path_type=str),
              help="Segments JSONL to write (one Segment per line; overwritten).")
@click.option("--unit", type=click.Choice(["sentence", "paragraph", "window"]), default="sentence", show_default=True,
              help="sentence; paragraph (one non-blank line); window (--window sentences every --stride).")
@click.option("--window", type=click.IntRange(min=1), default=3, show_default=True,
              help="Sentences per window (--unit window only).")
@click.option("--stride", type=click.IntRange(min=1), default=1, show_default=True,
              help="Sentences between window starts, at most --window (--unit window only).")
def segment_cmd(articles: str, output: str, unit: str, window: int, stride: int) -> None:
    """Cut ARTICLES (JSONL from 'ingest') into segments with exact character offsets.

    Every output line is a segment: id, article_id, index, start, end, text, unit, where
    article.text[start:end] == text. Sentences never cross a line break, so a headline
    without a full stop is a sentence of its own. The output is replaced only when every
    article was read. A one-line report goes to stderr.

    \b
    Example:
      dataset-builder segment articles.jsonl -o segments.jsonl --unit window --window 3 --stride 2
    """
    from .segment import segment_file

    if stride > window:
        raise click.BadParameter(
            f"{stride} is more than --window {window}; use a stride of at most {window} so every sentence "
            "lands in a window.",
            param_hint="'--stride'",
        )
    report = segment_file(
        articles, output, unit=unit, window=window, stride=stride, progress=_progress("segment", "article")
    )
    for rejection in report.rejections:
        click.echo(f"rejected ({rejection.reason}): {rejection.source}: {rejection.detail}", err=True)
    click.echo(f"{report.summary()} -> {output}", err=True)


@cli.command("normalise")
@click.argument("export", type=click.Path(path_type=str))
@click.option("--config", "config", default=None,
              help="Labelling config the project used: an .xml path or a bundled name (entities_stance, ...). "
                   "Default: the one the snapshot's manifest.json names (required without one; another is refused).")
@click.option("-o", "--out", "out_dir", default="out/normalise", show_default=True, type=click.Path(file_okay=False),
              help="Folder for annotations.jsonl, gold.jsonl, rejections.jsonl, unresolved.jsonl, report.json/.txt.")
@click.option("--min-annotators", type=click.IntRange(min=1), default=1, show_default=True,
              help="Tasks with fewer annotators (and no ground-truth annotation) get no gold record.")
@click.option("--offsets", type=click.Choice(["auto", "codepoints", "utf16"]), default="auto", show_default=True,
              help="How value.start/end count: code points, UTF-16 units (JavaScript), or decided by value.text, "
                   "per annotation where a span proves it (auto).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes that normalise tasks in parallel (default: one per CPU, at most 4; exports under "
                   "8 MB always use one). The files are the same bytes whatever the number.")
def normalise_cmd(export: str, config: str | None, out_dir: str, min_annotators: int, offsets: str,
                  workers: int | None) -> None:
    """Turn EXPORT (Label Studio's JSON export, e.g. from 'pull') into per-annotator and gold annotations.

    EXPORT is an export file, a snapshot folder from 'pull' (exports/<project>/<time>-<sha>/) or a
    project folder (exports/<project>/: its latest snapshot, named on stderr). With the snapshot's
    manifest.json the config defaults to the one it names. Streams the export; offsets become
    Python code points of the segment text; value.text is a cross-check (spans are re-aligned when
    unambiguous, trimmed, or rejected with a reason). Gold: ground-truth annotations win, else a
    majority vote; ties are listed in unresolved.jsonl, never guessed. The report counts every
    task, annotation and result read as kept or rejected by reason, and gives agreement
    (Krippendorff's alpha, Cohen's kappa, span F1). The summary goes to stderr.

    \b
    Examples:
      dataset-builder normalise exports/news -o out/gold
      dataset-builder normalise exports/news/20240101T000000Z-abc/export.json --config entities_stance -o out/gold
    """
    from .normalise import find_snapshot, normalise_export

    snapshot = find_snapshot(export)
    schema = snapshot.schema(config)
    taken = snapshot.describe()
    if taken:
        click.echo(taken, err=True)
    if config is None:
        click.echo(f"normalise: config {schema.name} (named by {snapshot.manifest_path})", err=True)
    report = normalise_export(snapshot.export, schema, out_dir, min_annotators=min_annotators, offsets=offsets,
                              progress=True, workers=workers)
    click.echo(report.summary().rstrip("\n"), err=True)
    click.echo(f"-> {out_dir}", err=True)


@cli.command("split")
@click.argument("gold", type=click.Path(exists=True, dir_okay=False))
@click.option("--articles", type=click.Path(exists=True, dir_okay=False),
              help="articles.jsonl from 'ingest': full texts for near-duplicate detection "
                   "(default: each article's gold segments joined).")
@click.option("--out", "out_dir", default="splits", show_default=True, type=click.Path(file_okay=False),
              help="Folder of manifest.json. An existing manifest is honoured: its articles keep their split.")
@click.option("--ratios", default=None, help="train,validation,test shares  [default: 0.8,0.1,0.1, or the manifest's]")
@click.option("--salt", default=None, help="Salt of the placement hash  [default: dataset-builder, or the manifest's]")
@click.option("--near-dup-threshold", type=click.FloatRange(0, 1, min_open=True), default=0.7, show_default=True,
              help="Word 5-shingle Jaccard similarity from which two articles are near-duplicates.")
@click.option("--reassign", is_flag=True, help="Ignore the existing manifest and re-split from scratch (moves articles).")
@click.option("--check", is_flag=True, help="Only verify the existing manifest: exit 1 naming any article or "
                                            "near-duplicate cluster that crosses splits or is unassigned.")
@click.option("--dataset", "dataset_dir", type=click.Path(exists=True, file_okay=False),
              help="With --check: also verify the article ids in a folder written by 'build'.")
def split_cmd(gold, articles, out_dir, ratios, salt, near_dup_threshold, reassign, check, dataset_dir):
    """Assign the articles of GOLD (gold JSONL from 'normalise') to train/validation/test.

    Grouped by article (no article in two splits), near-duplicate articles (wire copies, found
    with MinHash over word shingles) kept in one split, stratified by stance label as far as whole
    groups allow, and stable: articles already in OUT/manifest.json never move. New articles are
    placed in the order of a salted hash of their id. The manifest lists the article ids per split,
    salt, ratios, the gold data hash, held-out articles and near-duplicate clusters.

    Articles pinned to an official split (meta "split", from 'import-corpus --split') go to that
    split, always; pass --articles for the pins to be seen. Near-duplicates across pinned splits
    are the corpus's own: listed (manifest "pinned_crossings"), not moved, and not a --check failure.

    \b
    Examples:
      dataset-builder split gold.jsonl --articles articles.jsonl --out splits
      dataset-builder split gold.jsonl --articles articles.jsonl --out splits --check --dataset dataset/
    """
    from pathlib import Path

    from . import splits as splits_mod

    manifest_path = Path(out_dir) / splits_mod.MANIFEST_NAME
    gold_records = splits_mod.read_gold(gold)
    article_records = splits_mod.read_articles(articles) if articles else None
    if check:
        result = splits_mod.check_splits(splits_mod.read_manifest(manifest_path), gold_records, article_records,
                                         dataset_dir=dataset_dir)
        for note in result.notes:
            click.echo(f"note: {note}", err=True)
        for problem in result.problems:
            click.echo(f"leak: {problem}", err=True)
        if result.problems:
            click.echo(f"split check failed: {len(result.problems)} problem(s) in {manifest_path}.", err=True)
            raise click.exceptions.Exit(1)
        official = sum(1 for n in result.notes if n.startswith("near-duplicate cluster crosses pinned splits"))
        crossing = (f"none crosses splits except {official} across pinned (official) splits, reported above"
                    if official else "none crosses splits")
        click.echo(f"split check passed: {result.articles_checked} articles, {result.clusters_found} near-duplicate "
                   f"cluster(s), {crossing} ({manifest_path}).", err=True)
        return
    previous = None if reassign or not manifest_path.exists() else splits_mod.read_manifest(manifest_path)
    with _phases("split", 3) as phase:
        result = splits_mod.assign_splits(
            gold_records,
            article_records,
            ratios=splits_mod.parse_ratios(ratios) if ratios else (previous.ratios if previous else splits_mod.DEFAULT_RATIOS),
            salt=salt if salt is not None else (previous.salt if previous else splits_mod.DEFAULT_SALT),
            near_duplicate_threshold=near_dup_threshold,
            previous=previous,
            progress=phase,
        )
    splits_mod.write_manifest(result.manifest, manifest_path)
    _write_report(Path(out_dir) / "split_report.json", result.report.to_dict())
    r = result.report
    for article_id, reason in r.held_out.items():
        click.echo(f"held out: {article_id}: {reason}", err=True)
    for c in r.pinned_crossings:
        click.echo(f"reported: near-duplicates across pinned (official) splits, not moved: "
                   f"{', '.join(c.articles)}", err=True)
    if sum(r.pinned.values()):
        click.echo("pinned (official split, meta split): " + ", ".join(f"{s} {n}" for s, n in r.pinned.items()),
                   err=True)
    click.echo(
        f"{r.articles_read} articles / {r.segments_read} segments -> "
        + ", ".join(f"{s} {r.articles[s]} / {r.segments[s]}" for s in r.articles)
        + f"; held out {len(r.held_out)}; near-duplicate clusters {r.near_duplicate_clusters}; "
        f"kept from previous manifest {r.kept_from_previous}, newly assigned {r.newly_assigned} -> {manifest_path}",
        err=True,
    )


@cli.command("build")
@click.argument("gold", type=click.Path(exists=True, dir_okay=False))
@click.option("--config", "config", required=True,
              help="Labelling config the annotations were made with: a bundled name or an .xml path.")
@click.option("--splits", "manifest", default="splits/manifest.json", show_default=True,
              type=click.Path(dir_okay=False), help="Split manifest written by 'split'.")
@click.option("-o", "--out", "out_dir", default="dataset", show_default=True, type=click.Path(file_okay=False),
              help="Dataset folder to write (parquet, README.md, DATASET_CARD.md, plot).")
@click.option("--normalise-report", type=click.Path(exists=True, dir_okay=False),
              help="JSON report of 'normalise': its agreement and rejected entries go into the card.")
@click.option("--version", "version", default="0.1.0", show_default=True, help="Dataset version (dataset_version.txt).")
@click.option("--name", "pretty_name", default=None, help="Dataset name shown in the card.")
@click.option("--description", default=None, help="Description paragraph of the card.")
@click.option("--license", "license_", default="unknown", show_default=True, help="Hub licence id, e.g. cc-by-4.0.")
@click.option("--citation", default=None, help="BibTeX entry for the card (default: a generated @misc stub).")
@click.option("--language", default="en", show_default=True, help="Language code for the card.")
@click.option("--articles", type=click.Path(exists=True, dir_okay=False), help="articles.jsonl: title/date/source/url on rows.")
@click.option("--annotations", type=click.Path(exists=True, dir_okay=False),
              help="normalise's per-annotator annotations.jsonl: the 'annotations' config and the card's annotators.")
@click.option("--results", type=click.Path(exists=True, dir_okay=False), help="benchmark's results.json for the card.")
def build_cmd(gold, config, manifest, out_dir, normalise_report, version, pretty_name, description, license_,
              citation, language, articles, annotations, results):
    """Build the HuggingFace dataset (configs 'ner' and 'stance') and its card from GOLD.

    Writes OUT/ner/{train,validation,test}.parquet, OUT/stance/..., README.md (YAML header so that
    datasets.load_dataset(OUT, "ner") works offline), DATASET_CARD.md, label_distribution.png and
    dataset_version.txt. Features are declared from the config's labels (ner_tags: BIO ClassLabel;
    label: stance ClassLabel). The same inputs give byte-identical parquet files.

    \b
    Example:
      dataset-builder build gold.jsonl --config entities_stance --splits splits/manifest.json -o dataset
    """
    from .build import build_dataset
    from .jsonl import read_json_object
    from .schema import load_schema
    from .splits import read_annotations, read_articles, read_gold, read_manifest

    schema = load_schema(config)
    split_manifest = read_manifest(manifest)
    report_data = read_json_object(normalise_report, "pass the report 'normalise' wrote.") if normalise_report else None
    results_data = read_json_object(results, "pass the results.json 'benchmark' wrote.") if results else None
    gold_records = read_gold(gold)
    with _phases("build", 8) as phase:
        report = build_dataset(gold_records, split_manifest, schema, out_dir, version=version,
                               normalise_report=report_data, pretty_name=pretty_name, description=description,
                               license=license_, citation=citation, language=language, progress=phase,
                               articles=read_articles(articles) if articles else None, results=results_data,
                               annotations=read_annotations(annotations) if annotations else None)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(report.summary(), err=True)


@cli.command("score")
@click.argument("dataset_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("predictions", type=click.Path(exists=True, dir_okay=False))
@click.option("--config", default="ner", show_default=True, help="Dataset config: ner or stance.")
@click.option("--split", default="test", show_default=True, help="Split to score against.")
@click.option("--mode", type=click.Choice(["conlleval", "strict"]), default="conlleval", show_default=True,
              help="NER entity rules: conlleval (I- after O starts an entity; IOB1/IOB2) or strict (only B-/S- start).")
@click.option("--alignment", type=click.Choice(["strict", "contract", "expand"]), default="strict", show_default=True,
              help="NER spans whose offsets fall inside a token: reject, shrink to whole tokens, or grow to them.")
@click.option("--favor", "favor_label", default="favor", show_default=True, help="Stance class averaged in F_avg.")
@click.option("--against", "against_label", default="against", show_default=True, help="Stance class averaged in F_avg.")
@click.option("--resamples", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Article bootstrap resamples for the 95% CIs (0: none).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Bootstrap seed.")
@click.option("--compare", "compare_with", type=click.Path(exists=True, dir_okay=False),
              help="Second predictions file: paired bootstrap comparison against it.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the JSON report here.")
@click.option("--markdown", "md_path", type=click.Path(dir_okay=False), help="Write the markdown table here.")
def score(dataset_dir, predictions, config, split, mode, alignment, favor_label, against_label, resamples, seed,
          compare_with, json_path, md_path):
    """Score predictions against a dataset split (metrics, 95% CIs).

    \b
    Predictions, one JSON object per line:
      stance  {"id": "<row id>", "label": "favor"}
      ner     {"id": "<segment id>", "tags": ["O", "B-PER", ...]}   (one tag per dataset token)
          or  {"id": "<segment id>", "spans": [{"start": 0, "end": 5, "label": "PER"}]}
    Every gold id must be predicted exactly once. Stance: accuracy, macro-F1, F_avg, per-class
    scores, confusion matrix. NER: entity-level micro and per-type P/R/F1 as conlleval computes
    them. 95% CIs by bootstrap over articles with a fixed seed. Without --json/--markdown the
    markdown goes to stdout; identical inputs give identical bytes.

    \b
    Example:
      dataset-builder score dataset/ preds.jsonl --config ner --json scores.json
    """
    from pathlib import Path

    from .scoring import format_metric, report_to_json, report_to_markdown, score_predictions

    report = score_predictions(dataset_dir, predictions, config=config, split=split, mode=mode, alignment=alignment,
                               favor_label=favor_label, against_label=against_label, resamples=resamples, seed=seed,
                               compare_with=compare_with)
    markdown = report_to_markdown(report)
    for path, text in ((json_path, report_to_json(report)), (md_path, markdown)):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text, encoding="utf-8")
    if not json_path and not md_path:
        click.echo(markdown, nl=False)
    else:
        click.echo(f"{report['task']} {split}: {report['primary_metric']} = {format_metric(report['primary_value'])}", err=True)


@cli.command("benchmark")
@click.argument("dataset_dir", type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--output-dir", default="results", show_default=True, type=click.Path(file_okay=False),
              help="Where models/, predictions/, results.json and leaderboard.md go.")
@click.option("--config", "configs", multiple=True,
              help="Dataset config to run (repeat for several; default: ner and stance, those present).")
@click.option("--train-split", default="train", show_default=True)
@click.option("--eval-split", default="test", show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the models and the bootstrap.")
@click.option("--resamples", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Article bootstrap resamples for the 95% CIs.")
@click.option("--compare", "compare_path", type=click.Path(exists=True, dir_okay=False),
              help="Previous results.json: exit 1 if a baseline drops below its previous CI or the data changed "
                   "without a version bump.")
def benchmark(dataset_dir, output_dir, configs, train_split, eval_split, seed, resamples, compare_path):
    """Train the baselines, score them, and write the leaderboard.

    \b
    Baselines: stance majority and TF-IDF + LogisticRegression; NER majority, memorisation and a
    CRF on hand-made features. Writes OUTPUT_DIR/models/*.skops, OUTPUT_DIR/predictions/*.jsonl,
    OUTPUT_DIR/results.json and OUTPUT_DIR/leaderboard.md.

    \b
    As a CI gate:
      dataset-builder benchmark dataset/ -o results --compare previous/results.json
    exits 1, naming the baseline, when a score falls below its previous 95% CI, or when the
    dataset fingerprint changed but its version (dataset_version.txt or README `version`) did not.
    """
    from .baselines import compare_results, read_results, results_summary, run_benchmark

    previous = read_results(compare_path) if compare_path else None  # fail early on a bad file
    results = run_benchmark(dataset_dir, output_dir, configs=configs or None, train_split=train_split, eval_split=eval_split,
                            seed=seed, resamples=resamples, progress=_progress("benchmark", "baseline"))
    click.echo(results_summary(results))
    for warning in results["warnings"]:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"leaderboard: {output_dir}/leaderboard.md, results: {output_dir}/results.json", err=True)
    if previous is not None:
        failures = compare_results(results, previous, source=str(compare_path))
        for failure in failures:
            click.echo(f"gate: {failure}", err=True)
        if failures:
            click.echo(f"benchmark gate failed ({len(failures)} problem(s)) against {compare_path}.", err=True)
            raise click.exceptions.Exit(1)
        click.echo(f"benchmark gate passed against {compare_path}.", err=True)


# ---- Label Studio: serve, stop, push, pull (dataset_builder.label_studio) ------------------

_DATA_DIR_HELP = "Folder of the local Label Studio started by 'serve' (SQLite, password and token files)."
_LS_CONFIG_HELP = ("TOML/JSON file with a [label_studio] table: url, api_key or api_key_file "
                   "(default: ./.dataset-builder.toml if present). LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY win.")


def _connection(ls_config, data_dir):
    from .label_studio import resolve_connection

    return resolve_connection(config_file=ls_config, data_dir=data_dir)


@cli.command("serve")
@click.option("--data-dir", default=".ls-data", show_default=True, type=click.Path(file_okay=False), help=_DATA_DIR_HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; keep 127.0.0.1 unless you mean it.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="TCP port (0: any free one).")
@click.option("--username", default="admin@localhost", show_default=True, help="E-mail of the first user (login name).")
@click.option("--timeout", default=120.0, show_default=True, type=click.FloatRange(min=1), help="Seconds to wait for the server.")
@click.option("--show-token", is_flag=True, help="Also print the API token (it is otherwise never printed).")
@click.option("--database", "database_url", envvar="DATASET_BUILDER_DATABASE", show_envvar=True,
              help="PostgreSQL: postgresql://USER@HOST:PORT/NAME (no password). Default: the one recorded in DATA_DIR, else SQLite.")
@click.option("--database-password-file", type=click.Path(exists=True, dir_okay=False),
              help="Its password, first line (else env DATASET_BUILDER_DB_PASSWORD, PGPASSWORD); kept only in DATA_DIR/pgpass.")
def serve_cmd(data_dir, host, port, username, timeout, show_token, database_url, database_password_file):
    """Start a local Label Studio in the background (or reuse the one already running).

    SQLite (or, with --database, only uploads and exports) and the secrets live in DATA_DIR. On
    first start a user, a random password and a random API token are created; password and token
    are stored in DATA_DIR (mode 0600) and never printed unless asked. 'push' and 'pull' find the
    server and its token there by themselves. Stop it with 'dataset-builder stop'.

    \b
    Example:
      dataset-builder serve && dataset-builder push segments.jsonl --config entities_stance
    """
    from .label_studio import database_from_options, start_server

    database = database_from_options(database_url, database_password_file)
    info = start_server(data_dir, host=host, port=port, username=username, timeout=timeout, database=database)
    state = "already running" if info.reused else "started"
    click.echo(f"Label Studio {state} at {info.url} (pid {info.pid}, data in {info.data_dir})")
    click.echo(f"database: {'SQLite, in the data folder' if info.database == 'sqlite' else info.database}")
    click.echo(f"log in as: {info.username}")
    click.echo(f"password:  in {info.password_file} (mode 0600; e.g. cat {info.password_file})")
    click.echo(f"API token: in {info.token_file} (push/pull read it from there; or export LABEL_STUDIO_API_KEY)")
    if show_token:
        click.echo(f"API token value: {info.api_key}")
    click.echo(f"stop it with: dataset-builder stop --data-dir {data_dir}")


@cli.command("stop")
@click.option("--data-dir", default=".ls-data", show_default=True, type=click.Path(file_okay=False), help=_DATA_DIR_HELP)
def stop_cmd(data_dir):
    """Stop the local Label Studio started by 'serve' (by its recorded pid). Data is kept."""
    from .label_studio import stop_server

    report = stop_server(data_dir)
    if report.was_running:
        how = " (had to be killed)" if report.killed else ""
        click.echo(f"stopped Label Studio pid {report.pid}{how}; data kept in {report.data_dir}")
    else:
        click.echo(f"no Label Studio running for {report.data_dir}")


@cli.command("push")
@click.argument("segments", type=click.Path(exists=True, dir_okay=False))
@click.option("--config", "config", required=True,
              help="Labelling config: a bundled name (entities_stance, entities, target_stance) or an .xml path.")
@click.option("--project-title", default=None, help="Project to create or reuse (default: the config name).")
@click.option("--articles", type=click.Path(exists=True, dir_okay=False),
              help="articles.jsonl to take each task's title and date from (by article_id).")
@click.option("--predictions", type=click.Path(exists=True, dir_okay=False),
              help="JSONL of pre-annotations, one per segment_id: {segment_id, entities, stances, score?} or {segment_id, result}.")
@click.option("--model-version", default=None, help="model_version of the pre-annotations (needed with --predictions).")
@click.option("--batch-size", default=5000, show_default=True, type=click.IntRange(min=1), help="Tasks per import request.")
@click.option("--retries", default=6, show_default=True, type=click.IntRange(min=0),
              help="Retries per request on connection errors and 5xx, with exponential back-off.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="Write the JSON report here.")
@click.option("--ls-config", type=click.Path(exists=True, dir_okay=False), help=_LS_CONFIG_HELP)
@click.option("--data-dir", default=None, type=click.Path(file_okay=False),
              help="Folder of the local server started by 'serve', to find its URL and token [default: .ls-data].")
def push_cmd(segments, config, project_title, articles, predictions, model_version, batch_size, retries, report_path,
             ls_config, data_dir):
    """Import SEGMENTS (JSONL from 'segment') as Label Studio tasks, once each.

    Creates the project from the config or reuses the one with that title. Segments whose
    segment_id the project already has are skipped, so pushing again, or after a crash or a
    lost connection, imports only what is missing. Exit code 1 when the server refused some tasks.

    \b
    Example:
      dataset-builder push out/segments.jsonl --config entities_stance --articles out/articles.jsonl
    """
    from tqdm import tqdm

    from .label_studio import PushStopped, RetryPolicy, push_segments

    conn = _connection(ls_config, data_dir)
    try:
        with tqdm(desc="push", unit="task", disable=None, file=sys.stderr) as bar:
            report = push_segments(conn, segments, config, project_title=project_title, articles=articles,
                                   predictions=predictions, model_version=model_version, batch_size=batch_size,
                                   retry=RetryPolicy(retries=retries), on_batch=bar.update)
    except PushStopped as exc:  # what was done before it stopped still goes in the report
        if report_path:
            _write_push_report(report_path, exc.report)
        raise
    if report_path:
        _write_push_report(report_path, report)
    shown = (*report.rejections, *report.prediction_rejections)
    for rejection in shown[:20]:
        click.echo(f"rejected ({rejection.reason}): {rejection.source}: {rejection.detail}", err=True)
    if len(shown) > 20:
        click.echo(f"... and {len(shown) - 20} more rejected (see --report)", err=True)
    d = report.to_dict()
    click.echo(
        f"project {d['project_title']!r} (id {d['project_id']}{', created' if d['project_created'] else ''}): "
        f"read {d['read']}, already present {d['already_present']}, imported {d['imported']}, "
        f"rejected {d['rejected']} (failed {d['failed']}), predictions {d['predictions']}"
    )
    if report.failed:
        raise click.exceptions.Exit(1)


def _write_push_report(path, report) -> None:
    _write_report(path, {**report.to_dict(), "rejections": [r.to_dict() for r in report.rejections],
                         "prediction_rejections": [r.to_dict() for r in report.prediction_rejections]})


@cli.command("pull")
@click.option("--project-title", required=True, help="Project to export.")
@click.option("--out", "out_dir", default="exports", show_default=True, type=click.Path(file_okay=False),
              help="Snapshots go to OUT/<project-slug>/<UTC time>-<sha256[:12]>/.")
@click.option("--ls-config", type=click.Path(exists=True, dir_okay=False), help=_LS_CONFIG_HELP)
@click.option("--data-dir", default=None, type=click.Path(file_okay=False),
              help="Folder of the local server started by 'serve', to find its URL and token [default: .ls-data].")
def pull_cmd(project_title, out_dir, ls_config, data_dir):
    """Snapshot a project's annotations and keep the raw export byte-for-byte.

    Writes export.json (Label Studio JSON, as served), label_config.xml (the project's config) and
    manifest.json (project id, config name and hash, task and annotation counts, time, sha256).

    \b
    Example:
      dataset-builder pull --project-title entities_stance --out exports
    """
    from .label_studio import pull_export

    report = pull_export(_connection(ls_config, data_dir), project_title, out_dir=out_dir)
    m = report.manifest
    click.echo(f"{m['task_count']} tasks, {m['annotation_count']} annotations ({m['cancelled_annotation_count']} of "
               f"them cancelled) -> {report.export_path} (manifest: {report.manifest_path})")


@cli.command("import-corpus")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(["conll", "newsmtsc", "semeval2016"]))
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--config", default=None,
              help="Labelling config  [default: conll -> entities, newsmtsc -> target_stance, "
                   "semeval2016 -> given_target_stance]")
@click.option("--project-title", default=None, help="Label Studio project  [default: '<FORMAT> <file name>']")
@click.option("--as", "mode", type=click.Choice(["annotations", "predictions"]), default="annotations",
              show_default=True,
              help="annotations: the corpus's labels are submitted annotations of --annotator (gold); predictions: "
                   "pre-annotations for annotators to correct.")
@click.option("--annotator", default=None,
              help="Who the labels are attributed to: a Label Studio user NAME@localhost (created if missing), or the "
                   "model_version with --as predictions  [default: conll2003-gold, newsmtsc-gold, semeval2016-gold]")
@click.option("--ground-truth/--no-ground-truth", default=True, show_default=True,
              help="Mark the imported annotations ground truth, so that normalise takes them as gold over any "
                   "annotator's votes; --no-ground-truth makes the corpus one voter among the annotators.")
@click.option("--label-map", default=None,
              help="Corpus label -> config label, 'A=B,C=D' or a JSON file; 'A=' drops label A. Laid over the "
                   "defaults (newsmtsc 2=against,4=neutral,6=favor; semeval2016 FAVOR=favor,AGAINST=against,"
                   "NONE=neutral).")
@click.option("--scheme", type=click.Choice(["auto", "iob1", "iob2"]), default="auto", show_default=True,
              help="CoNLL tagging scheme; auto decides from the whole file.")
@click.option("--encoding", default="auto", show_default=True,
              help="conll/semeval2016 file encoding; auto tries UTF-8, then cp1252.")
@click.option("--skip-invalid", is_flag=True,
              help="Reject and report a sentence/target/tweet with a problem instead of stopping at the first one.")
@click.option("--id-prefix", default=None,
              help="Prefix of the article/segment ids  [default: '<FORMAT>-<file name without .txt/.tsv/.jsonl...>', "
                   "e.g. conll-eng-train]")
@click.option("--split", "official_split", type=click.Choice(["train", "validation", "test"]), default=None,
              help="The file's official split: pins every article to it (meta split in articles.jsonl), and "
                   "'split --articles' keeps it there, so scores compare with published ones.")
@click.option("-o", "--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Folder for articles.jsonl, segments.jsonl, annotations.jsonl, report.json, push.json  "
                   "[default: out/import-<FORMAT>-<file stem>]")
@click.option("--no-push", is_flag=True, help="Only read the corpus and write the files; do not contact Label Studio.")
@click.option("--batch-size", default=5000, show_default=True, type=click.IntRange(min=1), help="Tasks per import request.")
@click.option("--ls-config", type=click.Path(exists=True, dir_okay=False), help=_LS_CONFIG_HELP)
@click.option("--data-dir", default=None, type=click.Path(file_okay=False),
              help="Folder of the local server started by 'serve', to find its URL and token [default: .ls-data].")
def import_corpus_cmd(fmt, path, config, project_title, mode, annotator, ground_truth, label_map, scheme, encoding,
                      skip_invalid, id_prefix, official_split, out_dir, no_push, batch_size, ls_config, data_dir):
    """Bring an annotated corpus in: articles, segments and Label Studio tasks carrying its labels.

    \b
    FORMAT:
      conll        CoNLL-2003 columns (token ... NER tag), IOB1 or IOB2, -DOCSTART- between documents
      newsmtsc     NewsMTSC JSONL: sentence_normalized + targets {from, to (exclusive), mention, polarity}
      semeval2016  SemEval-2016 Task 6 TSV: ID, Target, Tweet, Stance (cp1252 and CRLF are fine)

    The labels then go through pull, normalise, split, build and benchmark like annotations made in
    the UI. Running it again imports nothing twice. A malformed file stops at the first problem with
    its file:line (or, with --skip-invalid, every problem is reported and the rest imported).

    \b
    Example:
      dataset-builder import-corpus conll eng.train --project-title "CoNLL-2003 train"
      dataset-builder import-corpus semeval2016 train.txt --as predictions --annotator semeval-labels

    \b
    Keep a corpus's official split (one project, one file per split; see docs/import_corpus.md):
      dataset-builder import-corpus conll eng.train --split train --project-title CoNLL-2003 -o in/train
      dataset-builder import-corpus conll eng.testb --split test --project-title CoNLL-2003 -o in/test
    """
    from pathlib import Path

    from tqdm import tqdm

    from . import corpora

    corpus = corpora.read_corpus(
        fmt, path, config, label_map=label_map, annotator=annotator,
        scheme=scheme if fmt == "conll" else None, encoding=None if fmt == "newsmtsc" else encoding,
        on_error="skip" if skip_invalid else "raise", id_prefix=id_prefix, split=official_split,
    )
    out = Path(out_dir or f"out/import-{fmt}-{corpora.file_stem(path)}")
    paths = corpora.write_corpus(corpus, out)
    report = corpus.report
    for rejection in report.rejections[:20]:
        click.echo(f"rejected ({rejection.reason}): {rejection.source}: {rejection.detail}", err=True)
    if len(report.rejections) > 20:
        click.echo(f"... and {len(report.rejections) - 20} more rejected (see {paths['report.json']})", err=True)
    click.echo(report.summary())
    click.echo(f"wrote {', '.join(str(p) for p in paths.values())}")
    if no_push:
        return

    from .label_studio import PushStopped, push_corpus

    name = corpus.annotator
    who = name if mode == "predictions" or "@" in name else f"{name}@localhost"
    title = project_title or f"{fmt} {Path(path).name}"
    conn = _connection(ls_config, data_dir)
    try:
        with tqdm(desc="push", unit="task", disable=None, file=sys.stderr) as bar:
            pushed = push_corpus(conn, corpus.segment_rows(), {r["segment_id"]: r for r in corpus.label_rows()},
                                 corpus.schema, project_title=title, mode=mode, annotator=who,
                                 ground_truth=ground_truth, batch_size=batch_size, on_batch=bar.update)
    except PushStopped as exc:  # what was done before it stopped still goes in push.json
        _write_push_report(out / "push.json", exc.report)
        raise
    _write_report(out / "push.json", {**pushed.to_dict(),
                                      "rejections": [r.to_dict() for r in pushed.push.rejections]})
    for rejection in pushed.push.rejections[:20]:
        click.echo(f"rejected ({rejection.reason}): {rejection.source}: {rejection.detail}", err=True)
    d = pushed.to_dict()
    what = (f"annotations by {d['annotator']} (ground truth: {d['ground_truth']})" if mode == "annotations"
            else f"predictions of model_version {d['annotator']!r}")
    click.echo(
        f"project {d['project_title']!r} (id {d['project_id']}{', created' if d['project_created'] else ''}): "
        f"read {d['read']}, already present {d['already_present']}, imported {d['imported']}, rejected {d['rejected']}; "
        f"{what}: {d['labels_with_new_tasks']} with new tasks, {d['labels_added_to_existing_tasks']} added to "
        f"existing tasks, {d['labels_already_present']} already there, {d['labels_skipped']} not sent"
    )
    if pushed.push.failed:
        raise click.exceptions.Exit(1)


@cli.command("run")
@click.option("--articles", type=click.Path(exists=True), default=None,
              help="Articles to use (folder/.txt/.jsonl/.csv)  [default: the bundled sample articles]")
@click.option("--annotations", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Label Studio export whose annotations are submitted to the matching tasks as their annotators  "
                   "[default: the bundled sample annotations; 'none' via --no-annotations]")
@click.option("--no-annotations", is_flag=True, help="Submit no annotations (annotate in the UI, then run again).")
@click.option("--config", default="entities_stance", show_default=True, help="Labelling config name or XML path.")
@click.option("--project-title", default=None, help="Label Studio project  [default: 'News sample: entities and stance']")
@click.option("--out", "out_dir", default="out", show_default=True, type=click.Path(file_okay=False),
              help="Where every stage writes its outputs.")
@click.option("--splits-dir", default="splits", show_default=True, type=click.Path(file_okay=False),
              help="Folder of the split manifest (kept between runs so no article ever moves).")
@click.option("--card", "card_path", default="DATASET_CARD.md", show_default=True, type=click.Path(dir_okay=False),
              help="Also copy the dataset card here ('' for no copy).")
@click.option("--data-dir", default=".ls-data", show_default=True, type=click.Path(file_okay=False), help=_DATA_DIR_HELP)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port of the local Label Studio.")
@click.option("--resamples", default=1000, show_default=True, type=click.IntRange(min=1), help="Bootstrap resamples.")
def run_cmd(articles, annotations, no_annotations, config, project_title, out_dir, splits_dir, card_path, data_dir,
            port, resamples):
    """Run the whole chain end to end on embedded defaults, printing each stage's counts.

    Starts (or reuses) a local Label Studio on SQLite, ingests the bundled sample articles,
    segments them into sentences, pushes them with the entities + stance config, submits the
    bundled sample annotations (two annotators) through the API, pulls the export, normalises
    it, splits, builds the HuggingFace dataset and its card, trains and scores the baselines,
    and prints the leaderboard, the paths written and where an annotator can log in.

    Running it again changes nothing: no task or annotation is created twice, and the dataset,
    card and scores come out byte-identical. Each stage is also its own command.
    """
    from . import pipeline

    report = pipeline.run_all(
        articles=articles or pipeline.SAMPLE_ARTICLES,
        annotations=None if no_annotations else (annotations or pipeline.SAMPLE_ANNOTATIONS),
        config=config,
        project_title=project_title or pipeline.DEFAULT_PROJECT,
        out_dir=out_dir,
        splits_dir=splits_dir,
        card_path=card_path or None,
        data_dir=data_dir,
        port=port,
        resamples=resamples,
        log=lambda line: click.echo(line, err=True),
    )
    click.echo(report.summary())


@cli.command("publish")
@click.argument("dataset_dir", type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--out", "out_dir", default="hub", show_default=True, type=click.Path(file_okay=False))
@click.option("--repo-id", default=None, help="Hub dataset repo (owner/name) to upload to; without it only the folder is written.")
@click.option("--token", envvar="HF_TOKEN", default=None, help="Hub write token (default: $HF_TOKEN).")
@click.option("--public", is_flag=True, help="Create the repo public (default: private).")
def publish_cmd(dataset_dir, out_dir, repo_id, token, public):
    """Write OUT: README.md (card + YAML, Hub-checked) and the parquet files, nothing else; upload it with --repo-id."""
    from .publish import upload_hub_folder, write_hub_folder

    report = write_hub_folder(dataset_dir, out_dir)
    click.echo(f"hub folder: {len(report.files)} files -> {out_dir}; placeholders to fill: {report.placeholders}", err=True)
    if repo_id:
        click.echo(f"uploaded: {upload_hub_folder(out_dir, repo_id, token=token, private=not public)}")


def main() -> None:
    cli(prog_name="dataset-builder")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
