"""Engine benchmark: cmrules' engine against raw durable_rules, in the same run.

* cmrules:   Engine.evaluate(subject, signal values) — coercion, sessions, findings outcomes;
* raw:       the very same compiled rulesets asserted straight into a durable_rules Host
             (pre-typed facts, bare actions, assert + delete_state) — no cmrules layer;
* end-to-end: model -> signals -> engine -> findings on a generated dataset.

Prints entities per second for each, the ratio cmrules/raw, and RSS growth over the cmrules
run.  Targets (2-core machine): ratio >= 0.70; RSS growth < 50 MB over 50,000 entities.

    python benchmarks/engine.py [--entities 50000] [--e2e 2000]
"""

from __future__ import annotations

import argparse
import copy
import random
import time
from datetime import UTC, datetime, timedelta

from durable import engine as dr

from cmrules import findings, rulebook
from cmrules.engine import Engine
from cmrules.model import (
    Activity,
    ActivityKind,
    Contact,
    Dataset,
    Engagement,
    Organisation,
    OrgKind,
    Role,
    Side,
)
from cmrules.signals import REGISTRY, CompanyContext, compute

AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def random_signals(rng: random.Random) -> dict[str, object]:
    out: dict[str, object] = {}
    for spec in REGISTRY.values():
        if spec.subject != "company" or rng.random() < 0.1:  # 10 % unknown
            continue
        if spec.type == "bool":
            out[spec.name] = rng.random() < 0.5
        elif spec.type == "int":
            out[spec.name] = rng.randint(0, 400)
        else:
            out[spec.name] = round(rng.uniform(0, 600), 2)
    return out


def bench_cmrules(engine: Engine, entities: list[dict[str, object]]) -> tuple[float, int]:
    start = time.perf_counter()
    n = 0
    for values in entities:
        n += len(engine.evaluate("company", values))
    return time.perf_counter() - start, n


def bench_raw(engine: Engine, entities: list[dict[str, object]]) -> tuple[float, int]:
    """The same rulesets, straight into durable_rules with no cmrules layer."""
    hits: list[str] = []
    definitions = engine.definitions()
    actions = {}
    for rules in definitions.values():
        for name, rule in rules.items():
            action_name = rule["run"]

            def make(tag: str):
                def act(c):
                    hits.append(tag)

                return act

            actions[action_name] = make(name)

    class RawHost(dr.Host):
        def _run(self):
            return None

        def get_action(self, name):
            return actions[name]

    host = RawHost()
    host.register_rulesets(copy.deepcopy(definitions))
    names = [n for n in definitions if n.startswith("cmrules_company")]
    facts = [dict(engine.fact("company", v)) for v in entities]  # typed beforehand
    start = time.perf_counter()
    sid = 0
    for fact in facts:
        for name in names:
            sid += 1
            host.assert_fact(name, dict(fact, sid=str(sid)))
            host.delete_state(name, str(sid))
    return time.perf_counter() - start, len(hits)


def make_dataset(n_companies: int, rng: random.Random) -> Dataset:
    ds = Dataset()
    vendors = [Organisation(f"v{i}", f"Vendor {i}", OrgKind.VENDOR) for i in range(20)]
    ds.add(*vendors)
    for c in range(n_companies):
        vendor = vendors[c % len(vendors)]
        cid = f"c{c}"
        ds.add(
            Organisation(
                cid,
                f"Company {c}",
                OrgKind.COMPANY,
                attributes={"industry": rng.choice(["retail", "banking"])},
            )
        )
        ds.add(
            Engagement(
                cid,
                vendor.id,
                started_at=AS_OF - timedelta(days=rng.randint(30, 900)),
                vendor_contact_ids=(f"{vendor.id}-r",),
                attributes={"kpis_defined": rng.random() < 0.5},
            )
        )
        roles = [Role.PROJECT_OWNER, Role.EXECUTIVE_SPONSOR, Role.CONTRIBUTOR]
        for k in range(3):
            ds.add(Contact(f"{cid}-p{k}", f"Person {k}", cid, frozenset({rng.choice(roles)})))
        for a in range(12):
            kind = rng.choice([ActivityKind.MEETING, ActivityKind.PROPOSAL, ActivityKind.EMAIL])
            ts = AS_OF - timedelta(days=rng.randint(1, 400))
            ds.add(
                Activity(
                    f"{cid}-a{a}",
                    kind,
                    ts,
                    cid,
                    vendor.id,
                    side=Side.VENDOR,
                    contact_ids=(f"{cid}-p0",),
                    status=rng.choice(["accepted", "rejected", None]),
                    decided_at=ts + timedelta(days=rng.randint(1, 20)),
                )
            )
    for v in vendors:
        ds.add(Contact(f"{v.id}-r", "Referent", v.id, frozenset({Role.VENDOR_REFERENT})))
    return ds


def bench_e2e(engine: Engine, book: rulebook.Rulebook, n: int, rng: random.Random) -> float:
    ds = make_dataset(n, rng)
    rules = {r.id: r for r in book}
    start = time.perf_counter()
    count = 0
    for e in ds.engagements:
        ctx = CompanyContext(
            ds, ds.organisations[e.company_id], ds.organisations[e.vendor_id], AS_OF
        )
        values = compute(ctx)
        subject = findings.Subject(e.company_id, "", "company", e.vendor_id)
        for o in engine.evaluate("company", {k: v.value for k, v in values.items()}):
            findings.build(rules[o.rule_id], o, subject, values)
            count += 1
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=50_000)
    parser.add_argument("--e2e", type=int, default=2_000, help="companies for the end-to-end run")
    args = parser.parse_args()
    rng = random.Random(42)
    book = rulebook.load()
    engine = Engine(book)
    entities = [random_signals(rng) for _ in range(args.entities)]
    engine.evaluate("company", entities[0])  # warm up

    raw_t, raw_hits = bench_raw(engine, entities)
    rss0 = rss_mb()
    cm_t, cm_hits = bench_cmrules(engine, entities)
    rss1 = rss_mb()
    e2e_t = bench_e2e(engine, book, args.e2e, rng)

    raw_rate, cm_rate = args.entities / raw_t, args.entities / cm_t
    n_rules = len(book.for_subject("company"))
    compiled = sum(len(d) for n, d in engine.definitions().items() if "company" in n)
    print(f"rules             : {n_rules} company rules -> {compiled} durable rules")
    print(f"raw durable_rules : {raw_rate:10,.0f} entities/s  ({raw_hits:,} actions)")
    print(f"cmrules engine    : {cm_rate:10,.0f} entities/s  ({cm_hits:,} outcomes)")
    print(f"ratio cmrules/raw : {cm_rate / raw_rate:10.2f}   (target >= 0.70)")
    print(
        f"end-to-end        : {args.e2e / e2e_t:10,.0f} companies/s (model -> signals -> findings)"
    )
    print(
        f"RSS growth        : {rss1 - rss0:10.1f} MB over {args.entities:,} entities (target < 50)"
    )


if __name__ == "__main__":
    main()
