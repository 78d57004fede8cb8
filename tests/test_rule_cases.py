"""The built-in rules' cases (``tests/cases/*.test.yaml``) run through ``cmrules rules test``.

The command runs once, as a rule author would run it (JSON output, coverage at 100 %); each
case then gets its own test so a failure names the case, the rule, expected and got.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cmrules import rulebook, ruletest
from cmrules.cli import cli

CASES_DIR = Path(__file__).parent / "cases"
RULES = rulebook.load()


def _checks() -> list[Any]:
    files, _ = ruletest.discover([CASES_DIR])
    out = []
    for case in ruletest.load_cases(files, RULES):
        for e in case.expectations:
            where = case.where.rsplit("/", 1)[-1]
            out.append(pytest.param(case.where, case.name, e.rule_id, id=f"{where}-{e.rule_id}"))
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    args = ["rules", "test", str(CASES_DIR), "--format", "json", "--min-coverage", "100"]
    with pytest.MonkeyPatch.context() as mp:  # no user config or home, as in conftest
        home = tmp_path_factory.mktemp("home")
        mp.setenv("CMRULES_HOME", str(home))
        mp.delenv("CMRULES_CONFIG", raising=False)
        mp.chdir(home)
        result = CliRunner().invoke(cli, args)
    assert result.exit_code in (0, 1), result.output
    return {"exit_code": result.exit_code, "report": json.loads(result.stdout)}


def test_the_command_passes_with_full_coverage(run: dict[str, Any]) -> None:
    assert run["exit_code"] == 0, [r for r in run["report"]["results"] if not r["passed"]]
    assert run["report"]["coverage_percent"] == 100.0
    assert set(run["report"]["coverage"]) == {r.id for r in RULES}, "every rule has cases"


@pytest.mark.parametrize(("where", "name", "rule_id"), _checks())
def test_rule_case(run: dict[str, Any], where: str, name: str, rule_id: str) -> None:
    hits = [
        r for r in run["report"]["results"]
        if r["where"] == where and r["case"] == name and r["rule_id"] == rule_id
    ]  # fmt: skip
    assert len(hits) == 1, f"{where} {name}: not run by 'cmrules rules test'"
    r = hits[0]
    assert r["passed"], f"{rule_id} {name}: expected {r['expected']}, got {r['got']} {r['message']}"
