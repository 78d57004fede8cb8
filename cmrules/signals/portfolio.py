"""Signals about the vendor record, over its active clients (rules/portfolio.yaml)."""

from __future__ import annotations

from ..model import ActivityKind
from .base import UNKNOWN, Ref, SignalValue, not_recorded, signal
from .context import VendorContext, count_in_window
from .vendor import proposals_in_window, vendor_referents


@signal(
    "clients_without_referent", "vendor", "int",
    missing_en="record the vendor's people and mark its referents",
    missing_fr="enregistrez les interlocuteurs du prestataire et indiquez ses référents",
)  # fmt: skip
def clients_without_referent(ctx: VendorContext) -> SignalValue:
    """Active client companies for which the vendor has no referent.  Unknown when the vendor
    has no active client or no contact recorded."""
    if not ctx.clients or not ctx.ds.contacts_of(ctx.vendor.id):
        return UNKNOWN
    missing = [c for c in ctx.clients if vendor_referents(c).value == 0]
    return SignalValue(
        len(missing), tuple(Ref("organisation", c.company.id, c.company.name) for c in missing)
    )


@signal(
    "offer_revisions_365d", "vendor", "int",
    window_days=365,
    missing_en="log each revision of the vendor's offer as an activity",
    missing_fr="enregistrez chaque révision de l'offre du prestataire comme une activité",
)  # fmt: skip
def offer_revisions_365d(ctx: VendorContext) -> SignalValue:
    """Offer revisions the vendor made across its active clients in the window (default 365
    days).  Not recorded when the source holds no offer revisions; unknown when no client
    engagement has activity tracking; too early while none happened and the window is not
    fully observed."""
    if not ctx.coverage.records(ActivityKind.OFFER_CHANGE):
        return not_recorded(ctx.coverage.source, "offer_change")
    if not any(c.tracked for c in ctx.clients):
        return UNKNOWN
    window = ctx.window("offer_revisions_365d")
    hits = [
        a
        for a in ctx.activities
        if a.kind == ActivityKind.OFFER_CHANGE
        and window is not None
        and window.holds(a.timestamp, ctx.as_of)
    ]
    return count_in_window(window, hits, ctx.settings.window("offer_revisions_365d"))


@signal(
    "portfolio_proposals_90d", "vendor", "int",
    window_days=90,
    missing_en="record the vendor's proposals in the CRM",
    missing_fr="enregistrez les propositions du prestataire dans le CRM",
)  # fmt: skip
def portfolio_proposals_90d(ctx: VendorContext) -> SignalValue:
    """Proposals the vendor made across all its active clients in the window (default 90
    days).  Not recorded when the source holds no proposals; unknown when no client engagement
    has activity tracking; too early while none was made and the window is not fully observed
    for any client."""
    if not ctx.coverage.records(ActivityKind.PROPOSAL):
        return not_recorded(ctx.coverage.source, "proposal")
    tracked = [c for c in ctx.clients if c.tracked]
    if not tracked:
        return UNKNOWN
    window = ctx.window("portfolio_proposals_90d")
    if window is None:
        return UNKNOWN
    hits = [a for c in tracked for a in proposals_in_window(c, window)]
    return count_in_window(window, hits, ctx.settings.window("portfolio_proposals_90d"))
