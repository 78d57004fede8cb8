"""The import-linter contracts in pyproject.toml (run by `make lint`) are live: each breaks when
a violation is introduced into a copy of the package."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import cmrules

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(cmrules.__file__).resolve().parent


def lint_copy(tmp_path: Path, module: str, line: str) -> subprocess.CompletedProcess[str]:
    """Run lint-imports on a copy of the package with ``line`` added to ``module``."""
    copy = tmp_path / "cmrules"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    target.write_text(target.read_text("utf-8") + f"\n{line}\n", "utf-8")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    lint = Path(sys.executable).parent / "lint-imports"
    return subprocess.run(
        [str(lint), "--no-logo", "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # the engine is the only durable_rules user: its traps are handled there only
        ("model.py", "import durable_rules_engine", "Only cmrules.engine imports durable_rules"),
        # rendering findings must not load the rules engine
        ("output.py", "from . import engine", "Findings, notes, output and service"),
        # the CLI reaches connectors through the entry-point registry only
        ("cli/local.py", "from ..connectors.local import LocalConnector", "The core never"),
        # a connector's mappers are pure: they never reach up to its writer
        ("connectors/hubspot/mappers.py", "from . import writer", "HubSpot package"),
    ],
)
def test_a_violation_breaks_its_contract(tmp_path, module, line, broken):
    result = lint_copy(tmp_path, module, line)
    assert result.returncode != 0, result.stdout
    assert f"{broken}" in result.stdout and "BROKEN" in result.stdout, result.stdout
