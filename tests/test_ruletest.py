"""``cmrules rules test``: a rule author's own rules and tests in a folder of their own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cmrules.cli import cli

RULE = """\
rules:
  - id: ACME001
    name: acme.weekly-meetings
    side: vendor
    criterion: 8
    severity: medium
    question:
      fr: "Le contact est-il facile : réunions, échanges réguliers ?"
      en: "Is contact with my team easy: meetings, regular exchanges?"
    params:
      max_days: 10
    when: {signal: days_since_last_meeting, op: gt, param: max_days}
    message:
      fr: "Aucune réunion depuis {days_since_last_meeting} jours (maximum {max_days})."
      en: "No meeting for {days_since_last_meeting} days (at most {max_days})."
    advice:
      fr: "Planifiez un point hebdomadaire."
      en: "Schedule a weekly check-in."
"""

PASSING = """\
rule: ACME001
cases:
  - name: three weeks without a meeting
    signals: {days_since_last_meeting: 21}
    expect: fired
    message: ["21 days", "at most 10"]
  - name: a meeting last week
    signals: {days_since_last_meeting: "7"}     # as a CRM sends it
    expect: silent
"""

FAILING = """\
rule: ACME001
cases:
  - name: eleven days is still fine for us   # wrong: the rule says at most 10
    signals: {days_since_last_meeting: 11}
    expect: silent
"""


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["rules", "test", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "my-rules"
    d.mkdir()
    (d / "acme.yaml").write_text(RULE, "utf-8")
    return d


def test_a_passing_test_exits_0_and_coverage_names_the_missing_outcome(folder: Path) -> None:
    (folder / "acme.test.yaml").write_text(PASSING, "utf-8")
    code, out, _ = _run(str(folder), "--coverage")
    assert code == 0, out
    assert "2 checks: 2 passed, 0 failed" in out
    # only the rule of the folder is in scope, and it lacks a cannot-assess case
    assert "ACME001" in out and "CMR001" not in out
    assert out.splitlines()[-2].split() == ["ACME001", "1", "1", "0", "cannot_assess"]
    assert "coverage: 66.7 %" in out
    code, _, err = _run(str(folder), "--min-coverage", "100")
    assert code == 1 and "under --min-coverage 100" in err


def test_a_failing_test_exits_1_with_expected_and_got(folder: Path) -> None:
    (folder / "acme.test.yaml").write_text(PASSING, "utf-8")
    (folder / "acme-edge.test.yaml").write_text(FAILING, "utf-8")
    code, out, _ = _run(str(folder))
    assert code == 1
    assert "FAIL" in out and "acme-edge.test.yaml:3" in out
    assert "expected silent, got fired" in out
    code, out, _ = _run(str(folder), "--format", "json")
    report = json.loads(out)
    assert code == 1 and report["failed"] == 1
    [bad] = [r for r in report["results"] if not r["passed"]]
    assert (bad["expected"], bad["got"]) == ("silent", "fired")


def test_a_missing_message_fragment_fails(folder: Path) -> None:
    (folder / "acme.test.yaml").write_text(PASSING.replace('"at most 10"', '"at most 14"'), "utf-8")
    code, out, _ = _run(str(folder))
    assert code == 1
    assert "message lacks 'at most 14': No meeting for 21 days (at most 10)." in out


def test_params_in_a_case_tune_the_rule_and_the_config_params_apply(
    folder: Path, tmp_path: Path
) -> None:
    (folder / "acme.test.yaml").write_text(
        "rule: ACME001\ncases:\n"
        "  - {name: with 30 days allowed, params: {max_days: 30},"
        " signals: {days_since_last_meeting: 21}, expect: silent}\n"
        "  - {name: unknown, signals: {}, expect: cannot_assess}\n"
        "  - {name: config allows 25, signals: {days_since_last_meeting: 21}, expect: silent}\n",
        "utf-8",
    )
    cfg = tmp_path / "cmrules.yaml"
    cfg.write_text("rules:\n  dirs: [my-rules]\n  params: {ACME001: {max_days: 25}}\n", "utf-8")
    result = CliRunner().invoke(cli, ["--config", str(cfg), "rules", "test"])  # rules.dirs
    assert result.exit_code == 0, result.output
    assert "3 checks: 3 passed" in result.stdout


def test_a_dataset_case_evaluates_real_records(folder: Path) -> None:
    (folder / "acme.test.yaml").write_text(
        """\
rule: ACME001
as_of: 2026-11-20T12:00:00Z
cases:
  - name: last meeting on 1 November, as recorded in the CRM
    company: c-1
    dataset:
      organisations:
        - {id: v-1, name: Agence Exemple, kind: vendor}
        - {id: c-1, name: Fromagerie Dupont, kind: company}
      engagements:
        - {company: c-1, vendor: v-1, started: 2025-01-01}
      activities:
        - {id: m-1, kind: meeting, date: 2026-11-01T09:00:00Z, company: c-1, vendor: v-1,
           status: completed}
    expect: {ACME001: {outcome: fired, message: ["19 days"]}, CMR010: fired}
""",
        "utf-8",
    )
    code, out, _ = _run(str(folder))
    assert code == 0, out
    assert "2 checks: 2 passed" in out


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("rule: ACME001\ncases:\n  - {name: x, signals: {days_since_lst_meeting: 3}, "
         "expect: fired}\n", "test.yaml:3: 'days_since_lst_meeting' is not a signal of ACME001"),
        ("rule: ACME001\ncases:\n  - {name: x, signals: {}, expect: fires}\n",
         "test.yaml:3: expected outcome 'fires' is not one of fired, silent, cannot_assess"),
        ("rule: ACME002\ncases:\n  - {name: x, signals: {}, expect: fired}\n",
         "test.yaml:3: unknown rule 'ACME002'"),
        ("rule: ACME001\ncases:\n  - name: x\n    params: {max_dayz: 3}\n    signals: {}\n"
         "    expect: fired\n", "test.yaml:4: params: ACME001.max_dayz: unknown parameter"),
        ("rule: ACME001\ncases:\n  - {name: x, dataset: {organisations: []}, expect: fired}\n",
         "test.yaml:3: a dataset case needs as_of"),
        ("rule: ACME001\ncases: [\n", "test.yaml:3: invalid YAML"),
        ("rule: ACME001\nas_of: 2026-11-20\ncases:\n  - name: x\n    company: c-1\n"
         "    dataset:\n      organisations:\n        - {id: c-1, name: C, kind: client}\n"
         "    expect: fired\n", "test.yaml:8: organisations[0]: kind 'client' is not one of"),
    ],
)  # fmt: skip
def test_a_bad_test_file_is_one_error_with_file_and_line(
    folder: Path, text: str, error: str
) -> None:
    (folder / "acme.test.yaml").write_text(text, "utf-8")
    code, _, err = _run(str(folder))
    assert code == 2
    assert err.startswith("Error: ") and error in err, err
    assert "Traceback" not in err


def test_test_files_beside_rules_are_not_loaded_as_rules(folder: Path) -> None:
    (folder / "acme.test.yaml").write_text(PASSING, "utf-8")
    result = CliRunner().invoke(cli, ["rules", "lint", str(folder)])
    assert result.exit_code == 0, result.output
    assert "1 rules OK" in result.stdout
