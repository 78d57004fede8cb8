"""Zendesk's side of the shared HTTP policy: how it signals rate limits and errors, and how
the credentials go on the session (see auth.py: OAuth tokens minted, renewed and retried
once on ``401 invalid_token`` by the session's auth handler, below the shared retry loop)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from cmrules.http import HttpClient, RateLimiter, RetryPolicy, parse_retry_after, safe_json
from cmrules.oauth import BearerAuth

from .auth import Credentials, apply_auth
from .settings import ZendeskSettings


class ZendeskClient(HttpClient):
    """Zendesk's way of signalling rate limits and errors; the retry loop is inherited."""

    service = "Zendesk"

    def retry_delay(self, response: requests.Response, attempt: int) -> float:
        """``Retry-After`` (seconds) first; ``ratelimit-reset`` next; else exponential backoff.
        The body is never parsed: Zendesk's 429 is often ``text/plain``."""
        for header in ("Retry-After", "ratelimit-reset"):
            seconds = parse_retry_after(response.headers.get(header))
            if seconds is not None:
                return seconds
        return self.backoff(attempt)

    def error_message(self, response: requests.Response) -> tuple[str, str | None]:
        request_id = response.headers.get("X-Zendesk-Request-Id") or response.headers.get(
            "X-Request-Id"
        )
        body = safe_json(response)
        if isinstance(body, dict):
            error: Any = body.get("error")
            description: Any = body.get("description")
            if isinstance(error, dict):  # {"error": {"title": ..., "message": ...}}
                error, description = error.get("title"), error.get("message") or description
            parts = [str(p) for p in (error, description) if p]
            details = body.get("details")
            if isinstance(details, dict):
                for field_name, problems in details.items():
                    for p in problems if isinstance(problems, list) else [problems]:
                        text = p.get("description") if isinstance(p, dict) else p
                        if text:
                            parts.append(f"{field_name}: {text}")
            if parts:
                return "; ".join(parts)[:300], request_id
        text = (response.text or "").strip()
        return (text[:200] or response.reason or "no message"), request_id

    #: the credential kind in use (set by :func:`make_client`), for the hints below
    credentials: Credentials | None = None
    #: the renewing OAuth handler, for OAuth kinds
    oauth: BearerAuth | None = None

    def auth_hint(self, status: int, message: str) -> str:
        kind = self.credentials.kind if self.credentials else "api_token"
        if status == 401:
            if kind == "api_token":
                return (
                    "Zendesk refused the API token (API tokens unused for 30 days are switched "
                    "off, and all stop on 30 Apr 2027): move to `auth: oauth_client_credentials` "
                    "(docs/zendesk.md, Connecting), or check ZENDESK_EMAIL, ZENDESK_API_TOKEN and "
                    "the subdomain / base_url"
                )
            if kind == "oauth_token":
                return (
                    "Zendesk refused the static OAuth token (expired or revoked): move to `auth: "
                    "oauth_client_credentials` (docs/zendesk.md, Connecting)"
                )
            label = self.credentials.label if self.credentials else "OAuth client"
            return (
                f"Zendesk refused a freshly minted token of the {label}: the OAuth client or "
                "its owner may have been deactivated; check it in Admin "
                "Center > Apps and integrations > APIs > OAuth clients"
            )
        if kind in ("oauth_client_credentials", "oauth_refresh_token"):
            scope = self.credentials.scope if self.credentials else ""
            return (
                f"the OAuth token (scope {scope!r}) or the admin who owns the OAuth client lacks "
                "permission: the scope must include read and organizations:write (or write), "
                "and the owner must be an agent or admin who may edit organisations"
            )
        return (
            "the credentials are valid but lack permission: use an agent or admin account "
            "(reading organisations, users and ticket metrics needs agent access; writing "
            "organisation notes and tags needs permission to edit organisations)"
        )


def make_client(
    settings: ZendeskSettings,
    *,
    http: Mapping[str, Any],
    stats: dict[str, int],
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ZendeskClient:
    """A client carrying the credentials, with the account-wide and the incremental-export
    rate limits."""
    session = session or requests.Session()
    session.headers["Accept"] = "application/json"
    policy = RetryPolicy.from_settings(http)
    oauth = apply_auth(
        settings.credentials,
        session,
        settings.base_url,
        clock=clock,
        sleep=sleep,
        retries=policy.max_retries,
        backoff=policy.backoff_base,
    )
    client = ZendeskClient(
        settings.base_url,
        session=session,
        policy=policy,
        limiters={
            "default": RateLimiter(settings.requests_per_minute, 60.0, clock=clock, sleep=sleep),
            "incremental": RateLimiter(
                settings.incremental_requests_per_minute, 60.0, clock=clock, sleep=sleep
            ),
        },
        sleep=sleep,
        stats=stats,
    )
    client.credentials = settings.credentials
    client.oauth = oauth
    return client
