"""What an evaluation produces: one result per record, and the run's report (which counts
the records a streamed run handed on without keeping them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import findings as findings_mod
from . import records as records_mod
from .connector import RenderedNote
from .findings import Finding
from .listing import SUMMARY_STATS, SYNC_KEYS
from .model import Organisation
from .profiles import DEFAULT
from .signals import SignalValue
from .writer import FAILED, FLAGS_ONLY, UNCHANGED, WOULD_WRITE, WRITTEN


@dataclass
class RecordResult:
    """One evaluated record: its findings, the signals behind them, the note to write and, once
    written, how it went."""

    subject: Organisation
    kind: str  # company | vendor
    vendors: list[Organisation]
    findings: list[Finding]
    signals: dict[str, dict[str, SignalValue]]  # vendor id -> signal values
    note: RenderedNote
    profile: str = DEFAULT  # the profile applied (config ``profiles``)
    former_vendors: list[Organisation] = field(default_factory=list)  # ended engagements
    decision_id: str | None = None  # its line in the decision log, once logged
    write: str | None = None  # WRITTEN / FLAGS_ONLY / UNCHANGED / WOULD_WRITE / FAILED
    error: str | None = None
    outcome: records_mod.Outcome | None = None  # waivers, history, language of the note

    @property
    def risk_level(self) -> str:
        """The record's risk level, as its flags say."""
        return self.note.flags.risk_level

    def to_dict(self, language: str) -> dict[str, Any]:
        """The record as JSON (``records`` of ``evaluate --format json``), texts in ``language``."""
        return {
            "id": self.subject.id,
            "name": self.subject.name,
            "kind": self.kind,
            "vendors": [{"id": v.id, "name": v.name} for v in self.vendors],
            "former_vendors": [{"id": v.id, "name": v.name} for v in self.former_vendors],
            "risk_level": self.risk_level,
            "profile": self.profile,
            "flags": list(self.note.flags.rule_ids),
            "fingerprint": self.note.fingerprint,
            "write": self.write,
            "error": self.error,
            "decision_id": self.decision_id,
            "findings": [f.to_dict(language) for f in findings_mod.sort_findings(self.findings)],
            **(self._extra() if self.outcome is not None else {}),
        }

    def _extra(self) -> dict[str, Any]:
        assert self.outcome is not None
        o = self.outcome
        return {
            "note_language": o.language,
            "data_gaps": list(self.note.gaps),
            "waivers": [w.to_dict() for w in o.waivers],
            "history": o.history.to_dict(),
            **({"readiness": o.readiness.to_dict(o.language)} if o.readiness else {}),
        }


@dataclass
class Tally:
    """What a report needs to know of records it did not keep (a streamed run)."""

    records: int = 0
    writes: dict[str | None, int] = field(default_factory=dict)
    findings: dict[str, int] = field(default_factory=dict)
    waived: int = 0
    worst: int = 0

    def add(self, r: RecordResult) -> None:
        """Count a record that is handed on instead of kept."""
        self.records += 1
        self.writes[r.write] = self.writes.get(r.write, 0) + 1
        for f in r.findings:
            if f.status == findings_mod.WAIVED:
                self.waived += 1
                continue
            self.findings[f.severity] = self.findings.get(f.severity, 0) + 1
            if f.status == "fired":
                self.worst = max(self.worst, f.rank)


@dataclass
class Report:
    """A run's result: the records kept (or tallied when streamed), counters, warnings and
    unmatched helpdesk records."""

    as_of: datetime
    language: str
    records: list[RecordResult] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)  # helpdesk records matching no CRM one
    streamed: Tally = field(default_factory=Tally)  # records handed on, not kept

    def add(self, r: RecordResult, keep: bool = True) -> None:
        """Keep a record, or only count it (a streamed run)."""
        if keep:
            self.records.append(r)
        else:
            self.streamed.add(r)

    def add_unmatched(self, lines: list[str]) -> None:
        """Helpdesk records matching no CRM record: in ``unmatched`` and in ``warnings``."""
        self.unmatched.extend(lines)
        self.warnings.extend(lines)

    def worst(self) -> int:
        """Worst fired severity; waived findings do not count (``--fail-on``)."""
        ranks = [f.rank for r in self.records for f in r.findings if f.status == "fired"]
        return max([*ranks, self.streamed.worst], default=0)

    def count(self, status: str) -> int:
        """Records with that write status, kept and streamed."""
        kept = sum(1 for r in self.records if r.write == status)
        return kept + self.streamed.writes.get(status, 0)

    def to_dict(self) -> dict[str, Any]:
        """The run as the documented JSON document."""
        return {
            "as_of": self.as_of.isoformat().replace("+00:00", "Z"),
            "language": self.language,
            "records": [r.to_dict(self.language) for r in self.records],
            "summary": self.summary(),
            "warnings": self.warnings,
            "unmatched": self.unmatched,
        }

    def summary(self) -> dict[str, Any]:
        """The run's counts with every documented key present (zero when nothing)."""
        sev: dict[str, int] = {"high": 0, "medium": 0, "low": 0, "info": 0}
        waived = 0
        for r in self.records:
            for f in r.findings:
                if f.status == findings_mod.WAIVED:
                    waived += 1
                else:
                    sev[f.severity] += 1
        for severity, n in self.streamed.findings.items():
            sev[severity] += n
        return {
            "records_evaluated": len(self.records) + self.streamed.records,
            "notes_written": self.count(WRITTEN),
            "flags_updated": self.count(FLAGS_ONLY),
            "unchanged": self.count(UNCHANGED),
            "would_write": self.count(WOULD_WRITE),
            "failed": self.count(FAILED),
            "findings": sev,
            "waived": waived + self.streamed.waived,
            **SUMMARY_STATS,  # every key always present
            **{k: v for k, v in self.stats.items() if k in SUMMARY_STATS or k in SYNC_KEYS},
        }
