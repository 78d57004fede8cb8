"""HubSpot's side of the shared HTTP policy: how it signals rate limits, errors and scopes,
and **the one path table** (which API version every call goes to).

The retry loop, timeouts and rate limiters are :class:`cmrules.http.HttpClient`'s; this
subclass only reads HubSpot's headers and bodies.  Authentication (a Service Key or a legacy
private-app token, both bearer tokens) is set on the session by :func:`make_client`.

``hubspot.api_version`` picks a row of :data:`API_VERSIONS`: ``2026-09`` (default) sends every
call to its date-versioned path (api-facts.md "HubSpot date-based versions", section 3);
``legacy`` keeps ``/crm/v3`` + ``/crm/v4`` for portals that need them during the transition.
Request bodies are the same in both; the answers differ only in ways the readers and writers
accept from either (a 207 or errors inside a 200, ``null`` values).  Every path the connector
builds comes from :class:`ApiVersion`; nothing else spells a version.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import requests

from cmrules.errors import RateLimitExhausted
from cmrules.http import HttpClient, RateLimiter, RetryPolicy, safe_json

from .common import scrub

DEFAULT_API_VERSION = "2026-09"
WARN_DAYS = 90  # `check` warns this long before the chosen version becomes unsupported


@dataclass(frozen=True)
class ApiVersion:
    """One family of HubSpot API paths (date-versioned or legacy) and its support dates."""

    name: str
    objects: str  # prefix of /objects/{type}…
    associations: str  # prefix of /{from}/{to}/batch/…
    properties: str  # prefix of /{type}…
    unsupported_from: date  # the first day some path of this family is unsupported
    support: str  # the dates, as HubSpot gives them, for `check` and docs

    def objects_path(self, object_type: str, suffix: str = "") -> str:
        """The path of an objects endpoint of this version."""
        return f"{self.objects}/{object_type}{suffix}"

    def associations_path(self, from_type: str, to_type: str, suffix: str) -> str:
        """The path of an associations endpoint of this version."""
        return f"{self.associations}/{from_type}/{to_type}{suffix}"

    def properties_path(self, object_type: str, suffix: str = "") -> str:
        """The path of a properties endpoint of this version."""
        return f"{self.properties}/{object_type}{suffix}"

    def status(self, today: date) -> tuple[str, str | None]:
        """(the line `check` prints, a warning when unsupported within WARN_DAYS or already)."""
        line = f"hubspot: API version {self.name} — {self.support}"
        left = (self.unsupported_from - today).days
        if left < 0:
            return line, (
                f"HubSpot API version {self.name} has been unsupported since "
                f"{_day(self.unsupported_from)}: set hubspot.api_version to "
                f"{DEFAULT_API_VERSION}"
            )
        if left <= WARN_DAYS:
            return line, (
                f"HubSpot API version {self.name} becomes unsupported on "
                f"{_day(self.unsupported_from)} ({left} days): set hubspot.api_version to "
                f"{DEFAULT_API_VERSION}"
            )
        return line, None


def _day(d: date) -> str:
    return f"{d.day} {d:%b %Y}"


# The table.  2026-09: GA 8 Sep 2026; HubSpot supports a version 18 months, so unsupported from
# about 8 Mar 2028 (derived, not published).  legacy: v4 (associations) unsupported from
# 30 Mar 2027, v1–v3 in Sep 2027 (no day published) — the earlier date counts.
API_VERSIONS: dict[str, ApiVersion] = {
    "2026-09": ApiVersion(
        name="2026-09",
        objects="/crm/objects/2026-09",
        associations="/crm/associations/2026-09",
        properties="/crm/properties/2026-09",
        unsupported_from=date(2028, 3, 8),
        support="date-based, released 8 Sep 2026, supported until about 8 Mar 2028 "
        "(18 months after release)",
    ),
    "legacy": ApiVersion(
        name="legacy",
        objects="/crm/v3/objects",
        associations="/crm/v4/associations",
        properties="/crm/v3/properties",
        unsupported_from=date(2027, 3, 30),
        support="/crm/v3 + /crm/v4; v4 associations unsupported from 30 Mar 2027, v3 from Sep 2027",
    ),
}


class HubSpotClient(HttpClient):
    """HubSpot's way of signalling rate limits and errors; the retry loop is inherited."""

    service = "HubSpot"
    default_429_delay = 10.0  # TEN_SECONDLY_ROLLING window
    search_429_delay = 1.0  # search has a per-second limit and sends no rate-limit headers

    #: the row of the path table every call uses
    api: ApiVersion = API_VERSIONS[DEFAULT_API_VERSION]
    #: "Service Key" or "legacy private-app token", for messages
    credential: str = "Service Key"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        #: ``X-HubSpot-Correlation-Id`` of the last answer (a 207's errors may lack their own)
        self.last_correlation_id: str | None = None
        self.session.hooks["response"].append(self._remember_correlation)

    def _remember_correlation(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.last_correlation_id = response.headers.get("X-HubSpot-Correlation-Id")

    def retry_delay(self, response: requests.Response, attempt: int) -> float:
        body = safe_json(response)
        policy = body.get("policyName") if isinstance(body, dict) else None
        if policy == "DAILY":
            _, correlation = self.error_message(response)
            raise RateLimitExhausted(
                "HubSpot: the portal's DAILY API limit is used up (shared by every app on the "
                "account); it resets at midnight in the portal's time zone. Rerun then — the "
                "run is resumable" + (f" (correlation id {correlation})" if correlation else "")
            )
        retry_after = response.headers.get("Retry-After")
        if retry_after is not None:
            try:
                return max(0.0, float(retry_after))
            except ValueError:
                pass
        interval = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
        if interval is not None:
            try:
                return max(0.0, float(interval) / 1000.0)
            except ValueError:
                pass
        path = response.request.path_url.split("?", 1)[0] if response.request else ""
        return self.search_429_delay if path.endswith("/search") else self.default_429_delay

    def error_message(self, response: requests.Response) -> tuple[str, str | None]:
        body = safe_json(response)
        correlation = response.headers.get("X-HubSpot-Correlation-Id")
        if not isinstance(body, dict):
            text = (response.text or "").strip()
            return scrub(text[:200] or response.reason or "no message"), correlation
        correlation = body.get("correlationId") or correlation
        parts = []
        message = body.get("message")
        if isinstance(message, str) and message:
            parts.append(message)
        for item in body.get("errors") or []:
            message = item.get("message") if isinstance(item, dict) else None
            if isinstance(message, str) and message not in parts:
                parts.append(message)
            if len(parts) >= 3:
                break
        scopes = missing_scopes(body)
        if scopes:
            parts.append("missing scopes: " + ", ".join(scopes))
        category = body.get("category")
        text = "; ".join(parts) or (str(category) if category else "no message")
        if category and parts:
            text = f"{text} [{category}]"
        return scrub(text)[:500], correlation if isinstance(correlation, str) else None

    def auth_hint(self, status: int, message: str) -> str:
        where = (
            "HubSpot > Development > Keys > Service keys"
            if self.credential == "Service Key"
            else "HubSpot > Settings > Integrations > Private Apps (legacy)"
        )
        if status == 401:
            return (
                f"the {self.credential} was refused (expired, deleted or mistyped): create a "
                "Service Key (HubSpot > Development > Keys > Service keys) with the scopes in "
                "docs/hubspot.md and set HUBSPOT_SERVICE_KEY to it"
            )
        if "missing scopes:" in message:
            scopes = message.split("missing scopes:", 1)[1].split("[", 1)[0].strip()
            return f"give the {self.credential} the scope(s) {scopes} ({where}), then rerun"
        return (
            f"the {self.credential} lacks a scope for this call: see docs/hubspot.md for the "
            f"scopes cmrules needs ({where})"
        )


def missing_scopes(body: Mapping[str, Any]) -> list[str]:
    """Scope names from a 403 body: ``context.missingScopes`` (or the required-scope variants),
    at the top level or inside ``errors[]``."""
    found: list[str] = []
    contexts = [body.get("context")]
    contexts += [e.get("context") for e in body.get("errors") or [] if isinstance(e, dict)]
    for ctx in contexts:
        if not isinstance(ctx, dict):
            continue
        for key in ("missingScopes", "requiredGranularScopes", "requiredScopes"):
            for scope in ctx.get(key) or []:
                if isinstance(scope, str) and scope not in found:
                    found.append(scope)
    return found


def make_client(
    base_url: str,
    token: str,
    *,
    api_version: str = DEFAULT_API_VERSION,
    credential: str = "Service Key",
    requests_per_10s: int,
    search_per_second: int,
    http: Mapping[str, Any],
    stats: dict[str, int],
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> HubSpotClient:
    """A client authenticated with ``token`` (a bearer: Service Key or legacy private-app
    token), calling the paths of ``api_version``, with HubSpot's two rate limits: the rolling
    ten-second window for every call, and the per-second search limit."""
    session = session or requests.Session()
    session.headers["Authorization"] = f"Bearer {token.strip()}"
    session.headers["Accept"] = "application/json"
    client = HubSpotClient(
        base_url,
        session=session,
        policy=RetryPolicy.from_settings(http),
        limiters={
            "default": RateLimiter(requests_per_10s, 10.0, clock=clock, sleep=sleep),
            "search": RateLimiter(search_per_second, 1.0, clock=clock, sleep=sleep),
        },
        sleep=sleep,
        stats=stats,
    )
    client.api = API_VERSIONS[api_version]
    client.credential = credential
    return client
