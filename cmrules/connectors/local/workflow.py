"""The local store's waivers (``cmrules waive``), data-gap tasks (``cmrules tasks``) and the
marks of imports under way.

Waiver rows are handed to the core raw, on ``Organisation.waivers``: the core validates them
(reason, expiry, known rule, maximum length) like waivers from any CRM.  Tasks follow the core's
contract (:meth:`cmrules.connector.Connector.sync_task`): one open task per record and gap set,
found again by its fingerprint, completed when the gaps change or are filled — in one
transaction.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from cmrules.tasks import Task
from cmrules.values import iso


def add_waiver(db: sqlite3.Connection, subject_id: str, entry: Mapping[str, Any]) -> int:
    """Store a waiver (already validated by the caller); returns its id.  The record counts as
    changed, so the next incremental ``sync`` rewrites its note and flags (as a CRM does when a
    salesperson fills in the waiver fields)."""
    now = iso(datetime.now(UTC).replace(microsecond=0))
    with db:
        db.execute("UPDATE organisations SET updated_at = ? WHERE id = ?", (now, subject_id))
        cur = db.execute(
            "INSERT INTO waivers (subject_id, rule_id, vendor, until, reason, waived_by, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                subject_id,
                entry["rule"],
                entry.get("vendor"),
                str(entry["until"]),
                entry["reason"],
                entry.get("by"),
                now,
            ),
        )
    return int(cur.lastrowid or 0)


def sync_task(
    db: sqlite3.Connection,
    subject_id: str,
    task: Task | None,
    count: Callable[[str, int], None] = lambda key, n: None,
) -> int:
    """Create ``task`` unless present, complete the record's other open tasks; one
    transaction.  Returns the number of rows written; ``count`` gets the run counters
    ``tasks_created``, ``tasks_completed`` and ``tasks_reopened`` (a completed task whose gaps
    are back) once the transaction is committed."""
    done: dict[str, int] = {}
    now = iso(datetime.now(UTC))
    writes = 0
    with db:
        open_rows = db.execute(
            "SELECT id, fingerprint FROM tasks WHERE subject_id = ? AND status = 'open'",
            (subject_id,),
        ).fetchall()
        for tid, fp in open_rows:
            if task is None or fp != task.fingerprint:
                db.execute(
                    "UPDATE tasks SET status = 'completed', completed_at = ? WHERE id = ?",
                    (now, tid),
                )
                writes += 1
                done["tasks_completed"] = done.get("tasks_completed", 0) + 1
        if task is not None and not any(fp == task.fingerprint for _, fp in open_rows):
            before = db.execute(
                "SELECT 1 FROM tasks WHERE subject_id = ? AND fingerprint = ?",
                (subject_id, task.fingerprint),
            ).fetchone()
            cur = db.execute(
                "INSERT INTO tasks (subject_id, fingerprint, title, body, status, created_at) "
                "VALUES (?, ?, ?, ?, 'open', ?) ON CONFLICT(subject_id, fingerprint) DO UPDATE "
                "SET status = 'open', completed_at = NULL",
                (subject_id, task.fingerprint, task.title, task.body, now),
            )
            writes += cur.rowcount
            if cur.rowcount:
                done["tasks_reopened" if before else "tasks_created"] = 1
    for key, n in done.items():
        count(key, n)
    return writes


def tasks(db: sqlite3.Connection, include_completed: bool = False) -> list[dict[str, Any]]:
    """Task rows with the record's name, oldest first."""
    sql = (
        "SELECT t.id, t.subject_id, o.name, t.title, t.body, t.status, t.created_at, "
        "t.completed_at FROM tasks t LEFT JOIN organisations o ON o.id = t.subject_id"
    )
    if not include_completed:
        sql += " WHERE t.status = 'open'"
    rows = db.execute(sql + " ORDER BY t.id").fetchall()
    keys = ("id", "record_id", "record", "title", "body", "status", "created_at", "completed_at")
    return [dict(zip(keys, row, strict=True)) for row in rows]


# -- imports under way ------------------------------------------------------------------------
# ``local import`` stamps its rows with its start time but commits them at its end.  A sync that
# starts in between cannot see them yet; were its watermark its own start, the next sync would
# look only at changes after that moment and miss the import's rows for good.  So an import
# first commits a mark (its start, its process), removes it in the transaction that commits the
# rows (or after a failure), and a sync's watermark never passes the start of an import under
# way.  A mark left by a killed import (its process gone) is ignored and cleared by the next.


def import_started(db: sqlite3.Connection, started_at: str) -> int:
    """Commit the mark of an import starting now; returns its id.  Clears marks of imports
    whose process is gone (killed)."""
    with db:
        for mark, pid in db.execute("SELECT id, pid FROM imports_running").fetchall():
            if not _alive(pid):
                db.execute("DELETE FROM imports_running WHERE id = ?", (mark,))
        cur = db.execute(
            "INSERT INTO imports_running (started_at, pid) VALUES (?, ?)", (started_at, os.getpid())
        )
    return int(cur.lastrowid or 0)


def import_ended(db: sqlite3.Connection, mark: int) -> None:
    """Remove an import's mark: inside its data transaction on success, on its own after a
    failure (then committed here)."""
    if db.in_transaction:
        db.execute("DELETE FROM imports_running WHERE id = ?", (mark,))
        return
    with contextlib.suppress(sqlite3.Error), db:  # a leftover mark only holds a watermark back
        db.execute("DELETE FROM imports_running WHERE id = ?", (mark,))


def imports_under_way(db: sqlite3.Connection) -> list[str]:
    """Start times of the imports running now (their process alive), oldest first."""
    try:
        rows = db.execute("SELECT started_at, pid FROM imports_running ORDER BY started_at")
        return [started for started, pid in rows.fetchall() if _alive(pid)]
    except sqlite3.OperationalError:  # a read-only store made before the table existed
        return []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, under another user (or cannot tell: keep the watermark back)
    return True
