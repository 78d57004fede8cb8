"""Zendesk API calls against their bounds, on a simulated 100,000-ticket account.

    python benchmarks/zendesk_calls.py                  # 100,000 tickets, 40 clients
    python benchmarks/zendesk_calls.py --tickets 20000  # quicker

The account is the stateful fake of the tests (tests/zendesk_fake/, no network): the vendor
SocialCo, its clients (the standard scenario plus ``--clients`` generated ones, 3 to 150
tickets each) and another customer's tickets filling the account up to ``--tickets``
(generated page by page as they are asked for).  The benchmark prints

1. for a client with ``n`` tickets (3 and 150), the calls that read its tickets and their
   metrics — ``ticket_metrics: auto`` (the default: metric sets side-loaded with the listing),
   the same with a listing that ignores the include (``show_many`` then), and ``bulk`` (the
   account-wide ``/ticket_metrics``, the behaviour before) — against the bound
   ``ceil(n/100) + 2``; and the whole ``cmrules evaluate --company <id>`` run's calls;
2. the calls of a full ``cmrules sync`` (``service.sync``) in ``auto`` and in ``bulk``;
3. an incremental sync right after it (must read nothing back: the three export calls, zero
   records, cmrules' own writes skipped), and one after a person edited one organisation
   (that organisation, and only it, is read again).

It exits 1 when a bound is not held.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import responses  # noqa: E402
from zendesk_fake import CLIENT_ID, CLIENT_SECRET, Clock, FakeZendesk, scenario  # noqa: E402

TICKET_PATHS = ("/api/v2/tickets", "/api/v2/ticket_metrics")


def account(rsps: responses.RequestsMock, tickets: int, clients: int) -> FakeZendesk:
    fake = scenario(rsps)
    tid = 10_000
    for i in range(clients):
        oid = 400 + i
        fake.org(oid, f"Client {i:03}", tags=["cm_vendor_vend_1"], domain_names=[f"c{i}.example"])
        fake.user(5000 + i, f"Client Owner {i}", oid, user_fields={"cm_role": "project_owner"})
        for _ in range(3 + (i * 37) % 148):  # 3 to 150 tickets
            fake.ticket(
                tid, oid, 5000 + i, {"replies": 1, "reply_time_in_minutes": {"business": 9}}
            )
            tid += 1
    fake.user(5999, "Many Tickets", 200)
    for _ in range(147):  # Acme: 150 tickets in all
        fake.ticket(tid, 200, 5999, {"replies": 2, "reply_time_in_minutes": {"business": 12}})
        tid += 1
    fake.filler_tickets = tickets - len(fake.tickets)
    return fake


def connector(**settings):
    from cmrules.connector import ConnectorContext
    from cmrules.connectors.zendesk import ZendeskConnector

    base = {"subdomain": "acme", "auth": "oauth_client_credentials", **settings}
    clock = Clock()  # virtual: the rate limiter's waits advance it, nothing really sleeps
    return ZendeskConnector(base, ConnectorContext(), sleep=clock.sleep, clock=clock)


def ticket_calls(fake: FakeZendesk, org: int) -> int:
    paths = (f"/api/v2/organizations/{org}/tickets", *TICKET_PATHS)
    return sum(1 for p in fake.calls("GET") if p.startswith(paths))


def one_company(fake: FakeZendesk, org: int) -> tuple[list[str], bool]:
    n = sum(1 for t in fake.tickets.values() if t["organization_id"] == org)
    row = [f"{n:>4}", f"{math.ceil(n / 100) + 2:>5}"]
    ok = True
    for label, settings, sideload in (
        ("auto", {}, True),
        ("auto, listing ignores include", {}, False),
        ("bulk (before)", {"ticket_metrics": "bulk"}, True),
    ):
        fake.sideload_org_tickets = sideload
        fake.log.clear()
        connector(**settings).load(["100"], [str(org)])
        calls = ticket_calls(fake, org)
        row.append(f"{calls:>7}")
        if not label.startswith("bulk"):
            ok = ok and calls <= math.ceil(n / 100) + 2
    fake.sideload_org_tickets = True
    return row, ok


def cli_evaluate(fake: FakeZendesk, org: int, home: Path) -> int:
    from click.testing import CliRunner

    from cmrules.cli import cli

    cfg = home / "cmrules.yaml"
    cfg.write_text(
        "source: zendesk\nzendesk:\n  subdomain: acme\n  auth: oauth_client_credentials\n"
    )
    fake.log.clear()
    args = ["--config", str(cfg), "evaluate", "--company", str(org), "--format", "json"]
    result = CliRunner().invoke(cli, args)
    if result.exit_code not in (0, 1):
        print(result.output)
        raise SystemExit(2)
    return len(fake.calls("GET"))


def run_sync(fake: FakeZendesk, state: Path, full: bool, **settings) -> tuple[dict, Counter]:
    from cmrules import service

    conn = connector(**settings)
    session = service.open_session(None, connector=conn)
    fake.log.clear()
    report = service.sync(session, full=full, state_path=state)
    api = [(m, p) for m, p in fake.log if p.startswith("/api/")]  # the OAuth token call aside
    endpoints = Counter(
        f"{m} {re.sub(r'/organizations/[0-9]+', '/organizations/{id}', p)}" for m, p in api
    )
    stats = {
        "calls": len(api),
        "puts": len(fake.calls("PUT")),
        "records_read": report.stats.get("records_read"),
        "evaluated": report.summary()["records_evaluated"],
        "skipped": conn.context.stats.get("zendesk_own_writes_skipped", 0),
    }
    return stats, endpoints


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=40)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="cmrules-bench-"))
    os.environ["CMRULES_HOME"] = str(home)  # state, own-writes record, decision log
    os.environ["ZENDESK_OAUTH_CLIENT_ID"] = CLIENT_ID  # the fake account's OAuth client
    os.environ["ZENDESK_OAUTH_CLIENT_SECRET"] = CLIENT_SECRET
    ok = True
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = account(rsps, args.tickets, args.clients)
        print(f"== Zendesk account: {args.tickets:,} tickets, {len(fake.orgs)} organisations ==")
        print("\n-- metrics of one client's tickets (calls reading its tickets and metrics) --")
        print(f"{'client':14} {'n':>4} {'bound':>5} {'auto':>7} {'no-side':>7} {'bulk':>7}")
        for org in (400, 200):
            name = fake.orgs[org]["name"]
            row, held = one_company(fake, org)
            ok = ok and held
            print(f"{name:14} " + " ".join(row))
        for org in (400, 200):
            n = sum(1 for t in fake.tickets.values() if t["organization_id"] == org)
            calls = cli_evaluate(fake, org, home)
            print(f"cmrules evaluate --company {org} ({n} tickets): {calls} calls in all")
        print("\n-- cmrules sync --")
        print(f"{'run':44} {'calls':>6} {'PUTs':>5} {'read':>5} {'evaluated':>9} {'own':>4}")
        state = home / "sync.json"
        rows = []
        full, full_endpoints = run_sync(fake, state, True)
        rows.append(("full sync, auto", full))
        fake.later(120)  # past the export's one-minute delay
        again, again_endpoints = run_sync(fake, state, False)
        rows.append(("incremental right after", again))
        fake.edit_org(401, notes="Account manager changed.")
        fake.later(120)
        edited, _ = run_sync(fake, state, False)
        rows.append(("incremental after a person edited 1 client", edited))
        bulk, bulk_endpoints = run_sync(fake, home / "bulk.json", True, ticket_metrics="bulk")
        rows.append(("full sync again, ticket_metrics: bulk (before)", bulk))
        for label, r in rows:
            print(
                f"{label:44} {r['calls']:6} {r['puts']:5} {r['records_read'] or 0:5} "
                f"{r['evaluated']:9} {r['skipped']:4}"
            )
        print("full sync (auto) calls by endpoint:")
        for endpoint, n in sorted(full_endpoints.items()):
            print(f"  {endpoint:52} {n:5}")
        print("incremental right after, calls by endpoint:")
        for endpoint, n in sorted(again_endpoints.items()):
            print(f"  {endpoint:52} {n:5}")
        metric_calls = sum(n for e, n in full_endpoints.items() if e[4:].startswith(TICKET_PATHS))
        print(
            f"full sync metric calls beyond the listings: {metric_calls} (bulk: "
            f"{sum(n for e, n in bulk_endpoints.items() if e[4:].startswith(TICKET_PATHS))})"
        )
        ok = ok and metric_calls == 0 and again["calls"] == 3 and again["records_read"] == 0
        ok = ok and again["puts"] == 0 and edited["records_read"] == 1
    print("\nbounds held" if ok else "\nBOUND NOT HELD")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
