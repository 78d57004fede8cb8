"""Report benchmark: ``cmrules report`` for one vendor with 20,000 clients.

    python benchmarks/report.py                  # 20,000 clients
    python benchmarks/report.py --clients 2000   # quick run

A generated vendor portfolio (20,000 client companies with contacts, meetings, proposals and
attributes; some records lack data, as in real CRMs) is evaluated once by the real pipeline
(signals → engine → findings, ``service.evaluate_dataset``).  The benchmark then measures, in
CPU time (``time.process_time``), what ``cmrules report`` adds on top: aggregation
(``build_portfolio``) and rendering of each format; it prints the file sizes and the peak
memory the HTML rendering allocates (tracemalloc).  Baseline, in the same run: ``json.dumps``
of the same aggregate — the cheapest rendering of the same data.

Targets (2-core machine): HTML aggregate + render < 10 s CPU; HTML file < 15 MB.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

from cmrules import service
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
from cmrules.report import build_portfolio, render_as

AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)


def make_portfolio(n: int, rng: random.Random) -> Dataset:
    ds = Dataset()
    vendor = Organisation("v-big", "Agence Très Grande & Fils", OrgKind.VENDOR)
    ds.add(vendor)
    ds.add(Contact("v-big-r", "Référente", vendor.id, frozenset({Role.VENDOR_REFERENT})))
    industries = ["retail", "banque", "santé", "tourisme", "logiciel", None]
    for c in range(n):
        cid = f"c{c}"
        industry = rng.choice(industries)
        ds.add(
            Organisation(
                cid,
                f"Société {c} <{rng.choice(['SARL', 'SAS', 'SA'])}> « {rng.randint(1, 99)} »",
                OrgKind.COMPANY,
                attributes={"industry": industry} if industry else {},
            )
        )
        ds.add(
            Engagement(
                cid,
                vendor.id,
                started_at=AS_OF - timedelta(days=rng.randint(30, 900)),
                vendor_contact_ids=("v-big-r",) if rng.random() < 0.9 else (),
                attributes={k: rng.random() < 0.5 for k in ("kpis_defined", "escalation_plan")
                            if rng.random() < 0.7},
            )
        )  # fmt: skip
        if rng.random() < 0.05:  # no contact recorded at all
            continue
        roles = [Role.PROJECT_OWNER, Role.EXECUTIVE_SPONSOR, Role.CONTRIBUTOR]
        for k in range(rng.randint(1, 4)):
            ds.add(Contact(f"{cid}-p{k}", f"Personne {k}", cid, frozenset({rng.choice(roles)})))
        for a in range(rng.randint(0, 14)):
            kind = rng.choice([ActivityKind.MEETING, ActivityKind.PROPOSAL, ActivityKind.EMAIL])
            ts = AS_OF - timedelta(days=rng.randint(1, 400))
            ds.add(
                Activity(
                    f"{cid}-a{a}", kind, ts, cid, vendor.id, side=Side.VENDOR,
                    contact_ids=(f"{cid}-p0", "v-big-r"),
                    status=rng.choice(["accepted", "rejected", "completed", None]),
                    decided_at=ts + timedelta(days=rng.randint(1, 20)),
                )
            )  # fmt: skip
    return ds


def cpu(fn):  # type: ignore[no-untyped-def]
    start = time.process_time()
    out = fn()
    return time.process_time() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20_000)
    args = parser.parse_args()
    rng = random.Random(13)
    ds = make_portfolio(args.clients, rng)
    session = service.open_session(None)
    try:
        eval_s, results = cpu(
            lambda: service.evaluate_dataset(
                session, ds, vendor_ids=["v-big"], as_of=AS_OF, language="fr"
            )
        )
    finally:
        session.close()
    n_findings = sum(len(r.findings) for r in results)
    print(f"portfolio         : 1 vendor, {args.clients:,} clients, {n_findings:,} findings")
    print(f"evaluation        : {eval_s:6.2f} s CPU (signals, engine, findings; not the report)")

    agg_s, portfolio = cpu(lambda: build_portfolio(results, session.rulebook, as_of=AS_OF,
                                                   language="fr", scope="Agence"))  # fmt: skip
    print(f"aggregate         : {agg_s:6.2f} s CPU")
    base_s, base = cpu(lambda: json.dumps(portfolio.to_dict(), ensure_ascii=False))
    timings = {}
    for fmt in ("html", "markdown", "csv", "json"):
        secs, text = cpu(lambda fmt=fmt: render_as(portfolio, fmt))
        timings[fmt] = secs
        size = len(text.encode("utf-8")) / 1e6
        print(f"render {fmt:<10} : {secs:6.2f} s CPU, {size:6.2f} MB")
    tracemalloc.start()
    render_as(portfolio, "html")
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    html_total = agg_s + timings["html"]
    html_mb = len(render_as(portfolio, "html").encode("utf-8")) / 1e6
    print(f"baseline json.dumps: {base_s:6.2f} s CPU, {len(base.encode()) / 1e6:6.2f} MB")
    print(f"ratio html/baseline: {timings['html'] / base_s:6.2f}")
    print(f"HTML report total : {html_total:6.2f} s CPU (target < 10 s), {html_mb:.2f} MB "
          f"(target < 15 MB), peak {peak:.0f} MB allocated while rendering")  # fmt: skip


if __name__ == "__main__":
    main()
