"""A stateful fake HubSpot portal behind ``responses`` callbacks (no network).

It reproduces the wire behaviour the connector depends on (api-facts.md H0–H8, G1–G5):

* every property value is a string (or ``null`` / absent for a property without a value —
  both forms are emitted); datetimes come back as ISO strings, ids as strings;
* object batch read/update take at most 100 inputs (400 past it); unknown ids give a 207;
* v4 association batch read takes at most 1,000 inputs (400 past it), pages *per result*
  (``paging.next.after``, re-sent as ``{id, after}``) and emits ``toObjectId`` as an integer;
* search: filterGroups (ORed groups of ANDed filters, 5/6/18 limits), EQ/NEQ/GT/GTE/LT/LTE/IN/
  NOT_IN/HAS_PROPERTY/NOT_HAS_PROPERTY/CONTAINS_TOKEN, one sort (object or ``"-prop"`` form),
  ``limit`` ≤ 200, numeric ``after``, and the 10,000-result cap (paging past it is a 400);
* notes create (201, ``hs_timestamp`` required, body ≤ 65,536) with associations;
* object batch create / update: at most 100 inputs (400 past it), 201/200 or 207 with
  ``errors[]`` whose ``context.objectWriteTraceId`` names the failed inputs (unknown ids also
  in ``context.ids``); a repeated id in one batch update is a 400; ``results`` come back in
  no particular order (here: reversed); per-input failures are injectable
  (:meth:`FakeHubSpot.reject_in_batch`);
* company PATCH: unknown properties and unknown enumeration options are 400s;
* properties API with groups, 201 on create and 409 on duplicates;
* Bearer auth (401), scopes (403 with ``context.missingScopes``);
* **both path families** (api-facts.md "HubSpot date-based versions", section 3): the legacy
  ``/crm/v3/…`` + ``/crm/v4/…`` paths and their ``2026-09`` twins (``/crm/objects/2026-09/…``,
  ``/crm/associations/2026-09/…``, ``/crm/properties/2026-09/…``, ``/account-info/2026-09/…``);
  each call is logged with its ``version``.  Through ``2026-09`` the fake follows that version's
  contract: batch answers fold ``errors[]`` into a 200/201 (no 207); association batch archive
  answers 200 with a body (legacy: 204); every enumeration option created or updated must carry
  ``displayOrder`` (400 otherwise); the per-record association GET does not exist; and the
  portal's **validation rules** (:meth:`FakeHubSpot.add_validation_rule`) refuse writes with
  ``400 VALIDATION_ERROR`` — legacy paths ignore them, as HubSpot did before ``2026-09``;
* failure injection (status codes, 429 bodies/headers, exceptions before or after the server
  applied a write) and a call log.
"""

from __future__ import annotations

import base64
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import responses

BASE = "https://api.hubapi.com"
TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"

DBV = "2026-09"  # the date-based version the fake serves besides v3/v4
_DBV_ROUTES = [  # (2026-09 path, its legacy twin)
    (
        re.compile(r"/crm/objects/(\d{4}-\d{2})/(\w+)/(\d+)/associations/(.+)"),
        r"/crm/v4/objects/\2/\3/associations/\4",
    ),
    (re.compile(r"/crm/objects/(\d{4}-\d{2})/(.+)"), r"/crm/v3/objects/\2"),
    (re.compile(r"/crm/associations/(\d{4}-\d{2})/(.+)"), r"/crm/v4/associations/\2"),
    (re.compile(r"/crm/properties/(\d{4}-\d{2})/(.+)"), r"/crm/v3/properties/\2"),
    (re.compile(r"/account-info/(\d{4}-\d{2})/(.+)"), r"/account-info/v3/\2"),
]


def legacy_twin(path: str) -> tuple[str, str | None]:
    """(legacy path, version) — ``version`` is None for a legacy path, else its ``YYYY-MM``."""
    for pattern, twin in _DBV_ROUTES:
        m = pattern.fullmatch(path)
        if m:
            return pattern.sub(twin, path), m.group(1)
    return path, None


SINGULAR = {
    "companies": "COMPANY",
    "contacts": "CONTACT",
    "deals": "DEAL",
    "meetings": "MEETING",
    "notes": "NOTE",
    "emails": "EMAIL",
    "calls": "CALL",
}
# (from, to) -> default HUBSPOT_DEFINED type id
DEFAULT_TYPE = {
    ("contacts", "companies"): 279,
    ("companies", "contacts"): 280,
    ("companies", "companies"): 450,
    ("companies", "deals"): 342,
    ("deals", "companies"): 341,
    ("notes", "companies"): 190,
    ("notes", "deals"): 214,
    ("deals", "notes"): 213,
    ("deals", "contacts"): 3,
    ("contacts", "deals"): 4,
    ("meetings", "deals"): 212,
    ("deals", "meetings"): 211,
    ("companies", "notes"): 189,
    ("meetings", "companies"): 188,
    ("companies", "meetings"): 187,
    ("meetings", "contacts"): 200,
    ("contacts", "meetings"): 199,
    ("emails", "companies"): 186,
    ("companies", "emails"): 185,
    ("emails", "contacts"): 198,
    ("contacts", "emails"): 197,
    ("calls", "companies"): 182,
    ("companies", "calls"): 181,
    ("calls", "contacts"): 194,
    ("contacts", "calls"): 193,
    ("notes", "contacts"): 202,
    ("contacts", "notes"): 201,
}
SCOPES = {
    "companies": "crm.objects.companies",
    "contacts": "crm.objects.contacts",
    "deals": "crm.objects.deals",
    "meetings": "crm.objects.contacts",
    "notes": "crm.objects.contacts",
    "emails": "crm.objects.contacts",
    "calls": "crm.objects.contacts",
}
ALL_SCOPES = {
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.schemas.deals.write",
    "crm.schemas.companies.write",
}
DEFAULT_PROPS = {
    "companies": {
        "name": "string",
        "domain": "string",
        "type": "enumeration",
        "hs_lastmodifieddate": "datetime",
        "createdate": "datetime",
        "hs_object_id": "number",
    },
    "contacts": {
        "firstname": "string",
        "lastname": "string",
        "email": "string",
        "jobtitle": "string",
        "hs_buying_role": "enumeration",
        "lastmodifieddate": "datetime",
        "createdate": "datetime",
        "hs_object_id": "number",
    },
}
ENGAGEMENT_PROPS = {
    "hs_timestamp": "datetime",
    "hs_lastmodifieddate": "datetime",
    "hs_createdate": "datetime",
    "hs_object_id": "number",
}
TYPE_OPTIONS = ["PROSPECT", "PARTNER", "RESELLER", "VENDOR", "OTHER"]
VALID_PAIRS = {
    "enumeration": {"select", "radio", "checkbox", "booleancheckbox"},
    "bool": {"booleancheckbox"},
    "string": {"text", "textarea", "html", "file"},
    "number": {"number", "calculation_equation"},
    "date": {"date"},
    "datetime": {"date"},
    "phone_number": {"phonenumber"},
}


class SimulatedCrash(BaseException):
    """Stands in for the process being killed: nothing in the library catches it."""


@dataclass
class Injection:
    method: str
    path: re.Pattern[str]
    times: int
    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raise_: BaseException | type[BaseException] | None = None
    after: bool = False  # apply the request, then fail (the answer is lost)
    raw: str | None = None  # a raw (non-JSON) body


@dataclass
class ValidationRule:
    object_type: str
    required: str
    message: str
    when: Callable[[dict[str, Any]], bool] | None = None


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _ms(value: Any) -> float | None:
    """A comparable number for numbers, epoch-ms strings and ISO dates."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp() * 1000


class FakeHubSpot:
    """``with FakeHubSpot() as fake: ...`` installs the fake on ``responses``."""

    def __init__(self, base_url: str = BASE, token: str = TOKEN, assoc_page_size: int = 500):
        self.base_url = base_url
        self.token = token
        self.scopes = set(ALL_SCOPES)
        self.assoc_page_size = assoc_page_size
        self.objects: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        # (from_type, to_type) -> from_id -> {to_id: [types]}
        self.assoc: dict[tuple[str, str], dict[str, dict[str, list[dict[str, Any]]]]] = defaultdict(
            lambda: defaultdict(dict)
        )
        self.properties: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.groups: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        for object_type, props in DEFAULT_PROPS.items():
            for name, kind in props.items():
                self.properties[object_type][name] = {"name": name, "type": kind}
        for object_type in ("meetings", "notes", "emails", "calls", "deals"):
            for name, kind in ENGAGEMENT_PROPS.items():
                self.properties[object_type][name] = {"name": name, "type": kind}
        self.properties["companies"]["type"]["options"] = [
            {"label": v.title(), "value": v, "hidden": False} for v in TYPE_OPTIONS
        ]
        self.clock_ms = 1_700_000_000_000
        self.next_id = 1000
        self.calls: list[dict[str, Any]] = []
        self.injections: list[Injection] = []
        self.null_style = "null"  # how an unset requested property is sent: "null" or "absent"
        self._search_cache: dict[str, list[dict[str, Any]]] = {}
        self._version = 0
        self._mock: responses.RequestsMock | None = None
        self.labels: dict[str, int] = {}  # USER_DEFINED label -> typeId
        self.clock: Any = None  # a FakeClock: the call log then records virtual times
        # (object type, record id) -> (message, category): batch inputs refused with a 207.
        # For notes the record id is the company the note is associated with.
        self.batch_rejections: dict[tuple[str, str], tuple[str, str]] = {}
        self._dbv = False  # the request being answered came through a 2026-09 path
        self.validation_rules: list[ValidationRule] = []

    # -- install ---------------------------------------------------------------------------
    def __enter__(self) -> FakeHubSpot:
        self._mock = responses.RequestsMock(assert_all_requests_are_fired=False)
        self._mock.__enter__()
        pattern = re.compile(re.escape(self.base_url) + r"/.*")
        for method in ("GET", "POST", "PATCH", "PUT", "DELETE"):
            self._mock.add_callback(method, pattern, callback=self._dispatch)
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self._mock is not None
        self._mock.__exit__(*exc)

    # -- data building ---------------------------------------------------------------------
    def tick(self, ms: int = 1000) -> int:
        self.clock_ms += ms
        return self.clock_ms

    def _new_id(self) -> str:
        self.next_id += 1
        return str(self.next_id)

    def _touch(self, object_type: str, record: dict[str, Any], at: int | None = None) -> None:
        ms = at if at is not None else self.clock_ms
        key = "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"
        record["properties"][key] = iso(ms)
        record["updatedAt"] = iso(ms)
        self._version += 1

    def add(
        self,
        object_type: str,
        properties: dict[str, Any] | None = None,
        id: str | None = None,
        modified_ms: int | None = None,
    ) -> str:
        object_id = id or self._new_id()
        props = {k: (None if v is None else str(v)) for k, v in (properties or {}).items()}
        for name in props:
            self.properties[object_type].setdefault(name, {"name": name, "type": "string"})
        created = "createdate" if object_type in ("companies", "contacts") else "hs_createdate"
        props.setdefault(created, iso(self.clock_ms))
        props["hs_object_id"] = object_id
        record = {"id": object_id, "properties": props, "createdAt": iso(self.clock_ms)}
        self.objects[object_type][object_id] = record
        self._touch(object_type, record, modified_ms)
        return object_id

    def company(self, name: str, **props: Any) -> str:
        return self.add("companies", {"name": name, **props})

    def contact(self, first: str, last: str = "", **props: Any) -> str:
        return self.add("contacts", {"firstname": first, "lastname": last, **props})

    def label_type(self, label: str) -> int:
        if label not in self.labels:
            self.labels[label] = 30 + len(self.labels)
        return self.labels[label]

    def associate(
        self,
        from_type: str,
        from_id: str,
        to_type: str,
        to_id: str,
        label: str | None = None,
        primary: bool = False,
    ) -> None:
        """Both directions, with the unlabelled default type plus an optional label."""
        for a_type, a_id, b_type, b_id in (
            (from_type, from_id, to_type, to_id),
            (to_type, to_id, from_type, from_id),
        ):
            types = [
                {
                    "category": "HUBSPOT_DEFINED",
                    "typeId": DEFAULT_TYPE.get((a_type, b_type), 1),
                    "label": None,
                }
            ]
            if primary and (a_type, b_type) == ("companies", "contacts"):
                types.insert(0, {"category": "HUBSPOT_DEFINED", "typeId": 2, "label": "Primary"})
            if label:
                types.append(
                    {"category": "USER_DEFINED", "typeId": self.label_type(label), "label": label}
                )
            self.assoc[(a_type, b_type)][a_id][b_id] = types
        self._version += 1

    def associated(self, from_type: str, from_id: str, to_type: str) -> list[str]:
        return list(self.assoc[(from_type, to_type)].get(from_id, {}))

    def define_property(
        self, object_type: str, name: str, kind: str = "string", **extra: Any
    ) -> None:
        self.properties[object_type][name] = {"name": name, "type": kind, **extra}

    # -- injection and call log ------------------------------------------------------------
    def inject(
        self,
        method: str,
        path: str,
        *,
        times: int = 1,
        status: int = 500,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raise_: BaseException | type[BaseException] | None = None,
        after: bool = False,
        raw: str | None = None,
    ) -> None:
        """Make the next ``times`` requests matching ``method`` and the ``path`` regex fail."""
        self.injections.append(
            Injection(
                method.upper(),
                re.compile(path),
                times,
                status,
                body,
                dict(headers or {}),
                raise_,
                after,
                raw,
            )
        )

    def reject_in_batch(
        self,
        object_type: str,
        record_id: str,
        message: str = "Property values were not valid",
        category: str = "VALIDATION_ERROR",
    ) -> None:
        """Refuse this record's input in every batch create/update (a 207 item error) until
        removed from ``batch_rejections``.  For notes, ``record_id`` is the company."""
        self.batch_rejections[(object_type, record_id)] = (message, category)

    def count(
        self, method: str | None = None, path: str | None = None, version: str | None = None
    ) -> int:
        """Calls by method and route regex (either family: routes are the legacy twins)."""
        return sum(
            1
            for c in self.calls
            if (method is None or c["method"] == method)
            and (path is None or re.search(path, c["path"]))
            and (version is None or c["version"] == version)
        )

    def add_validation_rule(
        self,
        object_type: str,
        required: str,
        message: str,
        when: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """An admin-configured record rule: a write leaving ``required`` empty on a record for
        which ``when(properties)`` holds is refused — through 2026-09 paths only."""
        self.validation_rules.append(ValidationRule(object_type, required, message, when))

    def _validate(
        self, object_type: str, props: dict[str, Any]
    ) -> tuple[int, dict[str, str], str] | None:
        if not self._dbv:
            return None  # v3/v4 writes were never subject to the portal's rules
        for rule in self.validation_rules:
            if rule.object_type != object_type or props.get(rule.required) not in (None, ""):
                continue
            if rule.when is None or rule.when(props):
                return self._error(
                    400,
                    rule.message,
                    "VALIDATION_ERROR",
                    subCategory="crm.validation.RECORD_VALIDATION_RULE",
                    context={"propertyName": [rule.required]},
                )
        return None

    def write_calls(self) -> int:
        return sum(1 for c in self.calls if c["write"])

    def applied_writes(self) -> int:
        """Write calls the portal accepted (a refused create, e.g. a 409, changed nothing)."""
        return sum(1 for c in self.calls if c.get("applied"))

    def notes_of(self, company_id: str) -> list[dict[str, Any]]:
        return [
            self.objects["notes"][n]
            for n in self.associated("companies", company_id, "notes")
            if n in self.objects["notes"]
        ]

    # -- dispatch --------------------------------------------------------------------------
    def _dispatch(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        parts = urlsplit(request.url)
        sent_path = parts.path
        # ``path`` is the version-neutral route (the legacy twin) so that counts and injections
        # hold for both families; ``sent`` and ``version`` say what was really called
        path, version = legacy_twin(sent_path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        method = request.method or "GET"
        body = json.loads(request.body) if request.body else None
        write = method in ("PATCH", "PUT", "DELETE") or (
            method == "POST" and not path.endswith(("/search", "/batch/read"))
        )
        self.calls.append(
            {
                "method": method,
                "path": path,
                "sent": sent_path,
                "version": version or "legacy",
                "write": write,
                "inputs": len(body.get("inputs", [])) if isinstance(body, dict) else 0,
                "t": self.clock() if self.clock is not None else None,
            }
        )
        injection = self._take_injection(method, path)
        if injection is not None and not injection.after:
            return self._inject_answer(injection)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self._error(
                401,
                "Authentication credentials not found. This API supports OAuth 2.0 authentication.",
                "INVALID_AUTHENTICATION",
            )
        if version is not None and version != DBV:
            return self._error(404, f"unknown API version {version}", "OBJECT_NOT_FOUND")
        self._dbv = version is not None
        if self._dbv and re.fullmatch(r"/crm/v4/objects/\w+/\d+/associations/\w+", path):
            # the per-record association list is not in the 2026-09 GA files
            return self._error(404, f"no route for {method} {sent_path}", "OBJECT_NOT_FOUND")
        answer = self._route(method, path, query, body)
        self.calls[-1]["applied"] = write and answer[0] < 300  # a 409 or 4xx changed nothing
        if injection is not None:
            return self._inject_answer(injection)
        return answer

    def _take_injection(self, method: str, path: str) -> Injection | None:
        for injection in self.injections:
            if injection.times > 0 and injection.method == method and injection.path.search(path):
                injection.times -= 1
                return injection
        return None

    def _inject_answer(self, injection: Injection) -> tuple[int, dict[str, str], str]:
        if injection.raise_ is not None:
            raise injection.raise_  # type: ignore[misc]
        if injection.raw is not None:
            return injection.status, injection.headers, injection.raw
        body = (
            injection.body
            if injection.body is not None
            else {
                "status": "error",
                "message": "internal error",
                "correlationId": "c-injected",
                "category": "INTERNAL_ERROR",
            }
        )
        return injection.status, injection.headers, json.dumps(body)

    def _error(
        self, status: int, message: str, category: str, **extra: Any
    ) -> tuple[int, dict[str, str], str]:
        body = {
            "status": "error",
            "message": message,
            "correlationId": f"corr-{len(self.calls)}",
            "category": category,
            **extra,
        }
        return status, {"Content-Type": "application/json"}, json.dumps(body)

    def _ok(self, body: Any, status: int = 200) -> tuple[int, dict[str, str], str]:
        return (
            status,
            {
                "Content-Type": "application/json",
                "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                "X-HubSpot-Correlation-Id": f"corr-{len(self.calls)}",
            },
            json.dumps(body),
        )

    def _need(self, scope: str) -> tuple[int, dict[str, str], str] | None:
        if scope in self.scopes:
            return None
        return self._error(
            403,
            "This app hasn't been granted all required scopes to make this call.",
            "MISSING_SCOPES",
            context={"missingScopes": [scope]},
        )

    def _route(
        self, method: str, path: str, query: dict[str, str], body: Any
    ) -> tuple[int, dict[str, str], str]:
        m = re.fullmatch(r"/crm/v4/associations/(\w+)/(\w+)/batch/read", path)
        if m and method == "POST":
            return self._scoped(m.group(1), "read") or self._assoc_read(
                m.group(1), m.group(2), body
            )
        m = re.fullmatch(r"/crm/v4/associations/(\w+)/(\w+)/batch/archive", path)
        if m and method == "POST":
            return self._scoped(m.group(1), "write") or self._assoc_archive(
                m.group(1), m.group(2), body
            )
        m = re.fullmatch(r"/crm/v3/properties/(\w+)/groups(?:/(\w+))?", path)
        if m:
            return self._groups(method, m.group(1), m.group(2), body)
        m = re.fullmatch(r"/crm/v3/properties/(\w+)(?:/(\w+))?", path)
        if m:
            return self._props(method, m.group(1), m.group(2), body)
        m = re.fullmatch(r"/crm/v3/objects/(\w+)/batch/(read|update|create)", path)
        if m and method == "POST":
            denied = self._scoped(m.group(1), "read" if m.group(2) == "read" else "write")
            if denied:
                return denied
            if m.group(2) == "read":
                return self._batch_read(m.group(1), body)
            if m.group(2) == "create":
                return self._batch_create(m.group(1), body)
            return self._batch_update(m.group(1), body)
        m = re.fullmatch(r"/crm/v3/objects/(\w+)/search", path)
        if m and method == "POST":
            return self._scoped(m.group(1), "read") or self._search(m.group(1), body)
        m = re.fullmatch(r"/crm/v3/objects/(\w+)", path)
        if m and method == "GET":
            return self._scoped(m.group(1), "read") or self._list(m.group(1), query)
        if m and method == "POST":
            return self._scoped(m.group(1), "write") or self._create(m.group(1), body)
        m = re.fullmatch(r"/crm/v3/objects/(\w+)/(\d+)", path)
        if m and method == "PATCH":
            return self._scoped(m.group(1), "write") or self._patch(m.group(1), m.group(2), body)
        return self._error(404, f"no route for {method} {path}", "OBJECT_NOT_FOUND")

    def _scoped(self, object_type: str, access: str) -> tuple[int, dict[str, str], str] | None:
        return self._need(f"{SCOPES.get(object_type, 'crm.objects.' + object_type)}.{access}")

    # -- objects ---------------------------------------------------------------------------
    def _public(
        self, object_type: str, record: dict[str, Any], wanted: Iterable[str] | None
    ) -> dict[str, Any]:
        props = record["properties"]
        if wanted is None:
            names = {"name", "domain"} if object_type == "companies" else set()
        else:
            names = set(wanted)
        modified = "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"
        created = "createdate" if object_type in ("companies", "contacts") else "hs_createdate"
        out: dict[str, Any] = {}
        for name in names | {"hs_object_id", modified, created}:
            if name not in self.properties[object_type]:
                continue  # unknown properties are silently ignored on reads
            value = props.get(name)
            if value is None or value == "":
                if self.null_style == "null":
                    out[name] = None
                continue  # "absent" style: omitted
            out[name] = value
        return {
            "id": record["id"],
            "properties": out,
            "createdAt": record["createdAt"],
            "updatedAt": record["updatedAt"],
            "archived": False,
        }

    def _batch_read(
        self, object_type: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, str], str]:
        inputs = body.get("inputs", [])
        if len(inputs) > 100:
            return self._error(
                400, f"Too many inputs: {len(inputs)}, the maximum is 100", "VALIDATION_ERROR"
            )
        if "properties" not in body or "propertiesWithHistory" not in body:
            return self._error(
                400, "properties and propertiesWithHistory are required", "VALIDATION_ERROR"
            )
        results, missing = [], []
        for item in inputs:
            record = self.objects[object_type].get(str(item["id"]))
            if record is None:
                missing.append(str(item["id"]))
            else:
                results.append(self._public(object_type, record, body["properties"]))
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": iso(self.clock_ms),
            "completedAt": iso(self.clock_ms),
        }
        if missing:
            answer["numErrors"] = 1
            answer["errors"] = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": f"Could not get some {SINGULAR[object_type]} objects, they may be "
                    "deleted or not exist. Check that ids are valid.",
                    "context": {"ids": missing},
                }
            ]
            return self._ok(answer, 200 if self._dbv else 207)
        return self._ok(answer)

    def _check_props(
        self, object_type: str, props: dict[str, Any]
    ) -> tuple[int, dict[str, str], str] | None:
        for name, value in props.items():
            definition = self.properties[object_type].get(name)
            if definition is None:
                return self._error(
                    400,
                    f'Property values were not valid: [{{"isValid":false,'
                    f'"message":"Property \\"{name}\\" does not exist",'
                    f'"error":"PROPERTY_DOESNT_EXIST","name":"{name}"}}]',
                    "VALIDATION_ERROR",
                )
            if definition.get("type") == "enumeration" and value not in (None, ""):
                allowed = {o["value"] for o in definition.get("options", [])}
                for part in str(value).split(";"):
                    if part not in allowed:
                        return self._error(
                            400,
                            f'Property values were not valid: [{{"isValid":false,"message":'
                            f'"{part} was not one of the allowed options","error":'
                            f'"INVALID_OPTION","name":"{name}"}}]',
                            "VALIDATION_ERROR",
                        )
        return None

    def _patch(
        self, object_type: str, object_id: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, str], str]:
        record = self.objects[object_type].get(object_id)
        if record is None:
            return self._error(404, "resource not found", "OBJECT_NOT_FOUND")
        props = {k: ("" if v is None else str(v)) for k, v in body.get("properties", {}).items()}
        denied = self._check_props(object_type, props) or self._validate(
            object_type, {**record["properties"], **props}
        )
        if denied:
            return denied
        record["properties"].update(props)
        self.tick(1)
        self._touch(object_type, record)
        return self._ok(self._public(object_type, record, props))

    def _batch_item_error(
        self, item: dict[str, Any], message: str, category: str, ids: list[str] | None = None
    ) -> dict[str, Any]:
        context: dict[str, list[str]] = {}
        if item.get("objectWriteTraceId") is not None:
            context["objectWriteTraceId"] = [str(item["objectWriteTraceId"])]
        if ids:
            context["ids"] = ids
        return {"status": "error", "category": category, "message": message, "context": context}

    def _batch_answer(
        self, results: list[dict[str, Any]], errors: list[dict[str, Any]], ok_status: int
    ) -> tuple[int, dict[str, str], str]:
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": list(reversed(results)),  # HubSpot does not promise the input order
            "startedAt": iso(self.clock_ms),
            "completedAt": iso(self.clock_ms),
        }
        if errors:
            answer["numErrors"] = len(errors)
            answer["errors"] = errors
            return self._ok(answer, ok_status if self._dbv else 207)  # 2026-09: no 207
        return self._ok(answer, ok_status)

    def _batch_update(
        self, object_type: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, str], str]:
        inputs = body.get("inputs", [])
        if len(inputs) > 100:
            return self._error(
                400, f"Too many inputs: {len(inputs)}, the maximum is 100", "VALIDATION_ERROR"
            )
        ids = [str(item["id"]) for item in inputs]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            return self._error(
                400,
                f"Duplicate IDs found in batch input: {repeated}. IDs must be unique",
                "VALIDATION_ERROR",
            )
        results, errors = [], []
        for item in inputs:
            object_id = str(item["id"])
            rejection = self.batch_rejections.get((object_type, object_id))
            if rejection is not None:
                errors.append(self._batch_item_error(item, *rejection))
                continue
            if object_id not in self.objects[object_type]:
                errors.append(
                    self._batch_item_error(
                        item, f"Object {object_id} not found", "OBJECT_NOT_FOUND", [object_id]
                    )
                )
                continue
            status, _, text = self._patch(object_type, object_id, item)
            if status != 200:
                error = json.loads(text)
                errors.append(self._batch_item_error(item, error["message"], error["category"]))
                continue
            results.append(json.loads(text))
        return self._batch_answer(results, errors, 200)

    def _batch_create(
        self, object_type: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, str], str]:
        inputs = body.get("inputs", [])
        if len(inputs) > 100:
            return self._error(
                400, f"Too many inputs: {len(inputs)}, the maximum is 100", "VALIDATION_ERROR"
            )
        results, errors = [], []
        for item in inputs:
            targets = [str(a["to"]["id"]) for a in item.get("associations") or []]
            rejection = next(
                (
                    self.batch_rejections[(object_type, t)]
                    for t in targets
                    if (object_type, t) in self.batch_rejections
                ),
                None,
            )
            if rejection is not None:
                errors.append(self._batch_item_error(item, *rejection))
                continue
            status, _, text = self._create(object_type, item)
            if status != 201:
                error = json.loads(text)
                errors.append(self._batch_item_error(item, error["message"], error["category"]))
                continue
            results.append(json.loads(text))
        return self._batch_answer(results, errors, 201)

    def _create(self, object_type: str, body: dict[str, Any]) -> tuple[int, dict[str, str], str]:
        props = {k: str(v) for k, v in (body.get("properties") or {}).items()}
        denied = self._validate(object_type, props)
        if denied:
            return denied
        if object_type == "notes":
            if not props.get("hs_timestamp"):
                return self._error(400, "hs_timestamp is required", "VALIDATION_ERROR")
            if len(props.get("hs_note_body", "")) > 65536:
                return self._error(
                    400, "hs_note_body is longer than 65536 characters", "VALIDATION_ERROR"
                )
            self.properties["notes"].setdefault(
                "hs_note_body", {"name": "hs_note_body", "type": "string"}
            )
        self.tick(1)
        object_id = self.add(object_type, props)
        for assoc in body.get("associations") or []:
            to_id = str(assoc["to"]["id"])
            for spec in assoc.get("types", []):
                if spec.get("associationTypeId") == 190:
                    if to_id not in self.objects["companies"]:
                        del self.objects[object_type][object_id]
                        return self._error(
                            400, f"company {to_id} does not exist", "VALIDATION_ERROR"
                        )
                    self.associate(object_type, object_id, "companies", to_id)
                if spec.get("associationTypeId") == 214:
                    if to_id not in self.objects["deals"]:
                        del self.objects[object_type][object_id]
                        return self._error(400, f"deal {to_id} does not exist", "VALIDATION_ERROR")
                    self.associate(object_type, object_id, "deals", to_id)
        return self._ok(
            self._public(object_type, self.objects[object_type][object_id], list(props)), 201
        )

    def _list(self, object_type: str, query: dict[str, str]) -> tuple[int, dict[str, str], str]:
        limit = min(int(query.get("limit", 10)), 100)
        after = int(query.get("after", 0))
        ids = sorted(self.objects[object_type], key=int)
        page = ids[after : after + limit]
        wanted = query["properties"].split(",") if "properties" in query else None
        answer: dict[str, Any] = {
            "results": [
                self._public(object_type, self.objects[object_type][i], wanted) for i in page
            ]
        }
        if after + limit < len(ids):
            answer["paging"] = {"next": {"after": str(after + limit), "link": "?after=x"}}
        return self._ok(answer)

    # -- search ----------------------------------------------------------------------------
    def _search(self, object_type: str, body: dict[str, Any]) -> tuple[int, dict[str, str], str]:
        groups = body.get("filterGroups") or []
        if (
            len(groups) > 5
            or any(len(g.get("filters", [])) > 6 for g in groups)
            or sum(len(g.get("filters", [])) for g in groups) > 18
        ):
            return self._error(400, "too many filters", "VALIDATION_ERROR")
        sorts = body.get("sorts") or []
        if len(sorts) > 1:
            return self._error(400, "only one sort is allowed", "VALIDATION_ERROR")
        limit = int(body.get("limit", 10))
        if limit > 200:
            return self._error(400, "limit must be at most 200", "VALIDATION_ERROR")
        after = int(body.get("after", 0) or 0)
        if after >= 10_000:
            return self._error(400, "Paging past 10000 results is not allowed", "VALIDATION_ERROR")
        if len(body.get("query") or "") > 3000:
            return self._error(400, "query is too long", "VALIDATION_ERROR")
        key = (
            json.dumps(
                {k: v for k, v in body.items() if k not in ("after", "limit")}, sort_keys=True
            )
            + f"|{object_type}|{self._version}"
        )
        matches = self._search_cache.get(key)
        if matches is None:
            matches = [
                r
                for r in self.objects[object_type].values()
                if self._matches(object_type, r, groups, body.get("query"))
            ]
            if sorts:
                sort = sorts[0]
                if isinstance(sort, str):
                    name, desc = sort.lstrip("-"), sort.startswith("-")
                else:
                    name, desc = sort["propertyName"], sort.get("direction") == "DESCENDING"

                def sort_key(r: dict[str, Any]) -> tuple[int, float | str]:
                    v = r["properties"].get(name)
                    n = _ms(v)
                    return (0, n) if n is not None else (1, str(v or ""))

                matches.sort(key=sort_key, reverse=desc)
            else:
                matches.sort(
                    key=lambda r: (
                        _ms(
                            r["properties"].get("createdate")
                            or r["properties"].get("hs_createdate")
                        )
                        or 0,
                        int(r["id"]),
                    )
                )
            self._search_cache = {key: matches}
        page = matches[after : after + limit]
        wanted = body.get("properties") or None
        answer: dict[str, Any] = {
            "total": len(matches),
            "results": [self._public(object_type, r, wanted) for r in page],
        }
        if after + limit < len(matches):
            answer["paging"] = {"next": {"after": str(after + limit)}}
        return self._ok(answer)

    def _matches(
        self,
        object_type: str,
        record: dict[str, Any],
        groups: list[dict[str, Any]],
        query: str | None,
    ) -> bool:
        props = record["properties"]
        if query:
            hay = " ".join(
                str(props.get(p) or "")
                for p in (
                    "name",
                    "domain",
                    "website",
                    "phone",
                    "firstname",
                    "lastname",
                    "email",
                    "dealname",
                )  # fmt: skip
            ).lower()
            if not all(tok in hay for tok in query.lower().split()):
                return False
        if not groups:
            return True
        return any(
            all(self._filter(object_type, props, f) for f in g.get("filters", [])) for g in groups
        )

    def _filter(self, object_type: str, props: dict[str, Any], f: dict[str, Any]) -> bool:
        name, op = f["propertyName"], f["operator"]
        value = props.get(name)
        if op == "HAS_PROPERTY":
            return value not in (None, "")
        if op == "NOT_HAS_PROPERTY":
            return value in (None, "")
        if value in (None, ""):
            return op in ("NEQ", "NOT_IN", "NOT_CONTAINS_TOKEN")
        definition = self.properties[object_type].get(name, {})
        enum = definition.get("type") == "enumeration"
        if op in ("IN", "NOT_IN"):
            values = [str(v) for v in f.get("values", [])]
            hit = str(value) in values if enum else str(value).lower() in values
            return hit if op == "IN" else not hit
        target = f.get("value")
        if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            token = str(target).lower().replace("*", "")
            hit = token in str(value).lower()
            return hit if op == "CONTAINS_TOKEN" else not hit
        a, b = _ms(value), _ms(target)
        if a is not None and b is not None:
            left: Any
            right: Any
            left, right = a, b
        elif enum:
            left, right = str(value), str(target)
        else:
            left, right = str(value).lower(), str(target).lower()
        return {
            "EQ": left == right,
            "NEQ": left != right,
            "GT": left > right,
            "GTE": left >= right,
            "LT": left < right,
            "LTE": left <= right,
        }[op]

    # -- associations v4 -------------------------------------------------------------------
    def _assoc_read(
        self, from_type: str, to_type: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, str], str]:
        inputs = body.get("inputs", [])
        if len(inputs) > 1000:
            return self._error(
                400, f"Batch size {len(inputs)} exceeds the limit of 1000", "VALIDATION_ERROR"
            )
        results, errors = [], []
        table = self.assoc[(from_type, to_type)]
        for item in inputs:
            from_id = str(item["id"])
            targets = sorted(table.get(from_id, {}).items(), key=lambda kv: int(kv[0]))
            if not targets:
                errors.append(from_id)
                continue
            offset = 0
            if item.get("after"):
                offset = int(base64.b64decode(item["after"]).decode())
            page = targets[offset : offset + self.assoc_page_size]
            result: dict[str, Any] = {
                "from": {"id": from_id},
                "to": [{"toObjectId": int(t), "associationTypes": types} for t, types in page],
            }
            if offset + self.assoc_page_size < len(targets):
                token = base64.b64encode(str(offset + self.assoc_page_size).encode()).decode()
                result["paging"] = {"next": {"after": token, "link": None}}
            results.append(result)
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": iso(self.clock_ms),
            "completedAt": iso(self.clock_ms),
        }
        if errors:
            answer["numErrors"] = len(errors)
            answer["errors"] = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                    "message": f"No {SINGULAR.get(to_type, to_type)} is associated with "
                    f"{SINGULAR.get(from_type, from_type)} {i}.",
                    "context": {"fromObjectId": [i]},
                }
                for i in errors
            ]
            return self._ok(answer, 200 if self._dbv else 207)
        return self._ok(answer)

    def _assoc_archive(
        self, from_type: str, to_type: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, str], str]:
        for item in body.get("inputs", []):
            from_id = str(item["from"]["id"])
            for to in item.get("to", []):
                to_id = str(to["id"])
                self.assoc[(from_type, to_type)].get(from_id, {}).pop(to_id, None)
                self.assoc[(to_type, from_type)].get(to_id, {}).pop(from_id, None)
        self._version += 1
        if not self._dbv:
            return 204, {}, ""
        # 2026-09: 200 with a BatchResponseVoid body
        return self._ok(
            {
                "status": "COMPLETE",
                "startedAt": iso(self.clock_ms),
                "completedAt": iso(self.clock_ms),
            }
        )

    def _bad_options(self, body: Any) -> tuple[int, dict[str, str], str] | None:
        """Enumeration options: label/value/hidden always; ``displayOrder`` from 2026-09 on."""
        for option in (body or {}).get("options") or []:
            needed = ["label", "value", "hidden"] + (["displayOrder"] if self._dbv else [])
            absent = [k for k in needed if k not in option]
            if absent:
                return self._error(
                    400,
                    f"Invalid input JSON: option {option.get('value')!r} is missing "
                    + ", ".join(absent),
                    "VALIDATION_ERROR",
                )
        return None

    # -- properties API --------------------------------------------------------------------
    def _groups(
        self, method: str, object_type: str, name: str | None, body: Any
    ) -> tuple[int, dict[str, str], str]:
        if method == "GET" and name:
            group = self.groups[object_type].get(name)
            return (
                self._ok(group)
                if group
                else self._error(404, "group not found", "OBJECT_NOT_FOUND")
            )
        if method == "POST" and not name:
            denied = self._need(f"crm.schemas.{object_type}.write")
            if denied:
                return denied
            if body["name"] in self.groups[object_type]:
                return self._error(
                    409,
                    f"A property group named {body['name']} already exists",
                    "OBJECT_ALREADY_EXISTS",
                )
            self.groups[object_type][body["name"]] = {**body, "archived": False}
            return self._ok(self.groups[object_type][body["name"]], 201)
        return self._error(405, "method not allowed", "VALIDATION_ERROR")

    def _props(
        self, method: str, object_type: str, name: str | None, body: Any
    ) -> tuple[int, dict[str, str], str]:
        if method == "GET" and name:
            prop = self.properties[object_type].get(name)
            return (
                self._ok(prop)
                if prop
                else self._error(404, f"property {name} not found", "OBJECT_NOT_FOUND")
            )
        if method == "GET":
            return self._ok({"results": list(self.properties[object_type].values())})
        denied = self._need(f"crm.schemas.{object_type}.write")
        if denied:
            return denied
        bad = self._bad_options(body) if method in ("POST", "PATCH") else None
        if bad:
            return bad
        if method == "POST" and not name:
            if body["name"] in self.properties[object_type]:
                return self._error(
                    409, f"Property named '{body['name']}' already exists", "OBJECT_ALREADY_EXISTS"
                )
            if body.get("fieldType") not in VALID_PAIRS.get(body.get("type"), set()):
                return self._error(400, "invalid type/fieldType pair", "VALIDATION_ERROR")
            if body.get("groupName") not in self.groups[object_type]:
                return self._error(
                    400, f"group {body.get('groupName')} does not exist", "VALIDATION_ERROR"
                )
            self.properties[object_type][body["name"]] = dict(body)
            self._version += 1
            return self._ok(body, 201)
        if method == "PATCH" and name:
            prop = self.properties[object_type].get(name)
            if prop is None:
                return self._error(404, f"property {name} not found", "OBJECT_NOT_FOUND")
            prop.update(body)
            return self._ok(prop)
        return self._error(405, "method not allowed", "VALIDATION_ERROR")


# ------------------------------------------------------------------------------------------
# helpers shared by the tests and the benchmark
# ------------------------------------------------------------------------------------------
class FakeClock:
    """Virtual time: ``sleep`` advances it, so rate limiters never really wait."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def make_connector(fake: FakeHubSpot, clock: FakeClock | None = None, **settings: Any) -> Any:
    from cmrules.connector import ConnectorContext
    from cmrules.connectors.hubspot import HubSpotConnector

    clock = clock or FakeClock()
    base = {"service_key": fake.token, "base_url": fake.base_url}
    base.update(settings)
    http = base.pop("http", {})
    connector = HubSpotConnector(base, ConnectorContext(http=http), sleep=clock.sleep, clock=clock)
    connector.client.jitter = lambda delay: delay  # deterministic backoff in tests
    return connector


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def days(n: float) -> timedelta:
    return timedelta(days=n)


__all__ = [
    "BASE",
    "TOKEN",
    "FakeClock",
    "FakeHubSpot",
    "SimulatedCrash",
    "make_connector",
    "utc",
    "days",
    "populate",
]


def populate(
    fake: FakeHubSpot,
    companies: int,
    vendors: int = 10,
    contacts_per_company: int = 2,
    meetings_per_company: int = 3,
    shared: int = 0,
) -> dict[str, list[str]]:
    """A simulated portal: ``vendors`` agencies sharing ``companies`` clients (round robin),
    each client with contacts and meetings, each vendor with one referent per client.  The
    first ``shared`` clients also work with the next agency (two vendors, one record)."""
    for name in ("cm_regulated", "cm_kpis_defined"):
        fake.define_property("companies", name, "bool")
    vendor_ids = [
        fake.company(f"Agence {v}", type="VENDOR", domain=f"agence{v}.example")
        for v in range(vendors)
    ]
    referents = {
        v: fake.contact("Ref", f"Vendor{i}", jobtitle="Chargée de compte")
        for i, v in enumerate(vendor_ids)
    }
    for v, ref in referents.items():
        fake.associate("companies", v, "contacts", ref)
    client_ids, meeting_ids = [], []
    for c in range(companies - vendors):
        vendor = vendor_ids[c % vendors]
        client = fake.company(
            f"Client {c}",
            type="PROSPECT",
            domain=f"client{c}.example",
            cm_regulated="true" if c % 7 == 0 else "false",
            cm_kpis_defined=None if c % 3 == 0 else "true",
        )
        client_ids.append(client)
        fake.associate("companies", vendor, "companies", client, label="Client")
        people = []
        for k in range(contacts_per_company):
            title = ("Directrice générale", "Chef de projet", "Community manager")[k % 3]
            person = fake.contact(f"P{k}", f"C{c}", jobtitle=title, email=f"p{k}@client{c}.example")
            fake.associate("companies", client, "contacts", person, primary=k == 0)
            people.append(person)
        fake.associate("companies", client, "contacts", referents[vendor])
        if c < shared:
            other = vendor_ids[(c + 1) % vendors]
            fake.associate("companies", other, "companies", client, label="Client")
            fake.associate("companies", client, "contacts", referents[other])
        for m in range(meetings_per_company):
            title = ("Comité de pilotage", "Proposition campagne été — acceptée", "Bilan KPI")[
                m % 3
            ]
            meeting = fake.add(
                "meetings",
                {
                    "hs_meeting_title": title,
                    "hs_timestamp": iso(fake.clock_ms - (m + 1) * 86_400_000),
                    "hs_meeting_outcome": "COMPLETED",
                },
            )
            meeting_ids.append(meeting)
            fake.associate("meetings", meeting, "companies", client)
            fake.associate(
                "meetings", meeting, "contacts", people[0] if people else referents[vendor]
            )
            if m % 2:
                fake.associate("meetings", meeting, "contacts", referents[vendor])
    return {"vendors": vendor_ids, "clients": client_ids, "meetings": meeting_ids}
