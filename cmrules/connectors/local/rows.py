"""The rows of a ``local import`` file: the fields each section allows, how a row is checked
and turned into the parameters of its upsert, and the SQL of each upsert."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from cmrules.model import (
    CONTACT_ATTRIBUTES,
    ENGAGEMENT_ATTRIBUTES,
    ORG_ATTRIBUTES,
    ActivityKind,
    OrgKind,
    Role,
    Side,
)
from cmrules.values import iso, parse_bool, parse_datetime, parse_number

SECTIONS = ("organisations", "contacts", "activities", "engagements")
KEYS = {
    "organisations": {"id", "name", "kind", "domain", "external_id", "attributes", "properties"},
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
    "engagements": {
        "company",
        "vendor",
        "started",
        "ended",
        "status",
        "vendor_contacts",
        "attributes",
    },
}


class RowError(Exception):
    """What is wrong with one row (the importer adds its file, line and index)."""


KEY_NAME = {"organisations": "id", "contacts": "id", "activities": "id",
             "engagements": "company/vendor pair"}  # fmt: skip
INT64 = 2**63


def row_key(section: str, row: Mapping[str, Any]) -> Any:
    """What identifies a row in its section: its id, or an engagement's company and vendor."""
    if section == "engagements":
        return (text_value(row.get("company")), text_value(row.get("vendor")))
    return text_value(row.get("id"))


def text_value(value: Any, field: str = "value") -> str | None:
    """A scalar field stored as text (a YAML number or date becomes its text, a list or a
    mapping is an error)."""
    if value is None:
        return None
    if isinstance(value, dict | list):
        raise RowError(f"{field} must be a single value, not a list or mapping")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _req(row: Mapping[str, Any], key: str) -> str:
    value = text_value(row.get(key), key)
    if value is None or value.strip() == "":
        raise RowError(f"missing required field {key!r}")
    return value


def _int64(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if not -INT64 <= value < INT64:
        raise RowError(f"{field} {value!r} is too large (SQLite holds 64-bit integers)")
    return int(value)


def _enum(value: Any, enum: type, field: str) -> Any:
    if isinstance(value, str):  # the usual case, without Enum.__call__'s cost
        member = enum._value2member_map_.get(value)  # type: ignore[attr-defined]
        if member is not None:
            return member
    try:
        return enum(str(value))
    except ValueError:
        allowed = ", ".join(e.value for e in enum)  # type: ignore[attr-defined]
        close = difflib.get_close_matches(str(value), [e.value for e in enum], n=1)  # type: ignore[attr-defined]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise RowError(f"{field} {value!r} is not one of {allowed}{hint}") from None


def _attrs(raw: Any, allowed: Mapping[str, type]) -> str:
    if raw is None:
        return "{}"
    if not isinstance(raw, dict):
        raise RowError("attributes must be a mapping")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        kind = allowed.get(key)
        if kind is None:
            raise RowError(f"unknown attribute {key!r}; allowed: {', '.join(sorted(allowed))}")
        if value is None:
            continue
        if kind is bool:
            parsed: Any = parse_bool(value)
        elif kind is datetime:
            parsed = iso(parse_datetime(value))
        else:
            parsed = (text_value(value, key) or "").strip()
        if parsed is not None and parsed != "":  # a blank value is unknown, not a value
            out[key] = parsed
    return json.dumps(out, sort_keys=True)


def _org_ref(value: Any, known: Mapping[str, str], field: str, kind: str | None = None) -> str:
    ref = str(value)
    if ref not in known:
        raise RowError(f"{field} {ref!r} is not a known organisation id")
    if kind and known[ref] != kind:
        raise RowError(f"{field} {ref!r} is a {known[ref] or 'record'}, expected a {kind}")
    return ref


def _list(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(";") if v.strip()]
    if not isinstance(value, list):
        raise RowError(f"{field} must be a list")
    return [str(v) for v in value]


SQL = {
    "organisations": "INSERT INTO organisations VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) "
    "DO UPDATE SET name=excluded.name, kind=excluded.kind, domain=excluded.domain, "
    "external_id=excluded.external_id, attributes=excluded.attributes, "
    "updated_at=excluded.updated_at",
    "contacts": "INSERT INTO contacts VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE "
    "SET name=excluded.name, org_id=excluded.org_id, roles=excluded.roles, "
    "email=excluded.email, job_title=excluded.job_title, attributes=excluded.attributes, "
    "updated_at=excluded.updated_at",
    "activities": "INSERT INTO activities VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(id) DO UPDATE SET kind=excluded.kind, timestamp=excluded.timestamp, "
    "company_id=excluded.company_id, vendor_id=excluded.vendor_id, side=excluded.side, "
    "contact_ids=excluded.contact_ids, status=excluded.status, "
    "decided_at=excluded.decided_at, tags=excluded.tags, title=excluded.title, "
    "first_reply_minutes=excluded.first_reply_minutes, replies=excluded.replies, "
    "updated_at=excluded.updated_at",
    "engagements": "INSERT INTO engagements (company_id, vendor_id, started_at, "
    "vendor_contact_ids, attributes, updated_at, ended_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, "
    "?) ON CONFLICT(company_id, vendor_id) DO UPDATE SET started_at=excluded.started_at, "
    "vendor_contact_ids=excluded.vendor_contact_ids, attributes=excluded.attributes, "
    "updated_at=excluded.updated_at, ended_at=excluded.ended_at, status=excluded.status",
}
_Params = tuple[Any, ...]


def _org(row: Mapping[str, Any], known: dict[str, str], now: str) -> _Params:
    kind = _enum(_req(row, "kind"), OrgKind, "kind").value
    oid = _req(row, "id")
    values = (
        oid,
        _req(row, "name"),
        kind,
        text_value(row.get("domain"), "domain"),
        text_value(row.get("external_id"), "external_id"),
        _with_properties(_attrs(row.get("attributes"), ORG_ATTRIBUTES), row.get("properties")),
        now,
    )
    known[oid] = kind  # the contacts, activities and engagements after it may refer to it
    return values


def _with_properties(attributes: str, raw: Any) -> str:
    """CRM properties (any name, text values) ride in the attributes JSON as ``properties``."""
    if raw is None:
        return attributes
    if not isinstance(raw, dict):
        raise RowError("properties must map property names to values")
    out = json.loads(attributes)
    texts = {str(k): text_value(v, f"properties.{k}") for k, v in raw.items()}
    out["properties"] = {k: v for k, v in texts.items() if v is not None}
    return json.dumps(out, sort_keys=True)


def _contact(row: Mapping[str, Any], known: dict[str, str], now: str) -> _Params:
    roles = [_enum(r, Role, "role").value for r in _list(row.get("roles"), "roles")]
    org = _org_ref(row["org"], known, "org") if row.get("org") is not None else None
    return (
        _req(row, "id"),
        _req(row, "name"),
        org,
        ";".join(roles),
        text_value(row.get("email"), "email"),
        text_value(row.get("job_title"), "job_title"),
        _attrs(row.get("attributes"), CONTACT_ATTRIBUTES),
        now,
    )


def _activity(row: Mapping[str, Any], known: dict[str, str], now: str) -> _Params:
    kind = _enum(_req(row, "kind"), ActivityKind, "kind")
    side = _enum(row["side"], Side, "side").value if row.get("side") else None
    company = _org_ref(row["company"], known, "company", "company") if row.get("company") else None
    vendor = _org_ref(row["vendor"], known, "vendor", "vendor") if row.get("vendor") else None
    if company is None:
        raise RowError("missing required field 'company'")
    minutes = parse_number(row.get("first_reply_minutes"))
    if isinstance(minutes, int):
        minutes = _int64(minutes, "first_reply_minutes")
    replies = parse_number(row.get("replies"))
    if minutes is not None and minutes < 0:
        raise RowError(f"first_reply_minutes must be >= 0, got {minutes}")
    if replies is not None and (replies < 0 or replies != int(replies)):
        raise RowError(f"replies must be a whole number >= 0, got {replies}")
    return (
        _req(row, "id"),
        kind.value,
        iso(parse_datetime(row.get("date"))),
        company,
        vendor,
        side,
        json.dumps(_list(row.get("contacts"), "contacts")),
        (text_value(row.get("status"), "status") or "").lower() or None,
        iso(parse_datetime(row.get("decided"))),
        json.dumps(sorted(t.lower() for t in _list(row.get("tags"), "tags"))),
        text_value(row.get("title"), "title") or "",
        minutes,
        _int64(replies, "replies"),
        now,
    )


def _engagement(row: Mapping[str, Any], known: dict[str, str], now: str) -> _Params:
    company = _org_ref(_req(row, "company"), known, "company", "company")
    vendor = _org_ref(_req(row, "vendor"), known, "vendor", "vendor")
    return (
        company,
        vendor,
        iso(parse_datetime(row.get("started"))),
        json.dumps(_list(row.get("vendor_contacts"), "vendor_contacts")),
        _attrs(row.get("attributes"), ENGAGEMENT_ATTRIBUTES),
        now,
        iso(parse_datetime(row.get("ended"))),
        str(row["status"]).strip() if row.get("status") is not None else None,
    )


PARAMS: dict[str, Callable[[Mapping[str, Any], dict[str, str], str], _Params]] = {
    "organisations": _org,
    "contacts": _contact,
    "activities": _activity,
    "engagements": _engagement,
}
