"""What only ops can fix, for ``cmrules check``: the points the configured rules cannot assess
because no configured source records the data (a helpdesk's tickets, meeting attendees…).

Computed as a run computes its summary's ops lines (:func:`cmrules.records.ops_gap_rules`), on
a probe: one vendor and one client holding everything the configured sources record — their
coverage (what each connector declares, with the config's ``coverage`` override) — evaluated
with the configured rules.  Whatever the probe still cannot assess for want of a source is an
ops gap for every record; gaps a record's owner can fill in are not listed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .model import (
    Activity,
    ActivityKind,
    Contact,
    Coverage,
    Dataset,
    Engagement,
    Organisation,
    OrgKind,
    Role,
    Side,
)
from .records import ops_gap_rules
from .service import evaluate_dataset
from .sources import CombinedConnector, Helpdesk


@dataclass(frozen=True)
class OpsGap:
    """One thing only ops can fix, in the run's language, and the rules it leaves unassessed."""

    fix: str
    rules: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """As JSON."""
        return {"fix": self.fix, "rules": list(self.rules)}


def with_helpdesk(connector: Any) -> bool:
    """Whether a helpdesk is read for every organisation (``helpdesk:`` beside the CRM, or a
    helpdesk as the source): only then does each record come with its tickets."""
    return isinstance(connector, CombinedConnector | Helpdesk)


def probe(coverage: Coverage, tickets: bool, as_of: datetime) -> Dataset:
    """A vendor and a client, two years in, with one record of every kind ``coverage`` holds
    (tagged as it can tag, attended when it records attendees) and, with ``tickets``, a
    ticket answered in an hour."""
    vendor = Organisation("probe-vendor", "probe vendor", OrgKind.VENDOR)
    company = Organisation(
        "probe-company", "probe company", OrgKind.COMPANY,
        attributes={"has_ticket_data": True} if tickets else {},
    )  # fmt: skip
    people = [
        Contact("probe-sponsor", "sponsor", company.id, frozenset({Role.EXECUTIVE_SPONSOR})),
        Contact("probe-referent", "referent", vendor.id, frozenset({Role.VENDOR_REFERENT})),
    ]
    attendees = tuple(p.id for p in people) if coverage.attendees else ()
    acts = [
        Activity(
            f"probe-{kind.value}",
            kind,
            as_of - timedelta(days=10),
            company.id,
            vendor.id,
            side=Side.VENDOR if kind != ActivityKind.TICKET else Side.COMPANY,
            contact_ids=attendees,
            status="accepted" if kind == ActivityKind.PROPOSAL else "solved",
            decided_at=as_of - timedelta(days=5),
            tags=coverage.tags,
            first_reply_minutes=60.0,
            replies=1,
        )  # fmt: skip
        for kind in sorted(coverage.activity_kinds)
    ]
    ds = Dataset(coverage=coverage)
    started = as_of - timedelta(days=730)
    ds.add(vendor, company, *people, *acts)
    ds.add(Engagement(company.id, vendor.id, started, (people[1].id,)))
    return ds


def check_gaps(session: Any, language: str, as_of: datetime | None = None) -> list[OpsGap]:
    """Ops gaps of the configured rules and sources (see the module), in ``language``."""
    moment = as_of or datetime.now(UTC).replace(microsecond=0)
    conn = session.connector
    ds = probe(conn.coverage(), with_helpdesk(conn), moment)
    results = evaluate_dataset(
        session, ds, vendor_ids=["probe-vendor"], as_of=moment, language=language
    )
    found = ops_gap_rules((f for r in results for f in r.findings), language)
    return [OpsGap(fix, tuple(sorted(rules))) for fix, rules in found.items()]
