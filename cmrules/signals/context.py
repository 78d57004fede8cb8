"""What a signal reads: one engagement (company × vendor) or one vendor's active portfolio, at
``as_of``, with the observation window and the source's coverage.

Observation window of a signal over ``W`` days: from the later of ``as_of − W`` and the start
of observation (the engagement's start, else its first recorded activity) to ``as_of``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from ..model import (
    MEETING_NOT_HELD,
    Activity,
    ActivityKind,
    Contact,
    Coverage,
    Dataset,
    Engagement,
    Organisation,
    OrgKind,
    Role,
)
from .base import UNKNOWN, Ref, SignalSettings, SignalValue, not_recorded, too_early

DAYS_PER_MONTH = 30  # a "month" in rates per month


@dataclass(frozen=True)
class Window:
    """The part of a signal's window actually observed."""

    start: datetime
    days: int  # observed days (≤ the configured window)
    full: bool  # the whole configured window was observed

    def holds(self, when: datetime | None, as_of: datetime) -> bool:
        """Whether an instant falls inside the window, up to ``as_of``."""
        return when is not None and self.start <= when <= as_of


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

    @property
    def coverage(self) -> Coverage:
        """What the company's sources record (absence counts as evidence only there)."""
        return self.ds.coverage

    @cached_property
    def contacts(self) -> list[Contact]:
        """The company's own contacts."""
        return self.ds.contacts_of(self.company.id)

    @cached_property
    def vendor_contacts(self) -> list[Contact]:
        """The vendor's people."""
        return self.ds.contacts_of(self.vendor.id)

    @cached_property
    def activities(self) -> list[Activity]:
        """Activities between the company and this vendor up to ``as_of``."""
        return [
            a
            for a in self.ds.activities_between(self.company.id, self.vendor.id)
            if a.timestamp is None or a.timestamp <= self.as_of
        ]

    @property
    def tracked(self) -> bool:
        """Whether anything at all was recorded between them."""
        return bool(self.activities)

    def attr(self, name: str) -> Any:
        """An attribute of the engagement, else of the company."""
        if self.engagement is not None and self.engagement.attributes.get(name) is not None:
            return self.engagement.attributes[name]
        return self.company.attributes.get(name)

    def eng_ref(self, field: str) -> Ref:
        """Evidence pointing at this engagement's ``field``."""
        return Ref("engagement", f"{self.company.id}:{self.vendor.id}", field)

    @cached_property
    def _by_kind(self) -> dict[ActivityKind, list[Activity]]:
        """The activities grouped by kind, in their order (built once per context: a dozen
        signals ask for one kind each)."""
        out: dict[ActivityKind, list[Activity]] = {}
        for a in self.activities:
            out.setdefault(a.kind, []).append(a)
        return out

    def of_kind(self, *kinds: ActivityKind) -> list[Activity]:
        """The activities of those kinds."""
        if len(kinds) == 1:
            return list(self._by_kind.get(kinds[0], ()))
        return [a for a in self.activities if a.kind in kinds]

    @cached_property
    def _held(self) -> list[Activity]:
        return [
            a
            for a in self._by_kind.get(ActivityKind.MEETING, ())
            if a.timestamp is not None and (a.status or "").lower() not in MEETING_NOT_HELD
        ]

    def meetings_held(self) -> list[Activity]:
        """Meetings that took place (cancelled or missed ones left out)."""
        return list(self._held)

    def days_since_start(self) -> int | None:
        """Days since the engagement started, or None when unknown or not started at ``as_of``."""
        if self.engagement is None or self.engagement.started_at is None:
            return None
        if self.engagement.started_at > self.as_of:  # not started yet at as_of: no history
            return None
        return (self.as_of - self.engagement.started_at).days

    # -- observation ---------------------------------------------------------------------------
    @cached_property
    def observed_from(self) -> datetime | None:
        """Start of observation: the engagement's start, else its first recorded activity."""
        if self.engagement is not None and self.engagement.started_at is not None:
            if self.engagement.started_at <= self.as_of:
                return self.engagement.started_at
            return None
        stamps = [a.timestamp for a in self.activities if a.timestamp is not None]
        return min(stamps) if stamps else None

    def window(self, name: str) -> Window | None:
        """The observed part of signal ``name``'s window; None when nothing is observed — no
        activity at all recorded for the engagement: zero meetings in a CRM that records none
        for this client is not evidence of zero meetings."""
        if not self.tracked:
            return None
        days = self.settings.window(name)
        seen = self._windows
        if days not in seen:  # several signals share a window length: computed once each
            seen[days] = _window(self.observed_from, self.as_of, days)
        return seen[days]

    @cached_property
    def _windows(self) -> dict[int, Window | None]:
        return {}

    def rate_window(self, name: str) -> Window | SignalValue:
        """The window of a rate, or the unknown value to return: nothing observed (missing),
        or fewer days observed than ``signals.min_observed_days`` (too early)."""
        return _rate_window(self.window(name), self.settings)

    def days_since_latest(self, acts: Sequence[Activity]) -> SignalValue:
        """Days since the latest of ``acts``; with none, days since the engagement started
        (unknown without activity tracking or a start date)."""
        dated = [a for a in acts if a.timestamp is not None]
        if dated:
            last = max(dated, key=lambda a: a.timestamp)  # type: ignore[arg-type,return-value]
            return SignalValue(max(0, (self.as_of - last.timestamp).days), (aref(last),))  # type: ignore[operator]
        start = self.days_since_start() if self.tracked else None
        if start is None:
            return UNKNOWN
        return SignalValue(start, (self.eng_ref("started_at"),))

    # -- coverage ------------------------------------------------------------------------------
    def unrecorded(self, *kinds: ActivityKind) -> SignalValue | None:
        """The "not recorded by <source>" value when the source records none of ``kinds``."""
        recorded = self.coverage.activity_kinds
        if any(k in recorded for k in kinds):
            return None
        return not_recorded(self.coverage.source, *(k.value for k in kinds))

    def tickets_recorded(self) -> bool:
        """Whether a helpdesk records this company's tickets (their absence then means no
        ticket)."""
        return self.coverage.records(ActivityKind.TICKET) and bool(
            self.company.attributes.get("has_ticket_data")
        )


class VendorContext:
    """A vendor and its portfolio of *active* clients, at ``as_of``."""

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

    @property
    def coverage(self) -> Coverage:
        """What the vendor's sources record."""
        return self.ds.coverage

    @cached_property
    def clients(self) -> list[CompanyContext]:
        """Active engagements only: a former client or a prospect is not part of the portfolio."""
        out = []
        for e in self.ds.engagements_of_vendor(self.vendor.id):
            company = self.ds.organisations.get(e.company_id)
            if company is not None and e.active(self.as_of):
                out.append(CompanyContext(self.ds, company, self.vendor, self.as_of, self.settings))
        return out

    @cached_property
    def activities(self) -> list[Activity]:
        """The activities of all the vendor's active clients."""
        return [a for c in self.clients for a in c.activities]

    def window(self, name: str) -> Window | None:
        """Observed from the earliest start of observation among the active clients."""
        starts = [c.observed_from for c in self.clients if c.observed_from is not None]
        return _window(min(starts) if starts else None, self.as_of, self.settings.window(name))


def _window(start: datetime | None, as_of: datetime, days: int) -> Window | None:
    if start is None:
        return None
    begin = max(as_of - timedelta(days=days), start)
    observed = max(0, (as_of - begin).days)
    return Window(begin, observed, begin == as_of - timedelta(days=days))


def _rate_window(window: Window | None, settings: SignalSettings) -> Window | SignalValue:
    if window is None:
        return UNKNOWN
    if window.days < settings.min_observed_days:
        return too_early(window.days, settings.min_observed_days)
    return window


def count_in_window(window: Window | None, hits: Sequence[Activity], full_days: int) -> SignalValue:
    """A count of ``hits`` over a window, or why it is unknown.

    A count of zero is evidence only once the whole window was observed (a yearly review is not
    missing after two months); any count above zero is a fact whatever the window."""
    if window is None:
        return UNKNOWN
    if not hits and not window.full:
        return too_early(window.days, full_days)
    return SignalValue(len(hits), tuple(aref(a) for a in hits), window_days=window.days)


def per_month(count: int, window: Window) -> float:
    """A count over the window as a monthly rate (two decimals)."""
    return round(count * DAYS_PER_MONTH / max(window.days, 1), 2)


def ref_of(c: Contact) -> Ref:
    """A contact as evidence."""
    return Ref("contact", c.id, c.name)


def aref(a: Activity) -> Ref:
    """An activity as evidence."""
    return Ref(a.kind.value, a.id, a.title)


def with_role(contacts: Sequence[Contact], role: Role) -> list[Contact]:
    """The contacts holding ``role``."""
    return [c for c in contacts if role in c.roles]


class ProspectContext(CompanyContext):
    """A company before signing (no active engagement with any agency), at ``as_of``: its
    contacts and everything recorded with it during the sales process (meetings, calls, the
    agency's proposals).  ``vendor`` is the agency courting it, when one is known (a deal or a
    ``prospect`` engagement); the prospect engagement's attributes count as the company's.

    The sales process is observed whole once a meeting was held: a count over a window (e.g.
    leadership in meetings) is then a fact — zero leadership among the meetings held is what a
    salesperson sees, not "too early".  Before any meeting, zero is not evidence (too early).
    Rates still need ``signals.min_observed_days``.
    """

    def __init__(
        self,
        ds: Dataset,
        company: Organisation,
        as_of: datetime,
        settings: SignalSettings | None = None,
        vendor: Organisation | None = None,
    ):
        self.ds = ds
        self.company = company
        # no agency named yet: an empty vendor that no record refers to
        self.vendor = vendor or Organisation("", "", OrgKind.VENDOR)
        self.as_of = as_of
        self.settings = settings or SignalSettings()
        pending = [
            e
            for e in ds.engagements_of_company(company.id)
            if e.prospect and (vendor is None or e.vendor_id == vendor.id)
        ]
        self.engagement = pending[0] if pending else None

    @cached_property
    def activities(self) -> list[Activity]:
        """Everything recorded with the company, whichever agency (sales meetings included)."""
        return [
            a
            for a in self.ds.activities_of_company(self.company.id)
            if a.timestamp is None or a.timestamp <= self.as_of
        ]

    def days_since_start(self) -> int | None:
        """Always None: a prospect has no engagement yet."""
        return None  # nothing started: no engagement yet

    @cached_property
    def observed_from(self) -> datetime | None:
        """The first recorded activity of the sales process: a prospect is observed from there."""
        stamps = [a.timestamp for a in self.activities if a.timestamp is not None]
        return min(stamps) if stamps else None

    def window(self, name: str) -> Window | None:
        """The observed window; once a meeting was held, a count of leadership meetings is a
        fact, not "too early"."""
        seen = super().window(name)
        if seen is None or not self.meetings_held():
            return seen
        return Window(seen.start, seen.days, True)
