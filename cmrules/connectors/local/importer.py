"""``cmrules local import FILE``: organisations, contacts, activities and engagements from a
YAML or JSON file into the local store, in one transaction.

A bad row is reported with its file, row and line, and nothing partial is committed.
"""

from __future__ import annotations

import difflib
import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from cmrules.errors import ConnectorError, UsageError
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
from cmrules.yamlutil import error_line, line_of, load_with_lines, problem, read_text

from .jsonrows import JsonRows

if TYPE_CHECKING:
    from .connector import LocalConnector

_SECTIONS = ("organisations", "contacts", "activities", "engagements")
_KEYS = {
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


class _RowError(Exception):
    pass


def import_file(
    conn: LocalConnector, path: Path | str, replace_demo: bool = False
) -> dict[str, int]:
    """Load a YAML/JSON file into the local database in one transaction.

    Returns counts per section.  Raises :class:`UsageError` naming the file, the row and its
    line for the first bad row; nothing is committed then.  ``replace_demo``: when the store
    holds only the bundled demo and the file brings organisations of its own, the demo is
    deleted in the same transaction (``counts["demo_replaced"]`` is then 1).

    A ``.json`` file is read by the standard library's JSON scanner one row at a time (see
    :mod:`.jsonrows`); any other file is YAML (libyaml when available, see
    :mod:`cmrules.yamlutil`).
    """
    path = Path(path)
    if path.suffix.lower() == ".json":
        return _import(conn, _JsonSource(path), replace_demo)
    try:
        text = read_text(path, "import file")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        data, lines = load_with_lines(text, line_depth=2)
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}:{error_line(exc)}: not valid YAML: {problem(exc)}") from None
    del text  # the parsed rows are all the import needs
    return _import(conn, _TreeSource(data, lines, str(path)), replace_demo)


def import_data(
    conn: LocalConnector,
    data: Any,
    lines: Mapping[tuple[Any, ...], int],
    path: str,
    replace_demo: bool = False,
) -> dict[str, int]:
    """Import already-parsed data (``lines``: line of each node, ``path``: where it came from)
    with the same checks as :func:`import_file`; rule tests' ``dataset:`` uses this."""
    return _import(conn, _TreeSource(data, lines, path), replace_demo)


class _TreeSource:
    """Sections of parsed YAML (or a rule test's ``dataset:``); a row's place is its index."""

    def __init__(self, data: Any, lines: Mapping[tuple[Any, ...], int], path: str):
        if not isinstance(data, dict):
            raise UsageError(f"{path}:1: expected a mapping with keys {', '.join(_SECTIONS)}")
        unknown = set(data) - set(_SECTIONS)
        if unknown:
            key = sorted(unknown)[0]
            raise UsageError(
                f"{path}:{line_of(lines, (key,))}: unknown section {key!r}; "
                f"expected {', '.join(_SECTIONS)}"
            )
        self.data, self.lines, self.path = data, lines, path
        self.total = sum(len(v) for v in data.values() if isinstance(v, list))
        self.done = 0

    def sections(self) -> Iterator[tuple[str, Iterator[tuple[int, Any]]]]:
        for section in _SECTIONS:
            rows = self.data.get(section) or []
            if not isinstance(rows, list):
                raise UsageError(
                    f"{self.path}:{line_of(self.lines, (section,))}: {section} must be a list"
                )
            yield section, self._rows(rows)

    def _rows(self, rows: list[Any]) -> Iterator[tuple[int, Any]]:
        for i, row in enumerate(rows):
            self.done += 1
            yield i, row

    def line(self, section: str, place: int) -> int:
        return line_of(self.lines, (section, place))

    def organisation_ids(self) -> Iterator[Any]:
        for row in self.data.get("organisations") or []:
            if isinstance(row, dict):
                yield row.get("id")


class _JsonSource:
    """Sections of a JSON file, rows parsed one at a time; a row's place is its line.

    The other sections refer to the organisations: a section written before them is read over
    (checked, not imported) and imported from a second reading after the rest of the file.
    """

    def __init__(self, path: Path):
        self.path = str(path)
        self._file = path
        self._reader = JsonRows(path)
        self.total = path.stat().st_size

    @property
    def done(self) -> int:
        return self._reader.bytes_read

    def sections(self) -> Iterator[tuple[str, Iterator[tuple[int, Any]]]]:
        deferred: set[str] = set()
        organisations = False
        for section, rows in self._reader.sections(_SECTIONS):
            organisations = organisations or section == "organisations"
            if organisations:
                yield section, rows
            else:
                deferred.add(section)
                for _ in rows:
                    pass
        if deferred:
            for section, rows in JsonRows(self._file).sections(_SECTIONS):
                if section in deferred:
                    yield section, rows
                else:
                    for _ in rows:
                        pass

    def line(self, section: str, place: int) -> int:
        return place

    def organisation_ids(self) -> Iterator[Any]:
        """Read the file once more for the organisations' ids (only when the store holds
        the demo alone, to know whether the file replaces it)."""
        for section, rows in JsonRows(self._file).sections(_SECTIONS):
            for _, row in rows:
                if section == "organisations" and isinstance(row, dict):
                    yield row.get("id")
            if section == "organisations":
                return


_Source = _TreeSource | _JsonSource


def _import(conn: LocalConnector, source: _Source, replace_demo: bool) -> dict[str, int]:
    db = conn.db
    now = iso(datetime.now(UTC)) or ""
    counts = dict.fromkeys(_SECTIONS, 0)
    drop_demo = replace_demo and holds_only_demo(db) and _brings_own(source)
    known_orgs: dict[str, str] = (
        {} if drop_demo else dict(db.execute("SELECT id, kind FROM organisations").fetchall())
    )
    try:
        with db:
            if drop_demo:
                for table in ("organisations", "contacts", "activities", "engagements",
                              "notes", "flags"):  # fmt: skip
                    db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
                counts["demo_replaced"] = 1
            for section, rows in source.sections():
                counts[section] += _insert(db, section, rows, source, known_orgs, now)
    except sqlite3.Error as exc:
        raise ConnectorError(
            f"{source.path}: the local database refused the import: {exc}"
        ) from None
    return counts


def _insert(
    db: sqlite3.Connection,
    section: str,
    rows: Iterator[tuple[int, Any]],
    source: _Source,
    known: dict[str, str],
    now: str,
) -> int:
    """Insert one section's rows with one ``executemany`` over a generator: each row is
    checked, turned into its parameters and dropped; only its key (and place, for a duplicate's
    message) is kept."""
    seen: dict[Any, int] = {}
    allowed, params, count = _KEYS[section], _PARAMS[section], 0

    def checked() -> Iterator[tuple[Any, ...]]:
        nonlocal count
        for i, (place, row) in enumerate(rows):
            try:
                if not isinstance(row, dict):
                    raise _RowError("expected a mapping")
                if not allowed.issuperset(row):
                    extra = sorted(set(row) - allowed)[0]
                    raise _RowError(
                        f"unknown field {extra!r}; allowed: {', '.join(sorted(allowed))}"
                    )
                key = _row_key(section, row)
                if key in seen:
                    raise _RowError(
                        f"duplicate {_KEY_NAME[section]} {key!r} (also at line "
                        f"{source.line(section, seen[key])}); keep one row per record"
                    )
                seen[key] = place
                values = params(row, known, now)
            except (_RowError, ValueError, OverflowError) as exc:
                raise UsageError(
                    f"{source.path}:{source.line(section, place)}: {section}[{i}]: {exc}; "
                    "nothing was imported"
                ) from None
            count += 1
            yield values

    db.executemany(_SQL[section], checked())
    return count


_KEY_NAME = {"organisations": "id", "contacts": "id", "activities": "id",
             "engagements": "company/vendor pair"}  # fmt: skip
INT64 = 2**63


def _row_key(section: str, row: Mapping[str, Any]) -> Any:
    if section == "engagements":
        return (_text(row.get("company")), _text(row.get("vendor")))
    return _text(row.get("id"))


def _text(value: Any, field: str = "value") -> str | None:
    """A scalar field stored as text (a YAML number or date becomes its text, a list or a
    mapping is an error)."""
    if value is None:
        return None
    if isinstance(value, dict | list):
        raise _RowError(f"{field} must be a single value, not a list or mapping")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def demo_ids() -> frozenset[str]:
    """Organisation ids of the bundled demo."""
    from .store import demo_file

    data, _ = load_with_lines(demo_file().read_text("utf-8"), line_depth=0)
    return frozenset(str(o["id"]) for o in data["organisations"])


def holds_only_demo(db: sqlite3.Connection) -> bool:
    """Whether the store holds the bundled demo organisations and nothing else."""
    ids = {r[0] for r in db.execute("SELECT id FROM organisations")}
    return bool(ids) and ids <= demo_ids()


def _brings_own(source: _Source) -> bool:
    """The file brings organisations other than the demo's."""
    demo = demo_ids()
    return any(
        not isinstance(i, dict | list) and i is not None and _text(i) not in demo
        for i in source.organisation_ids()
    )


def _req(row: Mapping[str, Any], key: str) -> str:
    value = _text(row.get(key), key)
    if value is None or value.strip() == "":
        raise _RowError(f"missing required field {key!r}")
    return value


def _int64(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if not -INT64 <= value < INT64:
        raise _RowError(f"{field} {value!r} is too large (SQLite holds 64-bit integers)")
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
            parsed: Any = parse_bool(value)
        elif kind is datetime:
            parsed = iso(parse_datetime(value))
        else:
            parsed = (_text(value, key) or "").strip()
        if parsed is not None and parsed != "":  # a blank value is unknown, not a value
            out[key] = parsed
    return json.dumps(out, sort_keys=True)


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


_SQL = {
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
        _text(row.get("domain"), "domain"),
        _text(row.get("external_id"), "external_id"),
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
        raise _RowError("properties must map property names to values")
    out = json.loads(attributes)
    texts = {str(k): _text(v, f"properties.{k}") for k, v in raw.items()}
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
        _text(row.get("email"), "email"),
        _text(row.get("job_title"), "job_title"),
        _attrs(row.get("attributes"), CONTACT_ATTRIBUTES),
        now,
    )


def _activity(row: Mapping[str, Any], known: dict[str, str], now: str) -> _Params:
    kind = _enum(_req(row, "kind"), ActivityKind, "kind")
    side = _enum(row["side"], Side, "side").value if row.get("side") else None
    company = _org_ref(row["company"], known, "company", "company") if row.get("company") else None
    vendor = _org_ref(row["vendor"], known, "vendor", "vendor") if row.get("vendor") else None
    if company is None:
        raise _RowError("missing required field 'company'")
    minutes = parse_number(row.get("first_reply_minutes"))
    if isinstance(minutes, int):
        minutes = _int64(minutes, "first_reply_minutes")
    replies = parse_number(row.get("replies"))
    if minutes is not None and minutes < 0:
        raise _RowError(f"first_reply_minutes must be >= 0, got {minutes}")
    if replies is not None and (replies < 0 or replies != int(replies)):
        raise _RowError(f"replies must be a whole number >= 0, got {replies}")
    return (
        _req(row, "id"),
        kind.value,
        iso(parse_datetime(row.get("date"))),
        company,
        vendor,
        side,
        json.dumps(_list(row.get("contacts"), "contacts")),
        (_text(row.get("status"), "status") or "").lower() or None,
        iso(parse_datetime(row.get("decided"))),
        json.dumps(sorted(t.lower() for t in _list(row.get("tags"), "tags"))),
        _text(row.get("title"), "title") or "",
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


_PARAMS: dict[str, Callable[[Mapping[str, Any], dict[str, str], str], _Params]] = {
    "organisations": _org,
    "contacts": _contact,
    "activities": _activity,
    "engagements": _engagement,
}
