"""``source: local`` + ``helpdesk: zendesk``: the real local connector, the Zendesk double,
the core's signals and note rendering on the combined data, and write-back to both sides."""

from __future__ import annotations

from dataclasses import replace

import pytest
import responses
from zendesk_fake import EMAIL, T0, TOKEN, Clock, scenario

from cmrules.connector import ConnectorContext
from cmrules.connectors.local import LocalConnector, import_file
from cmrules.connectors.zendesk import ZendeskConnector
from cmrules.model import ActivityKind
from cmrules.notes import render
from cmrules.signals import CompanyContext, median_first_reply_minutes, unanswered_requests
from cmrules.sources import CombinedConnector, build_source

DATA = """
organisations:
  - {id: agency, name: SocialCo, kind: vendor, domain: socialco.fr}
  - {id: acme, name: Acme SA, kind: company, domain: www.acme.com}
  - {id: delta, name: Delta, kind: company, domain: delta.com}
contacts:
  - {id: alice, name: Alice, org: acme, roles: [project_owner], email: alice.owner@example.org}
  - {id: vera, name: Vera, org: agency, roles: [vendor_referent]}
engagements:
  - {company: acme, vendor: agency, started: "2023-01-01"}
  - {company: delta, vendor: agency, started: "2023-01-01"}
activities:
  - {id: m1, kind: meeting, date: "2024-05-20", company: acme, vendor: agency, side: vendor}
"""


@pytest.fixture
def zd():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield scenario(rsps)


def source(tmp_path, ctx: ConnectorContext) -> CombinedConnector:
    local = LocalConnector({"path": str(tmp_path / "local.sqlite3"), "demo": False}, ctx)
    if not (tmp_path / "imported").exists():
        (tmp_path / "data.yaml").write_text(DATA)
        import_file(local, tmp_path / "data.yaml")
        (tmp_path / "imported").touch()
    clock = Clock()
    zendesk = ZendeskConnector(
        {"subdomain": "acme", "email": EMAIL, "token": TOKEN}, ctx, sleep=clock.sleep, clock=clock
    )
    combined = build_source(local, zendesk, "domain")
    assert isinstance(combined, CombinedConnector)
    return combined


def test_local_plus_zendesk_feeds_helpdesk_signals(zd, tmp_path):
    data = source(tmp_path, ConnectorContext()).load(["agency"])
    acme = data.organisations["acme"]
    assert acme.attributes["has_ticket_data"] is True
    tickets = [a for a in data.activities if a.kind == ActivityKind.TICKET]
    assert {t.company_id for t in tickets} == {"acme"} and len(tickets) == 3
    as_of = T0.replace(month=4)  # tickets are from 1 March 2024
    ctx = CompanyContext(data, acme, data.organisations["agency"], as_of)
    # ticket 1000 has 30 business minutes; 1001 has no metrics, 1002 a null duration
    assert median_first_reply_minutes(ctx).value == 30.0
    # 1002 (new, 0 replies) is unanswered; 1000 was answered; 1001 was opened by the vendor
    assert unanswered_requests(ctx).value == 1
    delta = CompanyContext(data, data.organisations["delta"], data.organisations["agency"], as_of)
    assert median_first_reply_minutes(delta).value is None  # no helpdesk match: unknown


def test_local_plus_zendesk_writes_both_then_nothing(zd, tmp_path):
    ctx = ConnectorContext()
    combined = source(tmp_path, ctx)
    data = combined.load(["agency"], ["acme"])
    note = render(data.organisations["acme"], [], language="en", as_of=T0)
    assert combined.apply(note) is True
    assert ctx.stats["write_calls"] == 3  # local note + local flags + one Zendesk PUT
    assert f"--- cmrules:begin {note.fingerprint} " in zd.orgs[200]["notes"]
    assert zd.orgs[200]["notes"].startswith("Human intro line.\nSecond human line.\n\n")
    assert "vip" in zd.orgs[200]["tags"] and "cmrules_risk_none" in zd.orgs[200]["tags"]
    assert [n.fingerprint for n in combined.notes(data.organisations["acme"])] == [note.fingerprint]

    ctx2 = ConnectorContext()
    again = source(tmp_path, ctx2)
    data = again.load(["agency"], ["acme"])
    assert data.organisations["acme"].writeback["fingerprint"] == note.fingerprint
    note2 = render(data.organisations["acme"], [], language="en", as_of=T0)
    assert note2.fingerprint == note.fingerprint  # so the core's writer would skip apply
    puts = len(zd.puts)
    target = again.helpdesk_subject(data.organisations["acme"])
    assert target is not None and target.id == "200"
    assert again.helpdesk.apply(replace(note2, subject=target)) is False  # its own check
    assert len(zd.puts) == puts and ctx2.stats.get("write_calls", 0) == 0
