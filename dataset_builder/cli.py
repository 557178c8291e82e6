"""Command-line interface: one thin sub-command per pipeline stage.

Each command parses options, calls one library function and prints its report. Domain errors
(:class:`~dataset_builder.errors.DatasetBuilderError`) become one line on stderr and exit code 1;
nothing else is caught, so a real bug still shows its traceback.
"""

from __future__ import annotations

import sys

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
    Stages (each a sub-command, each usable on its own):
      ingest     articles (.txt folder, JSONL, CSV) -> articles.jsonl + report
      segment    articles.jsonl -> segments.jsonl (sentences, paragraphs, windows)
    """


def _progress(desc: str, unit: str = "it"):
    """A tqdm wrapper for long loops: on stderr, silent when stderr is not a terminal."""
    from tqdm import tqdm

    return lambda iterable: tqdm(iterable, desc=desc, unit=unit, disable=None, file=sys.stderr)


def _write_report(path, report: dict) -> None:
    import json
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


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


def main() -> None:
    cli(prog_name="dataset-builder")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
