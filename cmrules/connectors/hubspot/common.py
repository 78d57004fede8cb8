"""Names and small pure helpers every module of the HubSpot package shares.

The ``cmrules_*`` company properties, the note footer marker, API limits, and helpers for
ids, chunking and message scrubbing.  No I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

from cmrules.errors import ConnectorError

DEFAULT_BASE_URL = "https://api.hubapi.com"
BATCH_READ_LIMIT = 100  # object batch read inputs
BATCH_WRITE_LIMIT = 100  # object batch create / update inputs
ASSOC_BATCH_LIMIT = 1000  # v4 association batch read inputs
SEARCH_PAGE_LIMIT = 200  # search page size
SEARCH_CAP = 10_000  # results per search query; paging past it is a 400
NOTE_BODY_LIMIT = 65_536
NOTE_TO_COMPANY = 190
TASK_TO_COMPANY = 192  # HUBSPOT_DEFINED task -> company
PROP_OWNER = "hubspot_owner_id"  # the record owner (companies, tasks); into Organisation.properties

PROPERTY_GROUP = "cmrules"
PROP_RISK = "cmrules_risk_level"
PROP_FLAGS = "cmrules_flags"
PROP_EVALUATED = "cmrules_last_evaluated"
PROP_FINGERPRINT = "cmrules_fingerprint"
PROP_HISTORY = "cmrules_history"  # the record's flag history, compact JSON (cmrules.flaghistory)
FLAG_PROPERTIES = (PROP_RISK, PROP_FLAGS, PROP_EVALUATED, PROP_HISTORY, PROP_FINGERPRINT)
#: Organisation.writeback key for each flag property.
WRITEBACK_KEYS = {
    PROP_FINGERPRINT: "fingerprint",
    PROP_RISK: "risk_level",
    PROP_FLAGS: "flags",
    PROP_EVALUATED: "last_evaluated",
    PROP_HISTORY: "history",
}
#: Waiver fields the salesperson fills in on the company (read, never written by cmrules).
PROP_WAIVED_RULES = "cmrules_waived_rules"
PROP_WAIVER_REASON = "cmrules_waiver_reason"
PROP_WAIVER_UNTIL = "cmrules_waiver_until"
PROP_WAIVER_BY = "cmrules_waiver_by"
WAIVER_PROPERTIES = {
    PROP_WAIVED_RULES: "rules", PROP_WAIVER_REASON: "reason", PROP_WAIVER_UNTIL: "until",
    PROP_WAIVER_BY: "by",
}  # fmt: skip
RISK_LEVELS = ("high", "medium", "low", "info", "none")

#: The marker the core puts in each note's footer; note_exists/notes look for it.
FOOTER_RE = re.compile(r"cmrules:([A-Za-z0-9][A-Za-z0-9_.\-]*)")


_URL_QUERY = re.compile(r"(https?://[^\s?#\"']+)\?[^\s\"']*")


def scrub(text: str) -> str:
    """Drop query strings from URLs quoted in a message (they can carry tokens)."""
    return _URL_QUERY.sub(r"\1", text)


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def str_id(value: Any) -> str:
    """``toObjectId`` arrives as an integer on the wire and a string in the spec."""
    if isinstance(value, bool) or value is None:
        raise ConnectorError(f"HubSpot sent an invalid record id {value!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def id_key(value: str) -> tuple[int, str]:
    """Sort key for record ids: numeric ids in numeric order, then the others."""
    return (int(value), "") if value.isdigit() else (math.inf, value)  # type: ignore[return-value]


def shape(body: Any, key: str, where: str) -> list[Any]:
    """The list under ``key`` of an answer, or a connector error naming ``where``."""
    if not isinstance(body, dict):
        raise ConnectorError(f"HubSpot {where}: unexpected answer (not a JSON object)")
    value = body.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConnectorError(f"HubSpot {where}: unexpected answer ('{key}' is not a list)")
    return value


def list_of_dicts(value: Any) -> list[dict[str, Any]]:
    """The dict items of ``value`` when it is a list (anything else: none)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


class NoteIndex:
    """The ``cmrules:`` fingerprints on the companies whose notes were all read in this run
    (company -> fingerprint -> id of the first note, in id order, carrying it).

    The reader fills it when it reads ``notes`` as activities; the writer looks fingerprints
    up here instead of reading the same notes again, and forgets a company as soon as it may
    have written a note on it.  A company without a cmrules note costs one set entry."""

    def __init__(self) -> None:
        self._read: set[str] = set()
        self._marked: dict[str, dict[str, str]] = {}

    def add(self, company: str, notes: dict[str, str]) -> None:
        """Every note of ``company`` (note id -> body) has been read."""
        self._read.add(company)
        self._marked.pop(company, None)
        for note_id in sorted(notes, key=id_key):
            for marker in FOOTER_RE.findall(notes[note_id]):
                self._marked.setdefault(company, {}).setdefault(marker, note_id)

    def known(self, company: str) -> bool:
        """True when every note of ``company`` was read (and none written since)."""
        return company in self._read

    def find(self, company: str, fingerprint: str) -> str | None:
        """The id of the note of a known company carrying ``fingerprint``, if any."""
        return self._marked.get(company, {}).get(fingerprint)

    def forget(self, company: str) -> None:
        """A note may have been written on ``company``: read its notes afresh from now on."""
        self._read.discard(company)
        self._marked.pop(company, None)
