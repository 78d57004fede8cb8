"""Zendesk Support connector: organisations, their users, tickets and ticket metrics.

Reads (see ``docs/zendesk.md`` for every setting):

* **vendors** are organisations tagged ``vendor_tag`` (default ``cm_vendor``) or whose
  ``vendor_field`` organisation field is true / ``"vendor"``;
* **client companies** name their vendor through the ``vendor_link_field`` organisation field
  (default ``cm_vendor``: the vendor's external id, name or Zendesk id) or through tags
  ``<vendor_link_tag_prefix><ref>`` (default ``cm_vendor_<external id | id | name slug>``);
* **contacts** are the users of those organisations, with roles from the ``role_field`` user
  field and ``role_tag_prefix`` user tags, mapped through ``roles`` onto canonical roles;
* **activities** are the tickets of each client company, with reply metrics read in bulk.

Writes one ``PUT /api/v2/organizations/{id}`` per changed organisation: Zendesk replaces
``notes`` and ``tags`` wholesale, so the connector re-reads the organisation, replaces only the
text between its markers and only the ``cmrules_`` tags, and writes the merged values.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

from cmrules.connector import (
    ChangeSet,
    Connector,
    ConnectorContext,
    Flags,
    RenderedNote,
    StoredNote,
)
from cmrules.errors import AuthError, ConfigError, ConnectorError, UsageError, WriteError
from cmrules.http import (
    HttpClient,
    HttpError,
    RateLimiter,
    RetryPolicy,
    parse_retry_after,
    safe_json,
)
from cmrules.model import (
    ORG_ATTRIBUTES,
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
from cmrules.sources import Helpdesk, MatchCandidate
from cmrules.values import iso, parse_bool, parse_datetime, parse_number

log = logging.getLogger("cmrules.connectors.zendesk")

API = "/api/v2"
TAG_PREFIX = "cmrules_"
AUTO_PER_TICKET_MAX = 10
BEGIN_RE = re.compile(
    r"^--- cmrules:begin (?P<fp>\S+)(?: (?P<at>\S+))? ---[ \t]*(?=\r?$)", re.MULTILINE
)
END_RE = re.compile(r"^--- cmrules:end ---[ \t]*(?=\r?$)", re.MULTILINE)
_MARKER_LINE = re.compile(r"^(--- cmrules:)", re.MULTILINE)
_SLUG = re.compile(r"[^a-z0-9_]+")

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


def slug(value: str) -> str:
    """A tag-safe form: lowercase, runs of other characters -> ``_``."""
    return _SLUG.sub("_", value.strip().lower()).strip("_")


def flag_tags(flags: Flags) -> set[str]:
    """``cmrules_risk_<level>`` plus ``cmrules_flag_<rule id>`` per rule that fired."""
    tags = {f"{TAG_PREFIX}risk_{slug(flags.risk_level) or 'none'}"}
    tags.update(f"{TAG_PREFIX}flag_{slug(rule)}" for rule in flags.rule_ids if slug(rule))
    return tags


@dataclass(frozen=True)
class Block:
    """cmrules' text inside an organisation's ``notes``."""

    fingerprint: str
    written_at: datetime | None
    body: str


def read_block(notes: str | None) -> Block | None:
    if not notes:
        return None
    begin = BEGIN_RE.search(notes)
    if begin is None:
        return None
    end = END_RE.search(notes, begin.end())
    if end is None:
        return None
    try:
        written = parse_datetime(begin.group("at")) if begin.group("at") else None
    except ValueError:
        written = None
    body = notes[begin.end() : end.start()].strip("\r\n")
    return Block(begin.group("fp"), written, body)


def render_block(note: RenderedNote, max_chars: int) -> str:
    """The marker-delimited block for ``note``: plain text, bounded, marker lines neutralised."""
    if not re.fullmatch(r"\S+", note.fingerprint):
        raise WriteError(f"fingerprint {note.fingerprint!r} has whitespace; cannot mark it")
    text = _MARKER_LINE.sub(r" \1", note.text.strip("\r\n"))
    if len(text) > max_chars:
        cut = text.rfind("\n", 0, max_chars)
        cut = cut if cut > max_chars // 2 else max_chars
        left = len(text) - cut
        text = (
            text[:cut].rstrip()
            + f"\n… (truncated: {left} more characters; run `cmrules evaluate` for the full report)"
        )
    stamp = iso(note.flags.evaluated_at)
    return f"--- cmrules:begin {note.fingerprint} {stamp} ---\n{text}\n--- cmrules:end ---"


def merge_notes(existing: str | None, block: str, where: str) -> str:
    """Replace cmrules' block in ``existing`` (or append it); every other character survives."""
    notes = existing or ""
    begin = BEGIN_RE.search(notes)
    if begin is None:
        head = notes.rstrip()
        return f"{head}\n\n{block}" if head else block
    end = END_RE.search(notes, begin.end())
    if end is None:
        raise WriteError(
            f"{where}: the notes hold a '--- cmrules:begin' line without its '--- cmrules:end' "
            "line; cmrules will not guess where its text stops. Fix the notes in Zendesk "
            "(delete the cmrules block or restore its end line) and rerun."
        )
    rest = notes[end.end() :]
    # stale duplicate blocks (ours) further down are dropped; human text around them stays
    while (b := BEGIN_RE.search(rest)) and (e := END_RE.search(rest, b.end())):
        after = rest[e.end() :]
        after = after[2:] if after.startswith("\r\n") else after.removeprefix("\n")
        rest = rest[: b.start()] + after
    return notes[: begin.start()] + block + rest


def merge_tags(existing: Iterable[str], wanted: set[str]) -> list[str]:
    """Other tags untouched and in order; ``cmrules_`` tags replaced by ``wanted``."""
    kept = [t for t in existing if not t.startswith(TAG_PREFIX)]
    return kept + sorted(wanted - set(kept))


class ZendeskClient(HttpClient):
    service = "Zendesk"

    def retry_delay(self, response: requests.Response, attempt: int) -> float:
        """``Retry-After`` (seconds) first; ``ratelimit-reset`` next; else exponential backoff.
        The body is never parsed: Zendesk's 429 is often ``text/plain``."""
        for header in ("Retry-After", "ratelimit-reset"):
            seconds = parse_retry_after(response.headers.get(header))
            if seconds is not None:
                return seconds
        return self.backoff(attempt)

    def error_message(self, response: requests.Response) -> tuple[str, str | None]:
        request_id = response.headers.get("X-Zendesk-Request-Id") or response.headers.get(
            "X-Request-Id"
        )
        body = safe_json(response)
        if isinstance(body, dict):
            error: Any = body.get("error")
            description: Any = body.get("description")
            if isinstance(error, dict):  # {"error": {"title": ..., "message": ...}}
                error, description = error.get("title"), error.get("message") or description
            parts = [str(p) for p in (error, description) if p]
            details = body.get("details")
            if isinstance(details, dict):
                for field_name, problems in details.items():
                    for p in problems if isinstance(problems, list) else [problems]:
                        text = p.get("description") if isinstance(p, dict) else p
                        if text:
                            parts.append(f"{field_name}: {text}")
            if parts:
                return "; ".join(parts)[:300], request_id
        text = (response.text or "").strip()
        return (text[:200] or response.reason or "no message"), request_id

    def auth_hint(self, status: int, message: str) -> str:
        if status == 401:
            return (
                "Zendesk refused the credentials: check ZENDESK_EMAIL and ZENDESK_API_TOKEN "
                "(token access must be enabled in Admin Center > Apps and integrations > APIs) "
                "or ZENDESK_OAUTH_TOKEN, and the subdomain / base_url in the zendesk section"
            )
        return (
            "the credentials are valid but lack permission: use an agent or admin account "
            "(reading organisations, users and ticket metrics needs agent access; writing "
            "organisation notes and tags needs permission to edit organisations)"
        )


class ZendeskConnector(Connector, Helpdesk):
    name = "zendesk"
    settings_keys: ClassVar[frozenset[str]] = frozenset(
        {"subdomain", "base_url", "email", "token", "oauth_token", *DEFAULTS}
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
        where = self._where()
        self.opts: dict[str, Any] = {**DEFAULTS, **{k: v for k, v in self.settings.items()}}
        self.base_url = self._base_url(where)
        self.roles = self._role_map(where)
        self.page_size = self._int("page_size", 1, 100, where)
        rpm = self._int("requests_per_minute", 1, 100_000, where)
        irpm = self._int("incremental_requests_per_minute", 1, 1_000, where)
        self.notes_max_chars = self._int("notes_max_chars", 200, 1_000_000, where)
        if self.opts["ticket_metrics"] not in ("bulk", "per_ticket", "auto"):
            raise ConfigError(
                f"{where}: ticket_metrics is {self.opts['ticket_metrics']!r}; expected 'bulk' "
                "(page through /ticket_metrics), 'per_ticket' or 'auto'"
            )
        self.attribute_fields = self._attribute_fields(where)
        session = session or requests.Session()
        self._auth_kind = self._authenticate(session, where)
        self.client = ZendeskClient(
            self.base_url,
            session=session,
            policy=RetryPolicy.from_settings(self.context.http),
            limiters={
                "default": RateLimiter(rpm, 60.0, clock=clock, sleep=sleep),
                "incremental": RateLimiter(irpm, 60.0, clock=clock, sleep=sleep),
            },
            sleep=sleep,
            stats=self.context.stats,
        )
        self._orgs: dict[str, dict[str, Any]] = {}  # raw organisations by id
        self._listed = False
        self._vendor_refs: dict[str, str | None] = {}
        self._index: dict[str, str] = {}
        self._index_size = -1
        #: human-readable lines for the run summary (e.g. a vendor reference that resolves
        #: to nothing), accumulated over the run
        self.unmatched: list[str] = []
        self._warned: set[str] = set()

    # -- settings ---------------------------------------------------------------------------
    def _where(self) -> str:
        cfg = self.context.config_path
        return f"zendesk section of {cfg}" if cfg else "zendesk settings"

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

    def _authenticate(self, session: requests.Session, where: str) -> str:
        oauth = self._secret("oauth_token", where)
        email, token = self._secret("email", where), self._secret("token", where)
        session.headers["Accept"] = "application/json"
        if oauth:
            session.headers["Authorization"] = f"Bearer {oauth}"
            return "OAuth token"
        if email and token:
            session.auth = (f"{email}/token", token)
            return "API token"
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

    def describe(self) -> str:
        return f"zendesk ({self.base_url.split('://', 1)[-1]})"

    def _report(self, line: str) -> None:
        if line not in self.unmatched:
            self.unmatched.append(line)

    def _warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            log.warning("%s", message)

    # -- HTTP helpers -----------------------------------------------------------------------
    def _get(self, path: str, params: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        body = self.client.request("GET", path, params=params, **kw)
        if not isinstance(body, dict):
            raise ConnectorError(f"Zendesk GET {urlsplit(path).path}: expected a JSON object")
        return body

    def _next_url(self, link: Any) -> str | None:
        """Follow ``links.next`` only on our own site: credentials must not travel elsewhere."""
        if isinstance(link, str) and link.startswith(self.base_url + "/"):
            return link
        return None

    def _paginate(
        self, path: str, key: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Cursor pagination: ``page[size]``, ``meta.has_more``, ``links.next`` (or
        ``page[after]``); guards against a repeated cursor."""
        url: str = f"{API}{path}"
        query: dict[str, Any] | None = {**(params or {}), "page[size]": self.page_size}
        seen: set[str] = set()
        while True:
            body = self._get(url, query)
            items = body.get(key)
            if not isinstance(items, list):
                raise ConnectorError(
                    f"Zendesk GET {API}{path}: the answer has no '{key}' list; check base_url "
                    "points at Zendesk Support"
                )
            yield from (i for i in items if isinstance(i, dict))
            meta = body.get("meta") or {}
            if not meta.get("has_more"):
                return
            cursor = meta.get("after_cursor")
            nxt = self._next_url((body.get("links") or {}).get("next"))
            token = nxt or (str(cursor) if cursor else None)
            if token is None or token in seen:
                raise ConnectorError(
                    f"Zendesk GET {API}{path}: has_more is true but the next cursor is "
                    "missing or repeated; stopping to avoid a loop"
                )
            seen.add(token)
            if nxt:
                url, query = nxt, None
            else:
                url, query = (
                    f"{API}{path}",
                    {**(params or {}), "page[size]": self.page_size, "page[after]": cursor},
                )

    # -- organisations ----------------------------------------------------------------------
    def _list_orgs(self) -> dict[str, dict[str, Any]]:
        if not self._listed:
            for raw in self._paginate("/organizations", "organizations"):
                self._orgs[str(raw["id"])] = raw
            self._listed = True
        return self._orgs

    def _org(self, org_id: str, *, fresh: bool = False) -> dict[str, Any]:
        org_id = str(org_id).strip()
        if not fresh and org_id in self._orgs:
            return self._orgs[org_id]
        if not org_id.isdigit():
            raise UsageError(f"{org_id!r} is not a Zendesk organisation id (ids are numbers)")
        try:
            raw = self._get(f"{API}/organizations/{org_id}").get("organization")
        except HttpError as exc:
            if exc.status == 404:
                raise UsageError(
                    f"no Zendesk organisation with id {org_id}; check the id in Zendesk "
                    "(Admin > Organizations) or use `cmrules find`"
                ) from None
            raise
        if not isinstance(raw, dict):
            raise ConnectorError(f"Zendesk GET {API}/organizations/{org_id}: no 'organization'")
        self._orgs[org_id] = raw
        return raw

    def _fields(self, raw: Mapping[str, Any]) -> Mapping[str, Any]:
        fields = raw.get("organization_fields")
        return fields if isinstance(fields, Mapping) else {}

    def is_vendor(self, raw: Mapping[str, Any]) -> bool:
        tag = self.opts["vendor_tag"]
        if tag and tag in (raw.get("tags") or []):
            return True
        field_key = self.opts["vendor_field"]
        if field_key:
            value = self._fields(raw).get(field_key)
            if isinstance(value, str) and value.strip().lower() == "vendor":
                return True
            try:
                return bool(parse_bool(value))
            except ValueError:
                return False
        return False

    def vendor_references(self, raw: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(how, reference) pairs naming this organisation's vendors."""
        refs: list[tuple[str, str]] = []
        key = self.opts["vendor_link_field"]
        if key:
            value = self._fields(raw).get(key)
            values = value if isinstance(value, list) else [value]
            for v in values:
                if v is not None and not isinstance(v, bool) and str(v).strip():
                    refs.extend(
                        ("field", part.strip())
                        for part in re.split(r"[,;]", str(v))
                        if part.strip()
                    )
        prefix = self.opts["vendor_link_tag_prefix"]
        if prefix:
            refs.extend(
                ("tag", t[len(prefix) :])
                for t in raw.get("tags") or []
                if t.startswith(prefix) and len(t) > len(prefix)
            )
        return refs

    def _vendor_index(self) -> dict[str, str]:
        if self._index_size == len(self._orgs):
            return self._index
        index: dict[str, str] = {}
        for oid, raw in self._orgs.items():
            if not self.is_vendor(raw):
                continue
            for k in (oid, raw.get("external_id"), raw.get("name")):
                if k:
                    index.setdefault(str(k).strip().lower(), oid)
                    index.setdefault(slug(str(k)), oid)
        self._index, self._index_size = index, len(self._orgs)
        return index

    def _resolve(self, how: str, ref: str) -> str | None:
        """A vendor reference -> vendor org id, by id, external id or name."""
        cache_key = f"{how}:{ref.lower()}"
        if cache_key in self._vendor_refs:
            return self._vendor_refs[cache_key]
        found: str | None = None
        if self._listed:
            index = self._vendor_index()
            found = index.get(ref.strip().lower()) or index.get(slug(ref))
        else:
            if ref.isdigit():
                try:
                    raw = self._org(ref)
                    found = ref if self.is_vendor(raw) else None
                except UsageError:
                    found = None
            for param in ("external_id", "name"):
                if found:
                    break
                if how == "tag" and param == "name":
                    break  # a tag holds a slug, not a name: only the listing can resolve it
                body = self._get(f"{API}/organizations/search", {param: ref})
                for raw in body.get("organizations") or []:
                    if isinstance(raw, dict) and self.is_vendor(raw):
                        self._orgs.setdefault(str(raw["id"]), raw)
                        found = str(raw["id"])
                        break
            if found is None and how == "tag":
                self._list_orgs()
                index = self._vendor_index()
                found = index.get(ref.strip().lower()) or index.get(slug(ref))
        self._vendor_refs[cache_key] = found
        return found

    def vendors_of_raw(self, raw: Mapping[str, Any]) -> list[str]:
        vendors: list[str] = []
        for how, ref in self.vendor_references(raw):
            vid = self._resolve(how, ref)
            if vid is None:
                source = (
                    f"organisation field {self.opts['vendor_link_field']!r}"
                    if how == "field"
                    else "tag " + repr(self.opts["vendor_link_tag_prefix"] + ref)
                )
                line = (
                    f"zendesk organisation {raw.get('name')!r} (id {raw.get('id')}) names vendor "
                    f"{ref!r} in {source}, but no organisation tagged "
                    f"{self.opts['vendor_tag']!r} has that id, external id or name"
                )
                self._report(line)
            elif vid not in vendors and vid != str(raw.get("id")):
                vendors.append(vid)
        return vendors

    def kind_of(self, raw: Mapping[str, Any]) -> OrgKind | None:
        if self.is_vendor(raw):
            return OrgKind.VENDOR
        if self.vendor_references(raw):
            return OrgKind.COMPANY
        return None

    def _organisation(self, raw: Mapping[str, Any], kind: OrgKind, **attrs: Any) -> Organisation:
        domains = [d for d in raw.get("domain_names") or [] if isinstance(d, str) and d]
        block = read_block(raw.get("notes"))
        # the block and the risk tag are written in one PUT; if a person removed the tags, the
        # fingerprint is not reported so that the next run restores them
        flagged = any(str(t).startswith(f"{TAG_PREFIX}risk_") for t in raw.get("tags") or [])
        attributes: dict[str, Any] = {}
        fields = self._fields(raw)
        for attr, key in self.attribute_fields.items():
            value = fields.get(key)
            try:
                parsed = parse_bool(value) if ORG_ATTRIBUTES[attr] is bool else value
            except ValueError:
                self._warn(
                    f"zendesk organisation {raw.get('id')}: field {key!r} = {value!r} is not a "
                    f"yes/no value; {attr} is treated as unknown"
                )
                parsed = None
            if parsed is not None and parsed != "":
                attributes[attr] = parsed
        attributes.update(attrs)
        return Organisation(
            id=str(raw["id"]),
            name=str(raw.get("name") or raw["id"]),
            kind=kind,
            domain=domains[0] if domains else None,
            external_id=str(raw["external_id"]) if raw.get("external_id") else None,
            attributes=attributes,
            writeback={"fingerprint": block.fingerprint} if block and flagged else {},
            source=self.name,
            updated_at=_dt(raw.get("updated_at")),
        )

    def find_organisations(self, text: str, kind: OrgKind) -> list[Organisation]:
        text = text.strip()
        if not text:
            return []
        hits: dict[str, dict[str, Any]] = {}
        if text.isdigit():
            try:
                raw = self._org(text)
                hits[text] = raw
            except UsageError:
                pass
        if not hits:
            body = self._get(f"{API}/organizations/search", {"external_id": text})
            for raw in body.get("organizations") or []:
                if isinstance(raw, dict):
                    self._orgs.setdefault(str(raw["id"]), raw)
                    hits[str(raw["id"])] = raw
        if not hits:
            orgs = self._list_orgs()
            low = text.lower()
            names = {oid: str(r.get("name") or "") for oid, r in orgs.items()}
            close = set(difflib.get_close_matches(low, [n.lower() for n in names.values()], 5, 0.6))
            hits = {
                oid: orgs[oid] for oid, n in names.items() if low in n.lower() or n.lower() in close
            }
        return [self._organisation(raw, kind) for raw in hits.values() if self.kind_of(raw) == kind]

    def vendors_of(self, company_ids: Iterable[str]) -> dict[str, list[str]]:
        return {str(cid): self.vendors_of_raw(self._org(str(cid))) for cid in company_ids}

    def match_candidates(self) -> list[MatchCandidate]:
        candidates = []
        for raw in self._list_orgs().values():
            kind = self.kind_of(raw) or OrgKind.COMPANY
            domains = tuple(d for d in raw.get("domain_names") or [] if isinstance(d, str))
            vendors = tuple(self.vendors_of_raw(raw)) if kind == OrgKind.COMPANY else ()
            candidates.append(MatchCandidate(self._organisation(raw, kind), domains, vendors))
        return candidates

    # -- loading ----------------------------------------------------------------------------
    def load(self, vendor_ids: Iterable[str], company_ids: Iterable[str] | None = None) -> Dataset:
        vendors: dict[str, dict[str, Any]] = {}
        for vid in (str(v) for v in vendor_ids):
            raw = self._org(vid)
            if not self.is_vendor(raw):
                raise UsageError(
                    f"zendesk organisation {raw.get('name')!r} (id {vid}) is not a vendor: tag it "
                    f"{self.opts['vendor_tag']!r}"
                    + (
                        f" or set its {self.opts['vendor_field']!r} field"
                        if self.opts["vendor_field"]
                        else ""
                    )
                )
            vendors[vid] = raw
        if company_ids is None:
            candidates = [
                r
                for oid, r in self._list_orgs().items()
                if oid not in vendors and not self.is_vendor(r)
            ]
        else:
            candidates = [self._org(str(c)) for c in company_ids]
        companies: dict[str, dict[str, Any]] = {}
        links: dict[str, list[str]] = {}
        for raw in candidates:
            cid = str(raw["id"])
            if not self.vendor_references(raw):
                if company_ids is not None:
                    self._report(
                        f"zendesk organisation {raw.get('name')!r} (id {cid}) names no vendor "
                        f"(field {self.opts['vendor_link_field']!r} or tags "
                        f"{self.opts['vendor_link_tag_prefix']}<vendor>): skipped"
                    )
                continue
            its_vendors = self.vendors_of_raw(raw)
            if set(its_vendors) & set(vendors):
                companies[cid] = raw
                links[cid] = its_vendors
        kinds = {**{v: OrgKind.VENDOR for v in vendors}, **{c: OrgKind.COMPANY for c in companies}}
        data = self._read(kinds, links)
        for cid, its_vendors in links.items():
            for vid in its_vendors:
                if vid in vendors:
                    data.add(Engagement(company_id=cid, vendor_id=vid))
        return data

    def load_for(self, targets: Mapping[str, OrgKind]) -> Dataset:
        for oid in targets:
            self._org(oid)
        return self._read(dict(targets), {})

    def _read(self, kinds: Mapping[str, OrgKind], links: Mapping[str, list[str]]) -> Dataset:
        """Organisations, users, tickets (of companies) and their metrics."""
        data = Dataset()
        members: dict[str, set[str]] = {}
        contacts: dict[str, Contact] = {}
        for oid in sorted(kinds, key=int):
            members[oid] = set()
            for user in self._paginate(f"/organizations/{oid}/users", "users"):
                uid = str(user["id"])
                members[oid].add(uid)
                if uid not in contacts or str(user.get("organization_id")) == oid:
                    contacts[uid] = self._contact(user, oid)
        tickets: list[tuple[str, dict[str, Any]]] = []
        read: set[str] = set()
        for oid, kind in sorted(kinds.items(), key=lambda kv: int(kv[0])):
            if kind != OrgKind.COMPANY:
                continue
            tickets.extend(
                (oid, t) for t in self._paginate(f"/organizations/{oid}/tickets", "tickets")
            )
            read.add(oid)
        metrics = self._metrics({str(t["id"]) for _, t in tickets})
        for oid, t in tickets:
            tid = str(t["id"])
            vendors = links.get(oid, [])
            requester = str(t["requester_id"]) if t.get("requester_id") is not None else None
            m = metrics.get(tid)
            data.add(
                Activity(
                    id=tid,
                    kind=ActivityKind.TICKET,
                    timestamp=_dt(t.get("created_at")),
                    company_id=oid,
                    vendor_id=vendors[0] if len(vendors) == 1 else None,
                    side=Side.COMPANY if requester in members[oid] else Side.VENDOR,
                    contact_ids=(requester,) if requester else (),
                    status=t.get("status"),
                    title=str(t.get("subject") or ""),
                    first_reply_minutes=_business_minutes(m, "reply_time_in_minutes"),
                    replies=_count(m, "replies"),
                )
            )
        vendors_with_data = {v for c in read for v in links.get(c, [])}
        for oid, kind in kinds.items():
            has = oid in read or oid in vendors_with_data
            extra = {"has_ticket_data": True} if has else {}
            data.add(self._organisation(self._orgs[oid], kind, **extra))
        data.add(*contacts.values())
        return data

    def _contact(self, user: Mapping[str, Any], org_id: str) -> Contact:
        raw_fields = user.get("user_fields")
        fields: Mapping[str, Any] = raw_fields if isinstance(raw_fields, Mapping) else {}
        labels: list[str] = []
        key = self.opts["role_field"]
        value = fields.get(key) if key else None
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, str):
                labels.extend(p for p in re.split(r"[,;]", v) if p.strip())
        prefix = self.opts["role_tag_prefix"]
        if prefix:
            labels.extend(t[len(prefix) :] for t in user.get("tags") or [] if t.startswith(prefix))
        roles: set[Role] = set()
        for label in labels:
            role = self.roles.get(slug(label))
            if role is None:
                self._warn(
                    f"zendesk: role label {label.strip()!r} maps to no role; add it under "
                    f"zendesk.roles (known: {', '.join(sorted(self.roles))})"
                )
            else:
                roles.add(role)
        title_key = self.opts["job_title_field"]
        title = fields.get(title_key) if title_key else None
        user_org = str(user.get("organization_id")) if user.get("organization_id") else None
        return Contact(
            id=str(user["id"]),
            name=str(user.get("name") or user["id"]),
            org_id=user_org if user_org == org_id else org_id,
            roles=frozenset(roles),
            email=user.get("email") or None,
            job_title=str(title) if title else None,
        )

    def _metrics(self, ticket_ids: set[str]) -> dict[str, Mapping[str, Any]]:
        """Ticket metrics by ticket id.  ``bulk`` pages ``/ticket_metrics`` (100 per call) and
        stops as soon as every wanted ticket is covered; ``per_ticket`` makes one call each;
        ``auto`` uses ``per_ticket`` for at most ``AUTO_PER_TICKET_MAX`` tickets."""
        found: dict[str, Mapping[str, Any]] = {}
        if not ticket_ids:
            return found
        mode = self.opts["ticket_metrics"]
        if mode == "auto":  # bounded per-ticket cost vs. a bulk cost that grows with the account
            mode = "per_ticket" if len(ticket_ids) <= AUTO_PER_TICKET_MAX else "bulk"
        if mode == "per_ticket":
            for tid in sorted(ticket_ids, key=int):
                try:
                    body = self._get(f"{API}/tickets/{tid}/metrics")
                except HttpError as exc:
                    if exc.status == 404:
                        continue
                    raise
                metric = body.get("ticket_metric")
                if isinstance(metric, dict):
                    found[tid] = metric
            return found
        pages = self._paginate("/ticket_metrics", "ticket_metrics")
        for metric in pages:
            tid = str(metric.get("ticket_id"))
            if tid in ticket_ids:
                found[tid] = metric
                if len(found) == len(ticket_ids):
                    break  # the generator is lazy: no further page is requested
        return found

    # -- incremental ------------------------------------------------------------------------
    def changed_since(self, since: datetime | None, run_started: datetime) -> ChangeSet:
        """Vendor and client organisations changed at or after ``since``: organisations
        (time-based export), tickets and users (cursor exports).  The watermark is one minute
        before ``run_started``: Zendesk leaves out the last minute's changes."""
        watermark = run_started - timedelta(seconds=60)
        ids: set[str] = set()
        if since is None:
            ids = {oid for oid, raw in self._list_orgs().items() if self.kind_of(raw)}
            return ChangeSet(frozenset(ids), watermark)
        start = int(min(since, watermark).timestamp())
        seen: set[tuple[str, str]] = set()
        for raw in self._export_orgs(start):
            key = (str(raw.get("id")), str(raw.get("updated_at")))
            if key in seen:
                continue
            seen.add(key)
            self._orgs[key[0]] = raw
            if self.kind_of(raw):
                ids.add(key[0])
        for t in self._export_cursor("tickets", start):
            if t.get("organization_id"):
                ids.add(str(t["organization_id"]))
        if self.opts["incremental_users"]:
            for u in self._export_cursor("users", start):
                if u.get("organization_id"):
                    ids.add(str(u["organization_id"]))
        return ChangeSet(frozenset(ids), watermark)

    def _export_orgs(self, start: int) -> Iterator[dict[str, Any]]:
        url = f"{API}/incremental/organizations"
        params: dict[str, Any] | None = {"start_time": start}
        seen: set[str] = set()
        while True:
            body = self._get(url, params, buckets=("default", "incremental"))
            yield from (o for o in body.get("organizations") or [] if isinstance(o, dict))
            if body.get("end_of_stream", True):
                return
            nxt = self._next_url(body.get("next_page"))
            end_time = body.get("end_time")
            if nxt and nxt not in seen:
                seen.add(nxt)
                url, params = nxt, None
            elif end_time is not None and str(end_time) not in seen:
                seen.add(str(end_time))
                url, params = f"{API}/incremental/organizations", {"start_time": end_time}
            else:
                raise ConnectorError(
                    "Zendesk incremental organisations export: end_of_stream is false but the "
                    "next page repeats; stopping to avoid a loop"
                )

    def _export_cursor(self, kind: str, start: int) -> Iterator[dict[str, Any]]:
        url = f"{API}/incremental/{kind}/cursor.json"
        params: dict[str, Any] | None = {"start_time": start}
        seen: set[str] = set()
        while True:
            body = self._get(url, params, buckets=("default", "incremental"))
            yield from (o for o in body.get(kind) or [] if isinstance(o, dict))
            if body.get("end_of_stream", True):
                return
            cursor = body.get("after_cursor")
            if not cursor or cursor in seen:
                raise ConnectorError(
                    f"Zendesk incremental {kind} export: end_of_stream is false but the cursor "
                    "is missing or repeats; stopping to avoid a loop"
                )
            seen.add(cursor)
            url, params = f"{API}/incremental/{kind}/cursor.json", {"cursor": cursor}

    # -- writing ----------------------------------------------------------------------------
    def _org_where(self, subject: Organisation) -> str:
        return f"zendesk organisation {subject.name!r} (id {subject.id})"

    def _up_to_date(
        self, raw: Mapping[str, Any], fingerprint: str | None, tags: set[str] | None
    ) -> tuple[bool, bool]:
        block = read_block(raw.get("notes"))
        notes_ok = fingerprint is None or (block is not None and block.fingerprint == fingerprint)
        current = {t for t in raw.get("tags") or [] if t.startswith(TAG_PREFIX)}
        tags_ok = tags is None or current == tags
        return notes_ok, tags_ok

    def _write(
        self, subject: Organisation, note: RenderedNote | None, tags: set[str] | None
    ) -> bool:
        """Change-only read-merge-write of notes and/or tags; True when the block was written."""
        fingerprint = note.fingerprint if note else None
        known = self._orgs.get(subject.id)
        if known is not None and all(self._up_to_date(known, fingerprint, tags)):
            return False  # the state read at load time already matches: no call at all
        raw = self._org(subject.id, fresh=True)  # merge into the latest human text
        notes_ok, tags_ok = self._up_to_date(raw, fingerprint, tags)
        if notes_ok and tags_ok:
            return False
        where = self._org_where(subject)
        change: dict[str, Any] = {}
        if not notes_ok and note is not None:
            change["notes"] = merge_notes(
                raw.get("notes"), render_block(note, self.notes_max_chars), where
            )
        if not tags_ok and tags is not None:
            change["tags"] = merge_tags(raw.get("tags") or [], tags)
        try:
            body = self.client.request(
                "PUT", f"{API}/organizations/{subject.id}", json_body={"organization": change}
            )
        except HttpError as exc:
            raise WriteError(f"{where}: writing notes/tags failed: {exc}") from None
        updated = body.get("organization") if isinstance(body, dict) else None
        self._orgs[subject.id] = updated if isinstance(updated, dict) else {**raw, **change}
        log.info("zendesk: wrote %s to organisation %s", "+".join(sorted(change)), subject.id)
        return "notes" in change

    def apply(self, note: RenderedNote) -> bool:
        """One PUT carries the notes block and the flag tags together (atomic on Zendesk)."""
        return self._write(note.subject, note, flag_tags(note.flags))

    def note_exists(self, subject: Organisation, fingerprint: str) -> bool:
        block = read_block(self._org(subject.id, fresh=True).get("notes"))
        return block is not None and block.fingerprint == fingerprint

    def write_note(self, subject: Organisation, note: RenderedNote) -> str:
        self._write(subject, note, None)
        return f"{subject.id}:cmrules"

    def write_flags(self, subject: Organisation, flags: Flags) -> None:
        self._write(subject, None, flag_tags(flags))

    def notes(self, subject: Organisation) -> list[StoredNote]:
        raw = self._org(subject.id, fresh=True)
        block = read_block(raw.get("notes"))
        if block is None:
            return []
        created = block.written_at or _dt(raw.get("updated_at")) or datetime.now(UTC)
        return [
            StoredNote(f"{subject.id}:cmrules", subject.id, created, block.fingerprint, block.body)
        ]

    # -- admin ------------------------------------------------------------------------------
    def setup(self, dry_run: bool = False) -> list[str]:
        return [
            "zendesk: nothing to create — findings go to the built-in organisation notes "
            f"(between cmrules markers) and tags ({TAG_PREFIX}risk_<level>, "
            f"{TAG_PREFIX}flag_<rule>)"
        ]

    def check(self) -> list[str]:
        user = self._get(f"{API}/users/me.json").get("user") or {}
        if not user.get("id"):
            raise AuthError(
                f"Zendesk GET {API}/users/me.json: answered as an anonymous user — the "
                "credentials were not accepted; " + self.client.auth_hint(401, "")
            )
        role = user.get("role") or "unknown"
        lines = [
            f"zendesk: connected to {self.describe()} with an {self._auth_kind} as "
            f"{user.get('name')!r} (role {role})",
            f"zendesk: rate limit {self.opts['requests_per_minute']}/min, incremental exports "
            f"{self.opts['incremental_requests_per_minute']}/min",
        ]
        if role == "end-user":
            raise AuthError(
                f"zendesk: the credentials belong to an end-user; {self.client.auth_hint(403, '')}"
            )
        return lines


def _dt(value: Any) -> datetime | None:
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def _business_minutes(metric: Mapping[str, Any] | None, key: str) -> float | None:
    """``{calendar, business}`` minutes -> business minutes; absent / null -> None (unknown)."""
    if not metric:
        return None
    value = metric.get(key)
    if not isinstance(value, Mapping):
        return None
    try:
        number = parse_number(value.get("business"))
    except ValueError:
        return None
    return float(number) if number is not None else None


def _count(metric: Mapping[str, Any] | None, key: str) -> int | None:
    if not metric:
        return None
    try:
        number = parse_number(metric.get(key))
    except ValueError:
        return None
    return int(number) if number is not None else None


__all__ = [
    "ZendeskClient",
    "ZendeskConnector",
    "flag_tags",
    "merge_notes",
    "merge_tags",
    "read_block",
    "render_block",
]
