"""HubSpot's side of the shared HTTP policy: how it signals rate limits, errors and scopes.

The retry loop, timeouts and rate limiters are :class:`cmrules.http.HttpClient`'s; this
subclass only reads HubSpot's headers and bodies.  Authentication (the private-app token) is
set on the session by :func:`make_client`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from cmrules.errors import RateLimitExhausted
from cmrules.http import HttpClient, RateLimiter, RetryPolicy, safe_json

from .common import scrub


class HubSpotClient(HttpClient):
    """HubSpot's way of signalling rate limits and errors; the retry loop is inherited."""

    service = "HubSpot"
    default_429_delay = 10.0  # TEN_SECONDLY_ROLLING window
    search_429_delay = 1.0  # search has a per-second limit and sends no rate-limit headers

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
        if status == 401:
            return (
                "the token was refused: set HUBSPOT_TOKEN (or 'token' in the hubspot section) "
                "to the private app's access token (HubSpot > Settings > Integrations > "
                "Private Apps > Auth)"
            )
        if "missing scopes:" in message:
            scopes = message.split("missing scopes:", 1)[1].split("[", 1)[0].strip()
            return (
                f"grant the private app the scope(s) {scopes} (HubSpot > Settings > "
                "Integrations > Private Apps > Scopes), then rerun"
            )
        return (
            "the private app lacks a scope for this call: see docs/hubspot.md for the scopes "
            "cmrules needs (HubSpot > Settings > Integrations > Private Apps > Scopes)"
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
    requests_per_10s: int,
    search_per_second: int,
    http: Mapping[str, Any],
    stats: dict[str, int],
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> HubSpotClient:
    """A client authenticated with ``token``, with HubSpot's two rate limits: the rolling
    ten-second window for every call, and the per-second search limit."""
    session = session or requests.Session()
    session.headers["Authorization"] = f"Bearer {token.strip()}"
    session.headers["Accept"] = "application/json"
    return HubSpotClient(
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
