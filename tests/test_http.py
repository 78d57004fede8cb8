"""The shared HTTP policy, independent of any connector."""

from __future__ import annotations

import pytest
import requests
import responses

from cmrules.errors import AuthError
from cmrules.http import HttpClient, HttpError, RateLimiter, RetryPolicy

BASE = "https://api.example.test"


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


class NoJitter(HttpClient):
    def jitter(self, delay: float) -> float:
        return delay


def client(clock: Clock, **kw) -> HttpClient:
    return NoJitter(
        BASE, policy=RetryPolicy(max_retries=3, backoff_base=1.0), sleep=clock.sleep, **kw
    )


def test_rate_limiter_sliding_window():
    clock = Clock()
    limiter = RateLimiter(3, 10.0, clock=clock, sleep=clock.sleep)
    for _ in range(7):
        limiter.acquire()
    assert clock.sleeps == [10.0, 10.0]  # 3 at t=0, 3 at t=10, 1 at t=20


@responses.activate
def test_retries_5xx_and_429_with_exact_sleeps():
    clock = Clock()
    responses.get(f"{BASE}/x", status=503)
    responses.get(f"{BASE}/x", status=429, headers={"Retry-After": "7"})
    responses.get(f"{BASE}/x", status=500)
    responses.get(f"{BASE}/x", json={"ok": True})
    c = client(clock)
    assert c.request("GET", "/x") == {"ok": True}
    assert clock.sleeps == [1.0, 7.0, 4.0]  # backoff 1, Retry-After 7, backoff 4
    assert c.stats["api_calls"] == 4


@responses.activate
def test_retries_are_bounded():
    clock = Clock()
    responses.get(f"{BASE}/x", status=502)
    with pytest.raises(HttpError, match="HTTP 502 after 4 attempts"):
        client(clock).request("GET", "/x")
    assert clock.sleeps == [1.0, 2.0, 4.0]


@responses.activate
def test_timeouts_then_success():
    clock = Clock()
    responses.get(f"{BASE}/x", body=requests.Timeout("slow"))
    responses.get(f"{BASE}/x", json=[1])
    assert client(clock).request("GET", "/x") == [1]


@responses.activate
def test_malformed_json_is_a_clear_error():
    responses.get(f"{BASE}/x", body="<html>gateway</html>", status=200)
    with pytest.raises(HttpError, match="not valid JSON"):
        client(Clock()).request("GET", "/x")


@responses.activate
def test_messages_carry_no_query_string_and_auth_is_distinct():
    responses.get(f"{BASE}/x", status=404, json={"message": "nope"})
    with pytest.raises(HttpError) as exc:
        client(Clock()).request("GET", "/x?token=SECRET123")
    assert "SECRET123" not in str(exc.value) and "GET /x: HTTP 404: nope" in str(exc.value)
    responses.get(f"{BASE}/y", status=401, body="denied")
    with pytest.raises(AuthError, match="HTTP 401"):
        client(Clock()).request("GET", "/y")


@responses.activate
def test_long_retry_after_stops_cleanly():
    from cmrules.errors import RateLimitExhausted

    responses.get(f"{BASE}/x", status=429, headers={"Retry-After": "86400"})
    with pytest.raises(RateLimitExhausted, match="resumable"):
        client(Clock()).request("GET", "/x")


@responses.activate
def test_reconcile_prevents_a_duplicate_create():
    clock = Clock()
    responses.post(f"{BASE}/notes", status=504)
    calls = []

    def reconcile():
        calls.append(1)
        return {"id": "already-there"}

    assert client(clock).request("POST", "/notes", json_body={}, reconcile=reconcile) == {
        "id": "already-there"
    }
    assert len(responses.calls) == 1 and calls == [1]
