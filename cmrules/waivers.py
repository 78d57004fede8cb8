"""Waivers: "we know, this is fine until March" — a flag acknowledged with a reason and an expiry.

Three origins, one model:

* ``crm`` — fields on the record itself, filled by the salesperson (HubSpot company properties,
  Zendesk organisation fields): rule ids, reason, until (and who, when known);
* ``local`` — ``cmrules waive`` rows in the local store;
* ``config`` — ops entries under ``waivers.entries`` (rule, record id or name pattern, vendor,
  reason, approver, until).

A waiver is applied only when it is valid: a known rule, a reason, an expiry date that is not
past and not further than ``waivers.max_days`` (default 180) from today.  Anything else is
*reported* (run summary, ``cmrules waivers``), never silently applied.  A waived finding keeps
its severity and evidence but gets status ``waived``: it does not count in the risk level, the
flag properties or ``--fail-on``, and comes back by itself the day after ``until``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from .findings import WAIVED, Finding
from .model import FIRED
from .text import day, typography
from .values import parse_datetime

DEFAULT_MAX_DAYS = 180
ORIGINS = ("crm", "local", "config")
_SPLIT = re.compile(r"[\s,;]+")


@dataclass(frozen=True)
class Waiver:
    """One acknowledged rule on a record (or any record matching a pattern) until a date, with
    where it came from and, when invalid, why."""

    rule_id: str
    until: date | None
    reason: str
    origin: str  # crm | local | config
    where: str  # for messages: "cmrules.yaml:14", "HubSpot company 123", "local store"
    record: str | None = None  # a record id, or (config) a name pattern such as "Café*"
    vendor: str | None = None  # vendor id or name; None: any vendor
    by: str | None = None
    problem: str | None = None  # why it is not applied (None: valid), in English
    record_name: str | None = None
    problem_fr: str | None = None  # the same in French (``cmrules waivers`` and run warnings)

    def why(self, language: str) -> str | None:
        """Why it is not applied, in ``language`` (None: valid)."""
        return self.problem_fr if language == "fr" and self.problem_fr else self.problem

    @property
    def valid(self) -> bool:
        """Whether it can be applied (no problem found)."""
        return self.problem is None

    def to_dict(self) -> dict[str, Any]:
        """The waiver as JSON (``cmrules waivers --format json``); ``problem`` in English."""
        return {
            "rule_id": self.rule_id,
            "record": self.record,
            "record_name": self.record_name,
            "vendor": self.vendor,
            "reason": self.reason,
            "until": self.until.isoformat() if self.until else None,
            "by": self.by,
            "origin": self.origin,
            "where": self.where,
            "status": "active" if self.valid else "not applied",
            "problem": self.problem,
        }

    def matches(self, f: Finding, vendor_names: Mapping[str, str]) -> bool:
        """Whether it covers this finding: same rule, the record (id, or name pattern from
        config) and the vendor when one is named."""
        if f.rule_id != self.rule_id:
            return False
        if self.record is not None and self.origin == "config":
            pattern = self.record.casefold()
            if f.subject.id != self.record and not fnmatch.fnmatchcase(
                f.subject.name.casefold(), pattern
            ):
                return False
        elif self.record is not None and f.subject.id != self.record:
            return False
        if self.vendor:
            vid = f.subject.vendor_id or f.subject.id
            name = vendor_names.get(vid, f.subject.name if vid == f.subject.id else "")
            if self.vendor != vid and self.vendor.casefold() != name.casefold():
                return False
        return True


def parse(
    entry: Mapping[str, Any],
    *,
    origin: str,
    where: str,
    known_rules: Iterable[str],
    as_of: datetime,
    max_days: int = DEFAULT_MAX_DAYS,
    record: str | None = None,
    record_name: str | None = None,
) -> list[Waiver]:
    """Waivers from one raw entry (``rule`` or ``rules``: one id or a list / comma-separated
    ids; ``until``; ``reason``; optional ``by``/``approved_by``, ``vendor``, ``record``),
    each validated.  Never raises: problems are carried on the waiver."""
    known = set(known_rules)
    raw_rules = entry.get("rules", entry.get("rule"))
    if isinstance(raw_rules, str):
        ids = [r for r in _SPLIT.split(raw_rules.strip()) if r]
    elif isinstance(raw_rules, list | tuple):
        ids = [str(r).strip() for r in raw_rules if str(r).strip()]
    else:
        ids = []
    reason = str(entry.get("reason") or "").strip()
    by = str(entry.get("by") or entry.get("approved_by") or "").strip() or None
    vendor = str(entry.get("vendor") or "").strip() or None
    rec = record if record is not None else (str(entry.get("record") or "").strip() or None)
    until_raw = entry.get("until")
    until, until_problem = _until(until_raw)
    today = as_of.date()

    def problem_for(rule_id: str) -> tuple[str, ...]:
        if rule_id not in known:
            return _problem("unknown", rule=rule_id)
        if not reason:
            return _problem("reason")
        if until_problem:
            return until_problem
        assert until is not None
        if until < today:
            return _problem("expired", until=until)
        if (until - today).days > max_days:
            days = (until - today).days
            return _problem("too_far", until=until, days=days, max=max_days)
        return ()

    def waiver(rule_id: str, problem: tuple[str, ...]) -> Waiver:
        en, fr = problem or (None, None)
        return Waiver(rule_id, until, reason, origin, where, rec, vendor, by, en, record_name, fr)

    if not ids:
        return [waiver("?", _problem("no_rule"))]
    return [waiver(rid, problem_for(rid)) for rid in dict.fromkeys(ids)]


#: why a waiver is not applied (English, French): in the register and the run warnings
_PROBLEMS = {
    "unknown": ("unknown rule '{rule}': use a rule id from 'cmrules rules list'",
                "règle inconnue « {rule} » : utilisez un identifiant de « cmrules rules list »"),
    "reason": ("no reason: say why the flag is acceptable",
               "aucune raison : dites pourquoi ce point est acceptable"),
    "expired": ("expired on {until}: renew it with a new date, or remove it",
                "expirée le {until} : renouvelez-la avec une nouvelle date, ou retirez-la"),
    "too_far": ("until {until} is {days} days away, more than the maximum of {max} "
                "(waivers.max_days): choose an earlier date",
                "le {until} est dans {days} jours, au-delà du maximum de {max} "
                "(waivers.max_days) : choisissez une date plus proche"),
    "no_rule": ("no rule id: name the rule to waive (e.g. CMR010)",
                "aucune règle : indiquez la règle à suspendre (par exemple CMR010)"),
    "no_expiry": ("no expiry: give an 'until' date (YYYY-MM-DD)",
                  "aucune échéance : donnez une date de fin (AAAA-MM-JJ)"),
    "not_date": ("until '{until}' is not a date: use YYYY-MM-DD",
                 "la date de fin « {until} » n'est pas une date : écrivez AAAA-MM-JJ"),
}  # fmt: skip


def _problem(code: str, **args: Any) -> tuple[str, str]:
    """(English, French); a date argument as each language writes it (ISO in English, as
    before; "1er mars 2027" in French)."""
    en, fr = _PROBLEMS[code]
    fr_args = {k: day(v, "fr") if isinstance(v, date) else v for k, v in args.items()}
    return en.format(**args), typography(fr.format(**fr_args), "fr")


def _until(raw: Any) -> tuple[date | None, tuple[str, ...]]:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, _problem("no_expiry")
    if isinstance(raw, datetime):
        return raw.date(), ()
    if isinstance(raw, date):
        return raw, ()
    try:
        parsed = parse_datetime(str(raw))
    except ValueError:
        parsed = None
    if parsed is None:
        return None, _problem("not_date", until=str(raw))
    return parsed.date(), ()


def apply(
    findings: Sequence[Finding],
    waivers: Sequence[Waiver],
    vendor_names: Mapping[str, str] | None = None,
) -> list[Finding]:
    """The findings with every fired one covered by a valid waiver turned into ``waived``."""
    names = vendor_names or {}
    valid = [w for w in waivers if w.valid]
    out = []
    for f in findings:
        w = next((w for w in valid if f.status == FIRED and w.matches(f, names)), None)
        out.append(waive(f, w) if w is not None else f)
    return out


def waive(f: Finding, w: Waiver) -> Finding:
    """The finding shown as waived: status ``waived``, the waiver's details, and a fingerprint
    that changes with the until date."""
    assert w.until is not None
    info = {
        "reason": w.reason,
        "until": w.until.isoformat(),
        "by": w.by,
        "origin": w.origin,
        "where": w.where,
    }
    digest = hashlib.sha256(f"{f.fingerprint}|waived|{w.until.isoformat()}".encode())
    return replace(f, status=WAIVED, waiver=info, fingerprint=digest.hexdigest()[:16])


def expiring(waivers: Iterable[Waiver], as_of: datetime, within_days: int | None) -> list[Waiver]:
    """Waivers sorted by expiry; only those ending within ``within_days`` when given."""
    items = list(waivers)
    if within_days is not None:
        today = as_of.date()
        items = [w for w in items if w.until is not None and (w.until - today).days <= within_days]
    return sorted(items, key=lambda w: (w.until or date.max, w.rule_id, w.record or ""))
