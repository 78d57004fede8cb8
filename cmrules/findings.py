"""Findings: what a rule says about one record, with its evidence and a stable fingerprint."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import text as tx
from .bylanguage import ByLanguage
from .clearing import ClearWhen, clear_when
from .labels import record_label, signal_label
from .model import CANNOT_ASSESS, FIRED, Outcome
from .redact import one_line
from .rulebook import SEVERITY_RANK, Rule
from .signals import MISSING, NOT_RECORDED, REGISTRY, TOO_EARLY, WHAT_LABELS, Reason, SignalValue
from .templates import render_template

INFO = "info"
WAIVED = "waived"  # a fired finding acknowledged by a valid waiver: shown, not counted
_RECORDS_SHOWN = 5


@dataclass(frozen=True)
class Subject:
    """The record a finding is about, and for a company the vendor of the engagement judged."""

    id: str
    name: str
    kind: str  # "company" | "vendor"
    vendor_id: str | None = None  # for a company: the vendor of the engagement evaluated
    vendor_name: str | None = None


@dataclass(frozen=True)
class Evidence:
    """One signal's value behind a finding, with the records it counted and why it is unknown when
    it is."""

    signal: str
    value: int | float | bool | None
    records: tuple[tuple[str, str, str], ...]  # (kind, id, label)
    window_days: int | None = None  # the days a windowed value was computed over
    reason: Reason | None = None  # why the value is unknown

    def to_dict(self) -> dict[str, Any]:
        """The evidence as JSON (records as kind, id and label)."""
        return {
            "signal": self.signal,
            "value": self.value,
            "records": [{"kind": k, "id": i, "label": lbl} for k, i, lbl in self.records],
            "window_days": self.window_days,
            "reason": self.reason.to_dict() if self.reason is not None else None,
        }


@dataclass(frozen=True)
class Finding:
    """What one rule says about one record: status, severity, message, advice and evidence in both
    languages, and a stable fingerprint."""

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
    clear_when: ClearWhen | None = None  # what would clear a fired finding
    open_since: str | None = None  # ISO date the flag was first seen (from the record history)
    waiver: Mapping[str, Any] | None = None  # the waiver applied (status "waived")
    title: Mapping[str, str] = field(default_factory=dict)  # a few words naming the problem

    @property
    def key(self) -> str:
        """The flag's identity in a record's history: rule, and vendor for a company."""
        vendor = self.subject.vendor_id
        return f"{self.rule_id}@{vendor}" if vendor else self.rule_id

    def dated(self, open_since: str | None) -> Finding:
        """The same finding with ``open_since`` set (``dataclasses.replace`` without its
        per-call field introspection: one copy of the instance's attributes)."""
        if open_since == self.open_since:
            return self
        new = object.__new__(Finding)
        new.__dict__.update(self.__dict__, open_since=open_since)
        return new

    @property
    def rank(self) -> int:
        """The severity as a number, for sorting and ``--fail-on``."""
        return SEVERITY_RANK[self.severity]

    def to_dict(self, language: str | None = None) -> dict[str, Any]:
        """The finding as JSON: texts in ``language``, or in every language when none is given."""

        if language:
            message: Any = self.message[language]
            title: Any = self.title[language] if self.title else None
            question: Any = self.question[language]
            advice: Any = self.advice[language]
        else:
            message, question, advice = dict(self.message), dict(self.question), dict(self.advice)
            title = dict(self.title) if self.title else None
        subject = self.subject
        return {
            "rule_id": self.rule_id,
            "rule_name": self.rule_name,
            "status": self.status,
            "severity": self.severity,
            "side": self.side,
            "criterion": self.criterion,
            "subject": {
                "id": subject.id,
                "name": subject.name,
                "kind": subject.kind,
                "vendor_id": subject.vendor_id,
                "vendor_name": subject.vendor_name,
            },
            "message": message,
            "title": title,
            "question": question,
            "advice": advice,
            "evidence": [e.to_dict() for e in self.evidence],
            "missing": list(self.missing),
            "clear_when": self.clear_when.to_dict(language) if self.clear_when else None,
            "open_since": self.open_since,
            "waiver": dict(self.waiver) if self.waiver else None,
            "fingerprint": self.fingerprint,
        }


def format_value(signal: str, value: Any, language: str) -> str:
    """A signal value as a reader writes it: yes/oui, ``0.33``/``0,33``, ``25%``/``25 %`` (shares),
    ``?`` when unknown."""
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
        return tx.percent(value, language)  # "25%" / "25 %", as clear_when writes it
    if isinstance(value, int | float):
        return tx.number(value, language)
    return str(value)


def format_records(records: Sequence[tuple[str, str, str]], language: str) -> str:
    """The records behind a value, one line each and at most five named ("+2 more" after that)."""
    if not records:
        return "aucun" if language == "fr" else "none"
    # CRM text: one line, no control character (notes, terminal and JSON alike)
    labels = [one_line(record_label(kind, lbl, language) or "?") for kind, _rid, lbl in records]
    shown = ", ".join(labels[:_RECORDS_SHOWN])
    more = len(labels) - _RECORDS_SHOWN
    if more > 0:
        shown += f" (+{more} " + ("autres" if language == "fr" else "more") + ")"
    return shown


# one encoder for every fingerprint: what ``json.dumps(payload, sort_keys=True, default=str)``
# builds on each call, byte for byte the same text
_FP_ENCODER = json.JSONEncoder(sort_keys=True, default=str)


def _fingerprint(rule: Rule, status: str, subject: Subject, evidence: Iterable[Evidence]) -> str:
    """Stable across runs for the same finding: rule, status, subject and the evidence records;
    values only for signals that do not drift with time alone (days since …)."""
    volatile = _constants(rule).volatile
    payload = {
        "rule": rule.id,
        "status": status,
        "subject": [subject.kind, subject.id, subject.vendor_id],
        "evidence": [
            [
                e.signal,
                None if volatile[e.signal] else e.value,
                sorted([f"{k}:{i}" for k, i, _ in e.records]) if e.records else [],
                e.reason.code if e.reason is not None else None,
            ]
            for e in evidence
        ],
    }
    raw = _FP_ENCODER.encode(payload).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class _RuleConstants:
    """What a rule contributes to every finding it makes, computed once per rule (not per
    record): its texts as plain dicts, its numeric parameters, its parameters as written per
    language, which of its signals drift with time alone."""

    question: Mapping[str, str]
    title: Mapping[str, str]
    numbers: Mapping[str, float]
    param_fills: Mapping[str, Mapping[str, str]]  # language -> {param: as written}
    volatile: Mapping[str, bool]


def _constants(rule: Rule) -> _RuleConstants:
    # kept on the rule itself, as functools.cached_property does (a frozen dataclass lets its
    # __dict__ be written): computed once, gone with the rule, never read for another rule
    # (a profile's or a prospect's copy with other thresholds is another object)
    found = rule.__dict__.get("_finding_constants")
    if found is not None:
        return found  # type: ignore[no-any-return]
    made = rule.__dict__["_finding_constants"] = _RuleConstants(
        question=dict(rule.question),
        title=dict(rule.title or rule.question),
        numbers={k: float(v) for k, v in rule.params.items() if _is_number(v)},
        param_fills={
            lang: {k: format_value(k, v, lang) for k, v in rule.params.items()}
            for lang in ("fr", "en")
        },
        volatile={name: REGISTRY[name].volatile for name in rule.signals},
    )
    return made


def build(
    rule: Rule,
    outcome: Outcome,
    subject: Subject,
    values: Mapping[str, SignalValue],
    as_of: datetime | None = None,
) -> Finding:
    """The finding for one rule's outcome on one record: message and advice in both languages
    (each written on first read), evidence, what would clear it, fingerprint."""
    evidence = tuple(_evidence(name, values.get(name)) for name in rule.signals)
    missing = tuple(e.signal for e in evidence if e.value is None)
    message: Mapping[str, str]
    advice: Mapping[str, str]
    consts = _constants(rule)
    if outcome.status == FIRED:
        numbers = {
            e.signal: float(e.value)  # type: ignore[arg-type]
            for e in evidence
            if _is_number(e.value)
        }
        numbers.update(consts.numbers)

        def fills(lang: str) -> dict[str, str]:
            out: dict[str, str] = {}
            for e in evidence:
                out[e.signal] = format_value(e.signal, e.value, lang)
                out[f"{e.signal}.records"] = format_records(e.records, lang)
                out[f"{e.signal}.days"] = format_value("", e.window_days, lang)
            out.update(consts.param_fills[lang])
            return out

        filled = ByLanguage(fills)  # per language, once for the message and the advice
        message = ByLanguage(
            lambda lang: render_template(rule.message[lang], filled[lang], numbers=numbers,
                                         language=lang)
        )  # fmt: skip
        advice = ByLanguage(
            lambda lang: render_template(rule.advice[lang], filled[lang], numbers=numbers,
                                         language=lang)
        )  # fmt: skip
        severity = rule.severity
        clearing = clear_when(rule, values, as_of)
    else:
        assert outcome.status == CANNOT_ASSESS
        severity = INFO
        clearing = None
        unknown = [e for e in evidence if e.value is None]
        message = ByLanguage(lambda lang: cannot_assess_message(unknown, lang))
        advice = ByLanguage(lambda lang: cannot_assess_advice(unknown, lang))
    return Finding(
        rule_id=rule.id,
        rule_name=rule.name,
        status=outcome.status,
        severity=severity,
        side=rule.side,
        criterion=rule.criterion,
        subject=subject,
        message=message,
        question=consts.question,
        advice=advice,
        evidence=evidence,
        fingerprint=_fingerprint(rule, outcome.status, subject, evidence),
        missing=missing,
        clear_when=clearing,
        title=consts.title,
    )


def _evidence(name: str, value: SignalValue | None) -> Evidence:
    v = value if value is not None else SignalValue(None)
    reason = v.reason if v.value is None else None
    if v.value is None and reason is None:
        reason = Reason(MISSING)
    records = tuple((r.kind, r.id, r.label) for r in v.records)
    return Evidence(name, v.value, records, v.window_days, reason)


def _observed(days: int, lang: str) -> str:
    if days >= 14:
        n = days // 7
        return f"{n} semaines observées" if lang == "fr" else f"{n} weeks observed"
    s = "" if days == 1 else "s"
    return f"{days} jour{s} observé{s}" if lang == "fr" else f"{days} day{s} observed"


def _what(reason: Reason, lang: str) -> str:
    words = [WHAT_LABELS.get(w, {}).get(lang, w) for w in reason.what]
    joiner = " ou " if lang == "fr" else " or "
    return ", ".join(words[:-1]) + joiner + words[-1] if len(words) > 1 else "".join(words)


def cannot_assess_message(unknown: Sequence[Evidence], lang: str) -> str:
    """Why a rule cannot be assessed, reason by reason: too early, not recorded, missing."""
    return _cannot_assess_message(tuple(_Unknown(e.signal, e.reason) for e in unknown), lang)


@dataclass(frozen=True)
class _Unknown:
    """What the cannot-assess texts read of an evidence (its signal and reason): few distinct
    ones in a run, so the texts are written once each (bounded cache)."""

    signal: str
    reason: Reason | None


@functools.lru_cache(maxsize=4096)
def _cannot_assess_message(unknown: tuple[_Unknown, ...], lang: str) -> str:
    parts: list[str] = []
    early = [e.reason for e in unknown if e.reason is not None and e.reason.code == TOO_EARLY]
    if early:
        days = min(r.observed_days or 0 for r in early)
        label = "trop tôt pour juger : " if lang == "fr" else "too early to judge: "
        parts.append(label + _observed(days, lang))
    for e in unknown:
        r = e.reason
        if r is not None and r.code == NOT_RECORDED:
            if lang == "fr":
                parts.append(f"{r.source} n’enregistre pas {_what(r, lang)}")
            else:
                parts.append(f"{_what(r, lang)} not recorded by {r.source}")
    gaps = [e.signal for e in unknown if e.reason is None or e.reason.code == MISSING]
    if gaps:
        label = "donnée manquante" if lang == "fr" else "missing data"
        words = dict.fromkeys(signal_label(s).label[lang] for s in gaps)
        parts.append(f"{label} ({', '.join(words)})")
    head = "Impossible d’évaluer : " if lang == "fr" else "Cannot assess: "
    return tx.typography(head + "; ".join(dict.fromkeys(parts)) + ".", lang)


def cannot_assess_advice(unknown: Sequence[Evidence], lang: str) -> str:
    """What would make the rule assessable: wait, record or connect, fill in."""
    return _cannot_assess_advice(tuple(_Unknown(e.signal, e.reason) for e in unknown), lang)


@functools.lru_cache(maxsize=4096)
def _cannot_assess_advice(unknown: tuple[_Unknown, ...], lang: str) -> str:
    parts: list[str] = []
    for e in unknown:
        r = e.reason
        if r is not None and r.code == TOO_EARLY:
            if lang == "fr":
                parts.append(f"réévaluez une fois {r.needed_days} jours de relation observés")
            else:
                parts.append(
                    f"re-evaluate once {r.needed_days} days of the relationship are observed"
                )
        elif r is not None and r.code == NOT_RECORDED:
            if lang == "fr":
                parts.append(
                    f"enregistrez {_what(r, lang)} dans {r.source}, ou connectez une source qui "
                    "les enregistre (et déclarez-la dans la clé coverage de la configuration)"
                )
            else:
                parts.append(
                    f"record {_what(r, lang)} in {r.source}, or connect a source that does "
                    "(and declare it under coverage in the config)"
                )
        else:
            parts.append(REGISTRY[e.signal].missing[lang])
    text = "; ".join(dict.fromkeys(parts))
    return tx.typography(tx.capitalise(text) + ".", lang)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Worst first: severity, then fired before cannot-assess, then rule id."""
    return sorted(findings, key=lambda f: (-f.rank, f.status != FIRED, f.rule_id))


def risk_level(findings: Iterable[Finding]) -> str:
    """Worst severity that fired; ``info`` if only cannot-assess (or waived) findings; else
    ``none``.  A waived finding never counts."""
    items = list(findings)
    fired = [f for f in items if f.status == FIRED]
    if not fired:
        return INFO if items else "none"
    return max(fired, key=lambda f: f.rank).severity
