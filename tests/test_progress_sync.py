"""Every phase of a run reports its counts (library level, one run per connector): what the
status line is fed.  The events are collected, not drawn; the drawing is tests/test_progress*.py."""

from __future__ import annotations

from datetime import UTC, datetime

import local_portfolio as portfolio
import pytest
import responses
from hubspot_fake import FakeHubSpot, make_connector, populate
from zendesk_fake import EMAIL, TOKEN, Clock, scenario

from cmrules import service
from cmrules.connector import ConnectorContext
from cmrules.connectors.local.connector import LocalConnector
from cmrules.connectors.zendesk import ZendeskConnector
from cmrules.model import OrgKind
from cmrules.progress import Event

AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)


def phases(events: list[Event]) -> list[str]:
    """Phases in the order they first report."""
    return list(dict.fromkeys(e.phase for e in events))


def last(events: list[Event], name: str) -> Event:
    return [e for e in events if e.phase == name][-1]


def test_hubspot_sync_reports_reads_with_totals_then_evaluation_then_writes():
    with FakeHubSpot() as fake:
        populate(fake, 8, vendors=2, contacts_per_company=2, meetings_per_company=2)
        session = service.open_session(None, connector=make_connector(fake))
        session.connector.rule_ids = [r.id for r in session.rulebook]
        session.connector.setup()
        events: list[Event] = []
        report = service.sync(session, full=True, as_of=AS_OF, on_progress=events.append)
    order = phases(events)
    for name in ("changes", "vendors", "companies", "contacts", "activities", "evaluate"):
        assert name in order, order
    assert order.index("changes") < order.index("evaluate") < order.index("write")
    # batch reads know how many records they read: counts of a total, so an ETA
    contacts = [e for e in events if e.phase == "contacts" and e.total]
    assert contacts and contacts[-1].done == contacts[-1].total
    records = report.summary()["records_evaluated"]
    assert last(events, "evaluate").done == last(events, "evaluate").total == records
    assert last(events, "write").done == last(events, "write").total == records
    assert report.summary()["failed"] == 0 and report.summary()["notes_written"] == records
    assert session.context.progress is None  # reads stop reporting when the run ends


def test_hubspot_rerun_counts_records_written_even_when_unchanged():
    with FakeHubSpot() as fake:
        populate(fake, 4, vendors=1)
        session = service.open_session(None, connector=make_connector(fake))
        session.connector.rule_ids = [r.id for r in session.rulebook]
        session.connector.setup()
        first = service.sync(session, full=True, as_of=AS_OF)
        events: list[Event] = []
        again = service.sync(
            service.open_session(None, connector=make_connector(fake)), full=True, as_of=AS_OF,
            on_progress=events.append,
        )  # fmt: skip
    write = last(events, "write")
    assert again.summary()["unchanged"] == first.summary()["records_evaluated"]  # no call
    assert write.done == write.total == first.summary()["records_evaluated"]  # still counted


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


def test_zendesk_sync_reports_pages_with_no_total(rsps):
    scenario(rsps)
    clock = Clock()
    settings = {"subdomain": "acme", "email": EMAIL, "token": TOKEN}
    conn = ZendeskConnector(settings, ConnectorContext(), sleep=clock.sleep, clock=clock)
    events: list[Event] = []
    service.sync(service.open_session(None, connector=conn), full=True, as_of=AS_OF,
                 dry_run=True, on_progress=events.append)  # fmt: skip
    pages = [e for e in events if e.unit == "pages"]
    assert {e.phase for e in pages} >= {"companies", "activities"}
    assert all(e.total is None for e in pages)  # Zendesk lists give no totals: count and rate
    for name in {e.phase for e in pages}:  # pages counted one by one per phase
        counts = [e.done for e in pages if e.phase == name]
        assert counts == list(range(1, len(counts) + 1))
    assert "evaluate" in phases(events) and "write" in phases(events)


def test_local_sync_streams_the_portfolio_in_two_counted_passes(tmp_path):
    path = tmp_path / "local.sqlite3"
    portfolio.build(path, 1200)  # three chunks of at most 500 clients
    conn = LocalConnector({"path": str(path), "demo": False})
    events: list[Event] = []
    service.sync(service.open_session(None, connector=conn), full=True, dry_run=True,
                 as_of=portfolio.AS_OF, on_progress=events.append)  # fmt: skip
    order = phases(events)
    assert order[:2] == ["changes", "vendors"]
    assert order.index("portfolio") < order.index("evaluate")
    big = [e for e in events if e.phase == "portfolio"]
    assert [e.done for e in big][:4] == [0, 500, 1000, 1200]  # the big agency, chunk by chunk
    vendors = [o.id for o in conn.find_organisations("", OrgKind.VENDOR)]
    assert big[0].total == sum(len(conn.clients_of(v)) for v in vendors)
    judged = [e for e in events if e.phase == "evaluate"]
    assert judged[-1].done == judged[-1].total == 1200 + len(vendors)  # every record, once
    assert "write" not in order  # streamed: written as evaluated, counted by the evaluation


def test_a_client_that_left_one_agency_for_another_counts_once(tmp_path):
    # Café Rive left Agence Nord in January and works with Agence Sud since: not judged for
    # Nord (ended), judged for Sud — one client, counted once, so the count ends at its total
    data = tmp_path / "agencies.yaml"
    data.write_text(
        """organisations:
  - {id: v1, name: Agence Nord, kind: vendor}
  - {id: v2, name: Agence Sud, kind: vendor}
  - {id: c1, name: Café Rive, kind: company}
  - {id: c2, name: Boulangerie Pain, kind: company}
engagements:
  - {company: c1, vendor: v1, started: 2024-03-01, ended: 2026-01-15}
  - {company: c1, vendor: v2, started: 2026-02-01}
  - {company: c2, vendor: v1, started: 2025-05-01}
""",
        "utf-8",
    )
    conn = LocalConnector({"path": str(tmp_path / "local.sqlite3"), "demo": False})
    conn.import_file(data)
    events: list[Event] = []
    service.sync(service.open_session(None, connector=conn), full=True, dry_run=True,
                 as_of=AS_OF, on_progress=events.append)  # fmt: skip
    judged = [e for e in events if e.phase == "evaluate"]
    assert judged[-1].total == 4  # two agencies, two clients
    assert [e.done for e in judged] == [1, 2, 3, 4]  # never past the total
