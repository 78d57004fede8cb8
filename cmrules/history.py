"""Run history: one JSON line per evaluation that wrote (``sync``, ``evaluate``), for trends.

Each line records, for every vendor evaluated *in full* in that run (the vendor record and all
its clients), the open flags by severity and by rule, the cannot-assess count and the number of
clients.  ``cmrules report`` draws the trend from it.

The file lives next to the sync state file (``<state>.history.jsonl``).  It is bounded: when it
passes :data:`MAX_LINES` lines the oldest are dropped (rewritten atomically, under an ``flock``
so two writers never interleave).  A line torn by a crash is skipped on read, never fatal.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .paths import private_dir
from .state import atomic_write
from .values import iso, parse_datetime

log = logging.getLogger("cmrules")

VERSION = 1
MAX_LINES = 1_000  # about three years of nightly runs
SEVERITIES = ("high", "medium", "low")


def history_path(state_path: Path) -> Path:
    """The run-history file kept beside a sync state file."""
    return state_path.with_name(state_path.stem + ".history.jsonl")


@dataclass(frozen=True)
class VendorCounts:
    """What one run saw for one vendor: open flags (fired findings) and cannot-assess."""

    name: str
    clients: int
    flags: dict[str, int]  # severity -> open flags
    cannot_assess: int
    rules: dict[str, int]  # rule id -> open flags
    waived: int = 0  # flags acknowledged by a valid waiver (not open)

    @property
    def open_flags(self) -> int:
        """Flags open on this vendor's clients."""
        return sum(self.flags.values())

    def to_dict(self) -> dict[str, Any]:
        """The counts as JSON-ready data."""
        return {
            "name": self.name,
            "clients": self.clients,
            "flags": self.flags,
            "cannot_assess": self.cannot_assess,
            "rules": self.rules,
            "waived": self.waived,
        }


@dataclass(frozen=True)
class Run:
    """One recorded run: when, for which instant, and its counts."""

    at: datetime  # when the run happened
    as_of: datetime  # the instant it evaluated (x axis of a trend)
    command: str
    vendors: dict[str, VendorCounts]


class RunCounts:
    """:func:`counts_from_results`, fed one record at a time (a streamed run keeps no record)."""

    def __init__(self) -> None:
        self.vendors: dict[str, str] = {}
        self.flags: dict[str, dict[str, int]] = {}
        self.rules: dict[str, dict[str, int]] = {}
        self.cannot: dict[str, int] = {}
        self.waived: dict[str, int] = {}
        self.clients: dict[str, int] = {}

    def add(self, r: Any) -> None:
        """Count one record result."""
        if r.kind == "vendor":
            self.vendors[r.subject.id] = r.subject.name
        else:
            for v in r.vendors:
                self.clients[v.id] = self.clients.get(v.id, 0) + 1
        for f in r.findings:
            vid = f.subject.id if f.subject.kind == "vendor" else f.subject.vendor_id
            if f.status == "fired":
                flags = self.flags.setdefault(vid, dict.fromkeys(SEVERITIES, 0))
                flags[f.severity] += 1
                rules = self.rules.setdefault(vid, {})
                rules[f.rule_id] = rules.get(f.rule_id, 0) + 1
            elif f.status == "cannot_assess":
                self.cannot[vid] = self.cannot.get(vid, 0) + 1
            else:  # waived: acknowledged, not open
                self.waived[vid] = self.waived.get(vid, 0) + 1

    def result(self) -> dict[str, VendorCounts]:
        """Only vendors whose own record was evaluated count: a client's engagement with
        another vendor, evaluated so that the client's note covers it, is not that vendor's
        full picture."""
        return {
            v: VendorCounts(
                name,
                self.clients.get(v, 0),
                self.flags.get(v, dict.fromkeys(SEVERITIES, 0)),
                self.cannot.get(v, 0),
                dict(sorted(self.rules.get(v, {}).items())),
                self.waived.get(v, 0),
            )
            for v, name in self.vendors.items()
        }


def counts_from_results(results: Iterable[Any]) -> dict[str, VendorCounts]:
    """Per-vendor counts from :class:`~cmrules.service.RecordResult` objects."""
    counts = RunCounts()
    for r in results:
        counts.add(r)
    return counts.result()


def record_run(
    path: Path, *, at: datetime, as_of: datetime, command: str, results: Iterable[Any] | RunCounts
) -> bool:
    """Append one line for this run (nothing when no vendor was evaluated in full).

    History is a convenience for trends: a failure to write it is logged, never fatal.
    """
    counts = results.result() if isinstance(results, RunCounts) else counts_from_results(results)
    if not counts:
        return False
    line = json.dumps(
        {
            "v": VERSION,
            "at": iso(at),
            "as_of": iso(as_of),
            "command": command,
            "vendors": {vid: c.to_dict() for vid, c in sorted(counts.items())},
        },
        ensure_ascii=False,
        sort_keys=True,
    )
    try:
        _append(path, line)
    except OSError as exc:
        log.warning("could not record the run history in %s: %s", path, exc.strerror)
        return False
    return True


def _append(path: Path, line: str) -> None:
    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)  # private, like the DB
    with os.fdopen(fd, "a+", encoding="utf-8") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)  # released when the file closes
        fh.seek(0, os.SEEK_END)
        if fh.tell() > 0:
            fh.seek(fh.tell() - 1)
            if fh.read(1) != "\n":  # a torn last line: end it, so this one stays whole
                fh.write("\n")
        fh.write(line + "\n")
        fh.flush()
        fh.seek(0)
        lines = fh.readlines()
        if len(lines) > MAX_LINES:
            atomic_write(path, "".join(lines[-MAX_LINES:]).encode("utf-8"), prefix=".history-")


def read_runs(path: Path) -> tuple[list[Run], int]:
    """The runs recorded, oldest first, and the number of unreadable lines skipped."""
    if not path.exists():
        return [], 0
    runs: list[Run] = []
    skipped = 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        for raw in fh:
            if not raw.strip():
                continue
            run = _parse(raw)
            if run is None:
                skipped += 1
            else:
                runs.append(run)
    runs.sort(key=lambda r: (r.as_of, r.at))
    return runs, skipped


def _parse(raw: str) -> Run | None:
    try:
        data = json.loads(raw)
        at = parse_datetime(data["at"])
        as_of = parse_datetime(data["as_of"])
        if at is None or as_of is None or data.get("v") != VERSION:
            return None
        vendors = {
            str(vid): VendorCounts(
                name=str(c["name"]),
                clients=int(c["clients"]),
                flags={s: int(c["flags"].get(s, 0)) for s in SEVERITIES},
                cannot_assess=int(c["cannot_assess"]),
                rules={str(k): int(n) for k, n in c.get("rules", {}).items()},
                waived=int(c.get("waived", 0)),
            )
            for vid, c in data["vendors"].items()
        }
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return Run(at, as_of, str(data.get("command", "")), vendors)
