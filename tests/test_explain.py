"""``cmrules explain``: the three-valued reading of each rule agrees with the engine."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cmrules import service
from cmrules.cli import cli
from cmrules.explain import explain
from cmrules.model import OrgKind

AS_OF = "2026-11-20T12:00:00Z"


@pytest.fixture
def session():
    s = service.open_session(None)
    yield s
    s.close()


def test_explain_agrees_with_the_engine_on_every_demo_record(session) -> None:
    """Differential: explain's Kleene evaluation of the condition tree gives exactly the
    engine's outcome for every (record, vendor, rule) of the demo — 'silent' included."""
    as_of = service.parse_as_of(AS_OF)
    conn = session.connector
    compared = 0
    outcomes_seen = set()
    for company in conn.find_organisations("", OrgKind.COMPANY):
        if company.kind != OrgKind.COMPANY:
            continue
        report = service.evaluate(session, company=company.id, as_of=as_of, write=False)
        engine = {
            (f.subject.vendor_id, f.rule_id): f.status for r in report.records for f in r.findings
        }
        for item in explain(session, company=company.id, as_of=as_of):
            for r in item.rules:
                got = engine.get((item.vendor.id, r.rule.id), "silent")
                assert r.outcome == got, f"{company.id} {item.vendor.id} {r.rule.id}"
                outcomes_seen.add(got)
                compared += 1
    for vendor in conn.find_organisations("", OrgKind.VENDOR):
        if vendor.kind != OrgKind.VENDOR:
            continue
        report = service.evaluate(session, vendor=vendor.id, as_of=as_of, write=False)
        [own] = [r for r in report.records if r.subject.id == vendor.id]
        engine = {f.rule_id: f.status for f in own.findings}
        [item] = explain(session, vendor=vendor.id, as_of=as_of)
        for r in item.rules:
            assert r.outcome == engine.get(r.rule.id, "silent"), f"{vendor.id} {r.rule.id}"
            compared += 1
    assert compared > 150
    assert outcomes_seen == {"fired", "silent", "cannot_assess"}


def test_explain_shows_leaves_values_records_and_verdicts() -> None:
    result = CliRunner().invoke(
        cli,
        ["explain", "--company", "Café Médina", "--rule", "cmr010", "--as-of", AS_OF,
         "--format", "json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [item] = json.loads(result.stdout)
    assert item["record"]["id"] == "c-medina" and item["vendor"]["id"] == "v-pixel"
    assert item["profile"] == "default"
    [rule] = item["rules"]
    assert (rule["rule_id"], rule["verdict"], rule["outcome"]) == ("CMR010", "true", "fired")
    assert rule["params"] == {
        "max_days_between_meetings": 45,
        "min_meetings_per_month": 1,
        "window_days": 90,
    }
    cond = rule["condition"]
    assert cond["kind"] == "any" and cond["verdict"] == "true"
    leaf = cond["items"][0]
    assert leaf["signal"] == "days_since_last_meeting" and leaf["param"] == (
        "max_days_between_meetings"
    )
    assert leaf["threshold"] == 45 and leaf["value"] > 45 and leaf["verdict"] == "true"
    assert leaf["records"] and leaf["records"][0]["kind"] == "meeting"


def test_explain_names_the_profile_and_its_parameters(tmp_path) -> None:
    cfg = tmp_path / "cmrules.yaml"
    cfg.write_text(
        "profiles:\n  - name: restaurants\n    match: {industry: restauration}\n"
        "    params: {CMR010: {max_days_between_meetings: 90}}\n    disable: [CMR017]\n",
        "utf-8",
    )
    result = CliRunner().invoke(
        cli,
        ["--config", str(cfg), "explain", "--company", "c-medina", "--rule", "CMR010",
         "--as-of", AS_OF, "--lang", "en"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Café Médina (company c-medina) with Pixel Social (v-pixel) — profile restaurants" in out
    assert "disabled: CMR017" in out
    assert "max_days_between_meetings = 90" in out
    assert "days_since_last_meeting > max_days_between_meetings (90)" in out
    # still fired: fewer than one meeting a month over 90 days
    assert "CMR010 vendor.regular-meetings → fired" in out
    assert "meetings_per_month < min_meetings_per_month (1): value 0.33 → true" in out


def test_an_unknown_leaf_says_how_to_provide_the_data() -> None:
    result = CliRunner().invoke(
        cli, ["explain", "--company", "c-medina", "--rule", "CMR017", "--as-of", AS_OF,
              "--lang", "en"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "→ cannot assess" in result.stdout
    assert "escalation_plan = no: value ? → unknown  [record whether an e-reputation crisis" in (
        result.stdout
    )


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--company", "c-medina", "--rule", "CMR999"], "no rule 'CMR999'"),
        (["--company", "c-medina", "--rule", "CMR019"], "CMR019 is about the vendor record"),
        ([], "say what to explain"),
    ],
)
def test_explain_errors_are_one_line(args: list[str], error: str) -> None:
    result = CliRunner().invoke(cli, ["explain", *args, "--as-of", AS_OF])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1].startswith("Error: ") and error in result.stderr
