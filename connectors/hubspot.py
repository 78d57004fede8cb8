"""HubSpot CRM connector (CRM v3 objects, v4 associations, private-app token).

Reads vendors (companies selected by a property filter, default ``type = VENDOR``), their client
companies (company↔company associations, optionally through deals), contacts with roles, and
activities (meetings; emails, calls and notes when configured) into the canonical model, using
batch endpoints at their limits: object batch reads of 100 ids, v4 association batch reads of
1,000 ids with per-result paging.  Writes findings back as one note per changed record
(association 190) and ``cmrules_*`` company properties, 100 records per batch
(``notes/batch/create`` then ``companies/batch/update``; single-record ``apply`` remains).

The HTTP policy (timeouts, retries, backoff) is :class:`cmrules.http.HttpClient`;
:class:`HubSpotClient` only says how HubSpot signals rate limits and errors.
See ``docs/hubspot.md`` for configuration, scopes and the crash-safety design.
"""

from __future__ import annotations

import html as html_lib
import logging
import math
import os
import re
import time
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import requests

from cmrules.connector import (
    ApplyOutcome,
    ChangeSet,
    Connector,
    ConnectorContext,
    Flags,
    RenderedNote,
    StoredNote,
)
from cmrules.errors import ConfigError, ConnectorError, RateLimitExhausted, WriteError
from cmrules.http import HttpClient, HttpError, RateLimiter, RetryPolicy, safe_json
from cmrules.model import (
    CONTACT_ATTRIBUTES,
    ENGAGEMENT_ATTRIBUTES,
    ORG_ATTRIBUTES,
    TAG_ONBOARDING,
    TAG_STRATEGY,
    Activity,
    ActivityKind,
    Contact,
    Dataset,
    Engagement,
    Organisation,
    OrgKind,
    Role,
    Side,
)
from cmrules.values import parse_bool, parse_datetime, parse_multi, parse_number, to_epoch_ms

log = logging.getLogger("cmrules.connectors.hubspot")

DEFAULT_BASE_URL = "https://api.hubapi.com"
BATCH_READ_LIMIT = 100  # object batch read inputs
BATCH_WRITE_LIMIT = 100  # object batch create / update inputs
ASSOC_BATCH_LIMIT = 1000  # v4 association batch read inputs
SEARCH_PAGE_LIMIT = 200  # search page size
SEARCH_CAP = 10_000  # results per search query; paging past it is a 400
NOTE_BODY_LIMIT = 65_536
NOTE_TO_COMPANY = 190

PROPERTY_GROUP = "cmrules"
PROP_RISK = "cmrules_risk_level"
PROP_FLAGS = "cmrules_flags"
PROP_EVALUATED = "cmrules_last_evaluated"
PROP_FINGERPRINT = "cmrules_fingerprint"
FLAG_PROPERTIES = (PROP_RISK, PROP_FLAGS, PROP_EVALUATED, PROP_FINGERPRINT)
#: Organisation.writeback key for each flag property.
WRITEBACK_KEYS = {
    PROP_FINGERPRINT: "fingerprint",
    PROP_RISK: "risk_level",
    PROP_FLAGS: "flags",
    PROP_EVALUATED: "last_evaluated",
}
RISK_LEVELS = ("high", "medium", "low", "info", "none")

#: The marker the core puts in each note's footer; note_exists/notes look for it.
FOOTER_RE = re.compile(r"cmrules:([A-Za-z0-9][A-Za-z0-9_.\-]*)")

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
# HTTP hooks
# ------------------------------------------------------------------------------------------
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
            return _scrub(text[:200] or response.reason or "no message"), correlation
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
        return _scrub(text)[:500], correlation if isinstance(correlation, str) else None

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


_URL_QUERY = re.compile(r"(https?://[^\s?#\"']+)\?[^\s\"']*")


def _scrub(text: str) -> str:
    """Drop query strings from URLs quoted in a message (they can carry tokens)."""
    return _URL_QUERY.sub(r"\1", text)


# ------------------------------------------------------------------------------------------
# small helpers
# ------------------------------------------------------------------------------------------
def _fold(text: str) -> str:
    """Case- and accent-insensitive form used for every keyword comparison."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _keyword_re(keywords: Iterable[str]) -> re.Pattern[str] | None:
    words = sorted({_fold(k).strip() for k in keywords if k and k.strip()}, key=len, reverse=True)
    if not words:
        return None
    return re.compile(r"(?<!\w)(" + "|".join(re.escape(w) for w in words) + r")(?!\w)")


_TAG_RE = re.compile(r"<[^>]*>")
_SPACE_RE = re.compile(r"[ \t\r\f\v]+")


def html_to_text(value: str) -> str:
    text = re.sub(r"(?i)<\s*(br|/p|/div|/li|/h\d)\s*/?>", "\n", value)
    text = html_lib.unescape(_TAG_RE.sub("", text))
    return "\n".join(_SPACE_RE.sub(" ", line).strip() for line in text.splitlines()).strip()


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _str_id(value: Any) -> str:
    """``toObjectId`` arrives as an integer on the wire and a string in the spec."""
    if isinstance(value, bool) or value is None:
        raise ConnectorError(f"HubSpot sent an invalid record id {value!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _id_key(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (math.inf, value)  # type: ignore[return-value]


def _shape(body: Any, key: str, where: str) -> list[Any]:
    if not isinstance(body, dict):
        raise ConnectorError(f"HubSpot {where}: unexpected answer (not a JSON object)")
    value = body.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConnectorError(f"HubSpot {where}: unexpected answer ('{key}' is not a list)")
    return value


def _list_of_dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _trace_id(kind: str, company_id: str) -> str:
    """A batch input's ``objectWriteTraceId``: unique within a batch (one input per company)."""
    return f"cmrules-{kind}-{company_id}"


def _setup_hint(status: int | None) -> str:
    if status == 400:
        return "; if a rule id or property is unknown to HubSpot, run `cmrules setup`"
    return ""


@dataclass(frozen=True)
class AssocTarget:
    id: str
    labels: tuple[str, ...]  # non-null labels, as HubSpot spells them
    type_ids: tuple[int, ...]


# ------------------------------------------------------------------------------------------
# the connector
# ------------------------------------------------------------------------------------------
class HubSpotConnector(Connector):
    """HubSpot portal through a private-app token.  See docs/hubspot.md."""

    name: ClassVar[str] = "hubspot"
    write_batch_size: ClassVar[int] = BATCH_WRITE_LIMIT
    settings_keys: ClassVar[frozenset[str]] = frozenset(
        {
            "token",
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

    def __init__(
        self,
        settings: Mapping[str, Any],
        context: ConnectorContext | None = None,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        super().__init__(settings, context)
        s = self.settings
        self._where = f"the hubspot section of {self.context.config_path or 'your config'}"
        token = s["token"] if "token" in s else os.environ.get("HUBSPOT_TOKEN")
        if not isinstance(token, str) or not token.strip() or token.strip().startswith("${"):
            raise ConfigError(
                f"no HubSpot token: set the HUBSPOT_TOKEN environment variable (or 'token' in "
                f"{self._where}) to the private app's access token"
            )
        self.base_url = str(s.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        if not self.base_url.startswith(("https://", "http://")):
            raise ConfigError(f"hubspot.base_url must be an http(s) URL, in {self._where}")
        per_10s = self._int_setting("requests_per_10s", 100, 1, 250)
        per_second = self._int_setting("search_per_second", 4, 1, 5)
        self.lookback = timedelta(minutes=self._int_setting("lookback_minutes", 5, 0, 24 * 60))

        self.vendor_property = str(s.get("vendor_property", "type"))
        self.vendor_values = self._str_list("vendor_values", ["VENDOR"])
        if not self.vendor_values:
            raise ConfigError(
                f"hubspot.vendor_values must name at least one value, in {self._where}"
            )
        self.client_labels = {_fold(x) for x in self._str_list("client_association_labels", [])}
        self.clients_via_deals = bool(s.get("clients_via_deals", False))
        self.activity_types = self._str_list("activity_types", ["meetings"])
        for kind in self.activity_types:
            if kind not in ACTIVITY_TYPES:
                raise ConfigError(
                    f"hubspot.activity_types: unknown type {kind!r} in {self._where}; "
                    f"use any of {', '.join(ACTIVITY_TYPES)}"
                )
        self.role_labels = self._role_map("role_labels", DEFAULT_ROLE_LABELS, fold=True)
        self.buying_roles = self._role_map("buying_roles", DEFAULT_BUYING_ROLES, fold=False)
        self.job_titles = self._job_titles()
        self.org_attrs, self.contact_attrs, self.engagement_attrs = self._attributes()
        self.engagement_started_property = s.get("engagement_started_property") or None
        # company property holding the id other systems know it by (for match_by: external_id)
        self.external_id_property = s.get("external_id_property") or None
        self.patterns = {k: self._regex(k, v) for k, v in DEFAULT_PATTERNS.items()}
        self.proposal_status_property = s.get("proposal_status_property") or None
        self.proposal_decided_property = s.get("proposal_decided_property") or None
        self.status_keywords = self._status_keywords()
        #: rule ids for the cmrules_flags options; the core sets this before setup().
        self.rule_ids: list[str] = self._str_list("rule_ids", [])
        #: non-fatal problems met while reading (missing ids in 207 answers, bad values, ...)
        self.warnings: list[str] = []
        # per-run caches (a connector instance serves one run, under the core's run lock)
        self._vendor_cache: dict[str, dict[str, Any]] | None = None
        self._clients_cache: dict[str, set[str]] = {}
        self._loaded_orgs: set[str] = set()  # organisations returned by load()
        self._note_ids: dict[str, list[str]] = {}  # company -> note ids, fetched lazily

        session = session or requests.Session()
        session.headers["Authorization"] = f"Bearer {token.strip()}"
        session.headers["Accept"] = "application/json"
        self.client = HubSpotClient(
            self.base_url,
            session=session,
            policy=RetryPolicy.from_settings(self.context.http),
            limiters={
                "default": RateLimiter(per_10s, 10.0, clock=clock, sleep=sleep),
                "search": RateLimiter(per_second, 1.0, clock=clock, sleep=sleep),
            },
            sleep=sleep,
            stats=self.context.stats,
        )

    # -- settings parsing ----------------------------------------------------------------------
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

    def _role_map(self, key: str, default: Mapping[str, str], fold: bool) -> dict[str, Role]:
        raw = self.settings.get(key, default)
        if not isinstance(raw, Mapping):
            raise ConfigError(f"hubspot.{key} must map a label to a role, in {self._where}")
        return {(_fold(k) if fold else str(k)): self._role(key, v) for k, v in raw.items()}

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
                pattern = _keyword_re(words or [])
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
            return re.compile(_fold(str(value)))
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
            pattern = _keyword_re([words] if isinstance(words, str) else words or [])
            if pattern is not None:
                result.append((status, pattern))
        return result

    @property
    def unmatched(self) -> list[str]:
        """Non-fatal read problems, under the name the core's report collects them by."""
        return list(self.warnings)

    def describe(self) -> str:
        return f"HubSpot portal at {self.base_url.split('://', 1)[-1]}"

    # -- low-level reads -----------------------------------------------------------------------
    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        self.context.count("warnings")
        log.warning("%s", message)

    def _batch_read(
        self, object_type: str, ids: Iterable[str], properties: Iterable[str]
    ) -> dict[str, dict[str, Any]]:
        """id -> properties, 100 ids per call; ids HubSpot does not know are reported, not fatal."""
        unique = sorted(set(ids), key=_id_key)
        props = sorted(set(properties))
        records: dict[str, dict[str, Any]] = {}
        path = f"/crm/v3/objects/{object_type}/batch/read"
        for chunk in _chunks(unique, BATCH_READ_LIMIT):
            body = self.client.request(
                "POST",
                path,
                params={"archived": "false"},
                json_body={
                    "inputs": [{"id": i} for i in chunk],
                    "properties": props,
                    "propertiesWithHistory": [],
                },
            )
            for item in _shape(body, "results", f"{object_type} batch read"):
                if isinstance(item, dict) and item.get("id") is not None:
                    properties_map = item.get("properties") or {}
                    records[_str_id(item["id"])] = dict(properties_map)
            self._report_batch_errors(body, f"{object_type} batch read")
        return records

    def _report_batch_errors(self, body: Any, where: str) -> None:
        for error in (body or {}).get("errors") or []:
            if not isinstance(error, dict):
                continue
            ids = (error.get("context") or {}).get("ids") or []
            message = str(error.get("message") or error.get("category") or "error")
            suffix = f" ids {', '.join(map(str, ids[:20]))}" if ids else ""
            self._warn(f"HubSpot {where}: {_scrub(message)}{suffix}")

    def _associations(
        self, from_type: str, to_type: str, ids: Iterable[str]
    ) -> dict[str, list[AssocTarget]]:
        """from id -> targets, via v4 batch read (1,000 ids per call, per-result paging)."""
        path = f"/crm/v4/associations/{from_type}/{to_type}/batch/read"
        result: dict[str, list[AssocTarget]] = defaultdict(list)
        pending: list[dict[str, str]] = [{"id": i} for i in sorted(set(ids), key=_id_key)]
        seen_cursors: set[tuple[str, str]] = set()
        while pending:
            batch, pending = pending[:ASSOC_BATCH_LIMIT], pending[ASSOC_BATCH_LIMIT:]
            body = self.client.request("POST", path, json_body={"inputs": batch})
            for item in _shape(body, "results", f"{from_type}→{to_type} associations"):
                if not isinstance(item, dict):
                    continue
                from_id = _str_id((item.get("from") or {}).get("id"))
                for to in item.get("to") or []:
                    types = to.get("associationTypes") or []
                    result[from_id].append(
                        AssocTarget(
                            id=_str_id(to.get("toObjectId")),
                            labels=tuple(
                                t["label"] for t in types if isinstance(t.get("label"), str)
                            ),
                            type_ids=tuple(
                                int(t["typeId"]) for t in types if t.get("typeId") is not None
                            ),
                        )
                    )
                after = ((item.get("paging") or {}).get("next") or {}).get("after")
                if after:
                    if (from_id, str(after)) in seen_cursors:
                        raise ConnectorError(
                            f"HubSpot {from_type}→{to_type} associations: the paging cursor for "
                            f"record {from_id} repeated; stopping instead of looping"
                        )
                    seen_cursors.add((from_id, str(after)))
                    pending.append({"id": from_id, "after": str(after)})
            # errors here are inputs without associations or unknown ids: informational
            for error in (body or {}).get("errors") or []:
                if isinstance(error, dict):
                    log.debug(
                        "HubSpot %s→%s associations: %s",
                        from_type,
                        to_type,
                        _scrub(str(error.get("message") or error.get("category"))),
                    )
        return dict(result)

    def _search(
        self,
        object_type: str,
        filters: list[dict[str, Any]],
        properties: Iterable[str],
        max_results: int | None = None,
        query: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every record matching ``filters`` (ANDed), sorted by ``hs_object_id`` ascending.

        A query can page through at most 10,000 results, so when a window nears the cap the
        search restarts with ``hs_object_id GT <last id seen>``.  Sorting by the id gives a
        total order: equal modification timestamps (HubSpot bulk jobs) can neither loop nor
        drop records.
        """
        path = f"/crm/v3/objects/{object_type}/search"
        props = sorted(set(properties) | {"hs_object_id"})
        cursor: str | None = None
        produced = 0
        while True:
            window_filters = list(filters)
            if cursor is not None:
                window_filters.append(
                    {"propertyName": "hs_object_id", "operator": "GT", "value": cursor}
                )
            offset = 0
            after: str | None = None
            last_id: str | None = None
            while True:
                body: dict[str, Any] = {
                    "filterGroups": [{"filters": window_filters}] if window_filters else [],
                    "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                    "properties": props,
                    "limit": SEARCH_PAGE_LIMIT,
                }
                if query is not None:
                    body["query"] = query
                if after is not None:
                    body["after"] = after
                answer = self.client.request("POST", path, json_body=body, buckets=("search",))
                results = _shape(answer, "results", f"{object_type} search")
                for item in results:
                    if not isinstance(item, dict) or item.get("id") is None:
                        continue
                    last_id = _str_id(item["id"])
                    yield item
                    produced += 1
                    if max_results is not None and produced >= max_results:
                        return
                offset += len(results)
                nxt = ((answer.get("paging") or {}).get("next") or {}).get("after")
                if not nxt or not results:
                    return
                try:
                    next_offset = int(str(nxt))
                except ValueError:
                    next_offset = offset
                if next_offset + SEARCH_PAGE_LIMIT > SEARCH_CAP:
                    break  # the next page may cross the 10k cap: open a new window
                after = str(nxt)
            if last_id is None or last_id == cursor:
                raise ConnectorError(
                    f"HubSpot {object_type} search: the hs_object_id window did not advance; "
                    "stopping instead of looping"
                )
            cursor = last_id

    # -- properties we read --------------------------------------------------------------------
    def _company_properties(self) -> list[str]:
        props = {"name", "domain", "hs_lastmodifieddate", self.vendor_property, *FLAG_PROPERTIES}
        props |= set(self.org_attrs.values()) | set(self.engagement_attrs.values())
        if self.engagement_started_property:
            props.add(self.engagement_started_property)
        if self.external_id_property:
            props.add(self.external_id_property)
        return sorted(props)

    def _contact_properties(self) -> list[str]:
        props = {"firstname", "lastname", "email", "jobtitle", "hs_buying_role"}
        return sorted(props | set(self.contact_attrs.values()))

    def _activity_properties(self, object_type: str) -> list[str]:
        spec = ACTIVITY_TYPES[object_type]
        props = {spec["body"], *spec["time"], *spec["extra"], "hs_lastmodifieddate"}
        for key in ("title", "status"):
            if spec[key]:
                props.add(spec[key])
        for extra in (self.proposal_status_property, self.proposal_decided_property):
            if extra:
                props.add(extra)
        return sorted(props)

    def _is_vendor(self, props: Mapping[str, Any]) -> bool:
        values = parse_multi(props.get(self.vendor_property))
        return any(v in self.vendor_values for v in values)

    # -- value parsing -------------------------------------------------------------------------
    def _typed(self, where: str, name: str, kind: type, raw: Any) -> Any:
        try:
            if kind is bool:
                return parse_bool(raw)
            if kind is datetime:
                return parse_datetime(raw)
            if kind in (int, float):
                return parse_number(raw)
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                return None
            return str(raw)
        except ValueError as exc:
            self._warn(f"HubSpot {where}: attribute {name!r} ignored: {exc}")
            return None

    def _attrs(
        self,
        where: str,
        props: Mapping[str, Any],
        mapping: Mapping[str, str],
        types: Mapping[str, type],
    ) -> dict[str, Any]:
        out = {}
        for name, prop in mapping.items():
            value = self._typed(where, name, types[name], props.get(prop))
            if value is not None:
                out[name] = value
        return out

    def _organisation(
        self, company_id: str, props: Mapping[str, Any], kind: OrgKind
    ) -> Organisation:
        where = f"company {company_id}"
        name = (props.get("name") or "").strip() or f"(unnamed company {company_id})"
        writeback = {
            key: str(props[prop])
            for prop, key in WRITEBACK_KEYS.items()
            if props.get(prop) not in (None, "")
        }
        try:
            updated = parse_datetime(props.get("hs_lastmodifieddate"))
        except ValueError:
            updated = None
        return Organisation(
            id=company_id,
            name=name,
            kind=kind,
            domain=(props.get("domain") or None),
            external_id=(
                str(props.get(self.external_id_property) or "").strip() or None
                if self.external_id_property
                else None
            ),
            attributes=self._attrs(where, props, self.org_attrs, ORG_ATTRIBUTES),
            writeback=writeback,
            source=self.name,
            updated_at=updated,
        )

    # -- roles ---------------------------------------------------------------------------------
    def roles_for(
        self,
        side: str,
        job_title: str | None,
        buying_roles: Iterable[str] = (),
        labels: Iterable[str] = (),
    ) -> frozenset[Role]:
        """Canonical roles from association labels, ``hs_buying_role`` values and job-title
        keywords (``side`` is "company" or "vendor": the keyword lists differ)."""
        roles: set[Role] = set()
        for label in labels:
            role = self.role_labels.get(_fold(label).strip())
            if role is not None:
                roles.add(role)
        for value in buying_roles:
            role = self.buying_roles.get(value.strip()) or self.buying_roles.get(value.upper())
            if role is not None:
                roles.add(role)
        if job_title:
            folded = _fold(job_title)
            for role, pattern in self.job_titles.get(side, []):
                if pattern.search(folded):
                    roles.add(role)
        return frozenset(roles)

    # -- reading API ---------------------------------------------------------------------------
    def _vendor_records(self) -> dict[str, dict[str, Any]]:
        """Every vendor company (id -> properties) from one paged search: vendors are few.
        Cached per connector instance (one run)."""
        if self._vendor_cache is None:
            operator: dict[str, Any]
            if len(self.vendor_values) == 1:
                operator = {"operator": "EQ", "value": self.vendor_values[0]}
            else:
                operator = {"operator": "IN", "values": self.vendor_values}
            found = self._search(
                "companies",
                [{"propertyName": self.vendor_property, **operator}],
                self._company_properties(),
            )
            self._vendor_cache = {
                _str_id(item["id"]): dict(item.get("properties") or {}) for item in found
            }
        return self._vendor_cache

    def _vendor_ids(self) -> set[str]:
        return set(self._vendor_records())

    def find_organisations(self, text: str, kind: OrgKind) -> list[Organisation]:
        """An exact id first; then, for vendors, every vendor (the core picks the match; an
        empty ``text`` lists them all); for companies, HubSpot's ``query`` search on name,
        domain, website and phone (first 200 hits, vendors left out)."""
        text = text.strip()
        props = self._company_properties()
        if text.isdigit():
            found = self._batch_read_quiet("companies", [text], props)
            if text in found:
                org_kind = OrgKind.VENDOR if self._is_vendor(found[text]) else OrgKind.COMPANY
                if org_kind == kind or kind == OrgKind.VENDOR:
                    return [self._organisation(text, found[text], kind)]
        if kind == OrgKind.VENDOR:
            records = self._vendor_records()
            return [
                self._organisation(i, records[i], OrgKind.VENDOR)
                for i in sorted(records, key=_id_key)
            ]
        if not text:
            return []
        hits = self._search("companies", [], props, max_results=SEARCH_PAGE_LIMIT, query=text)
        orgs = []
        for item in hits:
            item_props = item.get("properties") or {}
            if not self._is_vendor(item_props):
                orgs.append(self._organisation(_str_id(item["id"]), item_props, OrgKind.COMPANY))
        return orgs

    def _batch_read_quiet(
        self, object_type: str, ids: list[str], props: list[str]
    ) -> dict[str, dict[str, Any]]:
        """A batch read where unknown ids are an expected answer, not a warning."""
        before = len(self.warnings)
        found = self._batch_read(object_type, ids, props)
        del self.warnings[before:]
        return found

    def _clients_of(self, vendor_ids: Iterable[str]) -> dict[str, set[str]]:
        """vendor id -> candidate client company ids (vendors not yet excluded)."""
        vendors = sorted(set(vendor_ids), key=_id_key)
        missing = [v for v in vendors if v not in self._clients_cache]
        if missing:
            self._clients_cache.update(self._read_clients(missing))
        return {v: set(self._clients_cache[v]) for v in vendors}

    def _read_clients(self, vendors: list[str]) -> dict[str, set[str]]:
        clients: dict[str, set[str]] = {v: set() for v in vendors}
        for vendor, targets in self._associations("companies", "companies", vendors).items():
            for target in targets:
                if target.id == vendor:
                    continue
                if self.client_labels and not (
                    {_fold(x) for x in target.labels} & self.client_labels
                ):
                    continue
                clients.setdefault(vendor, set()).add(target.id)
        if self.clients_via_deals:
            deals = self._associations("companies", "deals", vendors)
            deal_ids = {t.id for targets in deals.values() for t in targets}
            deal_companies = self._associations("deals", "companies", deal_ids)
            for vendor, targets in deals.items():
                for deal in targets:
                    for company in deal_companies.get(deal.id, []):
                        if company.id != vendor:
                            clients.setdefault(vendor, set()).add(company.id)
        return clients

    def vendors_of(self, company_ids: Iterable[str]) -> dict[str, list[str]]:
        """company id -> vendor ids.  A vendor maps to itself (a changed vendor is evaluated)."""
        wanted = set(company_ids)
        vendors = self._vendor_ids()
        result: dict[str, list[str]] = {c: [] for c in wanted}
        for company in wanted & vendors:
            result[company].append(company)
        for vendor, clients in self._clients_of(vendors).items():
            for client in clients & wanted:
                if client not in vendors:
                    result[client].append(vendor)
        return {c: sorted(v, key=_id_key) for c, v in result.items()}

    def load(self, vendor_ids: Iterable[str], company_ids: Iterable[str] | None = None) -> Dataset:
        vendors = sorted({str(v) for v in vendor_ids}, key=_id_key)
        only = None if company_ids is None else {str(c) for c in company_ids}
        data = Dataset()
        clients_by_vendor = self._clients_of(vendors)
        if only is not None:
            clients_by_vendor = {v: c & only for v, c in clients_by_vendor.items()}
        candidate_ids = {c for cs in clients_by_vendor.values() for c in cs} - set(vendors)
        company_props = self._company_properties()
        records = self._batch_read("companies", [*vendors, *candidate_ids], company_props)

        vendor_set = set()
        for vendor in vendors:
            if vendor not in records:
                self._warn(f"HubSpot: vendor company {vendor} was not found; skipped")
                continue
            if not self._is_vendor(records[vendor]):
                log.info(
                    "company %s does not match the vendor filter; loading it as a vendor "
                    "because it was asked for",
                    vendor,
                )
            data.add(self._organisation(vendor, records[vendor], OrgKind.VENDOR))
            vendor_set.add(vendor)
        clients: dict[str, set[str]] = defaultdict(set)  # client -> vendors
        for vendor, client_ids in clients_by_vendor.items():
            if vendor not in vendor_set:
                continue
            for client in client_ids:
                props = records.get(client)
                if props is None or client in vendor_set or self._is_vendor(props):
                    continue  # unknown id (reported) or another vendor (a partner, not a client)
                clients[client].add(vendor)
        for client in clients:
            data.add(self._organisation(client, records[client], OrgKind.COMPANY))

        contact_org, vendor_contacts_at = self._load_contacts(data, vendor_set, set(clients))
        for client, its_vendors in sorted(clients.items(), key=lambda kv: _id_key(kv[0])):
            props = records[client]
            started = self._typed(
                f"company {client}",
                "started_at",
                datetime,
                props.get(self.engagement_started_property or ""),
            )
            attributes = self._attrs(
                f"company {client}", props, self.engagement_attrs, ENGAGEMENT_ATTRIBUTES
            )
            for vendor in sorted(its_vendors, key=_id_key):
                data.add(
                    Engagement(
                        company_id=client,
                        vendor_id=vendor,
                        started_at=started,
                        vendor_contact_ids=tuple(
                            sorted(vendor_contacts_at.get((client, vendor), ()), key=_id_key)
                        ),
                        attributes=attributes,
                    )
                )
        self._load_activities(data, clients, contact_org)
        self._loaded_orgs.update(data.organisations)
        return data

    def _load_contacts(
        self, data: Dataset, vendors: set[str], clients: set[str]
    ) -> tuple[dict[str, str], dict[tuple[str, str], set[str]]]:
        """Add contacts; return contact id -> org id and (client, vendor) -> vendor contact ids.

        A contact associated with a vendor company belongs to that vendor (even when it is also
        associated with clients); otherwise to its primary client, else the lowest client id.
        """
        orgs = sorted(vendors | clients, key=_id_key)
        assoc = self._associations("companies", "contacts", orgs)
        links: dict[str, list[tuple[str, AssocTarget]]] = defaultdict(list)
        for company, targets in assoc.items():
            for target in targets:
                links[target.id].append((company, target))
        if not links:
            return {}, {}
        records = self._batch_read("contacts", list(links), self._contact_properties())
        contact_org: dict[str, str] = {}
        vendor_contacts_at: dict[tuple[str, str], set[str]] = defaultdict(set)
        for contact_id in sorted(records, key=_id_key):
            props = records[contact_id]
            companies = links[contact_id]
            vendor_links = [c for c, _ in companies if c in vendors]
            if vendor_links:
                org = sorted(vendor_links, key=_id_key)[0]
                side = "vendor"
                for company, _ in companies:
                    if company in clients:
                        for vendor in vendor_links:
                            vendor_contacts_at[(company, vendor)].add(contact_id)
            else:
                primary = [c for c, t in companies if 2 in t.type_ids or "Primary" in t.labels]
                org = sorted(primary or [c for c, _ in companies], key=_id_key)[0]
                side = "company"
            labels = [label for _, t in companies for label in t.labels]
            name = " ".join(
                p.strip()
                for p in (props.get("firstname") or "", props.get("lastname") or "")
                if p and p.strip()
            ) or (props.get("email") or f"(contact {contact_id})")
            job_title = (props.get("jobtitle") or "").strip() or None
            data.add(
                Contact(
                    id=contact_id,
                    name=name,
                    org_id=org,
                    roles=self.roles_for(
                        side, job_title, parse_multi(props.get("hs_buying_role")), labels
                    ),
                    email=(props.get("email") or None),
                    job_title=job_title,
                    attributes=self._attrs(
                        f"contact {contact_id}", props, self.contact_attrs, CONTACT_ATTRIBUTES
                    ),
                )
            )
            contact_org[contact_id] = org
        return contact_org, vendor_contacts_at

    def _load_activities(
        self, data: Dataset, clients: Mapping[str, set[str]], contact_org: Mapping[str, str]
    ) -> None:
        client_ids = sorted(clients, key=_id_key)
        if not client_ids:
            return
        for object_type in self.activity_types:
            by_company = self._associations("companies", object_type, client_ids)
            companies_of: dict[str, list[str]] = defaultdict(list)
            for company, targets in by_company.items():
                for target in targets:
                    companies_of[target.id].append(company)
            if not companies_of:
                continue
            records = self._batch_read(
                object_type, list(companies_of), self._activity_properties(object_type)
            )
            attendees = self._associations(object_type, "contacts", list(records))
            for activity_id in sorted(records, key=_id_key):
                props = records[activity_id]
                if object_type == "notes" and FOOTER_RE.search(props.get("hs_note_body") or ""):
                    continue  # cmrules' own notes are output, not evidence
                contacts = tuple(
                    sorted({t.id for t in attendees.get(activity_id, [])}, key=_id_key)
                )
                its_companies = sorted(set(companies_of[activity_id]), key=_id_key)
                for company in its_companies:
                    activity = self._activity(
                        object_type,
                        activity_id,
                        props,
                        company,
                        clients[company],
                        contacts,
                        contact_org,
                        multi=len(its_companies) > 1,
                    )
                    data.add(activity)

    def _activity(
        self,
        object_type: str,
        activity_id: str,
        props: Mapping[str, Any],
        company: str,
        vendors: set[str],
        contacts: tuple[str, ...],
        contact_org: Mapping[str, str],
        multi: bool,
    ) -> Activity:
        """Map one engagement.  Side heuristic: ``vendor`` when an associated contact (meeting
        attendee, email recipient…) belongs to a vendor of this client, ``company`` when
        associated contacts exist but none is a vendor's, ``None`` (unknown) with no contacts."""
        spec = ACTIVITY_TYPES[object_type]
        where = f"{object_type[:-1]} {activity_id}"
        body = html_to_text(str(props.get(spec["body"]) or ""))
        if spec["title"]:
            title = str(props.get(spec["title"]) or "").strip()
        else:
            title = body.split("\n", 1)[0][:200]
        text = _fold(f"{title}\n{body}")
        folded_title = _fold(title) or _fold(body.split("\n", 1)[0])

        timestamp = None
        for prop in spec["time"]:
            timestamp = self._typed(where, prop, datetime, props.get(prop))
            if timestamp is not None:
                break

        kind: ActivityKind = spec["kind"]
        status: str | None = None
        if spec["status"] and props.get(spec["status"]):
            status = str(props[spec["status"]]).strip().lower()
        decided_at = None
        if self.patterns["proposal_pattern"].search(folded_title):
            kind = ActivityKind.PROPOSAL
            status = self._proposal_status(props, text)
            if self.proposal_decided_property:
                decided_at = self._typed(
                    where,
                    self.proposal_decided_property,
                    datetime,
                    props.get(self.proposal_decided_property),
                )
        elif self.patterns["offer_change_pattern"].search(folded_title):
            kind = ActivityKind.OFFER_CHANGE
        elif self.patterns["report_pattern"].search(folded_title):
            kind = ActivityKind.REPORT
        tags = set()
        if self.patterns["strategy_pattern"].search(text):
            tags.add(TAG_STRATEGY)
        if self.patterns["onboarding_pattern"].search(text):
            tags.add(TAG_ONBOARDING)

        vendor_contacts = [c for c in contacts if contact_org.get(c) in vendors]
        if vendor_contacts:
            side: Side | None = Side.VENDOR
            vendor_id: str | None = sorted({contact_org[c] for c in vendor_contacts}, key=_id_key)[
                0
            ]
        else:
            side = Side.COMPANY if contacts else None
            vendor_id = next(iter(vendors)) if len(vendors) == 1 else None
        return Activity(
            id=f"{activity_id}:{company}" if multi else activity_id,
            kind=kind,
            timestamp=timestamp,
            company_id=company,
            vendor_id=vendor_id,
            side=side,
            contact_ids=contacts,
            status=status,
            decided_at=decided_at,
            tags=frozenset(tags),
            title=title,
        )

    def _proposal_status(self, props: Mapping[str, Any], text: str) -> str:
        """From ``proposal_status_property`` when set on the record, else from keywords in the
        title/body; the keyword that appears last wins ("rejected, then accepted")."""
        sources = []
        if self.proposal_status_property and props.get(self.proposal_status_property):
            sources.append(_fold(str(props[self.proposal_status_property])))
        sources.append(text)
        for source in sources:
            best: tuple[int, str] | None = None
            for status, pattern in self.status_keywords:
                for match in pattern.finditer(source):
                    if best is None or match.start() >= best[0]:
                        best = (match.start(), status)
            if best is not None:
                return best[1]
        return "proposed"

    # -- incremental ---------------------------------------------------------------------------
    def changed_since(self, since: datetime | None, run_started: datetime) -> ChangeSet:
        """Companies changed at or after ``since``, directly or through a changed contact or
        activity.  The new watermark is ``run_started - lookback_minutes`` (search indexing
        lags behind writes by "a few moments"; the overlap is re-read, never skipped)."""
        changed: set[str] = set()
        targets = [("companies", "hs_lastmodifieddate")]
        if since is not None:  # with no watermark every company is listed already
            targets.append(("contacts", "lastmodifieddate"))
            targets += [(t, "hs_lastmodifieddate") for t in self.activity_types]
        for object_type, modified in targets:
            filters = []
            if since is not None:
                filters.append(
                    {"propertyName": modified, "operator": "GTE", "value": to_epoch_ms(since)}
                )
            ids = [_str_id(item["id"]) for item in self._search(object_type, filters, [modified])]
            self.context.count(f"changed_{object_type}", len(ids))
            if object_type == "companies":
                changed.update(ids)
            elif ids:
                for targets_of in self._associations(object_type, "companies", ids).values():
                    changed.update(t.id for t in targets_of)
        watermark = run_started - self.lookback
        if since is not None and watermark < since:
            watermark = min(since, run_started)
        return ChangeSet(organisation_ids=frozenset(changed), watermark=watermark)

    # -- writing -------------------------------------------------------------------------------
    def _companies_notes(
        self, company_ids: Iterable[str], fresh: bool = True
    ) -> dict[str, dict[str, dict[str, Any]]]:
        """company id -> {note id -> properties} for the notes attached to each company
        (v4 associations + notes batch read: never search, it lags).

        ``fresh=False`` may use the note associations of every company ``load`` returned,
        fetched in one batched read the first time a note is looked up in this run.  That is
        safe because only cmrules writes fingerprinted notes, one run at a time (run lock), and
        this instance re-reads (``fresh=True``) whenever it may itself have written one.
        Companies not served from that cache cost one association read for all of them.
        """
        wanted = list(dict.fromkeys(company_ids))
        note_ids: dict[str, list[str]] = {}
        cached = [c for c in wanted if not fresh and c in self._loaded_orgs]
        if cached and any(c not in self._note_ids for c in cached):
            todo = [o for o in self._loaded_orgs if o not in self._note_ids]
            found = self._associations("companies", "notes", todo)
            for org in todo:
                self._note_ids[org] = [t.id for t in found.get(org, [])]
        for company in cached:
            note_ids[company] = self._note_ids[company]
        uncached = [c for c in wanted if c not in note_ids]
        if uncached:
            assoc = self._associations("companies", "notes", uncached)
            for company in uncached:
                note_ids[company] = [t.id for t in assoc.get(company, [])]
        all_ids = [n for ids in note_ids.values() for n in ids]
        props = (
            self._batch_read("notes", all_ids, ["hs_note_body", "hs_timestamp", "hs_createdate"])
            if all_ids
            else {}
        )
        return {
            c: {n: props[n] for n in sorted(set(note_ids[c]) & props.keys(), key=_id_key)}
            for c in wanted
        }

    def _company_notes(self, company_id: str, fresh: bool = True) -> dict[str, dict[str, Any]]:
        """The notes attached to one company (see :meth:`_companies_notes`)."""
        return self._companies_notes([company_id], fresh)[company_id]

    def _find_notes(self, wanted: Mapping[str, str], fresh: bool = True) -> dict[str, str]:
        """company id -> id of its note carrying ``wanted[company id]`` (the fingerprint), for
        the companies that have one; one association read and one notes batch read (per 100
        notes) for all of them."""
        found: dict[str, str] = {}
        for company, notes in self._companies_notes(wanted, fresh).items():
            for note_id, props in notes.items():
                if wanted[company] in FOOTER_RE.findall(props.get("hs_note_body") or ""):
                    found[company] = note_id
                    break
        return found

    def _find_note(self, company_id: str, fingerprint: str, fresh: bool = True) -> str | None:
        return self._find_notes({company_id: fingerprint}, fresh).get(company_id)

    def note_exists(self, subject: Organisation, fingerprint: str) -> bool:
        try:
            return self._find_note(subject.id, fingerprint, fresh=False) is not None
        except HttpError as exc:  # auth errors and exhausted quotas stop the run instead
            raise WriteError(f"reading the notes of company {subject.id}: {exc}") from None

    def write_note(self, subject: Organisation, note: RenderedNote) -> str:
        body = self._note_body(note)
        moment = note.flags.evaluated_at or datetime.now(UTC)
        payload = {
            "properties": {"hs_timestamp": to_epoch_ms(moment), "hs_note_body": body},
            "associations": [
                {
                    "to": {"id": subject.id},
                    "types": [
                        {
                            "associationCategory": "HUBSPOT_DEFINED",
                            "associationTypeId": NOTE_TO_COMPANY,
                        }
                    ],
                }
            ],
        }

        def reconcile() -> dict[str, str] | None:
            # the POST may have landed before the failure: look before writing again
            found = self._find_note(subject.id, note.fingerprint)
            return {"id": found} if found else None

        try:
            answer = self.client.request(
                "POST", "/crm/v3/objects/notes", json_body=payload, reconcile=reconcile
            )
        except HttpError as exc:
            raise WriteError(
                f"writing the cmrules note on company {subject.id} ({subject.name}): {exc}"
            ) from None
        note_id = answer.get("id") if isinstance(answer, dict) else None
        if note_id is None:
            raise WriteError(
                f"writing the cmrules note on company {subject.id}: HubSpot answered without a "
                "note id"
            )
        self._note_ids.pop(subject.id, None)
        self._loaded_orgs.discard(subject.id)  # from now on, read this company's notes fresh
        self.context.count("notes_written")
        return _str_id(note_id)

    @staticmethod
    def _note_body(note: RenderedNote) -> str:
        """The note HTML (already escaped by the core; never unescaped here), guaranteed to carry
        the ``cmrules:<fingerprint>`` marker and to fit HubSpot's 65,536-character limit."""
        body = note.html
        marker = f"cmrules:{note.fingerprint}"
        footer = f"<p>{marker}</p>"
        has_marker = note.fingerprint in FOOTER_RE.findall(body)
        if has_marker and len(body) <= NOTE_BODY_LIMIT:
            return body
        if not has_marker and len(body) + len(footer) <= NOTE_BODY_LIMIT:
            return body + footer
        tail = "<p>… (truncated: the note exceeded HubSpot's 65,536-character limit)</p>" + footer
        cut = NOTE_BODY_LIMIT - len(tail)
        cut = body.rfind("<", 0, cut + 1) if "<" in body[:cut] else cut  # never split a tag
        return body[: max(cut, 0)] + tail

    def write_flags(self, subject: Organisation, flags: Flags) -> None:
        if flags.risk_level not in RISK_LEVELS:
            raise self._risk_error(subject, flags)
        properties = self._flag_properties(flags)
        try:
            self.client.request(
                "PATCH",
                f"/crm/v3/objects/companies/{subject.id}",
                json_body={"properties": properties},
            )
        except HttpError as exc:
            hint = _setup_hint(exc.status)
            raise WriteError(
                f"writing the cmrules flags on company {subject.id} ({subject.name}): {exc}{hint}"
            ) from None
        self.context.count("flags_written")

    # -- batched write-back ------------------------------------------------------------------
    def apply_many(self, notes: Sequence[RenderedNote]) -> list[ApplyOutcome]:
        """Write up to 100 records' findings with batch endpoints, crash-safe.

        1. one note lookup for the whole batch (v4 associations + notes batch read);
        2. ONE ``notes/batch/create`` for the missing notes (a unique ``objectWriteTraceId``
           per input maps 207 errors back to records; after an ambiguous failure the
           fingerprints are looked up again before anything is re-sent);
        3. ONE ``companies/batch/update`` for the flags (fingerprint included) of every record
           whose note now exists.

        Every note of the batch is written before any flag of the batch, so a crash at any
        point leaves records whose fingerprint is not yet stored: the rerun finds their notes
        and only writes the flags.  A record that fails gets its own error; the others go on.
        A batch answered with a 400 as a whole is retried record by record so that one bad
        record cannot fail the others.  Auth failures and exhausted quotas propagate.
        """
        notes = list(notes)
        if len(notes) > BATCH_WRITE_LIMIT:
            return [
                outcome
                for chunk in _chunks(notes, BATCH_WRITE_LIMIT)
                for outcome in self.apply_many(chunk)
            ]
        outcomes: list[ApplyOutcome | None] = [None] * len(notes)
        # one input per company per batch call: a repeated company goes to a later round
        first: dict[str, int] = {}
        later: list[int] = []
        for i, note in enumerate(notes):
            if note.subject.id in first:
                later.append(i)
            elif note.flags.risk_level not in RISK_LEVELS:
                outcomes[i] = ApplyOutcome(error=self._risk_error(note.subject, note.flags))
            else:
                first[note.subject.id] = i
        if first:
            batch = [notes[i] for i in first.values()]
            for i, outcome in zip(first.values(), self._apply_batch(batch), strict=True):
                outcomes[i] = outcome
        if later:
            for i, outcome in zip(later, self.apply_many([notes[i] for i in later]), strict=True):
                outcomes[i] = outcome
        assert all(o is not None for o in outcomes)
        return [o for o in outcomes if o is not None]

    def _apply_batch(self, notes: list[RenderedNote]) -> list[ApplyOutcome]:
        """:meth:`apply_many` for distinct companies with valid risk levels."""
        wanted = {n.subject.id: n.fingerprint for n in notes}
        try:
            existing = self._find_notes(wanted, fresh=False)
        except HttpError as exc:
            return [
                ApplyOutcome(
                    error=WriteError(f"reading the notes of company {n.subject.id}: {exc}")
                )
                for n in notes
            ]
        errors: dict[str, WriteError] = {}
        missing = [n for n in notes if n.subject.id not in existing]
        created = self._create_notes(missing, errors) if missing else set()
        ready = [n for n in notes if n.subject.id in existing or n.subject.id in created]
        if ready:
            self._update_flags(ready, errors)
        return [
            ApplyOutcome(error=errors[n.subject.id])
            if n.subject.id in errors
            else ApplyOutcome(created=n.subject.id in created)
            for n in notes
        ]

    def _note_input(self, note: RenderedNote) -> dict[str, Any]:
        moment = note.flags.evaluated_at or datetime.now(UTC)
        return {
            "properties": {
                "hs_timestamp": to_epoch_ms(moment),
                "hs_note_body": self._note_body(note),
            },
            "associations": [
                {
                    "to": {"id": note.subject.id},
                    "types": [
                        {
                            "associationCategory": "HUBSPOT_DEFINED",
                            "associationTypeId": NOTE_TO_COMPANY,
                        }
                    ],
                }
            ],
        }

    def _create_notes(self, notes: list[RenderedNote], errors: dict[str, WriteError]) -> set[str]:
        """Create the notes with one ``notes/batch/create``; return the companies whose note
        now exists.  Per-input failures go to ``errors`` (company id -> error)."""
        by_trace = {_trace_id("note", n.subject.id): n for n in notes}
        pending = dict(by_trace)
        created: set[str] = set()
        rounds = 0
        while pending:
            rounds += 1
            landed: dict[str, str] = {}  # company -> note id, found by a reconcile look-up

            def reconcile(
                todo: Mapping[str, RenderedNote] = pending, into: dict[str, str] = landed
            ) -> dict[str, Any] | None:
                # the batch may have been applied (wholly or in part) before the failure:
                # look the fingerprints up again before sending anything twice
                found = self._find_notes({n.subject.id: n.fingerprint for n in todo.values()})
                if not found:
                    return None  # nothing landed: re-send the same batch
                into.update(found)
                return {"reconciled": True}

            payload = {
                "inputs": [
                    {**self._note_input(n), "objectWriteTraceId": trace}
                    for trace, n in pending.items()
                ]
            }
            try:
                answer = self.client.request(
                    "POST",
                    "/crm/v3/objects/notes/batch/create",
                    json_body=payload,
                    reconcile=reconcile,
                )
            except HttpError as exc:
                if exc.status == 400 and len(pending) > 1:
                    # rejected as a whole, nothing written: isolate the bad record(s)
                    created |= self._create_notes_one_by_one(list(pending.values()), errors)
                    break
                for n in pending.values():
                    errors[n.subject.id] = WriteError(
                        f"writing the cmrules note on company {n.subject.id} "
                        f"({n.subject.name}): {exc}"
                    )
                break
            finally:
                for n in pending.values():  # a create may have landed: read fresh from now on
                    self._note_ids.pop(n.subject.id, None)
                    self._loaded_orgs.discard(n.subject.id)
            if isinstance(answer, dict) and answer.get("reconciled"):
                created |= set(landed)
                self.context.count("notes_written", len(landed))
                pending = {t: n for t, n in pending.items() if n.subject.id not in landed}
                if rounds > self.client.policy.max_retries:
                    for n in pending.values():
                        errors[n.subject.id] = WriteError(
                            f"writing the cmrules note on company {n.subject.id} "
                            f"({n.subject.name}): HubSpot notes batch create kept failing "
                            f"after {rounds} partial attempts; rerun to finish"
                        )
                    break
                continue
            done, failed = self._batch_answer(answer, pending, "notes batch create", by_id=False)
            # an input neither confirmed nor refused: look it up rather than guess
            unsure = {t: n for t, n in pending.items() if t not in done and t not in failed}
            if unsure:
                found = self._find_notes({n.subject.id: n.fingerprint for n in unsure.values()})
                for t, n in unsure.items():
                    if n.subject.id in found:
                        done.add(t)
                    else:
                        failed[t] = "HubSpot did not confirm the note"
            for trace, n in pending.items():
                if trace in done:
                    created.add(n.subject.id)
                else:
                    errors[n.subject.id] = WriteError(
                        f"writing the cmrules note on company {n.subject.id} "
                        f"({n.subject.name}): {failed[trace]}"
                    )
            self.context.count("notes_written", len(done))
            break
        return created

    def _create_notes_one_by_one(
        self, notes: list[RenderedNote], errors: dict[str, WriteError]
    ) -> set[str]:
        created = set()
        for n in notes:
            try:
                self.write_note(n.subject, n)
            except WriteError as exc:
                errors[n.subject.id] = exc
            else:
                created.add(n.subject.id)
        return created

    def _batch_answer(
        self, answer: Any, pending: Mapping[str, RenderedNote], where: str, by_id: bool
    ) -> tuple[set[str], dict[str, str]]:
        """(trace ids confirmed, trace id -> error text) from a 200/201/207 batch answer.

        Errors are mapped back by the ``objectWriteTraceId`` (or, for updates, the record ids)
        in their ``context``.  Results are matched by their echoed trace id or, for updates,
        their record id; for creates (new ids, fingerprints not unique across records), when
        every error was mapped and the result count is what is left, every other input is
        confirmed.  The order of ``results`` is never relied on; an input neither confirmed
        nor refused is left out of both (the caller checks it)."""
        done: set[str] = set()
        failed: dict[str, str] = {}
        if not isinstance(answer, dict):
            return done, failed
        by_company = {n.subject.id: t for t, n in pending.items()}
        correlation = self.client.last_correlation_id
        unmapped = 0
        for error in _list_of_dicts(answer.get("errors")):
            raw_context = error.get("context")
            context: dict[str, Any] = raw_context if isinstance(raw_context, dict) else {}
            traces = [str(t) for t in context.get("objectWriteTraceId") or [] if t in pending]
            if by_id:
                ids = [str(i) for i in context.get("ids") or []]
                traces += [by_company[i] for i in ids if i in by_company]
            message = _scrub(str(error.get("message") or error.get("category") or "error"))
            category = error.get("category")
            if category and category not in message:
                message = f"{message} [{category}]"
            corr = error.get("correlationId") or correlation
            text = f"HubSpot {where}: {message}" + (f" (correlation id {corr})" if corr else "")
            if not traces:
                unmapped += 1
                log.warning("%s (for an input HubSpot did not identify)", text)
            for trace in traces:
                failed[trace] = text
        results = _list_of_dicts(answer.get("results"))
        for item in results:
            echoed = item.get("objectWriteTraceId")
            if echoed in pending:
                done.add(str(echoed))
            elif by_id and item.get("id") is not None:
                matched = by_company.get(_str_id(item["id"]))
                if matched is not None:
                    done.add(matched)
        if not by_id and not unmapped and len(results) == len(pending) - len(failed):
            done = {t for t in pending if t not in failed}
        return done - set(failed), failed

    def _flag_properties(self, flags: Flags) -> dict[str, str]:
        return {
            PROP_RISK: flags.risk_level,
            PROP_FLAGS: ";".join(sorted(set(flags.rule_ids))),
            PROP_EVALUATED: to_epoch_ms(flags.evaluated_at),
            PROP_FINGERPRINT: flags.fingerprint,  # same input: the fingerprint lands last
        }

    def _update_flags(self, notes: list[RenderedNote], errors: dict[str, WriteError]) -> None:
        """One ``companies/batch/update`` for the flags (an idempotent write: plain retries)."""
        pending = {_trace_id("flags", n.subject.id): n for n in notes}
        payload = {
            "inputs": [
                {
                    "id": n.subject.id,
                    "properties": self._flag_properties(n.flags),
                    "objectWriteTraceId": trace,
                }
                for trace, n in pending.items()
            ]
        }
        try:
            answer = self.client.request(
                "POST", "/crm/v3/objects/companies/batch/update", json_body=payload
            )
        except HttpError as exc:
            if exc.status == 400 and len(notes) > 1:
                for n in notes:  # rejected as a whole: isolate the bad record(s)
                    try:
                        self.write_flags(n.subject, n.flags)
                    except WriteError as one:
                        errors[n.subject.id] = one
                return
            hint = _setup_hint(exc.status)
            for n in notes:
                errors[n.subject.id] = WriteError(
                    f"writing the cmrules flags on company {n.subject.id} ({n.subject.name}): "
                    f"{exc}{hint}"
                )
            return
        done, failed = self._batch_answer(answer, pending, "companies batch update", by_id=True)
        for trace, n in pending.items():
            if trace in done:
                continue
            reason = failed.get(trace, "HubSpot did not confirm the update; rerun to retry")
            hint = _setup_hint(400) if "VALIDATION_ERROR" in reason else ""
            errors[n.subject.id] = WriteError(
                f"writing the cmrules flags on company {n.subject.id} ({n.subject.name}): "
                f"{reason}{hint}"
            )
        self.context.count("flags_written", len(done))

    @staticmethod
    def _risk_error(subject: Organisation, flags: Flags) -> WriteError:
        return WriteError(
            f"company {subject.id}: risk level {flags.risk_level!r} is not one of "
            + ", ".join(RISK_LEVELS)
        )

    def notes(self, subject: Organisation) -> list[StoredNote]:
        stored = []
        for note_id, props in self._company_notes(subject.id).items():
            body = props.get("hs_note_body") or ""
            markers = FOOTER_RE.findall(body)
            if not markers:
                continue
            created = None
            for prop in ("hs_createdate", "hs_timestamp"):
                try:
                    created = parse_datetime(props.get(prop))
                except ValueError:
                    created = None
                if created:
                    break
            stored.append(
                StoredNote(
                    id=note_id,
                    subject_id=subject.id,
                    created_at=created or datetime.fromtimestamp(0, UTC),
                    fingerprint=markers[-1],
                    body=body,
                )
            )
        stored.sort(key=lambda n: (n.created_at, _id_key(n.id)), reverse=True)
        return stored

    # -- admin ---------------------------------------------------------------------------------
    def check(self) -> list[str]:
        """One cheap call (list one company) proves the token and the companies read scope."""
        self.client.request(
            "GET", "/crm/v3/objects/companies", params={"limit": 1, "properties": "name"}
        )
        return [f"hubspot: token accepted by {self.describe()} (companies readable)"]

    def _wanted_properties(self) -> list[dict[str, Any]]:
        def option(value: str, label: str, order: int) -> dict[str, Any]:
            return {"label": label, "value": value, "hidden": False, "displayOrder": order}

        rule_ids = sorted(set(self.rule_ids))
        return [
            {
                "name": PROP_RISK,
                "label": "cmrules risk level",
                "type": "enumeration",
                "fieldType": "select",
                "groupName": PROPERTY_GROUP,
                "description": "Worst severity among the cmrules findings on this record.",
                "options": [option(v, v, i) for i, v in enumerate(RISK_LEVELS)],
            },
            {
                "name": PROP_FLAGS,
                "label": "cmrules flags",
                "type": "enumeration",
                "fieldType": "checkbox",
                "groupName": PROPERTY_GROUP,
                "description": "Ids of the cmrules rules that fired on this record.",
                "options": [option(v, v, i) for i, v in enumerate(rule_ids)],
            },
            {
                "name": PROP_EVALUATED,
                "label": "cmrules last evaluated",
                "type": "datetime",
                "fieldType": "date",
                "groupName": PROPERTY_GROUP,
                "description": "When cmrules last evaluated this record.",
            },
            {
                "name": PROP_FINGERPRINT,
                "label": "cmrules fingerprint",
                "type": "string",
                "fieldType": "text",
                "groupName": PROPERTY_GROUP,
                "description": "Fingerprint of the last cmrules note (used to skip unchanged "
                "records; do not edit).",
            },
        ]

    def setup(self, dry_run: bool = False) -> list[str]:
        """Create the ``cmrules`` company property group and properties, idempotently.

        Without ``dry_run``: POST each; a 409 means it exists, so GET it and compare; missing
        ``cmrules_flags`` options (new rule ids) are added with one PATCH.  With ``dry_run``:
        GETs only, and the lines say what would be done.
        """
        plan: list[str] = []
        if not self.rule_ids:
            plan.append(
                "warning: no rule ids given: cmrules_flags gets no options (the core sets "
                "connector.rule_ids, or set hubspot.rule_ids)"
            )
        base = "/crm/v3/properties/companies"
        group = {"name": PROPERTY_GROUP, "label": "cmrules", "displayOrder": -1}
        if dry_run:
            exists = self._get_or_none(f"{base}/groups/{PROPERTY_GROUP}") is not None
        else:
            exists = self._create_or_conflict(f"{base}/groups", group)
        plan.append(
            f"property group {PROPERTY_GROUP}: "
            + ("exists" if exists else "would be created" if dry_run else "created")
        )
        for wanted in self._wanted_properties():
            name = wanted["name"]
            if not dry_run and not self._create_or_conflict(base, wanted):
                plan.append(f"property {name}: created ({wanted['type']}/{wanted['fieldType']})")
                continue
            current = self._get_or_none(f"{base}/{name}")
            if current is None:
                plan.append(
                    f"property {name}: would be created ({wanted['type']}/{wanted['fieldType']}"
                    + (f", {len(wanted['options'])} options" if "options" in wanted else "")
                    + ")"
                )
                continue
            plan.extend(self._compare_property(base, wanted, current, dry_run))
        return plan

    def _compare_property(
        self, base: str, wanted: Mapping[str, Any], current: Mapping[str, Any], dry_run: bool
    ) -> list[str]:
        name = wanted["name"]
        lines = []
        for key in ("type", "fieldType", "groupName"):
            if current.get(key) != wanted[key]:
                lines.append(
                    f"property {name}: DIFFERENT {key}: HubSpot has {current.get(key)!r}, cmrules "
                    f"needs {wanted[key]!r}; fix it in HubSpot (Settings > Properties) — "
                    "cmrules does not change existing property types"
                )
        if "options" in wanted:
            have = [o for o in current.get("options") or [] if isinstance(o, dict)]
            have_values = {o.get("value") for o in have}
            missing = [o for o in wanted["options"] if o["value"] not in have_values]
            extra = sorted(
                str(v) for v in have_values - {o["value"] for o in wanted["options"]} if v
            )
            if missing:
                names = ", ".join(o["value"] for o in missing)
                if dry_run:
                    lines.append(f"property {name}: would add options {names}")
                else:
                    options = have + [
                        {**o, "displayOrder": len(have) + i} for i, o in enumerate(missing)
                    ]
                    self.client.request("PATCH", f"{base}/{name}", json_body={"options": options})
                    lines.append(f"property {name}: added options {names}")
            if extra:
                lines.append(
                    f"property {name}: keeps options not in the current rules ({', '.join(extra)})"
                )
        if not lines:
            lines.append(f"property {name}: exists, up to date")
        return lines

    def _get_or_none(self, path: str) -> dict[str, Any] | None:
        try:
            answer = self.client.request("GET", path)
        except HttpError as exc:
            if exc.status == 404:
                return None
            raise
        return answer if isinstance(answer, dict) else None

    def _create_or_conflict(self, path: str, body: Mapping[str, Any]) -> bool:
        """POST; True when it already existed (409), False when created."""
        try:
            self.client.request("POST", path, json_body=dict(body))
        except HttpError as exc:
            if exc.status == 409:
                return True
            raise
        return False

    def close(self) -> None:
        self.client.session.close()
