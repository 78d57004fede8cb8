"""Stored rows back to the model: organisations (with their waivers), contacts, activities.

The reading side of the local store, used by :mod:`.connector`.  Rows come from the store
cmrules itself wrote (``local import``, write-back), so the common shapes — ``…Z`` instants,
``[]`` lists, known enum values — take a short path; anything else goes through the general
parsers, which raise as before.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from cmrules.model import (
    CONTACT_ATTRIBUTES,
    ORG_ATTRIBUTES,
    Activity,
    ActivityKind,
    Contact,
    Organisation,
    OrgKind,
    Role,
    Side,
)
from cmrules.values import parse_datetime

from .store import decode_attrs

ORG_SQL = (
    "SELECT o.id, o.name, o.kind, o.domain, o.external_id, o.attributes, o.updated_at, "
    "f.fingerprint, f.history FROM organisations o LEFT JOIN flags f ON f.subject_id = o.id"
)
CONTACT_COLS = "id, name, org_id, roles, email, job_title, attributes"
ACTIVITY_COLS = (
    "id, kind, timestamp, company_id, vendor_id, side, contact_ids, status, decided_at, tags, "
    "title, first_reply_minutes, replies"
)
_WAIVER_SQL = "SELECT subject_id, id, rule_id, vendor, until, reason, waived_by FROM waivers "

_KINDS = {k.value: k for k in ActivityKind}
_SIDES = {s.value: s for s in Side}
_EMPTY: frozenset[str] = frozenset()


def instant(value: Any) -> datetime | None:
    """A stored instant: ``fromisoformat`` straight away for the ``…Z`` form the store
    writes, :func:`~cmrules.values.parse_datetime` (the same result, and its errors) for any
    other."""
    if type(value) is str and len(value) == 20 and value[-1] == "Z" and value[10] == "T":
        try:
            return datetime.fromisoformat(value)  # tz-aware UTC, as parse_datetime returns
        except ValueError:
            pass
    return parse_datetime(value)


def _waiver(wid: int, rule: str, vendor: Any, until: Any, reason: Any, by: Any) -> dict[str, Any]:
    return {
        "rules": rule, "vendor": vendor, "until": until, "reason": reason, "by": by,
        "origin": "local", "where": f"local waiver #{wid}",
    }  # fmt: skip


def waivers_of(db: sqlite3.Connection, ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """The waiver rows of the organisations ``ids`` (at most 500), raw, in one statement, as
    ``Organisation.waivers`` holds them (the core validates them)."""
    out: dict[str, list[dict[str, Any]]] = {}
    if not ids:
        return out
    marks = ",".join("?" * len(ids))
    sql = _WAIVER_SQL + f"WHERE subject_id IN ({marks}) ORDER BY subject_id, id"
    for sid, *row in db.execute(sql, list(ids)):
        out.setdefault(sid, []).append(_waiver(*row))
    return out


def organisation(
    row: Sequence[Any], waivers: Sequence[Mapping[str, Any]], source: str
) -> Organisation:
    """An ``ORG_SQL`` row and the organisation's waiver rows -> the model."""
    oid, name, kind, domain, ext, attrs, updated, fingerprint, history = row
    raw = json.loads(attrs or "{}")
    return Organisation(
        id=oid,
        name=name,
        kind=OrgKind(kind),
        domain=domain,
        external_id=ext,
        attributes=decode_attrs(raw, ORG_ATTRIBUTES),
        writeback={"fingerprint": fingerprint, "history": history or ""} if fingerprint else {},
        waivers=tuple(waivers),
        properties=raw.get("properties", {}),
        source=source,
        updated_at=instant(updated),
    )


def contact(c: Sequence[Any]) -> Contact:
    """A ``CONTACT_COLS`` row -> the model."""
    return Contact(
        id=c[0],
        name=c[1],
        org_id=c[2],
        roles=frozenset(Role(r) for r in c[3].split(";") if r),
        email=c[4],
        job_title=c[5],
        attributes=decode_attrs(c[6], CONTACT_ATTRIBUTES),
    )


def strings(text: str) -> list[str]:
    """A stored JSON list of strings (``[]``, the common case, without parsing)."""
    return [] if text == "[]" else json.loads(text)  # type: ignore[no-any-return]


def activity(a: Sequence[Any]) -> Activity:
    """An ``ACTIVITY_COLS`` row -> the model."""
    kind = _KINDS.get(a[1]) or ActivityKind(a[1])
    side = (_SIDES.get(a[5]) or Side(a[5])) if a[5] else None
    tags = _EMPTY if a[9] == "[]" else frozenset(json.loads(a[9]))
    return Activity(
        id=a[0],
        kind=kind,
        timestamp=instant(a[2]),
        company_id=a[3],
        vendor_id=a[4],
        side=side,
        contact_ids=tuple(strings(a[6])),
        status=a[7],
        decided_at=instant(a[8]),
        tags=tags,
        title=a[10],
        first_reply_minutes=a[11],
        replies=a[12],
    )
