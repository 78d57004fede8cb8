"""The library behind the CLI: open a session, evaluate, write back, sync.

CLI commands stay thin and call these functions; everything here raises
:class:`~cmrules.errors.CmrulesError` subclasses, never prints.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import config as config_mod
from . import decisions, gcpolicy
from . import findings as findings_mod
from . import history as history_mod
from . import records as records_mod
from . import rulebook as rulebook_mod
from . import stream as stream_mod
from . import tasks as tasks_mod
from .connector import Connector, ConnectorContext, connector_class
from .connector_settings import validate_section
from .errors import CmrulesError
from .findings import Finding, Subject
from .model import Dataset, Organisation, OrgKind
from .profiles import DEFAULT, RuleSets, property_names
from .progress import Counter, OnProgress
from .records import run_gaps as ops_gaps
from .records import run_notices
from .results import RecordResult, Report, Tally
from .selection import resolve, select, vendors_of
from .signals import (
    CompanyContext,
    ProspectContext,
    SignalSettings,
    SignalValue,
    VendorContext,
    compute,
)
from .values import parse_as_of
from .vocabulary import Vocabulary

log = logging.getLogger("cmrules")

from .writer import (  # noqa: E402 - re-exported: the write statuses and the writer
    FAILED,
    FLAGS_ONLY,
    UNCHANGED,
    WOULD_WRITE,
    WRITTEN,
    write_back,
)


@dataclass
class Session:
    """An opened configuration: the connector, the rules and engines per profile, and the run's
    counters."""

    config: config_mod.Config
    rulesets: RuleSets  # the rulebook and engine of each profile
    connector: Connector
    context: ConnectorContext
    vocabulary: Vocabulary | None = None

    @property
    def rulebook(self) -> rulebook_mod.Rulebook:
        """The default profile's rulebook (``rules.params`` and ``rules.disable`` applied)."""
        return self.rulesets.rulebook(DEFAULT)

    def settings(self, profile: str = DEFAULT) -> SignalSettings:
        """Signal settings with the observation windows the profile's rules ask for."""
        windows = self.rulesets.rulebook(profile).signal_windows()
        return replace(self.config.signals, windows=windows)

    def prepare(self, ds: Dataset) -> Dataset:
        """A connector's load, made ready for signals: the source's coverage, and the core
        vocabulary (activity kinds and tags, roles from job titles) applied."""
        ds.coverage = self.connector.coverage()
        (self.vocabulary or Vocabulary.build()).apply(ds)
        return ds

    def load(self, vendor_ids: Iterable[str], company_ids: Iterable[str] | None = None) -> Dataset:
        """Load vendors and companies, then every other engagement of those companies, so a
        company's findings never depend on which vendor brought it into the run."""
        conn = self.connector
        vendor_ids = list(vendor_ids)
        ds = conn.load(vendor_ids, company_ids)
        clients = sorted({e.company_id for v in vendor_ids for e in ds.engagements_of_vendor(v)})
        others = {x for vs in vendors_of(conn, clients).values() for x in vs} - set(vendor_ids)
        if others:
            # one load of every vendor of these clients: which side a person is on (a vendor's
            # referent, a client's staff) depends on the vendors loaded together
            ds = conn.load(sorted({*vendor_ids, *others}), clients)
        return self.prepare(ds)

    @property
    def engine(self) -> Any:
        """The default profile's engine."""
        return self.rulesets.engine(DEFAULT)

    def close(self) -> None:
        """Close the connector (database, HTTP sessions)."""
        self.connector.close()


def build_connector(cfg: config_mod.Config, context: ConnectorContext) -> Connector:
    """The configured source (with its helpdesk companion, when configured)."""

    def make(name: str) -> Connector:
        cls = connector_class(name)
        section = cfg.section(name)
        if cls.settings_schema is not None:
            section = validate_section(cls.settings_schema, section, name, cfg.where)
        else:
            config_mod.check_section(cfg, name, cls.settings_keys)
        return cls(section, context)

    primary = make(cfg.source)
    tasks_mod.require_support(cfg.tasks, primary, cfg.where("tasks"))
    if cfg.helpdesk:
        from .sources import build_source

        return build_source(primary, make(cfg.helpdesk), cfg.match_by)
    return primary


def open_session(
    config_path: str | None = None,
    *,
    rules_paths: Iterable[str] | None = None,
    connector: Connector | None = None,
) -> Session:
    """Load the config (``config_path`` or the usual places), the rules and the connector it
    names, ready to evaluate."""
    cfg = config_mod.load(config_mod.find_config(config_path))
    paths = list(rules_paths) if rules_paths else cfg.rule_paths()
    rulesets = RuleSets(
        rulebook_mod.load(paths).rules,
        params=cfg.params,
        disabled=cfg.disabled,
        profiles=cfg.profiles,
        config_name=cfg.name,
    )
    for name in [DEFAULT, *(p.name for p in cfg.profiles)]:
        rulesets.rulebook(name).signal_windows()  # one window per signal: fail early
    if cfg.decisions.enabled:
        rulesets.files()  # the content the decision log will store: as loaded, not as later
    vocabulary = Vocabulary.build(cfg.vocabulary, where=f"{cfg.name}: vocabulary")
    context = ConnectorContext(
        config_path=str(cfg.path) if cfg.path else None,
        http=cfg.http,
        coverage=cfg.coverage,
        org_properties=property_names(cfg.profiles),
    )
    conn = connector or build_connector(cfg, context)
    if connector is not None:
        context = connector.context
    return Session(cfg, rulesets, conn, context, vocabulary=vocabulary)


# -- evaluation ----------------------------------------------------------------------------------
def evaluate_dataset(
    session: Session,
    ds: Dataset,
    *,
    vendor_ids: Iterable[str],
    company_ids: Iterable[str] | None = None,
    as_of: datetime,
    language: str,
    vendor_values: Mapping[str, dict[str, SignalValue]] | None = None,
    prospect_ids: Iterable[str] = (),
    on_progress: OnProgress | None = None,
    progress: Counter | None = None,
) -> list[RecordResult]:
    """Signals -> engine -> findings -> rendered note, for vendors and their active clients,
    and for ``prospect_ids`` (companies before signing: their readiness).

    A company is evaluated in every active engagement it has in ``ds`` (one note covering all
    its vendors); an ended engagement is not judged and the vendor is listed as former.
    ``vendor_values``: a vendor's signals computed beforehand (over a portfolio evaluated in
    chunks, :mod:`cmrules.stream`) instead of from ``ds``.  ``on_progress``: records evaluated
    of the records to evaluate (``progress``: counted on a phase shared with other calls)."""
    sets = session.rulesets
    cfg = session.config
    policy = records_mod.Policy.build(
        session.rulebook, as_of, language, cfg.waivers, cfg.waiver_max_days, tasks=cfg.tasks
    )
    results: list[RecordResult] = []
    only = None if company_ids is None else set(company_ids)
    vendor_ids = [v for v in dict.fromkeys(vendor_ids) if v in ds.organisations]

    by_id: dict[
        tuple[str, str], dict[str, rulebook_mod.Rule]
    ] = {}  # (profile, subject) -> id -> rule

    def run(
        profile: str, subject_kind: str, subject: Subject, values: dict[str, SignalValue]
    ) -> list[Finding]:
        rules = by_id.get((profile, subject_kind))
        if rules is None:
            rules = {r.id: r for r in sets.rulebook(profile).for_subject(subject_kind)}
            by_id[profile, subject_kind] = rules
        outcomes = sets.engine(profile).evaluate(
            subject_kind, {k: v.value for k, v in values.items()}
        )
        return [findings_mod.build(rules[o.rule_id], o, subject, values, as_of) for o in outcomes]

    def result(
        subject: Organisation,
        kind: str,
        vendors: list[Organisation],
        found: list[Finding],
        values: dict[str, dict[str, SignalValue]],
        profile: str,
        former_vendors: list[Organisation] | None = None,
    ) -> RecordResult:
        criteria = len(sets.rulebook(profile).for_subject(kind)) if kind == "prospect" else None
        out = records_mod.finish(
            policy, subject, found, vendors if kind == "company" else (), criteria
        )
        return RecordResult(
            subject, kind, vendors, out.findings, values, out.note, profile,
            former_vendors=former_vendors or [], outcome=out,
        )  # fmt: skip

    companies: list[str] = []
    for vid in vendor_ids:
        for e in ds.engagements_of_vendor(vid):
            active = not e.ended(as_of) or only is not None
            if (
                active
                and not e.prospect
                and (only is None or e.company_id in only)
                and e.company_id in ds.organisations
            ):
                companies.append(e.company_id)

    prospect_ids = list(dict.fromkeys(prospect_ids))
    companies = list(dict.fromkeys(companies))
    count = len(vendor_ids) * (only is None) + len(companies) + len(prospect_ids)
    progress = progress or Counter(on_progress, "evaluate", "records", count)
    if only is None:
        for vid in vendor_ids:
            vendor = ds.organisations[vid]
            profile = sets.select(vendor)
            values = (vendor_values or {}).get(vid) or compute(
                VendorContext(ds, vendor, as_of, session.settings(profile))
            )
            found = run(profile, "vendor", Subject(vendor.id, vendor.name, "vendor"), values)
            results.append(result(vendor, "vendor", [vendor], found, {vid: values}, profile))
            progress.add()

    for cid in companies:
        company = ds.organisations[cid]
        profile = sets.select(company)
        settings = session.settings(profile)
        found, per_vendor, vendors, former = [], {}, [], []
        for e in ds.engagements_of_company(cid):
            agency = ds.organisations.get(e.vendor_id)
            if agency is None or e.prospect:
                continue
            if e.ended(as_of):
                former.append(agency)
                continue
            vendors.append(agency)
            values = compute(CompanyContext(ds, company, agency, as_of, settings))
            per_vendor[agency.id] = values
            subject = Subject(company.id, company.name, "company", agency.id, agency.name)
            found.extend(run(profile, "company", subject, values))
        results.append(
            result(company, "company", vendors, found, per_vendor, profile, former_vendors=former)
        )
        progress.add()
    for cid in prospect_ids:
        company = ds.organisations[cid]
        profile = sets.select(company)
        values = compute(ProspectContext(ds, company, as_of, session.settings(profile)))
        found = run(profile, "prospect", Subject(cid, company.name, "prospect"), values)
        results.append(result(company, "prospect", [], found, {"": values}, profile))
        progress.add()
    if on_progress is not None:
        progress.finish()
    return results


def evaluate(
    session: Session,
    *,
    vendor: str | None = None,
    company: str | None = None,
    as_of: datetime,
    language: str | None = None,
    dry_run: bool = False,
    write: bool = True,
    on_record: Callable[[RecordResult], None] | None = None,
    deal: str | None = None,
    on_progress: OnProgress | None = None,
) -> Report:
    """``cmrules evaluate``: one vendor and its clients, one company (with its vendors), or a
    prospect (a company not signed yet, an open deal: its readiness).

    With ``on_record``, each record is handed to it once written back (or not) and is not
    kept in the report (whose summary still counts it): memory stays flat on any portfolio
    the connector can list in chunks (:mod:`cmrules.stream`).  ``on_progress`` sees the
    reads, the evaluation and the write-back (:mod:`cmrules.progress`)."""
    language = language or session.config.language
    started = time.monotonic()
    records: Iterable[RecordResult]
    with reporting(session, on_progress):
        if vendor and not company and not deal and stream_mod.can_stream(session.connector):
            v = resolve(session.connector, vendor, OrgKind.VENDOR)
            records = stream_mod.portfolio_records(
                session, [v.id], as_of=as_of, language=language, on_progress=on_progress
            )
        else:
            sel = select(session, vendor=vendor, company=company, deal=deal)
            records = evaluate_dataset(
                session,
                sel.dataset,
                vendor_ids=sel.vendor_ids,
                company_ids=sel.company_ids,
                as_of=as_of,
                language=language,
                prospect_ids=sel.prospect_ids,
                on_progress=on_progress,
            )
        report = Report(as_of=as_of, language=language)
        total = len(records) if isinstance(records, list) else None
        run = consume(session, report, records, write=write, dry_run=dry_run, command="evaluate",
                      as_of=as_of, on_record=on_record, on_progress=on_progress,
                      total=total)  # fmt: skip
    if write and not dry_run:
        record_run(session.config.default_state_path(), as_of, "evaluate", run.counts)
    report.stats.update(session.context.stats)
    report.stats["duration_s"] = round(time.monotonic() - started, 3)
    return report


class Run:
    """What :func:`consume` gathers over a run without keeping its records."""

    def __init__(self) -> None:
        self.counts = history_mod.RunCounts()
        self.gaps: list[str] = []
        self.notable: list[RecordResult] = []  # records with a waiver not applied (rare)


def consume(
    session: Session,
    report: Report,
    records: Iterable[RecordResult],
    *,
    write: bool,
    dry_run: bool,
    command: str,
    as_of: datetime,
    on_record: Callable[[RecordResult], None] | None = None,
    on_progress: OnProgress | None = None,
    total: int | None = None,
) -> Run:
    """Write the records back (unless ``write`` is false), log the decisions, and account for
    each record in ``report`` — kept, or handed to ``on_record`` and only counted — in groups
    of at most ``stream.CHUNK``.  Run warnings (waivers not applied, the connector's
    unmatched records) and the ops data gaps end up in ``report``.  With ``total`` (records
    evaluated beforehand, not streamed), ``on_progress`` sees records written of ``total``."""
    run = Run()
    group: list[RecordResult] = []
    writing = on_progress if write and total is not None else None
    progress = Counter(writing, "write", "records", total)

    def hand_on() -> None:
        if write and group:
            decisions.log_run(session, group, as_of, command, dry_run)
        run.gaps += [g for g in ops_gaps(group, report.language) if g not in run.gaps]
        for r in group:
            run.counts.add(r)
            if r.outcome is not None and any(not w.valid for w in r.outcome.waivers):
                run.notable.append(r)
            report.add(r, keep=on_record is None)
            if on_record is not None:
                on_record(r)
        group.clear()
        gcpolicy.checkpoint()

    def done(r: RecordResult) -> None:
        progress.add()
        group.append(r)
        if len(group) >= stream_mod.CHUNK:
            hand_on()

    with gcpolicy.paused():  # collected every few groups instead (cmrules.gcpolicy)
        try:
            if write:
                write_back(session.connector, records, dry_run=dry_run, on_progress=done)
            else:
                for r in records:
                    done(r)
        finally:
            progress.finish()
            hand_on()  # what was written before a failure is logged and counted too
            report.warnings.extend(run_notices(session, run.notable, as_of, report.language))
            report.add_unmatched(getattr(session.connector, "unmatched", None) or [])
            report.stats["ops_data_gaps"] = run.gaps
    return run


@contextmanager
def reporting(session: Session, on_progress: OnProgress | None) -> Iterator[None]:
    """The connector's reads report to ``on_progress`` for the length of the block."""
    before, session.context.progress = session.context.progress, on_progress
    try:
        yield
    finally:
        session.context.progress = before


def record_run(state_path: Path, as_of: datetime, command: str, results: Any) -> None:
    """One line of run history next to the state file (for ``cmrules report``'s trend)."""
    history_mod.record_run(
        history_mod.history_path(state_path),
        at=datetime.now(UTC).replace(microsecond=0),
        as_of=as_of,
        command=command,
        results=results,
    )


# -- sync ----------------------------------------------------------------------------------------
def sync(session: Session, **options: Any) -> Report:
    """``cmrules sync``: every vendor and client changed since the last successful run
    (:func:`cmrules.syncing.sync`)."""
    from .syncing import sync as run

    return run(session, **options)


def list_notes(session: Session, ref: str, kind: OrgKind) -> tuple[Organisation, list[Any]]:
    """The record and the notes cmrules wrote on it, newest first (``cmrules notes``)."""
    subject = resolve(session.connector, ref, kind)
    return subject, session.connector.notes(subject)


__all__ = [
    "CmrulesError", "Report", "RecordResult", "Session", "evaluate", "open_session", "resolve",
    "sync", "write_back", "parse_as_of", "Tally", "WRITTEN", "FLAGS_ONLY", "UNCHANGED",
    "WOULD_WRITE", "FAILED",
]  # fmt: skip
