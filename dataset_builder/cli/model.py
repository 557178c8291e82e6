"""The model in the loop: predict (pre-annotations with scores) and round (the team lead's daily loop)."""

from __future__ import annotations

import json

import click

from .base import cli, _LS_CONFIG_HELP, _connection
from .team import _ADJUDICATOR_HELP

_DATA_DIR_HELP = "Folder of the local server started by 'serve', to find its URL and token [default: .ls-data]."


@cli.command("predict")
@click.argument("results_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--config", required=True, help="Labelling config the tasks use (bundled name or .xml path).")
@click.option("--segments", type=click.Path(exists=True, dir_okay=False),
              help="segments.jsonl to predict on (or --project-title: its tasks not done yet).")
@click.option("--project-title", default=None, help="Predict on this project's tasks that are not done yet.")
@click.option("-o", "--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Predictions JSONL, as 'push --predictions' takes it.")
@click.option("--ner", default="crf", show_default=True, help="NER baseline (models/ner.<name>.skops); 'none': no entities.")
@click.option("--stance", default="tfidf_logreg", show_default=True,
              help="Stance baseline (models/stance.<name>.skops); 'none': no stances.")
@click.option("--ls-config", type=click.Path(exists=True, dir_okay=False), help=_LS_CONFIG_HELP)
@click.option("--data-dir", default=None, type=click.Path(file_okay=False), help=_DATA_DIR_HELP)
def predict_cmd(results_dir, config, segments, project_title, out_path, ner, stance, ls_config, data_dir):
    """Pre-annotate segments with the baselines that 'benchmark' trained in RESULTS_DIR.

    Each row: the entities (with the CRF's mean marginal as score) and stances (the classifier's
    probability), the task's score (mean per-token confidence; lower = more informative) and
    model_version (the baselines and the dataset fingerprint they were trained on). Push it with
    'push SEGMENTS --predictions OUT': tasks already there get it too, and the labelling stream
    then hands out the lowest scores first.

    \b
    Example:
      dataset-builder predict out/results --config entities_stance --segments out/segments.jsonl -o preds.jsonl
    """
    from ..errors import InputError
    from ..predict import predict_file, predict_project

    if (segments is None) == (project_title is None):
        raise InputError("pass exactly one of --segments FILE and --project-title TITLE.")
    models = {"ner": None if ner == "none" else ner, "stance": None if stance == "none" else stance}
    if segments is not None:
        report = predict_file(results_dir, config, segments, out_path, **models)
    else:
        report = predict_project(_connection(ls_config, data_dir), project_title, results_dir, config, out_path, **models)
    click.echo(report.summary())


@cli.command("round")
@click.option("--project-title", required=True, help="Project the team annotates.")
@click.option("--adjudicator", "adjudicators", multiple=True, help=_ADJUDICATOR_HELP)
@click.option("--config", default=None, help="Labelling config  [default: the one the snapshot's manifest names]")
@click.option("--articles", type=click.Path(exists=True, dir_okay=False),
              help="articles.jsonl from 'ingest' (near-duplicates and split pins for 'split').")
@click.option("--splits", "splits_dir", default="splits", show_default=True, type=click.Path(file_okay=False),
              help="Folder of the split manifest (articles already there never move).")
@click.option("--version", "version", default="0.1.0", show_default=True, help="Dataset version written by build.")
@click.option("--resamples", default=1000, show_default=True, type=click.IntRange(min=1), help="Bootstrap resamples.")
@click.option("-o", "--out", "out_dir", default="out/round", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the snapshot, normalised/, dataset/, results/, predictions.jsonl, round.json.")
@click.option("--json", "as_json", is_flag=True, help="Print the round's report as JSON.")
@click.option("--ls-config", type=click.Path(exists=True, dir_okay=False), help=_LS_CONFIG_HELP)
@click.option("--data-dir", default=None, type=click.Path(file_okay=False), help=_DATA_DIR_HELP)
def round_cmd(project_title, adjudicators, config, articles, splits_dir, version, resamples, out_dir, as_json,
              ls_config, data_dir):
    """After a day of annotation: the model learns from it and the next tasks are the informative ones.

    Pulls the project, normalises (with the adjudicators), splits, builds, trains the baselines,
    predicts on the tasks not done yet, attaches those predictions and sets the labelling stream
    to hand out the lowest-confidence tasks first. Running it again with no new annotation
    changes nothing in Label Studio.

    \b
    Example:
      dataset-builder round --project-title "News sample: entities and stance" --adjudicator kim
    """
    from ..pipeline import annotation_round

    report = annotation_round(_connection(ls_config, data_dir), project_title, out_dir=out_dir, splits_dir=splits_dir,
                              articles=articles, config=config, adjudicators=adjudicators, version=version,
                              resamples=resamples, log=lambda line: click.echo(line, err=True))
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False, sort_keys=True))
    else:
        click.echo(report.summary().rstrip("\n"))
