"""HubSpot open deals as prospects (issue #15): readiness notes on deals, deal properties,
change-only and crash-safe write-back, stages in and out of scope — through the service."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests
from hubspot_fake import FakeHubSpot, SimulatedCrash, make_connector

from cmrules import service

AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)
DEALS = {"deal_pipelines": ["default"], "deal_stages": ["qualifiedtobuy", "presentationscheduled"]}


def portal(fake: FakeHubSpot) -> dict[str, str]:
    """An agency's pipeline: a prospect whose two project owners would both direct the agency
    and whose CEO never came to a meeting (open, in scope), a prospect in an early stage
    outside the configured ones, and a signed client (closed won)."""
    company = fake.company("Prospect SA", industry="cosmétiques")
    anne = fake.contact("Anne", "Girard", jobtitle="Responsable communication",
                        hs_buying_role="DECISION_MAKER")  # fmt: skip
    marc = fake.contact("Marc", "Vidal", jobtitle="Chef de projet digital",
                        hs_buying_role="DECISION_MAKER")  # fmt: skip
    ceo = fake.contact("Hélène", "Brun", jobtitle="Directrice générale",
                       hs_buying_role="BUDGET_HOLDER")  # fmt: skip
    deal = fake.add("deals", {"dealname": "Prospect SA — community management",
                              "pipeline": "default",
                              "dealstage": "presentationscheduled"})  # fmt: skip
    early = fake.add("deals", {"dealname": "Early lead", "pipeline": "default",
                               "dealstage": "appointmentscheduled"})  # fmt: skip
    won = fake.add("deals", {"dealname": "Signed client", "pipeline": "default",
                             "dealstage": "closedwon"})  # fmt: skip
    fake.associate("deals", deal, "companies", company)
    for person in (anne, marc, ceo):
        fake.associate("deals", deal, "contacts", person)
        fake.associate("contacts", person, "companies", company)
    meeting = fake.add("meetings", {"hs_meeting_title": "Découverte",
                                    "hs_timestamp": "2026-11-05T10:00:00Z",
                                    "hs_meeting_outcome": "COMPLETED"})  # fmt: skip
    fake.associate("meetings", meeting, "deals", deal)
    fake.associate("meetings", meeting, "contacts", anne)
    fake.associate("meetings", meeting, "contacts", marc)
    return {"company": company, "deal": deal, "early": early, "won": won}


def session(fake: FakeHubSpot) -> service.Session:
    connector = make_connector(fake, rule_ids=["CMR001", "CMR004"], **DEALS)
    return service.open_session(None, connector=connector)


def deal_notes(fake: FakeHubSpot, deal: str) -> list[str]:
    ids = fake.associated("deals", deal, "notes")
    return [fake.objects["notes"][i]["properties"]["hs_note_body"] for i in ids]


def test_setup_creates_the_deal_properties_with_the_deals_schema_scope():
    with FakeHubSpot() as fake:
        lines = session(fake).connector.setup()
        props = fake.properties["deals"]
        for name in ("cmrules_readiness", "cmrules_blockers", "cmrules_open_questions",
                     "cmrules_fingerprint"):  # fmt: skip
            assert name in props, lines
        assert {o["value"] for o in props["cmrules_readiness"]["options"]} == {
            "ready", "ready_with_conditions", "not_ready"}  # fmt: skip
        assert any("deals" in line for line in lines)


def test_evaluate_deal_by_name_writes_one_note_and_the_readiness_properties():
    with FakeHubSpot() as fake:
        ids = portal(fake)
        s = session(fake)
        s.connector.setup()
        report = service.evaluate(s, deal="Prospect SA", as_of=AS_OF, language="en")
        (record,) = report.records
        assert record.kind == "prospect" and record.write == "written"
        ready = record.outcome.readiness
        assert ready.level == "not_ready"
        assert [f.rule_id for f in ready.blockers] == ["CMR001", "CMR004"]
        props = fake.objects["deals"][ids["deal"]]["properties"]
        assert props["cmrules_readiness"] == "not_ready"
        assert props["cmrules_blockers"] == "CMR001;CMR004"
        assert int(props["cmrules_open_questions"]) == len(ready.questions) > 0
        (body,) = deal_notes(fake, ids["deal"])
        assert body.startswith("<p><strong>Not ready yet")
        assert "Questions for the next meeting" in body
        # the note is on the deal and on its company
        assert fake.associated("notes", fake.associated("deals", ids["deal"], "notes")[0],
                               "companies") == [ids["company"]]  # fmt: skip
        # a rerun on unchanged data writes nothing
        fake.calls.clear()
        again = service.evaluate(session(fake), deal=ids["deal"], as_of=AS_OF, language="en")
        assert again.records[0].write == "unchanged"
        assert fake.write_calls() == 0


@pytest.mark.parametrize("after", [False, True], ids=["before note POST", "after note POST"])
def test_a_kill_between_the_note_and_the_properties_never_duplicates_the_note(after):
    with FakeHubSpot() as fake:
        ids = portal(fake)
        session(fake).connector.setup()
        fake.inject("POST", r"/crm/v3/objects/notes$", raise_=SimulatedCrash("killed"),
                    after=after)  # fmt: skip
        with pytest.raises(SimulatedCrash):
            service.sync(session(fake), full=True, as_of=AS_OF)
        service.sync(session(fake), full=True, as_of=AS_OF)  # the rerun
        assert len(deal_notes(fake, ids["deal"])) == 1
        props = fake.objects["deals"][ids["deal"]]["properties"]
        assert props["cmrules_fingerprint"] and props["cmrules_readiness"] == "not_ready"
        fake.calls.clear()
        service.sync(session(fake), full=True, as_of=AS_OF)
        assert fake.write_calls() == 0


def test_sync_evaluates_only_deals_in_the_configured_stages():
    with FakeHubSpot() as fake:
        ids = portal(fake)
        session(fake).connector.setup()
        report = service.sync(session(fake), full=True, as_of=AS_OF)
        prospects = [r.subject.id for r in report.records if r.kind == "prospect"]
        assert prospects == [ids["deal"]]
        assert not deal_notes(fake, ids["early"]) and not deal_notes(fake, ids["won"])
        # the deal is won: out of the configured stages, no longer evaluated
        moved = requests.patch(
            f"{fake.base_url}/crm/v3/objects/deals/{ids['deal']}",
            json={"properties": {"dealstage": "closedwon"}},
            headers={"Authorization": f"Bearer {fake.token}"},
            timeout=5,
        )
        assert moved.status_code == 200
        fake.calls.clear()
        report = service.sync(session(fake), full=True, as_of=AS_OF)
        assert not [r for r in report.records if r.kind == "prospect"]
        assert fake.write_calls() == 0
        with pytest.raises(service.CmrulesError, match="no open deal"):
            service.evaluate(session(fake), deal=ids["deal"], as_of=AS_OF, language="en")


def test_the_cli_evaluates_a_deal_by_name_and_sync_writes_nothing_the_second_time(
    tmp_path, monkeypatch
):
    import json

    from click.testing import CliRunner
    from hubspot_fake import TOKEN

    from cmrules.cli import cli

    monkeypatch.setenv("HUBSPOT_SERVICE_KEY", TOKEN)
    monkeypatch.setenv("CMRULES_HOME", str(tmp_path / "home"))
    config = tmp_path / "cmrules.yaml"
    with FakeHubSpot() as fake:
        config.write_text(
            "source: hubspot\nlanguage: en\nhubspot:\n"
            f"  base_url: {fake.base_url}\n"
            "  deal_pipelines: [default]\n"
            "  deal_stages: [qualifiedtobuy, presentationscheduled]\n",
            encoding="utf-8",
        )
        ids = portal(fake)

        def run(*args: str):
            return CliRunner().invoke(cli, ["--config", str(config), *args])

        assert run("setup").exit_code == 0
        res = run("evaluate", "--deal", "Prospect SA", "--format", "json",
                  "--as-of", "2026-11-20T12:00:00Z")  # fmt: skip
        assert res.exit_code == 0, res.output
        (record,) = json.loads(res.stdout)["records"]
        assert record["id"] == ids["deal"] and record["kind"] == "prospect"
        assert record["readiness"]["level"] == "not_ready"
        assert record["readiness"]["open_questions"] == len(record["readiness"]["questions"])
        res = run("evaluate", "--deal", "Early lead", "--as-of", "2026-11-20T12:00:00Z")
        assert res.exit_code != 0 and "no open deal" in res.output
        first = run("sync", "--full", "--json", "--as-of", "2026-11-20T12:00:00Z")
        assert first.exit_code == 0, first.output
        fake.calls.clear()
        second = run("sync", "--full", "--json", "--as-of", "2026-11-20T12:00:00Z")
        assert json.loads(second.stdout)["notes_written"] == 0
        assert fake.write_calls() == 0
        assert len(deal_notes(fake, ids["deal"])) == 1
