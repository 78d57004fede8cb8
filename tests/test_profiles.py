"""Profiles: thresholds per segment, first match wins, named in the JSON output; lint checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cmrules import config as config_mod
from cmrules.cli import cli
from cmrules.model import Organisation, OrgKind
from cmrules.profiles import parse, select

AS_OF = "2026-11-20T12:00:00Z"
# the demo's regulated clients get 60 days for validations (a legal review takes time), and
# an e-reputation plan is not asked of the small hotel segment
PROFILES = """\
profiles:
  - name: regulated
    match: {industry: [Chemicals, banking, assurance, santé]}
    params: {CMR006: {max_validation_days: 60}}
  - name: hospitality
    match: {industry: hôtellerie, kind: company}
    disable: [CMR017]
  - name: everything-chemical        # never reached for Durand: 'regulated' comes first
    match: {industry: chemicals}
    disable: [CMR001]
"""


def _evaluate(cfg: Path, vendor: str) -> dict[str, dict]:
    result = CliRunner().invoke(
        cli,
        ["--config", str(cfg), "evaluate", "--vendor", vendor, "--as-of", AS_OF,
         "--no-write", "--format", "json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return {r["id"]: r for r in json.loads(result.stdout)["records"]}


def _rules(record: dict) -> set[str]:
    return {f["rule_id"] for f in record["findings"]}


def test_first_matching_profile_applies_and_is_named(tmp_path: Path) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text("language: en\n", "utf-8")
    cfg = tmp_path / "cmrules.yaml"
    cfg.write_text("language: en\n" + PROFILES, "utf-8")
    before = _evaluate(plain, "v-hashtag")
    after = _evaluate(cfg, "v-hashtag")
    # Durand & Fils (chemicals) takes longer than 7 days to validate, but less than 60
    assert "CMR006" in _rules(before["c-durand"])
    assert after["c-durand"]["profile"] == "regulated"
    assert "CMR006" not in _rules(after["c-durand"])
    assert "CMR001" in _rules(after["c-durand"]), "the later chemical profile is not applied"
    # Boulangeries Lefèvre (food retail) matches no profile
    assert after["c-lefevre"]["profile"] == "default"
    assert after["c-lefevre"]["findings"] == before["c-lefevre"]["findings"]
    buzz = _evaluate(cfg, "v-buzz")
    assert buzz["c-embruns"]["profile"] == "hospitality"
    assert "CMR017" not in _rules(buzz["c-embruns"])
    assert "CMR006" in _rules(buzz["c-embruns"]), "the default threshold still applies there"
    assert buzz["v-buzz"]["profile"] == "default", "kind: company keeps the vendor out"


def test_matching_reads_attributes_as_text_and_a_missing_attribute_does_not_match() -> None:
    profiles = parse(
        [{"name": "gold", "match": {"tier": "Gold", "regulated": True}},
         {"name": "team", "match": {"owner_team": ["Grands comptes", "PME"]}}],
        lambda *a: "cmrules.yaml:1",
    )  # fmt: skip

    def org(**attrs: object) -> Organisation:
        return Organisation("c", "C", OrgKind.COMPANY, attributes=attrs)

    assert select(profiles, org(tier="GOLD", regulated=True)).name == "gold"  # type: ignore[union-attr]
    assert select(profiles, org(tier="gold", regulated="true")).name == "gold"  # type: ignore[union-attr]
    assert select(profiles, org(tier="gold")) is None  # regulated unknown: no match
    assert select(profiles, org(owner_team="pme")).name == "team"  # type: ignore[union-attr]
    assert select(profiles, org()) is None


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("profiles:\n  - name: x\n    match: {sector: bank}\n",
         "cmrules.yaml:3: profile 'x' matches on unknown attribute 'sector'"),
        ("profiles:\n  - name: default\n    match: {tier: a}\n",
         "cmrules.yaml:2: profile name 'default' is reserved"),
        ("profiles:\n  - name: x\n", "cmrules.yaml:2: profile 'x' needs match"),
        ("profiles:\n  - name: x\n    match: {tier: a}\n    parms: {}\n",
         "cmrules.yaml:4: unknown key profiles[0].parms"),
    ],
)  # fmt: skip
def test_config_errors_name_file_and_line(tmp_path: Path, text: str, error: str) -> None:
    cfg = tmp_path / "cmrules.yaml"
    cfg.write_text(text, "utf-8")
    with pytest.raises(config_mod.ConfigError, match=error.replace("[", r"\[").replace("]", r"\]")):
        config_mod.load(cfg, known_connectors={"local"})


@pytest.mark.parametrize(
    ("profile", "error"),
    [
        ("params: {CMR999: {x: 1}}", "profile 'p' sets parameters of unknown rule 'CMR999'"),
        ("params: {CMR006: {max_days: 3}}",
         "profile 'p': params.CMR006.max_days: unknown parameter (parameters of CMR006: "
         "max_validation_days, window_days)"),
        ("params: {CMR006: {max_validation_days: soon}}",
         "profile 'p': params.CMR006.max_validation_days: expected a int"),
        ("disable: [CMR999]", "profile 'p' disables unknown rule 'CMR999'"),
    ],
)  # fmt: skip
def test_lint_checks_profiles_against_the_rules(tmp_path: Path, profile: str, error: str) -> None:
    cfg = tmp_path / "cmrules.yaml"
    cfg.write_text(f"profiles:\n  - name: p\n    match: {{tier: a}}\n    {profile}\n", "utf-8")
    result = CliRunner().invoke(cli, ["--config", str(cfg), "rules", "lint"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {cfg}:2: ") and error in result.stderr, result.stderr
