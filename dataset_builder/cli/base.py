"""The command-line group and the helpers its commands share (progress bars, reports, connection options).

Each command parses options, calls one library function and prints its report. Domain errors
(:class:`~dataset_builder.errors.DatasetBuilderError`) become one line on stderr and exit code 1;
nothing else is caught, so a real bug still shows its traceback.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager

import click

from .. import __version__
from ..errors import DatasetBuilderError


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
      predict    trained baselines + segments (or a project's tasks left) -> pre-annotations with scores
      round      after a day of annotation: pull ... benchmark, predict on what is left, push, re-order
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
    from ..jsonl import write_json

    write_json(path, report)


_DATA_DIR_HELP = "Folder of the local Label Studio started by 'serve' (SQLite, password and token files)."
_LS_CONFIG_HELP = ("TOML/JSON file with a [label_studio] table: url, api_key or api_key_file "
                   "(default: ./.dataset-builder.toml if present). LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY win.")


def _connection(ls_config, data_dir):
    from ..label_studio import resolve_connection

    return resolve_connection(config_file=ls_config, data_dir=data_dir)
