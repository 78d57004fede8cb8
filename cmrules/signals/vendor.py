"""Signals at the vendor, for one engagement ("Chez le prestataire", criteria 6–10;
rules/vendor.yaml)."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta

from ..model import (
    PROPOSAL_DECIDED,
    PROPOSAL_FOLLOWED,
    TAG_STRATEGY,
    Activity,
    ActivityKind,
    Role,
    Side,
)
from .base import UNKNOWN, Ref, SignalValue, not_recorded, signal
from .context import (
    CompanyContext,
    Window,
    aref,
    count_in_window,
    per_month,
    ref_of,
    with_role,
)

#: Exchange channels, in the order they are named when not recorded.
EXCHANGE_CHANNELS = (ActivityKind.MEETING, ActivityKind.CALL, ActivityKind.EMAIL)


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
            dates.append((a.timestamp, aref(a)))
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
    refs = [c for c in with_role(ctx.vendor_contacts, Role.VENDOR_REFERENT) if c.id in involved]
    return SignalValue(len(refs), tuple(ref_of(c) for c in refs))


@signal(
    "days_since_last_meeting", "company", "int",
    volatile=True,
    missing_en="log meetings with the vendor in the CRM",
    missing_fr="enregistrez les réunions avec le prestataire dans le CRM",
)  # fmt: skip
def days_since_last_meeting(ctx: CompanyContext) -> SignalValue:
    """Days since the last meeting held with the vendor; with no meeting ever, days since the
    start of observation.  Not recorded when the source holds no meetings."""
    gap = ctx.unrecorded(ActivityKind.MEETING)
    if gap is not None:
        return gap
    return ctx.days_since_latest(ctx.meetings_held())


@signal(
    "meetings_per_month", "company", "float",
    window_days=90,
    missing_en="log meetings with the vendor in the CRM",
    missing_fr="enregistrez les réunions avec le prestataire dans le CRM",
)  # fmt: skip
def meetings_per_month(ctx: CompanyContext) -> SignalValue:
    """Meetings held per month (30 days) with the vendor over the time observed in the window
    (default 90 days).  Too early below ``signals.min_observed_days``; not recorded when the
    source holds no meetings."""
    gap = ctx.unrecorded(ActivityKind.MEETING)
    if gap is not None:
        return gap
    window = ctx.rate_window("meetings_per_month")
    if not isinstance(window, Window):
        return window
    hits = [m for m in ctx.meetings_held() if window.holds(m.timestamp, ctx.as_of)]
    return SignalValue(
        per_month(len(hits), window), tuple(aref(m) for m in hits), None, window.days
    )


def exchange_channels(ctx: CompanyContext) -> list[ActivityKind]:
    """The exchange channels the source records for this company."""
    kinds = [k for k in EXCHANGE_CHANNELS if ctx.coverage.records(k)]
    if ctx.tickets_recorded():
        kinds.append(ActivityKind.TICKET)
    return kinds


@signal(
    "exchanges_per_month", "company", "float",
    window_days=90,
    missing_en="log calls, e-mails or tickets exchanged with the vendor",
    missing_fr="enregistrez les appels, e-mails ou tickets échangés avec le prestataire",
)  # fmt: skip
def exchanges_per_month(ctx: CompanyContext) -> SignalValue:
    """Exchanges per month (30 days) with the vendor over the time observed in the window
    (default 90 days), on the channels the source records: meetings held, calls, e-mails,
    tickets and their public replies.  A source recording meetings only cannot tell exchanges
    apart from meetings (judged by the meeting rule): the value is then not recorded, so it is
    never held to a stricter bar than the meeting rule.  Too early below
    ``signals.min_observed_days``."""
    channels = exchange_channels(ctx)
    if not set(channels) - {ActivityKind.MEETING}:
        return not_recorded(ctx.coverage.source, "call", "email", "ticket")
    window = ctx.rate_window("exchanges_per_month")
    if not isinstance(window, Window):
        return window
    held = {m.id for m in ctx.meetings_held()}
    count = 0
    refs = []
    for a in ctx.activities:
        if a.kind not in channels or not window.holds(a.timestamp, ctx.as_of):
            continue
        if a.kind == ActivityKind.MEETING and a.id not in held:
            continue
        count += 1 + (a.replies or 0) if a.kind == ActivityKind.TICKET else 1
        refs.append(aref(a))
    return SignalValue(per_month(count, window), tuple(refs), None, window.days)


def _tickets(ctx: CompanyContext) -> list[Activity] | None:
    if not ctx.tickets_recorded():
        return None
    return ctx.of_kind(ActivityKind.TICKET)


@signal(
    "median_first_reply_minutes", "company", "float",
    window_days=90,
    missing_en="connect a helpdesk source (tickets with reply-time metrics)",
    missing_fr="connectez une source helpdesk (tickets avec leurs délais de réponse)",
)  # fmt: skip
def median_first_reply_minutes(ctx: CompanyContext) -> SignalValue:
    """Median business minutes to the vendor's first reply on tickets created in the window
    (default 90 days).  Unknown without helpdesk data or without any measured reply time."""
    tickets = _tickets(ctx)
    if tickets is None:
        return UNKNOWN
    start = ctx.as_of - timedelta(days=ctx.settings.window("median_first_reply_minutes"))
    timed = [
        t
        for t in tickets
        if t.first_reply_minutes is not None and t.timestamp is not None and t.timestamp >= start
    ]
    if not timed:
        return UNKNOWN
    minutes = [float(t.first_reply_minutes) for t in timed if t.first_reply_minutes is not None]
    return SignalValue(round(statistics.median(minutes), 1), tuple(aref(t) for t in timed))


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
    return SignalValue(len(hits), tuple(aref(t) for t in hits))


@signal(
    "strategy_reviews_365d", "company", "int",
    window_days=365,
    missing_en="log strategy reviews (meetings or notes tagged strategy) with the vendor",
    missing_fr="enregistrez les revues stratégiques (réunions ou notes marquées stratégie)",
)  # fmt: skip
def strategy_reviews_365d(ctx: CompanyContext) -> SignalValue:
    """Strategy reviews (activities tagged ``strategy``) with the vendor in the window
    (default 365 days).  Not recorded when the source never tags strategy reviews; too early
    while none happened and the window is not fully observed."""
    window = ctx.window("strategy_reviews_365d")
    hits = [
        a
        for a in ctx.activities
        if TAG_STRATEGY in a.tags and window is not None and window.holds(a.timestamp, ctx.as_of)
    ]
    if not hits and TAG_STRATEGY not in ctx.coverage.tags:
        return not_recorded(ctx.coverage.source, "strategy")
    return count_in_window(window, hits, ctx.settings.window("strategy_reviews_365d"))


def proposals_in_window(ctx: CompanyContext, window: Window) -> list[Activity]:
    """The vendor's proposals (not the company's) dated inside the window."""
    return [
        a
        for a in ctx.of_kind(ActivityKind.PROPOSAL)
        if window.holds(a.timestamp, ctx.as_of) and a.side != Side.COMPANY
    ]


@signal(
    "proposals_90d", "company", "int",
    window_days=90,
    missing_en="record the vendor's proposals (ideas, actions) in the CRM",
    missing_fr="enregistrez les propositions (idées, actions) du prestataire dans le CRM",
)  # fmt: skip
def proposals_90d(ctx: CompanyContext) -> SignalValue:
    """Proposals (original actions, ideas) the vendor made in the window (default 90 days).
    Not recorded when the source holds no proposals; too early while none was made and the
    window is not fully observed (the article expects them once the business is known)."""
    gap = ctx.unrecorded(ActivityKind.PROPOSAL)
    if gap is not None:
        return gap
    window = ctx.window("proposals_90d")
    hits = proposals_in_window(ctx, window) if window is not None else []
    return count_in_window(window, hits, ctx.settings.window("proposals_90d"))


@signal(
    "proposal_acceptance_rate", "company", "float",
    window_days=365,
    missing_en="record whether the company accepted or rejected each vendor proposal",
    missing_fr="indiquez pour chaque proposition du prestataire si elle a été acceptée ou refusée",
)  # fmt: skip
def proposal_acceptance_rate(ctx: CompanyContext) -> SignalValue:
    """Share (0–1) of the vendor's proposals decided in the window (default 365 days) that the
    company accepted or implemented — is the advice followed?  Unknown without a decided
    proposal."""
    gap = ctx.unrecorded(ActivityKind.PROPOSAL)
    if gap is not None:
        return gap
    window = ctx.window("proposal_acceptance_rate")
    if window is None:
        return UNKNOWN
    decided = [
        a
        for a in ctx.of_kind(ActivityKind.PROPOSAL)
        if (a.status or "").lower() in PROPOSAL_DECIDED
        and window.holds(a.decided_at or a.timestamp, ctx.as_of)
    ]
    if not decided:
        return UNKNOWN
    followed = [a for a in decided if (a.status or "").lower() in PROPOSAL_FOLLOWED]
    return SignalValue(
        round(len(followed) / len(decided), 3), tuple(aref(a) for a in decided), None, window.days
    )
