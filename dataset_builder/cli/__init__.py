"""Command-line interface: one thin sub-command per pipeline stage (nothing imports it).

The group and its shared helpers live in :mod:`.base`; each module registers the commands of one
concern on it. Importing this package registers them all.
"""


from . import annotations, articles, evaluation, model, run, server, team  # noqa: F401  (registers the commands; no __future__ import here: it would shadow .annotations)
from .base import cli


def main() -> None:
    cli(prog_name="dataset-builder")


__all__ = ["cli", "main"]
