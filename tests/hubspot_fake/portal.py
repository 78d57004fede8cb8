"""The fake portal: state, data building, the call log and request dispatch."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import responses

from .associations import AssociationsMixin
from .common import (
    ALL_SCOPES,
    BASE,
    DBV,
    DEFAULT_PROPS,
    DEFAULT_TYPE,
    ENGAGEMENT_PROPS,
    TOKEN,
    TYPE_OPTIONS,
    Injection,
    ValidationRule,
    iso,
    legacy_twin,
)
from .engagements import EngagementsMixin
from .faults import FaultsMixin
from .objects import ObjectsMixin
from .properties import PropertiesMixin
from .search import SearchMixin


class FakeHubSpot(
    FaultsMixin, ObjectsMixin, EngagementsMixin, SearchMixin, AssociationsMixin, PropertiesMixin
):
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
        for object_type in ("meetings", "notes", "emails", "calls", "deals", "tasks"):
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
        self._init_engagements()  # task properties, owners

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

    # -- call log --------------------------------------------------------------------------

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
