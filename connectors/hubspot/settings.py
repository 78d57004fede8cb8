"""The ``hubspot`` config section: keys, defaults and their validation.

:func:`parse_settings` turns the raw section into a typed :class:`HubSpotSettings` or raises a
:class:`~cmrules.errors.ConfigError` saying which key is wrong and how to fix it.  The default
vocabularies (association labels, buying roles, job titles, activity keywords) live here too,
since every one of them can be overridden in the section.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from cmrules.errors import ConfigError
from cmrules.model import (
    CONTACT_ATTRIBUTES,
    ENGAGEMENT_ATTRIBUTES,
    ORG_ATTRIBUTES,
    ActivityKind,
    Role,
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

DEFAULT_ROLE_LABELS: dict[str, str] = {
    "decision maker": "project_owner",
    "décideur": "project_owner",
    "décisionnaire": "project_owner",
    "project owner": "project_owner",
    "chef de projet": "project_owner",
    "executive sponsor": "executive_sponsor",
    "sponsor": "executive_sponsor",
    "sponsor exécutif": "executive_sponsor",
    "account manager": "vendor_referent",
    "vendor referent": "vendor_referent",
    "référent": "vendor_referent",
    "referent": "vendor_referent",
    "community manager": "community_manager",
}
DEFAULT_BUYING_ROLES: dict[str, str] = {
    "DECISION_MAKER": "project_owner",
    "EXECUTIVE_SPONSOR": "executive_sponsor",
    "BUDGET_HOLDER": "executive_sponsor",
    "CHAMPION": "contributor",
    "INFLUENCER": "contributor",
    "END_USER": "contributor",
}

#: community-manager job titles, the same on both sides
_CM_TITLES = [
    "community manager",
    "social media manager",
    "gestionnaire de communauté",
    "animateur de communauté",
    "animatrice de communauté",
]
DEFAULT_JOB_TITLES: dict[str, dict[str, list[str]]] = {
    "company": {
        "executive_sponsor": [
            "ceo",
            "pdg",
            "président",
            "présidente",
            "directeur",
            "directrice",
            "director",
            "managing director",
            "general manager",
            "chief",
            "founder",
            "fondateur",
            "fondatrice",
            "gérant",
            "gérante",
            "vp",
            "vice president",
            "head of",
            "cmo",
            "coo",
        ],
        "project_owner": [
            "chef de projet",
            "cheffe de projet",
            "project manager",
            "project lead",
            "responsable communication",
            "responsable de la communication",
            "responsable marketing",
            "communication manager",
            "marketing manager",
            "chargé de communication",
            "chargée de communication",
            "product owner",
        ],
        "community_manager": _CM_TITLES,
    },
    "vendor": {
        "vendor_referent": [
            "account manager",
            "key account",
            "chargé de compte",
            "chargée de compte",
            "référent",
            "référente",
            "directeur de clientèle",
            "directrice de clientèle",
            "customer success",
            "client success",
            "chef de projet",
            "cheffe de projet",
            "project manager",
        ],
        "community_manager": _CM_TITLES,
    },
}
DEFAULT_PATTERNS = {
    "proposal_pattern": r"\b(propositions?|proposals?|recommandations?|recommendations?)\b",
    "report_pattern": r"\b(reporting|kpis?|bilan|rapport mensuel|monthly report)\b",
    "offer_change_pattern": r"\b(avenant|nouvelle offre|offer update|offer change|new offer)\b",
    "strategy_pattern": r"\b(stratégie|strategie|strategy|strategic|roadmap|feuille de route)\b",
    "onboarding_pattern": r"\b(onboarding|glossaire|glossary|kick-?off|circuit de validation)\b",
}
DEFAULT_STATUS_KEYWORDS = {
    "accepted": ["accepted", "acceptée", "accepté", "validée", "validé", "approved", "approuvée"],
    "rejected": ["rejected", "refusée", "refusé", "declined", "rejetée", "rejeté"],
    "implemented": [
        "implemented",
        "mise en place",
        "mis en place",
        "réalisée",
        "realised",
        "realized",
    ],
}


# ------------------------------------------------------------------------------------------


def fold(text: str) -> str:
    """Case- and accent-insensitive form used for every keyword comparison."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def keyword_re(keywords: Iterable[str]) -> re.Pattern[str] | None:
    words = sorted({fold(k).strip() for k in keywords if k and k.strip()}, key=len, reverse=True)
    if not words:
        return None
    return re.compile(r"(?<!\w)(" + "|".join(re.escape(w) for w in words) + r")(?!\w)")


#: every key the section accepts (unknown keys are config errors)
SETTINGS_KEYS = frozenset(
    {
        "service_key",
        "token",
        "api_version",
        "base_url",
        "requests_per_10s",
        "search_per_second",
        "vendor_property",
        "vendor_values",
        "client_association_labels",
        "clients_via_deals",
        "activity_types",
        "role_labels",
        "buying_roles",
        "job_titles",
        "attributes",
        "engagement_started_property",
        "external_id_property",
        "proposal_pattern",
        "report_pattern",
        "offer_change_pattern",
        "strategy_pattern",
        "onboarding_pattern",
        "proposal_status_property",
        "proposal_decided_property",
        "status_keywords",
        "lookback_minutes",
        "rule_ids",
    }
)


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


def parse_settings(settings: Mapping[str, Any], config_path: str | None) -> HubSpotSettings:
    """Validate the raw section; the token comes from it or from ``HUBSPOT_TOKEN``."""
    return _Parser(settings, config_path).parse()


class _Parser:
    def __init__(self, settings: Mapping[str, Any], config_path: str | None):
        self.settings = settings
        self._where = f"the hubspot section of {config_path or 'your config'}"

    def parse(self) -> HubSpotSettings:
        s = self.settings
        token, credential, source = self._credential()
        api_version = str(s.get("api_version", DEFAULT_API_VERSION))
        if api_version not in API_VERSIONS:
            raise ConfigError(
                f"hubspot.api_version is {api_version!r}, in {self._where}; use "
                f"{DEFAULT_API_VERSION} (default) or legacy (/crm/v3 + /crm/v4)"
            )
        base_url = str(s.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        if not base_url.startswith(("https://", "http://")):
            raise ConfigError(f"hubspot.base_url must be an http(s) URL, in {self._where}")
        per_10s = self._int_setting("requests_per_10s", 100, 1, 250)
        per_second = self._int_setting("search_per_second", 4, 1, 5)
        lookback = timedelta(minutes=self._int_setting("lookback_minutes", 5, 0, 24 * 60))

        vendor_values = self._str_list("vendor_values", ["VENDOR"])
        if not vendor_values:
            raise ConfigError(
                f"hubspot.vendor_values must name at least one value, in {self._where}"
            )
        client_labels = {fold(x) for x in self._str_list("client_association_labels", [])}
        activity_types = self._str_list("activity_types", ["meetings"])
        for kind in activity_types:
            if kind not in ACTIVITY_TYPES:
                raise ConfigError(
                    f"hubspot.activity_types: unknown type {kind!r} in {self._where}; "
                    f"use any of {', '.join(ACTIVITY_TYPES)}"
                )
        role_labels = self._role_map("role_labels", DEFAULT_ROLE_LABELS, folded=True)
        buying_roles = self._role_map("buying_roles", DEFAULT_BUYING_ROLES, folded=False)
        job_titles = self._job_titles()
        org_attrs, contact_attrs, engagement_attrs = self._attributes()
        return HubSpotSettings(
            token=token,
            credential=credential,
            credential_source=source,
            api_version=api_version,
            base_url=base_url,
            requests_per_10s=per_10s,
            search_per_second=per_second,
            lookback=lookback,
            vendor_property=str(s.get("vendor_property", "type")),
            vendor_values=vendor_values,
            client_labels=client_labels,
            clients_via_deals=bool(s.get("clients_via_deals", False)),
            activity_types=activity_types,
            role_labels=role_labels,
            buying_roles=buying_roles,
            job_titles=job_titles,
            org_attrs=org_attrs,
            contact_attrs=contact_attrs,
            engagement_attrs=engagement_attrs,
            engagement_started_property=s.get("engagement_started_property") or None,
            external_id_property=s.get("external_id_property") or None,
            patterns={k: self._regex(k, v) for k, v in DEFAULT_PATTERNS.items()},
            proposal_status_property=s.get("proposal_status_property") or None,
            proposal_decided_property=s.get("proposal_decided_property") or None,
            status_keywords=self._status_keywords(),
            rule_ids=self._str_list("rule_ids", []),
        )

    def _credential(self) -> tuple[str, str, str]:
        """(token, kind, source): a Service Key first, else a legacy private-app token.

        HubSpot sends both as a bearer and offers no call that tells them apart, so the kind
        is the one the customer declared by where they put it."""
        s = self.settings
        for key, env, kind in (
            ("service_key", "HUBSPOT_SERVICE_KEY", "Service Key"),
            ("token", "HUBSPOT_TOKEN", "legacy private-app token"),
        ):
            value, source = (s[key], f"hubspot.{key}") if key in s else (os.environ.get(env), env)
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            if not isinstance(value, str) or value.strip().startswith("${"):
                raise ConfigError(
                    f"hubspot.{key} is not set to a {kind}, in {self._where}; export {env} "
                    "(secrets come from the environment)"
                )
            return value.strip(), kind, source
        raise ConfigError(
            "no HubSpot credential: create a Service Key (HubSpot > Development > Keys > "
            "Service keys, scopes in docs/hubspot.md) and set the HUBSPOT_SERVICE_KEY "
            f"environment variable (a legacy private-app token in HUBSPOT_TOKEN still works), "
            f"for {self._where}"
        )

    def _int_setting(self, key: str, default: int, low: int, high: int) -> int:
        value = self.settings.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(
                f"hubspot.{key} must be a whole number between {low} and {high} "
                f"(got {value!r}), in {self._where}"
            )
        return value

    def _str_list(self, key: str, default: list[str]) -> list[str]:
        value = self.settings.get(key, default)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"hubspot.{key} must be a list of strings, in {self._where}")
        return [v for v in value if v.strip()]

    def _role(self, key: str, value: Any) -> Role:
        try:
            return Role(str(value))
        except ValueError:
            raise ConfigError(
                f"hubspot.{key}: unknown role {value!r} in {self._where}; use one of "
                + ", ".join(r.value for r in Role)
            ) from None

    def _role_map(self, key: str, default: Mapping[str, str], folded: bool) -> dict[str, Role]:
        raw = self.settings.get(key, default)
        if not isinstance(raw, Mapping):
            raise ConfigError(f"hubspot.{key} must map a label to a role, in {self._where}")
        return {(fold(k) if folded else str(k)): self._role(key, v) for k, v in raw.items()}

    def _job_titles(self) -> dict[str, list[tuple[Role, re.Pattern[str]]]]:
        raw = self.settings.get("job_titles", DEFAULT_JOB_TITLES)
        result: dict[str, list[tuple[Role, re.Pattern[str]]]] = {"company": [], "vendor": []}
        if not isinstance(raw, Mapping) or not set(raw) <= {"company", "vendor"}:
            raise ConfigError(
                f"hubspot.job_titles must have 'company' and/or 'vendor' sections mapping a role "
                f"to keywords, in {self._where}"
            )
        for side, roles in raw.items():
            if not isinstance(roles, Mapping):
                raise ConfigError(f"hubspot.job_titles.{side} must map roles to keyword lists")
            for role, words in roles.items():
                if isinstance(words, str):
                    words = [words]
                pattern = keyword_re(words or [])
                if pattern is not None:
                    result[side].append((self._role(f"job_titles.{side}", role), pattern))
        return result

    def _attributes(self) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
        raw = self.settings.get("attributes", {}) or {}
        if not isinstance(raw, Mapping):
            raise ConfigError(
                f"hubspot.attributes must map a cmrules attribute to a HubSpot property name, "
                f"in {self._where}"
            )
        org: dict[str, str] = {}
        contact: dict[str, str] = {}
        engagement: dict[str, str] = {}
        for name, prop in raw.items():
            if not isinstance(prop, str) or not prop.strip():
                raise ConfigError(f"hubspot.attributes.{name} must be a property name")
            if name in ORG_ATTRIBUTES:
                org[name] = prop.strip()
            elif name in CONTACT_ATTRIBUTES:
                contact[name] = prop.strip()
            elif name in ENGAGEMENT_ATTRIBUTES:
                engagement[name] = prop.strip()
            else:
                known = sorted({*ORG_ATTRIBUTES, *CONTACT_ATTRIBUTES, *ENGAGEMENT_ATTRIBUTES})
                raise ConfigError(
                    f"hubspot.attributes: unknown attribute {name!r} in {self._where}; "
                    f"known attributes are {', '.join(known)}"
                )
        return org, contact, engagement

    def _regex(self, key: str, default: str) -> re.Pattern[str]:
        value = self.settings.get(key, default)
        try:
            return re.compile(fold(str(value)))
        except re.error as exc:
            raise ConfigError(f"hubspot.{key} is not a valid regular expression ({exc})") from None

    def _status_keywords(self) -> list[tuple[str, re.Pattern[str]]]:
        raw = self.settings.get("status_keywords", DEFAULT_STATUS_KEYWORDS)
        if not isinstance(raw, Mapping):
            raise ConfigError(
                f"hubspot.status_keywords must map a status to keywords, in {self._where}"
            )
        result = []
        for status, words in raw.items():
            if status not in ("accepted", "rejected", "implemented", "proposed"):
                raise ConfigError(
                    f"hubspot.status_keywords: unknown status {status!r}; use accepted, "
                    "rejected, implemented or proposed"
                )
            pattern = keyword_re([words] if isinstance(words, str) else words or [])
            if pattern is not None:
                result.append((status, pattern))
        return result
