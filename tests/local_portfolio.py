"""Generated local portfolios for benchmarks and scale tests: one large agency and its N
client companies written straight into a local store (SQLite, the local connector's schema).

Each client has three contacts (project owner, executive sponsor, a contributor, with
``social_media_familiar`` spelt as CRMs do: ``"true"``, ``"non"``, missing), ten activities
over the last 400 days (meetings, e-mails, proposals with decisions, tickets with reply
times, reports, an offer change) and an engagement; one client in five also works with one of
19 smaller agencies, so its note covers two vendors.  Deterministic for a given size.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cmrules.connectors.local.store import open_database

AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)
BIG = "v-big"
BIG_NAME = "Agence Grande Échelle"
SMALL = 19


def _iso(d: datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def _company(i: int, rng: random.Random, now: str) -> Iterator[tuple[str, tuple[object, ...]]]:
    cid = f"c{i:07d}"
    attrs = {"industry": rng.choice(["retail", "banking", "santé", "édition"])}
    if rng.random() < 0.7:
        attrs["regulated"] = rng.random() < 0.3
    if rng.random() < 0.5:
        attrs["has_ticket_data"] = True
    yield "org", (cid, f"Client {i} & Fils", "company", f"{cid}.example", None,
                  json.dumps(attrs), now)  # fmt: skip
    roles = ["project_owner", "executive_sponsor", "contributor"]
    for k, role in enumerate(roles):
        familiar = rng.choice(["true", "non", None])
        cattrs = {} if familiar is None or role != "project_owner" else {
            "social_media_familiar": familiar == "true"}  # fmt: skip
        yield "contact", (f"{cid}-p{k}", f"Person {k} of {i}", cid, role, None, None,
                          json.dumps(cattrs), now)  # fmt: skip
    vendors = [BIG] + ([f"v-small{i % SMALL}"] if rng.random() < 0.2 else [])
    for vid in vendors:
        started = AS_OF - timedelta(days=rng.randint(20, 1500))
        eattrs: dict[str, object] = {}
        for key in ("kpis_defined", "escalation_plan", "onboarding_done"):
            if rng.random() < 0.8:
                eattrs[key] = rng.random() < 0.6
        yield "engagement", (cid, vid, _iso(started), json.dumps([f"{vid}-r0"]),
                             json.dumps(eattrs), now)  # fmt: skip
    kinds = ["meeting", "meeting", "email", "email", "proposal", "proposal", "ticket", "ticket",
             "report", "offer_change"]  # fmt: skip
    for a, kind in enumerate(kinds):
        ts = AS_OF - timedelta(days=rng.randint(1, 400), minutes=rng.randint(0, 1440))
        vid = vendors[a % len(vendors)]
        status = decided = minutes = replies = None
        contacts: list[str] = [f"{cid}-p{rng.randint(0, 2)}"]
        tags: list[str] = []
        if kind == "meeting":
            status = rng.choice(["completed", "completed", "cancelled", None])
            contacts.append(f"{cid}-p1")
            tags = rng.choice([[], ["strategy"]])
        elif kind == "proposal":
            status = rng.choice(["accepted", "rejected", "implemented", "proposed"])
            decided = (
                _iso(ts + timedelta(days=rng.randint(1, 40))) if status != "proposed" else None
            )
        elif kind == "ticket":
            minutes, replies = round(rng.uniform(5, 3000), 1), rng.randint(0, 6)
        side = "company" if kind == "ticket" else "vendor"
        yield "activity", (f"{cid}-a{a}", kind, _iso(ts), cid, vid, side, json.dumps(contacts),
                           status, decided, json.dumps(tags), f"{kind} {a}", minutes, replies,
                           now)  # fmt: skip


def build(path: Path, companies: int, seed: int = 11) -> None:
    """Create the store at ``path`` (replacing it) with ``companies`` clients of one agency."""
    if path.exists():
        path.unlink()
    db = open_database(path)
    rng = random.Random(seed)
    now = _iso(AS_OF - timedelta(days=2))
    sql = {
        "org": "INSERT INTO organisations VALUES (?,?,?,?,?,?,?)",
        "contact": "INSERT INTO contacts VALUES (?,?,?,?,?,?,?,?)",
        "engagement": "INSERT INTO engagements (company_id, vendor_id, started_at, "
        "vendor_contact_ids, attributes, updated_at) VALUES (?,?,?,?,?,?)",
        "activity": "INSERT INTO activities VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    }
    with db:
        vendors = [(BIG, BIG_NAME)] + [(f"v-small{k}", f"Petite agence {k}") for k in range(SMALL)]
        for vid, name in vendors:
            db.execute(sql["org"], (vid, name, "vendor", None, None, "{}", now))
            db.execute(sql["contact"], (f"{vid}-r0", "Référente", vid, "vendor_referent", None,
                                        None, "{}", now))  # fmt: skip
        batch: dict[str, list[tuple[object, ...]]] = {k: [] for k in sql}
        for i in range(companies):
            for table, row in _company(i, rng, now):
                batch[table].append(row)
            if i % 5_000 == 4_999 or i == companies - 1:
                for table, rows in batch.items():
                    db.executemany(sql[table], rows)
                    rows.clear()
    db.close()


def count(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM engagements WHERE vendor_id=?", (BIG,))
                   .fetchone()[0])  # fmt: skip
