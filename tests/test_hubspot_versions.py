"""HubSpot API versions: one setting, one path table, 2026-09 semantics handled on purpose."""

from __future__ import annotations

from datetime import date

import pytest
from hubspot_fake import FakeClock, FakeHubSpot, make_connector, populate, utc

from cmrules import service
from cmrules.connectors.hubspot.client import API_VERSIONS
from cmrules.errors import ConfigError

AS_OF = utc(2026, 11, 20, 12)
SETTINGS = {
    "client_association_labels": ["Client"],
    "attributes": {"regulated": "cm_regulated", "kpis_defined": "cm_kpis_defined"},
}


def sync_portal(api_version: str, tweak=None) -> tuple[FakeHubSpot, dict]:
    """A demo-sized portal (40 companies, 4 agencies) set up and synced through one version."""
    with FakeHubSpot() as fake:
        populate(fake, 40, vendors=4)
        if tweak:
            tweak(fake)
        connector = make_connector(fake, FakeClock(), api_version=api_version, **SETTINGS)
        session = service.open_session(None, connector=connector)
        connector.rule_ids = [r.id for r in session.rulebook]
        connector.setup()
        report = service.sync(session, full=True, as_of=AS_OF)
        flags = {
            cid: {k: v for k, v in rec["properties"].items() if k.startswith("cmrules_")}
            for cid, rec in fake.objects["companies"].items()
        }
        notes = {
            cid: sorted(n["properties"]["hs_note_body"] for n in fake.notes_of(cid))
            for cid in fake.objects["companies"]
        }
        findings = {
            r.subject.id: sorted((f.rule_id, f.status, f.severity) for f in r.findings)
            for r in report.records
        }
        return fake, {
            "report": report,
            "flags": flags,
            "notes": notes,
            "findings": findings,
            "versions": {c["version"] for c in fake.calls},
            "calls": len(fake.calls),
        }


def test_2026_09_and_legacy_give_identical_findings_notes_and_flags():
    # the switch is a transport detail: a customer changing api_version sees the same result
    _, new = sync_portal("2026-09")
    _, old = sync_portal("legacy")
    assert new["versions"] == {"2026-09"} and old["versions"] == {"legacy"}
    assert new["findings"] == old["findings"] and len(new["findings"]) == 40
    assert any(new["findings"].values())  # findings were really produced
    assert new["notes"] == old["notes"] and sum(map(len, new["notes"].values())) == 40
    assert new["flags"] == old["flags"]
    assert new["report"].summary()["failed"] == 0 == old["report"].summary()["failed"]
    assert new["calls"] <= old["calls"]


def test_default_is_2026_09_and_every_path_comes_from_the_table():
    with FakeHubSpot() as fake:
        populate(fake, 12, vendors=2)
        connector = make_connector(fake, **SETTINGS)
        assert connector.client.api is API_VERSIONS["2026-09"]
        vendors = connector.reader.vendor_ids()
        connector.load(vendors)
        sent = {c["sent"] for c in fake.calls}
        assert all(
            p.startswith(("/crm/objects/2026-09/", "/crm/associations/2026-09/")) for p in sent
        )
        assert "/crm/associations/2026-09/companies/contacts/batch/read" in sent


def test_unknown_api_version_is_one_config_error():
    with FakeHubSpot() as fake, pytest.raises(ConfigError) as err:
        make_connector(fake, api_version="v3")
    assert "hubspot.api_version is 'v3'" in str(err.value) and "legacy" in str(err.value)


# -- check: version, end of support, credential -----------------------------------------------
def test_check_prints_version_support_and_credential_kind():
    with FakeHubSpot() as fake:
        lines = make_connector(fake).check(today=date(2026, 11, 26))
    assert lines[0].startswith("hubspot: API version 2026-09 — date-based, released 8 Sep 2026")
    assert "supported until about 8 Mar 2028" in lines[0]
    assert not any(line.startswith("warning:") for line in lines)
    assert "credential: Service Key (from hubspot.service_key;" in lines[1]


@pytest.mark.parametrize(
    ("today", "warned"),
    [
        (date(2026, 12, 29), False),  # 91 days before 30 Mar 2027
        (date(2026, 12, 30), True),  # 90 days before: the warning names the date
        (date(2027, 4, 2), True),  # already unsupported
    ],
)
def test_legacy_warns_within_90_days_of_v4_end_of_support(today, warned):
    with FakeHubSpot() as fake:
        lines = make_connector(fake, api_version="legacy").check(today=today)
    assert "v4 associations unsupported from 30 Mar 2027" in lines[0]
    warnings = [line for line in lines if "30 Mar 2027" in line and line.startswith("warning:")]
    assert bool(warnings) is warned
    if warned:
        assert "set hubspot.api_version to 2026-09" in warnings[0]


def test_legacy_private_app_token_is_accepted_with_a_warning(monkeypatch):
    with FakeHubSpot() as fake:
        monkeypatch.setenv("HUBSPOT_TOKEN", fake.token)
        connector = make_connector(fake, service_key=None)
        lines = connector.check(today=date(2026, 11, 26))
    assert "credential: legacy private-app token (from HUBSPOT_TOKEN;" in lines[1]
    assert any("legacy private apps can no longer be created" in line for line in lines)


def test_no_credential_points_at_service_keys(monkeypatch):
    monkeypatch.delenv("HUBSPOT_TOKEN", raising=False)
    monkeypatch.delenv("HUBSPOT_SERVICE_KEY", raising=False)
    with FakeHubSpot() as fake, pytest.raises(ConfigError) as err:
        make_connector(fake, service_key=None)
    assert "create a Service Key" in str(err.value) and "HUBSPOT_SERVICE_KEY" in str(err.value)


def test_check_names_every_missing_read_scope_at_once():
    with FakeHubSpot() as fake:
        fake.scopes -= {"crm.objects.contacts.read", "crm.objects.deals.read"}
        with pytest.raises(Exception) as err:
            make_connector(fake, clients_via_deals=True).check(today=date(2026, 11, 26))
    text = str(err.value)
    assert "lacks the scope(s) crm.objects.contacts.read, crm.objects.deals.read" in text
    assert err.value.exit_code == 3  # type: ignore[attr-defined]
