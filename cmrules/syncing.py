"""``cmrules sync``, the nightly job: every vendor and client changed since the last successful
run, evaluated and written back, the watermark advanced only when every record was written.

Each phase reports its progress to ``on_progress`` (:mod:`cmrules.progress`): looking for
changes, listing vendors, the connector's reads (pages and records, through
``ConnectorContext.progress``), evaluating, writing back.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from . import state as state_mod
from . import stream as stream_mod
from .errors import RateLimitExhausted
from .model import OrgKind
from .progress import OnProgress, phase
from .results import RecordResult, Report
from .selection import prospects, vendors_of
from .service import FAILED, Session, consume, evaluate_dataset, record_run, reporting


def sync(
    session: Session,
    *,
    full: bool = False,
    dry_run: bool = False,
    as_of: datetime | None = None,
    state_path: Path | None = None,
    on_record: Callable[[RecordResult], None] | None = None,
    on_progress: OnProgress | None = None,
) -> Report:
    """``cmrules sync``: every vendor and client changed since the last successful run.

    With ``on_record`` records are handed on and not kept (the CLI keeps none: memory stays
    flat on a large portfolio); ``on_progress`` sees every phase's counts.

    The watermark advances only when every record was written (or unchanged); a partial
    failure leaves it where it was, so the next run retries — unchanged records then cost
    nothing, and notes already written are recognised by their fingerprint.
    """
    conn = session.connector
    path = state_path or session.config.default_state_path()
    started = time.monotonic()
    run_started = datetime.now(UTC).replace(microsecond=0)
    as_of = as_of or run_started
    language = session.config.language
    with state_mod.run_lock(path), reporting(session, on_progress):
        state = state_mod.read_state(path)
        since = None if full else state_mod.watermark(state)
        with phase(on_progress, "changes", ""):
            changes = conn.changed_since(since, run_started)
        with phase(on_progress, "vendors", ""):
            vendors = {
                o.id
                for o in conn.find_organisations("", OrgKind.VENDOR)
                if o.kind == OrgKind.VENDOR
            }
        changed_vendors = changes.organisation_ids & vendors
        changed_companies = sorted(changes.organisation_ids - vendors)
        affected = set(changed_vendors)
        for vids in vendors_of(conn, changed_companies).values():
            affected.update(vids)
        report = Report(as_of=as_of, language=language)
        vendor_ids = sorted(affected)
        records: Iterable[RecordResult] = []
        total: int | None = 0  # records to write, when known before writing (not streamed)
        if affected and stream_mod.can_stream(conn):
            records = stream_mod.portfolio_records(
                session, vendor_ids, as_of=as_of, language=language, on_progress=on_progress
            )
            total = None  # evaluated and written chunk by chunk: the evaluation counts both
        elif affected:
            ds = session.load(vendor_ids)
            records = evaluate_dataset(
                session, ds, vendor_ids=vendor_ids, as_of=as_of, language=language,
                on_progress=on_progress,
            )  # fmt: skip
            total = len(records)
        changed_prospects = conn.changed_prospects(since, changed_companies)  # not signed yet
        pds = prospects(session, changed_prospects)
        ready = evaluate_dataset(
            session, pds, vendor_ids=[], company_ids=[], as_of=as_of, language=language,
            prospect_ids=[c for c in changed_prospects if c in pds.organisations],
        )  # fmt: skip
        records = itertools.chain(records, ready)
        try:
            run = consume(
                session, report, records, write=True, dry_run=dry_run, command="sync",
                as_of=as_of, on_record=on_record, on_progress=on_progress,
                total=None if total is None else total + len(ready),
            )  # fmt: skip
        except RateLimitExhausted as exc:
            report.warnings.append(str(exc))
            raise
        failed = report.count(FAILED)
        if not dry_run:
            record_run(path, as_of, "sync", run.counts)
        if not dry_run and failed == 0:
            state_mod.save_watermark(
                path,
                state,
                changes.watermark,
                source=conn.describe(),
                last_run=run_started.isoformat(),
            )
        report.stats.update(session.context.stats)
        report.stats.update({
            "records_read": len(changes.organisation_ids),
            "since": since.isoformat() if since else None,
            "watermark_advanced": not dry_run and failed == 0,
            "state_path": str(path),
            "duration_s": round(time.monotonic() - started, 3),
        })  # fmt: skip
    return report
