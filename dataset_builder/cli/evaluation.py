"""Evaluation and release commands: score, benchmark and publish."""

from __future__ import annotations

import click

from .base import cli, _progress


@cli.command("score")
@click.argument("dataset_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("predictions", type=click.Path(exists=True, dir_okay=False))
@click.option("--config", default="ner", show_default=True, help="Dataset config: ner or stance.")
@click.option("--split", default="test", show_default=True, help="Split to score against.")
@click.option("--mode", type=click.Choice(["conlleval", "strict"]), default="conlleval", show_default=True,
              help="NER entity rules: conlleval (I- after O starts an entity; IOB1/IOB2) or strict (only B-/S- start).")
@click.option("--alignment", type=click.Choice(["strict", "contract", "expand"]), default="strict", show_default=True,
              help="NER spans whose offsets fall inside a token: reject, shrink to whole tokens, or grow to them.")
@click.option("--metric", type=click.Choice(["f_avg", "fnc1", "macro_f1"]), default=None,
              help="Stance primary metric  [default: the one the labelling config declared (build wrote it), else "
                   "f_avg when the classes include favor and against, else macro_f1]")
@click.option("--favor", "favor_label", default=None, help="Stance class averaged in F_avg  [default: declared, else favor]")
@click.option("--against", "against_label", default=None,
              help="Stance class averaged in F_avg  [default: declared, else against]")
@click.option("--unrelated", "unrelated_label", default=None,
              help="FNC-1's unrelated class (fnc1)  [default: declared, else unrelated]")
@click.option("--resamples", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Article bootstrap resamples for the 95% CIs (0: none).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Bootstrap seed.")
@click.option("--compare", "compare_with", type=click.Path(exists=True, dir_okay=False),
              help="Second predictions file: paired bootstrap comparison against it.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the JSON report here.")
@click.option("--markdown", "md_path", type=click.Path(dir_okay=False), help="Write the markdown table here.")
def score(dataset_dir, predictions, config, split, mode, alignment, metric, favor_label, against_label, unrelated_label,
          resamples, seed, compare_with, json_path, md_path):
    """Score predictions against a dataset split (metrics, 95% CIs).

    \b
    Predictions, one JSON object per line:
      stance  {"id": "<row id>", "label": "favor"}
      ner     {"id": "<segment id>", "tags": ["O", "B-PER", ...]}   (one tag per dataset token)
          or  {"id": "<segment id>", "spans": [{"start": 0, "end": 5, "label": "PER"}]}
    Every gold id must be predicted exactly once. Stance: accuracy, macro-F1, the declared primary
    metric (F_avg, or FNC-1's relative score), per-class scores, confusion matrix. NER: entity-level micro and per-type P/R/F1 as conlleval computes
    them. 95% CIs by bootstrap over articles with a fixed seed. Without --json/--markdown the
    markdown goes to stdout; identical inputs give identical bytes.

    \b
    Example:
      dataset-builder score dataset/ preds.jsonl --config ner --json scores.json
    """
    from pathlib import Path

    from ..scoring import format_metric, report_to_json, report_to_markdown, score_predictions

    report = score_predictions(dataset_dir, predictions, config=config, split=split, mode=mode, alignment=alignment,
                               favor_label=favor_label, against_label=against_label, resamples=resamples, seed=seed,
                               compare_with=compare_with, metric=metric, unrelated_label=unrelated_label)
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
@click.option("--baselines", "names", default=None,
              help="Baselines to run, comma-separated (each config runs those of its task)  [default: all: stance "
                   "majority, tfidf_logreg, pair_relation, per_target_svm; ner majority, memorisation, crf]")
@click.option("--max-features", type=click.IntRange(min=16), default=2 ** 18, show_default=True,
              help="Cap of each n-gram block of the stance baselines (vocabulary size, hashing width).")
def benchmark(dataset_dir, output_dir, configs, train_split, eval_split, seed, resamples, compare_path, names,
              max_features):
    """Train the baselines, score them, and write the leaderboard.

    \b
    Baselines: stance majority, TF-IDF + LogisticRegression, target-text relation features +
    gradient-boosted trees (FNC-1's baseline design), one linear SVM per target (SemEval-2016's);
    NER majority, memorisation and a CRF on hand-made features. Each config is ranked by its
    declared primary metric (F_avg, FNC-1 score, micro F1). Writes OUTPUT_DIR/models/*.skops,
    OUTPUT_DIR/predictions/*.jsonl, OUTPUT_DIR/results.json and OUTPUT_DIR/leaderboard.md.

    \b
    As a CI gate:
      dataset-builder benchmark dataset/ -o results --compare previous/results.json
    exits 1, naming the baseline, when a score falls below its previous 95% CI, or when the
    dataset fingerprint changed but its version (dataset_version.txt or README `version`) did not.
    """
    from ..baselines import chosen_baselines, compare_results, read_results, results_summary, run_benchmark

    previous = read_results(compare_path) if compare_path else None  # fail early on a bad file
    results = run_benchmark(dataset_dir, output_dir, configs=configs or None, train_split=train_split, eval_split=eval_split,
                            seed=seed, resamples=resamples, progress=_progress("benchmark", "baseline"),
                            baselines=chosen_baselines(names), max_features=max_features)
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


@cli.command("publish")
@click.argument("dataset_dir", type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--out", "out_dir", default="hub", show_default=True, type=click.Path(file_okay=False))
@click.option("--repo-id", default=None, help="Hub dataset repo (owner/name) to upload to; without it only the folder is written.")
@click.option("--token", envvar="HF_TOKEN", default=None, help="Hub write token (default: $HF_TOKEN).")
@click.option("--public", is_flag=True, help="Create the repo public (default: private).")
def publish_cmd(dataset_dir, out_dir, repo_id, token, public):
    """Write OUT: README.md (card + YAML, Hub-checked) and the parquet files, nothing else; upload it with --repo-id."""
    from ..publish import upload_hub_folder, write_hub_folder

    report = write_hub_folder(dataset_dir, out_dir)
    click.echo(f"hub folder: {len(report.files)} files -> {out_dir}; placeholders to fill: {report.placeholders}", err=True)
    if repo_id:
        click.echo(f"uploaded: {upload_hub_folder(out_dir, repo_id, token=token, private=not public)}")
