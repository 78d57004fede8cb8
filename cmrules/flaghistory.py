"""Per-record history of flags: when each open flag was first seen, when flags were resolved,
waived, or came back when a waiver ended.

It lives in the CRM record itself (a compact JSON value: a HubSpot property, a Zendesk
organisation field, a column of the local store's flags table) and is written in the same
crash-safe step as the flags, so it survives losing the local state file.  It is computed,
not appended: the new history is a pure function of the stored one and today's findings, so a
rerun on unchanged data produces the identical value (and no write).

Stored form (``dumps``)::

    {"v": 1,
     "open":   {"CMR010@v-pixel": "2026-11-20", ...},   # flag key -> first seen (ISO date)
     "waived": {"CMR018@v-pixel": "2027-03-01", ...},   # flag key -> waiver end
     "log":    [["2026-11-20", "opened", "CMR010", "v-pixel"], ...],   # newest last
     "task":   "3f2a…"}                                 # open data-gap task, when tasks are on

Events: ``opened``, ``resolved``, ``waived``, ``waiver_ended``.  The log keeps the last
:data:`MAX_EVENTS` events so the value stays small (HubSpot text properties hold 65,536
characters; this stays under 4,000).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .findings import WAIVED, Finding
from .model import CANNOT_ASSESS, FIRED

VERSION = 1
MAX_EVENTS = 60
OPENED, RESOLVED, WAIVED_EVENT, WAIVER_ENDED = "opened", "resolved", "waived", "waiver_ended"
EVENTS = (OPENED, RESOLVED, WAIVED_EVENT, WAIVER_ENDED)


def split_key(key: str) -> tuple[str, str | None]:
    """``CMR010@v-pixel`` → (``CMR010``, ``v-pixel``); no vendor for a vendor's own flags."""
    rule, _, vendor = key.partition("@")
    return rule, vendor or None


@dataclass
class History:
    """A record's flag history: open flags since when, waived until when, and the recent events."""

    open: dict[str, str] = field(default_factory=dict)
    waived: dict[str, str] = field(default_factory=dict)
    log: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    task: str = ""  # fingerprint of the open data-gap task (cmrules.tasks), if any

    def dumps(self) -> str:
        """Compact, deterministic JSON (the value stored on the record)."""
        data = {
            "v": VERSION,
            "open": dict(sorted(self.open.items())),
            "waived": dict(sorted(self.waived.items())),
            "log": [list(e) for e in self.log[-MAX_EVENTS:]],
        }
        if self.task:
            data["task"] = self.task
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    def to_dict(self) -> dict[str, Any]:
        """The history as JSON for ``cmrules history`` and reports (keys split into rule and
        vendor)."""
        return {
            "open": [
                {"rule_id": rule, "vendor_id": vendor or None, "since": v}
                for k, v in sorted(self.open.items())
                for rule, _, vendor in (k.partition("@"),)
            ],
            "waived": [
                {"rule_id": rule, "vendor_id": vendor or None, "until": v}
                for k, v in sorted(self.waived.items())
                for rule, _, vendor in (k.partition("@"),)
            ],
            "task": self.task or None,
            "events": [
                {"date": d, "event": ev, "rule_id": rule, "vendor_id": vendor}
                for d, ev, rule, vendor in self.log
            ],
        }


def loads(raw: str | None) -> History:
    """The stored history; an empty or unreadable value (edited by hand, truncated) starts a
    new one rather than failing the run — first-seen dates then restart from today."""
    if not raw:
        return History()
    try:
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("v") != VERSION:
            return History()
        opened = {str(k): str(v) for k, v in dict(data.get("open") or {}).items()}
        waived = {str(k): str(v) for k, v in dict(data.get("waived") or {}).items()}
        log = [
            (str(e[0]), str(e[1]), str(e[2]), None if e[3] is None else str(e[3]))
            for e in data.get("log") or []
            if isinstance(e, list) and len(e) == 4 and e[1] in EVENTS
        ]
        task = str(data.get("task") or "")
    except (ValueError, TypeError, AttributeError, IndexError):
        return History()
    return History(opened, waived, log, task)


@dataclass
class Changes:
    """What changed since the last stored history (for the note's "since the last note")."""

    new: list[Finding] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)  # flag keys
    waived: list[Finding] = field(default_factory=list)
    returned: list[Finding] = field(default_factory=list)  # waiver ended, flag back

    def __bool__(self) -> bool:
        return bool(self.new or self.resolved or self.waived or self.returned)


def update(
    previous: History,
    findings: Iterable[Finding],
    as_of: datetime,
    *,
    vendor_ids: Iterable[str] | None = None,
) -> tuple[History, Changes]:
    """The record's history after this evaluation, and what changed.

    A flag that cannot be assessed today keeps its first-seen date and is not reported as
    resolved: missing data is not good news.  Flags of vendors not evaluated this time
    (``vendor_ids`` given) are left as they were.
    """
    today = as_of.date().isoformat()
    evaluated = set(vendor_ids) if vendor_ids is not None else None
    items = list(findings)
    live = {f.key: f for f in items if f.status in (FIRED, WAIVED)}
    unknown = {f.key for f in items if f.status == CANNOT_ASSESS}
    new = History(log=list(previous.log), task=previous.task)
    changes = Changes()

    def event(kind: str, key: str) -> None:
        rule, vendor = split_key(key)
        new.log.append((today, kind, rule, vendor))

    for key, f in sorted(live.items()):
        if key in previous.open:
            new.open[key] = previous.open[key]
        else:
            new.open[key] = today
            changes.new.append(f)
            event(OPENED, key)
        if f.status == WAIVED:
            until = str((f.waiver or {}).get("until") or "")
            new.waived[key] = until
            if key not in previous.waived:
                changes.waived.append(f)
                event(WAIVED_EVENT, key)
        elif key in previous.waived:
            changes.returned.append(f)
            event(WAIVER_ENDED, key)
    for key, since in sorted(previous.open.items()):
        if key in live:
            continue
        _, vendor = split_key(key)
        if key in unknown or (evaluated is not None and vendor and vendor not in evaluated):
            new.open[key] = since
            if key in previous.waived:
                new.waived[key] = previous.waived[key]
            continue
        changes.resolved.append(key)
        event(RESOLVED, key)
    new.log = new.log[-MAX_EVENTS:]
    return new, changes


def open_since(history: History, findings: Iterable[Finding]) -> dict[str, str]:
    """Flag key -> first-seen ISO date, for the findings given."""
    return {f.key: history.open[f.key] for f in findings if f.key in history.open}


def timeline(history: History, names: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The record's events, oldest first, with vendor names when known."""
    names = names or {}
    return [
        {
            "date": d,
            "event": ev,
            "rule_id": rule,
            "vendor_id": vendor,
            "vendor": names.get(vendor or "", None),
        }
        for d, ev, rule, vendor in history.log
    ]
