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


def main() -> None:
    cli(prog_name="dataset-builder")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
