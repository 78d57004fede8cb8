"""Small datasets written as YAML, shared by the signal cases and the article scenarios.

A case describes one vendor ``v1`` ("Agence") and its client companies (default: ``c1``,
"Client") with only what matters to it::

    as_of: 2026-11-20
    engagements: [{company: c1, started: 2026-10-15, ended: …, status: …, attributes: {…}}]
    companies: {c1: {attributes: {industry: banking}}}
    vendors: {v2: {name: "Autre agence"}}      # more vendors (v1 always exists)
    contacts: [{id: p1, org: c1, roles: [project_owner], job_title: …, attributes: {…}}]
    activities: [{kind: meeting, date: 2026-10-16, status: completed, contacts: [p1], …}]
    coverage: {activity_kinds: [meeting], attendees: false, tags: []}   # what the source records
    settings: {min_observed_days: 30, windows: {meetings_per_month: 60}}

Values are spelt as CRMs spell them where the model keeps text (statuses such as
``COMPLETED`` or ``Accepted``); dates are ISO dates or date-times (UTC).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from cmrules.connector import override_coverage
from cmrules.model import (
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
from cmrules.signals import SignalSettings
from cmrules.vocabulary import DEFAULT as VOCABULARY

CASE_KEYS = {
    "name", "why", "as_of", "engagements", "companies", "vendors", "contacts", "activities",
    "coverage", "settings", "expect", "verdict", "rules", "subject",
}  # fmt: skip


def when(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


def coverage(raw: Mapping[str, Any] | None) -> Coverage:
    """What the test source records: everything, unless the case says otherwise."""
    raw = dict(raw or {})
    base = Coverage(source=str(raw.pop("source", "the test source")))
    return override_coverage(base, raw)


def settings(raw: Mapping[str, Any] | None) -> SignalSettings:
    raw = dict(raw or {})
    return SignalSettings(
        min_observed_days=int(raw.get("min_observed_days", 30)),
        windows=dict(raw.get("windows") or {}),
    )


def dataset(case: Mapping[str, Any]) -> Dataset:
    """The dataset a case describes, classified by the core vocabulary like every load."""
    ds = Dataset(coverage=coverage(case.get("coverage")))
    vendors = {"v1": {"name": "Agence"}, **(case.get("vendors") or {})}
    for vid, raw in vendors.items():
        ds.add(Organisation(vid, raw.get("name", vid), OrgKind.VENDOR, attributes={}))
    engagements = case.get("engagements") or [{"company": "c1"}]
    companies = case.get("companies") or {}
    for cid in dict.fromkeys([e.get("company", "c1") for e in engagements] + list(companies)):
        raw = companies.get(cid) or {}
        ds.add(
            Organisation(
                cid, raw.get("name", "Client" if cid == "c1" else cid), OrgKind.COMPANY,
                attributes=dict(raw.get("attributes") or {}),
            )
        )  # fmt: skip
    for e in engagements:
        attributes = dict(e.get("attributes") or {})
        if "offer_last_revised" in attributes:
            attributes["offer_last_revised"] = when(attributes["offer_last_revised"])
        ds.add(
            Engagement(
                company_id=e.get("company", "c1"),
                vendor_id=e.get("vendor", "v1"),
                started_at=when(e.get("started")),
                vendor_contact_ids=tuple(e.get("vendor_contacts") or ()),
                attributes=attributes,
                ended_at=when(e.get("ended")),
                status=e.get("status"),
            )
        )
    for c in case.get("contacts") or []:
        ds.add(
            Contact(
                id=c["id"],
                name=c.get("name", c["id"]),
                org_id=c.get("org", "c1"),
                roles=frozenset(Role(r) for r in c.get("roles") or ()),
                job_title=c.get("job_title"),
                attributes=dict(c.get("attributes") or {}),
            )
        )
    for n, a in enumerate(case.get("activities") or [], 1):
        ds.add(
            Activity(
                id=str(a.get("id", f"a{n}")),
                kind=ActivityKind(a["kind"]),
                timestamp=when(a.get("date")),
                company_id=a.get("company", "c1"),
                vendor_id=a.get("vendor", "v1"),
                side=Side(a["side"]) if a.get("side") else None,
                contact_ids=tuple(a.get("contacts") or ()),
                status=a.get("status"),
                decided_at=when(a.get("decided")),
                tags=frozenset(a.get("tags") or ()),
                title=str(a.get("title", "")),
                first_reply_minutes=a.get("first_reply_minutes"),
                replies=a.get("replies"),
            )
        )
    VOCABULARY.apply(ds)
    return ds
