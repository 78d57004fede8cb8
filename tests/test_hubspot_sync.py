"""HubSpot connector: incremental change detection (changed_since)."""

from __future__ import annotations

import math
from datetime import timedelta

import requests
from hubspot_fake import FakeHubSpot, make_connector, utc

SINCE = utc(2026, 11, 1)
RUN = utc(2026, 11, 2, 3, 0)


def ms(moment) -> int:
    return int(moment.timestamp() * 1000)


def test_more_than_10k_changed_records_with_one_timestamp_are_all_read():
    """A HubSpot bulk job gave 10,050 companies the same hs_lastmodifieddate: the search cap
    (10,000; paging past it is a 400 in the fake) must not truncate the change set."""
    with FakeHubSpot() as fake:
        stamp = ms(SINCE) + 5_000
        ids = {fake.add("companies", {"name": f"C{i}"}, modified_ms=stamp) for i in range(10_050)}
        old = fake.add("companies", {"name": "old"}, modified_ms=ms(SINCE) - 1)
        connector = make_connector(fake)
        changes = connector.changed_since(SINCE, RUN)
        assert changes.organisation_ids == ids
        assert old not in changes.organisation_ids
        searches = [c for c in fake.calls if c["path"] == "/crm/v3/objects/companies/search"]
        assert len(searches) == math.ceil(10_050 / 200)  # windows restart without a wasted call
        assert connector.context.stats["changed_companies"] == 10_050


def test_the_fake_really_refuses_paging_past_10k():
    with FakeHubSpot() as fake:
        answer = requests.post(
            f"{fake.base_url}/crm/v3/objects/companies/search",
            json={"after": "10000", "limit": 100},
            headers={"Authorization": f"Bearer {fake.token}"},
            timeout=5,
        )
        assert answer.status_code == 400


def test_boundary_records_are_included_and_older_ones_skipped():
    with FakeHubSpot() as fake:
        at = fake.add("companies", {"name": "at"}, modified_ms=ms(SINCE))
        fake.add("companies", {"name": "before"}, modified_ms=ms(SINCE) - 1)
        changes = make_connector(fake).changed_since(SINCE, RUN)
        assert changes.organisation_ids == {at}


def test_changed_contacts_and_meetings_map_back_to_companies():
    with FakeHubSpot() as fake:
        quiet_ms = ms(SINCE) - 86_400_000
        a = fake.add("companies", {"name": "A"}, modified_ms=quiet_ms)
        b = fake.add("companies", {"name": "B"}, modified_ms=quiet_ms)
        c = fake.add("companies", {"name": "C"}, modified_ms=quiet_ms)
        d = fake.add("companies", {"name": "D"}, modified_ms=quiet_ms)
        person = fake.add("contacts", {"firstname": "P"}, modified_ms=ms(SINCE) + 10)
        fake.associate("contacts", person, "companies", a)
        meeting = fake.add("meetings", {"hs_meeting_title": "x"}, modified_ms=ms(SINCE) + 10)
        fake.associate("meetings", meeting, "companies", b)
        note = fake.add("notes", {"hs_note_body": "x"}, modified_ms=ms(SINCE) + 10)
        fake.associate("notes", note, "companies", c)
        stale = fake.add("contacts", {"firstname": "S"}, modified_ms=quiet_ms)
        fake.associate("contacts", stale, "companies", d)

        assert make_connector(fake).changed_since(SINCE, RUN).organisation_ids == {a, b}
        with_notes = make_connector(fake, activity_types=["meetings", "notes"])
        assert with_notes.changed_since(SINCE, RUN).organisation_ids == {a, b, c}
        # contacts are filtered on lastmodifieddate (no hs_ prefix)
        contact_search = [c for c in fake.calls if c["path"].endswith("contacts/search")]
        assert contact_search


def test_watermark_never_passes_run_started_and_has_a_lookback():
    with FakeHubSpot() as fake:
        fake.add("companies", {"name": "x"})
        changes = make_connector(fake).changed_since(SINCE, RUN)
        assert changes.watermark == RUN - timedelta(minutes=5)
        changes = make_connector(fake, lookback_minutes=0).changed_since(None, RUN)
        assert changes.watermark == RUN
        # a run started right after the previous watermark: never moves backwards past since
        close = SINCE + timedelta(minutes=1)
        assert make_connector(fake).changed_since(SINCE, close).watermark == SINCE


def test_since_none_lists_every_vendor_and_client_and_no_other_company():
    """Without a watermark (a full sync) every vendor and every client is to be evaluated; a
    company that is neither (a supplier, a lead) is evaluated by no vendor, so it is not
    listed — and no search pages through the whole portal to find it."""
    with FakeHubSpot() as fake:
        vendors = [fake.company(f"Agence {i}", type="VENDOR") for i in range(2)]
        clients = [fake.company(f"Client {i}") for i in range(3)]
        for i, client in enumerate(clients):
            fake.associate("companies", vendors[i % 2], "companies", client, label="Client")
        fake.associate("companies", vendors[1], "companies", clients[0], label="Client")
        supplier = fake.company("Imprimerie")
        fake.associate("companies", vendors[0], "companies", supplier)  # no Client label
        lead = fake.company("Prospect froid")
        connector = make_connector(fake, client_association_labels=["Client"])
        changes = connector.changed_since(None, RUN)
        assert changes.organisation_ids == {*vendors, *clients}
        assert supplier not in changes.organisation_ids and lead not in changes.organisation_ids
        assert fake.count("POST", r"/companies/search$") == 1  # the vendor search only
        assert connector.context.stats["changed_companies"] == 5
