"""The ``zendesk`` config section: keys, defaults, credentials and their validation.

:func:`parse_settings` turns the raw section into a typed :class:`ZendeskSettings` or raises a
:class:`~cmrules.errors.ConfigError` saying which key is wrong and how to fix it.  Secrets come
from environment variables (or ``${ENV_VAR}`` references) and never appear in a repr.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cmrules.connector_settings import bounded_int, site_url, validate_section
from cmrules.errors import ConfigError
from cmrules.model import ORG_ATTRIBUTES, Role

from .auth import AUTH_KINDS, Credentials, parse_credentials
from .blocks import slug

#: the API root under the site URL
API = "/api/v2"

#: role labels understood without configuration (config ``roles`` adds or overrides)
DEFAULT_ROLES: dict[str, Role] = {
    **{r.value: r for r in Role},
    "decision_maker": Role.PROJECT_OWNER,
    "sponsor": Role.EXECUTIVE_SPONSOR,
    "referent": Role.VENDOR_REFERENT,
    "cm": Role.COMMUNITY_MANAGER,
}

DEFAULTS: dict[str, Any] = {
    "requests_per_minute": 200,  # Suite Team; Growth/Professional 400, Enterprise 700
    "incremental_requests_per_minute": 10,  # 30 with the High Volume add-on
    "page_size": 100,
    "vendor_tag": "cm_vendor",
    "vendor_field": None,
    "vendor_link_field": "cm_vendor",
    "vendor_link_tag_prefix": "cm_vendor_",
    "ended_link_tag_prefix": "cm_ended_",  # cm_ended_<vendor>: the engagement has ended
    "role_field": "cm_role",
    "role_tag_prefix": "cm_role_",
    "roles": {},
    "job_title_field": "job_title",
    "org_attribute_fields": {},
    "ticket_metrics": "auto",
    "notes_max_chars": 8000,
    "incremental_users": True,
}

_NAME = {"type": ["string", "null"], "description": "a field key or tag, or null to disable"}
_SECRET = {"type": "string", "description": "better set it as a ${ENV_VAR} reference"}
_ORG_ATTRIBUTES = sorted(set(ORG_ATTRIBUTES) - {"has_ticket_data"})

#: The ``zendesk`` section as JSON Schema: types, bounds and unknown keys (docs/zendesk.md).
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "cmrules zendesk settings",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "subdomain": {
            "type": "string",
            "pattern": "^[a-z0-9][a-z0-9-]*$",
            "description": "should be the first label of your Zendesk URL, e.g. acme for "
            "https://acme.zendesk.com",
        },
        "base_url": site_url(
            "use e.g. https://acme.zendesk.com (https, a host, an optional port)", API
        ),
        "auth": {
            "enum": list(AUTH_KINDS),
            "description": "oauth_client_credentials for an unattended job (docs/zendesk.md, "
            "Connecting)",
        },
        "client_id": _SECRET,
        "client_secret": _SECRET,
        "scope": {"type": "string", "minLength": 1, "description": "space-separated scopes"},
        "token_lifetime": bounded_int(
            301, 172_799, "seconds; Zendesk accepts more than 300 and less than 172800 (2 days)"
        ),
        "token_file": {"type": "string", "minLength": 1},
        "redirect_uri": {"type": "string", "pattern": "^https?://", "description": "an URL"},
        "email": _SECRET,
        "token": _SECRET,
        "oauth_token": _SECRET,
        "requests_per_minute": bounded_int(
            1, 100_000, "your plan's limit: 200 (Team), 400 (Growth/Professional), 700 (Enterprise)"
        ),
        "incremental_requests_per_minute": bounded_int(
            1, 1_000, "Zendesk allows 10 export calls per minute (30 with High Volume)"
        ),
        "page_size": bounded_int(1, 100, "Zendesk pages hold at most 100 records"),
        "vendor_tag": _NAME,
        "vendor_field": _NAME,
        "vendor_link_field": _NAME,
        "vendor_link_tag_prefix": _NAME,
        "role_field": _NAME,
        "role_tag_prefix": _NAME,
        "roles": {
            "type": ["object", "null"],
            "additionalProperties": {"enum": [r.value for r in Role]},
            "description": "maps a role label to a cmrules role",
        },
        "job_title_field": _NAME,
        "org_attribute_fields": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "properties": {name: {"type": "string", "minLength": 1} for name in _ORG_ATTRIBUTES},
        },
        "ticket_metrics": {
            "enum": ["bulk", "per_ticket", "auto"],
            "description": "auto side-loads metric_sets with the tickets (docs/zendesk.md, "
            "Ticket metrics); bulk pages through /ticket_metrics; per_ticket makes one call each",
        },
        "notes_max_chars": bounded_int(200, 1_000_000, "the size of cmrules' notes block"),
        "incremental_users": {"type": "boolean"},
    },
}

#: every key the section accepts (unknown keys are config errors)
SETTINGS_KEYS = frozenset(SCHEMA["properties"])


@dataclass
class ZendeskSettings:
    """The validated ``zendesk`` section (see docs/zendesk.md for each key)."""

    opts: dict[str, Any] = field(repr=False)  # every key, defaults filled in
    base_url: str
    roles: dict[str, Role]
    page_size: int
    requests_per_minute: int
    incremental_requests_per_minute: int
    notes_max_chars: int
    attribute_fields: dict[str, str]
    credentials: Credentials
    site_label: str = "zendesk"  # acme for https://acme.zendesk.com: names the state files


def parse_settings(settings: Mapping[str, Any], config_path: str | None) -> ZendeskSettings:
    """Validate the raw section; credentials come from it or from the environment."""
    return _Parser(settings, config_path).parse()


class _Parser:
    def __init__(self, settings: Mapping[str, Any], config_path: str | None):
        self.config_path = config_path
        self.settings = validate_section(SCHEMA, settings, "zendesk", lambda *path: self._where())
        self.opts: dict[str, Any] = {**DEFAULTS, **self.settings}

    def _where(self) -> str:
        cfg = self.config_path
        return f"zendesk section of {cfg}" if cfg else "zendesk settings"

    def parse(self) -> ZendeskSettings:
        where = self._where()
        return ZendeskSettings(
            opts=self.opts,
            base_url=self._base_url(where),
            roles=self._role_map(),
            page_size=self.opts["page_size"],
            requests_per_minute=self.opts["requests_per_minute"],
            incremental_requests_per_minute=self.opts["incremental_requests_per_minute"],
            notes_max_chars=self.opts["notes_max_chars"],
            attribute_fields={
                str(k): str(v) for k, v in (self.opts["org_attribute_fields"] or {}).items()
            },
            credentials=parse_credentials(self.settings, where, self._site_label(where)),
            site_label=self._site_label(where),
        )

    def _base_url(self, where: str) -> str:
        base = self.opts.get("base_url")
        if base:
            return str(base).rstrip("/").removesuffix(API)
        sub = self.opts.get("subdomain")
        if not sub:
            raise ConfigError(
                f"{where}: set 'subdomain' (acme for https://acme.zendesk.com) or 'base_url'"
            )
        return f"https://{sub}.zendesk.com"

    def _site_label(self, where: str) -> str:
        """``acme`` for https://acme.zendesk.com: names the refresh-token and own-writes
        files."""
        host = self._base_url(where).split("://", 1)[-1].split(":", 1)[0]
        return host.split(".", 1)[0] or "zendesk"

    def _role_map(self) -> dict[str, Role]:
        """The default labels, extended or overridden by ``roles`` (schema-checked)."""
        roles = dict(DEFAULT_ROLES)
        for label, role in (self.opts.get("roles") or {}).items():
            roles[slug(str(label))] = Role(str(role))
        return roles
