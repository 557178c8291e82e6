"""The house rules of docs/architecture.md, checked on the source: data flows one way, rooms stay small.

Read with ``ast`` from the files under ``dataset_builder/`` (nothing is imported): which stage
imports which, how long each module and each function is.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "dataset_builder"

# The stages in the order data flows (docs/architecture.md). A stage may import the base modules
# and the stages before it, never one after it; the base modules import only each other.
BASE = ("errors", "records", "schema", "jsonl")
STAGES = ("ingest", "segment", "corpora", "label_studio", "normalise", "splits", "build", "scoring", "baselines",
          "predict", "publish", "pipeline", "cli")
MAX_MODULE_LINES = 800
MAX_FUNCTION_LINES = 120


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _stage_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0].removesuffix(".py") if parts[0] != "__init__.py" else "__init__"


def _imported_stages(path: Path, root: Path = PACKAGE) -> set[str]:
    """The top-level modules of ``dataset_builder`` (at ``root``) that ``path`` imports (relative or absolute)."""
    rel = path.relative_to(root).parts
    package = ["dataset_builder", *rel[:-1]]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                module = package[: len(package) - node.level + 1] + (node.module.split(".") if node.module else [])
            else:
                module = (node.module or "").split(".")
            if module[:1] != ["dataset_builder"]:
                continue
            names = module[1:2] or [a.name for a in node.names]
            found.update(n for n in names if (root / n).is_dir() or (root / f"{n}.py").is_file())
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "dataset_builder" and len(parts) > 1:
                    found.add(parts[1])
    own = rel[0].removesuffix(".py")
    return found - {own}


def test_every_module_belongs_to_a_known_stage():
    stages = {_stage_of(p) for p in _sources()} - {"__init__"}
    assert stages <= set(BASE) | set(STAGES), f"new stage(s) {sorted(stages - set(BASE) - set(STAGES))}: place them"


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_from_a_later_stage_or_the_cli(path):
    stage = _stage_of(path)
    imported = _imported_stages(path)
    if stage in BASE or stage == "__init__":
        allowed = set(BASE)
    else:
        allowed = set(BASE) | set(STAGES[: STAGES.index(stage)])
    assert "cli" not in imported or stage == "cli", f"{path} imports the command line"
    assert imported <= allowed, f"{path} ({stage}) imports the later stage(s) {sorted(imported - allowed)}"


def test_the_rule_sees_an_upward_import(tmp_path):
    """The check above can fail: a stage that imports a later one, or the CLI, is caught."""
    fake = tmp_path / "dataset_builder"
    (fake / "normalise").mkdir(parents=True)
    (fake / "build").mkdir()
    (fake / "cli.py").write_text("", encoding="utf-8")
    rules = fake / "normalise" / "rules.py"
    rules.write_text("from ..build import card\nfrom .. import cli\nfrom . import spans\nimport json\n", encoding="utf-8")
    assert _imported_stages(rules, fake) == {"build", "cli"}


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_rooms_stay_small(path):
    source = path.read_text(encoding="utf-8")
    assert len(source.splitlines()) <= MAX_MODULE_LINES, f"{path} has {len(source.splitlines())} lines: split it"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            assert length <= MAX_FUNCTION_LINES, f"{path}:{node.lineno} {node.name} is {length} lines long"
