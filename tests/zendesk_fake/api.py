"""The fake account's API: organisations, users, tickets, metrics, exports, and the
organisation PUT; OAuth from :class:`.oauth.OAuthServer`."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import responses

from .account import FILLER_ORG, Lazy, LiveAccount
from .common import AUTH, BASE, CLIENT_ID, CLIENT_SECRET
from .oauth import OAuthServer


@dataclass
class Failure:
    method: str
    pattern: str
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/plain"


class FakeZendesk(OAuthServer, LiveAccount):
    def __init__(self, rsps: responses.RequestsMock, base: str = BASE):
        self.base = base
        self._live_init()
        self.orgs: dict[int, dict[str, Any]] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.members: dict[int, list[int]] = {}  # org id -> user ids
        self.tickets: dict[int, dict[str, Any]] = {}
        self.metrics: dict[int, dict[str, Any]] = {}  # ticket id -> metric
        self.failures: list[Failure] = []
        self.log: list[tuple[str, str]] = []  # (method, path) of every request
        self.puts: list[tuple[int, dict[str, Any]]] = []
        #: a BaseException to raise once a PUT has been applied (the process killed before it
        #: read the answer), for crash-safety tests
        self.crash_after_next_put: type[BaseException] | None = None
        self.org_export: list[dict[str, Any]] = []  # pages for /incremental/organizations
        self.ticket_export: list[dict[str, Any]] = []  # pages for incremental tickets
        self.user_export: list[dict[str, Any]] = []
        self.me: dict[str, Any] = {"id": 1, "name": "Ops Bot", "role": "admin"}
        self.require_auth = AUTH
        # -- OAuth server
        self.api_tokens_enabled = True
        self.clock: Any = None  # the shared virtual clock (a Clock); tokens expire on it
        self.seconds_per_call = 0.0  # virtual time each API call takes (a long run)
        self.oauth_clients: dict[str, dict[str, Any]] = {
            CLIENT_ID: {"secret": CLIENT_SECRET, "kind": "confidential"}
        }
        self.oauth_lifetime_cap: int | None = None  # shortens every access token (tests)
        self.access_tokens: dict[str, dict[str, Any]] = {}
        self.refresh_tokens: dict[str, dict[str, Any]] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.token_requests: list[dict[str, Any]] = []  # every token-endpoint call (no secrets)
        self.refused: list[tuple[str, str, str]] = []  # (method, path, error) of refused calls
        rsps.add_callback(responses.GET, re.compile(re.escape(base) + r"/api/v2/.*"), self._get)
        rsps.add_callback(responses.PUT, re.compile(re.escape(base) + r"/api/v2/.*"), self._put)
        rsps.add_callback(responses.POST, base + "/oauth/tokens", self._token)

    # -- data ---------------------------------------------------------------------------------
    def org(self, oid: int, name: str, **kw: Any) -> dict[str, Any]:
        org = {
            "id": oid,
            "url": f"{self.base}/api/v2/organizations/{oid}.json",
            "name": name,
            "external_id": kw.pop("external_id", None),
            "details": "",
            "notes": kw.pop("notes", ""),
            "domain_names": kw.pop("domain_names", []),
            "tags": kw.pop("tags", []),
            "organization_fields": kw.pop("fields", {}),
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": kw.pop("updated_at", "2024-01-02T00:00:00Z"),
        }
        org.update(kw)
        self.orgs[oid] = org
        self.members.setdefault(oid, [])
        return org

    def user(self, uid: int, name: str, org_id: int | None, **kw: Any) -> dict[str, Any]:
        user = {
            "id": uid,
            "name": name,
            "email": kw.pop("email", f"{name.lower().replace(' ', '.')}@example.org"),
            "role": kw.pop("role", "end-user"),
            "organization_id": org_id,
            "user_fields": kw.pop("user_fields", {}),
            "tags": kw.pop("tags", []),
            "active": True,
            "updated_at": kw.pop("updated_at", "2024-01-02T00:00:00Z"),
        }
        user.update(kw)
        self.users[uid] = user
        if org_id is not None:
            self.members.setdefault(org_id, []).append(uid)
        return user

    def ticket(
        self, tid: int, org_id: int, requester_id: int, metric: dict[str, Any] | None = None, **kw
    ) -> dict[str, Any]:
        ticket = {
            "id": tid,
            "subject": kw.pop("subject", f"Ticket {tid}"),
            "status": kw.pop("status", "open"),
            "requester_id": requester_id,
            "organization_id": org_id,
            "created_at": kw.pop("created_at", "2024-03-01T10:00:00Z"),
            "updated_at": "2024-03-02T10:00:00Z",
            "tags": [],
        }
        ticket.update(kw)
        self.tickets[tid] = ticket
        if metric is not None:
            self.metrics[tid] = {"id": 9000 + tid, "ticket_id": tid, **metric}
        return ticket

    def fail_next(self, method: str, pattern: str, status: int, body: str = "", **kw: Any) -> None:
        self.failures.append(Failure(method, pattern, status, body, **kw))

    def calls(self, method: str | None = None, prefix: str = "") -> list[str]:
        return [p for m, p in self.log if (method is None or m == method) and p.startswith(prefix)]

    # -- helpers ------------------------------------------------------------------------------
    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None):
        return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body)

    def _failure(self, method: str, path: str):
        for i, f in enumerate(self.failures):
            if f.method == method and re.search(f.pattern, path):
                del self.failures[i]
                return f.status, {"Content-Type": f.content_type, **f.headers}, f.body
        return None

    def _page(self, path: str, query: dict[str, str], key: str, items: Sequence, side=None):
        if "page[size]" not in query:  # offset paging must not be used
            return self._json(400, {"error": "InvalidPaginationParameter"})
        size = int(query["page[size]"])
        if size > 100:
            return self._json(400, {"error": "InvalidPaginationParameter"})
        start = int(query.get("page[after]", "0") or 0)
        chunk = items[start : start + size]
        more = start + size < len(items)
        after = str(start + size) if more else None
        nxt_q = {k: v for k, v in query.items() if k != "page[after]"}
        nxt_q["page[after]"] = after or ""
        body = {
            key: chunk,
            "meta": {"has_more": more, "after_cursor": after, "before_cursor": None},
            "links": {"next": f"{self.base}{path}?{urlencode(nxt_q)}" if more else None},
        }
        if side is not None:
            body.update(side(chunk))
        return self._json(200, body)

    # -- handlers -----------------------------------------------------------------------------
    def _get(self, request):
        parts = urlsplit(request.url)
        path = parts.path
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.log.append(("GET", path))
        failure = self._failure("GET", path)
        if failure:
            return failure
        refused = self._authorize(request, "GET", path)
        if refused:
            return refused
        if path == "/api/v2/users/me.json":
            return self._json(200, {"user": self.me})
        if path == "/api/v2/organizations":
            return self._page(
                path, query, "organizations", [self.orgs[i] for i in sorted(self.orgs)]
            )
        if path == "/api/v2/organizations/search":
            hits = [
                o
                for o in self.orgs.values()
                if (
                    "external_id" in query
                    and (o["external_id"] or "").lower() == query["external_id"].lower()
                )
                or ("name" in query and o["name"] == query["name"])
            ]
            return self._json(200, {"organizations": hits, "count": len(hits)})
        if m := re.fullmatch(r"/api/v2/organizations/(\d+)", path):
            org = self.orgs.get(int(m[1]))
            if org is None:
                return self._json(404, {"error": "RecordNotFound", "description": "Not found"})
            return self._json(200, {"organization": org})
        if m := re.fullmatch(r"/api/v2/organizations/(\d+)/users", path):
            users = [self.users[u] for u in self.members.get(int(m[1]), [])]
            return self._page(path, query, "users", users)
        if m := re.fullmatch(r"/api/v2/organizations/(\d+)/tickets", path):
            ts: Sequence = sorted(
                (t for t in self.tickets.values() if t["organization_id"] == int(m[1])),
                key=lambda t: t["id"],
            )
            if int(m[1]) == FILLER_ORG:
                ts = Lazy(self.filler_tickets, self.filler_ticket)
            side = None
            if self.sideload_org_tickets and "metric_sets" in query.get("include", "").split(","):
                side = self.sideload
            return self._page(path, query, "tickets", ts, side)
        if path == "/api/v2/tickets/show_many":
            return self._json(*self.show_many(query))
        if path == "/api/v2/ticket_metrics":
            return self._page(path, query, "ticket_metrics", self.all_metrics())
        if m := re.fullmatch(r"/api/v2/tickets/(\d+)/metrics", path):
            metric = self.metric_by_id(int(m[1]))
            if metric is None:
                return self._json(404, {"error": "RecordNotFound", "description": "Not found"})
            return self._json(200, {"ticket_metric": metric})
        if path == "/api/v2/incremental/organizations" and not self.org_export:
            return self._json(200, self.live_org_export(path, query))
        m = re.fullmatch(r"/api/v2/incremental/(tickets|users)/cursor\.json", path)
        if m and not (self.ticket_export if m[1] == "tickets" else self.user_export):
            return self._json(200, self.live_cursor_export(m[1], query))
        if path == "/api/v2/incremental/organizations":
            idx = int(query.get("page", "0"))
            page = dict(self.org_export[idx])
            if not page.get("end_of_stream"):
                page["next_page"] = f"{self.base}{path}?start_time=1&page={idx + 1}"
            return self._json(200, page)
        if m := re.fullmatch(r"/api/v2/incremental/(tickets|users)/cursor\.json", path):
            pages = self.ticket_export if m[1] == "tickets" else self.user_export
            idx = int(query.get("cursor", "c0")[1:])
            page = dict(pages[idx])
            if not page.get("end_of_stream"):
                page["after_cursor"] = f"c{idx + 1}"
            return self._json(200, page)
        return self._json(404, {"error": "InvalidEndpoint", "description": path})

    def _put(self, request):
        path = urlsplit(request.url).path
        self.log.append(("PUT", path))
        failure = self._failure("PUT", path)
        if failure:
            return failure
        refused = self._authorize(request, "PUT", path)
        if refused:
            return refused
        m = re.fullmatch(r"/api/v2/organizations/(\d+)", path)
        if not m or int(m[1]) not in self.orgs:
            return self._json(404, {"error": "RecordNotFound", "description": "Not found"})
        body = json.loads(request.body)["organization"]
        self.puts.append((int(m[1]), body))
        org = self.orgs[int(m[1])]
        for key, value in body.items():  # wholesale replacement, as Zendesk does
            org[key] = value
        org["updated_at"] = self.stamp()
        if self.crash_after_next_put is not None:
            crash, self.crash_after_next_put = self.crash_after_next_put, None
            raise crash("killed after the PUT landed")
        return self._json(200, {"organization": org})
