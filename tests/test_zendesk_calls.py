"""Zendesk API calls: ticket metrics for one company on a 100,000-ticket account cost at most
ceil(n/100) + 2 calls, and an incremental sync right after a full one reads back nothing that
cmrules itself wrote — while a person's edit made after cmrules' write is read again.

The account is the stateful fake (tests/zendesk_fake/): its 100,000 tickets are generated page
by page, its clock stamps ``updated_at`` on every write, its exports are computed from its
state and leave out the last minute, as Zendesk's do.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
import responses
from zendesk_fake import EMAIL, TOKEN, Clock, FakeZendesk, note_for, scenario

from cmrules import service
from cmrules.connector import ConnectorContext
from cmrules.connectors.zendesk import ZendeskConnector
from cmrules.connectors.zendesk.ownwrites import OwnWrites, digest

ACCOUNT = 100_000
TICKET_CALLS = ("/api/v2/organizations/200/tickets", "/api/v2/tickets", "/api/v2/ticket_metrics")


@pytest.fixture
def zd():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = scenario(rsps)
        fake.filler_tickets = ACCOUNT - len(fake.tickets)  # another customer's tickets
        yield fake


def make(**settings) -> ZendeskConnector:
    base = {"subdomain": "acme", "email": EMAIL, "token": TOKEN}
    clock = Clock()
    return ZendeskConnector(
        {**base, **settings}, ConnectorContext(), sleep=clock.sleep, clock=clock
    )


def ticket_calls(zd: FakeZendesk) -> list[str]:
    return [p for p in zd.calls("GET") if p.startswith(TICKET_CALLS)]


def bound(n: int) -> int:
    return math.ceil(n / 100) + 2


def grow_acme(zd: FakeZendesk, n: int) -> None:
    """Acme (200) gets ``n`` tickets in all, each with a reply time of its own."""
    for tid in range(5000, 5000 + n - 3):
        zd.ticket(tid, 200, 10, {"replies": 1, "reply_time_in_minutes": {"business": tid % 50}})


# -- metrics for one company ------------------------------------------------------------------
def test_three_tickets_cost_one_call_with_side_loaded_metrics(zd):
    """`evaluate --company` on a client with 3 tickets must not page the whole account."""
    data = make().load(["100"], ["200"])
    assert ticket_calls(zd) == ["/api/v2/organizations/200/tickets"]  # 1 <= ceil(3/100) + 2
    by_id = {a.id: a for a in data.activities}
    assert by_id["1000"].first_reply_minutes == 30.0 and by_id["1000"].replies == 2
    assert by_id["1001"].first_reply_minutes is None  # no metrics record: unknown, not zero
    assert by_id["1002"].first_reply_minutes is None and by_id["1002"].replies == 0


def test_150_tickets_cost_two_listing_pages_and_no_metric_call(zd):
    """A client with 150 tickets: two listing pages of 100 carry every metric set."""
    grow_acme(zd, 150)
    data = make().load(["100"], ["200"])
    assert len(ticket_calls(zd)) == 2 <= bound(150)
    assert {a.id: a.first_reply_minutes for a in data.activities}["5049"] == 49.0


@pytest.mark.parametrize(("n", "calls"), [(3, 2), (150, 4)])
def test_listing_without_side_load_falls_back_to_show_many(zd, n, calls):
    """An API that ignores the include on the listing: show_many (100 ids a call) side-loads
    the rest, still within the bound."""
    grow_acme(zd, n)
    zd.sideload_org_tickets = False
    data = make().load(["100"], ["200"])
    assert len(ticket_calls(zd)) == calls <= bound(n)
    assert len(zd.calls("GET", "/api/v2/tickets/show_many")) == math.ceil(n / 100)
    assert {a.id: a.first_reply_minutes for a in data.activities}["1000"] == 30.0


def test_a_single_ticket_left_is_read_per_ticket(zd):
    """One ticket without its metric set: one call either way, the smaller answer wins."""
    zd.sideload_org_tickets = False
    del zd.tickets[1001], zd.tickets[1002]
    data = make().load(["100"], ["200"])
    assert ticket_calls(zd) == [
        "/api/v2/organizations/200/tickets",
        "/api/v2/tickets/1000/metrics",
    ]
    assert data.activities[0].first_reply_minutes == 30.0


def test_when_nothing_side_loads_few_tickets_are_read_one_by_one(zd):
    """Last resort (neither the listing nor show_many side-loads): per ticket for a few
    tickets — the values are still right, never a silent zero."""
    zd.sideload_org_tickets = zd.sideload_show_many = False
    data = make().load(["100"], ["200"])
    assert ticket_calls(zd) == [
        "/api/v2/organizations/200/tickets",
        "/api/v2/tickets/show_many",
        *(f"/api/v2/tickets/{t}/metrics" for t in (1000, 1001, 1002)),
    ]
    assert {a.id: a.first_reply_minutes for a in data.activities}["1000"] == 30.0


def test_forced_bulk_mode_still_pages_the_account(zd):
    """`ticket_metrics: bulk` keeps the account-wide listing (newest first): the 100,000
    tickets are why `auto` is the default.  Paging stops once every ticket is covered."""
    zd.filler_tickets = 450
    del zd.tickets[1001]  # every remaining ticket has metrics: paging can stop early
    make(ticket_metrics="bulk").load(["100"], ["200"])
    assert len(zd.calls("GET", "/api/v2/ticket_metrics")) == 5  # 450 newer ones first


# -- full then incremental sync ---------------------------------------------------------------
def sync(zd: FakeZendesk, state, *, full: bool):
    conn = make()
    session = service.open_session(None, connector=conn)
    zd.log.clear()
    report = service.sync(session, full=full, state_path=state)
    return report, conn


def test_full_sync_reads_each_client_listing_once_and_no_account_wide_page(zd, tmp_path):
    """The whole portfolio: one listing page per client, metrics side-loaded on it."""
    report, _ = sync(zd, tmp_path / "state.json", full=True)
    assert report.summary()["failed"] == 0
    gets = zd.calls("GET")
    assert sorted(p for p in gets if "/tickets" in p or "metrics" in p) == [
        "/api/v2/organizations/200/tickets",
        "/api/v2/organizations/201/tickets",
    ]
    assert len(gets) == 9  # orgs list, 4 users lists, 2 ticket lists, 2 fresh reads to merge
    assert len(zd.calls("PUT")) == 3  # SocialCo, Acme, Beta


def test_incremental_sync_right_after_a_full_one_reads_nothing_back(zd, tmp_path):
    """cmrules' own three PUTs changed updated_at; the next sync skips them by content."""
    state = tmp_path / "state.json"
    sync(zd, state, full=True)
    zd.later(120)  # past Zendesk's one-minute export delay: the writes are in the export
    report, conn = sync(zd, state, full=False)
    assert zd.calls("GET") == [
        "/api/v2/incremental/organizations",
        "/api/v2/incremental/tickets/cursor.json",
        "/api/v2/incremental/users/cursor.json",
    ]
    assert zd.calls("PUT") == [] and report.stats["records_read"] == 0
    assert conn.context.stats["zendesk_own_writes_skipped"] == 3


@pytest.mark.parametrize("same_second", [False, True])
def test_a_persons_edit_after_cmrules_write_is_read_again(zd, tmp_path, same_second):
    """A note added by an agent after cmrules wrote Acme — even within the same second, which a
    timestamp rule could not tell apart — brings Acme (and its vendor) back."""
    state = tmp_path / "state.json"
    sync(zd, state, full=True)
    written = zd.orgs[200]["updated_at"]
    zd.edit_org(200, notes=zd.orgs[200]["notes"] + "\nCalled them: renewal in March.")
    if same_second:
        zd.orgs[200]["updated_at"] = written
    zd.later(120)
    report, conn = sync(zd, state, full=False)
    assert report.stats["records_read"] == 1  # Acme; SocialCo and Beta were cmrules' writes
    assert "/api/v2/organizations/200/tickets" in zd.calls("GET")
    assert conn.context.stats["zendesk_own_writes_skipped"] == 2
    assert "Called them: renewal in March." in zd.orgs[200]["notes"]


def test_removing_cmrules_tags_by_hand_is_a_change(zd, tmp_path):
    state = tmp_path / "state.json"
    sync(zd, state, full=True)
    zd.edit_org(201, tags=[t for t in zd.orgs[201]["tags"] if not t.startswith("cmrules_")])
    zd.later(120)
    report, _ = sync(zd, state, full=False)
    assert report.stats["records_read"] == 1
    assert any(t.startswith("cmrules_risk_") for t in zd.orgs[201]["tags"])  # restored


def test_a_ticket_update_after_the_full_sync_is_read_again(zd, tmp_path):
    """cmrules writes no ticket: the ticket export brings back only others' changes."""
    state = tmp_path / "state.json"
    sync(zd, state, full=True)
    zd.later(120)
    sync(zd, state, full=False)
    assert zd.calls("GET", "/api/v2/organizations/") == []  # nothing came back
    zd.edit_ticket(1003, status="solved")
    zd.later(120)
    report, _ = sync(zd, state, full=False)
    assert report.stats["records_read"] == 1  # Beta, through its ticket
    assert "/api/v2/organizations/201/tickets" in zd.calls("GET")


def test_an_edit_between_the_read_and_the_write_is_not_remembered_as_own(zd):
    """A person changes Acme's fields after cmrules read it and before it wrote: the write
    merges the change, and the next sync reads Acme again (its findings predate the edit)."""
    conn = make()
    data = conn.load(["100"], ["200"])
    fields = {**zd.orgs[200]["organization_fields"], "regulated": False}
    zd.edit_org(200, organization_fields=fields)
    conn.apply(note_for(data.organisations["200"], "fp-1", "flagged"))
    assert conn.own_writes.is_own(zd.orgs[200]) is False
    zd.later(120)
    now = zd.wall()
    change = make().changed_since(now - timedelta(minutes=10), now)
    assert "200" in change.organisation_ids


def test_a_torn_or_missing_record_only_costs_a_re_read(zd, tmp_path):
    state = tmp_path / "state.json"
    sync(zd, state, full=True)
    path = make().own_writes.path
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and path.stat().st_mode & 0o777 == 0o600
    path.write_text("\n".join(lines[:-1]) + '\n{"id": "2')  # killed while appending
    zd.later(120)
    report, conn = sync(zd, state, full=False)
    assert conn.context.stats["zendesk_own_writes_skipped"] == 2
    assert report.stats["records_read"] == 1 and zd.calls("PUT") == []


def test_digest_compares_content_not_representation(tmp_path):
    """The export and the PUT answer may order tags differently or carry extra keys; any
    change of a documented field — a notes line, a field value — is a change."""
    org = {"id": 7, "name": "Acme", "notes": "x", "tags": ["b", "a"], "updated_at": "t1"}
    same = {**org, "tags": ["a", "b"], "updated_at": "t2", "url": "u", "extra": 1}
    assert digest(org) == digest(same)
    assert digest(org) != digest({**org, "notes": "x\ny"})
    assert digest(org) != digest({**org, "organization_fields": {"cm_vendor": "v"}})
    own = OwnWrites(tmp_path / "own.jsonl")
    for n in range(300):  # the same organisation written again and again
        own.record("7", org, org, {"notes": str(n)}, {**org, "notes": str(n)})
    reopened = OwnWrites(tmp_path / "own.jsonl")
    assert reopened.is_own({**org, "notes": "299"}) and not reopened.is_own(org)
    assert len((tmp_path / "own.jsonl").read_text().splitlines()) == 1  # compacted on load
    renamed = {**org, "notes": "n", "name": "Acme Corp"}  # someone renamed it as cmrules wrote
    assert reopened.record("7", org, org, {"notes": "n"}, renamed) is False
    assert not reopened.is_own(renamed) and not reopened.is_own({**org, "notes": "299"})
