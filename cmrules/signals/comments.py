"""Signals from the readers' comments: e-reputation and measured impact (rules/comments.yaml)."""

from __future__ import annotations

from ..model import ActivityKind
from .base import UNKNOWN, SignalValue, signal
from .context import CompanyContext


def _engagement_flag(ctx: CompanyContext, name: str) -> SignalValue:
    """A boolean engagement attribute as a signal; unknown when not filled in."""
    value = ctx.attr(name)
    if value is None:
        return UNKNOWN
    return SignalValue(bool(value), (ctx.eng_ref(name),))


@signal(
    "escalation_plan", "company", "bool",
    missing_en="record whether an e-reputation crisis procedure is agreed with the vendor",
    missing_fr="indiquez si une procédure de crise e-réputation est convenue avec le prestataire",
)  # fmt: skip
def escalation_plan(ctx: CompanyContext) -> SignalValue:
    """Whether an e-reputation crisis / escalation procedure is agreed with the vendor
    (engagement attribute ``escalation_plan``).  Unknown when not filled in."""
    return _engagement_flag(ctx, "escalation_plan")


@signal(
    "kpis_defined", "company", "bool",
    missing_en="record whether KPIs measuring the impact are agreed with the vendor",
    missing_fr="indiquez si des indicateurs d'impact sont convenus avec le prestataire",
)  # fmt: skip
def kpis_defined(ctx: CompanyContext) -> SignalValue:
    """Whether KPIs measuring the impact of community management are agreed
    (engagement attribute ``kpis_defined``).  Unknown when not filled in."""
    return _engagement_flag(ctx, "kpis_defined")


@signal(
    "days_since_kpi_report", "company", "int",
    volatile=True,
    missing_en="log the KPI reports the vendor sends",
    missing_fr="enregistrez les bilans d'indicateurs remis par le prestataire",
)  # fmt: skip
def days_since_kpi_report(ctx: CompanyContext) -> SignalValue:
    """Days since the vendor's last KPI / impact report; with none ever, days since the
    engagement started.  Not recorded when the source holds no reports; unknown without
    activity tracking or a start date."""
    reports = [a for a in ctx.of_kind(ActivityKind.REPORT) if a.timestamp is not None]
    gap = None if reports else ctx.unrecorded(ActivityKind.REPORT)
    return gap or ctx.days_since_latest(reports)
