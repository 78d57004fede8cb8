"""Zendesk connector against a stateful ``responses`` double (no network, no real sleeping)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import responses
from zendesk_fake import AUTH, EMAIL, T0, TOKEN, Clock, FakeZendesk, make_connector, scenario

from cmrules.connector import ConnectorContext, connector_class
from cmrules.connectors.zendesk import (
    ZendeskConnector,
)
from cmrules.errors import AuthError, ConfigError, UsageError
from cmrules.http import HttpError
from cmrules.model import ActivityKind, OrgKind, Role, Side


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


@pytest.fixture
def zd(rsps) -> FakeZendesk:
    return scenario(rsps)


make = make_connector


# -- reading ------------------------------------------------------------------------------------
def test_entry_point_registered():
    assert connector_class("zendesk") is ZendeskConnector


def test_load_fills_the_canonical_model(zd):
    conn = make()
    data = conn.load(["100"])
    orgs = data.organisations
    assert set(orgs) == {"100", "200", "201"}  # Gamma's vendor is unknown, Unrelated has none
    assert orgs["100"].kind == OrgKind.VENDOR and orgs["200"].kind == OrgKind.COMPANY
    assert orgs["200"].domain == "acme.com" and orgs["100"].external_id == "vend-1"
    assert orgs["200"].attributes == {"regulated": True, "has_ticket_data": True}
    assert orgs["100"].attributes["has_ticket_data"] is True
    assert {(e.company_id, e.vendor_id) for e in data.engagements} == {
        ("200", "100"),
        ("201", "100"),
    }

    roles = {c.id: c.roles for c in data.contacts}
    assert roles["10"] == {Role.PROJECT_OWNER}
    assert roles["11"] == {Role.EXECUTIVE_SPONSOR}
    assert roles["20"] == {Role.VENDOR_REFERENT}  # "Vendor Referent" normalised
    assert roles["21"] == {Role.COMMUNITY_MANAGER}  # tag alias cm_role_cm
    assert data.contact("10").job_title == "CMO" and data.contact("10").org_id == "200"

    acts = {a.id: a for a in data.activities}
    t = acts["1000"]
    assert t.kind == ActivityKind.TICKET and t.company_id == "200" and t.vendor_id == "100"
    assert t.timestamp == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert t.side == Side.COMPANY and t.contact_ids == ("10",) and t.status == "open"
    assert (
        t.first_reply_minutes == 30.0 and t.replies == 2 and t.title == "Validate the May calendar"
    )
    assert acts["1001"].side == Side.VENDOR  # requester is the vendor's referent
    # missing metrics are unknown, never zero
    assert acts["1001"].first_reply_minutes is None and acts["1001"].replies is None
    assert acts["1002"].first_reply_minutes is None and acts["1002"].replies == 0
    assert acts["1003"].company_id == "201" and acts["1003"].side == Side.COMPANY
    assert conn.unmatched == [
        "zendesk organisation 'Gamma' (id 202) names vendor 'nobody-knows' in organisation field "
        "'cm_vendor', but no organisation tagged 'cm_vendor' has that id, external id or name"
    ]


def test_metrics_read_in_bulk_once(zd):
    conn = make({"ticket_metrics": "bulk"})
    conn.load(["100"])
    assert zd.calls("GET", "/api/v2/ticket_metrics") == ["/api/v2/ticket_metrics"]
    assert not zd.calls("GET", "/api/v2/tickets/")


def test_bulk_metrics_stop_once_every_ticket_is_covered(zd):
    for tid in range(2000, 2010):  # other tickets' metrics, sorted after ours
        zd.metrics[tid] = {"id": tid, "ticket_id": tid, "replies": 1}
    conn = make({"page_size": 2, "ticket_metrics": "bulk"})
    conn.load(["100"], ["200"])
    # tickets 1000 and 1002 have metrics on page 1; 1001 has none, so paging goes on to the end
    assert len(zd.calls("GET", "/api/v2/ticket_metrics")) == 7
    zd.log.clear()
    del zd.tickets[1001]
    make({"page_size": 2, "ticket_metrics": "bulk"}).load(["100"], ["200"])
    assert len(zd.calls("GET", "/api/v2/ticket_metrics")) == 1


def test_per_ticket_metrics_mode(zd):
    data = make({"ticket_metrics": "per_ticket"}).load(["100"], ["200"])
    assert sorted(zd.calls("GET", "/api/v2/tickets/")) == [
        f"/api/v2/tickets/{t}/metrics" for t in (1000, 1001, 1002)
    ]
    by_id = {a.id: a for a in data.activities}
    assert by_id["1000"].first_reply_minutes == 30.0 and by_id["1001"].replies is None


def test_cursor_paging_follows_links_next_and_never_offsets(zd, rsps):
    for i in range(400, 407):
        zd.org(i, f"Client {i}", tags=["cm_vendor_100"])
    conn = make({"page_size": 3})
    data = conn.load(["100"])
    assert {str(i) for i in range(400, 407)} <= set(data.organisations)
    org_pages = [c for c in rsps.calls if c.request.url.split("?")[0].endswith("/organizations")]
    assert len(org_pages) == 4  # 12 orgs, 3 per page
    assert all("page%5Bsize%5D=3" in c.request.url for c in org_pages)
    assert "page%5Bafter%5D=3" in org_pages[1].request.url
    assert not any("per_page" in c.request.url for c in rsps.calls)


def test_repeated_cursor_stops_instead_of_looping(rsps):
    url = "https://acme.zendesk.com/api/v2/organizations"
    loop = {
        "organizations": [],
        "meta": {"has_more": True, "after_cursor": "x"},
        "links": {"next": url + "?page%5Bafter%5D=x"},
    }
    rsps.add(responses.GET, url + "/search", json={"organizations": []})
    rsps.add(responses.GET, url, json=loop)
    with pytest.raises(Exception, match="repeated; stopping to avoid a loop"):
        make().find_organisations("no such org", OrgKind.COMPANY)


def test_links_next_to_another_host_is_not_followed(rsps):
    url = "https://acme.zendesk.com/api/v2/organizations"
    rsps.add(
        responses.GET,
        url,
        json={
            "organizations": [],
            "meta": {"has_more": True, "after_cursor": "c2"},
            "links": {"next": "https://evil.example/api/v2/organizations?page%5Bafter%5D=c2"},
        },
    )
    rsps.add(responses.GET, url + "/search", json={"organizations": []})
    rsps.add(responses.GET, url, json={"organizations": [], "meta": {"has_more": False}})
    make().find_organisations("x", OrgKind.COMPANY)
    assert [c.request.url.split("/")[2] for c in rsps.calls].count("evil.example") == 0
    assert "page%5Bafter%5D=c2" in rsps.calls[-1].request.url


def test_find_organisations_and_vendors_of(zd):
    conn = make()
    assert [o.id for o in conn.find_organisations("100", OrgKind.VENDOR)] == ["100"]
    assert [o.id for o in conn.find_organisations("vend-1", OrgKind.VENDOR)] == ["100"]
    assert [o.name for o in conn.find_organisations("acm", OrgKind.COMPANY)] == ["Acme"]
    assert conn.find_organisations("acme", OrgKind.VENDOR) == []
    assert make().vendors_of(["200", "201"]) == {"200": ["100"], "201": ["100"]}


def test_vendors_of_without_listing_uses_exact_lookups(zd):
    conn = make()
    assert conn.vendors_of(["200"]) == {"200": ["100"]}
    assert zd.calls("GET") == ["/api/v2/organizations/200", "/api/v2/organizations/search"]


def test_load_rejects_a_non_vendor_and_unknown_ids(zd):
    with pytest.raises(UsageError, match="'Acme' \\(id 200\\) is not a vendor: tag it 'cm_vendor'"):
        make().load(["200"])
    with pytest.raises(UsageError, match="no Zendesk organisation with id 999"):
        make().load(["999"])


def test_vendor_by_organisation_field(zd):
    zd.orgs[100]["tags"] = []
    zd.orgs[100]["organization_fields"] = {"cm_kind": "vendor"}
    data = make({"vendor_field": "cm_kind"}).load(["100"])
    assert data.organisations["100"].kind == OrgKind.VENDOR and "200" in data.organisations


# -- HTTP policy ----------------------------------------------------------------------------------
def test_429_plain_text_body_waits_exactly_retry_after(zd):
    zd.fail_next(
        "GET",
        r"/organizations/100$",
        429,
        "Number of allowed API requests per minute exceeded",
        headers={"Retry-After": "7"},
    )
    clock = Clock()
    conn = make(clock=clock)
    data = conn.load(["100"], ["200"])
    assert "100" in data.organisations
    assert conn.client.sleeps == [7.0] and clock.slept == [7.0]
    assert zd.calls("GET", "/api/v2/organizations/100")[:2] == ["/api/v2/organizations/100"] * 2


def test_5xx_is_retried_with_backoff(zd):
    zd.fail_next(
        "GET", r"/organizations/200/tickets", 503, "<html>busy</html>", content_type="text/html"
    )
    zd.fail_next("GET", r"/organizations/200/tickets", 502, "bad gateway")
    conn = make()
    conn.client.jitter = lambda delay: delay
    data = conn.load(["100"], ["200"])
    assert conn.client.sleeps == [1.0, 2.0]
    assert len([a for a in data.activities if a.company_id == "200"]) == 3


def test_5xx_exhausted_is_a_clear_error(zd):
    for _ in range(3):
        zd.fail_next("GET", r"/organizations/100$", 500, "oops")
    conn = ZendeskConnector(
        {"subdomain": "acme", "email": EMAIL, "token": TOKEN},
        ConnectorContext(http={"max_retries": 2}),
        sleep=Clock().sleep,
    )
    with pytest.raises(HttpError) as err:
        conn.load(["100"])
    assert (
        str(err.value) == "Zendesk GET /api/v2/organizations/100: HTTP 500 after 3 attempts: oops"
    )


def test_rate_limit_and_incremental_bucket(zd):
    zd.org_export = [
        {"organizations": [zd.orgs[200]], "end_of_stream": False, "end_time": 2},
        {"organizations": [], "end_of_stream": True, "end_time": 3},
    ]
    zd.ticket_export = [{"tickets": [], "end_of_stream": True}]
    zd.user_export = [{"users": [], "end_of_stream": True}]
    clock = Clock()
    conn = make({"incremental_requests_per_minute": 2, "requests_per_minute": 100}, clock)
    conn.changed_since(datetime(2024, 1, 1, tzinfo=UTC), T0)
    # 4 export calls at 2/min: the third waits a full minute, the fourth does not wait again
    assert clock.slept == [60.0]
    assert conn.client.sleeps == []  # limiter waits are not retries


def test_requests_per_minute_throttles(zd):
    clock = Clock()
    conn = make({"requests_per_minute": 1}, clock)
    conn.vendors_of(["200"])  # two calls
    assert clock.slept == [60.0]


# -- incremental ----------------------------------------------------------------------------------
def test_changed_since_uses_exports_and_dedupes(zd):
    acme, unrelated = dict(zd.orgs[200]), dict(zd.orgs[300])
    zd.org_export = [
        {"organizations": [acme, unrelated], "end_of_stream": False, "end_time": 1700000000},
        {"organizations": [acme], "end_of_stream": True, "end_time": 1700000100},  # duplicate
    ]
    zd.ticket_export = [
        {"tickets": [{"id": 1, "organization_id": 201}], "end_of_stream": False},
        {"tickets": [{"id": 2, "organization_id": None}], "end_of_stream": True},
    ]
    zd.user_export = [{"users": [{"id": 5, "organization_id": 100}], "end_of_stream": True}]
    conn = make()
    change = conn.changed_since(datetime(2024, 1, 1, tzinfo=UTC), T0)
    assert change.organisation_ids == {"200", "201", "100"}  # Unrelated is not a CM org
    assert change.watermark == datetime(2024, 6, 1, 11, 59, tzinfo=UTC)
    assert zd.calls("GET", "/api/v2/incremental/") == [
        "/api/v2/incremental/organizations",
        "/api/v2/incremental/organizations",
        "/api/v2/incremental/tickets/cursor.json",
        "/api/v2/incremental/tickets/cursor.json",
        "/api/v2/incremental/users/cursor.json",
    ]


def test_changed_since_none_lists_cm_orgs(zd):
    change = make().changed_since(None, T0)
    assert change.organisation_ids == {"100", "200", "201", "202"}


# -- auth, config, secrets -----------------------------------------------------------------------
def test_check_ok_and_refused(zd):
    lines = make().check()
    assert lines[0] == (
        "zendesk: connected to zendesk (acme.zendesk.com) with an API token as "
        "'Ops Bot' (role admin)"
    )
    zd.require_auth = "Basic nope"
    with pytest.raises(
        AuthError,
        match="HTTP 401: Couldn't authenticate you; Zendesk refused the API token .API "
        "tokens unused for 30 days are switched off, and all stop on 30 Apr 2027.: move to "
        "`auth: oauth_client_credentials`",
    ):
        make().check()
    assert zd.calls("GET") == ["/api/v2/users/me.json"] * 2


def test_check_403_and_end_user(zd):
    zd.fail_next("GET", r"/users/me", 403, '{"error":"Forbidden"}', content_type="application/json")
    with pytest.raises(AuthError, match="HTTP 403: Forbidden; the credentials are valid but lack"):
        make().check()
    zd.me = {"id": 5, "name": "Someone", "role": "end-user"}
    with pytest.raises(AuthError, match="belong to an end-user"):
        make().check()


def test_oauth_bearer_and_env_fallback(zd, monkeypatch):
    monkeypatch.setenv("ZENDESK_OAUTH_TOKEN", "oauth-SECRET")
    zd.require_auth = "Bearer oauth-SECRET"
    conn = ZendeskConnector({"subdomain": "acme"}, sleep=Clock().sleep)
    lines = conn.check()
    assert "with a static OAuth token" in lines[0]
    assert "expiring tokens by 1 Apr 2027" in lines[1] and lines[1].startswith("warning:")
    monkeypatch.delenv("ZENDESK_OAUTH_TOKEN")
    monkeypatch.setenv("ZENDESK_EMAIL", EMAIL)
    monkeypatch.setenv("ZENDESK_API_TOKEN", TOKEN)
    zd.require_auth = AUTH
    assert "API token" in ZendeskConnector({"base_url": "https://acme.zendesk.com/"}).check()[0]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "set 'subdomain'"),
        ({"subdomain": "https://acme.zendesk.com"}, "should be the first label"),
        ({"base_url": "acme.zendesk.com"}, "base_url 'acme.zendesk.com' is not valid"),
        ({"base_url": "http://acme.zendesk.com"}, "is not valid; use e.g. https://acme"),
        ({"base_url": "https://acme.zendesk.com:99999"}, "is not valid"),
        ({"base_url": "https://acme.zendesk.com/agent"}, "is not valid"),
        ({"subdomain": "acme", "email": EMAIL}, "ZENDESK_API_TOKEN is missing"),
        (
            {"subdomain": "acme", "email": EMAIL, "token": "${ZENDESK_API_TOKEN}"},
            "refers to an environment variable that is not set",
        ),
        (
            {"subdomain": "acme", "oauth_token": "t", "page_size": 500},
            "page_size must be a whole number between 1 and 100",
        ),
        (
            {"subdomain": "acme", "oauth_token": "t", "requests_per_minute": -5},
            "requests_per_minute must be a whole number between 1 and 100000",
        ),
        (
            {"subdomain": "acme", "oauth_token": "t", "roles": {"boss": "king"}},
            "roles.boss is 'king'; expected one of project_owner",
        ),
        ({"subdomain": "acme", "oauth_token": "t", "ticket_metrics": "all"}, "ticket_metrics"),
        (
            {"subdomain": "acme", "oauth_token": "t", "org_attribute_fields": {"headcount": "x"}},
            "unknown key zendesk.org_attribute_fields.headcount",
        ),
    ],
)
def test_config_errors(settings, message, monkeypatch):
    for var in ("ZENDESK_EMAIL", "ZENDESK_API_TOKEN", "ZENDESK_OAUTH_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ConfigError, match=message) as err:
        ZendeskConnector(settings, ConnectorContext(config_path="cmrules.yaml"))
    assert "zendesk section of cmrules.yaml" in str(err.value)


def test_config_roles_mapping_extends_defaults(zd):
    zd.users[10]["user_fields"]["cm_role"] = "Directeur marketing; cm"
    data = make({"roles": {"Directeur marketing": "executive_sponsor"}}).load(["100"], ["200"])
    assert data.contact("10").roles == {Role.EXECUTIVE_SPONSOR, Role.COMMUNITY_MANAGER}
