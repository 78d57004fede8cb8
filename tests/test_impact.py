"""``cmrules rules impact``: exactly the records whose findings a rule change would change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cmrules import service
from cmrules.cli import cli
from cmrules.model import OrgKind
from cmrules.rulebook import builtin_rules_dir
from cmrules.signals import CompanyContext, compute

AS_OF = "2026-11-20T12:00:00Z"


def _impact(*args: str) -> dict:
    result = CliRunner().invoke(
        cli, ["rules", "impact", *args, "--as-of", AS_OF, "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _exchanges_per_month() -> dict[tuple[str, str], float | None]:
    """Each demo engagement's exchanges per month — read straight from the signals."""
    s = service.open_session(None)
    try:
        vendors = [o.id for o in s.connector.find_organisations("", OrgKind.VENDOR)]
        ds = s.prepare(s.connector.load(vendors))  # classified as every run classifies
        as_of = service.parse_as_of(AS_OF)
        out = {}
        for e in ds.engagements:
            ctx = CompanyContext(
                ds, ds.organisations[e.company_id], ds.organisations[e.vendor_id], as_of
            )
            out[(e.company_id, e.vendor_id)] = compute(ctx, ["exchanges_per_month"])[
                "exchanges_per_month"
            ].value
        return out
    finally:
        s.close()


def test_one_threshold_changed_lists_exactly_the_records_whose_findings_change(
    tmp_path: Path,
) -> None:
    """CMR011 fires below min_exchanges_per_month exchanges a month (default 2).  Raised to 3,
    the engagements with 2 ≤ exchanges < 3 gain the finding — and nothing else changes."""
    proposal = tmp_path / "proposal.yaml"
    proposal.write_text("CMR011: {min_exchanges_per_month: 3}\n", "utf-8")
    report = _impact("--params", str(proposal), "--all")

    rates = _exchanges_per_month()
    expected = sorted(k for k, v in rates.items() if v is not None and 2 <= v < 3)
    assert expected, "the demo has engagements between the two thresholds"
    assert len(expected) < len(rates), "and engagements outside them"
    got = sorted((c["record_id"], c["vendor_id"]) for c in report["changes"])
    assert got == expected
    assert {(c["rule_id"], c["change"], c["before"], c["after"]) for c in report["changes"]} == {
        ("CMR011", "gained", None, "fired/low")
    }
    assert report["totals"] == {
        "records_evaluated": 15, "records_changed": len({c for c, _ in expected}),
        "gained": len(expected), "lost": 0, "changed": 0,
    }  # fmt: skip
    assert report["per_rule"] == {"CMR011": {"gained": len(expected), "lost": 0, "changed": 0}}


def test_a_rules_folder_with_the_edited_rule_gives_the_same_impact(tmp_path: Path) -> None:
    proposed = tmp_path / "proposed"
    proposed.mkdir()
    text = (builtin_rules_dir() / "vendor.yaml").read_text("utf-8")
    assert text.count("min_exchanges_per_month: 2") == 1
    (proposed / "vendor.yaml").write_text(
        text.replace("min_exchanges_per_month: 2", "min_exchanges_per_month: 3"), "utf-8"
    )
    params = tmp_path / "proposal.yaml"
    params.write_text("CMR011: {min_exchanges_per_month: 3}\n", "utf-8")
    by_dir = _impact("--rules", str(proposed), "--all")
    by_params = _impact("--params", str(params), "--all")
    assert by_dir["changes"] == by_params["changes"] and by_dir["changes"]


def test_lowering_a_threshold_loses_findings_and_writes_nothing(tmp_path: Path) -> None:
    proposal = tmp_path / "proposal.yaml"
    proposal.write_text("CMR011: {min_exchanges_per_month: 0.5}\n", "utf-8")
    report = _impact("--params", str(proposal), "--vendor", "Pixel Social")
    assert report["changes"] and {c["change"] for c in report["changes"]} == {"lost"}
    # nothing was written: the notes command finds no cmrules note on the record
    notes = CliRunner().invoke(cli, ["notes", "--company", "c-medina"])
    assert "Aucune note cmrules" in notes.stdout


def test_disabling_a_rule_in_the_proposal_and_the_markdown_table(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["rules", "impact", "--disable", "cmr020", "--all", "--as-of", AS_OF,
              "--format", "markdown"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "| Pixel Social | v-pixel | - | CMR020 | lost | fired/medium | - |" in result.stdout
    assert "| Nuage Média | v-nuage | - | CMR020 | lost | cannot_assess/info | - |" in result.stdout
    assert "per rule: CMR020 +0 -2 ~0" in result.stdout


@pytest.mark.parametrize(
    ("content", "args", "error"),
    [
        ("CMR011: {min_exchanges: 3}\n", ["--all"],
         "proposal.yaml:1: CMR011.min_exchanges: unknown parameter"),
        ("CMR999: {x: 1}\n", ["--all"], "proposal.yaml:1: unknown rule 'CMR999'"),
        ("CMR011: {min_exchanges_per_month: 3}\n", [], "say which portfolio"),
        ("- a\n", ["--all"], "proposal.yaml:1: a parameters file maps rule ids"),
    ],
)  # fmt: skip
def test_bad_proposals_are_one_error_line(
    tmp_path: Path, content: str, args: list[str], error: str
) -> None:
    proposal = tmp_path / "proposal.yaml"
    proposal.write_text(content, "utf-8")
    result = CliRunner().invoke(cli, ["rules", "impact", "--params", str(proposal), *args])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1].startswith("Error: ")
    assert error in result.stderr, result.stderr


def test_a_severity_change_is_a_changed_finding(tmp_path: Path) -> None:
    proposed = tmp_path / "proposed"
    proposed.mkdir()
    text = (builtin_rules_dir() / "vendor.yaml").read_text("utf-8")
    head, rest = text.split("  - id: CMR011", 1)
    rest = rest.replace("severity: low", "severity: medium", 1)
    (proposed / "vendor.yaml").write_text(head + "  - id: CMR011" + rest, "utf-8")
    report = _impact("--rules", str(proposed), "--vendor", "Pixel Social")
    assert report["changes"]
    assert {(c["rule_id"], c["change"], c["before"], c["after"]) for c in report["changes"]} == {
        ("CMR011", "changed", "fired/low", "fired/medium")
    }
