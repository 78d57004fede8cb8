"""Change-only, idempotent write-back of rendered notes, flags and history.

Statuses per record: ``written`` (a note was created), ``flags_updated`` (the note was already
there — crash recovery — or only the history changed), ``unchanged`` (no call at all),
``would_write`` (dry run), ``failed``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from .connector import Connector

log = logging.getLogger("cmrules")

WRITTEN = "written"  # a note was created (and flags updated)
FLAGS_ONLY = "flags_updated"  # the note was already there (crash recovery): flags updated
UNCHANGED = "unchanged"
WOULD_WRITE = "would_write"
FAILED = "failed"
_PENDING_LIMIT = 1000  # records reported in order at most this far behind their evaluation


def unchanged(connector: Connector, r: Any) -> bool:
    """Nothing to write: same note fingerprint, and the same history when the record carries
    one (a record, or an account, without the history field is judged on the fingerprint)."""
    if r.subject.writeback.get("fingerprint") != r.note.fingerprint:
        return False
    if getattr(connector, "stores_history", False) and "history" in r.subject.writeback:
        return bool(r.subject.writeback["history"] == r.note.flags.history)
    return True


def write_back(
    connector: Connector,
    results: Iterable[Any],
    *,
    dry_run: bool,
    on_progress: Callable[[Any], None] | None = None,
) -> None:
    """Change-only, idempotent write-back.  An unchanged record makes no call at all.

    A failure on one record (a 4xx, a write refused) is recorded on that record and the run
    goes on; auth failures and exhausted quotas stop the run (they would fail every record).
    ``on_progress`` gets every record in evaluation order once its write status is known.
    """
    batch: list[Any] = []
    pending: list[Any] = []  # in evaluation order, not yet reported
    size = max(1, int(getattr(connector, "write_batch_size", 1)))

    def flush() -> None:
        if batch:
            outcomes = connector.apply_many([r.note for r in batch])
            for r, outcome in zip(batch, outcomes, strict=True):
                if outcome.error is not None:
                    r.write = FAILED
                    r.error = str(outcome.error)
                    log.warning("write-back failed for %s %s: %s", r.kind, r.subject.id, r.error)
                else:
                    r.write = WRITTEN if outcome.created else FLAGS_ONLY
            batch.clear()
        report(len(pending))

    def report(n: int) -> None:
        if on_progress is not None:
            for r in pending[:n]:
                on_progress(r)
        del pending[:n]

    for r in results:
        pending.append(r)
        if unchanged(connector, r):
            r.write = UNCHANGED
        elif dry_run:
            r.write = WOULD_WRITE
        else:
            batch.append(r)
        if len(batch) >= size or len(pending) >= _PENDING_LIMIT:
            flush()  # a partial batch only after many unchanged records: memory stays bounded
        elif not batch:
            report(len(pending))
    flush()
