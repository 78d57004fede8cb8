"""HubSpot connector: wire-value parsers, contact roles from titles/labels/buying roles, and
settings errors (no portal data needed; split from test_hubspot_read.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hubspot_fake import FakeHubSpot, make_connector

from cmrules.connectors.hubspot import HubSpotConnector
from cmrules.errors import ConfigError
from cmrules.model import Role


def test_values_helpers_parse_hubspot_strings():
    """The shared parsers on HubSpot's wire forms (numbers, booleans, epoch ms, ISO, multi)."""
    from cmrules.values import parse_bool, parse_datetime, parse_multi, parse_number

    assert parse_number("17") == 17 and parse_number("1.5") == 1.5 and parse_number(None) is None
    assert parse_bool("false") is False and parse_bool("true") is True and parse_bool("") is None
    assert parse_datetime("1572480000000") == datetime(2019, 10, 31, tzinfo=UTC)
    assert parse_datetime("2024-01-17T19:55:04.281Z").microsecond == 281000
    assert parse_multi("chocolate;strawberry") == ["chocolate", "strawberry"]
    assert parse_multi(None) == []


@pytest.mark.parametrize(
    ("side", "title", "expected"),
    [
        ("company", "Directeur Marketing", {Role.EXECUTIVE_SPONSOR}),
        ("company", "CEO", {Role.EXECUTIVE_SPONSOR}),
        ("company", "Directrice générale", {Role.EXECUTIVE_SPONSOR}),
        ("company", "PDG", {Role.EXECUTIVE_SPONSOR}),
        ("company", "Chef de projet digital", {Role.PROJECT_OWNER}),
        ("company", "Senior Project Manager", {Role.PROJECT_OWNER}),
        ("company", "Responsable Communication", {Role.PROJECT_OWNER}),
        ("company", "Community Manager", {Role.COMMUNITY_MANAGER}),
        ("company", "Comptable", set()),
        ("company", "Account Manager", set()),  # a vendor-side title on the company side
        ("vendor", "Account manager", {Role.VENDOR_REFERENT}),
        ("vendor", "Chargé de compte", {Role.VENDOR_REFERENT}),
        ("vendor", "Référente client", {Role.VENDOR_REFERENT}),
        ("vendor", "REFERENT", {Role.VENDOR_REFERENT}),
        ("vendor", "Community manager senior", {Role.COMMUNITY_MANAGER}),
        ("vendor", "CEO", set()),  # the agency's CEO is not the client's sponsor
        ("company", None, set()),
    ],
)
def test_role_mapping_from_job_titles_en_fr(side, title, expected):
    with FakeHubSpot() as fake:
        connector = make_connector(fake)
    assert connector.roles_for(side, title) == frozenset(expected)


def test_role_mapping_from_labels_and_buying_roles():
    with FakeHubSpot() as fake:
        connector = make_connector(fake)
    assert connector.roles_for("company", None, labels=["Decision maker"]) == {Role.PROJECT_OWNER}
    assert connector.roles_for("company", None, labels=["Décideur"]) == {Role.PROJECT_OWNER}
    assert connector.roles_for("company", None, labels=["Executive sponsor"]) == {
        Role.EXECUTIVE_SPONSOR
    }
    assert connector.roles_for("company", None, ["EXECUTIVE_SPONSOR"]) == {Role.EXECUTIVE_SPONSOR}
    assert connector.roles_for("company", None, ["BLOCKER"]) == frozenset()


def test_role_mapping_is_configurable():
    with FakeHubSpot() as fake:
        connector = make_connector(
            fake,
            role_labels={"Sponsor interne": "executive_sponsor"},
            job_titles={"company": {"project_owner": ["responsable digital"]}},
        )
    assert connector.roles_for("company", "Responsable Digital") == {Role.PROJECT_OWNER}
    assert connector.roles_for("company", "CEO") == frozenset()  # defaults replaced
    assert connector.roles_for("company", None, labels=["sponsor INTERNE"]) == {
        Role.EXECUTIVE_SPONSOR
    }


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        ({"role_labels": {"x": "boss"}}, "role_labels.x is 'boss'; expected one of project_owner"),
        ({"attributes": {"colour": "cm_colour"}}, "unknown key hubspot.attributes.colour"),
        ({"activity_types": ["tweets"]}, "activity_types.0 is 'tweets'; expected one of meetings"),
        ({"requests_per_10s": 1000}, "requests_per_10s must be a whole number between 1 and 250"),
        ({"proposal_pattern": "("}, "proposal_pattern is not a valid regular expression"),
        ({"base_url": "ftp://x"}, "hubspot.base_url 'ftp://x' is not valid; use https://"),
        ({"base_url": "http://api.hubapi.com"}, "base_url 'http://api.hubapi.com' is not valid"),
        ({"requests_per_10s": float("inf")}, "between 1 and 250 (got inf)"),
        ({"lookback_minutes": -1}, "lookback_minutes must be a whole number between 0 and 1440"),
        ({"clients_via_deals": "yes"}, "clients_via_deals must be true or false, got 'yes'"),
    ],
)
def test_config_errors_are_clear(settings, needle):
    with pytest.raises(ConfigError, match=re.escape(needle)):
        HubSpotConnector({"token": "pat-x", **settings})


def test_token_from_environment_and_missing(monkeypatch):
    monkeypatch.setenv("HUBSPOT_TOKEN", "pat-from-env")
    connector = HubSpotConnector({})
    assert connector.client.session.headers["Authorization"] == "Bearer pat-from-env"
    monkeypatch.delenv("HUBSPOT_TOKEN")
    with pytest.raises(ConfigError, match="HUBSPOT_TOKEN"):
        HubSpotConnector({})
    with pytest.raises(ConfigError, match="HUBSPOT_TOKEN"):
        HubSpotConnector({"token": "${HUBSPOT_TOKEN}"})  # never expanded
