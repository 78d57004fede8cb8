"""The embedded default connector: a SQLite database, created on first use from the demo.

Works with no network and no config.  ``cmrules local import FILE`` loads your own
organisations, contacts, activities and engagements from YAML or JSON (see
``examples/import-example.yaml``); a bad row is reported with its file, row and line, and
nothing partial is committed.  Notes cmrules writes back are stored in the same database.
"""

from __future__ import annotations

import difflib
import json
import os
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import yaml

from cmrules.connector import (
    ChangeSet,
    Connector,
    ConnectorContext,
    Flags,
    RenderedNote,
    StoredNote,
)
from cmrules.errors import ConfigError, ConnectorError, UsageError
from cmrules.model import (
    CONTACT_ATTRIBUTES,
    ENGAGEMENT_ATTRIBUTES,
    ORG_ATTRIBUTES,
    Activity,
    ActivityKind,
    Contact,
    Dataset,
    Engagement,
    Organisation,
    OrgKind,
    Role,
    Side,
)
from cmrules.values import iso, parse_bool, parse_datetime, parse_number
from cmrules.yamlutil import error_line, line_of, load_with_lines

SCHEMA_VERSION = "1"
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
    updated_at TEXT NOT NULL, PRIMARY KEY (company_id, vendor_id));
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, subject_id TEXT NOT NULL, fingerprint TEXT NOT NULL,
    language TEXT NOT NULL, body_text TEXT NOT NULL, body_html TEXT NOT NULL,
    created_at TEXT NOT NULL, UNIQUE (subject_id, fingerprint));
CREATE TABLE IF NOT EXISTS flags (
    subject_id TEXT PRIMARY KEY, risk_level TEXT NOT NULL, rule_ids TEXT NOT NULL,
    evaluated_at TEXT NOT NULL, fingerprint TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS contacts_org ON contacts(org_id);
CREATE INDEX IF NOT EXISTS activities_company ON activities(company_id);
"""


def default_path() -> Path:
    home = os.environ.get("CMRULES_HOME")
    base = Path(home) if home else Path.home() / ".local" / "share" / "cmrules"
    return base / "local.sqlite3"


def demo_file() -> Path:
    return Path(str(resources.files("cmrules").joinpath("data/demo.yaml")))


class LocalConnector(Connector):
    """SQLite-backed connector (config section ``local``)."""

    name = "local"
    settings_keys: ClassVar[frozenset[str]] = frozenset({"path", "demo"})

    def __init__(self, settings: Mapping[str, Any], context: ConnectorContext | None = None):
        super().__init__(settings, context)
        path = self.settings.get("path")
        self.path = Path(os.path.expanduser(str(path))) if path else default_path()
        self.created = False
        self._db: sqlite3.Connection | None = None

    # -- database -----------------------------------------------------------------------------
    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            new = not self.path.exists()
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path)
                self._db.executescript(_SCHEMA)
            except (OSError, sqlite3.Error) as exc:
                raise ConnectorError(
                    f"cannot open the local database {self.path}: {exc}; set local.path in "
                    "your config (or CMRULES_HOME) to a writable location"
                ) from None
            self._db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
            )
            self._db.commit()
            if new and self.settings.get("demo", True):
                import_file(self, demo_file())
                self.created = True
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def describe(self) -> str:
        return f"local database {self.path}"

    # -- reading ------------------------------------------------------------------------------
    def _org(self, row: sqlite3.Row | tuple[Any, ...]) -> Organisation:
        oid, name, kind, domain, ext, attrs, updated = row
        flags = self.db.execute(
            "SELECT fingerprint FROM flags WHERE subject_id = ?", (oid,)
        ).fetchone()
        return Organisation(
            id=oid,
            name=name,
            kind=OrgKind(kind),
            domain=domain,
            external_id=ext,
            attributes=_decode_attrs(attrs, ORG_ATTRIBUTES),
            writeback={"fingerprint": flags[0]} if flags else {},
            source=self.name,
            updated_at=parse_datetime(updated),
        )

    def organisations(self, kind: OrgKind | None = None) -> list[Organisation]:
        sql = (
            "SELECT id, name, kind, domain, external_id, attributes, updated_at FROM organisations"
        )
        rows = (
            self.db.execute(sql + " WHERE kind = ? ORDER BY name", (kind.value,))
            if kind
            else self.db.execute(sql + " ORDER BY name")
        )
        return [self._org(r) for r in rows.fetchall()]

    def find_organisations(self, text: str, kind: OrgKind) -> list[Organisation]:
        return self.organisations(kind)

    def vendors_of(self, company_ids: Iterable[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for cid in company_ids:
            rows = self.db.execute(
                "SELECT vendor_id FROM engagements WHERE company_id = ? ORDER BY vendor_id", (cid,)
            ).fetchall()
            out[cid] = [r[0] for r in rows]
        return out

    def load(self, vendor_ids: Iterable[str], company_ids: Iterable[str] | None = None) -> Dataset:
        vendor_ids = list(dict.fromkeys(vendor_ids))
        wanted = None if company_ids is None else set(company_ids)
        ds = Dataset()
        org_ids: set[str] = set()
        for vid in vendor_ids:
            org_ids.add(vid)
            for row in self.db.execute(
                "SELECT company_id, vendor_id, started_at, vendor_contact_ids, attributes "
                "FROM engagements WHERE vendor_id = ?",
                (vid,),
            ).fetchall():
                if wanted is not None and row[0] not in wanted:
                    continue
                org_ids.add(row[0])
                ds.add(
                    Engagement(
                        company_id=row[0],
                        vendor_id=row[1],
                        started_at=parse_datetime(row[2]),
                        vendor_contact_ids=tuple(json.loads(row[3])),
                        attributes=_decode_attrs(row[4], ENGAGEMENT_ATTRIBUTES),
                    )
                )
        for oid in sorted(org_ids):
            row = self.db.execute(
                "SELECT id, name, kind, domain, external_id, attributes, updated_at "
                "FROM organisations WHERE id = ?",
                (oid,),
            ).fetchone()
            if row is not None:
                ds.add(self._org(row))
            for c in self.db.execute(
                "SELECT id, name, org_id, roles, email, job_title, attributes FROM contacts "
                "WHERE org_id = ? ORDER BY id",
                (oid,),
            ).fetchall():
                ds.add(
                    Contact(
                        id=c[0],
                        name=c[1],
                        org_id=c[2],
                        roles=frozenset(Role(r) for r in c[3].split(";") if r),
                        email=c[4],
                        job_title=c[5],
                        attributes=_decode_attrs(c[6], CONTACT_ATTRIBUTES),
                    )
                )
        companies = [o for o in org_ids if o not in vendor_ids]
        for cid in sorted(companies):
            for a in self.db.execute(
                "SELECT id, kind, timestamp, company_id, vendor_id, side, contact_ids, status, "
                "decided_at, tags, title, first_reply_minutes, replies FROM activities "
                "WHERE company_id = ? ORDER BY timestamp, id",
                (cid,),
            ).fetchall():
                if a[4] is not None and a[4] not in vendor_ids:
                    continue
                ds.add(
                    Activity(
                        id=a[0],
                        kind=ActivityKind(a[1]),
                        timestamp=parse_datetime(a[2]),
                        company_id=a[3],
                        vendor_id=a[4],
                        side=Side(a[5]) if a[5] else None,
                        contact_ids=tuple(json.loads(a[6])),
                        status=a[7],
                        decided_at=parse_datetime(a[8]),
                        tags=frozenset(json.loads(a[9])),
                        title=a[10],
                        first_reply_minutes=a[11],
                        replies=a[12],
                    )
                )
        return ds

    def changed_since(self, since: datetime | None, run_started: datetime) -> ChangeSet:
        ids: set[str] = set()
        stamp = iso(since) if since else ""
        for sql in (
            "SELECT id FROM organisations WHERE updated_at >= ?",
            "SELECT org_id FROM contacts WHERE updated_at >= ? AND org_id IS NOT NULL",
            "SELECT company_id FROM activities WHERE updated_at >= ? AND company_id IS NOT NULL",
            "SELECT vendor_id FROM activities WHERE updated_at >= ? AND vendor_id IS NOT NULL",
            "SELECT company_id FROM engagements WHERE updated_at >= ?",
            "SELECT vendor_id FROM engagements WHERE updated_at >= ?",
        ):
            ids.update(r[0] for r in self.db.execute(sql, (stamp,)).fetchall())
        return ChangeSet(frozenset(ids), run_started)

    # -- writing ------------------------------------------------------------------------------
    def note_exists(self, subject: Organisation, fingerprint: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM notes WHERE subject_id = ? AND fingerprint = ?",
            (subject.id, fingerprint),
        ).fetchone()
        return row is not None

    def write_note(self, subject: Organisation, note: RenderedNote) -> str:
        self.context.count("write_calls")
        with self.db:
            cur = self.db.execute(
                "INSERT INTO notes (subject_id, fingerprint, language, body_text, body_html, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    subject.id,
                    note.fingerprint,
                    note.language,
                    note.text,
                    note.html,
                    iso(datetime.now(UTC)),
                ),
            )
        return str(cur.lastrowid)

    def write_flags(self, subject: Organisation, flags: Flags) -> None:
        self.context.count("write_calls")
        with self.db:
            self.db.execute(
                "INSERT INTO flags VALUES (?, ?, ?, ?, ?) ON CONFLICT(subject_id) DO UPDATE SET "
                "risk_level=excluded.risk_level, rule_ids=excluded.rule_ids, "
                "evaluated_at=excluded.evaluated_at, fingerprint=excluded.fingerprint",
                (
                    subject.id,
                    flags.risk_level,
                    ";".join(flags.rule_ids),
                    iso(flags.evaluated_at),
                    flags.fingerprint,
                ),
            )

    def notes(self, subject: Organisation) -> list[StoredNote]:
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
        n = self.db.execute("SELECT COUNT(*) FROM organisations").fetchone()[0]
        return [f"local: {self.path} is readable ({n} organisations)"]

    def setup(self, dry_run: bool = False) -> list[str]:
        if dry_run:
            return [f"would create or open the local database {self.path}"]
        _ = self.db
        return [f"local database ready at {self.path}"]


# ------------------------------------------------------------------------------------------
# import
# ------------------------------------------------------------------------------------------
_SECTIONS = ("organisations", "contacts", "activities", "engagements")
_KEYS = {
    "organisations": {"id", "name", "kind", "domain", "external_id", "attributes"},
    "contacts": {"id", "name", "org", "roles", "email", "job_title", "attributes"},
    "activities": {
        "id",
        "kind",
        "date",
        "company",
        "vendor",
        "side",
        "contacts",
        "status",
        "decided",
        "tags",
        "title",
        "first_reply_minutes",
        "replies",
    },
    "engagements": {"company", "vendor", "started", "vendor_contacts", "attributes"},
}


class _RowError(Exception):
    pass


def import_file(conn: LocalConnector, path: Path | str) -> dict[str, int]:
    """Load a YAML/JSON file into the local database in one transaction.

    Returns counts per section.  Raises :class:`UsageError` naming the file, the row and its
    line for the first bad row; nothing is committed then.
    """
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"{path}: cannot read the import file ({exc.__class__.__name__})"
        ) from None
    try:
        data, lines = load_with_lines(text)  # JSON is YAML
    except yaml.YAMLError as exc:
        raise UsageError(
            f"{path}:{error_line(exc)}: not valid YAML/JSON: {getattr(exc, 'problem', exc)}"
        ) from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}:1: expected a mapping with keys {', '.join(_SECTIONS)}")
    unknown = set(data) - set(_SECTIONS)
    if unknown:
        key = sorted(unknown)[0]
        raise UsageError(
            f"{path}:{line_of(lines, (key,))}: unknown section {key!r}; "
            f"expected {', '.join(_SECTIONS)}"
        )
    db = conn.db
    now = iso(datetime.now(UTC)) or ""
    counts = dict.fromkeys(_SECTIONS, 0)
    known_orgs = {r[0]: r[1] for r in db.execute("SELECT id, kind FROM organisations")}
    for row in data.get("organisations") or []:
        if isinstance(row, dict) and row.get("id") is not None:
            known_orgs[str(row["id"])] = str(row.get("kind", ""))
    try:
        with db:
            for section in _SECTIONS:
                rows = data.get(section) or []
                if not isinstance(rows, list):
                    raise UsageError(
                        f"{path}:{line_of(lines, (section,))}: {section} must be a list"
                    )
                for i, row in enumerate(rows):
                    where = f"{path}:{line_of(lines, (section, i))}: {section}[{i}]"
                    try:
                        if not isinstance(row, dict):
                            raise _RowError("expected a mapping")
                        extra = set(row) - _KEYS[section]
                        if extra:
                            raise _RowError(
                                f"unknown field {sorted(extra)[0]!r}; allowed: "
                                f"{', '.join(sorted(_KEYS[section]))}"
                            )
                        _INSERT[section](db, row, known_orgs, now)
                    except _RowError as exc:
                        raise UsageError(f"{where}: {exc}; nothing was imported") from None
                    except ValueError as exc:
                        raise UsageError(f"{where}: {exc}; nothing was imported") from None
                    counts[section] += 1
    except sqlite3.Error as exc:
        raise ConnectorError(f"{path}: the local database refused the import: {exc}") from None
    return counts


def _req(row: Mapping[str, Any], key: str) -> str:
    value = row.get(key)
    if value is None or str(value).strip() == "":
        raise _RowError(f"missing required field {key!r}")
    return str(value)


def _enum(value: Any, enum: type, field: str) -> Any:
    try:
        return enum(str(value))
    except ValueError:
        allowed = ", ".join(e.value for e in enum)  # type: ignore[attr-defined]
        close = difflib.get_close_matches(str(value), [e.value for e in enum], n=1)  # type: ignore[attr-defined]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise _RowError(f"{field} {value!r} is not one of {allowed}{hint}") from None


def _attrs(raw: Any, allowed: Mapping[str, type]) -> str:
    if raw is None:
        return "{}"
    if not isinstance(raw, dict):
        raise _RowError("attributes must be a mapping")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        kind = allowed.get(key)
        if kind is None:
            raise _RowError(f"unknown attribute {key!r}; allowed: {', '.join(sorted(allowed))}")
        if value is None:
            continue
        if kind is bool:
            out[key] = parse_bool(value)
        elif kind is datetime:
            out[key] = iso(parse_datetime(value))
        else:
            out[key] = str(value)
    return json.dumps(out, sort_keys=True)


def _decode_attrs(text: str, allowed: Mapping[str, type]) -> dict[str, Any]:
    raw = json.loads(text or "{}")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if allowed.get(key) is datetime:
            out[key] = parse_datetime(value)
        elif key in allowed:
            out[key] = value
    return out


def _org_ref(value: Any, known: Mapping[str, str], field: str, kind: str | None = None) -> str:
    ref = str(value)
    if ref not in known:
        raise _RowError(f"{field} {ref!r} is not a known organisation id")
    if kind and known[ref] != kind:
        raise _RowError(f"{field} {ref!r} is a {known[ref] or 'record'}, expected a {kind}")
    return ref


def _list(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(";") if v.strip()]
    if not isinstance(value, list):
        raise _RowError(f"{field} must be a list")
    return [str(v) for v in value]


def _ins_org(db: sqlite3.Connection, row: Mapping[str, Any], known: Any, now: str) -> None:
    kind = _enum(_req(row, "kind"), OrgKind, "kind")
    db.execute(
        "INSERT INTO organisations VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
        "name=excluded.name, kind=excluded.kind, domain=excluded.domain, "
        "external_id=excluded.external_id, attributes=excluded.attributes, "
        "updated_at=excluded.updated_at",
        (
            _req(row, "id"),
            _req(row, "name"),
            kind.value,
            row.get("domain"),
            row.get("external_id"),
            _attrs(row.get("attributes"), ORG_ATTRIBUTES),
            now,
        ),
    )


def _ins_contact(db: sqlite3.Connection, row: Mapping[str, Any], known: Any, now: str) -> None:
    roles = [_enum(r, Role, "role").value for r in _list(row.get("roles"), "roles")]
    org = _org_ref(row["org"], known, "org") if row.get("org") is not None else None
    db.execute(
        "INSERT INTO contacts VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
        "name=excluded.name, org_id=excluded.org_id, roles=excluded.roles, "
        "email=excluded.email, job_title=excluded.job_title, attributes=excluded.attributes, "
        "updated_at=excluded.updated_at",
        (
            _req(row, "id"),
            _req(row, "name"),
            org,
            ";".join(roles),
            row.get("email"),
            row.get("job_title"),
            _attrs(row.get("attributes"), CONTACT_ATTRIBUTES),
            now,
        ),
    )


def _ins_activity(db: sqlite3.Connection, row: Mapping[str, Any], known: Any, now: str) -> None:
    kind = _enum(_req(row, "kind"), ActivityKind, "kind")
    side = _enum(row["side"], Side, "side").value if row.get("side") else None
    company = _org_ref(row["company"], known, "company", "company") if row.get("company") else None
    vendor = _org_ref(row["vendor"], known, "vendor", "vendor") if row.get("vendor") else None
    if company is None:
        raise _RowError("missing required field 'company'")
    minutes = parse_number(row.get("first_reply_minutes"))
    replies = parse_number(row.get("replies"))
    if minutes is not None and minutes < 0:
        raise _RowError(f"first_reply_minutes must be >= 0, got {minutes}")
    if replies is not None and (replies < 0 or replies != int(replies)):
        raise _RowError(f"replies must be a whole number >= 0, got {replies}")
    db.execute(
        "INSERT INTO activities VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET kind=excluded.kind, timestamp=excluded.timestamp, "
        "company_id=excluded.company_id, vendor_id=excluded.vendor_id, side=excluded.side, "
        "contact_ids=excluded.contact_ids, status=excluded.status, "
        "decided_at=excluded.decided_at, tags=excluded.tags, title=excluded.title, "
        "first_reply_minutes=excluded.first_reply_minutes, replies=excluded.replies, "
        "updated_at=excluded.updated_at",
        (
            _req(row, "id"),
            kind.value,
            iso(parse_datetime(row.get("date"))),
            company,
            vendor,
            side,
            json.dumps(_list(row.get("contacts"), "contacts")),
            str(row["status"]).lower() if row.get("status") is not None else None,
            iso(parse_datetime(row.get("decided"))),
            json.dumps(sorted(t.lower() for t in _list(row.get("tags"), "tags"))),
            str(row.get("title") or ""),
            minutes,
            int(replies) if replies is not None else None,
            now,
        ),
    )


def _ins_engagement(db: sqlite3.Connection, row: Mapping[str, Any], known: Any, now: str) -> None:
    company = _org_ref(_req(row, "company"), known, "company", "company")
    vendor = _org_ref(_req(row, "vendor"), known, "vendor", "vendor")
    db.execute(
        "INSERT INTO engagements VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(company_id, vendor_id) "
        "DO UPDATE SET started_at=excluded.started_at, "
        "vendor_contact_ids=excluded.vendor_contact_ids, attributes=excluded.attributes, "
        "updated_at=excluded.updated_at",
        (
            company,
            vendor,
            iso(parse_datetime(row.get("started"))),
            json.dumps(_list(row.get("vendor_contacts"), "vendor_contacts")),
            _attrs(row.get("attributes"), ENGAGEMENT_ATTRIBUTES),
            now,
        ),
    )


_INSERT = {
    "organisations": _ins_org,
    "contacts": _ins_contact,
    "activities": _ins_activity,
    "engagements": _ins_engagement,
}

__all__ = ["LocalConnector", "import_file", "default_path", "demo_file", "ConfigError"]
