"""Signals inside the company ("Dans ma structure", criteria 1–5; rules/internal.yaml)."""

from __future__ import annotations

import statistics

from ..model import TAG_ONBOARDING, ActivityKind, Role
from .base import UNKNOWN, Ref, SignalValue, not_recorded, signal
from .context import CompanyContext, aref, count_in_window, ref_of, with_role


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
    owners = with_role(ctx.contacts, Role.PROJECT_OWNER)
    return SignalValue(len(owners), tuple(ref_of(c) for c in owners))


@signal(
    "owner_social_media_familiar", "company", "bool",
    missing_en="designate a project owner and fill in whether they are familiar with social media",
    missing_fr="désignez un responsable de projet et indiquez s'il est familier des médias sociaux",
)  # fmt: skip
def owner_social_media_familiar(ctx: CompanyContext) -> SignalValue:
    """Whether a project owner is familiar with social-media codes (contact attribute
    ``social_media_familiar``).  True if any owner is; unknown if no owner has the attribute."""
    owners = with_role(ctx.contacts, Role.PROJECT_OWNER)
    known = [c for c in owners if c.attributes.get("social_media_familiar") is not None]
    if not known:
        return UNKNOWN
    value = any(bool(c.attributes["social_media_familiar"]) for c in known)
    return SignalValue(value, tuple(ref_of(c) for c in known))


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
    sponsors = with_role(ctx.contacts, Role.EXECUTIVE_SPONSOR)
    return SignalValue(bool(sponsors), tuple(ref_of(c) for c in sponsors))


@signal(
    "exec_meetings_180d", "company", "int",
    window_days=180,
    missing_en="log meetings with the vendor (with attendees) in the CRM",
    missing_fr="enregistrez les réunions avec le prestataire (et leurs participants) dans le CRM",
)  # fmt: skip
def exec_meetings_180d(ctx: CompanyContext) -> SignalValue:
    """Meetings held in the observation window (default 180 days) that an executive sponsor
    attended.  Not recorded when the source records no meetings or no attendees; too early
    while none happened and the window is not fully observed."""
    gap = ctx.unrecorded(ActivityKind.MEETING)
    if gap is not None:
        return gap
    if not ctx.coverage.attendees:
        return not_recorded(ctx.coverage.source, "attendees")
    window = ctx.window("exec_meetings_180d")
    sponsors = {c.id for c in with_role(ctx.contacts, Role.EXECUTIVE_SPONSOR)}
    hits = [
        m
        for m in ctx.meetings_held()
        if window is not None
        and window.holds(m.timestamp, ctx.as_of)
        and sponsors & set(m.contact_ids)
    ]
    return count_in_window(window, hits, ctx.settings.window("exec_meetings_180d"))


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
    "onboarding, or record on the engagement that the onboarding is done",
    missing_fr="enregistrez l'onboarding (glossaire, circuit de validation) comme une activité "
    "marquée onboarding, ou indiquez sur la collaboration que l'onboarding est fait",
)  # fmt: skip
def onboarding_done(ctx: CompanyContext) -> SignalValue:
    """Whether the vendor was onboarded on the business (glossary, validation circuit):
    engagement attribute ``onboarding_done``, else an activity tagged ``onboarding``.
    Without the attribute: not recorded when the source never tags onboarding; unknown
    without any activity recorded."""
    explicit = ctx.attr("onboarding_done")
    if explicit is not None:
        return SignalValue(bool(explicit))
    hits = [a for a in ctx.activities if TAG_ONBOARDING in a.tags]
    if hits:
        return SignalValue(True, tuple(aref(a) for a in hits))
    if TAG_ONBOARDING not in ctx.coverage.tags:
        return not_recorded(ctx.coverage.source, "onboarding")
    if not ctx.tracked:
        return UNKNOWN
    return SignalValue(False)


@signal(
    "validation_median_days", "company", "float",
    window_days=365,
    missing_en="record the vendor's proposals with the date the company accepted or rejected them",
    missing_fr="enregistrez les propositions du prestataire avec la date d'acceptation ou de refus",
)  # fmt: skip
def validation_median_days(ctx: CompanyContext) -> SignalValue:
    """Median days the company took to accept or reject the vendor's proposals decided in the
    observation window (default 365 days): time given to validations.  Unknown without a
    decided proposal."""
    gap = ctx.unrecorded(ActivityKind.PROPOSAL)
    if gap is not None:
        return gap
    window = ctx.window("validation_median_days")
    if window is None:
        return UNKNOWN
    decided = [
        a
        for a in ctx.of_kind(ActivityKind.PROPOSAL)
        if a.timestamp is not None and window.holds(a.decided_at, ctx.as_of)
    ]
    if not decided:
        return UNKNOWN
    days = [max(0.0, (a.decided_at - a.timestamp).total_seconds() / 86400) for a in decided]  # type: ignore[operator]
    return SignalValue(
        round(statistics.median(days), 1), tuple(aref(a) for a in decided), window_days=window.days
    )
