"""Zendesk's side of the shared HTTP policy: how it signals rate limits and errors, and how
the credentials go on the session."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from cmrules.http import HttpClient, RateLimiter, RetryPolicy, parse_retry_after, safe_json

from .settings import ZendeskSettings


class ZendeskClient(HttpClient):
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

    def auth_hint(self, status: int, message: str) -> str:
        if status == 401:
            return (
                "Zendesk refused the credentials: check ZENDESK_EMAIL and ZENDESK_API_TOKEN "
                "(token access must be enabled in Admin Center > Apps and integrations > APIs) "
                "or ZENDESK_OAUTH_TOKEN, and the subdomain / base_url in the zendesk section"
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
    creds = settings.credentials
    if creds.oauth_token:
        session.headers["Authorization"] = f"Bearer {creds.oauth_token}"
    else:
        session.auth = (f"{creds.email}/token", creds.api_token or "")
    return ZendeskClient(
        settings.base_url,
        session=session,
        policy=RetryPolicy.from_settings(http),
        limiters={
            "default": RateLimiter(settings.requests_per_minute, 60.0, clock=clock, sleep=sleep),
            "incremental": RateLimiter(
                settings.incremental_requests_per_minute, 60.0, clock=clock, sleep=sleep
            ),
        },
        sleep=sleep,
        stats=stats,
    )
