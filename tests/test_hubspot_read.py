"""HubSpot connector: reading into the canonical model (against the fake portal)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hubspot_fake import FakeHubSpot, iso, make_connector

from cmrules.model import TAG_ONBOARDING, TAG_STRATEGY, ActivityKind, OrgKind, Role, Side

ATTRS = {
    "regulated": "cm_regulated",
    "industry": "industry",
    "kpis_defined": "cm_kpis_defined",
    "escalation_plan": "cm_escalation_plan",
    "onboarding_done": "cm_onboarding_done",
    "offer_last_revised": "cm_offer_last_revised",
    "social_media_familiar": "cm_social_media_familiar",
}


@pytest.fixture
def portal():
    """Two vendors; Acme is a client of Agence A (label Client), Beta a client of both,
    a partner vendor association that must not become a client."""
    with FakeHubSpot(assoc_page_size=2) as fake:
        for name, kind in [
            ("cm_regulated", "bool"),
            ("cm_kpis_defined", "bool"),
            ("cm_escalation_plan", "bool"),
            ("cm_onboarding_done", "bool"),
            ("cm_offer_last_revised", "date"),
            ("cm_social_media_familiar", "bool"),
            ("industry", "string"),
        ]:
            fake.define_property("companies" if "social" not in name else "contacts", name, kind)
        ids = {}
        ids["a"] = fake.company("Agence A", type="VENDOR")
        ids["b"] = fake.company("Agence B", type="VENDOR")
        ids["acme"] = fake.company(
            "Acme",
            type="PROSPECT",
            cm_regulated="true",
            industry="Banque",
            cm_kpis_defined="false",
            cm_escalation_plan=None,
            cm_offer_last_revised="1700000000000",
        )
        ids["beta"] = fake.company("Beta", cm_onboarding_done="TRUE")
        ids["other"] = fake.company("Not a client")  # associated without the Client label
        fake.associate("companies", ids["a"], "companies", ids["acme"], label="Client")
        fake.associate("companies", ids["a"], "companies", ids["beta"], label="Client")
        fake.associate("companies", ids["b"], "companies", ids["beta"], label="Client")
        fake.associate("companies", ids["a"], "companies", ids["b"], label="Partner")
        fake.associate("companies", ids["a"], "companies", ids["other"], label="Parent")
        # people
        ids["ceo"] = fake.contact("Claire", "Dupont", jobtitle="Directrice Générale")
        ids["pm"] = fake.contact("Paul", "Martin", jobtitle="Assistant")
        ids["cm"] = fake.contact(
            "Zoé", "", jobtitle="Community Manager", cm_social_media_familiar="1"
        )
        ids["ref"] = fake.contact("Rita", "Vendeur", jobtitle="Chargée de compte")
        ids["ref_b"] = fake.contact("Bob", "", jobtitle="Account Manager", email="bob@b.example")
        ids["buyer"] = fake.contact("Bea", "", hs_buying_role="DECISION_MAKER;BUDGET_HOLDER")
        fake.associate("companies", ids["acme"], "contacts", ids["ceo"], primary=True)
        fake.associate("companies", ids["acme"], "contacts", ids["pm"], label="Decision maker")
        fake.associate("companies", ids["acme"], "contacts", ids["cm"])
        fake.associate("companies", ids["a"], "contacts", ids["ref"])
        fake.associate("companies", ids["acme"], "contacts", ids["ref"])
        fake.associate("companies", ids["b"], "contacts", ids["ref_b"])
        fake.associate("companies", ids["beta"], "contacts", ids["ref_b"])
        fake.associate("companies", ids["beta"], "contacts", ids["buyer"])
        # meetings at Acme
        day = 86_400_000
        meetings = [
            ("Atelier stratégie 2025", "COMPLETED", [ids["ceo"], ids["ref"]]),
            ("Proposition : campagne TikTok", "SCHEDULED", [ids["ref"]]),
            ("Proposal: influencer week", "COMPLETED", [ids["pm"]]),
            ("Bilan KPI trimestriel", "COMPLETED", []),
            ("Onboarding & glossaire", "NO_SHOW", [ids["pm"]]),
            ("Avenant : nouvelle offre", "COMPLETED", [ids["ref"]]),
        ]
        ids["meetings"] = []
        for n, (title, outcome, people) in enumerate(meetings):
            body = "<p>Proposition <b>acceptée</b> par Claire</p>" if n == 1 else None
            m = fake.add(
                "meetings",
                {
                    "hs_meeting_title": title,
                    "hs_meeting_body": body,
                    "hs_timestamp": iso(1_700_000_000_000 - n * day),
                    "hs_meeting_outcome": outcome,
                    "cm_status": "Refusée" if n == 2 else None,
                },
            )
            ids["meetings"].append(m)
            fake.associate("meetings", m, "companies", ids["acme"])
            for p in people:
                fake.associate("meetings", m, "contacts", p)
        yield fake, ids


def settings(**extra):
    base = {"client_association_labels": ["Client"], "attributes": ATTRS}
    base.update(extra)
    return base


def test_load_maps_organisations_contacts_engagements(portal):
    fake, ids = portal
    connector = make_connector(fake, **settings())
    data = connector.load([ids["a"], ids["b"]])

    orgs = data.organisations
    assert {o.id for o in data.vendors()} == {ids["a"], ids["b"]}
    assert {o.id for o in data.companies()} == {ids["acme"], ids["beta"]}  # no partner, no parent
    acme = orgs[ids["acme"]]
    assert acme.kind == OrgKind.COMPANY
    assert acme.attributes == {"regulated": True, "industry": "Banque"}
    assert orgs[ids["a"]].kind == OrgKind.VENDOR

    by_id = {c.id: c for c in data.contacts}
    assert by_id[ids["ceo"]].org_id == ids["acme"]
    assert by_id[ids["ceo"]].roles == {Role.EXECUTIVE_SPONSOR}
    assert by_id[ids["pm"]].roles == {Role.PROJECT_OWNER}  # from the "Decision maker" label
    assert by_id[ids["cm"]].roles == {Role.COMMUNITY_MANAGER}
    assert by_id[ids["cm"]].attributes == {"social_media_familiar": True}
    assert by_id[ids["cm"]].name == "Zoé"
    # a vendor contact associated with a client belongs to the vendor
    assert by_id[ids["ref"]].org_id == ids["a"]
    assert by_id[ids["ref"]].roles == {Role.VENDOR_REFERENT}
    assert by_id[ids["buyer"]].roles == {Role.PROJECT_OWNER, Role.EXECUTIVE_SPONSOR}

    engagements = {(e.company_id, e.vendor_id): e for e in data.engagements}
    assert set(engagements) == {
        (ids["acme"], ids["a"]),
        (ids["beta"], ids["a"]),
        (ids["beta"], ids["b"]),
    }
    acme_a = engagements[(ids["acme"], ids["a"])]
    assert acme_a.vendor_contact_ids == (ids["ref"],)
    assert acme_a.attributes["kpis_defined"] is False
    assert acme_a.attributes["offer_last_revised"] == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert "escalation_plan" not in acme_a.attributes  # null -> unknown, not False
    assert engagements[(ids["beta"], ids["b"])].vendor_contact_ids == (ids["ref_b"],)
    assert engagements[(ids["beta"], ids["a"])].vendor_contact_ids == ()
    assert engagements[(ids["beta"], ids["a"])].attributes == {"onboarding_done": True}
    assert connector.warnings == []


def test_activities_kinds_status_tags_and_side(portal):
    fake, ids = portal
    connector = make_connector(fake, **settings(proposal_status_property="cm_status"))
    data = connector.load([ids["a"]], company_ids=[ids["acme"]])
    acts = {a.id: a for a in data.activities}
    m = ids["meetings"]
    assert set(acts) == set(m)

    strategy = acts[m[0]]
    assert strategy.kind == ActivityKind.MEETING
    assert strategy.tags == {TAG_STRATEGY}
    assert strategy.status == "completed"
    assert strategy.side == Side.VENDOR  # the vendor referent attended
    assert strategy.vendor_id == ids["a"]
    assert strategy.contact_ids == tuple(sorted([ids["ceo"], ids["ref"]], key=int))
    assert strategy.timestamp == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert strategy.company_id == ids["acme"]

    proposal = acts[m[1]]
    assert proposal.kind == ActivityKind.PROPOSAL
    assert proposal.status == "accepted"  # keyword in the (HTML) body
    assert proposal.side == Side.VENDOR

    proposal_en = acts[m[2]]
    assert proposal_en.kind == ActivityKind.PROPOSAL
    assert proposal_en.status == "rejected"  # from the configured status property
    assert proposal_en.side == Side.COMPANY

    report = acts[m[3]]
    assert report.kind == ActivityKind.REPORT
    assert report.side is None  # nobody associated: unknown, not guessed
    assert report.vendor_id == ids["a"]  # Acme has a single vendor

    onboarding = acts[m[4]]
    assert onboarding.tags == {TAG_ONBOARDING}
    assert onboarding.status == "no_show"

    assert acts[m[5]].kind == ActivityKind.OFFER_CHANGE


def test_company_ids_restricts_clients(portal):
    fake, ids = portal
    data = make_connector(fake, **settings()).load([ids["a"]], company_ids=[ids["beta"]])
    assert {o.id for o in data.companies()} == {ids["beta"]}
    assert [e.company_id for e in data.engagements] == [ids["beta"]]


def test_without_label_filter_any_non_vendor_association_is_a_client(portal):
    fake, ids = portal
    data = make_connector(fake, attributes=ATTRS).load([ids["a"]])
    assert {o.id for o in data.companies()} == {ids["acme"], ids["beta"], ids["other"]}


def test_load_uses_batches_and_paginates_associations_per_result(portal):
    """Page size 2 forces per-result paging on every association read; nothing is lost and
    no per-record GET is made."""
    fake, ids = portal
    data = make_connector(fake, **settings()).load([ids["a"], ids["b"]])
    assert len(data.activities) == 6
    assert fake.count("GET") == 0
    assoc_calls = [c for c in fake.calls if "/crm/v4/associations/" in c["path"]]
    # continuation calls re-send {id, after} for the results that had paging.next
    assert any(c["inputs"] < 5 for c in assoc_calls[1:])
    assert all(c["inputs"] <= 100 for c in fake.calls if "/crm/v3/objects/" in c["path"])


def test_batch_read_chunks_at_100_and_reports_missing_ids():
    with FakeHubSpot() as fake:
        vendor = fake.company("V", type="VENDOR")
        clients = [fake.company(f"C{i}") for i in range(150)]
        for c in clients:
            fake.associate("companies", vendor, "companies", c)
        # an association to a company that no longer exists (deleted): 207 on batch read
        fake.associate("companies", vendor, "companies", "999999")
        connector = make_connector(fake)
        data = connector.load([vendor])
        assert len(list(data.companies())) == 150
        reads = [c for c in fake.calls if c["path"] == "/crm/v3/objects/companies/batch/read"]
        assert [c["inputs"] for c in reads] == [100, 52]
        assert any("999999" in w for w in connector.warnings)


def test_fake_enforces_batch_limit():
    """The fake really rejects 101 inputs (so the chunking test above can fail)."""
    import requests

    with FakeHubSpot() as fake:
        answer = requests.post(
            f"{fake.base_url}/crm/v3/objects/companies/batch/read",
            json={
                "inputs": [{"id": str(i)} for i in range(101)],
                "properties": [],
                "propertiesWithHistory": [],
            },
            headers={"Authorization": f"Bearer {fake.token}"},
            timeout=5,
        )
        assert answer.status_code == 400


@pytest.mark.parametrize("null_style", ["null", "absent"])
def test_string_values_parsed_null_and_absent_tolerated(null_style):
    with FakeHubSpot() as fake:
        fake.null_style = null_style
        for name, kind in [("n", "number"), ("b", "bool"), ("d", "date"), ("t", "datetime")]:
            fake.define_property("companies", f"cm_{name}", kind)
        fake.define_property("contacts", "cm_sm", "bool")
        vendor = fake.company("V", type="VENDOR")
        full = fake.company(
            "Full", cm_b="false", cm_d="1572480000000", cm_t="2024-01-17T19:55:04.281Z"
        )
        empty = fake.company("Empty", cm_b=None)
        for c in (full, empty):
            fake.associate("companies", vendor, "companies", c)
        connector = make_connector(
            fake,
            attributes={
                "regulated": "cm_b",
                "offer_last_revised": "cm_t",
                "kpis_defined": "cm_missing_property",
                "industry": "cm_n",
                "social_media_familiar": "cm_sm",
            },
        )
        data = connector.load([vendor])
        assert data.organisations[full].attributes == {"regulated": False}
        (engagement_full,) = data.engagements_of_company(full)
        assert engagement_full.attributes == {
            "offer_last_revised": datetime(2024, 1, 17, 19, 55, 4, 281000, tzinfo=UTC)
        }
        assert data.organisations[empty].attributes == {}
        assert data.engagements_of_company(empty)[0].attributes == {}
        assert connector.warnings == []


def test_malformed_value_is_reported_and_treated_as_unknown():
    with FakeHubSpot() as fake:
        fake.define_property("companies", "cm_b", "string")
        vendor = fake.company("V", type="VENDOR")
        client = fake.company("C", cm_b="peut-être")
        fake.associate("companies", vendor, "companies", client)
        connector = make_connector(fake, attributes={"regulated": "cm_b"})
        data = connector.load([vendor])
        assert data.organisations[client].attributes == {}
        assert any("regulated" in w and "not a boolean" in w for w in connector.warnings)


def test_find_organisations_by_id_name_and_vendors(portal):
    fake, ids = portal
    fake.define_property("companies", "cmrules_fingerprint", "string")
    fake.objects["companies"][ids["acme"]]["properties"]["cmrules_fingerprint"] = "fp-1"
    connector = make_connector(fake, **settings())
    (acme,) = connector.find_organisations(ids["acme"], OrgKind.COMPANY)
    assert acme.name == "Acme" and acme.writeback == {"fingerprint": "fp-1"}
    assert [o.name for o in connector.find_organisations("acm", OrgKind.COMPANY)] == ["Acme"]
    assert connector.find_organisations("Agence", OrgKind.COMPANY) == []  # vendors excluded
    vendors = connector.find_organisations("whatever", OrgKind.VENDOR)
    assert sorted(o.name for o in vendors) == ["Agence A", "Agence B"]
    assert all(o.kind == OrgKind.VENDOR for o in vendors)
    assert connector.find_organisations("424242", OrgKind.COMPANY) == []
    assert connector.warnings == []


def test_vendors_of(portal):
    fake, ids = portal
    connector = make_connector(fake, **settings())
    result = connector.vendors_of([ids["acme"], ids["beta"], ids["a"], ids["other"]])
    assert result == {
        ids["acme"]: [ids["a"]],
        ids["beta"]: sorted([ids["a"], ids["b"]], key=int),
        ids["a"]: [ids["a"]],  # a changed vendor is evaluated itself
        ids["other"]: [],
    }


def test_clients_through_deals():
    with FakeHubSpot() as fake:
        vendor = fake.company("V", type="VENDOR")
        client = fake.company("Through a deal")
        deal = fake.add("deals", {"dealname": "Contrat CM"})
        fake.associate("deals", deal, "companies", vendor)
        fake.associate("deals", deal, "companies", client)
        assert make_connector(fake).load([vendor]).engagements == []
        data = make_connector(fake, clients_via_deals=True).load([vendor])
        assert [(e.company_id, e.vendor_id) for e in data.engagements] == [(client, vendor)]


def test_writeback_read_from_company_properties_without_extra_call(portal):
    fake, ids = portal
    for name in ("cmrules_fingerprint", "cmrules_risk_level", "cmrules_flags"):
        fake.define_property("companies", name, "string")
    props = fake.objects["companies"][ids["acme"]]["properties"]
    props.update(cmrules_fingerprint="abc123", cmrules_risk_level="high", cmrules_flags="R1;R2")
    connector = make_connector(fake, **settings())
    data = connector.load([ids["a"]])
    assert data.organisations[ids["acme"]].writeback == {
        "fingerprint": "abc123",
        "risk_level": "high",
        "flags": "R1;R2",
    }
    assert data.organisations[ids["beta"]].writeback == {}
    assert fake.count(path="^/crm/v3/objects/companies/batch/read$") == 1


def test_cmrules_notes_are_not_evidence():
    with FakeHubSpot() as fake:
        vendor = fake.company("V", type="VENDOR")
        client = fake.company("C")
        fake.associate("companies", vendor, "companies", client)
        mine = fake.add(
            "notes",
            {"hs_note_body": "<p>finding</p><p>cmrules:abc</p>", "hs_timestamp": "1700000000000"},
        )
        theirs = fake.add(
            "notes", {"hs_note_body": "<p>Proposition validée</p>", "hs_timestamp": "1700000000000"}
        )
        for n in (mine, theirs):
            fake.associate("notes", n, "companies", client)
        data = make_connector(fake, activity_types=["notes"]).load([vendor])
        assert [(a.id, a.kind, a.status) for a in data.activities] == [
            (theirs, ActivityKind.PROPOSAL, "accepted")
        ]


def test_missing_ids_reach_the_core_report():
    from cmrules import service

    with FakeHubSpot() as fake:
        vendor = fake.company("V", type="VENDOR")
        client = fake.company("C")
        fake.associate("companies", vendor, "companies", client)
        fake.associate("companies", vendor, "companies", "777777")  # deleted company
        connector = make_connector(fake)
        session = service.open_session(None, connector=connector)
        report = service.evaluate(
            session, vendor=vendor, as_of=datetime(2026, 11, 1, tzinfo=UTC), write=False
        )
        assert any("777777" in w for w in report.warnings)


def test_external_id_property_fills_external_id():
    with FakeHubSpot() as fake:
        vendor = fake.company("V", type="VENDOR", cm_ext="VEND-1")
        client = fake.company("C", cm_ext="  ")
        fake.associate("companies", vendor, "companies", client)
        ds = make_connector(fake, external_id_property="cm_ext").load([vendor])
        assert ds.organisations[vendor].external_id == "VEND-1"
        assert ds.organisations[client].external_id is None
        plain = make_connector(fake).load([vendor])
        assert plain.organisations[vendor].external_id is None
