"""HubSpot connector: rate limits, retries, error messages, secrets (sleep injected)."""

from __future__ import annotations

import logging

import pytest
import requests
from hubspot_fake import TOKEN, FakeClock, FakeHubSpot, make_connector

from cmrules.errors import AuthError, ConnectorError, RateLimitExhausted
from cmrules.http import HttpError
from cmrules.model import OrgKind

TEN_SECONDLY = {
    "status": "error",
    "message": "You have reached your ten_secondly_rolling limit.",
    "errorType": "RATE_LIMIT",
    "correlationId": "c-429",
    "policyName": "TEN_SECONDLY_ROLLING",
}
DAILY = {**TEN_SECONDLY, "message": "You have reached your daily limit.", "policyName": "DAILY"}
COMPANIES = r"^/crm/v3/objects/companies$"


def check(fake: FakeHubSpot, **settings):
    connector = make_connector(fake, **settings)
    return connector, connector.check()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, [3.0]),
        ({"X-HubSpot-RateLimit-Interval-Milliseconds": "2500"}, [2.5]),
        ({"Retry-After": "4", "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}, [4.0]),
        ({}, [10.0]),
    ],
)
def test_429_ten_secondly_waits_then_retries(headers, expected):
    with FakeHubSpot() as fake:
        fake.inject("GET", COMPANIES, status=429, body=TEN_SECONDLY, headers=headers)
        connector, lines = check(fake)
        assert connector.client.sleeps == expected
        assert fake.count("GET", COMPANIES) == 2
        assert "hubspot: Service Key accepted by the portal at api.hubapi.com" in lines[-2]


def test_429_twice_then_success_sleep_sequence():
    with FakeHubSpot() as fake:
        fake.inject("GET", COMPANIES, status=429, body=TEN_SECONDLY, times=2)
        connector, _ = check(fake)
        assert connector.client.sleeps == [10.0, 10.0]


def test_429_on_search_without_headers_waits_one_second():
    with FakeHubSpot() as fake:
        fake.company("V", type="VENDOR")
        fake.inject(
            "POST", r"/search$", status=429, body={**TEN_SECONDLY, "policyName": "SECONDLY"}
        )
        connector = make_connector(fake)
        assert len(connector.find_organisations("x", OrgKind.VENDOR)) == 1
        assert connector.client.sleeps == [1.0]


def test_429_daily_stops_cleanly():
    with FakeHubSpot() as fake:
        fake.inject("GET", COMPANIES, status=429, body=DAILY, times=5)
        with pytest.raises(RateLimitExhausted) as info:
            check(fake)
        assert info.value.exit_code == 5
        assert "DAILY" in str(info.value) and "resumable" in str(info.value)
        assert "c-429" in str(info.value)
        assert fake.count("GET", COMPANIES) == 1  # no retry


def test_retry_after_longer_than_the_cap_stops():
    with FakeHubSpot() as fake:
        fake.inject(
            "GET", COMPANIES, status=429, body=TEN_SECONDLY, headers={"Retry-After": "3600"}
        )
        with pytest.raises(RateLimitExhausted, match="max_retry_after"):
            check(fake)


def test_5xx_then_success_uses_exponential_backoff_with_injected_jitter():
    with FakeHubSpot() as fake:
        fake.inject("GET", COMPANIES, status=502, times=1)
        fake.inject("GET", COMPANIES, status=500, times=1)
        fake.inject("GET", COMPANIES, status=423, times=1)
        connector = make_connector(fake)
        connector.client.jitter = lambda delay: delay * 0.75
        connector.check()
        assert connector.client.sleeps == [0.75, 1.5, 3.0]


def test_5xx_storm_gives_up_with_message_and_correlation_id():
    with FakeHubSpot() as fake:
        fake.inject(
            "GET",
            COMPANIES,
            status=503,
            times=10,
            body={"message": "Service unavailable", "correlationId": "c-503"},
        )
        with pytest.raises(HttpError) as info:
            check(fake, http={"max_retries": 2})
        message = str(info.value)
        assert "HTTP 503 after 3 attempts: Service unavailable" in message
        assert "c-503" in message
        assert "/crm/objects/2026-09/companies" in message and "?" not in message


def test_timeouts_are_retried_then_reported():
    with FakeHubSpot() as fake:
        fake.inject("GET", COMPANIES, raise_=requests.ReadTimeout("read timed out"), times=2)
        connector, _ = check(fake)
        assert connector.client.sleeps == [1.0, 2.0]
        fake.inject("GET", COMPANIES, raise_=requests.ConnectTimeout("connect"), times=10)
        with pytest.raises(HttpError, match="timed out after 3 attempts"):
            check(fake, http={"max_retries": 2})


def test_malformed_json_is_a_clear_error():
    with FakeHubSpot() as fake:
        fake.inject("GET", COMPANIES, status=200, raw="<html>proxy error</html>")
        with pytest.raises(ConnectorError, match="not valid JSON"):
            check(fake)
        fake.inject("POST", r"/batch/read$", status=200, raw='{"results": 12}')
        vendor = fake.company("V", type="VENDOR")
        with pytest.raises(ConnectorError, match="unexpected answer"):
            make_connector(fake).load([vendor])


def test_401_says_how_to_fix_without_the_token():
    with FakeHubSpot() as fake:
        connector = make_connector(fake)
        connector.client.session.headers["Authorization"] = "Bearer pat-na1-wrong-token"
        with pytest.raises(AuthError) as info:
            connector.check()
        message = str(info.value)
        assert "HTTP 401" in message and "HUBSPOT_SERVICE_KEY" in message
        assert "Service Key was refused" in message and info.value.exit_code == 3
        assert "pat-na1" not in message


def test_403_names_the_missing_scope():
    with FakeHubSpot() as fake:
        fake.scopes.discard("crm.objects.companies.read")
        with pytest.raises(AuthError) as info:
            check(fake)
        message = str(info.value)
        assert "the Service Key lacks the scope(s) crm.objects.companies.read:" in message
        assert info.value.exit_code == 3


def test_403_scope_in_errors_context_and_url_query_scrubbed():
    body = {
        "status": "error",
        "message": "This app hasn't been granted all required scopes; see "
        "https://developers.hubspot.com/scopes?token=secret123",
        "correlationId": "c-403",
        "category": "MISSING_SCOPES",
        "errors": [
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": ["crm.schemas.companies.write"]},
            }
        ],
    }
    with FakeHubSpot() as fake:
        fake.inject("POST", r"/properties/companies/groups$", status=403, body=body)
        with pytest.raises(AuthError) as info:
            make_connector(fake, rule_ids=["R1"]).setup()
        message = str(info.value)
        assert "crm.schemas.companies.write" in message
        assert "secret123" not in message and "c-403" in message


def test_token_never_in_logs_or_errors(caplog, monkeypatch):
    # the CLI's redaction filters (left by earlier CLI tests) must not hide a leak here:
    # this tests the connector itself
    for name in ("cmrules", "urllib3", "requests"):
        logger = logging.getLogger(name)
        monkeypatch.setattr(logger, "filters", [])
        monkeypatch.setattr(logger, "propagate", True)
        caplog.set_level(logging.DEBUG, logger=name)
    caplog.set_level(logging.DEBUG)
    errors = []
    with FakeHubSpot() as fake:
        vendor = fake.company("V", type="VENDOR")
        client = fake.company("C")
        fake.associate("companies", vendor, "companies", client)
        fake.inject("POST", r"/batch/read$", status=429, body=TEN_SECONDLY)
        fake.inject("POST", r"/batch/read$", status=500)
        connector = make_connector(fake, rule_ids=["R1"])
        connector.load([vendor])
        connector.setup()
        fake.inject("GET", COMPANIES, status=400, body={"message": "bad", "correlationId": "x"})
        for attempt in (connector.check, lambda: make_connector(fake, service_key="nope").check()):
            try:
                attempt()
            except ConnectorError as exc:
                errors.append(f"{exc} {exc!r}")
        fake.inject("GET", COMPANIES, raise_=requests.ConnectionError(f"Bearer {TOKEN}"), times=9)
        try:
            make_connector(fake, http={"max_retries": 1}).check()
        except ConnectorError as exc:
            errors.append(f"{exc} {exc!r}")
    assert len(errors) == 3
    assert "retrying" in caplog.text  # the retries were logged
    for text in [caplog.text, *errors, repr(connector), connector.describe()]:
        assert TOKEN not in text
        assert TOKEN[:12] not in text


def test_client_side_throttle_keeps_under_the_10_second_bucket():
    clock = FakeClock()
    with FakeHubSpot() as fake:
        fake.clock = clock
        connector = make_connector(fake, clock=clock, requests_per_10s=100)
        for _ in range(250):
            connector.client.request("GET", "/crm/v3/objects/companies")
        times = [c["t"] for c in fake.calls]
        assert max(sum(1 for t in times if start <= t < start + 10) for start in times) == 100
        assert clock.now == pytest.approx(20.0)  # 250 calls = 2 full windows of waiting


def test_search_throttle_four_per_second_on_its_own_bucket():
    clock = FakeClock()
    with FakeHubSpot() as fake:
        fake.clock = clock
        for i in range(450):
            fake.company(f"V{i}", type="VENDOR")
        connector = make_connector(fake, clock=clock)
        for _ in range(3):
            connector.reader.vendor_cache = None
            assert len(connector.reader.vendor_ids()) == 450  # 3 pages of 200 each time
        times = [c["t"] for c in fake.calls if c["path"].endswith("/search")]
        assert len(times) == 9
        assert max(sum(1 for t in times if s <= t < s + 1) for s in times) == 4
