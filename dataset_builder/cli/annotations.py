"""Annotation commands: normalise, split and build."""

from __future__ import annotations

import click

from .base import cli, _phases, _write_report


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
@click.option("--adjudicator", "adjudicators", multiple=True, metavar="NAME",
              help="A team member whose annotation decides a task (handle or Label Studio username); kept out of "
                   "inter-annotator agreement. Repeatable.")
@click.option("--annotators", "annotators_file", type=click.Path(exists=True, dir_okay=False),
              help="JSON object naming annotators: Label Studio user id, username or e-mail -> handle. Default: "
                   "their usernames from the snapshot's users.json (a pseudonym when it is an e-mail), else user ids.")
def normalise_cmd(export: str, config: str | None, out_dir: str, min_annotators: int, offsets: str,
                  workers: int | None, adjudicators: tuple[str, ...], annotators_file: str | None) -> None:
    """Turn EXPORT (Label Studio's JSON export, e.g. from 'pull') into per-annotator and gold annotations.

    EXPORT is an export file, a snapshot folder from 'pull' (exports/<project>/<time>-<sha>/) or a
    project folder (exports/<project>/: its latest snapshot, named on stderr). With the snapshot's
    manifest.json the config defaults to the one it names. Streams the export; offsets become
    Python code points of the segment text; value.text is a cross-check (spans are re-aligned when
    unambiguous, trimmed, or rejected with a reason). Gold: ground-truth annotations win, else a
    majority vote; ties are listed in unresolved.jsonl, never guessed. Gold is decided per unit:
    the segment's entities, and each stance target. An --adjudicator's annotation decides its task
    (resolve ties in the Label Studio UI: see 'dataset-builder adjudicate'). An empty submission
    does not vote (the config's "no entities" choice does). The report counts every task,
    annotation and result read as kept or rejected by reason, and gives agreement between the
    annotators (Krippendorff's alpha, Cohen's kappa, span F1; per label too). The summary goes to
    stderr.

    \b
    Examples:
      dataset-builder normalise exports/news -o out/gold
      dataset-builder normalise exports/news/20240101T000000Z-abc/export.json --config entities_stance -o out/gold
    """
    from ..normalise import find_snapshot, normalise_export, read_mapping

    snapshot = find_snapshot(export)
    schema = snapshot.schema(config)
    taken = snapshot.describe()
    if taken:
        click.echo(taken, err=True)
    if config is None:
        click.echo(f"normalise: config {schema.name} (named by {snapshot.manifest_path})", err=True)
    report = normalise_export(snapshot.export, schema, out_dir, min_annotators=min_annotators, offsets=offsets,
                              progress=True, workers=workers, adjudicators=adjudicators,
                              annotators=read_mapping(annotators_file) if annotators_file else None)
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

    from .. import splits as splits_mod

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
    from ..build import build_dataset
    from ..jsonl import read_json_object
    from ..schema import load_schema
    from ..splits import read_annotations, read_articles, read_gold, read_manifest

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
