"""The 2026-09 contract, handled on purpose (api-facts.md "HubSpot date-based versions", 3–4):
portal validation rules on API writes, errors inside 200 batch answers, association archive
answering 200 with a body, displayOrder on enumeration options."""

from __future__ import annotations

import pytest
import requests
from hubspot_fake import FakeHubSpot, make_connector, utc

from cmrules.connector import Flags, RenderedNote
from cmrules.errors import WriteError
from cmrules.model import Organisation, OrgKind

NOW = utc(2026, 11, 20, 12)


def rendered(company_id: str, name: str, fingerprint: str) -> RenderedNote:
    subject = Organisation(id=company_id, name=name, kind=OrgKind.COMPANY)
    flags = Flags(
        risk_level="high", rule_ids=("CMR001",), evaluated_at=NOW, fingerprint=fingerprint
    )
    return RenderedNote(
        subject=subject,
        fingerprint=fingerprint,
        html=f"<p>Findings for {name}</p>",
        text=f"Findings for {name}",
        flags=flags,
        language="en",
    )


def portal(fake: FakeHubSpot, names: list[str]) -> list[RenderedNote]:
    for prop in ("cmrules_risk_level", "cmrules_flags"):
        fake.define_property(
            "companies",
            prop,
            "enumeration",
            options=[{"label": v, "value": v, "hidden": False} for v in ("high", "CMR001")],
        )
    for prop in ("cmrules_last_evaluated", "cmrules_fingerprint", "cmrules_history"):
        fake.define_property("companies", prop)
    return [rendered(fake.company(n), n, f"fp{i:04d}") for i, n in enumerate(names)]


def test_note_refused_by_a_portal_rule_fails_that_record_only():
    # an admin rule "notes need an owner" on one client's notes: through 2026-09 the batch
    # answer is a 201 carrying errors[]; that record fails with the portal's message, the
    # others get their note and flags, and nothing is retried
    with FakeHubSpot() as fake:
        notes = portal(fake, ["Brasserie Lutèce", "Cabinet Dufour & Fils", "Maison Verte"])
        fake.add_validation_rule(
            "notes",
            "hubspot_owner_id",
            "Un propriétaire est requis pour toute note",
            when=lambda p: "Dufour" in p.get("hs_note_body", ""),
        )
        outcomes = make_connector(fake).apply_many(notes)
        assert [o.error is None for o in outcomes] == [True, False, True]
        assert "Un propriétaire est requis pour toute note [VALIDATION_ERROR]" in str(
            outcomes[1].error
        )
        assert fake.count("POST", r"/notes/batch/create$", version="2026-09") == 1
        assert [len(fake.notes_of(n.subject.id)) for n in notes] == [1, 0, 1]
        assert fake.objects["companies"][notes[1].subject.id]["properties"].get(
            "cmrules_fingerprint"
        ) in (None, "")


def test_legacy_paths_ignore_portal_rules_as_hubspot_did_before_2026_09():
    with FakeHubSpot() as fake:
        notes = portal(fake, ["Brasserie Lutèce"])
        fake.add_validation_rule("notes", "hubspot_owner_id", "owner required")
        outcomes = make_connector(fake, api_version="legacy").apply_many(notes)
        assert outcomes[0].error is None


def test_single_record_write_refused_is_a_write_error_with_the_portal_message():
    with FakeHubSpot() as fake:
        (note,) = portal(fake, ["Atelier Roux"])
        fake.add_validation_rule("companies", "industry", "Secteur obligatoire")
        connector = make_connector(fake)
        with pytest.raises(WriteError, match="Secteur obligatoire") as err:
            connector.write_flags(note.subject, note.flags)
        assert err.value.exit_code == 3
        assert fake.count("PATCH") == 1  # a 400 is never retried


def test_errors_inside_a_200_batch_read_are_reported_like_a_207():
    for version, status in (("2026-09", 200), ("legacy", 207)):
        with FakeHubSpot() as fake:
            known = fake.company("Known SARL")
            connector = make_connector(fake, api_version=version)
            answer = connector.streams.batch_read("companies", [known, "999999"], ["name"])
            assert set(answer) == {known}
            assert any("999999" in w for w in connector.warnings), version
            raw = requests.post(
                fake.base_url + connector.client.api.objects_path("companies", "/batch/read"),
                json={"inputs": [{"id": "999999"}], "properties": [], "propertiesWithHistory": []},
                headers={"Authorization": f"Bearer {fake.token}"},
                timeout=5,
            )
            assert raw.status_code == status and raw.json()["numErrors"] == 1


def test_association_archive_answer_accepted_with_or_without_a_body():
    # the connector archives no association today; the shared client takes both answers
    for version, expected in (("2026-09", dict), ("legacy", type(None))):
        with FakeHubSpot() as fake:
            a, b = fake.company("A"), fake.contact("B")
            fake.associate("companies", a, "contacts", b)
            connector = make_connector(fake, api_version=version)
            path = connector.client.api.associations_path("companies", "contacts", "/batch/archive")
            answer = connector.client.request(
                "POST", path, json_body={"inputs": [{"from": {"id": a}, "to": [{"id": b}]}]}
            )
            assert isinstance(answer, expected)
            assert fake.associated("companies", a, "contacts") == []


def test_setup_sends_display_order_on_every_option_even_existing_ones():
    with FakeHubSpot() as fake:
        # created earlier through v3 or the UI: options without displayOrder
        fake.groups["companies"]["cmrules"] = {"name": "cmrules", "label": "cmrules"}
        fake.define_property(
            "companies",
            "cmrules_flags",
            "enumeration",
            fieldType="checkbox",
            groupName="cmrules",
            options=[{"label": "CMR001", "value": "CMR001", "hidden": False}],
        )
        lines = make_connector(fake, rule_ids=["CMR001", "CMR002"]).setup()
        assert "property cmrules_flags: added options CMR002" in lines
        options = fake.properties["companies"]["cmrules_flags"]["options"]
        assert [o["displayOrder"] for o in options] == [0, 1]
        created = fake.properties["companies"]["cmrules_risk_level"]["options"]
        assert all(isinstance(o["displayOrder"], int) for o in created)


def test_the_fake_refuses_options_without_display_order_through_2026_09():
    # the check above can fail: without displayOrder, 2026-09 answers 400
    with FakeHubSpot() as fake:
        fake.groups["companies"]["g"] = {"name": "g", "label": "g"}
        body = {
            "name": "x",
            "label": "x",
            "type": "enumeration",
            "fieldType": "select",
            "groupName": "g",
            "options": [{"label": "A", "value": "A", "hidden": False}],
        }
        headers = {"Authorization": f"Bearer {fake.token}"}
        new = requests.post(
            f"{fake.base_url}/crm/properties/2026-09/companies",
            json=body,
            headers=headers,
            timeout=5,
        )
        old = requests.post(
            f"{fake.base_url}/crm/v3/properties/companies", json=body, headers=headers, timeout=5
        )
        assert (new.status_code, old.status_code) == (400, 201)
        assert "displayOrder" in new.json()["message"]
