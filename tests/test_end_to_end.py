"""`dataset-builder run` end to end against a fresh real Label Studio, run twice.

The server is a fresh one (not the session fixture) because the bundled outputs it is compared
with were made on a fresh server: user ids, and so annotator names in the card, depend on it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from dataset_builder import label_studio as ls
from dataset_builder import pipeline
from dataset_builder.cli import cli

REPO = Path(__file__).resolve().parents[1]
BASELINES = {("ner", "majority"), ("ner", "memorisation"), ("ner", "crf"), ("stance", "majority"), ("stance", "tfidf_logreg"),
             ("stance", "pair_relation"), ("stance", "per_target_svm")}

pytestmark = pytest.mark.label_studio


def _tree(root: Path) -> dict[str, str]:
    """sha256 of every file under root except trained model zips (their zip timestamps vary)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix != ".skops"
    }


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    try:
        ls.ls_binary()
    except Exception as exc:  # noqa: BLE001 - any reason Label Studio cannot start
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI=true but Label Studio is not installed: {exc}")
        pytest.skip(f"Label Studio not installed: {exc}")
    root = tmp_path_factory.mktemp("e2e")
    args = [
        "run", "--out", str(root / "out"), "--splits-dir", str(root / "splits"),
        "--card", str(root / "DATASET_CARD.md"), "--data-dir", str(root / "ls"), "--port", "0",
    ]
    try:
        first = CliRunner().invoke(cli, args)
        assert first.exit_code == 0, first.output
        snapshot = {name: _tree(root / name) for name in ("out/dataset", "out/results", "out/normalised", "splits")}
        card = (root / "DATASET_CARD.md").read_bytes()
        second = CliRunner().invoke(cli, args)
        assert second.exit_code == 0, second.output
        yield root, first.output, second.output, snapshot, card
    finally:
        ls.stop_server(root / "ls", grace=10.0)


def test_every_stage_reports_its_counts(two_runs):
    _, out, _, _, _ = two_runs
    for line in (
        "ingest: read 2, kept 2, rejected 0; boilerplate lines removed 1",
        "segment: 2 articles read, 2 segmented, 0 rejected; 26 sentence segments written",
        "push: read 26, already in Label Studio 0, imported 26, rejected 0",
        "sample annotations: read 68, submitted 68, already there 0, no matching task 0",
        "pull: 26 tasks, 68 annotations",
        "normalise: tasks read 26, kept 26, rejected 0; annotations read 68, kept 68, rejected 0",
        "split: 2 articles, 26 segments",
        "benchmark: 7 baselines trained and scored on test",
    ):
        assert line in out, line
    assert re.search(r"Annotate more at http://127\.0\.0\.1:\d+ \(log in as admin@localhost; password in .*password\)", out)


def test_second_run_duplicates_nothing_and_is_byte_identical(two_runs):
    root, _, out2, snapshot, card = two_runs
    assert "push: read 26, already in Label Studio 26, imported 0, rejected 0" in out2
    assert "sample annotations: read 68, submitted 0, already there 68, no matching task 0" in out2
    assert "pull: 26 tasks, 68 annotations" in out2
    for name, before in snapshot.items():
        assert _tree(root / name) == before, name
    assert (root / "DATASET_CARD.md").read_bytes() == card


def test_dataset_loads_and_card_counts_match(two_runs):
    from datasets import load_dataset

    root = two_runs[0]
    dataset_dir = root / "out" / "dataset"
    card = (root / "DATASET_CARD.md").read_text(encoding="utf-8")
    assert "far too small for its scores to mean anything statistically" in card
    total = 0
    for config in ("ner", "stance"):
        loaded = load_dataset(str(dataset_dir), config, cache_dir=str(root / "hf-cache"))
        for split, rows in loaded.items():
            assert f"| {config} | {split} | {rows.num_rows} |" in card
            total += rows.num_rows if config == "ner" else 0
    assert total == 26  # every segment has gold (disputed ones adjudicated)


def test_leaderboard_has_every_baseline(two_runs):
    root = two_runs[0]
    results = json.loads((root / "out" / "results" / "results.json").read_text())
    assert {(b["config"], b["baseline"]) for b in results["baselines"]} == BASELINES
    board = (root / "out" / "results" / "leaderboard.md").read_text()
    for _, name in BASELINES:
        assert f"| {name} |" in board


def test_bundled_card_and_split_manifest_are_up_to_date(two_runs):
    """The repository's DATASET_CARD.md and splits/ are this command's output on the sample."""
    root = two_runs[0]
    fix = "regenerate them with `bash scripts/run.sh` and commit DATASET_CARD.md, docs/ and splits/"
    assert (REPO / "DATASET_CARD.md").read_bytes() == (root / "DATASET_CARD.md").read_bytes(), fix
    assert (REPO / "splits" / "manifest.json").read_bytes() == (root / "splits" / "manifest.json").read_bytes(), fix
    plot = root / "docs" / "label_distribution.png"
    assert (REPO / "docs" / "label_distribution.png").read_bytes() == plot.read_bytes(), fix


def test_sample_export_annotators_are_bundled():
    mapping = json.loads((pipeline.SAMPLE_ANNOTATIONS.parent / "annotators.json").read_text())
    assert sorted(mapping.values()) == ["adjudicator@example.org", "alex@example.org", "sam@example.org"]
