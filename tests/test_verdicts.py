"""The reproductions of issue #8 through the real CLI on the local store: observation windows,
too early, and every vendor named — in the table, markdown, JSON and notes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cmrules.cli import cli

AS_OF = "2026-11-20"
DATA = Path(__file__).parent / "data" / "verdicts.yaml"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    cfg = tmp_path / "cmrules.yaml"
    cfg.write_text(f"language: en\nlocal: {{path: {tmp_path / 'db.sqlite3'}, demo: false}}\n")
    result = CliRunner().invoke(cli, ["--config", str(cfg), "local", "import", str(DATA)])
    assert result.exit_code == 0, result.output
    return cfg


def evaluate(config: Path, *args: str) -> str:
    result = CliRunner().invoke(
        cli, ["--config", str(config), "evaluate", "--as-of", AS_OF, "--no-write", *args]
    )
    assert result.exit_code in (0, 1), result.output
    return result.stdout


def findings_of(report: dict, record: str) -> dict[str, list[dict]]:
    [r] = [r for r in report["records"] if r["id"] == record]
    out: dict[str, list[dict]] = {}
    for f in r["findings"]:
        out.setdefault(f["rule_id"], []).append(f)
    return out


def test_fortnightly_meetings_since_five_weeks_are_not_flagged(config: Path) -> None:
    report = json.loads(evaluate(config, "--vendor", "v-a", "--format", "json"))
    found = findings_of(report, "c-new")
    assert "CMR011" not in found and "CMR010" not in found, found.get("CMR011")


def test_two_meetings_in_26_days_is_too_early_not_a_finding(config: Path) -> None:
    report = json.loads(evaluate(config, "--vendor", "v-a", "--format", "json"))
    found = findings_of(report, "c-young")
    for rule in ("CMR010", "CMR011"):
        [f] = found[rule]
        assert f["status"] == "cannot_assess"
        assert "too early to judge: 3 weeks observed" in f["message"], f["message"]
        reasons = [e["reason"] for e in f["evidence"] if e["reason"]]
        assert {"code": "too_early", "observed_days": 26, "needed_days": 30} in reasons


def test_every_engagement_of_a_two_vendor_company_is_evaluated_and_named(config: Path) -> None:
    report = json.loads(evaluate(config, "--vendor", "v-a", "--format", "json"))
    [record] = [r for r in report["records"] if r["id"] == "c-two"]
    assert [v["name"] for v in record["vendors"]] == ["Agence Alpha", "Agence Bêta"]
    [cmr008] = findings_of(report, "c-two")["CMR008"]  # the referent missing at Bêta only
    assert cmr008["subject"]["vendor_id"] == "v-b"
    assert cmr008["subject"]["vendor_name"] == "Agence Bêta"
    by_company = json.loads(evaluate(config, "--company", "c-two", "--vendor", "v-b",
                                     "--format", "json"))  # fmt: skip
    assert by_company["records"][0]["fingerprint"] == record["fingerprint"], (
        "the same findings whichever vendor brought the company into the run"
    )


def test_table_markdown_and_note_name_the_vendor(config: Path) -> None:
    table = evaluate(config, "--vendor", "v-a")
    assert "CMR008 · Agence Bêta · The vendor has named no referent" in table
    markdown = evaluate(config, "--vendor", "v-a", "--format", "markdown")
    assert "CMR008 · Agence Bêta" in markdown
    result = CliRunner().invoke(
        cli, ["--config", str(config), "evaluate", "--as-of", AS_OF, "--company", "c-two",
              "--dry-run"],
    )  # fmt: skip
    note = result.stdout
    alpha, beta = note.index("\nVendor: Agence Alpha\n"), note.index("\nVendor: Agence Bêta\n")
    assert alpha < beta, "grouped by vendor: worst first, then by name (both have a high one)"
    assert "CMR008" not in note[alpha:beta] and "CMR008" in note[beta:], "under Bêta only"


def test_cmrules_signals_lists_the_windows() -> None:
    out = CliRunner().invoke(cli, ["signals", "--lang", "en"]).output
    row = next(x for x in out.splitlines() if x.startswith("meetings_per_month"))
    assert row.split()[1:4] == ["company", "decimal", "90"]
    data = json.loads(CliRunner().invoke(cli, ["signals", "--format", "json"]).output)
    windows = {s["name"]: s["window_days"] for s in data}
    assert windows["meetings_per_month"] == 90 and windows["strategy_reviews_365d"] == 365


def test_coverage_override_in_config_makes_absence_not_evidence(config: Path) -> None:
    """``coverage.local``: this store holds meetings only — exchanges are then not recorded."""
    config.write_text(
        config.read_text() + "coverage: {local: {activity_kinds: [meeting], attendees: false}}\n"
    )
    report = json.loads(evaluate(config, "--vendor", "v-a", "--format", "json"))
    [f] = findings_of(report, "c-new")["CMR011"]
    assert f["status"] == "cannot_assess"
    assert "calls, e-mails or tickets not recorded by local" in f["message"]
    cmr004 = findings_of(report, "c-two")["CMR004"]  # no sponsor: fires whatever the attendees
    assert [f["status"] for f in cmr004] == ["fired", "fired"]  # one per vendor


def test_a_rule_window_set_in_config(config: Path) -> None:
    config.write_text(
        config.read_text() + "signals: {min_observed_days: 7}\n"
        "rules: {params: {CMR010: {window_days: 14, min_meetings_per_month: 3}}}\n"
    )
    report = json.loads(evaluate(config, "--vendor", "v-a", "--format", "json"))
    [cmr010] = findings_of(report, "c-young")["CMR010"]  # one meeting in the last 14 days
    assert cmr010["status"] == "fired"
    assert "2.14 meetings per month over the last 14 days" in cmr010["message"]
    ev = {e["signal"]: e for e in cmr010["evidence"]}
    assert ev["meetings_per_month"]["window_days"] == 14


def test_two_rules_reading_one_signal_over_different_windows_is_an_error(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "extra.yaml").write_text(
        "rules:\n  - id: ACME001\n    name: acme.meetings\n    side: vendor\n    criterion: 8\n"
        "    severity: low\n    question: {fr: q, en: q}\n    params: {window_days: 30}\n"
        "    when: {signal: meetings_per_month, op: lt, value: 2}\n"
        "    message: {fr: m, en: m}\n    advice: {fr: a, en: a}\n",
        "utf-8",
    )
    cfg = tmp_path / "cmrules.yaml"
    cfg.write_text(f"rules: {{dirs: [{rules}]}}\nlocal: {{path: {tmp_path / 'db'}}}\n")
    result = CliRunner().invoke(cli, ["--config", str(cfg), "evaluate", "--vendor", "v-pixel"])
    assert result.exit_code == 2, result.output
    assert (
        "rules ACME001 and CMR010 both read meetings_per_month but over different windows "
        "(30 and 90 days)" in result.output
    )
