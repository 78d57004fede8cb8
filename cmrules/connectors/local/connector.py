"""The embedded default connector: a SQLite database, created on first use from the demo.

Works with no network and no config.  ``cmrules local import FILE`` loads your own data
(:mod:`.importer`); notes cmrules writes back are stored in the same database (:mod:`.store`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from cmrules.connector import (
    ApplyOutcome,
    ChangeSet,
    Connector,
    ConnectorContext,
    Flags,
    RenderedNote,
    StoredNote,
)
from cmrules.connector_settings import validate_section
from cmrules.errors import WriteError
from cmrules.model import (
    ENGAGEMENT_ATTRIBUTES,
    Dataset,
    Engagement,
    Organisation,
    OrgKind,
)
from cmrules.tasks import Task
from cmrules.values import iso, parse_datetime

from . import reading, workflow
from .importer import import_data, import_file
from .store import decode_attrs, default_path, demo_file, open_database

#: The ``local`` section as JSON Schema.
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "cmrules local settings",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "path": {
            "type": "string",
            "minLength": 1,
            "description": "where the SQLite file lives (default: $CMRULES_HOME/local.sqlite3)",
        },
        "demo": {
            "type": "boolean",
            "description": "load the demo data into a new database (default true)",
        },
    },
}


_PART = 500  # ids per IN (...) list, well under SQLite's parameter limit


def _parts(ids: list[str]) -> list[list[str]]:
    return [ids[i : i + _PART] for i in range(0, len(ids), _PART)]


def _marks(part: list[str]) -> str:
    return ",".join("?" * len(part))


def _fold(text: str | None) -> str:
    return (text or "").casefold()


_CHANGED = (("id", "organisations"), ("org_id", "contacts"), ("company_id", "activities"),
            ("vendor_id", "activities"), ("company_id", "engagements"),
            ("vendor_id", "engagements"))  # fmt: skip


class LocalConnector(Connector):
    """SQLite-backed connector (config section ``local``)."""

    name = "local"
    stores_history: ClassVar[bool] = True
    supports_tasks: ClassVar[bool] = True
    settings_keys: ClassVar[frozenset[str]] = frozenset(SCHEMA["properties"])
    settings_schema: ClassVar[Mapping[str, Any]] = SCHEMA

    def __init__(self, settings: Mapping[str, Any], context: ConnectorContext | None = None):
        where = f"the local section of {(context and context.config_path) or 'your config'}"
        settings = validate_section(SCHEMA, settings, "local", lambda *path: where)
        super().__init__(settings, context)
        path = self.settings.get("path")
        self.path = Path(os.path.expanduser(str(path))) if path else default_path()
        self.created = False
        self._db: sqlite3.Connection | None = None
        self._in_batch = False

    # -- database -----------------------------------------------------------------------------
    @property
    def db(self) -> sqlite3.Connection:
        """The SQLite connection, opened (and created from the demo) on first use."""
        if self._db is None:
            new = not self.path.exists()
            self._db = open_database(self.path)
            if new and self.settings.get("demo", True):
                import_file(self, demo_file())
                self.created = True
        return self._db

    def import_file(
        self, path: Path | str, replace_demo: bool = False, on_progress: Any = None
    ) -> dict[str, int]:
        """Load a YAML/JSON file into this database (see :func:`.importer.import_file`)."""
        return import_file(self, path, replace_demo=replace_demo, on_progress=on_progress)

    def close(self) -> None:
        """Close the database."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def describe(self) -> str:
        """The database file, for messages."""
        return f"local database {self.path}"

    # -- reading ------------------------------------------------------------------------------
    def _org(
        self, row: Sequence[Any], waivers: Mapping[str, Sequence[Mapping[str, Any]]] | None = None
    ) -> Organisation:
        """An organisation row with its waivers (read now unless ``waivers`` holds them)."""
        oid = row[0]
        if waivers is None:
            waivers = reading.waivers_of(self.db, [oid])
        return reading.organisation(row, waivers.get(oid, ()), self.name)

    def organisations(self, kind: OrgKind | None = None) -> list[Organisation]:
        """Every organisation (of ``kind``), by name."""
        sql = reading.ORG_SQL
        rows = (
            self.db.execute(sql + " WHERE o.kind = ? ORDER BY o.name", (kind.value,))
            if kind
            else self.db.execute(sql + " ORDER BY o.name")
        )
        return [self._org(r) for r in rows.fetchall()]

    def find_organisations(self, text: str, kind: OrgKind) -> list[Organisation]:
        """The id itself or names containing ``text`` (case-folded as the core compares them),
        in one statement; every organisation of ``kind`` when none does, for suggestions."""
        self.db.create_function("cm_fold", 1, _fold, deterministic=True)
        rows = self.db.execute(
            reading.ORG_SQL + " WHERE o.kind = ? AND (o.id = ? OR instr(cm_fold(o.name), ?) > 0) "
            "ORDER BY o.name",
            (kind.value, text, _fold(text)),
        ).fetchall()
        return [self._org(r) for r in rows] if rows else self.organisations(kind)

    def vendors_of(self, company_ids: Iterable[str]) -> dict[str, list[str]]:
        """company id -> its vendors, from the engagements."""
        ids = list(dict.fromkeys(company_ids))
        out: dict[str, list[str]] = {cid: [] for cid in ids}
        for part in _parts(ids):
            for cid, vid in self.db.execute(
                "SELECT company_id, vendor_id FROM engagements WHERE company_id IN "
                f"({_marks(part)}) ORDER BY company_id, vendor_id",
                part,
            ):
                out[cid].append(vid)
        return out

    def clients_of(self, vendor_id: str) -> list[str]:
        """The companies engaged with ``vendor_id``, in import order."""
        rows = self.db.execute(
            "SELECT company_id FROM engagements WHERE vendor_id = ? ORDER BY rowid", (vendor_id,)
        )
        return [r[0] for r in rows]

    def load(self, vendor_ids: Iterable[str], company_ids: Iterable[str] | None = None) -> Dataset:
        """One statement per table and per 500 ids (no query per record)."""
        vendor_ids = list(dict.fromkeys(vendor_ids))
        vendors = set(vendor_ids)
        ds = Dataset()
        cols = (
            "rowid, company_id, vendor_id, started_at, vendor_contact_ids, attributes, ended_at, "
            "status"
        )
        rows: list[tuple[Any, ...]] = []
        if company_ids is None:
            for part in _parts(vendor_ids):
                rows += self.db.execute(
                    f"SELECT {cols} FROM engagements WHERE vendor_id IN ({_marks(part)})", part
                ).fetchall()
        else:
            for part in _parts(list(dict.fromkeys(company_ids))):
                rows += [
                    r
                    for r in self.db.execute(
                        f"SELECT {cols} FROM engagements WHERE company_id IN ({_marks(part)})",
                        part,
                    ).fetchall()
                    if r[2] in vendors
                ]
        order = {v: i for i, v in enumerate(vendor_ids)}
        rows.sort(key=lambda r: (order[r[2]], r[0]))  # per vendor, in insertion order
        org_ids: set[str] = set(vendor_ids)
        for _, cid, vid, started, contacts, attrs, ended, status in rows:
            org_ids.add(cid)
            ds.add(
                Engagement(
                    company_id=cid,
                    vendor_id=vid,
                    started_at=reading.instant(started),
                    vendor_contact_ids=tuple(reading.strings(contacts)),
                    attributes=decode_attrs(attrs, ENGAGEMENT_ATTRIBUTES),
                    ended_at=reading.instant(ended),
                    status=status,
                )
            )
        ordered = sorted(org_ids)
        for part in _parts(ordered):
            waivers = reading.waivers_of(self.db, part)
            for row in self.db.execute(
                reading.ORG_SQL + f" WHERE o.id IN ({_marks(part)}) ORDER BY o.id", part
            ):
                ds.add(self._org(row, waivers))
        for part in _parts(ordered):
            ds.contacts.extend(
                map(
                    reading.contact,
                    self.db.execute(
                        f"SELECT {reading.CONTACT_COLS} FROM contacts "
                        f"WHERE org_id IN ({_marks(part)}) ORDER BY org_id, id",
                        part,
                    ),
                )
            )
        companies = [o for o in ordered if o not in vendors]
        activity = reading.activity
        for part in _parts(companies):
            ds.activities.extend(
                activity(a)
                for a in self.db.execute(
                    f"SELECT {reading.ACTIVITY_COLS} FROM activities "
                    f"WHERE company_id IN ({_marks(part)}) ORDER BY company_id, timestamp, id",
                    part,
                )
                if a[4] is None or a[4] in vendors
            )
        ds.add()  # contacts and activities appended in bulk: drop the lookup index
        return ds

    def load_prospects(self, company_ids: Iterable[str]) -> Dataset:
        """The prospects among ``company_ids`` (no engagement, or only ``prospect`` ones; a
        company with a signed or ended engagement is not one): contacts, every activity, the
        prospect engagements and the agencies courting them."""
        ds = Dataset()
        for cid in dict.fromkeys(company_ids):
            rows = self.db.execute(
                "SELECT vendor_id, started_at, attributes, status FROM engagements "
                "WHERE company_id = ? ORDER BY rowid",
                (cid,),
            ).fetchall()
            pending = [
                Engagement(
                    company_id=cid,
                    vendor_id=vid,
                    started_at=parse_datetime(started),
                    attributes=decode_attrs(attrs, ENGAGEMENT_ATTRIBUTES),
                    status=status,
                )
                for vid, started, attrs, status in rows
            ]
            if not all(e.prospect for e in pending):
                continue
            ds.add(*pending)
            org_ids = [cid, *dict.fromkeys(e.vendor_id for e in pending)]
            for row in self.db.execute(
                reading.ORG_SQL + f" WHERE o.id IN ({_marks(org_ids)}) ORDER BY o.id", org_ids
            ):
                ds.add(self._org(row))
            sql = f"SELECT {reading.CONTACT_COLS} FROM contacts WHERE org_id = ? ORDER BY id"
            ds.add(*(reading.contact(row) for row in self.db.execute(sql, (cid,))))
            sql = f"SELECT {reading.ACTIVITY_COLS} FROM activities WHERE company_id = ? "
            found = self.db.execute(sql + "ORDER BY timestamp, id", (cid,))
            ds.add(*(reading.activity(row) for row in found))
        return ds

    def changed_since(self, since: datetime | None, run_started: datetime) -> ChangeSet:
        """Organisations whose records changed at or after ``since``, as instants (text sorts
        ``…:50.970000Z`` before ``…:50Z``); a time SQLite cannot read counts as changed."""
        ids: set[str] = set()
        stamp = iso(since) if since else "0001-01-01T00:00:00Z"
        after = "coalesce(julianday(updated_at) >= julianday(?), 1)"
        for column, table in _CHANGED:
            sql = f"SELECT {column} FROM {table} WHERE {after} AND {column} IS NOT NULL"
            ids.update(r[0] for r in self.db.execute(sql, (stamp,)).fetchall())
        # an import under way commits rows stamped with its start, later: the next run must
        # look from there (see workflow.import_started)
        starts = [s for s in map(parse_datetime, workflow.imports_under_way(self.db)) if s]
        return ChangeSet(frozenset(ids), min([run_started, *starts]))

    # -- writing ------------------------------------------------------------------------------
    write_batch_size: ClassVar[int] = 100  # records per transaction (one commit)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """A transaction of its own, or part of the batch's (:meth:`apply_many`)."""
        if self._in_batch:
            yield
            return
        with self.db:
            yield

    def apply_many(self, notes: Sequence[RenderedNote]) -> list[ApplyOutcome]:
        """Up to 100 records' notes and flags in one transaction: one commit (one fsync)
        instead of two per record.  Crash-safe as one record was: a run killed before the
        commit leaves none of the batch, so the rerun writes each note once."""
        self._in_batch = True
        try:
            with self.db:
                return super().apply_many(notes)
        except sqlite3.OperationalError as exc:  # busy or read-only when committing
            error = WriteError(
                f"the local database is busy or read-only ({exc}); rerun when the other run is done"
            )
            return [ApplyOutcome(error=error) for _ in notes]
        finally:
            self._in_batch = False

    def note_exists(self, subject: Organisation, fingerprint: str) -> bool:
        """True when the note with this fingerprint is stored for ``subject``."""
        row = self.db.execute(
            "SELECT 1 FROM notes WHERE subject_id = ? AND fingerprint = ?",
            (subject.id, fingerprint),
        ).fetchone()
        return row is not None

    def write_note(self, subject: Organisation, note: RenderedNote) -> str:
        """Store the note (one per subject and fingerprint)."""
        self.context.count("write_calls")
        try:
            with self._transaction():
                cur = self.db.execute(
                    "INSERT INTO notes (subject_id, fingerprint, language, body_text, "
                    "body_html, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        subject.id,
                        note.fingerprint,
                        note.language,
                        note.text,
                        note.html,
                        iso(datetime.now(UTC)),
                    ),
                )
        except sqlite3.IntegrityError:
            # another run wrote the same note between our check and our write
            raise WriteError(
                f"{subject.name}: this note is already written (another cmrules run wrote it "
                "at the same moment); nothing was duplicated — rerun to confirm"
            ) from None
        except sqlite3.Error as exc:
            raise WriteError(
                f"{subject.name}: the local database is busy, read-only or refused the note "
                f"({exc}); rerun when the other run is done"
            ) from None
        return str(cur.lastrowid)

    def write_flags(self, subject: Organisation, flags: Flags) -> None:
        """Store the flags, the fingerprint included."""
        self.context.count("write_calls")
        try:
            with self._transaction():
                self.db.execute(
                    "INSERT INTO flags VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(subject_id) DO "
                    "UPDATE SET risk_level=excluded.risk_level, rule_ids=excluded.rule_ids, "
                    "evaluated_at=excluded.evaluated_at, fingerprint=excluded.fingerprint, "
                    "history=excluded.history",
                    (
                        subject.id,
                        flags.risk_level,
                        ";".join(flags.rule_ids),
                        iso(flags.evaluated_at),
                        flags.fingerprint,
                        flags.history,
                    ),
                )
        except sqlite3.Error as exc:
            raise WriteError(
                f"{subject.name}: the local database is busy, read-only or refused the flags "
                f"({exc}); rerun when the other run is done"
            ) from None

    # -- waivers and data-gap tasks (cmrules waive / waivers / tasks) -------------------------
    def sync_task(self, subject: Organisation, task: Task | None) -> int:
        """Make ``task`` the record's one open task (tasks table), completing the others."""
        writes = workflow.sync_task(self.db, subject.id, task, self.context.count)
        self.context.count("write_calls", writes)
        return writes

    def add_waiver(self, subject: Organisation, entry: Mapping[str, Any]) -> int:
        """Store a validated waiver (``cmrules waive``); returns its row id."""
        self.context.count("write_calls")
        return workflow.add_waiver(self.db, subject.id, entry)

    def tasks(self, include_completed: bool = False) -> list[dict[str, Any]]:
        """Data-gap tasks (``cmrules tasks``): open ones, or all with ``include_completed``."""
        return workflow.tasks(self.db, include_completed)

    def notes(self, subject: Organisation) -> list[StoredNote]:
        """The stored notes of ``subject``, newest first."""
        rows = self.db.execute(
            "SELECT id, subject_id, created_at, fingerprint, body_text FROM notes "
            "WHERE subject_id = ? ORDER BY id DESC",
            (subject.id,),
        ).fetchall()
        return [
            StoredNote(str(r[0]), r[1], parse_datetime(r[2]) or datetime.now(UTC), r[3], r[4])
            for r in rows
        ]

    def flags(self, subject_id: str) -> dict[str, str] | None:
        """The stored flags of a record, or None."""
        row = self.db.execute(
            "SELECT risk_level, rule_ids, evaluated_at, fingerprint FROM flags "
            "WHERE subject_id = ?",
            (subject_id,),
        ).fetchone()
        if row is None:
            return None
        return dict(
            zip(("risk_level", "rule_ids", "evaluated_at", "fingerprint"), row, strict=True)
        )

    def check(self) -> list[str]:
        """Open the database and count its organisations."""
        n = self.db.execute("SELECT COUNT(*) FROM organisations").fetchone()[0]
        return [f"local: {self.path} is readable ({n} organisations)"]

    def import_data(
        self, data: Any, lines: Mapping[tuple[Any, ...], int], where: str
    ) -> dict[str, int]:
        """Import parsed import-format data (rule tests' ``dataset:`` uses this)."""
        return import_data(self, data, lines, where)

    def setup(self, dry_run: bool = False) -> list[str]:
        """Create the database (idempotent)."""
        if dry_run:
            return [f"would create or open the local database {self.path}"]
        _ = self.db
        return [f"local database ready at {self.path}"]
