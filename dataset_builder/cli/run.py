"""The end-to-end command: run."""

from __future__ import annotations

import click

from .base import cli, _DATA_DIR_HELP


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
@click.option("--annotators", type=click.IntRange(min=1), default=2, show_default=True,
              help="Annotators per task: Label Studio's labelling stream gives each task to this many people.")
@click.option("--adjudicator", "adjudicators", multiple=True,
              help="Label Studio username whose annotations decide disputed items and stay out of agreement "
                   "(repeatable)  [default: 'adjudicator' with the bundled sample annotations, else none]")
@click.option("--resamples", default=1000, show_default=True, type=click.IntRange(min=1), help="Bootstrap resamples.")
def run_cmd(articles, annotations, no_annotations, config, project_title, out_dir, splits_dir, card_path, data_dir,
            port, annotators, adjudicators, resamples):
    """Run the whole chain end to end on embedded defaults, printing each stage's counts.

    Starts (or reuses) a local Label Studio on SQLite, ingests the bundled sample articles,
    segments them into sentences, pushes them with the entities + stance config and two annotators
    per task, submits the bundled sample annotations (two annotators, alex and sam, and the
    adjudicator who decided what they disputed) through the API as those users, pulls the export,
    normalises it with that adjudicator, splits, builds the HuggingFace dataset and its card,
    trains and scores the baselines,
    and prints the leaderboard, the paths written and where an annotator can log in.

    Running it again changes nothing: no task or annotation is created twice, and the dataset,
    card and scores come out byte-identical. Each stage is also its own command.
    """
    from .. import pipeline

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
        annotators=annotators,
        adjudicators=adjudicators or None,
        log=lambda line: click.echo(line, err=True),
    )
    click.echo(report.summary())
