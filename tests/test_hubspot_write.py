"""HubSpot connector: notes, flags, crash safety, setup."""

from __future__ import annotations

import html
from datetime import UTC, datetime

import pytest
import requests
from hubspot_fake import FakeHubSpot, SimulatedCrash, make_connector

from cmrules.connector import Flags, RenderedNote
from cmrules.connectors.hubspot import NOTE_BODY_LIMIT
from cmrules.errors import WriteError
from cmrules.model import Organisation

RULES = ["CM01", "CM02", "CM07"]
WHEN = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def render(org: Organisation, rule_ids=("CM01",), risk="high", version="v1") -> RenderedNote:
    """What the core would hand over: escaped HTML with the ``cmrules:<fp>`` footer."""
    fingerprint = f"{version}-{'-'.join(rule_ids) or 'none'}"
    body = (
        f"<p><b>cmrules</b> — {html.escape(org.name)}</p>"
        + "".join(f"<p>{html.escape(r)}: finding</p>" for r in rule_ids)
        + f"<p>cmrules:{fingerprint}</p>"
    )
    flags = Flags(
        risk_level=risk, rule_ids=tuple(rule_ids), evaluated_at=WHEN, fingerprint=fingerprint
    )
    return RenderedNote(
        subject=org, fingerprint=fingerprint, html=body, text=body, flags=flags, language="fr"
    )


def setup_portal(fake: FakeHubSpot, n_clients: int = 3) -> tuple[str, list[str]]:
    vendor = fake.company("Agence", type="VENDOR")
    clients = [fake.company(f"Client {i}") for i in range(n_clients)]
    for c in clients:
        fake.associate("companies", vendor, "companies", c)
    connector = make_connector(fake, rule_ids=RULES)
    connector.setup()
    return vendor, clients


def run(fake: FakeHubSpot, vendor: str, **render_kw) -> dict[str, bool]:
    """One sync as the core does it: load, skip records whose fingerprint is unchanged,
    ``apply`` the others.  Returns company id -> note created."""
    connector = make_connector(fake, rule_ids=RULES)
    data = connector.load([vendor])
    created = {}
    for org in sorted(data.companies(), key=lambda o: int(o.id)):
        note = render(org, **render_kw)
        if org.writeback.get("fingerprint") == note.fingerprint:
            continue
        created[org.id] = connector.apply(note)
    return created


def cmrules_notes(fake: FakeHubSpot, company: str) -> list[str]:
    return [n["properties"]["hs_note_body"] for n in fake.notes_of(company)]


def test_apply_writes_note_then_flags():
    with FakeHubSpot() as fake:
        vendor, clients = setup_portal(fake, 1)
        fake.calls.clear()
        assert run(fake, vendor) == {clients[0]: True}
        writes = [(c["method"], c["path"]) for c in fake.calls if c["write"]]
        assert writes == [
            ("POST", "/crm/v3/objects/notes"),
            ("PATCH", f"/crm/v3/objects/companies/{clients[0]}"),
        ]
        props = fake.objects["companies"][clients[0]]["properties"]
        assert props["cmrules_fingerprint"] == "v1-CM01"
        assert props["cmrules_risk_level"] == "high"
        assert props["cmrules_flags"] == "CM01"
        assert props["cmrules_last_evaluated"] == str(int(WHEN.timestamp() * 1000))
        (note,) = fake.notes_of(clients[0])
        assert note["properties"]["hs_timestamp"] == str(int(WHEN.timestamp() * 1000))
        assert fake.assoc[("notes", "companies")][note["id"]][clients[0]][0]["typeId"] == 190


def test_rerun_on_unchanged_data_makes_zero_write_calls():
    with FakeHubSpot() as fake:
        vendor, clients = setup_portal(fake, 3)
        run(fake, vendor)
        fake.calls.clear()
        assert run(fake, vendor) == {}
        assert fake.write_calls() == 0
        assert fake.count(path="/notes") == 0  # not even a note_exists read


def test_changed_findings_write_one_new_note_and_update_flags():
    with FakeHubSpot() as fake:
        vendor, clients = setup_portal(fake, 2)
        run(fake, vendor)
        run(fake, vendor, rule_ids=("CM01", "CM07"), version="v2")
        for c in clients:
            bodies = cmrules_notes(fake, c)
            assert len(bodies) == 2
            assert fake.objects["companies"][c]["properties"]["cmrules_flags"] == "CM01;CM07"


STEPS = [
    ("before note POST", "POST", r"/crm/v3/objects/notes$", False),
    ("after note POST", "POST", r"/crm/v3/objects/notes$", True),
    ("before flags PATCH", "PATCH", r"/crm/v3/objects/companies/\d+$", False),
    ("after flags PATCH", "PATCH", r"/crm/v3/objects/companies/\d+$", True),
]


@pytest.mark.parametrize(("step", "method", "path", "after"), STEPS, ids=[s[0] for s in STEPS])
def test_crash_at_each_write_step_then_rerun(step, method, path, after):
    """Kill the process at each write step (a BaseException nothing catches), rerun: exactly
    one note per findings, flags in place, and the second client is written too."""
    with FakeHubSpot() as fake:
        vendor, clients = setup_portal(fake, 2)
        fake.inject(method, path, raise_=SimulatedCrash("killed"), after=after)
        with pytest.raises(SimulatedCrash):
            run(fake, vendor)
        run(fake, vendor)  # the rerun
        for c in clients:
            bodies = cmrules_notes(fake, c)
            assert len(bodies) == 1, f"{step}: {len(bodies)} notes on {c}"
            assert "cmrules:v1-CM01" in bodies[0]
            assert fake.objects["companies"][c]["properties"]["cmrules_fingerprint"] == "v1-CM01"
        fake.calls.clear()
        run(fake, vendor)
        assert fake.write_calls() == 0


@pytest.mark.parametrize(
    "failure", ["timeout-after", "connection-before", "500-after", "503-storm"]
)
def test_transient_failure_on_note_post_never_duplicates(failure):
    """A retried create must not write twice when the first attempt landed."""
    with FakeHubSpot() as fake:
        vendor, clients = setup_portal(fake, 1)
        path = r"/crm/v3/objects/notes$"
        if failure == "timeout-after":
            fake.inject("POST", path, raise_=requests.ReadTimeout("slow"), after=True)
        elif failure == "connection-before":
            fake.inject("POST", path, raise_=requests.ConnectionError("reset"))
        elif failure == "500-after":
            fake.inject("POST", path, status=500, after=True)
        else:
            fake.inject("POST", path, status=503, times=20)
        if failure == "503-storm":
            with pytest.raises(WriteError, match="HTTP 503 after 6 attempts"):
                run(fake, vendor)
            assert cmrules_notes(fake, clients[0]) == []
            assert "cmrules_fingerprint" not in fake.objects["companies"][clients[0]]["properties"]
            fake.injections.clear()
            run(fake, vendor)  # nothing lost: the next run writes it
        else:
            run(fake, vendor)
        assert len(cmrules_notes(fake, clients[0])) == 1
        assert (
            fake.objects["companies"][clients[0]]["properties"]["cmrules_fingerprint"] == "v1-CM01"
        )


def test_other_4xx_fails_that_record_only_with_message_and_correlation_id():
    with FakeHubSpot() as fake:
        vendor, clients = setup_portal(fake, 2)
        fake.inject(
            "PATCH",
            rf"/companies/{clients[0]}$",
            status=400,
            body={
                "status": "error",
                "message": "Property values were not valid",
                "correlationId": "corr-42",
                "category": "VALIDATION_ERROR",
            },
        )
        connector = make_connector(fake, rule_ids=RULES)
        data = connector.load([vendor])
        failures = []
        for org in sorted(data.companies(), key=lambda o: int(o.id)):
            try:
                connector.apply(render(org))
            except WriteError as exc:
                failures.append(str(exc))
        assert len(failures) == 1
        assert "Property values were not valid" in failures[0]
        assert "corr-42" in failures[0]
        assert "cmrules setup" in failures[0]
        assert fake.objects["companies"][clients[1]]["properties"]["cmrules_fingerprint"]


def test_unknown_rule_option_needs_setup_and_setup_adds_it():
    with FakeHubSpot() as fake:
        vendor, clients = setup_portal(fake, 1)
        with pytest.raises(WriteError, match="cmrules setup"):
            run(fake, vendor, rule_ids=("CM99",))
        connector = make_connector(fake, rule_ids=[*RULES, "CM99"])
        plan = connector.setup()
        assert "property cmrules_flags: added options CM99" in plan
        run(fake, vendor, rule_ids=("CM99",))
        assert fake.objects["companies"][clients[0]]["properties"]["cmrules_flags"] == "CM99"
        # the note of the failed run had landed: the rerun reused it (no duplicate)
        assert len(cmrules_notes(fake, clients[0])) == 1


def test_script_in_company_name_stays_escaped_in_stored_note():
    with FakeHubSpot() as fake:
        vendor = fake.company("Agence", type="VENDOR")
        evil = fake.company('<script>alert("x")</script> & Co')
        fake.associate("companies", vendor, "companies", evil)
        make_connector(fake, rule_ids=RULES).setup()
        run(fake, vendor)
        (body,) = cmrules_notes(fake, evil)
        assert "<script>" not in body
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in body


def test_note_body_is_capped_and_keeps_the_fingerprint():
    with FakeHubSpot() as fake:
        vendor, clients = setup_portal(fake, 1)
        connector = make_connector(fake, rule_ids=RULES)
        org = connector.load([vendor]).organisations[clients[0]]
        note = render(org)
        huge = RenderedNote(
            subject=org,
            fingerprint=note.fingerprint,
            html="<p>" + "x &amp; y " * 10_000 + "</p>" + f"<p>cmrules:{note.fingerprint}</p>",
            text="",
            flags=note.flags,
            language="en",
        )
        assert len(huge.html) > NOTE_BODY_LIMIT
        connector.apply(huge)
        (body,) = cmrules_notes(fake, clients[0])
        assert len(body) <= NOTE_BODY_LIMIT
        assert body.endswith(f"<p>cmrules:{note.fingerprint}</p>")
        assert "truncated" in body
        assert connector.note_exists(org, note.fingerprint)


def test_note_without_footer_gets_one():
    with FakeHubSpot() as fake:
        vendor, clients = setup_portal(fake, 1)
        connector = make_connector(fake, rule_ids=RULES)
        org = connector.load([vendor]).organisations[clients[0]]
        note = render(org)
        bare = RenderedNote(
            subject=org,
            fingerprint="fp9",
            html="<p>hello</p>",
            text="",
            flags=note.flags,
            language="en",
        )
        assert not connector.note_exists(org, "fp9")
        connector.write_note(org, bare)
        assert connector.note_exists(org, "fp9")
        assert not connector.note_exists(org, "fp")  # a prefix is not a match


def test_notes_lists_cmrules_notes_newest_first():
    with FakeHubSpot(assoc_page_size=2) as fake:
        vendor, clients = setup_portal(fake, 1)
        human = fake.add("notes", {"hs_note_body": "<p>call me</p>", "hs_timestamp": "1"})
        fake.associate("notes", human, "companies", clients[0])
        for version in ("v1", "v2", "v3"):
            fake.tick(60_000)
            run(fake, vendor, version=version)
        connector = make_connector(fake)
        org = connector.load([vendor]).organisations[clients[0]]
        stored = connector.notes(org)
        assert [n.fingerprint for n in stored] == ["v3-CM01", "v2-CM01", "v1-CM01"]
        assert stored[0].created_at > stored[1].created_at
        assert all(n.subject_id == clients[0] for n in stored)


def test_setup_creates_then_is_idempotent_and_reports_differences():
    with FakeHubSpot() as fake:
        connector = make_connector(fake, rule_ids=RULES)
        dry = connector.setup(dry_run=True)
        assert fake.write_calls() == 0
        assert "property group cmrules: would be created" in dry
        assert "property cmrules_flags: would be created (enumeration/checkbox, 3 options)" in dry

        plan = connector.setup()
        assert plan[0] == "property group cmrules: created"
        assert "property cmrules_risk_level: created (enumeration/select)" in plan
        flags = fake.properties["companies"]["cmrules_flags"]
        assert flags["fieldType"] == "checkbox"
        assert [o["value"] for o in flags["options"]] == RULES
        risk = fake.properties["companies"]["cmrules_risk_level"]
        assert [o["value"] for o in risk["options"]] == ["high", "medium", "low", "info", "none"]
        assert fake.properties["companies"]["cmrules_last_evaluated"]["type"] == "datetime"

        fake.calls.clear()
        again = connector.setup()
        assert "property group cmrules: exists" in again
        assert "property cmrules_fingerprint: exists, up to date" in again
        assert fake.count("PATCH") == 0  # 409s, GETs, nothing changed

        fake.properties["companies"]["cmrules_fingerprint"]["type"] = "number"
        fake.properties["companies"]["cmrules_fingerprint"]["fieldType"] = "number"
        fake.calls.clear()
        dry = make_connector(fake, rule_ids=[*RULES, "CM10"]).setup(dry_run=True)
        assert fake.write_calls() == 0
        assert any("cmrules_fingerprint: DIFFERENT type" in line for line in dry)
        assert "property cmrules_flags: would add options CM10" in dry


def test_setup_without_rule_ids_warns():
    with FakeHubSpot() as fake:
        plan = make_connector(fake).setup(dry_run=True)
        assert plan[0].startswith("warning: no rule ids given")


def test_note_lookups_are_batched_across_records():
    """note_exists for many records costs one association read (plus note reads only for
    companies that have notes), not one call per record."""
    with FakeHubSpot() as fake:
        vendor, clients = setup_portal(fake, 30)
        human = fake.add("notes", {"hs_note_body": "<p>hello</p>", "hs_timestamp": "1"})
        fake.associate("notes", human, "companies", clients[0])
        fake.calls.clear()
        assert len(run(fake, vendor)) == 30
        assert fake.count("POST", r"/crm/v4/associations/companies/notes/batch/read$") == 1
        assert fake.count("POST", r"/crm/v3/objects/notes/batch/read$") == 1
        assert fake.count("POST", r"/crm/v3/objects/notes$") == 30


def test_full_scan_pages_no_search_through_every_company():
    """A full sync lists the vendors and their clients from the reads the run makes anyway
    (one vendor search, one association read, both cached for the load): paging a search
    through every company of the portal would cost one call per 200 companies for nothing."""
    with FakeHubSpot() as fake:
        vendor, clients = setup_portal(fake, 3)
        connector = make_connector(fake)
        fake.calls.clear()
        assert connector.changed_since(None, WHEN).organisation_ids == {vendor, *clients}
        assert [c["path"] for c in fake.calls] == [
            "/crm/v3/objects/companies/search",  # the vendor search
            "/crm/v4/associations/companies/companies/batch/read",
        ]
        fake.calls.clear()
        connector.load([vendor])
        assert not fake.count("POST", r"/search$")
        assert not fake.count("POST", r"/companies/companies/batch/read$")


def test_auth_failure_while_writing_stops_the_run():
    """A revoked write scope fails every record: it must surface as AuthError (the core stops),
    not as a per-record WriteError."""
    from cmrules.errors import AuthError

    with FakeHubSpot() as fake:
        vendor, _ = setup_portal(fake, 2)
        fake.scopes.discard("crm.objects.contacts.write")  # notes use the contact scopes
        with pytest.raises(AuthError, match="crm.objects.contacts.write"):
            run(fake, vendor)
