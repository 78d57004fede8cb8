"""HubSpot sync benchmark: API calls against the batch-limit minimum, on a simulated portal.

    python benchmarks/sync.py                 # 10,000 companies
    python benchmarks/sync.py --companies 500 # quick run

A fake portal (tests/hubspot_fake/, no network) holds vendors, client companies, contacts
and meetings.  The benchmark

1. loads every vendor (``find_organisations("", VENDOR)`` + ``load``) and compares the calls
   with the minimum the batch limits allow (search pages of 200, object batch reads of 100,
   v4 association batch reads of 1,000 inputs with per-result pages of 500);
2. runs the core's real ``cmrules sync`` (``service.sync``) three times: a first full sync
   (writes a note and flags per record), a second full sync on unchanged data and an
   incremental sync (both must make zero write calls);

and prints calls per record, the ratio to the minimum (target ≤ 1.1) and the time the calls
would take under HubSpot's 10-second bucket (a virtual clock: nothing really sleeps).

Both steps run once per ``hubspot.api_version`` — ``2026-09`` (date-based paths, the default)
and ``legacy`` (``/crm/v3`` + ``/crm/v4``) — on two identical portals; the date-versioned path
must not make more calls than the legacy one.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from hubspot_fake import FakeClock, FakeHubSpot, make_connector, populate  # noqa: E402

ASSOC_PAGE = 500
SETTINGS = {
    "client_association_labels": ["Client"],
    "attributes": {"regulated": "cm_regulated", "kpis_defined": "cm_kpis_defined"},
}


def assoc_min(fake: FakeHubSpot, from_type: str, to_type: str, ids: list[str]) -> int:
    """Fewest v4 batch-read calls for ``ids``: every id is one input per page of 500 targets,
    1,000 inputs per call, and a continuation page needs the previous one first."""
    table = fake.assoc[(from_type, to_type)]
    pages = [max(1, math.ceil(len(table.get(i, {})) / ASSOC_PAGE)) for i in ids]
    if not pages:
        return 0
    return max(max(pages), math.ceil(sum(pages) / 1000))


def load_minimum(fake: FakeHubSpot, vendors: list[str]) -> dict[str, int]:
    clients = sorted({c for v in vendors for c in fake.associated("companies", v, "companies")})
    orgs = vendors + clients
    contacts = {p for o in orgs for p in fake.associated("companies", o, "contacts")}
    meetings = {m for c in clients for m in fake.associated("companies", c, "meetings")}
    return {
        "vendor search (200/page)": math.ceil(len(vendors) / 200),
        "vendor→company associations": assoc_min(fake, "companies", "companies", vendors),
        "company batch read (100)": math.ceil(len(orgs) / 100),
        "company→contact associations": assoc_min(fake, "companies", "contacts", orgs),
        "contact batch read (100)": math.ceil(len(contacts) / 100),
        "company→meeting associations": assoc_min(fake, "companies", "meetings", clients),
        "meeting batch read (100)": math.ceil(len(meetings) / 100),
        "meeting→contact associations": assoc_min(fake, "meetings", "contacts", sorted(meetings)),
    }


def by_endpoint(calls: list[dict]) -> Counter:
    return Counter(
        f"{c['method']} " + re.sub(r"/\d+$", "/{id}", c["sent"].split("/crm/")[-1]) for c in calls
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--companies", type=int, default=10_000, help="companies in the portal")
    parser.add_argument("--vendors", type=int, default=20)
    parser.add_argument("--contacts", type=int, default=2, help="contacts per client company")
    parser.add_argument("--meetings", type=int, default=3, help="meetings per client company")
    parser.add_argument("--per-10s", type=int, default=100, help="requests_per_10s setting")
    parser.add_argument("--no-sync", action="store_true", help="only the load benchmark")
    args = parser.parse_args()
    if args.companies <= args.vendors:
        parser.error("--companies must be larger than --vendors")

    wall = time.monotonic()
    ok = True
    totals: dict[str, list[int]] = {}
    for api_version in ("2026-09", "legacy"):
        print(f"\n######## hubspot.api_version: {api_version} ########")
        calls, version_ok = bench_version(args, api_version)
        totals[api_version] = calls
        ok = ok and version_ok
    print("\n== calls by API version (load, then each sync run) ==")
    for api_version, calls in totals.items():
        print(f"  {api_version:8} {calls}  total {sum(calls)}")
    not_higher = all(
        new <= old for new, old in zip(totals["2026-09"], totals["legacy"], strict=True)
    )
    print(f"2026-09 makes no more calls than legacy: {'yes' if not_higher else 'NO'}")
    ok = ok and not_higher
    print(f"\nbenchmark wall time {time.monotonic() - wall:.1f}s — {'OK' if ok else 'FAILED'}")
    return 0 if ok else 1


def bench_version(args: argparse.Namespace, api_version: str) -> tuple[list[int], bool]:
    """Steps 1 and 2 on a fresh portal through ``api_version``: (calls per step, ok).

    Each portal is stamped with the time it is built, as the incremental sync's lookback
    (5 minutes) compares record timestamps with the wall clock: both versions then see the
    same recent changes."""
    settings = {**SETTINGS, "api_version": api_version}
    wall = time.monotonic()
    with FakeHubSpot() as fake:
        fake.clock_ms = int(time.time() * 1000)
        populate(fake, args.companies, args.vendors, args.contacts, args.meetings)
        n_contacts = len(fake.objects["contacts"])
        n_meetings = len(fake.objects["meetings"])
        print(
            f"portal: {args.companies} companies ({args.vendors} vendors), {n_contacts} "
            f"contacts, {n_meetings} meetings (built in {time.monotonic() - wall:.1f}s)"
        )

        # 1. full load of every vendor ---------------------------------------------------
        clock = FakeClock()
        connector = make_connector(fake, clock, requests_per_10s=args.per_10s, **settings)
        fake.calls.clear()
        started = time.monotonic()
        vendors = [o.id for o in connector.find_organisations("", _vendor_kind())]
        data = connector.load(vendors)
        elapsed = time.monotonic() - started
        calls = len(fake.calls)
        minimum = load_minimum(fake, vendors)
        total_min = sum(minimum.values())
        records = len(data.organisations)
        print(f"\n== full load of {len(vendors)} vendors ==")
        print(f"{'endpoint':58} calls")
        for endpoint, n in sorted(by_endpoint(fake.calls).items()):
            print(f"  {endpoint:56} {n:5}")
        print(f"{'minimum from the batch limits':58}")
        for name, n in minimum.items():
            print(f"  {name:56} {n:5}")
        print(
            f"organisations {records}, contacts {len(data.contacts)}, activities "
            f"{len(data.activities)}, engagements {len(data.engagements)}"
        )
        print(
            f"load: {calls} calls, minimum {total_min}, ratio {calls / total_min:.3f} "
            f"(target ≤ 1.1); {calls / records:.4f} calls per organisation; "
            f"{fake.write_calls()} write calls"
        )
        print(
            f"time under {args.per_10s}/10 s: {clock.now:.1f}s simulated "
            f"(+{elapsed:.1f}s of fake-portal CPU)"
        )
        ok = calls <= 1.1 * total_min and not connector.warnings
        assert {c["version"] for c in fake.calls} == {api_version}

        counts = [calls]
        if not args.no_sync:
            sync_ok, sync_calls = run_sync(fake, args, records, settings)
            ok = sync_ok and ok
            counts += sync_calls
    return counts, ok


def _vendor_kind():
    from cmrules.model import OrgKind

    return OrgKind.VENDOR


def run_sync(
    fake: FakeHubSpot, args: argparse.Namespace, records: int, settings: dict
) -> tuple[bool, list[int]]:
    from cmrules import service

    state = Path(tempfile.mkdtemp(prefix="cmrules-bench-")) / "state.json"
    os.environ["CMRULES_HOME"] = str(state.parent)  # the decision log too, not the user's
    results = []

    def one(label: str, full: bool) -> dict:
        clock = FakeClock()
        connector = make_connector(fake, clock, requests_per_10s=args.per_10s, **settings)
        session = service.open_session(None, connector=connector)
        if label.startswith("setup"):
            connector.rule_ids = [r.id for r in session.rulebook]
            connector.setup()
        fake.calls.clear()
        started = time.process_time()  # CPU time of this process (the fake portal included)
        report = service.sync(session, full=full, state_path=state)
        summary = report.summary()
        row = {
            "run": label,
            "records": summary["records_evaluated"],
            "calls": len(fake.calls),
            "writes": fake.write_calls(),
            "notes": summary["notes_written"],
            "unchanged": summary["unchanged"],
            "failed": summary["failed"],
            "simulated_s": clock.now,
            "cpu_s": time.process_time() - started,
            "endpoints": by_endpoint(fake.calls),
        }
        results.append(row)
        return row

    first = one("setup + first full sync", True)
    second = one("second full sync (unchanged)", True)
    third = one("incremental sync (unchanged)", False)
    print("\n== cmrules sync (core service) ==")
    print(
        f"{'run':32} {'records':>7} {'calls':>6} {'writes':>6} {'calls/rec':>9} "
        f"{'sim. s':>8} {'cpu s':>6}"
    )
    for r in results:
        per = r["calls"] / r["records"] if r["records"] else 0.0
        print(
            f"{r['run']:32} {r['records']:7} {r['calls']:6} {r['writes']:6} {per:9.3f} "
            f"{r['simulated_s']:8.1f} {r['cpu_s']:6.1f}"
        )
    print("first sync calls by endpoint:")
    for endpoint, n in sorted(first["endpoints"].items()):
        print(f"  {endpoint:56} {n:5}")
    print("second (unchanged) full sync calls by endpoint:")
    for endpoint, n in sorted(second["endpoints"].items()):
        print(f"  {endpoint:56} {n:5}")
    ok = second["writes"] == 0 and third["writes"] == 0 and first["failed"] == 0
    ok = ok and first["notes"] == first["records"] and second["unchanged"] == second["records"]
    print(
        f"write calls on the unchanged runs: {second['writes']} and {third['writes']} (must be 0)"
    )
    return ok, [r["calls"] for r in results]


if __name__ == "__main__":
    raise SystemExit(main())
