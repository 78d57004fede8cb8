"""HubSpot data-gap tasks (``tasks: true``, issue #10 item 5), end to end through ``cmrules sync``
on the fake portal: an agency and its clients, where a client's KPIs agreed or crisis procedure
may not be filled in.  Only the two rules reading those fields are on, so each client's gap set
is what the salesperson can fill in: "crisis procedure", "KPIs agreed" or both."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests
from click.testing import CliRunner
from hubspot_fake import TOKEN, FakeHubSpot, SimulatedCrash, populate

from cmrules.cli import cli
from cmrules.rulebook import load
from cmrules.tasks import task_fingerprint

KEEP = {"CMR017", "CMR018"}  # crisis procedure (escalation_plan), impact measured (kpis_defined)
AS_OF = ["--as-of", "2023-11-20"]  # a week after the fake portal's meetings
NOTES_CREATE = r"/crm/v3/objects/notes/batch/create$"
TASKS_CREATE = r"/crm/v3/objects/tasks/batch/create$"
TASKS_UPDATE = r"/crm/v3/objects/tasks/batch/update$"
FLAGS_UPDATE = r"/crm/v3/objects/companies/batch/update$"


def config_text(api_version: str = "2026-09", tasks: bool = True) -> str:
    disabled = sorted(r.id for r in load().rules if r.id not in KEEP)
    return (
        f"source: hubspot\nlanguage: en\ntasks: {'true' if tasks else 'false'}\n"
        f"rules:\n  disable: [{', '.join(disabled)}]\n"
        f"hubspot:\n  service_key: ${{HUBSPOT_SERVICE_KEY}}\n  api_version: '{api_version}'\n"
        "  client_association_labels: [Client]\n  attributes:\n    regulated: cm_regulated\n"
        "    kpis_defined: cm_kpis_defined\n    escalation_plan: cm_escalation_plan\n"
    )


class Portal:
    """The fake portal, the config and the CLI runs."""

    def __init__(
        self, fake: FakeHubSpot, ids: dict[str, list[str]], config: str, state: str, version: str
    ):
        self.fake, self.ids, self.config, self.state = fake, ids, config, state
        self.version = version
        self.clients = ids["clients"]
        self.alice = ""  # the owner of clients 0-2

    def run(self, *args: str, crash: bool = False, codes: tuple[int, ...] = (0, 1)) -> dict:
        """One ``sync --full --json``; exit 4 means some record failed (pass ``codes``)."""
        argv = ["--config", self.config, "sync", "--full", "--json", "--state", self.state]
        if crash:
            with pytest.raises(SimulatedCrash):
                CliRunner().invoke(cli, [*argv, *AS_OF, *args], catch_exceptions=False)
            return {}
        res = CliRunner().invoke(cli, [*argv, *AS_OF, *args], catch_exceptions=False)
        assert res.exit_code in codes, res.output
        return json.loads(res.stdout)

    def set(self, company: str, **props: str) -> None:
        record = self.fake.objects["companies"][company]
        record["properties"].update(props)
        self.fake._touch("companies", record, self.fake.tick())

    def tasks(self, company: str, status: str | None = None) -> list[dict]:
        """The cmrules tasks on a company (found by their marker), optionally by status."""
        return [
            t["properties"]
            for t in self.fake.tasks_of(company)
            if "cmrules-task:" in (t["properties"].get("hs_task_body") or "")
            and (status is None or t["properties"]["hs_task_status"] == status)
        ]

    def open_tasks(self) -> dict[str, list[str]]:
        """company -> fingerprints of its open cmrules tasks."""
        return {
            c: [marker(t) for t in self.tasks(c) if t["hs_task_status"] != "COMPLETED"]
            for c in self.clients
        }


def marker(task: dict) -> str:
    return re.findall(r"cmrules-task:(\w+)", task["hs_task_body"])[-1]


@contextmanager
def portal_on(tmp_path, monkeypatch, version: str, companies: int = 6) -> Iterator[Portal]:
    """One agency and its clients; KPIs agreed unknown on clients 0 and 3, crisis procedure
    unknown everywhere but client 4; clients 0-2 owned by Alice, the others by nobody."""
    monkeypatch.setenv("HUBSPOT_SERVICE_KEY", TOKEN)
    config = tmp_path / "cmrules.yaml"
    config.write_text(config_text(version), encoding="utf-8")
    with FakeHubSpot() as fake:
        ids = populate(fake, companies, vendors=1, contacts_per_company=1, meetings_per_company=3)
        fake.define_property("companies", "cm_escalation_plan", "bool")
        p = Portal(fake, ids, str(config), str(tmp_path / "state.json"), version)
        p.alice = fake.owner("Alice", "Martin", "alice.martin@agence0.example")
        for c in p.clients[:3]:
            p.set(c, hubspot_owner_id=p.alice)
        p.set(p.clients[4], cm_escalation_plan="true")
        res = CliRunner().invoke(cli, ["--config", str(config), "setup"], catch_exceptions=False)
        assert res.exit_code == 0, res.output
        fake.calls.clear()
        yield p


@pytest.fixture(params=["2026-09", "legacy"])
def portal(request, tmp_path, monkeypatch):
    """Five clients (see :func:`portal_on`), through each API version's paths."""
    with portal_on(tmp_path, monkeypatch, request.param) as p:
        yield p


def test_one_task_per_company_and_gap_set_assigned_and_associated(portal):
    """Each client with gaps gets one task, to its owner, linked to the company (192); client
    4 (no gap left) none; every call went to the configured version's paths."""
    p = portal
    summary = p.run()
    assert summary["failed"] == 0
    assert p.fake.count("POST", TASKS_CREATE) == 1  # one batch for the four tasks
    c0 = p.tasks(p.clients[0])
    assert len(c0) == 1 and p.tasks(p.clients[4]) == []
    task = c0[0]
    assert task["hs_task_subject"] == "Complete Client 0 for cmrules"
    fp = task_fingerprint(p.clients[0], ("crisis procedure", "KPIs agreed"))
    assert task["hs_task_body"] == (  # as shown in the README
        f"<p>To assess 2 more points, fill in: crisis procedure and KPIs agreed.</p>"
        f"<p>cmrules-task:{fp}</p>"
    )
    assert (p.clients[0], fp, p.alice) == ("1003", "e27460a01da595af", "70001")
    one = p.tasks(p.clients[1])[0]["hs_task_body"]
    assert one.startswith("<p>To assess 1 more point, fill in: crisis procedure.</p>")
    assert (task["hs_task_status"], task["hs_task_priority"], task["hs_task_type"]) == (
        "NOT_STARTED", "MEDIUM", "TODO",
    )  # fmt: skip
    assert task["hubspot_owner_id"] == p.alice
    due_in_days = (int(task["hs_timestamp"]) / 1000 - time.time()) / 86400
    assert 6.9 < due_in_days <= 7  # due a week after it is written
    task_id = p.fake.associated("companies", p.clients[0], "tasks")[0]
    types = p.fake.assoc[("tasks", "companies")][task_id][p.clients[0]]
    assert {"category": "HUBSPOT_DEFINED", "typeId": 192, "label": None} in types
    assert {c["version"] for c in p.fake.calls} == {p.version}
    assert not re.search(r"[a-z]+_[a-z]+", task["hs_task_body"].split("cmrules-task:")[0])


def test_rerun_on_unchanged_data_makes_zero_write_calls(portal):
    p = portal
    p.run()
    p.fake.calls.clear()
    summary = p.run()
    assert summary["unchanged"] == summary["records_evaluated"] and p.fake.write_calls() == 0
    assert all(len(t) <= 1 for t in p.open_tasks().values())


def test_task_completed_when_its_gaps_are_filled_and_replaced_when_they_change(portal):
    """Client 1 fills in its crisis procedure: its task is completed, no new one.  Client 0
    fills in KPIs agreed: its task is completed and one for the crisis procedure alone is
    created.  Both in one tasks batch update and one tasks batch create."""
    p = portal
    first = p.run()
    assert (first["tasks_created"], first["tasks_completed"]) == (4, 0)  # clients 0-3 have gaps
    before = p.open_tasks()
    p.set(p.clients[1], cm_escalation_plan="true")
    p.set(p.clients[0], cm_kpis_defined="true")
    p.fake.calls.clear()
    second = p.run()
    assert (second["tasks_created"], second["tasks_completed"]) == (1, 2)  # sync --json says so
    assert p.fake.count("POST", TASKS_UPDATE) == 1 and p.fake.count("POST", TASKS_CREATE) == 1
    assert p.tasks(p.clients[1], "COMPLETED")[0]["hs_task_completion_date"]
    assert p.open_tasks()[p.clients[1]] == []
    (old,) = p.tasks(p.clients[0], "COMPLETED")
    (new,) = p.tasks(p.clients[0], "NOT_STARTED")
    assert marker(old) == before[p.clients[0]][0] and marker(new) != marker(old)
    assert new["hs_task_body"].startswith("<p>To assess 1 more point, fill in: crisis procedure")
    assert p.open_tasks()[p.clients[2]] == before[p.clients[2]]  # untouched
    p.fake.calls.clear()
    third = p.run()
    assert p.fake.write_calls() == 0
    assert (third["tasks_created"], third["tasks_completed"], third["tasks_reopened"]) == (0, 0, 0)


# The write calls of a run in which client 0's gap set changes (note, new task, old task
# completed, flags) and client 2 fills its last gap (note, task completed, flags).
STEPS = [
    (run, path, after)
    for run in ("first run", "gap change")
    for path in (NOTES_CREATE, TASKS_CREATE, TASKS_UPDATE, FLAGS_UPDATE)
    for after in (False, True)
    if not (run == "first run" and path == TASKS_UPDATE)  # a first run completes no task
]


def step_name(run: str, path: str, after: bool) -> str:
    return f"{run}, {'after' if after else 'before'} {path.split('/')[-3]} {path.split('/')[-1]}"


@pytest.mark.parametrize(("run", "path", "after"), STEPS, ids=[step_name(*s) for s in STEPS])
def test_killed_between_any_two_write_calls_then_rerun_never_duplicates(portal, run, path, after):
    """The process is killed before or after each write call (the answer lost), then rerun:
    each company ends with exactly one open cmrules task, the right one; no fingerprint is
    created twice; one note per fingerprint; a third run writes nothing."""
    p = portal
    if run == "gap change":
        p.run()
        p.set(p.clients[0], cm_kpis_defined="true")
        p.set(p.clients[2], cm_escalation_plan="true")
    p.fake.inject("POST", path, raise_=SimulatedCrash("killed"), after=after)
    p.run(crash=True)
    p.run()
    p.fake.calls.clear()
    p.run()
    assert p.fake.write_calls() == 0
    assert p.open_tasks() == expected_open(p, changed=run == "gap change")
    for c in p.clients:
        made = Counter(marker(t) for t in p.tasks(c))
        assert all(n == 1 for n in made.values()), f"{c}: {made}"
        bodies = "".join(n["properties"]["hs_note_body"] for n in p.fake.notes_of(c))
        notes = Counter(re.findall(r"cmrules:([\w.\-]+)", bodies))
        assert all(n == 1 for n in notes.values()), f"{c}: {notes}"


def expected_open(p: Portal, changed: bool) -> dict[str, list[str]]:
    """company -> the fingerprint of the one open task it should have (the gaps left)."""
    crisis, kpis = "crisis procedure", "KPIs agreed"
    gaps = [(crisis, kpis), (crisis,), (crisis,), (crisis, kpis), ()]
    if changed:
        gaps[0], gaps[2] = (crisis,), ()
    return {c: [task_fingerprint(c, g)] if g else [] for c, g in zip(p.clients, gaps, strict=True)}


def test_company_without_owner_gets_an_unassigned_task_and_the_summary_says_so(portal):
    """Clients 3 and 4 have no owner; client 3 has gaps: its task is created unassigned
    (still on the company's record), and one warning line names it."""
    p = portal
    summary = p.run()
    (task,) = p.tasks(p.clients[3])
    assert "hubspot_owner_id" not in task
    lines = [w for w in summary["warnings"] if "without an assignee" in w]
    assert lines == [
        "HubSpot: 1 data-gap task was created without an assignee, the company having no "
        "owner (hubspot_owner_id): Client 3; set an owner on the company to have its next "
        "task assigned"
    ]


def test_one_refused_task_fails_that_task_only_and_is_retried(portal):
    """Client 1's owner left the portal (HubSpot refuses the owner id: VALIDATION_ERROR in
    the batch answer).  The other tasks are created; client 1 is reported failed with
    HubSpot's reason, its note and flags are written, its history marks the task unsynced;
    once the owner is fixed, the next run creates the task, then nothing more is written."""
    p = portal
    p.set(p.clients[1], hubspot_owner_id=p.fake.owner("Léa", "Roux", "lea@x.example", True))
    summary = p.run(codes=(4,))
    assert summary["failed"] == 1 and len(p.fake.notes_of(p.clients[1])) == 1
    assert p.tasks(p.clients[1]) == []
    assert all(p.tasks(c) for c in p.clients[:4] if c != p.clients[1])
    props = p.fake.objects["companies"][p.clients[1]]["properties"]
    assert json.loads(props["cmrules_history"])["task"] == "unsynced"
    assert props["cmrules_fingerprint"]
    p.set(p.clients[1], hubspot_owner_id=p.alice)
    p.fake.calls.clear()
    summary = p.run()
    assert summary["failed"] == 0 and summary["notes_written"] == 0
    writes = [c["path"] for c in p.fake.calls if c["write"]]
    assert writes == [TASKS_CREATE[:-1], FLAGS_UPDATE[:-1]]
    assert p.open_tasks() == expected_open(p, changed=False)
    p.fake.calls.clear()
    p.run()
    assert p.fake.write_calls() == 0


def test_portal_validation_rule_on_tasks_fails_those_tasks_only(portal):
    """The portal's admin requires an owner on every task: client 3's unassigned task is
    refused through 2026-09 (HubSpot enforces such rules from that version), not on legacy
    paths; the owned clients' tasks are created either way."""
    p = portal
    p.fake.add_validation_rule("tasks", "hubspot_owner_id", "A task needs an owner")
    summary = p.run(codes=(0, 1, 4))
    if p.version == "2026-09":
        assert summary["failed"] == 1 and p.tasks(p.clients[3]) == []
    else:
        assert summary["failed"] == 0 and len(p.tasks(p.clients[3])) == 1
    assert all(len(p.tasks(c)) == 1 for c in p.clients[:3])


@pytest.mark.parametrize("failure", ["timeout-after", "500-after", "429", "connection-before"])
def test_transient_failure_on_task_create_never_duplicates(portal, failure):
    """A create whose answer is lost (timeout or 5xx after HubSpot applied it) is looked up
    before anything is re-sent; a 429 is waited out and retried."""
    p = portal
    if failure == "timeout-after":
        p.fake.inject("POST", TASKS_CREATE, raise_=requests.ReadTimeout("slow"), after=True)
    elif failure == "500-after":
        p.fake.inject("POST", TASKS_CREATE, status=500, after=True)
    elif failure == "429":
        limit = "You have reached your ten_secondly_rolling limit."
        body = {"status": "error", "category": "RATE_LIMITS", "message": limit,
                "policyName": "TEN_SECONDLY_ROLLING"}  # fmt: skip
        p.fake.inject("POST", TASKS_CREATE, status=429, body=body, headers={"Retry-After": "1"})
    else:
        p.fake.inject("POST", TASKS_CREATE, raise_=requests.ConnectionError("reset"))
    summary = p.run()
    assert summary["failed"] == 0
    assert p.open_tasks() == expected_open(p, changed=False)


def test_dry_run_shows_the_tasks_to_create_then_to_complete_and_writes_nothing(tmp_path, portal):
    p = portal
    argv = ["--config", p.config, "evaluate", "--vendor", p.ids["vendors"][0], "--dry-run", *AS_OF]
    out = CliRunner().invoke(cli, argv, catch_exceptions=False).output
    assert "+ task: Complete Client 0 for cmrules — To assess 2 more points" in out
    assert out.count("+ task:") == 4 and p.fake.write_calls() == 0
    p.run()
    p.set(p.clients[1], cm_escalation_plan="true")
    p.fake.calls.clear()
    out = CliRunner().invoke(cli, argv, catch_exceptions=False).output
    fp = expected_open(p, changed=False)[p.clients[1]][0]
    assert f"- task: complete the open data-gap task cmrules-task:{fp} (the gaps are filled)" in out
    assert "+ task:" not in out and p.fake.write_calls() == 0


def test_gaps_that_come_back_reopen_the_task_cmrules_completed(portal):
    """Client 1 fills in its crisis procedure (task completed), then the field is emptied
    again: the same gap set reopens the same task rather than creating a second one."""
    p = portal
    p.run()
    p.set(p.clients[1], cm_escalation_plan="true")
    p.run()
    p.set(p.clients[1], cm_escalation_plan="")
    assert p.run()["tasks_reopened"] == 1
    (task,) = p.tasks(p.clients[1])
    assert task["hs_task_status"] == "NOT_STARTED" and "hs_task_completion_date" not in task


def test_a_person_completing_the_task_is_respected(portal):
    """The salesperson marks the task done without filling the field: cmrules does not
    reopen it (the record's history names it) even when the record is written again."""
    p = portal
    p.run()
    task_id = p.fake.associated("companies", p.clients[1], "tasks")[0]
    p.fake.objects["tasks"][task_id]["properties"]["hs_task_status"] = "COMPLETED"
    p.set(p.clients[1], cm_regulated="true")  # a change that rewrites the record
    p.fake.calls.clear()
    p.run()
    assert p.fake.count("POST", TASKS_CREATE) == 0 and p.fake.count("POST", TASKS_UPDATE) == 0
    assert p.tasks(p.clients[1])[0]["hs_task_status"] == "COMPLETED"


def test_tasks_are_batched_100_per_call(tmp_path, monkeypatch):
    """150 clients with a gap: two tasks batch creates of at most 100 inputs, not 150 calls."""
    with portal_on(tmp_path, monkeypatch, "2026-09", companies=151) as p:
        assert p.run()["failed"] == 0
        creates = [c["inputs"] for c in p.fake.calls if re.search(TASKS_CREATE, c["path"])]
        assert len(creates) == 2 and sum(creates) == 149 and max(creates) <= 100
        assert sum(len(p.tasks(c)) for c in p.clients) == 149  # client 4 has no gap


def test_tasks_true_with_zendesk_is_one_error_line(tmp_path, monkeypatch):
    """Zendesk has no task object (docs/zendesk.md): asking for tasks is a config error."""
    from zendesk_fake import EMAIL
    from zendesk_fake import TOKEN as ZD_TOKEN

    monkeypatch.setenv("ZENDESK_EMAIL", EMAIL)
    monkeypatch.setenv("ZENDESK_API_TOKEN", ZD_TOKEN)
    config = tmp_path / "cmrules.yaml"
    config.write_text(
        "source: zendesk\ntasks: true\nzendesk:\n  subdomain: acme\n"
        "  email: ${ZENDESK_EMAIL}\n  token: ${ZENDESK_API_TOKEN}\n",
        encoding="utf-8",
    )
    res = CliRunner().invoke(cli, ["--config", str(config), "evaluate", "--vendor", "SocialCo"])
    assert res.exit_code == 2
    lines = [line for line in res.output.splitlines() if "Error" in line]
    assert lines == [
        f"Error: {config}:2: tasks: true, but the zendesk connector does not create data-gap "
        "tasks; remove 'tasks' from the config, or use a source that does (hubspot, local)"
    ]


def test_one_record_at_a_time_path_syncs_the_task_and_survives_a_refusal():
    """``Connector.apply`` (used when HubSpot is combined with a helpdesk) writes note, task,
    flags; a refused task still lets the flags land, with the history marking it unsynced."""
    from dataclasses import replace

    from hubspot_fake import make_connector
    from test_hubspot_write import RULES, render, setup_portal

    from cmrules import tasks as tasks_mod
    from cmrules.errors import WriteError

    with FakeHubSpot() as fake:
        vendor, clients = setup_portal(fake, 2)
        gone = fake.owner("Léa", "Roux", "lea@x.example", archived=True)
        fake.objects["companies"][clients[1]]["properties"]["hubspot_owner_id"] = gone
        connector = make_connector(fake, rule_ids=RULES)
        orgs = {o.id: o for o in connector.load([vendor]).companies()}
        for c in clients:
            task = tasks_mod.build(c, orgs[c].name, 1, ("crisis procedure",), "en")
            note = replace(render(orgs[c]), task=task, tasks_on=True, unsynced_history="{}")
            if c == clients[0]:
                assert connector.apply(note) is True
                assert connector.sync_task(orgs[c], task) == 0  # already there: no write
            else:
                with pytest.raises(WriteError, match="INVALID_OWNER_ID"):
                    connector.apply(note)
                props = fake.objects["companies"][c]["properties"]
                assert props["cmrules_history"] == "{}" and props["cmrules_fingerprint"]
        assert [len(fake.tasks_of(c)) for c in clients] == [1, 0]


def test_whole_batch_400_on_task_create_is_retried_task_by_task(portal):
    """A tasks batch refused as a whole (400: nothing written) must not fail every company:
    the shared batch-create loop (batchcreate.py) sends each task alone; one open task each."""
    p = portal
    p.fake.inject("POST", TASKS_CREATE, status=400, times=1)
    summary = p.run()
    assert summary["failed"] == 0 and summary["tasks_created"] == 4
    assert p.fake.count("POST", TASKS_CREATE) == 1 + 4  # the refused batch, then one each
    assert p.open_tasks() == expected_open(p, changed=False)


def test_a_batch_that_keeps_landing_partly_stops_after_the_retries_then_the_rerun_ends_it(
    tmp_path, monkeypatch, caplog
):
    """Every tasks batch create lands its first input only, then its answer is lost: each
    round looks the tasks up and re-sends only the rest, until the retries are spent; the
    rest fail ('kept failing … rerun to finish') and the next run creates them, never twice."""
    with portal_on(tmp_path, monkeypatch, "2026-09", companies=10) as p:
        original = p.fake._batch_create

        def first_only(object_type: str, body: dict) -> object:
            if object_type != "tasks":
                return original(object_type, body)
            original(object_type, {"inputs": body["inputs"][:1]})
            raise requests.ReadTimeout("answer lost")

        p.fake._batch_create = first_only
        summary = p.run(codes=(4,))
        wanted = len(p.clients) - 1  # every client but client 4 has a gap
        assert summary["tasks_created"] == 6  # one per round: the first and 5 retries
        assert summary["failed"] == wanted - 6 > 0
        assert "tasks batch create kept failing after 6 partial attempts" in caplog.text
        p.fake._batch_create = original
        assert p.run()["tasks_created"] == wanted - 6
        for c in p.clients:
            assert len(p.tasks(c)) == (0 if c == p.clients[4] else 1)
