"""HubSpot sync benchmark: API calls against the batch-limit minimum, on a simulated portal.

    python benchmarks/sync.py                 # 10,000 companies
    python benchmarks/sync.py --companies 500 # quick run

A fake portal (tests/hubspot_fake/, no network) holds vendors, client companies, contacts,
meetings and the notes account managers write (three per client by default, every fifth a
long meeting report, one on each vendor); one client in ten works with two vendors; ``notes``
is read as an activity type next to ``meetings``.  The benchmark

1. loads every vendor (``find_organisations("", VENDOR)`` + ``load``);
2. runs the core's real ``cmrules sync`` (``service.sync``) three times: a first full sync
   (writes a note and flags per record), a second full sync on unchanged data and an
   incremental sync (both must make zero write calls);

and prints, per step, the calls by endpoint, the **batch-limit minimum** and their ratio
(target ≤ 1.05), and the time the calls would take under HubSpot's 10-second bucket (a
virtual clock: nothing really sleeps).

The minimum is the fewest calls that read every record the step needs and write every
record it must, at the documented batch limits: searches of 200 results a page, object batch
reads, creates and updates of 100 inputs, v4 association batch reads of 1,000 inputs with
per-result pages of 500 (a continuation page needs the previous one first).  A first sync
also needs the notes of every record it writes (vendors included) to look for a ``cmrules:``
fingerprint left by a crashed run, then one ``notes/batch/create`` and one
``companies/batch/update`` per 100 records.  A full sync needs no change search (everything
is read anyway); an incremental one needs its change searches (one page per 200 changed
records of each type, at least one) and the object→company associations of the changed
contacts and activities, then the reads of the affected portfolios.

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
TARGET = 1.05
SETTINGS = {
    "client_association_labels": ["Client"],
    "activity_types": ["meetings", "notes"],
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


def load_minimum(
    fake: FakeHubSpot, vendors: list[str], activity_types: list[str], written: bool = False
) -> dict[str, int]:
    """The fewest calls that read everything ``load`` needs at the batch limits; with
    ``written``, what a first sync needs on top: the notes of every record written (vendors
    too) to look for a ``cmrules:`` fingerprint, then one ``notes/batch/create`` and one
    ``companies/batch/update`` per 100 records."""
    clients = sorted({c for v in vendors for c in fake.associated("companies", v, "companies")})
    orgs = vendors + clients
    contacts = {p for o in orgs for p in fake.associated("companies", o, "contacts")}
    out = {
        "vendor search (200/page)": math.ceil(len(vendors) / 200),
        "vendor→company associations": assoc_min(fake, "companies", "companies", vendors),
        "company batch read (100)": math.ceil(len(orgs) / 100),
        "company→contact associations": assoc_min(fake, "companies", "contacts", orgs),
        "contact batch read (100)": math.ceil(len(contacts) / 100),
    }
    types = list(activity_types)
    if written and "notes" not in types:
        types.append("notes")
    for kind in types:
        read_for = orgs if written and kind == "notes" else clients
        ids = {a for c in read_for for a in fake.associated("companies", c, kind)}
        out[f"company→{kind} associations"] = assoc_min(fake, "companies", kind, read_for)
        out[f"{kind} batch read (100)"] = math.ceil(len(ids) / 100)
        if kind in activity_types:  # attendees of the activities of clients
            acts = sorted({a for c in clients for a in fake.associated("companies", c, kind)})
            out[f"{kind}→contact associations"] = assoc_min(fake, kind, "contacts", acts)
    if written:
        out["notes batch create (100)"] = math.ceil(len(orgs) / 100)
        out["companies batch update (100)"] = math.ceil(len(orgs) / 100)
    return out


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
    parser.add_argument("--notes", type=int, default=3, help="human notes per client company")
    parser.add_argument(
        "--shared", type=float, default=0.1, help="share of clients with a second vendor"
    )
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


def print_step(label: str, calls: list[dict], minimum: dict[str, int]) -> float:
    """Calls by endpoint, the minimum by part, and their ratio (returned)."""
    total_min = sum(minimum.values())
    print(f"\n-- {label}: calls by endpoint --")
    for endpoint, n in sorted(by_endpoint(calls).items()):
        print(f"  {endpoint:56} {n:5}")
    print(f"-- {label}: minimum from the batch limits --")
    for name, n in minimum.items():
        print(f"  {name:56} {n:5}")
    ratio = len(calls) / total_min if total_min else float(len(calls) > 0) + 1.0
    print(f"{label}: {len(calls)} calls, minimum {total_min}, ratio {ratio:.3f}")
    return ratio


def bench_version(args: argparse.Namespace, api_version: str) -> tuple[list[int], bool]:
    """Steps 1 and 2 on a fresh portal through ``api_version``: (calls per step, ok).

    Each portal is stamped with the time it is built, as the incremental sync's lookback
    (5 minutes) compares record timestamps with the wall clock: both versions then see the
    same recent changes."""
    settings = {**SETTINGS, "api_version": api_version}
    wall = time.monotonic()
    with FakeHubSpot() as fake:
        fake.clock_ms = int(time.time() * 1000)
        shared = int((args.companies - args.vendors) * args.shared)
        populate(
            fake, args.companies, args.vendors, args.contacts, args.meetings, shared, args.notes
        )
        n = {t: len(fake.objects[t]) for t in ("contacts", "meetings", "notes")}
        print(
            f"portal: {args.companies} companies ({args.vendors} vendors, {shared} clients "
            f"with two), {n['contacts']} contacts, {n['meetings']} meetings, {n['notes']} "
            f"human notes (built in {time.monotonic() - wall:.1f}s)"
        )

        # 1. full load of every vendor ---------------------------------------------------
        clock = FakeClock()
        connector = make_connector(fake, clock, requests_per_10s=args.per_10s, **settings)
        fake.calls.clear()
        started = time.monotonic()
        vendors = [o.id for o in connector.find_organisations("", _vendor_kind())]
        data = connector.load(vendors)
        elapsed = time.monotonic() - started
        minimum = load_minimum(fake, vendors, settings["activity_types"])
        ratio = print_step("load", fake.calls, minimum)
        records = len(data.organisations)
        print(
            f"organisations {records}, contacts {len(data.contacts)}, activities "
            f"{len(data.activities)}, engagements {len(data.engagements)}; "
            f"{len(fake.calls) / records:.4f} calls per organisation; "
            f"{fake.write_calls()} write calls"
        )
        print(
            f"time under {args.per_10s}/10 s: {clock.now:.1f}s simulated "
            f"(+{elapsed:.1f}s of fake-portal CPU)"
        )
        ok = ratio <= TARGET and not connector.warnings
        assert {c["version"] for c in fake.calls} == {api_version}

        counts = [len(fake.calls)]
        if not args.no_sync:
            sync_ok, sync_calls = run_sync(fake, args, vendors, settings)
            ok = sync_ok and ok
            counts += sync_calls
    return counts, ok


def _vendor_kind():
    from cmrules.model import OrgKind

    return OrgKind.VENDOR


def incremental_minimum(
    fake: FakeHubSpot, vendors: list[str], activity_types: list[str], since_ms: int
) -> dict[str, int]:
    """Change searches and the reads of the affected portfolios (see the module docstring)."""
    out: dict[str, int] = {}
    changed: set[str] = set()
    for kind in ("companies", "contacts", *activity_types):
        key = "lastmodifieddate" if kind == "contacts" else "hs_lastmodifieddate"
        ids = sorted(
            i
            for i, r in fake.objects[kind].items()
            if fake_ms(r["properties"].get(key)) >= since_ms
        )
        out[f"{kind} change search (200/page)"] = max(1, math.ceil(len(ids) / 200))
        if kind == "companies":
            changed.update(ids)
        elif ids:
            out[f"{kind}→company associations"] = assoc_min(fake, kind, "companies", ids)
            changed.update(c for i in ids for c in fake.associated(kind, i, "companies"))
    affected = [
        v
        for v in vendors
        if v in changed or changed & set(fake.associated("companies", v, "companies"))
    ]
    if affected:
        out.update(load_minimum(fake, affected, activity_types))
    return out


def fake_ms(value: str | None) -> int:
    from cmrules.values import parse_datetime

    moment = parse_datetime(value) if value else None
    return int(moment.timestamp() * 1000) if moment else 0


def run_sync(
    fake: FakeHubSpot, args: argparse.Namespace, vendors: list[str], settings: dict
) -> tuple[bool, list[int]]:
    from cmrules import service, state

    path = Path(tempfile.mkdtemp(prefix="cmrules-bench-")) / "state.json"
    os.environ["CMRULES_HOME"] = str(path.parent)  # the decision log too, not the user's
    results = []
    types = settings["activity_types"]

    def one(label: str, full: bool, minimum: dict[str, int]) -> dict:
        clock = FakeClock()
        connector = make_connector(fake, clock, requests_per_10s=args.per_10s, **settings)
        session = service.open_session(None, connector=connector)
        if label.startswith("setup"):
            connector.rule_ids = [r.id for r in session.rulebook]
            connector.setup()
        fake.calls.clear()
        started = time.process_time()  # CPU time of this process (the fake portal included)
        report = service.sync(session, full=full, state_path=path)
        summary = report.summary()
        row = {
            "run": label,
            "records": summary["records_evaluated"],
            "calls": len(fake.calls),
            "minimum": sum(minimum.values()),
            "writes": fake.write_calls(),
            "notes": summary["notes_written"],
            "unchanged": summary["unchanged"],
            "failed": summary["failed"],
            "simulated_s": clock.now,
            "cpu_s": time.process_time() - started,
        }
        row["ratio"] = print_step(label, fake.calls, minimum)
        results.append(row)
        return row

    first = one("setup + first full sync", True, load_minimum(fake, vendors, types, True))
    second = one("second full sync (unchanged)", True, load_minimum(fake, vendors, types))
    since = state.watermark(state.read_state(path))
    assert since is not None
    since_ms = int(since.timestamp() * 1000)
    third = one(
        "incremental sync (unchanged)", False, incremental_minimum(fake, vendors, types, since_ms)
    )
    print("\n== cmrules sync (core service) ==")
    print(
        f"{'run':30} {'records':>7} {'calls':>6} {'minimum':>7} {'ratio':>6} {'writes':>6} "
        f"{'calls/rec':>9} {'sim. s':>7} {'cpu s':>6}"
    )
    for r in results:
        per = r["calls"] / r["records"] if r["records"] else 0.0
        print(
            f"{r['run']:30} {r['records']:7} {r['calls']:6} {r['minimum']:7} {r['ratio']:6.3f} "
            f"{r['writes']:6} {per:9.3f} {r['simulated_s']:7.1f} {r['cpu_s']:6.1f}"
        )
    ok = second["writes"] == 0 and third["writes"] == 0 and first["failed"] == 0
    ok = ok and first["notes"] == first["records"] and second["unchanged"] == second["records"]
    ok = ok and all(r["ratio"] <= TARGET for r in results)
    print(
        f"write calls on the unchanged runs: {second['writes']} and {third['writes']} (must be 0)"
    )
    return ok, [r["calls"] for r in results]


if __name__ == "__main__":
    raise SystemExit(main())
