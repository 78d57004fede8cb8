"""Write-back to Zendesk: cmrules' block in the organisation's ``notes`` and its
``cmrules_`` tags, written together in one ``PUT /api/v2/organizations/{id}`` (atomic on
Zendesk).  Change-only: the organisation is re-read and merged, and nothing is sent when it
already matches.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cmrules.connector import Flags, RenderedNote, StoredNote
from cmrules.errors import WriteError
from cmrules.http import HttpError
from cmrules.model import Organisation

from .blocks import TAG_PREFIX, flag_tags, merge_notes, merge_tags, read_block, render_block
from .client import ZendeskClient
from .mappers import HISTORY_FIELD, dt
from .ownwrites import OwnWrites
from .settings import API, ZendeskSettings
from .streams import ZendeskStreams

log = logging.getLogger("cmrules.connectors.zendesk")


class ZendeskWriter:
    """Notes block and tags, read-merge-write, change-only."""

    def __init__(
        self,
        client: ZendeskClient,
        streams: ZendeskStreams,
        settings: ZendeskSettings,
        own: OwnWrites | None = None,
    ):
        self.client = client
        self.streams = streams
        self.settings = settings
        #: what cmrules wrote, so that the next incremental sync skips it (:mod:`.ownwrites`)
        self.own = own

    def _org_where(self, subject: Organisation) -> str:
        return f"zendesk organisation {subject.name!r} (id {subject.id})"

    def _up_to_date(
        self,
        raw: Mapping[str, Any],
        fingerprint: str | None,
        tags: set[str] | None,
        history: str | None = None,
    ) -> tuple[bool, bool]:
        block = read_block(raw.get("notes"))
        notes_ok = fingerprint is None or (block is not None and block.fingerprint == fingerprint)
        current = {t for t in raw.get("tags") or [] if t.startswith(TAG_PREFIX)}
        tags_ok = tags is None or current == tags
        fields = raw.get("organization_fields") or {}
        if history is not None and HISTORY_FIELD in fields:  # the field exists: keep it current
            tags_ok = tags_ok and (fields.get(HISTORY_FIELD) or "") == history
        return notes_ok, tags_ok

    def _write(
        self,
        subject: Organisation,
        note: RenderedNote | None,
        tags: set[str] | None,
        history: str | None = None,
    ) -> bool:
        """Change-only read-merge-write of notes and/or tags (with the flag history, when the
        organisation has the ``cmrules_history`` field); True when the block was written."""
        fingerprint = note.fingerprint if note else None
        known = self.streams.orgs.get(subject.id)
        if known is not None and all(self._up_to_date(known, fingerprint, tags, history)):
            return False  # the state read at load time already matches: no call at all
        raw = self.streams.org(subject.id, fresh=True)  # merge into the latest human text
        notes_ok, tags_ok = self._up_to_date(raw, fingerprint, tags, history)
        if notes_ok and tags_ok:
            return False
        where = self._org_where(subject)
        change: dict[str, Any] = {}
        if not notes_ok and note is not None:
            change["notes"] = merge_notes(
                raw.get("notes"), render_block(note, self.settings.notes_max_chars), where
            )
        if not tags_ok and tags is not None:
            change["tags"] = merge_tags(raw.get("tags") or [], tags)
            fields = dict(raw.get("organization_fields") or {})
            if history is not None and HISTORY_FIELD in fields:
                change["organization_fields"] = {**fields, HISTORY_FIELD: history}
        try:
            body = self.client.request(
                "PUT", f"{API}/organizations/{subject.id}", json_body={"organization": change}
            )
        except HttpError as exc:
            raise WriteError(f"{where}: writing notes/tags failed: {exc}") from None
        updated = body.get("organization") if isinstance(body, dict) else None
        answer = updated if isinstance(updated, dict) else None
        if self.own is not None:
            self.own.record(subject.id, known, raw, change, answer)
        self.streams.orgs[subject.id] = answer if answer is not None else {**raw, **change}
        log.info("zendesk: wrote %s to organisation %s", "+".join(sorted(change)), subject.id)
        return "notes" in change

    def apply(self, note: RenderedNote) -> bool:
        """One PUT carries the notes block and the flag tags together (atomic on Zendesk)."""
        return self._write(note.subject, note, flag_tags(note.flags), note.flags.history)

    def note_exists(self, subject: Organisation, fingerprint: str) -> bool:
        """True when the organisation's notes hold the block with ``fingerprint``."""
        block = read_block(self.streams.org(subject.id, fresh=True).get("notes"))
        return block is not None and block.fingerprint == fingerprint

    def write_note(self, subject: Organisation, note: RenderedNote) -> str:
        """Merge the block into the organisation's notes."""
        self._write(subject, note, None)
        return f"{subject.id}:cmrules"

    def write_flags(self, subject: Organisation, flags: Flags) -> None:
        """Replace the organisation's ``cmrules_`` tags."""
        self._write(subject, None, flag_tags(flags), flags.history)

    def notes(self, subject: Organisation) -> list[StoredNote]:
        """cmrules' block on the organisation, if any."""
        raw = self.streams.org(subject.id, fresh=True)
        block = read_block(raw.get("notes"))
        if block is None:
            return []
        created = block.written_at or dt(raw.get("updated_at")) or datetime.now(UTC)
        return [
            StoredNote(f"{subject.id}:cmrules", subject.id, created, block.fingerprint, block.body)
        ]
