"""The ``hubspot`` config section: keys, defaults and their validation.

:func:`parse_settings` turns the raw section into a typed :class:`HubSpotSettings` or raises a
:class:`~cmrules.errors.ConfigError` saying which key is wrong and how to fix it.  The default
vocabularies (association labels, buying roles, job titles, activity keywords) live here too,
since every one of them can be overridden in the section.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from cmrules.connector_settings import bounded_int, site_url, validate_section
from cmrules.errors import ConfigError
from cmrules.model import (
    CONTACT_ATTRIBUTES,
    ENGAGEMENT_ATTRIBUTES,
    ORG_ATTRIBUTES,
    ActivityKind,
    Role,
)
from cmrules.vocabulary import (
    JOB_TITLES,
    PATTERNS,
    ROLE_LABELS,
    STATUS_KEYWORDS,
    fold,
    keyword_re,
)

from .client import API_VERSIONS, DEFAULT_API_VERSION
from .common import DEFAULT_BASE_URL

ACTIVITY_TYPES: dict[str, dict[str, Any]] = {
    "meetings": {
        "kind": ActivityKind.MEETING,
        "title": "hs_meeting_title",
        "body": "hs_meeting_body",
        "time": ("hs_timestamp", "hs_meeting_start_time"),
        "status": "hs_meeting_outcome",
        "extra": ("hs_internal_meeting_notes",),
    },
    "emails": {
        "kind": ActivityKind.EMAIL,
        "title": "hs_email_subject",
        "body": "hs_email_text",
        "time": ("hs_timestamp",),
        "status": None,
        "extra": (),
    },
    "calls": {
        "kind": ActivityKind.CALL,
        "title": "hs_call_title",
        "body": "hs_call_body",
        "time": ("hs_timestamp",),
        "status": None,
        "extra": (),
    },
    "notes": {
        "kind": ActivityKind.NOTE,
        "title": None,  # first line of the body
        "body": "hs_note_body",
        "time": ("hs_timestamp",),
        "status": None,
        "extra": (),
    },
}

DEFAULT_BUYING_ROLES: dict[str, str] = {
    "DECISION_MAKER": "project_owner",
    "EXECUTIVE_SPONSOR": "executive_sponsor",
    "BUDGET_HOLDER": "executive_sponsor",
    "CHAMPION": "contributor",
    "INFLUENCER": "contributor",
    "END_USER": "contributor",
}

#: the core vocabulary's tables (cmrules.vocabulary): one vocabulary for every connector
DEFAULT_ROLE_LABELS = ROLE_LABELS
DEFAULT_JOB_TITLES = JOB_TITLES
DEFAULT_PATTERNS = PATTERNS
DEFAULT_STATUS_KEYWORDS = STATUS_KEYWORDS
#: company-to-company association labels marking a client relationship that has ended
DEFAULT_ENDED_LABELS = ["former client", "ancien client", "ended", "terminé", "past client"]


_STRINGS = {
    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
    "description": "a string or a list of strings",
}
_ROLE = {"enum": [r.value for r in Role]}
_KEYWORDS = {
    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}, {"type": "null"}],
    "description": "a keyword or a list of keywords",
}
_PROPERTY = {"type": ["string", "null"], "description": "a HubSpot property's internal name"}
_ATTRIBUTES = sorted({*ORG_ATTRIBUTES, *CONTACT_ATTRIBUTES, *ENGAGEMENT_ATTRIBUTES})

#: The ``hubspot`` section as JSON Schema: types, bounds and unknown keys (docs/hubspot.md).
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "cmrules hubspot settings",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "service_key": {
            "type": ["string", "null"],
            "description": "better set the HUBSPOT_SERVICE_KEY environment variable",
        },
        "token": {
            "type": ["string", "null"],
            "description": "a legacy private-app token; better set HUBSPOT_TOKEN",
        },
        "api_version": {
            "enum": list(API_VERSIONS),
            "description": f"use {DEFAULT_API_VERSION} (default) or legacy (/crm/v3 + /crm/v4)",
        },
        "base_url": site_url("use https://api.hubapi.com (https, a host, an optional port)"),
        "requests_per_10s": bounded_int(
            1, 250, "HubSpot allows 100 (Free/Starter) or 190 (Pro/Enterprise) per 10 s"
        ),
        "search_per_second": bounded_int(1, 5, "HubSpot allows 5 searches per second per account"),
        "lookback_minutes": bounded_int(
            0, 24 * 60, "minutes of overlap between incremental runs (default 5)"
        ),
        "vendor_property": {"type": "string", "minLength": 1},
        "vendor_values": _STRINGS,
        "client_association_labels": _STRINGS,
        "ended_association_labels": _STRINGS,
        "clients_via_deals": {"type": "boolean"},
        "activity_types": {
            "anyOf": [
                {"enum": list(ACTIVITY_TYPES)},
                {"type": "array", "items": {"enum": list(ACTIVITY_TYPES)}},
            ],
            "description": f"use any of {', '.join(ACTIVITY_TYPES)}",
        },
        "role_labels": {"type": "object", "additionalProperties": _ROLE},
        "buying_roles": {"type": "object", "additionalProperties": _ROLE},
        "job_titles": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                side: {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {r.value: _KEYWORDS for r in Role},
                }
                for side in ("company", "vendor")
            },
        },
        "attributes": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                name: {"type": "string", "minLength": 1, "pattern": r"\S"} for name in _ATTRIBUTES
            },
        },
        "engagement_started_property": _PROPERTY,
        "external_id_property": _PROPERTY,
        **{key: {"type": "string"} for key in DEFAULT_PATTERNS},
        "proposal_status_property": _PROPERTY,
        "proposal_decided_property": _PROPERTY,
        "status_keywords": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                status: _KEYWORDS for status in ("accepted", "rejected", "implemented", "proposed")
            },
        },
        "rule_ids": _STRINGS,
        "deal_pipelines": _STRINGS,
        "deal_stages": _STRINGS,
    },
}

#: every key the section accepts (unknown keys are config errors)
SETTINGS_KEYS = frozenset(SCHEMA["properties"])


@dataclass
class HubSpotSettings:
    """The validated ``hubspot`` section (see docs/hubspot.md for each key)."""

    token: str = field(repr=False)
    credential: str  # "Service Key" | "legacy private-app token"
    credential_source: str  # the env var or config key it came from, for `check`
    api_version: str  # a key of client.API_VERSIONS
    base_url: str
    requests_per_10s: int
    search_per_second: int
    lookback: timedelta
    vendor_property: str
    vendor_values: list[str]
    client_labels: set[str]  # folded association labels that mark a client
    ended_labels: set[str]  # folded association labels that mark a client relationship ended
    clients_via_deals: bool
    activity_types: list[str]
    role_labels: dict[str, Role]
    buying_roles: dict[str, Role]
    job_titles: dict[str, list[tuple[Role, re.Pattern[str]]]]
    org_attrs: dict[str, str]
    contact_attrs: dict[str, str]
    engagement_attrs: dict[str, str]
    engagement_started_property: str | None
    external_id_property: str | None  # company property other systems know it by
    patterns: dict[str, re.Pattern[str]]
    proposal_status_property: str | None
    proposal_decided_property: str | None
    status_keywords: list[tuple[str, re.Pattern[str]]]
    rule_ids: list[str]
    #: open deals evaluated as prospects (readiness): pipelines (all if empty) and stages
    deal_pipelines: list[str] = field(default_factory=list)
    deal_stages: list[str] = field(default_factory=list)


def parse_settings(settings: Mapping[str, Any], config_path: str | None) -> HubSpotSettings:
    """Validate the raw section against :data:`SCHEMA`, then build the typed settings; the
    credential comes from the section or the environment (see :func:`_credential`)."""
    where = f"the hubspot section of {config_path or 'your config'}"
    s = validate_section(SCHEMA, settings, "hubspot", lambda *path: where)
    token, credential, source = _credential(s, where)
    vendor_values = _strings(s.get("vendor_values", ["VENDOR"]))
    if not vendor_values:
        raise ConfigError(f"hubspot.vendor_values must name at least one value, in {where}")
    org_attrs, contact_attrs, engagement_attrs = _attributes(s.get("attributes") or {})
    return HubSpotSettings(
        token=token,
        credential=credential,
        credential_source=source,
        api_version=str(s.get("api_version", DEFAULT_API_VERSION)),
        base_url=str(s.get("base_url") or DEFAULT_BASE_URL).rstrip("/"),
        requests_per_10s=s.get("requests_per_10s", 100),
        search_per_second=s.get("search_per_second", 4),
        lookback=timedelta(minutes=s.get("lookback_minutes", 5)),
        vendor_property=str(s.get("vendor_property", "type")),
        vendor_values=vendor_values,
        client_labels={fold(x) for x in _strings(s.get("client_association_labels", []))},
        ended_labels={
            fold(x) for x in _strings(s.get("ended_association_labels", DEFAULT_ENDED_LABELS))
        },
        clients_via_deals=bool(s.get("clients_via_deals", False)),
        activity_types=_strings(s.get("activity_types", ["meetings"])),
        role_labels={
            fold(k): Role(v) for k, v in s.get("role_labels", DEFAULT_ROLE_LABELS).items()
        },
        buying_roles={
            str(k): Role(v) for k, v in s.get("buying_roles", DEFAULT_BUYING_ROLES).items()
        },
        job_titles=_job_titles(s.get("job_titles", DEFAULT_JOB_TITLES)),
        org_attrs=org_attrs,
        contact_attrs=contact_attrs,
        engagement_attrs=engagement_attrs,
        engagement_started_property=s.get("engagement_started_property") or None,
        external_id_property=s.get("external_id_property") or None,
        patterns={k: _regex(k, s.get(k, v)) for k, v in DEFAULT_PATTERNS.items()},
        proposal_status_property=s.get("proposal_status_property") or None,
        proposal_decided_property=s.get("proposal_decided_property") or None,
        status_keywords=_status_keywords(s.get("status_keywords", DEFAULT_STATUS_KEYWORDS)),
        rule_ids=_strings(s.get("rule_ids", [])),
        deal_pipelines=_strings(s.get("deal_pipelines", [])),
        deal_stages=_strings(s.get("deal_stages", [])),
    )


def _credential(s: Mapping[str, Any], where: str) -> tuple[str, str, str]:
    """(token, kind, source): a Service Key first, else a legacy private-app token.

    HubSpot sends both as a bearer and offers no call that tells them apart, so the kind
    is the one the customer declared by where they put it."""
    for key, env, kind in (
        ("service_key", "HUBSPOT_SERVICE_KEY", "Service Key"),
        ("token", "HUBSPOT_TOKEN", "legacy private-app token"),
    ):
        value, source = (s[key], f"hubspot.{key}") if key in s else (os.environ.get(env), env)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if not isinstance(value, str) or value.strip().startswith("${"):
            raise ConfigError(
                f"hubspot.{key} is not set to a {kind}, in {where}; export {env} "
                "(secrets come from the environment)"
            )
        return value.strip(), kind, source
    raise ConfigError(
        "no HubSpot credential: create a Service Key (HubSpot > Development > Keys > "
        "Service keys, scopes in docs/hubspot.md) and set the HUBSPOT_SERVICE_KEY "
        f"environment variable (a legacy private-app token in HUBSPOT_TOKEN still works), "
        f"for {where}"
    )


def _strings(value: str | list[str]) -> list[str]:
    """A string or a list of strings (schema-checked), blanks dropped."""
    values = [value] if isinstance(value, str) else value
    return [v for v in values if v.strip()]


def _keywords(words: str | list[str] | None) -> list[str]:
    return [words] if isinstance(words, str) else list(words or [])


def _job_titles(raw: Mapping[str, Any]) -> dict[str, list[tuple[Role, re.Pattern[str]]]]:
    result: dict[str, list[tuple[Role, re.Pattern[str]]]] = {"company": [], "vendor": []}
    for side, roles in raw.items():
        for role, words in roles.items():
            pattern = keyword_re(_keywords(words))
            if pattern is not None:
                result[side].append((Role(role), pattern))
    return result


def _attributes(raw: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Split ``attributes`` (cmrules attribute -> HubSpot property) by record type."""
    org: dict[str, str] = {}
    contact: dict[str, str] = {}
    engagement: dict[str, str] = {}
    for name, prop in raw.items():
        if name in ORG_ATTRIBUTES:
            org[name] = prop.strip()
        elif name in CONTACT_ATTRIBUTES:
            contact[name] = prop.strip()
        else:
            engagement[name] = prop.strip()
    return org, contact, engagement


def _regex(key: str, value: str) -> re.Pattern[str]:
    try:
        return re.compile(fold(str(value)))
    except re.error as exc:
        raise ConfigError(f"hubspot.{key} is not a valid regular expression ({exc})") from None


def _status_keywords(raw: Mapping[str, Any]) -> list[tuple[str, re.Pattern[str]]]:
    result = []
    for status, words in raw.items():
        pattern = keyword_re(_keywords(words))
        if pattern is not None:
            result.append((status, pattern))
    return result
