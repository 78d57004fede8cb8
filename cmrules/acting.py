"""The library behind ``cmrules history``, ``waive``, ``waivers`` and ``tasks``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import flaghistory
from . import waivers as waivers_mod
from .errors import UsageError
from .model import Organisation, OrgKind
from .selection import resolve

_DAYS = re.compile(r"^\s*(\d+)\s*d?\s*$")


@dataclass
class RecordHistory:
    """A record's flag timeline as its source stores it, for ``cmrules history``."""

    subject: Organisation
    history: flaghistory.History
    stored: bool  # False: the source keeps no history for this record (yet)

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``cmrules history --format json``: the record's id and name, then its
        history."""
        return {
            "id": self.subject.id,
            "name": self.subject.name,
            "stored": self.stored,
            **self.history.to_dict(),
        }


def record_history(session: Any, ref: str, kind: OrgKind) -> RecordHistory:
    """The flag history stored on a record (read from the source, not from local state)."""
    subject = resolve(session.connector, ref, kind)
    raw = subject.writeback.get("history")
    return RecordHistory(subject, flaghistory.loads(raw), bool(raw))


def vendor_names(session: Any) -> dict[str, str]:
    """Vendor id → name, to name the vendor of each flag in a timeline."""
    return {o.id: o.name for o in session.connector.find_organisations("", OrgKind.VENDOR)}


def parse_days(text: str) -> int:
    """``--expiring-within 30d`` (or ``30``) as a number of days; anything else is a usage error."""
    m = _DAYS.match(text or "")
    if not m:
        raise UsageError(f"--expiring-within {text!r}: give a number of days, e.g. 30d")
    return int(m.group(1))


def waive(
    session: Any,
    *,
    ref: str,
    kind: OrgKind,
    rule: str,
    until: str,
    reason: str,
    vendor: str | None,
    by: str | None,
    as_of: datetime,
) -> waivers_mod.Waiver:
    """Record a waiver on a record of the local store, refusing one that would not apply."""
    conn = session.connector
    if not hasattr(conn, "add_waiver"):
        raise UsageError(
            f"the {conn.name} connector keeps waivers in the CRM itself: fill in the record's "
            "waiver fields (see README, 'For sales teams'), or add one under waivers.entries "
            "in the config"
        )
    subject = resolve(conn, ref, kind)
    vendor_id = resolve(conn, vendor, OrgKind.VENDOR).id if vendor else None
    entry = {"rule": rule, "until": until, "reason": reason, "by": by, "vendor": vendor_id}
    (w,) = waivers_mod.parse(
        entry,
        origin="local",
        where="cmrules waive",
        known_rules=[r.id for r in session.rulebook],
        as_of=as_of,
        max_days=session.config.waiver_max_days,
        record=subject.id,
        record_name=subject.name,
    )
    if not w.valid:
        raise UsageError(f"waiver refused: {w.problem}")
    assert w.until is not None
    conn.add_waiver(subject, {**entry, "until": w.until.isoformat()})
    return w


def register(session: Any, as_of: datetime, within_days: int | None) -> list[waivers_mod.Waiver]:
    """Every waiver known: config entries and waivers on records, applied or not."""
    cfg = session.config
    known = [r.id for r in session.rulebook]
    out: list[waivers_mod.Waiver] = []
    for entry in cfg.waivers:
        out.extend(
            waivers_mod.parse(
                entry,
                origin="config",
                where=str(entry.get("where", "config")),
                known_rules=known,
                as_of=as_of,
                max_days=cfg.waiver_max_days,
            )
        )
    for org in session.connector.records_with_waivers():
        for entry in org.waivers:
            out.extend(
                waivers_mod.parse(
                    entry,
                    origin=str(entry.get("origin", "crm")),
                    where=str(entry.get("where", f"{org.source} {org.id}")),
                    known_rules=known,
                    as_of=as_of,
                    max_days=cfg.waiver_max_days,
                    record=org.id,
                    record_name=org.name,
                )
            )
    return waivers_mod.expiring(out, as_of, within_days)


def list_tasks(session: Any, include_completed: bool) -> list[dict[str, Any]]:
    """The data-gap tasks of a connector that keeps them itself (the local store); for a CRM, where
    the tasks live is said in the error."""
    conn = session.connector
    if not hasattr(conn, "tasks"):
        raise UsageError(
            f"the {conn.name} connector keeps tasks in the CRM: look at the company's tasks there"
        )
    return list(conn.tasks(include_completed))
