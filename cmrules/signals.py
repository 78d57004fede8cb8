"""Signals: documented functions deriving one typed fact from the canonical model.

A signal returns a :class:`SignalValue` whose ``value`` is an ``int``, ``float`` or ``bool`` —
or ``None`` when the data needed is missing ("unknown").  Rules only ever see signals, never
raw CRM fields, so a missing field can never pass silently: the engine turns an unknown
signal into a "cannot assess" finding.

Two kinds of subject are evaluated:

* ``company`` — one client company *in its engagement with one vendor* (most criteria);
* ``vendor`` — the vendor record itself, from its whole portfolio of clients.

"Activity tracking" for an engagement means at least one activity of any kind is recorded
between the two.  Counts over activities are unknown without it: zero meetings in a CRM that
records none is not evidence of zero meetings.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, Literal

from .model import (
    MEETING_NOT_HELD,
    PROPOSAL_DECIDED,
    PROPOSAL_FOLLOWED,
    TAG_ONBOARDING,
    TAG_STRATEGY,
    Activity,
    ActivityKind,
    Contact,
    Dataset,
    Engagement,
    Organisation,
    Role,
    Side,
)

Subject = Literal["company", "vendor"]
SignalType = Literal["int", "float", "bool"]


@dataclass(frozen=True)
class Ref:
    """A record a signal value came from (evidence)."""

    kind: str  # contact | meeting | proposal | ticket | organisation | engagement | …
    id: str
    label: str = ""


@dataclass(frozen=True)
class SignalValue:
    value: int | float | bool | None
    records: tuple[Ref, ...] = ()

    @property
    def known(self) -> bool:
        return self.value is not None


UNKNOWN = SignalValue(None)


@dataclass(frozen=True)
class SignalSpec:
    name: str
    subject: Subject
    type: SignalType
    doc: str
    missing: Mapping[str, str]  # language -> how to provide the data
    volatile: bool  # value drifts with time alone (days since …): excluded from fingerprints
    func: Callable[[Any], SignalValue] = field(compare=False, repr=False)


REGISTRY: dict[str, SignalSpec] = {}


def signal(
    name: str,
    subject: Subject,
    type: SignalType,
    *,
    missing_en: str,
    missing_fr: str,
    volatile: bool = False,
) -> Callable[[Callable[[Any], SignalValue]], Callable[[Any], SignalValue]]:
    def register(func: Callable[[Any], SignalValue]) -> Callable[[Any], SignalValue]:
        if name in REGISTRY:  # pragma: no cover - programming error
            raise ValueError(f"signal {name} registered twice")
        doc = " ".join((func.__doc__ or "").split())
        REGISTRY[name] = SignalSpec(
            name, subject, type, doc, {"en": missing_en, "fr": missing_fr}, volatile, func
        )
        return func

    return register


@dataclass(frozen=True)
class SignalSettings:
    """Signal-level settings (config key ``signals``)."""

    regulated_industries: tuple[str, ...] = (
        "banking", "finance", "insurance", "pharmaceuticals", "healthcare", "medical",
        "legal", "energy", "chemicals", "defense", "banque", "assurance", "santé",
        "pharmacie", "juridique", "énergie",
    )  # fmt: skip
    unanswered_after_hours: int = 48


# --------------------------------------------------------------------------------------------
# contexts
# --------------------------------------------------------------------------------------------
class CompanyContext:
    """One client company in its engagement with one vendor, at ``as_of``."""

    def __init__(
        self,
        ds: Dataset,
        company: Organisation,
        vendor: Organisation,
        as_of: datetime,
        settings: SignalSettings | None = None,
    ):
        self.ds = ds
        self.company = company
        self.vendor = vendor
        self.as_of = as_of
        self.settings = settings or SignalSettings()
        engagements = [e for e in ds.engagements_of_company(company.id) if e.vendor_id == vendor.id]
        self.engagement: Engagement | None = engagements[0] if engagements else None

    @cached_property
    def contacts(self) -> list[Contact]:
        return self.ds.contacts_of(self.company.id)

    @cached_property
    def vendor_contacts(self) -> list[Contact]:
        return self.ds.contacts_of(self.vendor.id)

    @cached_property
    def activities(self) -> list[Activity]:
        return [
            a
            for a in self.ds.activities_between(self.company.id, self.vendor.id)
            if a.timestamp is None or a.timestamp <= self.as_of
        ]

    @property
    def tracked(self) -> bool:
        return bool(self.activities)

    def attr(self, name: str) -> Any:
        if self.engagement is not None and self.engagement.attributes.get(name) is not None:
            return self.engagement.attributes[name]
        return self.company.attributes.get(name)

    def eng_ref(self, field: str) -> Ref:
        """Evidence pointing at this engagement's ``field``."""
        return Ref("engagement", f"{self.company.id}:{self.vendor.id}", field)

    def since(self, days: int) -> datetime:
        return self.as_of - timedelta(days=days)

    def of_kind(self, *kinds: ActivityKind) -> list[Activity]:
        return [a for a in self.activities if a.kind in kinds]

    def meetings_held(self) -> list[Activity]:
        return [
            a
            for a in self.of_kind(ActivityKind.MEETING)
            if a.timestamp is not None and (a.status or "").lower() not in MEETING_NOT_HELD
        ]

    def days_since_start(self) -> int | None:
        if self.engagement is None or self.engagement.started_at is None:
            return None
        if self.engagement.started_at > self.as_of:  # not started yet at as_of: no history
            return None
        return (self.as_of - self.engagement.started_at).days


class VendorContext:
    """A vendor and its whole client portfolio, at ``as_of``."""

    def __init__(
        self,
        ds: Dataset,
        vendor: Organisation,
        as_of: datetime,
        settings: SignalSettings | None = None,
    ):
        self.ds = ds
        self.vendor = vendor
        self.as_of = as_of
        self.settings = settings or SignalSettings()

    @cached_property
    def clients(self) -> list[CompanyContext]:
        out = []
        for e in self.ds.engagements_of_vendor(self.vendor.id):
            company = self.ds.organisations.get(e.company_id)
            if company is not None:
                out.append(CompanyContext(self.ds, company, self.vendor, self.as_of, self.settings))
        return out

    @cached_property
    def activities(self) -> list[Activity]:
        return [a for c in self.clients for a in c.activities]


def _ref(c: Contact) -> Ref:
    return Ref("contact", c.id, c.name)


def _aref(a: Activity) -> Ref:
    return Ref(a.kind.value, a.id, a.title)


def _with_role(contacts: Sequence[Contact], role: Role) -> list[Contact]:
    return [c for c in contacts if role in c.roles]


# --------------------------------------------------------------------------------------------
# company signals — inside the company ("dans ma structure")
# --------------------------------------------------------------------------------------------
@signal(
    "directing_contacts", "company", "int",
    missing_en="record the company's contacts in the CRM and mark who directs the vendor "
    "(role project owner / decision maker)",
    missing_fr="enregistrez les contacts de l'entreprise dans le CRM et indiquez qui donne "
    "les directives au prestataire (rôle responsable de projet / décideur)",
)  # fmt: skip
def directing_contacts(ctx: CompanyContext) -> SignalValue:
    """Number of company contacts who give the vendor its directions (role ``project_owner``).
    Unknown when the company has no contact recorded at all."""
    if not ctx.contacts:
        return UNKNOWN
    owners = _with_role(ctx.contacts, Role.PROJECT_OWNER)
    return SignalValue(len(owners), tuple(_ref(c) for c in owners))


@signal(
    "owner_social_media_familiar", "company", "bool",
    missing_en="designate a project owner and fill in whether they are familiar with social media",
    missing_fr="désignez un responsable de projet et indiquez s'il est familier des médias sociaux",
)  # fmt: skip
def owner_social_media_familiar(ctx: CompanyContext) -> SignalValue:
    """Whether a project owner is familiar with social-media codes (contact attribute
    ``social_media_familiar``).  True if any owner is; unknown if no owner has the attribute."""
    owners = _with_role(ctx.contacts, Role.PROJECT_OWNER)
    known = [c for c in owners if c.attributes.get("social_media_familiar") is not None]
    if not known:
        return UNKNOWN
    value = any(bool(c.attributes["social_media_familiar"]) for c in known)
    return SignalValue(value, tuple(_ref(c) for c in known))


@signal(
    "executive_sponsor", "company", "bool",
    missing_en="record the company's contacts and mark the executive sponsor, if any",
    missing_fr="enregistrez les contacts de l'entreprise et indiquez le sponsor de la direction",
)  # fmt: skip
def executive_sponsor(ctx: CompanyContext) -> SignalValue:
    """Whether a company contact holds the ``executive_sponsor`` role (leadership on board).
    Unknown when the company has no contact recorded."""
    if not ctx.contacts:
        return UNKNOWN
    sponsors = _with_role(ctx.contacts, Role.EXECUTIVE_SPONSOR)
    return SignalValue(bool(sponsors), tuple(_ref(c) for c in sponsors))


@signal(
    "exec_meetings_180d", "company", "int",
    missing_en="log meetings with the vendor (with attendees) in the CRM",
    missing_fr="enregistrez les réunions avec le prestataire (et leurs participants) dans le CRM",
)  # fmt: skip
def exec_meetings_180d(ctx: CompanyContext) -> SignalValue:
    """Meetings held in the last 180 days that an executive sponsor attended.
    Unknown without activity tracking."""
    if not ctx.tracked:
        return UNKNOWN
    sponsors = {c.id for c in _with_role(ctx.contacts, Role.EXECUTIVE_SPONSOR)}
    start = ctx.since(180)
    hits = [
        m
        for m in ctx.meetings_held()
        if m.timestamp is not None and m.timestamp >= start and sponsors & set(m.contact_ids)
    ]
    return SignalValue(len(hits), tuple(_aref(m) for m in hits))


@signal(
    "regulated_activity", "company", "bool",
    missing_en="fill in the company's industry, or whether its activity is technical or "
    "regulated",
    missing_fr="renseignez le secteur de l'entreprise, ou si son activité est technique ou "
    "réglementée",
)  # fmt: skip
def regulated_activity(ctx: CompanyContext) -> SignalValue:
    """Whether the company's activity is technical or regulated: attribute ``regulated``, else
    its ``industry`` is in ``signals.regulated_industries``.  Unknown if neither is known."""
    ref = (Ref("organisation", ctx.company.id, ctx.company.name),)
    regulated = ctx.company.attributes.get("regulated")
    if regulated is not None:
        return SignalValue(bool(regulated), ref)
    industry = ctx.company.attributes.get("industry")
    if not industry:
        return UNKNOWN
    listed = {i.casefold() for i in ctx.settings.regulated_industries}
    return SignalValue(str(industry).casefold() in listed, ref)


@signal(
    "onboarding_done", "company", "bool",
    missing_en="record the onboarding (glossary, validation circuit) as an activity tagged "
    "onboarding, or set the engagement's onboarding_done attribute",
    missing_fr="enregistrez l'onboarding (glossaire, circuit de validation) comme une activité "
    "marquée onboarding, ou renseignez l'attribut onboarding_done",
)  # fmt: skip
def onboarding_done(ctx: CompanyContext) -> SignalValue:
    """Whether the vendor was onboarded on the business (glossary, validation circuit):
    engagement attribute ``onboarding_done``, else an activity tagged ``onboarding``.
    Unknown when neither the attribute nor activity tracking exists."""
    explicit = ctx.attr("onboarding_done")
    if explicit is not None:
        return SignalValue(bool(explicit))
    if not ctx.tracked:
        return UNKNOWN
    hits = [a for a in ctx.activities if TAG_ONBOARDING in a.tags]
    return SignalValue(bool(hits), tuple(_aref(a) for a in hits))


@signal(
    "validation_median_days", "company", "float",
    missing_en="record the vendor's proposals with the date the company accepted or rejected them",
    missing_fr="enregistrez les propositions du prestataire avec la date d'acceptation ou de refus",
)  # fmt: skip
def validation_median_days(ctx: CompanyContext) -> SignalValue:
    """Median days the company took to accept or reject the vendor's proposals over the last
    365 days (time given to validations).  Unknown without a decided proposal."""
    start = ctx.since(365)
    decided = [
        a
        for a in ctx.of_kind(ActivityKind.PROPOSAL)
        if a.timestamp is not None
        and a.decided_at is not None
        and a.decided_at >= start
        and a.decided_at <= ctx.as_of
    ]
    if not decided:
        return UNKNOWN
    days = [max(0.0, (a.decided_at - a.timestamp).total_seconds() / 86400) for a in decided]  # type: ignore[operator]
    return SignalValue(round(statistics.median(days), 1), tuple(_aref(a) for a in decided))


# --------------------------------------------------------------------------------------------
# company signals — at the vendor ("chez le prestataire"), for this engagement
# --------------------------------------------------------------------------------------------
@signal(
    "days_since_offer_revision", "company", "int",
    volatile=True,
    missing_en="record the engagement's start date or the vendor's offer revisions",
    missing_fr="renseignez la date de début de la collaboration ou les révisions de l'offre",
)  # fmt: skip
def days_since_offer_revision(ctx: CompanyContext) -> SignalValue:
    """Days since the vendor's offer to this client was last revised (attribute
    ``offer_last_revised`` or an ``offer_change`` activity), else since the engagement
    started.  Unknown when none of these dates is known."""
    dates: list[tuple[datetime, Ref]] = []
    revised = ctx.attr("offer_last_revised")
    if isinstance(revised, datetime) and revised <= ctx.as_of:
        dates.append((revised, ctx.eng_ref("offer_last_revised")))
    for a in ctx.of_kind(ActivityKind.OFFER_CHANGE):
        if a.timestamp is not None:
            dates.append((a.timestamp, _aref(a)))
    started = ctx.engagement.started_at if ctx.engagement is not None else None
    if not dates and started is not None and started <= ctx.as_of:
        dates.append((started, ctx.eng_ref("started_at")))
    if not dates:
        return UNKNOWN
    latest, ref = max(dates, key=lambda d: d[0])
    return SignalValue(max(0, (ctx.as_of - latest).days), (ref,))


@signal(
    "vendor_referents", "company", "int",
    missing_en="record the vendor's people and mark its referent (vendor referent role)",
    missing_fr="enregistrez les interlocuteurs du prestataire et indiquez le référent",
)  # fmt: skip
def vendor_referents(ctx: CompanyContext) -> SignalValue:
    """Vendor people acting as referent for this client: vendor contacts with role
    ``vendor_referent`` assigned to the engagement or taking part in its activities.
    Unknown when the vendor has no contact recorded."""
    if not ctx.vendor_contacts:
        return UNKNOWN
    involved = set(ctx.engagement.vendor_contact_ids if ctx.engagement else ())
    for a in ctx.activities:
        involved.update(a.contact_ids)
    refs = [c for c in _with_role(ctx.vendor_contacts, Role.VENDOR_REFERENT) if c.id in involved]
    return SignalValue(len(refs), tuple(_ref(c) for c in refs))


@signal(
    "days_since_last_meeting", "company", "int",
    volatile=True,
    missing_en="log meetings with the vendor in the CRM",
    missing_fr="enregistrez les réunions avec le prestataire dans le CRM",
)  # fmt: skip
def days_since_last_meeting(ctx: CompanyContext) -> SignalValue:
    """Days since the last meeting held with the vendor; with no meeting ever, days since the
    engagement started.  Unknown without either."""
    held = ctx.meetings_held()
    if held:
        last = max(held, key=lambda m: m.timestamp)  # type: ignore[arg-type,return-value]
        return SignalValue(max(0, (ctx.as_of - last.timestamp).days), (_aref(last),))  # type: ignore[operator]
    if not ctx.tracked:
        return UNKNOWN
    start = ctx.days_since_start()
    if start is None:
        return UNKNOWN
    return SignalValue(start, (ctx.eng_ref("started_at"),))


@signal(
    "meetings_per_month", "company", "float",
    missing_en="log meetings with the vendor in the CRM",
    missing_fr="enregistrez les réunions avec le prestataire dans le CRM",
)  # fmt: skip
def meetings_per_month(ctx: CompanyContext) -> SignalValue:
    """Meetings held per month with the vendor over the last 90 days.
    Unknown without activity tracking."""
    if not ctx.tracked:
        return UNKNOWN
    start = ctx.since(90)
    hits = [m for m in ctx.meetings_held() if m.timestamp is not None and m.timestamp >= start]
    return SignalValue(round(len(hits) / 3, 2), tuple(_aref(m) for m in hits))


@signal(
    "exchanges_per_month", "company", "float",
    missing_en="log meetings, calls, e-mails or tickets exchanged with the vendor",
    missing_fr="enregistrez les réunions, appels, e-mails ou tickets échangés avec le prestataire",
)  # fmt: skip
def exchanges_per_month(ctx: CompanyContext) -> SignalValue:
    """Exchanges per month with the vendor over the last 90 days: meetings held, calls,
    e-mails, tickets and their public replies.  Unknown without activity tracking."""
    if not ctx.tracked:
        return UNKNOWN
    start = ctx.since(90)
    held = {m.id for m in ctx.meetings_held()}
    count = 0
    refs = []
    for a in ctx.activities:
        if a.timestamp is None or a.timestamp < start:
            continue
        if a.kind == ActivityKind.MEETING and a.id not in held:
            continue
        if a.kind in (ActivityKind.MEETING, ActivityKind.CALL, ActivityKind.EMAIL):
            count += 1
        elif a.kind == ActivityKind.TICKET:
            count += 1 + (a.replies or 0)
        else:
            continue
        refs.append(_aref(a))
    return SignalValue(round(count / 3, 2), tuple(refs))


@signal(
    "strategy_reviews_365d", "company", "int",
    missing_en="log strategy reviews (meetings or notes tagged strategy) with the vendor",
    missing_fr="enregistrez les revues stratégiques (réunions ou notes marquées stratégie)",
)  # fmt: skip
def strategy_reviews_365d(ctx: CompanyContext) -> SignalValue:
    """Strategy reviews (activities tagged ``strategy``) with the vendor in the last 365 days.
    Unknown without activity tracking."""
    if not ctx.tracked:
        return UNKNOWN
    start = ctx.since(365)
    hits = [
        a
        for a in ctx.activities
        if TAG_STRATEGY in a.tags and a.timestamp is not None and a.timestamp >= start
    ]
    return SignalValue(len(hits), tuple(_aref(a) for a in hits))


@signal(
    "proposals_90d", "company", "int",
    missing_en="record the vendor's proposals (ideas, actions) in the CRM",
    missing_fr="enregistrez les propositions (idées, actions) du prestataire dans le CRM",
)  # fmt: skip
def proposals_90d(ctx: CompanyContext) -> SignalValue:
    """Proposals (original actions, ideas) the vendor made in the last 90 days.
    Unknown without activity tracking."""
    if not ctx.tracked:
        return UNKNOWN
    start = ctx.since(90)
    hits = [
        a
        for a in ctx.of_kind(ActivityKind.PROPOSAL)
        if a.timestamp is not None and a.timestamp >= start and a.side != Side.COMPANY
    ]
    return SignalValue(len(hits), tuple(_aref(a) for a in hits))


@signal(
    "proposal_acceptance_rate", "company", "float",
    missing_en="record whether the company accepted or rejected each vendor proposal",
    missing_fr="indiquez pour chaque proposition du prestataire si elle a été acceptée ou refusée",
)  # fmt: skip
def proposal_acceptance_rate(ctx: CompanyContext) -> SignalValue:
    """Share (0–1) of the vendor's proposals decided in the last 365 days that the company
    accepted or implemented — is the advice followed?  Unknown without a decided proposal."""
    start = ctx.since(365)
    decided = [
        a
        for a in ctx.of_kind(ActivityKind.PROPOSAL)
        if (a.status or "").lower() in PROPOSAL_DECIDED
        and (a.decided_at or a.timestamp) is not None
        and start <= (a.decided_at or a.timestamp) <= ctx.as_of  # type: ignore[operator]
    ]
    if not decided:
        return UNKNOWN
    followed = [a for a in decided if (a.status or "").lower() in PROPOSAL_FOLLOWED]
    return SignalValue(round(len(followed) / len(decided), 3), tuple(_aref(a) for a in decided))


# --------------------------------------------------------------------------------------------
# company signals — from the readers' comments and from helpdesk data
# --------------------------------------------------------------------------------------------
def _engagement_flag(ctx: CompanyContext, name: str) -> SignalValue:
    """A boolean engagement attribute as a signal; unknown when not filled in."""
    value = ctx.attr(name)
    if value is None:
        return UNKNOWN
    return SignalValue(bool(value), (ctx.eng_ref(name),))


@signal(
    "escalation_plan", "company", "bool",
    missing_en="set the engagement's escalation_plan attribute (e-reputation crisis procedure)",
    missing_fr="renseignez l'attribut escalation_plan (procédure de crise e-réputation)",
)  # fmt: skip
def escalation_plan(ctx: CompanyContext) -> SignalValue:
    """Whether an e-reputation crisis / escalation procedure is agreed with the vendor
    (engagement attribute ``escalation_plan``).  Unknown when not filled in."""
    return _engagement_flag(ctx, "escalation_plan")


@signal(
    "kpis_defined", "company", "bool",
    missing_en="set the engagement's kpis_defined attribute (are impact KPIs agreed?)",
    missing_fr="renseignez l'attribut kpis_defined (des indicateurs d'impact sont-ils fixés ?)",
)  # fmt: skip
def kpis_defined(ctx: CompanyContext) -> SignalValue:
    """Whether KPIs measuring the impact of community management are agreed
    (engagement attribute ``kpis_defined``).  Unknown when not filled in."""
    return _engagement_flag(ctx, "kpis_defined")


@signal(
    "days_since_kpi_report", "company", "int",
    volatile=True,
    missing_en="log the vendor's KPI reports as activities of kind report",
    missing_fr="enregistrez les bilans d'indicateurs du prestataire (activités de type report)",
)  # fmt: skip
def days_since_kpi_report(ctx: CompanyContext) -> SignalValue:
    """Days since the vendor's last KPI / impact report; with none ever, days since the
    engagement started.  Unknown without activity tracking or a start date."""
    reports = [a for a in ctx.of_kind(ActivityKind.REPORT) if a.timestamp is not None]
    if reports:
        last = max(reports, key=lambda a: a.timestamp)  # type: ignore[arg-type,return-value]
        return SignalValue(max(0, (ctx.as_of - last.timestamp).days), (_aref(last),))  # type: ignore[operator]
    if not ctx.tracked:
        return UNKNOWN
    start = ctx.days_since_start()
    if start is None:
        return UNKNOWN
    return SignalValue(start, (ctx.eng_ref("started_at"),))


def _tickets(ctx: CompanyContext) -> list[Activity] | None:
    if not ctx.company.attributes.get("has_ticket_data"):
        return None
    return ctx.of_kind(ActivityKind.TICKET)


@signal(
    "median_first_reply_minutes", "company", "float",
    missing_en="connect a helpdesk source (tickets with reply-time metrics)",
    missing_fr="connectez une source helpdesk (tickets avec leurs délais de réponse)",
)  # fmt: skip
def median_first_reply_minutes(ctx: CompanyContext) -> SignalValue:
    """Median business minutes to the vendor's first reply on tickets created in the last
    90 days.  Unknown without helpdesk data or without any measured reply time."""
    tickets = _tickets(ctx)
    if tickets is None:
        return UNKNOWN
    start = ctx.since(90)
    timed = [
        t
        for t in tickets
        if t.first_reply_minutes is not None and t.timestamp is not None and t.timestamp >= start
    ]
    if not timed:
        return UNKNOWN
    minutes = [float(t.first_reply_minutes) for t in timed if t.first_reply_minutes is not None]
    return SignalValue(round(statistics.median(minutes), 1), tuple(_aref(t) for t in timed))


@signal(
    "unanswered_requests", "company", "int",
    missing_en="connect a helpdesk source (tickets with reply counts)",
    missing_fr="connectez une source helpdesk (tickets avec le nombre de réponses)",
)  # fmt: skip
def unanswered_requests(ctx: CompanyContext) -> SignalValue:
    """Company requests (tickets opened by the company, still new/open) with no vendor reply
    after ``signals.unanswered_after_hours``.  Unknown without helpdesk data, or when a
    candidate ticket's reply count is missing."""
    tickets = _tickets(ctx)
    if tickets is None:
        return UNKNOWN
    cutoff = ctx.as_of - timedelta(hours=ctx.settings.unanswered_after_hours)
    hits = []
    for t in tickets:
        if t.side == Side.VENDOR or (t.status or "").lower() not in ("new", "open"):
            continue
        if t.timestamp is None or t.timestamp > cutoff:
            continue
        if t.replies is None:
            return UNKNOWN
        if t.replies == 0:
            hits.append(t)
    return SignalValue(len(hits), tuple(_aref(t) for t in hits))


# --------------------------------------------------------------------------------------------
# vendor signals — the vendor record, over its portfolio
# --------------------------------------------------------------------------------------------
@signal(
    "clients_without_referent", "vendor", "int",
    missing_en="record the vendor's people and mark its referents",
    missing_fr="enregistrez les interlocuteurs du prestataire et indiquez ses référents",
)  # fmt: skip
def clients_without_referent(ctx: VendorContext) -> SignalValue:
    """Client companies for which the vendor has no referent.  Unknown when the vendor has no
    client or no contact recorded."""
    if not ctx.clients or not ctx.ds.contacts_of(ctx.vendor.id):
        return UNKNOWN
    missing = [c for c in ctx.clients if vendor_referents(c).value == 0]
    return SignalValue(
        len(missing), tuple(Ref("organisation", c.company.id, c.company.name) for c in missing)
    )


@signal(
    "offer_revisions_365d", "vendor", "int",
    missing_en="log the vendor's offer revisions (activities of kind offer_change)",
    missing_fr="enregistrez les révisions d'offre du prestataire (activités offer_change)",
)  # fmt: skip
def offer_revisions_365d(ctx: VendorContext) -> SignalValue:
    """Offer revisions the vendor made across its clients in the last 365 days.
    Unknown when no client engagement has activity tracking."""
    if not any(c.tracked for c in ctx.clients):
        return UNKNOWN
    start = ctx.as_of - timedelta(days=365)
    hits = [
        a
        for a in ctx.activities
        if a.kind == ActivityKind.OFFER_CHANGE and a.timestamp is not None and a.timestamp >= start
    ]
    return SignalValue(len(hits), tuple(_aref(a) for a in hits))


@signal(
    "portfolio_proposals_90d", "vendor", "int",
    missing_en="record the vendor's proposals in the CRM",
    missing_fr="enregistrez les propositions du prestataire dans le CRM",
)  # fmt: skip
def portfolio_proposals_90d(ctx: VendorContext) -> SignalValue:
    """Proposals the vendor made across all its clients in the last 90 days.
    Unknown when no client engagement has activity tracking."""
    tracked = [c for c in ctx.clients if c.tracked]
    if not tracked:
        return UNKNOWN
    total: list[Ref] = []
    for c in tracked:
        total.extend(proposals_90d(c).records)
    return SignalValue(len(total), tuple(total))


# --------------------------------------------------------------------------------------------
def compute(
    ctx: CompanyContext | VendorContext, names: Sequence[str] | None = None
) -> dict[str, SignalValue]:
    """All signals for the context's subject (or only ``names``)."""
    subject = "company" if isinstance(ctx, CompanyContext) else "vendor"
    out: dict[str, SignalValue] = {}
    for spec in REGISTRY.values():
        if spec.subject != subject or (names is not None and spec.name not in names):
            continue
        out[spec.name] = spec.func(ctx)
    return out


def python_type(spec: SignalSpec) -> type:
    return {"int": int, "float": float, "bool": bool}[spec.type]


def coerce(spec: SignalSpec, raw: Any) -> int | float | bool | None:
    """Normalise a raw signal value (possibly a CRM string such as ``"3"`` or ``"false"``) to
    the signal's declared type.  Blank, null, NaN or unparsable values become ``None``
    (unknown) — they must never compare as text."""
    from .values import parse_bool, parse_number

    try:
        if spec.type == "bool":
            return parse_bool(raw)
        number = parse_number(raw)
    except ValueError:
        return None
    if number is None:
        return None
    if spec.type == "int":
        if isinstance(number, float):
            return number if number != int(number) else int(number)
        return number
    return float(number)
