"""The local store's SQLite schema, where the database lives, and how attributes are stored.

One table per model record type plus ``notes`` and ``flags`` for write-back; attributes are
JSON objects, datetimes ISO 8601 strings.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Mapping
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from cmrules.errors import ConnectorError
from cmrules.paths import data_dir, private_dir
from cmrules.values import parse_datetime

SCHEMA_VERSION = "1"
BUSY_TIMEOUT = 30.0  # seconds a write waits for another run's transaction
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS organisations (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, domain TEXT,
    external_id TEXT, attributes TEXT NOT NULL DEFAULT '{}', updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS contacts (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, org_id TEXT, roles TEXT NOT NULL DEFAULT '',
    email TEXT, job_title TEXT, attributes TEXT NOT NULL DEFAULT '{}', updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS activities (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, timestamp TEXT, company_id TEXT, vendor_id TEXT,
    side TEXT, contact_ids TEXT NOT NULL DEFAULT '[]', status TEXT, decided_at TEXT,
    tags TEXT NOT NULL DEFAULT '[]', title TEXT NOT NULL DEFAULT '',
    first_reply_minutes REAL, replies INTEGER, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS engagements (
    company_id TEXT NOT NULL, vendor_id TEXT NOT NULL, started_at TEXT,
    vendor_contact_ids TEXT NOT NULL DEFAULT '[]', attributes TEXT NOT NULL DEFAULT '{}',
    updated_at TEXT NOT NULL, ended_at TEXT, status TEXT, PRIMARY KEY (company_id, vendor_id));
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, subject_id TEXT NOT NULL, fingerprint TEXT NOT NULL,
    language TEXT NOT NULL, body_text TEXT NOT NULL, body_html TEXT NOT NULL,
    created_at TEXT NOT NULL, UNIQUE (subject_id, fingerprint));
CREATE TABLE IF NOT EXISTS flags (
    subject_id TEXT PRIMARY KEY, risk_level TEXT NOT NULL, rule_ids TEXT NOT NULL,
    evaluated_at TEXT NOT NULL, fingerprint TEXT NOT NULL, history TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS waivers (
    id INTEGER PRIMARY KEY AUTOINCREMENT, subject_id TEXT NOT NULL, rule_id TEXT NOT NULL,
    vendor TEXT, until TEXT NOT NULL, reason TEXT NOT NULL, waived_by TEXT,
    created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, subject_id TEXT NOT NULL, fingerprint TEXT NOT NULL,
    title TEXT NOT NULL, body TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'open',
    created_at TEXT NOT NULL, completed_at TEXT, UNIQUE (subject_id, fingerprint));
-- imports under way: a sync holds its watermark back to the oldest one (see importer.py)
CREATE TABLE IF NOT EXISTS imports_running (
    id INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT NOT NULL, pid INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS contacts_org ON contacts(org_id);
CREATE INDEX IF NOT EXISTS waivers_subject ON waivers(subject_id);
CREATE INDEX IF NOT EXISTS activities_company ON activities(company_id);
"""


def default_path() -> Path:
    """``$CMRULES_HOME/local.sqlite3``, else under ``$XDG_DATA_HOME/cmrules`` (see
    :mod:`cmrules.paths`)."""
    return data_dir() / "local.sqlite3"


def demo_file() -> Path:
    """The demo data shipped with cmrules."""
    return Path(str(resources.files("cmrules").joinpath("data/demo.yaml")))


def open_database(path: Path) -> sqlite3.Connection:
    """Open (creating when needed) the database at ``path`` with the current schema."""
    try:
        private_dir(path.parent)
        if not path.exists():  # contact e-mails and notes: readable by the owner only
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT)
        db.executescript(_SCHEMA)
        columns = {row[1] for row in db.execute("PRAGMA table_info(engagements)")}
        for column in ("ended_at", "status"):  # databases made before engagements could end
            if column not in columns:
                db.execute(f"ALTER TABLE engagements ADD COLUMN {column} TEXT")
        flag_columns = {row[1] for row in db.execute("PRAGMA table_info(flags)")}
        if "history" not in flag_columns:  # databases made before flag history
            db.execute("ALTER TABLE flags ADD COLUMN history TEXT NOT NULL DEFAULT ''")
    except (OSError, sqlite3.Error) as exc:
        raise ConnectorError(
            f"cannot open the local database {path}: {exc}; set local.path in "
            "your config (or CMRULES_HOME) to a writable location"
        ) from None
    with contextlib.suppress(sqlite3.Error):  # a read-only copy stays readable without it
        # write-ahead log: a commit appends to the log (one fsync) and readers do not block
        db.execute("PRAGMA journal_mode=WAL")
    db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
    db.commit()
    return db


def decode_attrs(text: str | Mapping[str, Any], allowed: Mapping[str, type]) -> dict[str, Any]:
    """Stored attributes (the JSON text, or that text already parsed) back to typed values;
    keys the model no longer knows are dropped."""
    raw = text if isinstance(text, Mapping) else json.loads(text or "{}")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if allowed.get(key) is datetime:
            out[key] = parse_datetime(value)
        elif key in allowed:
            out[key] = value
    return out
