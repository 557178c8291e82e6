"""Article commands: ingest and segment."""

from __future__ import annotations

import click

from .base import cli, _progress, _write_report


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
    from .. import ingest as ingest_mod
    from ..jsonl import write_jsonl

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
    from ..segment import segment_file

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
