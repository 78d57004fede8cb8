"""The one HTTP policy every connector shares: timeouts, retries, backoff, rate limits, errors.

Connectors subclass :class:`HttpClient` only to say how *their* API signals things
(:meth:`HttpClient.retry_delay` for 429s, :meth:`HttpClient.error_message` for error bodies).
The retry loop lives here and nowhere else.

Messages never contain headers, query strings or bodies we sent: those can carry secrets.
What the *server* says goes into messages only after :func:`server_text`: the credentials
the request carried are blanked (in clear and base64 — an API may echo the Authorization
header back), escape sequences and line breaks dropped, the length capped.
"""

from __future__ import annotations

import base64
import collections
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from . import redact
from .errors import AuthError, ConnectorError, RateLimitExhausted

log = logging.getLogger("cmrules.http")

RETRIABLE_STATUS = frozenset({423, 500, 502, 503, 504, 521, 523, 524})


class HttpError(ConnectorError):
    """A non-retriable HTTP answer (or retries exhausted)."""

    def __init__(self, message: str, status: int | None = None, request_id: str | None = None):
        super().__init__(message)
        self.status = status
        self.request_id = request_id


class RateLimiter:
    """At most ``max_calls`` calls in any window of ``period`` seconds (sliding log)."""

    def __init__(
        self,
        max_calls: int,
        period: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if max_calls < 1 or period <= 0:
            raise ValueError("a rate limit needs max_calls >= 1 and period > 0")
        self.max_calls = max_calls
        self.period = period
        self._clock = clock
        self._sleep = sleep
        self._calls: collections.deque[float] = collections.deque()

    def acquire(self) -> float:
        """Block until a call is allowed; return the seconds waited."""
        waited = 0.0
        while True:
            now = self._clock()
            while self._calls and now - self._calls[0] >= self.period:
                self._calls.popleft()
            if len(self._calls) < self.max_calls:
                self._calls.append(now)
                return waited
            delay = self.period - (now - self._calls[0])
            self._sleep(delay)
            waited += delay


@dataclass(frozen=True)
class RetryPolicy:
    """Timeouts, retries and backoff of every connector's HTTP calls (config ``http``)."""

    max_retries: int = 5
    backoff_base: float = 1.0  # seconds; doubled each attempt
    backoff_max: float = 60.0
    max_retry_after: float = 300.0  # a longer Retry-After stops the run instead of sleeping
    timeout: tuple[float, float] = (10.0, 60.0)  # connect, read

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> RetryPolicy:
        """The policy from the config's ``http`` section (defaults for absent keys)."""
        timeout = float(settings.get("timeout", 60))
        return cls(
            max_retries=int(settings.get("max_retries", 5)),
            backoff_base=float(settings.get("backoff_base", 1.0)),
            backoff_max=float(settings.get("backoff_max", 60.0)),
            max_retry_after=float(settings.get("max_retry_after", 300.0)),
            timeout=(min(10.0, timeout), timeout),
        )


class HttpClient:
    """JSON-over-HTTP with one retry loop.

    ``limiters`` maps a bucket name to a :class:`RateLimiter`; a request names its buckets.
    ``sleep`` and :meth:`jitter` are injectable so tests can assert exact sleep sequences.
    """

    service = "API"

    def __init__(
        self,
        base_url: str,
        *,
        session: requests.Session | None = None,
        policy: RetryPolicy | None = None,
        limiters: Mapping[str, RateLimiter] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        stats: dict[str, int] | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.policy = policy or RetryPolicy()
        self.limiters = dict(limiters or {})
        self.sleep = sleep
        self.stats = stats if stats is not None else {}
        self.sleeps: list[float] = []  # every backoff/Retry-After sleep, for tests and summaries

    # -- hooks -----------------------------------------------------------------------------
    def jitter(self, delay: float) -> float:
        """Full jitter in [delay/2, delay]."""
        return delay / 2 + random.uniform(0, delay / 2)

    def retry_delay(self, response: requests.Response, attempt: int) -> float:
        """Seconds to wait after a 429.  Raise :class:`RateLimitExhausted` to stop the run."""
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is not None:
            return retry_after
        return self.backoff(attempt)

    def _error_message(self, response: requests.Response) -> tuple[str, str | None]:
        message, request_id = self.error_message(response)
        return server_text(response, message), (
            server_text(response, request_id) if request_id else None
        )

    def error_message(self, response: requests.Response) -> tuple[str, str | None]:
        """(message, request id) from an error body; subclasses know their API's shape."""
        body = safe_json(response)
        if isinstance(body, dict):
            for key in ("message", "description", "error"):
                if isinstance(body.get(key), str):
                    return body[key], None
        text = (response.text or "").strip()
        return (text[:200] or response.reason or "no message"), None

    def auth_hint(self, status: int, message: str) -> str:
        """How to fix a 401/403, per service."""
        return "check the credentials in your environment"

    # -- the loop --------------------------------------------------------------------------
    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry ``attempt``: exponential, capped, with jitter."""
        return min(self.policy.backoff_max, self.policy.backoff_base * (2**attempt))

    def _wait(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.stats["retry_sleeps"] = self.stats.get("retry_sleeps", 0) + 1
        self.sleep(seconds)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        buckets: tuple[str, ...] = ("default",),
        expect_json: bool = True,
        ok_status: tuple[int, ...] = (200, 201, 204, 207),
        reconcile: Callable[[], Any] | None = None,
    ) -> Any:
        """Send a request; return the decoded JSON body (or None for 204 / ``expect_json=False``).

        Retries 429 (per :meth:`retry_delay`), 423/5xx, timeouts and connection errors up to
        ``policy.max_retries`` times.  Raises :class:`HttpError` / :class:`AuthError` otherwise.

        ``reconcile`` makes a non-idempotent write (e.g. a create) safe to retry: after an
        ambiguous failure (timeout, connection error, 423/5xx — the server may have applied the
        write) it is called before re-sending; a non-``None`` result means the earlier attempt
        landed and is returned instead of writing again.  Not called after a 429.
        """
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        where = f"{self.service} {method} {_public_path(url)}"
        attempt = 0
        while True:
            for bucket in buckets:
                limiter = self.limiters.get(bucket)
                if limiter is not None:
                    limiter.acquire()
            self.stats["api_calls"] = self.stats.get("api_calls", 0) + 1
            if method.upper() != "GET":
                self.stats["write_calls" if _is_write(method, path) else "read_posts"] = (
                    self.stats.get("write_calls" if _is_write(method, path) else "read_posts", 0)
                    + 1
                )
            try:
                response = self.session.request(
                    method, url, params=params, json=json_body, timeout=self.policy.timeout
                )
            except (requests.Timeout, requests.ConnectionError) as exc:
                kind = "timed out" if isinstance(exc, requests.Timeout) else "could not connect"
                if attempt >= self.policy.max_retries:
                    raise HttpError(
                        f"{where}: {kind} after {attempt + 1} attempts; check the network "
                        "and the base URL, or raise http.timeout"
                    ) from None
                self._wait(self.jitter(self.backoff(attempt)))
                attempt += 1
                if reconcile is not None and (landed := reconcile()) is not None:
                    return landed
                continue

            status = response.status_code
            if status in ok_status:
                if status == 204 or not expect_json:
                    return None
                body = safe_json(response, default=_MALFORMED)
                if body is _MALFORMED:
                    raise HttpError(
                        f"{where}: the answer (HTTP {status}) is not valid JSON; the service "
                        "may be down or the base URL may point at something else",
                        status,
                    )
                return body

            if status == 429 or status in RETRIABLE_STATUS:
                if status == 429:
                    delay = self.retry_delay(response, attempt)  # may raise RateLimitExhausted
                    if delay > self.policy.max_retry_after:
                        raise RateLimitExhausted(
                            f"{where}: rate limited for {delay:.0f}s, longer than "
                            f"http.max_retry_after ({self.policy.max_retry_after:.0f}s); "
                            "rerun later — the run is resumable"
                        )
                else:
                    delay = self.jitter(self.backoff(attempt))
                if attempt >= self.policy.max_retries:
                    message, request_id = self._error_message(response)
                    raise HttpError(
                        f"{where}: HTTP {status} after {attempt + 1} attempts: {message}"
                        + (f" (request id {request_id})" if request_id else ""),
                        status,
                        request_id,
                    )
                log.info("%s: HTTP %s, retrying in %.1fs", where, status, delay)
                self._wait(delay)
                attempt += 1
                if status != 429 and reconcile is not None and (landed := reconcile()) is not None:
                    return landed
                continue

            message, request_id = self._error_message(response)
            suffix = f" (request id {request_id})" if request_id else ""
            if status in (401, 403):
                raise AuthError(
                    f"{where}: HTTP {status}: {message}{suffix}; {self.auth_hint(status, message)}"
                )
            raise HttpError(f"{where}: HTTP {status}: {message}{suffix}", status, request_id)


_MALFORMED = object()
MAX_SERVER_TEXT = 300


def server_text(response: requests.Response, text: Any) -> str:
    """Text from an API answer, safe for a message: without the credentials the request
    carried, without control characters or line breaks, at most 300 characters."""
    request = getattr(response, "request", None)
    auth = request.headers.get("Authorization") if request is not None else None
    if isinstance(auth, str):
        scheme, _, credential = auth.partition(" ")
        redact.register(credential or scheme)
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credential).decode("utf-8")
            except ValueError:
                decoded = ""
            redact.register(decoded.partition(":")[2], decoded)
    clean = redact.one_line(redact.redact(str(text)))
    return clean if len(clean) <= MAX_SERVER_TEXT else clean[: MAX_SERVER_TEXT - 1] + "…"


def safe_json(response: requests.Response, default: Any = None) -> Any:
    """The answer's JSON body, or None when it is not JSON."""
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError):
        return default


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (HTTP-date forms are treated as absent)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(0.0, seconds)


def _public_path(url: str) -> str:
    """The path only: no scheme/host (may embed a subdomain), no query (may embed tokens)."""
    rest = url.split("://", 1)[-1]
    path = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
    return path.split("?", 1)[0]


def _is_write(method: str, path: str) -> bool:
    """POSTs that only read (search, batch/read) are not writes."""
    if method.upper() in ("PUT", "PATCH", "DELETE"):
        return True
    p = path.split("?", 1)[0]
    return not (p.endswith("/search") or p.endswith("/batch/read"))
