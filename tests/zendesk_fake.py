"""A small stateful Zendesk Support double for ``responses``.

It behaves like the wire API described in api-facts.md Z0-Z5: cursor pagination with
``page[size]`` (max 100), ``meta.has_more`` / ``links.next``; PUT on an organisation replaces
``notes`` and ``tags`` wholesale; 404 bodies are JSON; a queued failure can be injected in
front of any endpoint (e.g. a ``text/plain`` 429 with ``Retry-After``).

It is also the OAuth server of the account (api-facts.md "Zendesk: end of API tokens"):
``POST /oauth/tokens`` with the ``client_credentials``, ``authorization_code`` (PKCE checked)
and ``refresh_token`` grants, JSON or form bodies, client id + secret in the body.  Access tokens
expire on the shared virtual clock after the ``expires_in`` asked for (which must lie strictly
between 300 and 172,800 s; ``oauth_lifetime_cap`` shortens every lifetime to make long runs
cross several tokens); an expired or revoked one gets ``401 invalid_token`` with the
``WWW-Authenticate`` challenge.  A refresh rotates: the new pair replaces the old one, and
re-using a spent refresh token is ``400 invalid_grant``.  Unknown clients are
``401 invalid_client``; a token whose scope lacks ``write``/``organizations:write`` gets 403 on
PUT.  API tokens (Basic ``email/token:…``) stay accepted while ``api_tokens_enabled``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import responses

from cmrules.connector import Flags, RenderedNote

BASE = "https://acme.zendesk.com"
EMAIL = "ops@example.com"
TOKEN = "zd-SECRET-token-123"  # noqa: S105 - test credential
AUTH = "Basic " + base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode()
CLIENT_ID = "cmrules_nightly"  # the OAuth client's *Identifier*
CLIENT_SECRET = "zd-oauth-SECRET-4f9c"  # noqa: S105 - test credential
REDIRECT_URI = "http://127.0.0.1:8976/callback"


@dataclass
class Failure:
    method: str
    pattern: str
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/plain"


class FakeZendesk:
    def __init__(self, rsps: responses.RequestsMock, base: str = BASE):
        self.base = base
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

    def _page(self, path: str, query: dict[str, str], key: str, items: list[dict[str, Any]]):
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
            ts = [t for t in self.tickets.values() if t["organization_id"] == int(m[1])]
            return self._page(path, query, "tickets", sorted(ts, key=lambda t: t["id"]))
        if path == "/api/v2/ticket_metrics":
            return self._page(
                path, query, "ticket_metrics", [self.metrics[t] for t in sorted(self.metrics)]
            )
        if m := re.fullmatch(r"/api/v2/tickets/(\d+)/metrics", path):
            metric = self.metrics.get(int(m[1]))
            if metric is None:
                return self._json(404, {"error": "RecordNotFound", "description": "Not found"})
            return self._json(200, {"ticket_metric": metric})
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
        org["updated_at"] = "2024-05-01T00:00:00Z"
        if self.crash_after_next_put is not None:
            crash, self.crash_after_next_put = self.crash_after_next_put, None
            raise crash("killed after the PUT landed")
        return self._json(200, {"organization": org})

    # -- OAuth ----------------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock() if self.clock is not None else 0.0

    def grant_code(self, code_challenge: str, scope: str = "read organizations:write") -> str:
        """The code the consent screen would hand the redirect URI (PKCE S256 challenge)."""
        code = "code-" + secrets.token_hex(6)
        self.codes[code] = {
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "challenge": code_challenge,
            "scope": scope,
        }
        return code

    def issue_refresh_token(self, scope: str = "read organizations:write") -> str:
        """A refresh token as if ``cmrules zendesk login`` had run."""
        token = "rt-" + secrets.token_hex(8)
        self.refresh_tokens[token] = {"client_id": CLIENT_ID, "scope": scope}
        return token

    def revoke_access_tokens(self) -> None:
        """Every access token stops working now (an admin revoked them, or a clock jump)."""
        for info in self.access_tokens.values():
            info["revoked"] = True

    def _authorize(self, request: Any, method: str, path: str):
        refused = self._check_credentials(request, method, path)
        if self.clock is not None and self.seconds_per_call:
            self.clock.now += self.seconds_per_call  # the call takes this long to answer
        return refused

    def _check_credentials(self, request: Any, method: str, path: str):
        header = request.headers.get("Authorization") or ""
        if header == AUTH and not self.api_tokens_enabled:
            self.refused.append((method, path, "api_token_off"))
            return self._json(401, {"error": "Couldn't authenticate you"})
        if self.require_auth and header == self.require_auth:
            return None
        if header.startswith("Bearer "):
            info = self.access_tokens.get(header[7:])
            if info is None or info.get("revoked") or self.now() >= info["expires_at"]:
                self.refused.append((method, path, "invalid_token"))
                return (
                    401,
                    {
                        "Content-Type": "application/json",
                        "WWW-Authenticate": 'Bearer realm="Zendesk::OAuth Bearer Token '
                        'Authentication", error="invalid_token", error_description="The access '
                        "token provided is expired, revoked, malformed or invalid for other "
                        'reasons."',
                    },
                    json.dumps(
                        {
                            "error": "invalid_token",
                            "error_description": "The access token provided is expired, "
                            "revoked, malformed or invalid for other reasons.",
                        }
                    ),
                )
            scopes = set(info["scope"].split())
            if method != "GET" and not scopes & {"write", "organizations:write"}:
                self.refused.append((method, path, "forbidden"))
                return self._json(403, {"error": "Forbidden", "description": "scope"})
            if method == "GET" and not scopes & {"read", "organizations:read"}:
                self.refused.append((method, path, "forbidden"))
                return self._json(403, {"error": "Forbidden", "description": "scope"})
            return None
        if self.require_auth:
            self.refused.append((method, path, "unauthenticated"))
            return self._json(401, {"error": "Couldn't authenticate you"})
        return None

    def _oauth_error(self, status: int, error: str, description: str):
        return self._json(status, {"error": error, "error_description": description})

    def _token(self, request):
        self.log.append(("POST", "/oauth/tokens"))
        failure = self._failure("POST", "/oauth/tokens")
        if failure:
            return failure
        ctype = request.headers.get("Content-Type", "")
        raw = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
        if "json" in ctype:
            params = {k: str(v) for k, v in json.loads(raw).items()}
        else:
            params = {k: v[0] for k, v in parse_qs(raw).items()}
        grant = params.get("grant_type", "")
        self.token_requests.append(
            {
                "grant_type": grant,
                "expires_in": params.get("expires_in"),
                "scope": params.get("scope"),
                "at": self.now(),
            }
        )
        client = self.oauth_clients.get(params.get("client_id", ""))
        if client is None or client["secret"] != params.get("client_secret"):
            return self._oauth_error(
                401, "invalid_client", "Client authentication failed due to unknown client"
            )
        lifetime = int(params.get("expires_in") or 1800)
        if not 300 < lifetime < 172_800:
            return self._oauth_error(400, "invalid_request", "expires_in is out of range")
        if grant == "client_credentials":
            if client["kind"] != "confidential":
                return self._oauth_error(400, "unauthorized_client", "confidential clients only")
            scope = params.get("scope") or "read write"
            return self._issue(scope, lifetime, refresh=False)
        if grant == "authorization_code":
            code = self.codes.pop(params.get("code", ""), None)
            verifier = params.get("code_verifier", "")
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                .decode()
                .rstrip("=")
            )
            if (
                code is None
                or code["redirect_uri"] != params.get("redirect_uri")
                or code["challenge"] != challenge
            ):
                return self._oauth_error(
                    400, "invalid_grant", "The provided authorization grant is invalid"
                )
            return self._issue(code["scope"], lifetime, refresh=True)
        if grant == "refresh_token":
            old = self.refresh_tokens.pop(params.get("refresh_token", ""), None)
            if old is None:
                return self._oauth_error(
                    400,
                    "invalid_grant",
                    "The provided authorization grant is invalid, expired, revoked, does not "
                    "match the redirection URI used in the authorization request, or was issued "
                    "to another client.",
                )
            for token, info in list(self.access_tokens.items()):  # the old pair is deleted
                if info.get("refresh") == params.get("refresh_token"):
                    del self.access_tokens[token]
            return self._issue(old["scope"], lifetime, refresh=True)
        return self._oauth_error(400, "unsupported_grant_type", f"grant {grant!r}")

    def _issue(self, scope: str, lifetime: int, refresh: bool):
        if self.oauth_lifetime_cap is not None:
            lifetime = min(lifetime, self.oauth_lifetime_cap)
        access = "at-" + secrets.token_hex(8)
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "bearer",
            "scope": scope,
            "expires_in": lifetime,
        }
        info: dict[str, Any] = {"scope": scope, "expires_at": self.now() + lifetime}
        if refresh:
            rt = "rt-" + secrets.token_hex(8)
            self.refresh_tokens[rt] = {"client_id": CLIENT_ID, "scope": scope}
            body["refresh_token"] = rt
            body["refresh_token_expires_in"] = 2_592_000
            info["refresh"] = rt
        self.access_tokens[access] = info
        return self._json(200, body)


T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


class Clock:
    """Fake monotonic clock; sleeping advances it and is recorded, never real."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def note_for(org, fingerprint: str, text: str, rules=("CMR-001",), risk="high") -> RenderedNote:
    flags = Flags(risk_level=risk, rule_ids=tuple(rules), evaluated_at=T0, fingerprint=fingerprint)
    return RenderedNote(
        subject=org,
        fingerprint=fingerprint,
        html=f"<p>{text}</p>",
        text=text,
        flags=flags,
        language="en",
    )


def scenario(rsps: responses.RequestsMock) -> FakeZendesk:
    """Vendor SocialCo (100) with clients Acme (200, by field) and Beta (201, by tag);
    Gamma (202) names an unknown vendor; Unrelated (300) is no CM organisation."""
    fake = FakeZendesk(rsps)
    fake.org(
        100, "SocialCo", external_id="vend-1", tags=["cm_vendor"], domain_names=["socialco.fr"]
    )
    fake.org(
        200,
        "Acme",
        domain_names=["acme.com"],
        fields={"cm_vendor": "vend-1", "regulated": True},
        notes="Human intro line.\nSecond human line.",
        tags=["vip", "region_west"],
    )
    fake.org(201, "Beta", domain_names=["beta.io"], tags=["cm_vendor_vend_1"])
    fake.org(202, "Gamma", fields={"cm_vendor": "nobody-knows"})
    fake.org(300, "Unrelated Ltd")
    fake.user(10, "Alice Owner", 200, user_fields={"cm_role": "project_owner", "job_title": "CMO"})
    fake.user(11, "Bob Boss", 200, tags=["cm_role_executive_sponsor"])
    fake.user(20, "Vera Ref", 100, user_fields={"cm_role": "Vendor Referent"})
    fake.user(21, "Carl CM", 100, tags=["cm_role_cm"])
    fake.user(30, "Bea Client", 201)
    fake.ticket(
        1000,
        200,
        10,
        {"reply_time_in_minutes": {"calendar": 60, "business": 30}, "replies": 2},
        subject="Validate the May calendar",
    )
    fake.ticket(1001, 200, 20)  # no metrics record at all
    fake.ticket(
        1002,
        200,
        10,
        {"reply_time_in_minutes": {"calendar": None, "business": None}, "replies": 0},
        status="new",
    )
    fake.ticket(
        1003, 201, 30, {"reply_time_in_minutes": {"calendar": 5, "business": 5}, "replies": 1}
    )
    return fake
