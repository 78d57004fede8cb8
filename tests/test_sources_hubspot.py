"""``source: hubspot`` + ``helpdesk: zendesk``: both connectors against their fakes, matched by
domain, tickets re-keyed onto HubSpot ids, findings written to HubSpot and Zendesk once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hubspot_fake import FakeClock, FakeHubSpot, make_connector
from zendesk_fake import EMAIL, TOKEN, Clock, note_for, scenario

from cmrules.connector import ConnectorContext
from cmrules.connectors.zendesk import ZendeskConnector
from cmrules.model import ActivityKind, Side
from cmrules.sources import CombinedConnector, build_source

RULES = ["CMR-001", "CMR-008"]


@pytest.fixture
def both():
    with FakeHubSpot() as hub:
        zd = scenario(hub._mock)  # one responses mock serves both fakes
        ids = {
            "agency": hub.company("SocialCo", type="VENDOR", domain="socialco.fr"),
            "acme": hub.company("Acme SA", domain="https://www.acme.com"),
            "delta": hub.company("Delta", domain="delta.com"),
        }
        for c in ("acme", "delta"):
            hub.associate("companies", ids["agency"], "companies", ids[c])
        ids["alice"] = hub.contact("Alice", "Owner", email="alice.owner@example.org")
        hub.associate("companies", ids["acme"], "contacts", ids["alice"], primary=True)
        make_connector(hub, rule_ids=RULES).setup()
        yield hub, zd, ids


def source(hub: FakeHubSpot) -> CombinedConnector:
    clock = FakeClock()
    hubspot = make_connector(hub, clock, rule_ids=RULES)
    zendesk = ZendeskConnector(
        {"subdomain": "acme", "email": EMAIL, "token": TOKEN},
        ConnectorContext(),
        sleep=Clock().sleep,
        clock=Clock(),
    )
    combined = build_source(hubspot, zendesk, "domain")
    assert isinstance(combined, CombinedConnector)
    return combined


def sync_like_the_core(hub: FakeHubSpot, vendor: str, fingerprint: str, rules: tuple) -> dict:
    """Load, skip records whose loaded fingerprint is unchanged, apply the others."""
    combined = source(hub)
    data = combined.load([vendor])
    written = {}
    for org in sorted(data.companies(), key=lambda o: o.id):
        note = note_for(org, fingerprint, f"{org.name}: {', '.join(rules)}", rules)
        if org.writeback.get("fingerprint") == note.fingerprint:
            continue
        written[org.id] = combined.apply(note)
    return {"data": data, "written": written, "unmatched": combined.unmatched}


def test_hubspot_plus_zendesk_reads_and_writes_both_once(both):
    hub, zd, ids = both
    hub.calls.clear()
    first = sync_like_the_core(hub, ids["agency"], "fp-1", ("CMR-001",))
    data = first["data"]
    acme = data.organisations[ids["acme"]]
    assert acme.attributes.get("has_ticket_data") is True
    assert "has_ticket_data" not in data.organisations[ids["delta"]].attributes
    tickets = {a.id: a for a in data.activities if a.kind == ActivityKind.TICKET}
    assert set(tickets) == {"zendesk:1000", "zendesk:1001", "zendesk:1002"}
    t = tickets["zendesk:1000"]
    assert (t.company_id, t.vendor_id, t.side) == (ids["acme"], ids["agency"], Side.COMPANY)
    assert t.contact_ids == (ids["alice"],)  # the Zendesk requester is HubSpot's Alice
    assert t.first_reply_minutes == 30.0 and tickets["zendesk:1001"].replies is None
    assert first["unmatched"] == [
        f"hubspot company 'Delta' (id {ids['delta']}): no zendesk organisation has domain "
        "'delta.com', so its helpdesk data is unknown",
        "zendesk organisation 'Beta' (id 201, beta.io) is a client of a vendor in this run but "
        "matches no hubspot company by domain: its tickets are not evaluated",
    ]
    assert first["written"] == {ids["acme"]: True, ids["delta"]: True}
    assert [oid for oid, _ in zd.puts] == [200]  # Delta has no Zendesk match
    assert len(hub.notes_of(ids["acme"])) == 1
    assert zd.orgs[200]["notes"].startswith("Human intro line.\nSecond human line.\n\n")
    assert "--- cmrules:begin fp-1 " in zd.orgs[200]["notes"]
    assert zd.orgs[200]["tags"] == [
        "vip",
        "region_west",
        "cmrules_flag_cmr_001",
        "cmrules_risk_high",
    ]

    hub_writes = hub.write_calls()
    second = sync_like_the_core(hub, ids["agency"], "fp-1", ("CMR-001",))
    assert second["written"] == {}  # both fingerprints agree: nothing to apply
    assert hub.write_calls() == hub_writes and len(zd.puts) == 1

    third = sync_like_the_core(hub, ids["agency"], "fp-2", ("CMR-008",))
    assert third["written"] == {ids["acme"]: True, ids["delta"]: True}
    assert len(hub.notes_of(ids["acme"])) == 2 and len(zd.puts) == 2
    notes = zd.orgs[200]["notes"]
    assert notes.count("--- cmrules:begin") == 1 and "--- cmrules:begin fp-2 " in notes
    assert zd.orgs[200]["tags"] == [
        "vip",
        "region_west",
        "cmrules_flag_cmr_008",
        "cmrules_risk_high",
    ]


def test_changed_zendesk_tickets_map_to_hubspot_companies(both):
    hub, zd, ids = both
    zd.org_export = [{"organizations": [], "end_of_stream": True, "end_time": 1}]
    zd.ticket_export = [{"tickets": [{"id": 7, "organization_id": 200}], "end_of_stream": True}]
    zd.user_export = [{"users": [], "end_of_stream": True}]
    since = datetime(2023, 11, 14, tzinfo=UTC)
    run_started = datetime(2023, 11, 15, tzinfo=UTC)
    change = source(hub).changed_since(since, run_started)
    assert ids["acme"] in change.organisation_ids
