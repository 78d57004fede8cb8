"""The Zendesk Support connector: wires the package's parts behind the connector interface.

==============  ============================================================================
``settings``    the ``zendesk`` config section and credentials, validated
``client``      the shared HTTP policy with Zendesk's rate limits and errors
``streams``     cursor-paged raw reads, organisations cached, incremental exports
``mappers``     raw records -> canonical model (pure)
``reader``      vendors, the companies naming them, users and tickets, as a Dataset
``metrics``     ticket metrics at the fewest calls (side-loaded, show_many, per ticket)
``ownwrites``   digests of what cmrules wrote, so a sync does not read it back
``blocks``      cmrules' marker-delimited block in ``notes`` and its tags (pure)
``writer``      one read-merge-write PUT per changed organisation
``setup``       nothing to create
==============  ============================================================================

Reads (see ``docs/zendesk.md`` for every setting):

* **vendors** are organisations tagged ``vendor_tag`` (default ``cm_vendor``) or whose
  ``vendor_field`` organisation field is true / ``"vendor"``;
* **client companies** name their vendor through the ``vendor_link_field`` organisation field
  (default ``cm_vendor``: the vendor's external id, name or Zendesk id) or through tags
  ``<vendor_link_tag_prefix><ref>`` (default ``cm_vendor_<external id | id | name slug>``);
* **contacts** are the users of those organisations, with roles from the ``role_field`` user
  field and ``role_tag_prefix`` user tags, mapped through ``roles`` onto canonical roles;
* **activities** are the tickets of each client company, with reply metrics side-loaded
  (:mod:`.metrics`).

Sync: an organisation exactly as cmrules' own last write left it is no change
(:mod:`.ownwrites`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar

import requests

from cmrules.connector import (
    ChangeSet,
    Connector,
    ConnectorContext,
    Flags,
    RenderedNote,
    StoredNote,
)
from cmrules.errors import AuthError, ConfigError
from cmrules.model import ActivityKind, Coverage, Dataset, Organisation, OrgKind
from cmrules.paths import state_dir
from cmrules.sources import Helpdesk, MatchCandidate

from .auth import complete_login, credential_lines, login_request
from .client import make_client
from .mappers import ZendeskMapper
from .ownwrites import OwnWrites
from .reader import ZendeskReader
from .settings import API, SCHEMA, SETTINGS_KEYS, parse_settings
from .setup import setup_lines
from .streams import ZendeskStreams
from .writer import ZendeskWriter

log = logging.getLogger("cmrules.connectors.zendesk")


class ZendeskConnector(Connector, Helpdesk):
    """Zendesk Support through an OAuth client (client credentials or a rotating refresh
    token), or, until Zendesk stops them, an API token or a static OAuth token.  See
    docs/zendesk.md."""

    name = "zendesk"
    stores_history: ClassVar[bool] = True  # when the cmrules_history organisation field exists
    settings_keys: ClassVar[frozenset[str]] = SETTINGS_KEYS
    settings_schema: ClassVar[Mapping[str, Any]] = SCHEMA

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
        self.options = parse_settings(self.settings, self.context.config_path)
        self.base_url = self.options.base_url
        self.client = make_client(
            self.options,
            http=self.context.http,
            stats=self.context.stats,
            session=session,
            sleep=sleep,
            clock=clock,
        )
        #: human-readable lines for the run summary (e.g. a vendor reference that resolves
        #: to nothing), accumulated over the run
        self.unmatched: list[str] = []
        self._warned: set[str] = set()
        self.streams = ZendeskStreams(self.client, self.options, self.context)
        self.mapper = ZendeskMapper(self.options, self._warn, self.context.org_properties)
        #: what cmrules wrote, so that the next incremental sync does not read it back
        self.own_writes = OwnWrites(
            state_dir() / f"zendesk-{self.options.site_label}-own-writes.jsonl"
        )
        self.reader = ZendeskReader(
            self.options,
            self.streams,
            self.mapper,
            self._report,
            self.own_writes,
            self.context.count,
        )
        self.writer = ZendeskWriter(self.client, self.streams, self.options, self.own_writes)
        for warning in self.options.credentials.warnings():
            self._warn(warning)

    @classmethod
    def login(
        cls,
        section: Mapping[str, Any],
        where: str,
        ask: Callable[[Any], str],
        say: Callable[[str], None],
    ) -> str:
        """The authorisation-code flow with PKCE: print the consent URL, exchange the code
        from the address the browser was sent to, store the refresh token (0600 file)."""
        settings = parse_settings(
            {**section, "auth": section.get("auth") or "oauth_refresh_token"}, where
        )
        creds = settings.credentials
        if creds.kind not in ("oauth_refresh_token", "oauth_client_credentials"):
            raise ConfigError(
                f"zendesk section of {where}: `cmrules zendesk login` needs an OAuth client; set "
                "`auth: oauth_refresh_token` and ZENDESK_OAUTH_CLIENT_ID / "
                "ZENDESK_OAUTH_CLIENT_SECRET (docs/zendesk.md, Connecting)"
            )
        request = login_request(creds, settings.base_url)
        say(
            "Open this address in a browser, signed in to Zendesk as the admin cmrules acts for, "
            "and allow access:\n\n  " + request.uri + "\n\nThen paste the address the browser "
            f"was sent to (it starts with {creds.redirect_uri})."
        )
        return str(complete_login(creds, settings.base_url, request, ask(request)))

    def describe(self) -> str:
        """The Zendesk site, for messages."""
        return f"zendesk ({self.base_url.split('://', 1)[-1]})"

    def _report(self, line: str) -> None:
        if line not in self.unmatched:
            self.unmatched.append(line)

    def _warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            log.warning("%s", message)

    def _organisation(self, raw: Mapping[str, Any], kind: OrgKind, **attrs: Any) -> Organisation:
        return self.mapper.organisation(raw, kind, **attrs)

    # -- reading ----------------------------------------------------------------------------
    def find_organisations(self, text: str, kind: OrgKind) -> list[Organisation]:
        """An exact id, an external id, else names containing or close to ``text``."""
        return self.reader.find_organisations(text, kind)

    def vendors_of(self, company_ids: Iterable[str]) -> dict[str, list[str]]:
        """company id -> the vendors it names."""
        return self.reader.vendors_of(company_ids)

    def match_candidates(self) -> list[MatchCandidate]:
        """Every organisation, for matching beside a CRM source (one listing per run)."""
        return self.reader.match_candidates()

    def load(self, vendor_ids: Iterable[str], company_ids: Iterable[str] | None = None) -> Dataset:
        """The vendors, the companies naming them, their users, tickets and metrics."""
        return self.reader.load(vendor_ids, company_ids)

    def declared_coverage(self) -> Coverage:
        """A helpdesk records tickets (with reply counts and times): no meetings, no
        attendees, no proposals, no strategy or onboarding tags."""
        return Coverage(
            source="Zendesk",
            activity_kinds=frozenset({ActivityKind.TICKET}),
            attendees=False,
            tags=frozenset(),
        )

    def load_for(self, targets: Mapping[str, OrgKind]) -> Dataset:
        """These organisations as a helpdesk beside a CRM source (see :class:`Helpdesk`)."""
        return self.reader.load_for(targets)

    def changed_since(self, since: datetime | None, run_started: datetime) -> ChangeSet:
        """Organisations changed directly or through a ticket or user (incremental exports)."""
        return self.reader.changed_since(since, run_started)

    # -- writing ----------------------------------------------------------------------------
    def apply(self, note: RenderedNote) -> bool:
        """One PUT carries the notes block and the flag tags together (atomic on Zendesk)."""
        return self.writer.apply(note)

    def note_exists(self, subject: Organisation, fingerprint: str) -> bool:
        """True when the organisation's notes hold cmrules' block with this fingerprint."""
        return self.writer.note_exists(subject, fingerprint)

    def write_note(self, subject: Organisation, note: RenderedNote) -> str:
        """Merge the block into the organisation's notes."""
        return self.writer.write_note(subject, note)

    def write_flags(self, subject: Organisation, flags: Flags) -> None:
        """Replace the organisation's ``cmrules_`` tags."""
        self.writer.write_flags(subject, flags)

    def notes(self, subject: Organisation) -> list[StoredNote]:
        """cmrules' block on the organisation, if any."""
        return self.writer.notes(subject)

    # -- admin ------------------------------------------------------------------------------
    def setup(self, dry_run: bool = False) -> list[str]:
        """Nothing to create: notes and tags are built in."""
        return setup_lines(dry_run)

    def check(self) -> list[str]:
        """Who the credentials belong to (an end-user or anonymous answer is an error)."""
        user = self.streams.get(f"{API}/users/me.json").get("user") or {}
        if not user.get("id"):
            raise AuthError(
                f"Zendesk GET {API}/users/me.json: answered as an anonymous user — the "
                "credentials were not accepted; " + self.client.auth_hint(401, "")
            )
        role = user.get("role") or "unknown"
        opts = self.options.opts
        creds = self.options.credentials
        article = "a" if creds.label.startswith("static") else "an"
        lines = [
            f"zendesk: connected to {self.describe()} with {article} {creds.label} "
            f"as {user.get('name')!r} (role {role})",
            *credential_lines(creds, self.client.oauth),
            f"zendesk: rate limit {opts['requests_per_minute']}/min, incremental exports "
            f"{opts['incremental_requests_per_minute']}/min",
        ]
        if role == "end-user":
            raise AuthError(
                f"zendesk: the credentials belong to an end-user; {self.client.auth_hint(403, '')}"
            )
        return lines
