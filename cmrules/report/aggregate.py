"""From evaluated records to a portfolio picture: heatmap, clients × criteria, top issues,
data gaps and the trend.  Pure: no I/O, no connector, no template."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..engine import CANNOT_ASSESS, FIRED
from ..findings import WAIVED as WAIVED_STATUS
from ..findings import Finding, cannot_assess_advice, sort_findings
from ..history import SEVERITIES, Run, VendorCounts
from ..rulebook import SEVERITY_RANK, Rulebook
from ..signals import TOO_EARLY
from ..values import iso
from .labels import CRITERION_IDS

FLAGGED, CANNOT, WAIVED, FINE, NO_RULE = "flagged", "cannot", "waived", "fine", "na"
RISK_LEVELS = ("high", "medium", "low", "info", "none")
TREND_DAYS = 90


@dataclass
class Cell:
    """One vendor × one criterion: how many of the vendor's clients are in each state."""

    flagged: int = 0
    cannot: int = 0
    fine: int = 0
    waived: int = 0  # flagged, but acknowledged by a valid waiver
    has_rule: bool = True
    portfolio: str | None = None  # a finding on the vendor record itself: FLAGGED/WAIVED/CANNOT

    @property
    def total(self) -> int:
        """Clients with a result for this criterion."""
        return self.flagged + self.cannot + self.fine + self.waived

    def pct(self, state: str) -> int:
        """Whole percent, so that the shares of a cell always add up to 100."""
        if not self.total:
            return 0
        counts = {FLAGGED: self.flagged, CANNOT: self.cannot, WAIVED: self.waived}
        if state == FINE:
            return 100 - sum(self.pct(s) for s in counts)
        return round(100 * counts[state] / self.total)

    @property
    def level(self) -> int:
        """0–4: the colour step of the flagged share (sequential, one hue)."""
        if not self.total:
            return 0
        share = self.flagged / self.total
        return 0 if share == 0 else 1 + min(3, int(share * 4))

    def to_dict(self) -> dict[str, Any]:
        """The cell's counts as JSON."""
        return {
            "flagged": self.flagged,
            "cannot_assess": self.cannot,
            "fine": self.fine,
            "waived": self.waived,
            "has_rule": self.has_rule,
            "portfolio": self.portfolio,
        }


@dataclass
class ClientRow:
    """One client in its engagement with one vendor."""

    id: str
    name: str
    risk: str
    states: dict[int, str]  # criterion -> FLAGGED / WAIVED / CANNOT / FINE / NO_RULE
    worst: dict[int, str]  # criterion -> worst severity flagged
    findings: list[Finding]

    @property
    def flags(self) -> int:
        """Open (fired) flags on this client."""
        return sum(1 for f in self.findings if f.status == FIRED)

    def to_dict(self, finding_dict: Callable[[Finding], dict[str, Any]]) -> dict[str, Any]:
        """The client's row as JSON, findings rendered by ``finding_dict``."""
        return {
            "id": self.id,
            "name": self.name,
            "risk_level": self.risk,
            "criteria": {str(c): s for c, s in self.states.items()},
            "findings": [finding_dict(f) for f in self.findings],
        }


@dataclass
class VendorSection:
    """One vendor's part of the report: its criterion grid, its clients worst first, its own
    portfolio findings."""

    id: str
    name: str
    risk: str  # the vendor record's own risk level
    cells: dict[int, Cell]
    clients: list[ClientRow]  # worst first
    findings: list[Finding]  # on the vendor record (its whole portfolio)

    @property
    def open_flags(self) -> int:
        """Open flags on the vendor record and on all its clients."""
        own = sum(1 for f in self.findings if f.status == FIRED)
        return own + sum(c.flags for c in self.clients)

    def risk_counts(self, rows: Sequence[ClientRow]) -> dict[str, int]:
        """How many of ``rows`` are at each risk level (levels with none left out)."""
        counts = Counter(c.risk for c in rows)
        return {lvl: counts[lvl] for lvl in RISK_LEVELS if counts[lvl]}


@dataclass(frozen=True)
class TopIssue:
    """A rule flagged across the portfolio: how many records and vendors, for the "top issues"
    list."""

    rule_id: str
    criterion: int
    severity: str
    question: str
    records: int
    vendors: int

    @property
    def weight(self) -> int:
        """Records flagged times severity: the order of the top issues."""
        return self.records * SEVERITY_RANK[self.severity]


@dataclass(frozen=True)
class Gap:
    """A missing signal across the portfolio: how many findings and records it leaves unassessed,
    and how to provide it."""

    signal: str
    findings: int  # cannot-assess findings this missing signal takes part in
    records: int
    rules: tuple[str, ...]
    fix: str


@dataclass(frozen=True)
class TrendPoint:
    """Open flags by severity at one past run, for the trend line."""

    as_of: datetime
    flags: dict[str, int]
    vendors: int

    @property
    def total(self) -> int:
        """All open flags at that run."""
        return sum(self.flags.values())


@dataclass
class Portfolio:
    """The whole report as data: risk counts, vendor sections, top issues, data gaps and trend —
    rendered to HTML, Markdown, CSV or JSON."""

    as_of: datetime
    language: str
    scope: str | None  # the vendor's name for a one-vendor report; None for --all
    records: int
    risk: dict[str, int]
    vendors: list[VendorSection]
    top: list[TopIssue]
    gaps: list[Gap]
    trend: list[TrendPoint] = field(default_factory=list)
    history_runs: int = 0
    history_skipped: int = 0
    waiting: int = 0  # cannot-assess findings that are only too early to judge
    #: the source keeps each record's flag history, so "open since" is a real date; without
    #: it every flag would look opened by this very run, so the date is not shown
    open_since_known: bool = False

    @property
    def clients(self) -> int:
        """Client engagements in the report."""
        return sum(len(v.clients) for v in self.vendors)

    def since(self, f: Finding) -> str | None:
        """A finding's "open since" date, only when the source keeps the flag history."""
        return f.open_since if self.open_since_known else None

    def finding_dict(self, f: Finding) -> dict[str, Any]:
        """A finding as JSON in the report's language, with its "open since"."""
        out = f.to_dict(self.language)
        out["open_since"] = self.since(f)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON structure of ``cmrules report --format json`` (every finding)."""
        lang = self.language
        return {
            "as_of": iso(self.as_of),
            "language": lang,
            "scope": {"vendor": self.scope} if self.scope else {"all": True},
            "records_evaluated": self.records,
            "risk_distribution": self.risk,
            "top_issues": [
                {
                    "rule_id": t.rule_id,
                    "criterion": t.criterion,
                    "severity": t.severity,
                    "question": t.question,
                    "records": t.records,
                    "vendors": t.vendors,
                    "weight": t.weight,
                }
                for t in self.top
            ],  # fmt: skip
            "heatmap": [
                {
                    "vendor_id": v.id,
                    "vendor_name": v.name,
                    "clients": len(v.clients),
                    "cells": {str(c): cell.to_dict() for c, cell in v.cells.items()},
                }
                for v in self.vendors
            ],  # fmt: skip
            "vendors": [
                {
                    "id": v.id,
                    "name": v.name,
                    "risk_level": v.risk,
                    "open_flags": v.open_flags,
                    "findings": [self.finding_dict(f) for f in v.findings],
                    "clients": [c.to_dict(self.finding_dict) for c in v.clients],
                }
                for v in self.vendors
            ],  # fmt: skip
            "too_early_to_judge": self.waiting,
            "data_gaps": [
                {
                    "signal": g.signal,
                    "findings_blocked": g.findings,
                    "records": g.records,
                    "rules": list(g.rules),
                    "how_to_provide": g.fix,
                }
                for g in self.gaps
            ],  # fmt: skip
            "trend": {
                "runs_in_history": self.history_runs,
                "unreadable_lines": self.history_skipped,
                "points": [
                    {
                        "as_of": iso(p.as_of),
                        "open_flags": p.total,
                        "flags": p.flags,
                        "vendors": p.vendors,
                    }
                    for p in self.trend
                ],  # fmt: skip
            },
        }


def _state_of(findings: Iterable[Finding]) -> tuple[str, str | None]:
    """A criterion's state for one record: flagged (with the worst severity) before waived
    before cannot assess before fine."""
    worst: str | None = None
    statuses = set()
    for f in findings:
        statuses.add(f.status)
        if f.status == FIRED and (
            worst is None or SEVERITY_RANK[f.severity] > SEVERITY_RANK[worst]
        ):
            worst = f.severity
    if worst is not None:
        return FLAGGED, worst
    if WAIVED_STATUS in statuses:
        return WAIVED, None
    return (CANNOT if CANNOT_ASSESS in statuses else FINE), None


def _risk(findings: Iterable[Finding]) -> str:
    """Worst severity flagged; ``info`` when something cannot be assessed; else ``none``
    (a waived flag does not count, as in the notes)."""
    items = list(findings)
    state, worst = _state_of(items)
    if worst:
        return worst
    return "info" if any(f.status == CANNOT_ASSESS for f in items) else "none"


def _client_row(cid: str, name: str, found: list[Finding], criteria: set[int]) -> ClientRow:
    by_crit: dict[int, list[Finding]] = {}
    for f in found:
        by_crit.setdefault(f.criterion, []).append(f)
    states: dict[int, str] = {}
    worst: dict[int, str] = {}
    for c in CRITERION_IDS:
        if c not in criteria:
            states[c] = NO_RULE
            continue
        state, sev = _state_of(by_crit.get(c, ()))
        states[c] = state
        if sev:
            worst[c] = sev
    return ClientRow(cid, name, _risk(found), states, worst, sort_findings(found))


def _sort_key(row: ClientRow) -> tuple[int, int, str]:
    rank = RISK_LEVELS.index(row.risk)
    return (rank, -row.flags, row.name.casefold())


def build_portfolio(
    results: Iterable[Any],
    rulebook: Rulebook,
    *,
    as_of: datetime,
    language: str,
    scope: str | None = None,
    runs: Sequence[Run] = (),
    history_skipped: int = 0,
    open_since_known: bool = False,
) -> Portfolio:
    """Aggregate :class:`~cmrules.service.RecordResult` objects (vendors and their clients)."""
    items = list(results)
    company_criteria = {r.criterion for r in rulebook.for_subject("company")}
    vendor_records = {r.subject.id: r for r in items if r.kind == "vendor"}
    per_vendor: dict[str, list[ClientRow]] = {vid: [] for vid in vendor_records}
    for r in items:
        if r.kind != "company":
            continue
        by_vendor: dict[str, list[Finding]] = {v.id: [] for v in r.vendors}
        for f in r.findings:
            by_vendor.setdefault(f.subject.vendor_id or "", []).append(f)
        for vid, found in by_vendor.items():
            if vid in per_vendor:
                per_vendor[vid].append(
                    _client_row(r.subject.id, r.subject.name, found, company_criteria)
                )

    sections = []
    for vid, rec in vendor_records.items():
        rows = sorted(per_vendor[vid], key=_sort_key)
        cells = {c: Cell(has_rule=c in company_criteria) for c in CRITERION_IDS}
        for row in rows:
            for c, state in row.states.items():
                cell = cells[c]
                if state == FLAGGED:
                    cell.flagged += 1
                elif state == WAIVED:
                    cell.waived += 1
                elif state == CANNOT:
                    cell.cannot += 1
                elif state == FINE:
                    cell.fine += 1
        own: dict[int, list[Finding]] = {}
        for f in rec.findings:
            own.setdefault(f.criterion, []).append(f)
        for c, found in own.items():
            state, _ = _state_of(found)
            cells[c].portfolio = state if state != FINE else None
        sections.append(
            VendorSection(vid, rec.subject.name, _risk(rec.findings), cells, rows,
                          sort_findings(rec.findings))
        )  # fmt: skip
    sections.sort(key=lambda s: (-s.open_flags, s.name.casefold()))

    risk = Counter(_risk(r.findings) for r in items)
    gaps, waiting = data_gaps(items, language)
    return Portfolio(
        as_of=as_of,
        language=language,
        scope=scope,
        records=len(items),
        risk={lvl: risk[lvl] for lvl in RISK_LEVELS},
        vendors=sections,
        top=top_issues(items, language),
        gaps=gaps,
        waiting=waiting,
        trend=trend(runs, set(vendor_records), as_of),
        history_runs=len(runs),
        history_skipped=history_skipped,
        open_since_known=open_since_known,
    )


def _key(f: Finding) -> tuple[str, str, str | None]:
    return (f.subject.kind, f.subject.id, f.subject.vendor_id)


def _vendor_of(f: Finding) -> str | None:
    return f.subject.id if f.subject.kind == "vendor" else f.subject.vendor_id


def top_issues(results: Iterable[Any], language: str, n: int = 3) -> list[TopIssue]:
    """Rules weighed by records flagged × severity (high 3, medium 2, low 1)."""
    records: dict[str, set[tuple[str, str, str | None]]] = {}
    vendors: dict[str, set[str | None]] = {}
    sample: dict[str, Finding] = {}
    for r in results:
        for f in r.findings:
            if f.status != FIRED:
                continue
            records.setdefault(f.rule_id, set()).add(_key(f))
            vendors.setdefault(f.rule_id, set()).add(_vendor_of(f))
            sample.setdefault(f.rule_id, f)
    issues = [
        TopIssue(rid, f.criterion, f.severity, f.question[language], len(records[rid]),
                 len(vendors[rid]))
        for rid, f in sample.items()
    ]  # fmt: skip
    issues.sort(key=lambda t: (-t.weight, -SEVERITY_RANK[t.severity], t.rule_id))
    return issues[:n]


def data_gaps(results: Iterable[Any], language: str) -> tuple[list[Gap], int]:
    """Missing data ranked by the cannot-assess findings it takes part in, and the number of
    cannot-assess findings that only wait for time (too early to judge: nothing to fill in).

    A gap is a signal with the fix its reason calls for: fill in a field (missing), or record
    that kind of activity / connect a source that records it (not recorded by the source).
    """
    findings: Counter[tuple[str, str]] = Counter()
    records: dict[tuple[str, str], set[tuple[str, str, str | None]]] = {}
    rules: dict[tuple[str, str], set[str]] = {}
    waiting = 0
    for r in results:
        for f in r.findings:
            if f.status != CANNOT_ASSESS:
                continue
            unknown = [e for e in f.evidence if e.value is None]
            gaps = [e for e in unknown if e.reason is None or e.reason.code != TOO_EARLY]
            if unknown and not gaps:
                waiting += 1
            for e in gaps:
                key = (e.signal, cannot_assess_advice([e], language))
                findings[key] += 1
                records.setdefault(key, set()).add(_key(f))
                rules.setdefault(key, set()).add(f.rule_id)
    out = [
        Gap(s, n, len(records[(s, fix)]), tuple(sorted(rules[(s, fix)])), fix)
        for (s, fix), n in findings.items()
    ]
    out.sort(key=lambda g: (-g.findings, -g.records, g.signal))
    return out, waiting


def trend(runs: Sequence[Run], vendor_ids: set[str], as_of: datetime) -> list[TrendPoint]:
    """Open flags of the report's vendors at each run of the last 90 days (up to ``as_of``).

    A run that evaluated only some vendors (an incremental sync) counts the others at their
    last known value, so a point is always the whole scope as then known.
    """
    start = as_of - timedelta(days=TREND_DAYS)
    known: dict[str, VendorCounts] = {}
    points: list[TrendPoint] = []
    for run in sorted(runs, key=lambda r: (r.as_of, r.at)):
        if run.as_of > as_of:
            break
        touched = [vid for vid in run.vendors if vid in vendor_ids]
        for vid in touched:
            known[vid] = run.vendors[vid]
        if touched and run.as_of >= start:
            flags = {s: sum(c.flags[s] for c in known.values()) for s in SEVERITIES}
            points.append(TrendPoint(run.as_of, flags, len(known)))
    return points
