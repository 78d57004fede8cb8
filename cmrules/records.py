"""From one record's raw findings to what is written on it: waivers, history, open-since dates,
the note in the record's language, and the data-gap lines for ops.

Used by :mod:`cmrules.service`; pure (no I/O), so every step is testable on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import Any

from . import flaghistory as history_mod
from . import notes as notes_mod
from . import readiness as readiness_mod
from . import tasks as tasks_mod
from . import text as tx
from . import waivers as waivers_mod
from .connector import RenderedNote
from .findings import Finding, cannot_assess_advice
from .labels import signal_label
from .model import CANNOT_ASSESS, Organisation
from .rulebook import Rulebook
from .signals import NOT_RECORDED, REGISTRY


@dataclass
class Policy:
    """What applies to every record of a run: the rules' titles, the waivers from config."""

    rulebook: Rulebook
    as_of: datetime
    language: str
    max_days: int = waivers_mod.DEFAULT_MAX_DAYS
    config_waivers: list[waivers_mod.Waiver] = field(default_factory=list)
    tasks: bool = False  # data gaps become tasks for the record owner

    @classmethod
    def build(
        cls,
        rulebook: Rulebook,
        as_of: datetime,
        language: str,
        config_entries: Iterable[Mapping[str, Any]] = (),
        max_days: int = waivers_mod.DEFAULT_MAX_DAYS,
        tasks: bool = False,
    ) -> Policy:
        """The policy of one run: the rulebook, the date, the language, and the config's waivers
        validated once."""
        policy = cls(rulebook, as_of, language, max_days, tasks=tasks)
        for entry in config_entries:
            policy.config_waivers.extend(
                waivers_mod.parse(
                    entry,
                    origin="config",
                    where=str(entry.get("where", "config")),
                    known_rules=policy.rule_ids,
                    as_of=as_of,
                    max_days=max_days,
                )
            )
        return policy

    @cached_property
    def rule_ids(self) -> list[str]:
        """The ids of the rules in force (waivers naming another id are reported)."""
        return [r.id for r in self.rulebook]

    @cached_property
    def titles(self) -> dict[str, dict[str, str]]:
        """Each rule's short title in both languages, for the "since the last note"
        line (built once per run, not once per record)."""
        return {r.id: {lang: r.short(lang) for lang in ("fr", "en")} for r in self.rulebook}

    @cached_property
    def _config_by_rule(self) -> dict[str, list[tuple[int, waivers_mod.Waiver]]]:
        index: dict[str, list[tuple[int, waivers_mod.Waiver]]] = {}
        for n, w in enumerate(self.config_waivers):
            index.setdefault(w.rule_id, []).append((n, w))
        return index

    def config_waivers_for(self, rule_ids: Iterable[str]) -> list[waivers_mod.Waiver]:
        """The config waivers of these rules, in config order (a waiver of another rule never
        matches: a record's findings are not compared with every waiver of the config)."""
        found = [x for rid in rule_ids for x in self._config_by_rule.get(rid, ())]
        return [w for _, w in sorted(found, key=lambda x: x[0])]

    def record_waivers(self, subject: Organisation) -> list[waivers_mod.Waiver]:
        """The waivers filled in on the record itself (CRM fields, local rows)."""
        out: list[waivers_mod.Waiver] = []
        for entry in subject.waivers:
            out.extend(
                waivers_mod.parse(
                    entry,
                    origin=str(entry.get("origin", "crm")),
                    where=str(entry.get("where", f"{subject.source or 'record'} {subject.id}")),
                    known_rules=self.rule_ids,
                    as_of=self.as_of,
                    max_days=self.max_days,
                    record=subject.id,
                    record_name=subject.name,
                )
            )
        return out


@dataclass
class Outcome:
    """What evaluating one record produced besides its findings: the note, the history and its
    changes, the waivers seen, the readiness of a prospect."""

    findings: list[Finding]
    note: RenderedNote
    history: history_mod.History
    changes: history_mod.Changes
    waivers: list[waivers_mod.Waiver]  # every waiver seen for this record (applied or not)
    language: str
    readiness: readiness_mod.Readiness | None = None  # prospects only


def finish(
    policy: Policy,
    subject: Organisation,
    found: Sequence[Finding],
    vendors: Sequence[Organisation] = (),
    prospect_criteria: int | None = None,
) -> Outcome:
    """Apply waivers, update the record's history, date the open flags, render the note.

    ``prospect_criteria`` (a prospect: the number of prospect rules evaluated): the note is a
    readiness verdict with the questions for the next meeting (:mod:`cmrules.readiness`)."""
    own = policy.record_waivers(subject) if subject.waivers else []
    if own or policy.config_waivers:
        names = {v.id: v.name for v in vendors}
        pool = policy.config_waivers_for({f.rule_id for f in found})
        relevant = [w for w in pool if any(w.matches(f, names) for f in found)]
        findings = waivers_mod.apply(found, [*own, *pool], names)
    else:  # no waiver anywhere (the common case): nothing to match
        relevant, findings = [], list(found)
    previous = history_mod.loads(subject.writeback.get("history"))
    vendor_ids = [v.id for v in vendors] if subject.kind.value == "company" else None
    hist, changes = history_mod.update(previous, findings, policy.as_of, vendor_ids=vendor_ids)
    opened = hist.open
    findings = [f if f.status == CANNOT_ASSESS else f.dated(opened.get(f.key)) for f in findings]
    language = notes_mod.record_language(subject, policy.language)
    task = None
    if policy.tasks:
        points, gaps = notes_mod.gaps(findings, language)
        task = tasks_mod.build(
            subject.id, subject.name, points, tuple(gaps), language, previous.task
        )
        hist.task = task.fingerprint if task is not None else ""
    ready = None
    if prospect_criteria is not None:
        ready = readiness_mod.assess(findings, prospect_criteria)
    note = notes_mod.render(
        subject,
        findings,
        language=language,
        as_of=policy.as_of,
        vendor=vendors[0] if len(vendors) == 1 and subject.kind.value == "company" else None,
        vendors=vendors,
        history=hist,
        changes=changes,
        titles=policy.titles,
        readiness=ready,
        task=task,
        tasks_on=policy.tasks,
        # written instead of the history when the task cannot be written (retried next run)
        unsynced_history=replace(hist, task=tasks_mod.UNSYNCED).dumps() if policy.tasks else "",
    )
    return Outcome(findings, note, hist, changes, [*own, *relevant], language, ready)


def ops_gaps(findings: Iterable[Finding], language: str) -> list[str]:
    """What only ops can provide — a source that records the data (e.g. a helpdesk) — for the
    run summary and ``cmrules check``, never for notes."""
    return list(ops_gap_rules(findings, language))


def ops_gap_rules(findings: Iterable[Finding], language: str) -> dict[str, set[str]]:
    """Each ops gap (see :func:`ops_gaps`) -> the ids of the rules it leaves unassessed."""
    out: dict[str, set[str]] = {}
    for f in findings:
        if f.status != CANNOT_ASSESS:
            continue
        for e in f.evidence:
            if e.value is None and e.reason is not None and e.reason.code == NOT_RECORDED:
                text = cannot_assess_advice([e], language).rstrip(".")
                text = text[:1].lower() + text[1:]  # after "Data only ops can provide:"
            elif e.value is None and signal_label(e.signal).gap is None and e.signal in REGISTRY:
                text = tx.typography(REGISTRY[e.signal].missing[language], language)
            else:
                continue
            out.setdefault(text, set()).add(f.rule_id)
    return out


def run_notices(session: Any, results: Sequence[Any], as_of: datetime, language: str) -> list[str]:
    """Waivers not applied, with where and why (run warnings; never silently dropped)."""
    cfg = session.config
    policy = Policy.build(session.rulebook, as_of, language, cfg.waivers, cfg.waiver_max_days)
    seen = [w for w in policy.config_waivers if not w.valid]
    for r in results:
        if r.outcome is not None:
            seen.extend(w for w in r.outcome.waivers if not w.valid and w not in seen)
    line = {"fr": "suspension non appliquée ({where}, règle {rule}) : {why}",
            "en": "waiver not applied ({where}, rule {rule}): {why}"}[language]  # fmt: skip
    return [
        tx.typography(line, language).format(where=w.where, rule=w.rule_id, why=w.why(language))
        for w in seen
    ]


def run_gaps(results: Sequence[Any], language: str) -> list[str]:
    """Data only ops can provide (connect or declare a source), for the run summary, in the
    run's language (like the findings' messages in JSON)."""
    return ops_gaps((f for r in results for f in r.findings), language)
