"""Profiles matching on any CRM property (``property.NAME``), read by every connector."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import responses
from click.testing import CliRunner
from hubspot_fake import FakeClock, FakeHubSpot
from zendesk_fake import EMAIL, TOKEN, Clock, scenario

from cmrules.cli import cli
from cmrules.connector import ConnectorContext
from cmrules.connectors.hubspot import HubSpotConnector
from cmrules.connectors.zendesk import ZendeskConnector

AS_OF = "2026-11-20T12:00:00Z"


def test_a_local_property_selects_the_profile(tmp_path: Path) -> None:
    data = tmp_path / "data.yaml"
    data.write_text(
        """\
organisations:
  - {id: v-1, name: Agence Exemple, kind: vendor}
  - {id: c-1, name: Fromagerie Dupont, kind: company,
     properties: {customer_segment: Enterprise, lifecycle: customer}}
  - {id: c-2, name: Boulangerie Martin, kind: company, properties: {customer_segment: SMB}}
engagements:
  - {company: c-1, vendor: v-1, started: 2026-01-01}
  - {company: c-2, vendor: v-1, started: 2026-01-01}
""",
        "utf-8",
    )
    cfg = tmp_path / "cmrules.yaml"
    cfg.write_text(
        f"local: {{path: {tmp_path / 'own.sqlite3'}, demo: false}}\n"
        "profiles:\n  - name: enterprise\n    match: {property.customer_segment: enterprise}\n"
        "    disable: [CMR017]\n",
        "utf-8",
    )
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(cfg), "local", "import", str(data)]).exit_code == 0
    result = runner.invoke(
        cli, ["--config", str(cfg), "evaluate", "--vendor", "v-1", "--as-of", AS_OF,
              "--no-write", "--format", "json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    records = {r["id"]: r for r in json.loads(result.stdout)["records"]}
    assert records["c-1"]["profile"] == "enterprise"
    assert "CMR017" not in {f["rule_id"] for f in records["c-1"]["findings"]}
    assert records["c-2"]["profile"] == "default"
    assert "CMR017" in {f["rule_id"] for f in records["c-2"]["findings"]}  # not filled in


def test_a_bad_local_properties_row_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data.yaml"
    data.write_text(
        "organisations:\n  - {id: c-1, name: C, kind: company, properties: [a, b]}\n", "utf-8"
    )
    result = CliRunner().invoke(cli, ["local", "import", str(data)])
    assert result.exit_code == 2
    assert "data.yaml:2: organisations[0]: properties must map property names to values" in (
        result.stderr
    )


def test_hubspot_reads_the_properties_profiles_match_on() -> None:
    with FakeHubSpot() as fake:
        fake.define_property("companies", "customer_segment", "string")
        vendor = fake.company("Agence A", type="VENDOR")
        acme = fake.company("Acme", customer_segment="Enterprise")
        fake.associate("companies", vendor, "companies", acme, label="Client")
        clock = FakeClock()
        conn = HubSpotConnector(
            {"service_key": fake.token, "base_url": fake.base_url,
             "client_association_labels": ["Client"]},
            ConnectorContext(org_properties=("customer_segment",)),
            sleep=clock.sleep, clock=clock,
        )  # fmt: skip
        data = conn.load([vendor])
        assert data.organisations[acme].properties == {"customer_segment": "Enterprise"}
        assert data.organisations[vendor].properties == {}


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


def test_zendesk_reads_organisation_fields_profiles_match_on(rsps) -> None:
    zd = scenario(rsps)
    zd.orgs[200]["organization_fields"].update({"segment": "Enterprise", "other": "x"})
    clock = Clock()
    conn = ZendeskConnector(
        {"subdomain": "acme", "email": EMAIL, "token": TOKEN},
        ConnectorContext(org_properties=("segment",)),
        sleep=clock.sleep, clock=clock,
    )  # fmt: skip
    data = conn.load(["100"])
    assert data.organisations["200"].properties == {"segment": "Enterprise"}
    assert data.organisations["100"].properties == {}


def test_property_match_keys_pass_lint_and_empty_names_do_not(tmp_path: Path) -> None:
    cfg = tmp_path / "cmrules.yaml"
    cfg.write_text("profiles:\n  - name: p\n    match: {property.tier_x: a}\n", "utf-8")
    assert CliRunner().invoke(cli, ["--config", str(cfg), "rules", "lint"]).exit_code == 0
    cfg.write_text("profiles:\n  - name: p\n    match: {property.: a}\n", "utf-8")
    result = CliRunner().invoke(cli, ["--config", str(cfg), "rules", "lint"])
    assert result.exit_code == 2 and "matches on unknown attribute 'property.'" in result.stderr
