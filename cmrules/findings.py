"""Findings: what a rule says about one record, with its evidence and a stable fingerprint."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .engine import CANNOT_ASSESS, FIRED, Outcome
from .rulebook import SEVERITY_RANK, Rule, render_template
from .signals import REGISTRY, SignalValue

INFO = "info"
_RECORDS_SHOWN = 5


@dataclass(frozen=True)
class Subject:
    id: str
    name: str
    kind: str  # "company" | "vendor"
    vendor_id: str | None = None  # for a company: the vendor of the engagement evaluated


@dataclass(frozen=True)
class Evidence:
    signal: str
    value: int | float | bool | None
    records: tuple[tuple[str, str, str], ...]  # (kind, id, label)

    def to_dict(self) -> dict[str, Any]:
        return {
            "signal": self.signal,
            "value": self.value,
            "records": [{"kind": k, "id": i, "label": lbl} for k, i, lbl in self.records],
        }


@dataclass(frozen=True)
class Finding:
    rule_id: str
    rule_name: str
    status: str  # "fired" | "cannot_assess"
    severity: str  # high | medium | low | info (cannot assess)
    side: str
    criterion: int
    subject: Subject
    message: Mapping[str, str]  # language -> text
    question: Mapping[str, str]
    advice: Mapping[str, str]
    evidence: tuple[Evidence, ...]
    fingerprint: str
    missing: tuple[str, ...] = field(default=())  # signals that were unknown

    @property
    def rank(self) -> int:
        return SEVERITY_RANK[self.severity]

    def to_dict(self, language: str | None = None) -> dict[str, Any]:
        def pick(m: Mapping[str, str]) -> Any:
            return m[language] if language else dict(m)

        return {
            "rule_id": self.rule_id,
            "rule_name": self.rule_name,
            "status": self.status,
            "severity": self.severity,
            "side": self.side,
            "criterion": self.criterion,
            "subject": {
                "id": self.subject.id,
                "name": self.subject.name,
                "kind": self.subject.kind,
                "vendor_id": self.subject.vendor_id,
            },
            "message": pick(self.message),
            "question": pick(self.question),
            "advice": pick(self.advice),
            "evidence": [e.to_dict() for e in self.evidence],
            "missing": list(self.missing),
            "fingerprint": self.fingerprint,
        }


def format_value(signal: str, value: Any, language: str) -> str:
    if value is None:
        return "?" if language == "en" else "?"
    if isinstance(value, bool):
        return {
            ("en", True): "yes",
            ("en", False): "no",
            ("fr", True): "oui",
            ("fr", False): "non",
        }[(language, value)]
    if signal.endswith("_rate") and isinstance(value, int | float):
        return f"{value * 100:.0f} %"
    if isinstance(value, float):
        text = f"{value:.2f}".rstrip("0").rstrip(".")
        return text.replace(".", ",") if language == "fr" else text
    return str(value)


def format_records(records: Sequence[tuple[str, str, str]], language: str) -> str:
    if not records:
        return "aucun" if language == "fr" else "none"
    labels = [lbl or f"{kind} {rid}" for kind, rid, lbl in records]
    shown = ", ".join(labels[:_RECORDS_SHOWN])
    more = len(labels) - _RECORDS_SHOWN
    if more > 0:
        shown += f" (+{more} " + ("autres" if language == "fr" else "more") + ")"
    return shown


def _fingerprint(rule: Rule, status: str, subject: Subject, evidence: Iterable[Evidence]) -> str:
    """Stable across runs for the same finding: rule, status, subject and the evidence records;
    values only for signals that do not drift with time alone (days since …)."""
    payload = {
        "rule": rule.id,
        "status": status,
        "subject": [subject.kind, subject.id, subject.vendor_id],
        "evidence": [
            [
                e.signal,
                None if REGISTRY[e.signal].volatile else e.value,
                sorted(f"{k}:{i}" for k, i, _ in e.records),
            ]
            for e in evidence
        ],
    }
    raw = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def build(
    rule: Rule,
    outcome: Outcome,
    subject: Subject,
    values: Mapping[str, SignalValue],
) -> Finding:
    evidence = tuple(
        Evidence(
            name,
            values.get(name, SignalValue(None)).value,
            tuple((r.kind, r.id, r.label) for r in values.get(name, SignalValue(None)).records),
        )
        for name in rule.signals
    )
    missing = tuple(e.signal for e in evidence if e.value is None)
    if outcome.status == FIRED:
        message = {}
        for lang in ("fr", "en"):
            fills: dict[str, str] = {}
            for e in evidence:
                fills[e.signal] = format_value(e.signal, e.value, lang)
                fills[f"{e.signal}.records"] = format_records(e.records, lang)
            for pname, pvalue in rule.params.items():
                fills[pname] = format_value(pname, pvalue, lang)
            message[lang] = render_template(rule.message[lang], fills)
        severity = rule.severity
        advice = dict(rule.advice)
    else:
        assert outcome.status == CANNOT_ASSESS
        severity = INFO
        message = {
            "fr": "Impossible d’évaluer : donnée manquante (" + ", ".join(missing) + ").",
            "en": "Cannot assess: missing data (" + ", ".join(missing) + ").",
        }
        advice = {
            lang: "; ".join(dict.fromkeys(REGISTRY[s].missing[lang] for s in missing)).capitalize()
            + "."
            for lang in ("fr", "en")
        }
    return Finding(
        rule_id=rule.id,
        rule_name=rule.name,
        status=outcome.status,
        severity=severity,
        side=rule.side,
        criterion=rule.criterion,
        subject=subject,
        message=message,
        question=dict(rule.question),
        advice=advice,
        evidence=evidence,
        fingerprint=_fingerprint(rule, outcome.status, subject, evidence),
        missing=missing,
    )


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Worst first: severity, then fired before cannot-assess, then rule id."""
    return sorted(findings, key=lambda f: (-f.rank, f.status != FIRED, f.rule_id))


def risk_level(findings: Iterable[Finding]) -> str:
    """Worst severity that fired; ``info`` if only cannot-assess findings; else ``none``."""
    items = list(findings)
    fired = [f for f in items if f.status == FIRED]
    if not fired:
        return INFO if items else "none"
    return max(fired, key=lambda f: f.rank).severity
