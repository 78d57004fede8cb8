"""A complete minimal cmrules connector: records in a folder of JSON files (docs/connectors.md).

Reads organisations/contacts/activities/engagements.json (lists of records, as in
examples/import-example.yaml); writes notes.json and flags.json, each replaced atomically.
Entry point: ``[project.entry-points."cmrules.connectors"] folder = "folder_connector:..."``
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from cmrules import model as m
from cmrules.connector import Connector, ConnectorContext, Flags, RenderedNote, StoredNote
from cmrules.errors import ConnectorError, WriteError
from cmrules.values import parse_bool, parse_datetime

SCHEMA = {"type": "object", "additionalProperties": False, "required": ["path"],
          "properties": {"path": {"type": "string", "minLength": 1}}}  # fmt: skip


class FolderConnector(Connector):
    """Reads the four JSON files of a folder; writes notes.json and flags.json beside them."""

    name: ClassVar[str] = "folder"
    settings_schema: ClassVar[Mapping[str, Any]] = SCHEMA
    settings_keys: ClassVar[frozenset[str]] = frozenset(SCHEMA["properties"])

    def __init__(self, settings: Mapping[str, Any], context: ConnectorContext | None = None):
        super().__init__(settings, context)
        self.folder = Path(self.settings["path"])

    def _read(self, name: str, default: Any) -> Any:
        path = self.folder / name
        if not path.exists():
            return default
        try:
            return json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:  # unreadable or not JSON: a source failure
            raise ConnectorError(f"{path}: cannot read ({exc.__class__.__name__})") from None

    def _save(self, name: str, data: Any) -> None:
        self.context.count("write_calls")
        tmp = self.folder / f".{name}.tmp"
        try:  # write aside, then rename: a crash leaves the old file or the new one
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True), "utf-8")
            tmp.replace(self.folder / name)
        except OSError as exc:
            raise WriteError(f"{self.folder / name}: cannot write ({exc.strerror})") from None

    def _org(self, row: Mapping[str, Any]) -> m.Organisation:
        attributes = {}
        for key, value in (row.get("attributes") or {}).items():
            kind = m.ORG_ATTRIBUTES.get(key)
            parsed = parse_bool(value) if kind is bool else (str(value).strip() or None)
            if kind is not None and parsed is not None:  # blank: unknown, never False
                attributes[key] = parsed
        flags = self._read("flags.json", {}).get(str(row["id"]), {})
        return m.Organisation(
            id=str(row["id"]),
            name=str(row["name"]),
            kind=m.OrgKind(row["kind"]),
            domain=row.get("domain") or None,
            attributes=attributes,
            writeback={"fingerprint": flags["fingerprint"]} if "fingerprint" in flags else {},
            source=self.name,
        )

    def find_organisations(self, text: str, kind: m.OrgKind) -> list[m.Organisation]:
        """Organisations of ``kind`` whose id is ``text`` or whose name contains it."""
        rows = [r for r in self._read("organisations.json", []) if r.get("kind") == kind.value]
        return [
            self._org(r)
            for r in rows
            if text.strip().casefold() in str(r["name"]).casefold() or text.strip() == r["id"]
        ]

    def load(
        self, vendor_ids: Iterable[str], company_ids: Iterable[str] | None = None
    ) -> m.Dataset:
        """The vendors, their engaged companies, contacts and activities."""
        vendors, only = set(vendor_ids), None if company_ids is None else set(company_ids)
        links = [
            e
            for e in self._read("engagements.json", [])
            if e["vendor"] in vendors and (only is None or e["company"] in only)
        ]
        wanted = vendors | {e["company"] for e in links}
        data = m.Dataset()
        for row in self._read("organisations.json", []):
            if row["id"] in wanted:
                data.add(self._org(row))
        for e in links:
            data.add(m.Engagement(e["company"], e["vendor"], parse_datetime(e.get("started"))))
        for c in self._read("contacts.json", []):
            if c["org"] in wanted:
                roles = frozenset(m.Role(r) for r in c.get("roles") or [])
                data.add(m.Contact(c["id"], c["name"], c["org"], roles, None, c.get("job_title")))
        for a in self._read("activities.json", []):
            if a["company"] in wanted and a["company"] not in vendors:
                side = m.Side(a["side"]) if a.get("side") else None
                when = parse_datetime(a.get("date"))
                contacts = tuple(a.get("contacts") or ())
                data.add(m.Activity(a["id"], m.ActivityKind(a["kind"]), when, a["company"],
                                  a.get("vendor"), side, contacts))  # fmt: skip
        return data

    def vendors_of(self, company_ids: Iterable[str]) -> dict[str, list[str]]:
        """company id -> the vendors it is engaged with."""
        links = self._read("engagements.json", [])
        return {c: sorted(e["vendor"] for e in links if e["company"] == c) for c in company_ids}

    def note_exists(self, subject: m.Organisation, fingerprint: str) -> bool:
        """True when notes.json holds this fingerprint for ``subject``."""
        return any(n.fingerprint == fingerprint for n in self.notes(subject))

    def write_note(self, subject: m.Organisation, note: RenderedNote) -> str:
        """Append the note to notes.json (plain text: the file is read by people)."""
        notes = self._read("notes.json", [])
        now = datetime.now(UTC).isoformat()
        notes.append({"id": str(len(notes) + 1), "subject": subject.id, "at": now,
                      "fingerprint": note.fingerprint, "text": note.text})  # fmt: skip
        self._save("notes.json", notes)
        return str(len(notes))

    def write_flags(self, subject: m.Organisation, flags: Flags) -> None:
        """Record the flags, the fingerprint included, in flags.json."""
        table = self._read("flags.json", {})
        table[subject.id] = {"risk_level": flags.risk_level, "rules": list(flags.rule_ids),
                             "fingerprint": flags.fingerprint}  # fmt: skip
        self._save("flags.json", table)

    def notes(self, subject: m.Organisation) -> list[StoredNote]:
        """The notes cmrules wrote on ``subject``, newest first."""
        rows = [n for n in self._read("notes.json", []) if n["subject"] == subject.id]
        stored = [StoredNote(n["id"], subject.id, parse_datetime(n["at"]) or datetime.now(UTC),
                             n["fingerprint"], n["text"]) for n in rows]  # fmt: skip
        return sorted(stored, key=lambda n: n.created_at, reverse=True)

    def setup(self, dry_run: bool = False) -> list[str]:
        """Create notes.json and flags.json when missing (idempotent)."""
        missing = [n for n in ("notes.json", "flags.json") if not (self.folder / n).exists()]
        if not dry_run:
            for name in missing:
                self._save(name, [] if name == "notes.json" else {})
        verb = "would create" if dry_run else "created"  # the plan, or what was done
        return [f"{verb} {self.folder / n}" for n in missing] or [f"{self.folder}: ready"]
