"""Which records a command is about: references resolved to records, and their data loaded.

``--vendor`` and ``--company`` accept an id or a name; an unknown name is an error with the
closest names, an ambiguous one lists the candidates.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .connector import Connector
from .errors import UsageError
from .model import Dataset, Organisation, OrgKind

if TYPE_CHECKING:
    from .service import Session


def resolve(connector: Connector, ref: str, kind: OrgKind) -> Organisation:
    """An organisation by id or name; unknown -> close matches; ambiguous -> candidates."""
    ref = ref.strip()
    if not ref:
        raise UsageError(f"empty {kind.value} reference: give a name or an id")
    candidates = [o for o in connector.find_organisations(ref, kind) if o.kind == kind]
    by_id = [o for o in candidates if o.id == ref]
    if by_id:
        return by_id[0]
    folded = ref.casefold()
    exact = [o for o in candidates if o.name.casefold() == folded]
    if len(exact) == 1:
        return exact[0]
    partial = exact or [o for o in candidates if folded in o.name.casefold()]
    if len(partial) == 1:
        return partial[0]
    if len(partial) > 1:
        listing = "; ".join(f"{o.name} (id {o.id})" for o in partial[:10])
        raise UsageError(
            f"{kind.value} {ref!r} is ambiguous: {listing}. Use the id, or a "
            "longer part of the name"
        )
    names = {o.name: o for o in candidates}
    close = difflib.get_close_matches(ref, list(names), n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise UsageError(
        f"no {kind.value} matches {ref!r} in {connector.describe()}.{hint} "
        f"'cmrules vendors' lists them."
    )


@dataclass
class Selection:
    """The records one command evaluates, loaded: a vendor with its clients, or a company."""

    dataset: Dataset
    vendor_ids: list[str]
    company_ids: list[str] | None = None  # None: the vendors' records and all their clients
    prospect_ids: list[str] = field(default_factory=list)  # companies before signing


def select(
    session: Session,
    *,
    vendor: str | None = None,
    company: str | None = None,
    deal: str | None = None,
) -> Selection:
    """Resolve ``--vendor`` / ``--company`` / ``--deal`` and load what evaluating them needs."""
    conn = session.connector
    if deal:
        return _deal(session, deal)
    if company:
        subject = resolve(conn, company, OrgKind.COMPANY)
        vendor_ids = vendors_of(conn, [subject.id]).get(subject.id, [])
        if vendor:
            v = resolve(conn, vendor, OrgKind.VENDOR)
            if v.id not in vendor_ids:
                raise UsageError(f"{subject.name} is not a client of {v.name}")
            # every engagement of the company is still evaluated, whichever vendor was named:
            # its one note and its flags never depend on how it was brought into the run
        if vendor_ids:
            ds = session.prepare(conn.load(vendor_ids, [subject.id]))
            if not all(e.prospect for e in ds.engagements_of_company(subject.id)):
                return Selection(ds, vendor_ids, [subject.id])
        return _prospect(session, subject)
    if vendor:
        v = resolve(conn, vendor, OrgKind.VENDOR)
        return Selection(session.load([v.id]), [v.id])
    raise UsageError("say what to evaluate: --vendor NAME|ID or --company NAME|ID")


def _prospect(session: Session, subject: Organisation) -> Selection:
    """A company with no engagement signed: its readiness (:mod:`cmrules.readiness`)."""
    ds = prospects(session, [subject.id])
    if subject.id not in ds.organisations:
        raise UsageError(
            f"{subject.name} (id {subject.id}) has no vendor engagement to evaluate, and "
            f"{session.connector.describe()} holds no prospects; record which agency it works "
            "with"
        )
    return Selection(ds, [], [subject.id], prospect_ids=[subject.id])


def _deal(session: Session, ref: str) -> Selection:
    """An open deal (HubSpot) by id or name, as a prospect."""
    conn = session.connector
    try:
        found = conn.find_prospects(ref)
    except NotImplementedError:
        raise UsageError(f"--deal: {conn.describe()} has no deals; use --company") from None
    folded = ref.strip().casefold()
    hits = [d for d in found if d.id == ref.strip()] or [
        d for d in found if d.name.casefold() == folded
    ] or [d for d in found if folded in d.name.casefold()]  # fmt: skip
    if len(hits) > 1:
        listing = "; ".join(f"{d.name} (id {d.id})" for d in hits[:10])
        raise UsageError(f"deal {ref!r} is ambiguous: {listing}. Use the id")
    ds = prospects(session, [hits[0].id]) if hits else Dataset()
    if not hits or hits[0].id not in ds.organisations:
        raise UsageError(
            f"no open deal in the configured pipelines and stages matches {ref!r} in "
            f"{conn.describe()} (hubspot.deal_pipelines, hubspot.deal_stages)"
        )
    return Selection(ds, [], [hits[0].id], prospect_ids=[hits[0].id])


def prospects(session: Session, company_ids: list[str]) -> Dataset:
    """The prospects among ``company_ids``, loaded and prepared (none if the source has none)."""
    try:
        return session.prepare(session.connector.load_prospects(company_ids))
    except NotImplementedError:
        return Dataset()


def select_all(session: Session) -> Selection:
    """Every vendor the source knows, with all their clients."""
    conn = session.connector
    found = conn.find_organisations("", OrgKind.VENDOR)
    vendor_ids = sorted(o.id for o in found if o.kind == OrgKind.VENDOR)
    return Selection(session.prepare(conn.load(vendor_ids)), vendor_ids)


def vendors_of(conn: Connector, company_ids: list[str]) -> dict[str, list[str]]:
    """The vendors of each company, from connectors that can say (others: none known)."""
    try:
        return conn.vendors_of(company_ids)
    except NotImplementedError:
        return {}
