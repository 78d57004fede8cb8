"""What cmrules itself wrote to Zendesk organisations, so that an incremental sync does not
bring those organisations back.

Every ``PUT /api/v2/organizations/{id}`` changes the organisation's ``updated_at``, so the next
incremental organisation export returns every organisation cmrules just wrote.  After each
write cmrules remembers a **digest of the organisation as Zendesk answered the PUT** — every
documented field (:data:`FIELDS`) but ``updated_at``, tags and domain names in any order.  An
exported organisation whose digest equals the remembered one has not changed since cmrules'
own write: it is skipped.  Any other change (a name, a field, a tag, a line of the notes,
cmrules' own block or tags edited by hand) changes the digest, and the organisation is read
again.

The rule compares **content, never timestamps**: ``updated_at`` has a one-second resolution,
the export's ``start_time`` is inclusive and the machine's clock may be off Zendesk's, so a
timestamp rule would either skip a human edit made in the same second as cmrules' write or
re-read cmrules' own writes.  A digest is remembered only when nothing but cmrules' own write
happened since the organisation was read for the evaluation (see :meth:`OwnWrites.record`);
otherwise the id is forgotten and the organisation is read again next time.  The price of a
doubt is one re-read, never a skipped change.

The record is an append-only JSON-lines file in the state directory
(``zendesk-<site>-own-writes.jsonl``): one line per write, the last line of an id wins, a torn
last line (a run killed while appending) is ignored — losing it costs one re-read.  The file
is compacted when it holds more than twice as many lines as organisations.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cmrules.paths import private_dir
from cmrules.state import atomic_write

log = logging.getLogger("cmrules.connectors.zendesk")

#: the organisation's documented fields (api-facts.md Z2) but ``updated_at``, which Zendesk
#: changes on every write, and ``url``; plus ``deleted_at``.  A fixed list, so that the export
#: and the PUT answer compare alike even if one of them carries extra keys; absent = null.
FIELDS = (
    "id",
    "name",
    "external_id",
    "details",
    "notes",
    "domain_names",
    "group_id",
    "shared_tickets",
    "shared_comments",
    "tags",
    "organization_fields",
    "created_at",
    "deleted_at",
)
#: list fields whose order carries no meaning
UNORDERED = ("tags", "domain_names")


def digest(raw: Mapping[str, Any]) -> str:
    """The organisation's content (:data:`FIELDS`); the order of tags and domains ignored."""
    content: dict[str, Any] = {k: raw.get(k) for k in FIELDS}
    for key in UNORDERED:
        values = content.get(key)
        if isinstance(values, list):
            content[key] = sorted(str(v) for v in values)
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


class OwnWrites:
    """Organisation id -> digest of the organisation right after cmrules' last write."""

    def __init__(self, path: Path):
        self.path = path
        self._digests: dict[str, str] | None = None  # read on first use
        self._lines = 0

    def _load(self) -> dict[str, str]:
        if self._digests is not None:
            return self._digests
        digests: dict[str, str] = {}
        lines = 0
        try:
            with self.path.open(encoding="utf-8") as fh:
                for line in fh:
                    lines += 1
                    try:
                        entry = json.loads(line)
                        oid, value = str(entry["id"]), entry.get("digest")
                    except (ValueError, KeyError, TypeError):
                        continue  # a torn line: that organisation is simply read again
                    if isinstance(value, str):
                        digests[oid] = value
                    else:
                        digests.pop(oid, None)
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("zendesk: %s unreadable (%s): own writes will be re-read", self.path, exc)
        self._digests, self._lines = digests, lines
        if lines > 2 * len(digests) + 100:
            self._compact()
        return digests

    def _compact(self) -> None:
        assert self._digests is not None
        text = "".join(_line(oid, d) for oid, d in sorted(self._digests.items()))
        try:
            private_dir(self.path.parent)
            atomic_write(self.path, text.encode("utf-8"), prefix=".own-writes-")
            self._lines = len(self._digests)
        except OSError as exc:
            log.warning("zendesk: could not compact %s (%s)", self.path, exc)

    def _append(self, oid: str, value: str | None) -> None:
        digests = self._load()
        if value is None and oid not in digests:
            return
        if value is None:
            digests.pop(oid, None)
        else:
            digests[oid] = value
        try:
            private_dir(self.path.parent)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(_line(oid, value))
            os.chmod(self.path, 0o600)
            self._lines += 1
        except OSError as exc:  # the write itself landed; the next sync re-reads the record
            log.warning("zendesk: could not record an own write in %s (%s)", self.path, exc)

    def record(
        self,
        oid: str,
        evaluated: Mapping[str, Any] | None,
        before: Mapping[str, Any],
        sent: Mapping[str, Any],
        after: Mapping[str, Any] | None,
    ) -> bool:
        """After a PUT: remember ``after`` (Zendesk's answer) when nothing but cmrules' write
        happened since the evaluation read the organisation — ``evaluated`` (the record the
        findings were computed from) equals ``before`` (re-read just before the PUT), and
        ``after`` differs from ``before`` only in the keys ``sent``.  Otherwise forget the id,
        so that the next sync reads it again.  True when remembered."""
        same = (
            evaluated is not None
            and after is not None
            and digest(evaluated) == digest(before)
            and digest({k: v for k, v in after.items() if k not in sent})
            == digest({k: v for k, v in before.items() if k not in sent})
        )
        self._append(oid, digest(after) if same and after is not None else None)
        return same

    def is_own(self, raw: Mapping[str, Any]) -> bool:
        """True when this exported organisation is exactly as cmrules' last write left it."""
        known = self._load().get(str(raw.get("id")))
        return known is not None and known == digest(raw)


def _line(oid: str, value: str | None) -> str:
    return json.dumps({"id": oid, "digest": value}, separators=(",", ":")) + "\n"
