"""The team's commands: adjudicate (what annotators disputed, with links into Label Studio) and status."""

from __future__ import annotations

import json

import click

from .base import cli, _LS_CONFIG_HELP, _connection

_ADJUDICATOR_HELP = ("Label Studio username (handle) of an adjudicator: their annotation decides a task's items and "
                     "stays out of agreement (repeatable).")


@cli.command("adjudicate")
@click.option("--project-title", required=True, help="Project whose disputed tasks to list.")
@click.option("--adjudicator", "adjudicators", multiple=True, help=_ADJUDICATOR_HELP)
@click.option("--config", default=None, help="Labelling config  [default: the one the snapshot's manifest names]")
@click.option("-o", "--out", "out_dir", default="out/adjudicate", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the snapshot, its normalised files, adjudication.json and adjudication.txt.")
@click.option("--ls-config", type=click.Path(exists=True, dir_okay=False), help=_LS_CONFIG_HELP)
@click.option("--data-dir", default=None, type=click.Path(file_okay=False),
              help="Folder of the local server started by 'serve', to find its URL and token [default: .ls-data].")
def adjudicate_cmd(project_title, adjudicators, config, out_dir, ls_config, data_dir):
    """List what the annotators of a project disputed and prepare it for the adjudicator.

    Pulls the project, normalises the snapshot, and creates or refreshes the Data Manager tab
    "Needs adjudication" with exactly the disputed tasks. Prints each task's link (it opens the
    task with every annotator's version as a tab) and what is disputed. The adjudicator opens it,
    presses '+' (or duplicates a version), fixes it and submits; normalise --adjudicator HANDLE then
    takes their annotation as decisive. Running it again refreshes the tab; resolved tasks leave it.

    \b
    Example:
      dataset-builder adjudicate --project-title "News sample: entities and stance" --adjudicator kim
    """
    from ..pipeline import adjudicate

    report = adjudicate(_connection(ls_config, data_dir), project_title, out_dir=out_dir, config=config,
                        adjudicators=adjudicators)
    click.echo(report.summary().rstrip("\n"))
    click.echo(f"-> {out_dir}/adjudication.txt, {out_dir}/adjudication.json", err=True)


@cli.command("status")
@click.option("--project-title", required=True, help="Project to report on.")
@click.option("--adjudicator", "adjudicators", multiple=True, help=_ADJUDICATOR_HELP)
@click.option("--config", default=None, help="Labelling config  [default: the one the snapshot's manifest names]")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON instead of a table.")
@click.option("-o", "--out", "out_dir", default="out/status", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the snapshot and its normalised files.")
@click.option("--ls-config", type=click.Path(exists=True, dir_okay=False), help=_LS_CONFIG_HELP)
@click.option("--data-dir", default=None, type=click.Path(file_okay=False),
              help="Folder of the local server started by 'serve', to find its URL and token [default: .ls-data].")
def status_cmd(project_title, adjudicators, config, as_json, out_dir, ls_config, data_dir):
    """Where a project stands, for the team lead.

    Tasks done out of total (done: as many annotators as the project gives each task to have
    submitted), each annotator's annotations and median lead time, agreement so far (overall and
    per label; adjudicators left out), the tasks and items waiting for adjudication, and how much
    each model_version's pre-annotations helped (predicted items kept, relabelled, moved, deleted;
    items the annotators added).

    \b
    Example:
      dataset-builder status --project-title "News sample: entities and stance" --adjudicator kim
    """
    from ..pipeline import team_status

    report = team_status(_connection(ls_config, data_dir), project_title, out_dir=out_dir, config=config,
                         adjudicators=adjudicators)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False, sort_keys=True))
    else:
        click.echo(report.summary().rstrip("\n"))
