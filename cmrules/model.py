"""The canonical model every connector fills.

Connectors translate their records into these types; signals read only these types.
All timestamps are timezone-aware UTC ``datetime`` objects (use :mod:`cmrules.values`).
Values that the source does not know are ``None`` — never a default that looks like data.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

#: a rule's outcome for a record: it fired, or it could not be assessed (data missing).
#: Rules that neither fired nor lacked data have no outcome.
FIRED = "fired"
CANNOT_ASSESS = "cannot_assess"


@dataclass(frozen=True)
class Outcome:
    """One rule's outcome for one record (the engine's result, the findings' input)."""

    rule_id: str
    status: str  # FIRED | CANNOT_ASSESS


class OrgKind(StrEnum):
    """An organisation is a vendor (an agency) or a company (its client)."""

    COMPANY = "company"  # a client company that outsources (or considers outsourcing) its CM
    VENDOR = "vendor"  # an agency / provider of community management


class Side(StrEnum):
    """Who initiated an activity: the client company or the vendor."""

    COMPANY = "company"
    VENDOR = "vendor"


class Role(StrEnum):
    """Canonical contact roles.  Connectors map labels, buying roles and job titles onto these."""

    PROJECT_OWNER = "project_owner"  # decision maker / project owner: gives the vendor directions
    EXECUTIVE_SPONSOR = "executive_sponsor"  # leadership backing the project
    VENDOR_REFERENT = "vendor_referent"  # the vendor's single point of contact for a client
    COMMUNITY_MANAGER = "community_manager"  # does the day-to-day community management
    CONTRIBUTOR = "contributor"  # anyone else taking part


class ActivityKind(StrEnum):
    """What an activity is (meeting, email, ticket, proposal, ...)."""

    MEETING = "meeting"
    EMAIL = "email"
    CALL = "call"
    NOTE = "note"
    TICKET = "ticket"
    PROPOSAL = "proposal"  # an idea / action proposed by the vendor
    OFFER_CHANGE = "offer_change"  # the vendor's offer (scope, deliverables) was revised
    REPORT = "report"  # a KPI / impact report


#: Proposal statuses.  ``accepted`` and ``implemented`` count as "advice followed".
PROPOSAL_FOLLOWED = frozenset({"accepted", "implemented"})
PROPOSAL_DECIDED = PROPOSAL_FOLLOWED | {"rejected"}

#: Meeting statuses that did not happen.
MEETING_NOT_HELD = frozenset({"canceled", "no_show", "scheduled", "rescheduled"})

#: Well-known tags on activities.
TAG_STRATEGY = "strategy"  # strategy review / workshop
TAG_ONBOARDING = "onboarding"  # onboarding, glossary, validation circuit set-up

#: Canonical attributes (name -> python type) a connector may fill.  Anything else is ignored.
ORG_ATTRIBUTES: dict[str, type] = {
    "regulated": bool,  # technical or regulated activity
    "industry": str,
    "has_ticket_data": bool,  # a helpdesk source was read for this organisation
    # segment attributes, for profiles (thresholds per segment); mapped from CRM properties
    "tier": str,  # account tier, e.g. gold / silver
    "size": str,  # size band, e.g. "50-249"
    "owner_team": str,  # the account owner's team
    "language": str,  # note language for this record: fr / en (or French, anglais, …)
    "country": str,  # used for the note language when no language is set (FR, BE, GB, …)
}
CONTACT_ATTRIBUTES: dict[str, type] = {
    "social_media_familiar": bool,
}
ENGAGEMENT_ATTRIBUTES: dict[str, type] = {
    "kpis_defined": bool,
    "escalation_plan": bool,  # e-reputation crisis / escalation procedure agreed
    "onboarding_done": bool,
    "offer_last_revised": datetime,
}


@dataclass(frozen=True)
class Organisation:
    """A vendor or a client company, with typed attributes and what cmrules wrote on it."""

    id: str
    name: str
    kind: OrgKind
    domain: str | None = None
    external_id: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    #: what cmrules last wrote on this record (e.g. ``{"fingerprint": "..."}``), read back
    #: from the source so that an unchanged rerun makes no write call.
    writeback: Mapping[str, str] = field(default_factory=dict)
    #: raw CRM properties the core asked for by name (profiles' ``property.NAME`` match keys;
    #: see ``ConnectorContext.org_properties``), as text
    properties: Mapping[str, str] = field(default_factory=dict)
    source: str = ""
    #: waivers filled in on the record itself (CRM fields, local ``cmrules waive`` rows), raw:
    #: mappings with rules, reason, until, by, vendor — validated by the core
    waivers: tuple[Mapping[str, Any], ...] = ()
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Contact:
    """A person of an organisation, with canonical roles."""

    id: str
    name: str
    org_id: str | None
    roles: frozenset[Role] = frozenset()
    email: str | None = None
    job_title: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Activity:
    """Something that happened between a company and a vendor (or inside the company)."""

    id: str
    kind: ActivityKind
    timestamp: datetime | None
    company_id: str | None
    vendor_id: str | None = None
    side: Side | None = None  # who initiated it
    contact_ids: tuple[str, ...] = ()
    status: str | None = None
    decided_at: datetime | None = None  # proposals: when the company accepted / rejected it
    tags: frozenset[str] = frozenset()
    title: str = ""
    first_reply_minutes: float | None = None  # tickets: business minutes to first reply
    replies: int | None = None  # tickets: public replies from the vendor
    body: str = ""  # plain text, read only to classify the activity (never rendered)


#: Engagement statuses meaning the relationship is over (compared case-insensitively).
ENGAGEMENT_ENDED = frozenset({
    "ended", "closed", "terminated", "churned", "lost", "former", "terminé", "termine", "résilié",
    "resilie", "ancien", "closedlost", "closed_lost",
})  # fmt: skip


#: Engagement statuses meaning the company is still a prospect of the vendor (no contract yet).
ENGAGEMENT_PROSPECT = frozenset({"prospect", "prospection", "lead", "opportunity", "pitch"})


@dataclass(frozen=True)
class Engagement:
    """A client company working with (or evaluating) a vendor.

    ``ended_at`` / ``status`` record the end of the relationship: an ended engagement keeps
    its history but is not judged on ongoing criteria and is not among the vendor's active
    clients.
    """

    company_id: str
    vendor_id: str
    started_at: datetime | None = None
    vendor_contact_ids: tuple[str, ...] = ()  # vendor people assigned to this client
    attributes: Mapping[str, Any] = field(default_factory=dict)
    ended_at: datetime | None = None
    status: str | None = None  # e.g. "active", "ended" (see ENGAGEMENT_ENDED)

    def ended(self, as_of: datetime) -> bool:
        """True when the engagement is over at ``as_of`` (an end date reached, or an ended
        status with no future end date)."""
        if self.ended_at is not None:
            return self.ended_at <= as_of
        return (self.status or "").strip().casefold() in ENGAGEMENT_ENDED

    @property
    def prospect(self) -> bool:
        """Not signed yet: the company is a prospect of the vendor (status ``prospect``)."""
        return (self.status or "").strip().casefold() in ENGAGEMENT_PROSPECT

    def active(self, as_of: datetime) -> bool:
        """Signed and not over at ``as_of``: judged on the running-engagement criteria."""
        return not self.prospect and not self.ended(as_of)


@dataclass(frozen=True)
class Coverage:
    """What a source records: absence is evidence only for what is recorded.

    ``activity_kinds``: the kinds of activity the source holds (a meetings-only CRM holds
    meetings); ``attendees``: whether meeting participants are recorded; ``tags``: which
    well-known tags (strategy, onboarding) its activities can carry.  Tickets count as recorded
    for an organisation only when it also has ``has_ticket_data``.
    """

    source: str = "the source"
    activity_kinds: frozenset[ActivityKind] = frozenset(ActivityKind)
    attendees: bool = True
    tags: frozenset[str] = frozenset({TAG_STRATEGY, TAG_ONBOARDING})

    def records(self, kind: ActivityKind) -> bool:
        """Whether the source records activities of ``kind`` at all."""
        return kind in self.activity_kinds

    def merge(self, other: Coverage) -> Coverage:
        """Two sources read together (a CRM and its helpdesk) record the union."""
        return Coverage(
            source=f"{self.source} + {other.source}",
            activity_kinds=self.activity_kinds | other.activity_kinds,
            attendees=self.attendees or other.attendees,
            tags=self.tags | other.tags,
        )


@dataclass
class Dataset:
    """Everything one evaluation needs, as returned by a connector's ``load``."""

    organisations: dict[str, Organisation] = field(default_factory=dict)
    contacts: list[Contact] = field(default_factory=list)
    activities: list[Activity] = field(default_factory=list)
    engagements: list[Engagement] = field(default_factory=list)
    coverage: Coverage = field(default_factory=Coverage)

    def __post_init__(self) -> None:
        self._index: dict[str, Any] | None = None

    # -- building -------------------------------------------------------------------------
    def add(self, *items: Organisation | Contact | Activity | Engagement) -> None:
        """Add records of any model type."""
        for item in items:
            if isinstance(item, Organisation):
                self.organisations[item.id] = item
            elif isinstance(item, Contact):
                self.contacts.append(item)
            elif isinstance(item, Activity):
                self.activities.append(item)
            elif isinstance(item, Engagement):
                self.engagements.append(item)
            else:  # pragma: no cover - programming error
                raise TypeError(f"cannot add {type(item).__name__} to a Dataset")
        self._index = None

    def extend(self, other: Dataset) -> None:
        """Merge another load into this one; records already present (same id) are kept once."""
        self.organisations.update(other.organisations)
        seen_c = {c.id for c in self.contacts}
        self.contacts.extend(c for c in other.contacts if c.id not in seen_c)
        seen_a = {a.id for a in self.activities}
        self.activities.extend(a for a in other.activities if a.id not in seen_a)
        seen_e = {(e.company_id, e.vendor_id) for e in self.engagements}
        self.engagements.extend(
            e for e in other.engagements if (e.company_id, e.vendor_id) not in seen_e
        )
        self._index = None

    # -- lookups (built lazily, O(1) afterwards) -------------------------------------------
    def _idx(self) -> dict[str, Any]:
        if self._index is None:
            contacts_by_org: dict[str | None, list[Contact]] = defaultdict(list)
            contacts_by_id: dict[str, Contact] = {}
            for c in self.contacts:
                contacts_by_org[c.org_id].append(c)
                contacts_by_id[c.id] = c
            acts: dict[str | None, list[Activity]] = defaultdict(list)
            for a in self.activities:
                acts[a.company_id].append(a)
            eng_by_vendor: dict[str, list[Engagement]] = defaultdict(list)
            eng_by_company: dict[str, list[Engagement]] = defaultdict(list)
            for e in self.engagements:
                eng_by_vendor[e.vendor_id].append(e)
                eng_by_company[e.company_id].append(e)
            self._index = {
                "contacts_by_org": contacts_by_org,
                "contacts_by_id": contacts_by_id,
                "acts": acts,
                "eng_by_vendor": eng_by_vendor,
                "eng_by_company": eng_by_company,
            }
        return self._index

    def contacts_of(self, org_id: str) -> list[Contact]:
        """The contacts of one organisation."""
        return self._idx()["contacts_by_org"].get(org_id, [])

    def contact(self, contact_id: str) -> Contact | None:
        """The contact with this id, or None."""
        return self._idx()["contacts_by_id"].get(contact_id)

    def activities_between(self, company_id: str, vendor_id: str) -> list[Activity]:
        """Activities of a company with this vendor (or with no vendor recorded)."""
        return [
            a for a in self._idx()["acts"].get(company_id, []) if a.vendor_id in (vendor_id, None)
        ]

    def activities_of_company(self, company_id: str) -> list[Activity]:
        """Everything recorded with a company, whichever vendor (a prospect's sales process)."""
        return list(self._idx()["acts"].get(company_id, []))

    def engagements_of_vendor(self, vendor_id: str) -> list[Engagement]:
        """The engagements of one vendor."""
        return self._idx()["eng_by_vendor"].get(vendor_id, [])

    def engagements_of_company(self, company_id: str) -> list[Engagement]:
        """The engagements of one company."""
        return self._idx()["eng_by_company"].get(company_id, [])

    def vendors(self) -> list[Organisation]:
        """Every vendor."""
        return [o for o in self.organisations.values() if o.kind == OrgKind.VENDOR]

    def companies(self) -> Iterable[Organisation]:
        """Every client company."""
        return (o for o in self.organisations.values() if o.kind == OrgKind.COMPANY)
