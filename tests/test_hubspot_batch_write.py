"""HubSpot connector: batched write-back (apply_many: notes and flag batch endpoints)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from hubspot_fake import TOKEN, FakeClock, FakeHubSpot, SimulatedCrash, make_connector
from test_hubspot_write import RULES, WHEN, cmrules_notes, render, setup_portal

from cmrules.connector import ApplyOutcome, RenderedNote
from cmrules.errors import AuthError, WriteError

CREATE = r"/crm/v3/objects/notes/batch/create$"
UPDATE = r"/crm/v3/objects/companies/batch/update$"


def run_batched(
    fake: FakeHubSpot,
    vendor: str,
    batch_size: int | None = None,
    clock: FakeClock | None = None,
    **render_kw: Any,
) -> dict[str, ApplyOutcome]:
    """One sync as the core's write_back does it: load, skip unchanged records, hand the
    others to ``apply_many`` in chunks of ``write_batch_size``.  company id -> outcome."""
    connector = make_connector(fake, clock, rule_ids=RULES)
    if batch_size is not None:
        connector.write_batch_size = batch_size  # type: ignore[misc]
    data = connector.load([vendor])
    notes: list[RenderedNote] = []
    for org in sorted(data.companies(), key=lambda o: int(o.id)):
        note = render(org, **render_kw)
        if org.writeback.get("fingerprint") != note.fingerprint:
            notes.append(note)
    outcomes: dict[str, ApplyOutcome] = {}
    size = connector.write_batch_size
    for start in range(0, len(notes), size):
        chunk = notes[start : start + size]
        answer = connector.apply_many(chunk)
        assert len(answer) == len(chunk)
        outcomes.update({n.subject.id: o for n, o in zip(chunk, answer, strict=True)})
    return outcomes


def writes(fake: FakeHubSpot) -> list[tuple[str, str, int]]:
    return [(c["method"], c["path"], c["inputs"]) for c in fake.calls if c["write"]]


def assert_all_written_once(fake: FakeHubSpot, clients: list[str], fingerprint: str) -> None:
    for c in clients:
        bodies = cmrules_notes(fake, c)
        assert len(bodies) == 1, f"{len(bodies)} notes on {c}"
        assert f"cmrules:{fingerprint}" in bodies[0]
        assert fake.objects["companies"][c]["properties"]["cmrules_fingerprint"] == fingerprint


def test_hubspot_declares_batches_of_100():
    from cmrules.connectors.hubspot import HubSpotConnector

    assert HubSpotConnector.write_batch_size == 100


def test_a_batch_costs_one_note_create_then_one_flag_update():
    with FakeHubSpot() as fake:
        vendor, clients = setup_portal(fake, 5)
        fake.calls.clear()
        outcomes = run_batched(fake, vendor)
        assert outcomes == {c: ApplyOutcome(created=True) for c in clients}
        assert writes(fake) == [
            ("POST", "/crm/v3/objects/notes/batch/create", 5),
            ("POST", "/crm/v3/objects/companies/batch/update", 5),
        ]
        assert fake.count(path="/search") == 0  # never search for our own notes
        assert_all_written_once(fake, clients, "v1-CM01")
        for c in clients:
            props = fake.objects["companies"][c]["properties"]
            assert props["cmrules_risk_level"] == "high"
            assert props["cmrules_flags"] == "CM01"
            assert props["cmrules_last_evaluated"] == str(int(WHEN.timestamp() * 1000))
            (note,) = fake.notes_of(c)
            assert note["properties"]["hs_timestamp"] == str(int(WHEN.timestamp() * 1000))
            assert fake.assoc[("notes", "companies")][note["id"]][c][0]["typeId"] == 190


def test_batch_inputs_carry_unique_trace_ids_and_the_note_association():
    with FakeHubSpot() as fake:
        vendor, clients = setup_portal(fake, 3)
        bodies: dict[str, Any] = {}
        create, update = fake._batch_create, fake._batch_update

        def spy_create(object_type: str, body: dict[str, Any]) -> Any:
            bodies["create"] = body
            return create(object_type, body)

        def spy_update(object_type: str, body: dict[str, Any]) -> Any:
            bodies["update"] = body
            return update(object_type, body)

        fake._batch_create = spy_create  # type: ignore[method-assign]
        fake._batch_update = spy_update  # type: ignore[method-assign]
        run_batched(fake, vendor)
        inputs = bodies["create"]["inputs"]
        assert len({i["objectWriteTraceId"] for i in inputs}) == 3
        for item in inputs:
            (assoc,) = item["associations"]
            assert assoc["types"] == [
                {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 190}
            ]
            assert item["properties"]["hs_timestamp"]
        flag_inputs = bodies["update"]["inputs"]
        assert sorted(i["id"] for i in flag_inputs) == sorted(clients)
        assert len({i["objectWriteTraceId"] for i in flag_inputs}) == 3
        for item in flag_inputs:
            assert list(item["properties"])[-1] == "cmrules_fingerprint"  # written last
            assert set(item["properties"]) == {
                "cmrules_risk_level",
                "cmrules_flags",
                "cmrules_last_evaluated",
                "cmrules_history",  # the flag history travels with the flags (same input)
                "cmrules_fingerprint",
            }


def test_250_records_make_three_batches_of_each_and_a_rerun_writes_nothing():
    with FakeHubSpot() as fake:
        vendor, clients = setup_portal(fake, 250)
        fake.calls.clear()
        run_batched(fake, vendor)
        assert writes(fake) == [
            ("POST", "/crm/v3/objects/notes/batch/create", 100),
            ("POST", "/crm/v3/objects/companies/batch/update", 100),
            ("POST", "/crm/v3/objects/notes/batch/create", 100),
            ("POST", "/crm/v3/objects/companies/batch/update", 100),
            ("POST", "/crm/v3/objects/notes/batch/create", 50),
            ("POST", "/crm/v3/objects/companies/batch/update", 50),
        ]
        # the note lookup is the batched one: one association read for every loaded company
        assert fake.count("POST", r"/crm/v4/associations/companies/notes/batch/read$") == 1
        assert fake.count("POST", r"/crm/v3/objects/notes/batch/read$") == 0  # no notes yet
        fake.calls.clear()
        assert run_batched(fake, vendor) == {}
        assert fake.write_calls() == 0


def test_changed_findings_add_one_note_per_record_in_batches():
    with FakeHubSpot() as fake:
        vendor, clients = setup_portal(fake, 3)
        run_batched(fake, vendor)
        outcomes = run_batched(fake, vendor, rule_ids=("CM01", "CM07"), version="v2")
        assert all(o.created and o.error is None for o in outcomes.values())
        for c in clients:
            assert len(cmrules_notes(fake, c)) == 2
            assert fake.objects["companies"][c]["properties"]["cmrules_flags"] == "CM01;CM07"


def test_existing_note_is_not_recreated_only_flags_are_written():
    """A note already there (an earlier run died before its flags) is found by the batched
    lookup: no create for it, its flags are written, and the others are created."""
    with FakeHubSpot() as fake:
        vendor, clients = setup_portal(fake, 3)
        connector = make_connector(fake, rule_ids=RULES)
        org = next(o for o in connector.load([vendor]).companies() if o.id == clients[1])
        connector.write_note(org, render(org))
        fake.calls.clear()
        outcomes = run_batched(fake, vendor)
        assert outcomes[clients[1]] == ApplyOutcome(created=False)
        assert outcomes[clients[0]] == ApplyOutcome(created=True)
        assert writes(fake) == [
            ("POST", "/crm/v3/objects/notes/batch/create", 2),
            ("POST", "/crm/v3/objects/companies/batch/update", 3),
        ]
        assert_all_written_once(fake, clients, "v1-CM01")


BATCH_STEPS = [
    ("before batch note create", "POST", CREATE, False),
    ("after batch note create", "POST", CREATE, True),
    ("before batch flag update", "POST", UPDATE, False),
    ("after batch flag update", "POST", UPDATE, True),
]


@pytest.mark.parametrize(
    ("step", "method", "path", "after"), BATCH_STEPS, ids=[s[0] for s in BATCH_STEPS]
)
@pytest.mark.parametrize("crash_on", [1, 2], ids=["first batch", "second batch"])
def test_crash_at_each_batch_write_step_then_rerun(step, method, path, after, crash_on):
    """Kill the process at each step of a batch (first or second batch of three), rerun:
    exactly one note per fingerprint and every flag set; a third run writes nothing."""
    with FakeHubSpot() as fake:
        vendor, clients = setup_portal(fake, 5)
        if crash_on == 2:  # let the first batch's call through
            original = fake._take_injection
            seen = {"n": 0}

            def take(m: str, p: str) -> Any:
                injection = original(m, p)
                if injection is not None and seen["n"] == 0:
                    seen["n"] += 1
                    injection.times += 1  # give it back: fail the next matching call
                    return None
                return injection

            fake._take_injection = take  # type: ignore[method-assign]
        fake.inject(method, path, raise_=SimulatedCrash("killed"), after=after)
        with pytest.raises(SimulatedCrash):
            run_batched(fake, vendor, batch_size=2)
        crashed_at = len(fake.calls)
        outcomes = run_batched(fake, vendor, batch_size=2)  # the rerun
        assert all(o.error is None for o in outcomes.values()), step
        assert_all_written_once(fake, clients, "v1-CM01")
        if step == "after batch flag update" and crash_on == 1:
            assert clients[0] not in outcomes and clients[1] not in outcomes  # already done
        assert len(fake.calls) > crashed_at
        fake.calls.clear()
        assert run_batched(fake, vendor, batch_size=2) == {}
        assert fake.write_calls() == 0


def test_notes_of_a_batch_are_all_written_before_any_of_its_flags():
    with FakeHubSpot() as fake:
        vendor, clients = setup_portal(fake, 4)
        fake.calls.clear()
        run_batched(fake, vendor, batch_size=2)
        kinds = ["note" if "notes" in p else "flags" for _, p, _ in writes(fake)]
        assert kinds == ["note", "flags", "note", "flags"]


@pytest.mark.parametrize(
    "failure", ["timeout-after", "connection-before", "500-after", "503-storm"]
)
def test_transient_failure_on_batch_create_never_duplicates(failure):
    with FakeHubSpot() as fake:
        vendor, clients = setup_portal(fake, 3)
        clock = FakeClock()
        if failure == "timeout-after":
            fake.inject("POST", CREATE, raise_=requests.ReadTimeout("slow"), after=True)
        elif failure == "connection-before":
            fake.inject("POST", CREATE, raise_=requests.ConnectionError("reset"))
        elif failure == "500-after":
            fake.inject("POST", CREATE, status=500, after=True)
        else:
            fake.inject("POST", CREATE, status=503, times=20)
        outcomes = run_batched(fake, vendor, clock=clock)
        assert clock.sleeps  # backed off through the injected sleep, never really slept
        if failure == "503-storm":
            for c in clients:
                error = outcomes[c].error
                assert isinstance(error, WriteError)
                assert "HTTP 503 after 6 attempts" in str(error)
                assert cmrules_notes(fake, c) == []
                assert "cmrules_fingerprint" not in fake.objects["companies"][c]["properties"]
            fake.injections.clear()
            outcomes = run_batched(fake, vendor)  # nothing lost: the next run writes them
        assert all(o.error is None and o.created for o in outcomes.values())
        assert_all_written_once(fake, clients, "v1-CM01")
        if failure in ("timeout-after", "500-after"):
            assert fake.count("POST", CREATE) == 1  # the landed batch was not re-sent


def test_batch_partly_applied_before_a_timeout_resends_only_the_rest():
    """The server created the first note, then the answer was lost: the fingerprints are
    looked up again and only the two missing notes are sent."""
    with FakeHubSpot() as fake:
        vendor, clients = setup_portal(fake, 3)
        original = fake._batch_create
        state = {"calls": 0}

        def partial(object_type: str, body: dict[str, Any]) -> Any:
            state["calls"] += 1
            if state["calls"] == 1:
                original(object_type, {"inputs": body["inputs"][:1]})
                raise requests.ReadTimeout("answer lost")
            return original(object_type, body)

        fake._batch_create = partial  # type: ignore[method-assign]
        outcomes = run_batched(fake, vendor)
        assert all(o.error is None and o.created for o in outcomes.values())
        creates = [c["inputs"] for c in fake.calls if c["path"].endswith("/notes/batch/create")]
        assert creates == [3, 2]
        assert_all_written_once(fake, clients, "v1-CM01")


def test_207_on_note_create_fails_that_record_only():
    with FakeHubSpot() as fake:
        vendor, clients = setup_portal(fake, 3)
        fake.reject_in_batch("notes", clients[1], "Note body was refused", "VALIDATION_ERROR")
        fake.calls.clear()
        outcomes = run_batched(fake, vendor)
        error = outcomes[clients[1]].error
        assert isinstance(error, WriteError)
        message = str(error)
        assert clients[1] in message and "Note body was refused" in message
        assert "VALIDATION_ERROR" in message and "correlation id corr-" in message
        assert TOKEN not in message
        assert outcomes[clients[0]] == outcomes[clients[2]] == ApplyOutcome(created=True)
        # no flags for the record whose note failed: the next run retries it
        assert "cmrules_fingerprint" not in fake.objects["companies"][clients[1]]["properties"]
        assert cmrules_notes(fake, clients[1]) == []
        assert writes(fake)[-1] == ("POST", "/crm/v3/objects/companies/batch/update", 2)
        fake.batch_rejections.clear()
        assert run_batched(fake, vendor) == {clients[1]: ApplyOutcome(created=True)}
        assert_all_written_once(fake, clients, "v1-CM01")


def test_207_on_flag_update_fails_that_record_only_and_rerun_writes_only_its_flags():
    with FakeHubSpot() as fake:
        vendor, clients = setup_portal(fake, 3)
        fake.reject_in_batch("companies", clients[0], "Property values were not valid")
        outcomes = run_batched(fake, vendor)
        message = str(outcomes[clients[0]].error)
        assert "Property values were not valid" in message and "cmrules setup" in message
        assert "correlation id" in message
        assert outcomes[clients[1]] == ApplyOutcome(created=True)
        assert "cmrules_fingerprint" not in fake.objects["companies"][clients[0]]["properties"]
        assert len(cmrules_notes(fake, clients[0])) == 1
        fake.batch_rejections.clear()
        fake.calls.clear()
        assert run_batched(fake, vendor) == {clients[0]: ApplyOutcome(created=False)}
        assert writes(fake) == [("POST", "/crm/v3/objects/companies/batch/update", 1)]
        assert_all_written_once(fake, clients, "v1-CM01")


def test_unknown_rule_option_in_a_batch_fails_that_record_with_the_setup_hint():
    with FakeHubSpot() as fake:
        vendor, clients = setup_portal(fake, 2)
        connector = make_connector(fake, rule_ids=RULES)
        orgs = sorted(connector.load([vendor]).companies(), key=lambda o: int(o.id))
        outcomes = connector.apply_many([render(orgs[0], ("CM99",)), render(orgs[1])])
        assert "CM99 was not one of the allowed options" in str(outcomes[0].error)
        assert "cmrules setup" in str(outcomes[0].error)
        assert outcomes[1] == ApplyOutcome(created=True)


def test_whole_batch_400_on_flags_is_retried_record_by_record():
    """A batch refused as a whole (400) must not fail every record: the records are retried
    one by one, so only the bad one fails."""
    with FakeHubSpot() as fake:
        vendor, clients = setup_portal(fake, 3)
        fake.inject("POST", UPDATE, status=400)
        fake.inject("PATCH", rf"/companies/{clients[2]}$", status=400)
        outcomes = run_batched(fake, vendor)
        assert outcomes[clients[0]] == outcomes[clients[1]] == ApplyOutcome(created=True)
        assert "cmrules setup" in str(outcomes[clients[2]].error)
        assert fake.count("PATCH") == 3


def test_whole_batch_400_on_note_create_is_retried_record_by_record():
    with FakeHubSpot() as fake:
        vendor, clients = setup_portal(fake, 3)
        fake.inject("POST", CREATE, status=400)
        outcomes = run_batched(fake, vendor)
        assert all(o == ApplyOutcome(created=True) for o in outcomes.values())
        assert fake.count("POST", r"/crm/v3/objects/notes$") == 3
        assert_all_written_once(fake, clients, "v1-CM01")


def test_bad_risk_level_fails_that_record_before_any_write():
    with FakeHubSpot() as fake:
        vendor, clients = setup_portal(fake, 2)
        connector = make_connector(fake, rule_ids=RULES)
        orgs = sorted(connector.load([vendor]).companies(), key=lambda o: int(o.id))
        outcomes = connector.apply_many([render(orgs[0], risk="extreme"), render(orgs[1])])
        assert "risk level 'extreme'" in str(outcomes[0].error)
        assert cmrules_notes(fake, clients[0]) == []
        assert outcomes[1] == ApplyOutcome(created=True)


def test_same_company_twice_in_one_call_is_split_into_rounds():
    with FakeHubSpot() as fake:
        vendor, clients = setup_portal(fake, 2)
        connector = make_connector(fake, rule_ids=RULES)
        orgs = sorted(connector.load([vendor]).companies(), key=lambda o: int(o.id))
        outcomes = connector.apply_many(
            [render(orgs[0]), render(orgs[1]), render(orgs[0], ("CM07",), version="v2")]
        )
        assert outcomes == [ApplyOutcome(created=True)] * 3
        assert len(cmrules_notes(fake, clients[0])) == 2
        assert fake.objects["companies"][clients[0]]["properties"]["cmrules_flags"] == "CM07"


def test_auth_failure_in_a_batch_stops_the_run():
    with FakeHubSpot() as fake:
        vendor, _ = setup_portal(fake, 2)
        fake.scopes.discard("crm.objects.contacts.write")  # notes use the contact scopes
        with pytest.raises(AuthError, match="crm.objects.contacts.write"):
            run_batched(fake, vendor)
        fake.scopes.add("crm.objects.contacts.write")
        fake.scopes.discard("crm.objects.companies.write")
        with pytest.raises(AuthError, match="crm.objects.companies.write"):
            run_batched(fake, vendor)


# -- the fake's batch endpoints ---------------------------------------------------------------
def post(fake: FakeHubSpot, path: str, body: Any) -> requests.Response:
    return requests.post(
        f"{fake.base_url}{path}",
        data=json.dumps(body),
        headers={"Authorization": f"Bearer {fake.token}", "Content-Type": "application/json"},
        timeout=5,
    )


def test_the_fake_refuses_more_than_100_batch_inputs():
    with FakeHubSpot() as fake:
        company = fake.company("A")
        note = {"properties": {"hs_timestamp": "1", "hs_note_body": "x"}, "associations": []}
        assert post(fake, "/crm/v3/objects/notes/batch/create", {"inputs": [note] * 100}).ok
        too_many = post(fake, "/crm/v3/objects/notes/batch/create", {"inputs": [note] * 101})
        assert too_many.status_code == 400
        update = {"id": company, "properties": {"name": "B"}}
        answer = post(fake, "/crm/v3/objects/companies/batch/update", {"inputs": [update] * 101})
        assert answer.status_code == 400
        answer = post(fake, "/crm/v3/objects/companies/batch/update", {"inputs": [update] * 2})
        assert answer.status_code == 400 and "Duplicate IDs" in answer.json()["message"]


def test_the_fake_answers_207_with_trace_ids_for_failed_inputs():
    with FakeHubSpot() as fake:
        a, b = fake.company("A"), fake.company("B")
        inputs = [
            {"id": a, "properties": {"name": "A2"}, "objectWriteTraceId": "t-a"},
            {"id": "999999", "properties": {"name": "X"}, "objectWriteTraceId": "t-x"},
            {"id": b, "properties": {"nope": "1"}, "objectWriteTraceId": "t-b"},
        ]
        answer = post(fake, "/crm/v3/objects/companies/batch/update", {"inputs": inputs})
        assert answer.status_code == 207
        body = answer.json()
        assert [r["id"] for r in body["results"]] == [a]
        traces = sorted(e["context"]["objectWriteTraceId"][0] for e in body["errors"])
        assert traces == ["t-b", "t-x"]
        assert fake.objects["companies"][a]["properties"]["name"] == "A2"
        assert answer.headers["X-HubSpot-Correlation-Id"]
