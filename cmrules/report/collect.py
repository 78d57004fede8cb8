"""Evaluate what a report covers — read-only: a report never writes to the CRM."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from .. import history as history_mod
from ..errors import UsageError
from ..model import OrgKind
from ..service import Session, evaluate_dataset, resolve
from ..state import atomic_write
from .aggregate import Portfolio, build_portfolio


def build(
    session: Session,
    *,
    vendor: str | None = None,
    all_vendors: bool = False,
    as_of: datetime,
    language: str | None = None,
    history_path: Path | None = None,
) -> Portfolio:
    """Evaluate one vendor (``vendor``) or every vendor (``all_vendors``) and aggregate.

    The trend reads the run history kept next to the sync state file (see
    :mod:`cmrules.history`); nothing is written anywhere.
    """
    if bool(vendor) == all_vendors:
        raise UsageError("say what to report on: --vendor NAME|ID, or --all for every vendor")
    conn = session.connector
    language = language or session.config.language
    if vendor:
        found = resolve(conn, vendor, OrgKind.VENDOR)
        vendor_ids, scope = [found.id], found.name
    else:
        vendor_ids = sorted(
            o.id for o in conn.find_organisations("", OrgKind.VENDOR) if o.kind == OrgKind.VENDOR
        )
        scope = None
        if not vendor_ids:
            raise UsageError(f"{conn.describe()} has no vendor to report on")
    ds = conn.load(vendor_ids)
    results = evaluate_dataset(session, ds, vendor_ids=vendor_ids, as_of=as_of, language=language)
    path = history_path or history_mod.history_path(session.config.default_state_path())
    runs, skipped = history_mod.read_runs(path)
    return build_portfolio(
        results,
        session.rulebook,
        as_of=as_of,
        language=language,
        scope=scope,
        runs=runs,
        history_skipped=skipped,
        open_since_known=bool(getattr(conn, "stores_history", False)),
    )


def save(text: str, output: Path) -> int:
    """Write the report atomically (a killed run leaves the old file or none, never half a
    report); returns the size in bytes."""
    data = text.encode("utf-8")
    parent = output.parent if str(output.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(
            f"--output {output}: the folder {parent} does not exist; create it or choose another"
        )
    try:
        atomic_write(output, data, prefix=f".{output.name}.", mode=0o644)
    except OSError as exc:
        raise UsageError(
            f"--output {output}: cannot write the report ({exc.strerror}); choose a writable path"
        ) from None
    return len(data)
