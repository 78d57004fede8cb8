"""The ``zendesk`` config section: keys, defaults, credentials and their validation.

:func:`parse_settings` turns the raw section into a typed :class:`ZendeskSettings` or raises a
:class:`~cmrules.errors.ConfigError` saying which key is wrong and how to fix it.  Secrets come
from environment variables (or ``${ENV_VAR}`` references) and never appear in a repr.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cmrules.errors import ConfigError
from cmrules.model import ORG_ATTRIBUTES, Role

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
    "role_field": "cm_role",
    "role_tag_prefix": "cm_role_",
    "roles": {},
    "job_title_field": "job_title",
    "org_attribute_fields": {},
    "ticket_metrics": "bulk",
    "notes_max_chars": 8000,
    "incremental_users": True,
}
ENV = {"email": "ZENDESK_EMAIL", "token": "ZENDESK_API_TOKEN", "oauth_token": "ZENDESK_OAUTH_TOKEN"}

#: every key the section accepts (unknown keys are config errors)
SETTINGS_KEYS = frozenset({"subdomain", "base_url", "email", "token", "oauth_token", *DEFAULTS})


@dataclass(frozen=True)
class Credentials:
    """How requests authenticate: an OAuth bearer token, or an agent's email + API token."""

    kind: str  # "OAuth token" | "API token", for `cmrules check`
    oauth_token: str | None = field(default=None, repr=False)
    email: str | None = None
    api_token: str | None = field(default=None, repr=False)


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


def parse_settings(settings: Mapping[str, Any], config_path: str | None) -> ZendeskSettings:
    """Validate the raw section; credentials come from it or from the environment."""
    return _Parser(settings, config_path).parse()


class _Parser:
    def __init__(self, settings: Mapping[str, Any], config_path: str | None):
        self.settings = settings
        self.config_path = config_path
        self.opts: dict[str, Any] = {**DEFAULTS, **dict(settings)}

    def _where(self) -> str:
        cfg = self.config_path
        return f"zendesk section of {cfg}" if cfg else "zendesk settings"

    def parse(self) -> ZendeskSettings:
        where = self._where()
        base_url = self._base_url(where)
        roles = self._role_map(where)
        page_size = self._int("page_size", 1, 100, where)
        rpm = self._int("requests_per_minute", 1, 100_000, where)
        irpm = self._int("incremental_requests_per_minute", 1, 1_000, where)
        notes_max_chars = self._int("notes_max_chars", 200, 1_000_000, where)
        if self.opts["ticket_metrics"] not in ("bulk", "per_ticket", "auto"):
            raise ConfigError(
                f"{where}: ticket_metrics is {self.opts['ticket_metrics']!r}; expected 'bulk' "
                "(page through /ticket_metrics), 'per_ticket' or 'auto'"
            )
        attribute_fields = self._attribute_fields(where)
        return ZendeskSettings(
            opts=self.opts,
            base_url=base_url,
            roles=roles,
            page_size=page_size,
            requests_per_minute=rpm,
            incremental_requests_per_minute=irpm,
            notes_max_chars=notes_max_chars,
            attribute_fields=attribute_fields,
            credentials=self._credentials(where),
        )

    def _int(self, key: str, low: int, high: int, where: str) -> int:
        value = self.opts[key]
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ConfigError(f"{where}: {key} must be a whole number, got {value!r}")
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(f"{where}: {key} must be a whole number, got {value!r}") from None
        if not low <= number <= high:
            raise ConfigError(f"{where}: {key} must be between {low} and {high}, got {number}")
        return number

    def _base_url(self, where: str) -> str:
        base = self.opts.get("base_url")
        sub = self.opts.get("subdomain")
        if base:
            base = str(base).rstrip("/")
            base = base.removesuffix(API)
            if not re.match(r"^https?://[^/\s?#@]+$", base):
                raise ConfigError(
                    f"{where}: base_url {base!r} is not a site URL; use e.g. "
                    "https://acme.zendesk.com"
                )
            host = urlsplit(base).hostname or ""
            if base.startswith("http://") and host not in ("localhost", "127.0.0.1"):
                raise ConfigError(
                    f"{where}: base_url must use https (credentials travel with every request)"
                )
            return base
        if not sub:
            raise ConfigError(
                f"{where}: set 'subdomain' (acme for https://acme.zendesk.com) or 'base_url'"
            )
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", str(sub)):
            raise ConfigError(
                f"{where}: subdomain {sub!r} should be the first label of your Zendesk URL, "
                "e.g. acme for https://acme.zendesk.com"
            )
        return f"https://{sub}.zendesk.com"

    def _secret(self, key: str, where: str) -> str | None:
        value = self.settings.get(key)
        if value is None:
            value = os.environ.get(ENV[key])
        if value is None or str(value).strip() == "":
            return None
        value = str(value).strip()
        if value.startswith("${"):
            raise ConfigError(
                f"{where}: {key} refers to an environment variable that is not set; "
                f"export it (e.g. {ENV[key]}) before running"
            )
        return value

    def _credentials(self, where: str) -> Credentials:
        oauth = self._secret("oauth_token", where)
        email, token = self._secret("email", where), self._secret("token", where)
        if oauth:
            return Credentials("OAuth token", oauth_token=oauth)
        if email and token:
            return Credentials("API token", email=email, api_token=token)
        missing = "ZENDESK_API_TOKEN" if email else "ZENDESK_EMAIL"
        raise ConfigError(
            f"{where}: no Zendesk credentials ({missing} is missing). Set ZENDESK_EMAIL and "
            "ZENDESK_API_TOKEN (API token) or ZENDESK_OAUTH_TOKEN, or the keys email/token or "
            "oauth_token (as ${ENV_VAR} references) in the zendesk section"
        )

    def _role_map(self, where: str) -> dict[str, Role]:
        raw = self.opts.get("roles") or {}
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where}: roles must map a label to a role, got {raw!r}")
        roles = dict(DEFAULT_ROLES)
        allowed = ", ".join(r.value for r in Role)
        for label, role in raw.items():
            try:
                roles[slug(str(label))] = Role(str(role))
            except ValueError:
                raise ConfigError(
                    f"{where}: roles.{label} is {role!r}; expected one of {allowed}"
                ) from None
        return roles

    def _attribute_fields(self, where: str) -> dict[str, str]:
        raw = self.opts.get("org_attribute_fields") or {}
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where}: org_attribute_fields must map attribute -> field key")
        allowed = sorted(set(ORG_ATTRIBUTES) - {"has_ticket_data"})
        for attr in raw:
            if attr not in allowed:
                raise ConfigError(
                    f"{where}: org_attribute_fields.{attr} is not a known attribute; "
                    f"expected one of {', '.join(allowed)}"
                )
        return {str(k): str(v) for k, v in raw.items()}
