"""The HubSpot connector: wires the package's parts behind the :class:`Connector` interface.

==============  ============================================================================
``settings``    the ``hubspot`` config section, validated
``client``      the shared HTTP policy with HubSpot's rate limits, errors and token
``streams``     batched, paged raw reads (objects, associations, searches)
``mappers``     raw records -> canonical model (pure)
``reader``      which records to read for a run, assembled into a Dataset
``payloads``    write-back request bodies and batch answers (pure)
``writer``      notes and flags, crash-safe, batched
``tasks``       data-gap tasks for the company owner (``tasks: true``), batched
``setup``       the ``cmrules_*`` company properties
==============  ============================================================================

See ``docs/hubspot.md`` for configuration, scopes and the crash-safety design.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
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
from cmrules.model import (
    TAG_ONBOARDING,
    TAG_STRATEGY,
    ActivityKind,
    Coverage,
    Dataset,
    Organisation,
    OrgKind,
    Role,
)
from cmrules.tasks import Task

from .check import check_portal
from .client import make_client
from .common import BATCH_WRITE_LIMIT, NoteIndex
from .deals import DEAL_SOURCE, HubSpotDeals, deal_properties
from .mappers import HubSpotMapper
from .reader import HubSpotReader
from .settings import ACTIVITY_TYPES, SCHEMA, SETTINGS_KEYS, parse_settings
from .setup import setup_properties
from .streams import HubSpotStreams
from .writer import HubSpotWriter

log = logging.getLogger("cmrules.connectors.hubspot")


class HubSpotConnector(Connector):
    """HubSpot portal through a Service Key (or a legacy private-app token).  See
    docs/hubspot.md."""

    name: ClassVar[str] = "hubspot"
    write_batch_size: ClassVar[int] = BATCH_WRITE_LIMIT
    stores_history: ClassVar[bool] = True  # cmrules_history, written with the flags
    supports_tasks: ClassVar[bool] = True  # data-gap tasks for the company owner (tasks.py)
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
        #: rule ids for the cmrules_flags options; the core sets this before setup().
        self.rule_ids: list[str] = list(self.options.rule_ids)
        #: non-fatal problems met while reading (missing ids in 207 answers, bad values, ...)
        self.warnings: list[str] = []
        self.client = make_client(
            self.base_url,
            self.options.token,
            api_version=self.options.api_version,
            credential=self.options.credential,
            requests_per_10s=self.options.requests_per_10s,
            search_per_second=self.options.search_per_second,
            http=self.context.http,
            stats=self.context.stats,
            session=session,
            sleep=sleep,
            clock=clock,
        )
        self.streams = HubSpotStreams(self.client, self._warn, self.context)
        self.mapper = HubSpotMapper(self.options, self._warn, self.context.org_properties)
        # a connector instance serves one run, under the core's run lock: per-run caches
        loaded_orgs: set[str] = set()
        note_index = NoteIndex()
        self.reader = HubSpotReader(
            self.options, self.streams, self.mapper, self.context, self._warn, loaded_orgs,
            note_index,
        )  # fmt: skip
        self.writer = HubSpotWriter(
            self.client, self.streams, self.context, loaded_orgs, note_index
        )
        self.deals = HubSpotDeals(self.options, self.client, self.streams, self.mapper, self._warn)

    @property
    def unmatched(self) -> list[str]:
        """Non-fatal problems (reads; tasks created without an assignee), under the name the
        core's report collects them by."""
        return [*self.warnings, *self.writer.tasks.summary()]

    def describe(self) -> str:
        """The portal's host, for messages."""
        return f"HubSpot portal at {self.base_url.split('://', 1)[-1]}"

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        self.context.count("warnings")
        log.warning("%s", message)

    def declared_coverage(self) -> Coverage:
        """What the portal holds for cmrules: the ``activity_types`` read (meetings by default;
        proposals, reports and offer changes are recognised among them by their titles);
        meeting attendees when meetings are read; no tickets."""
        kinds = {ACTIVITY_TYPES[t]["kind"] for t in self.options.activity_types}
        if kinds:
            kinds |= {ActivityKind.PROPOSAL, ActivityKind.REPORT, ActivityKind.OFFER_CHANGE}
        return Coverage(
            source="HubSpot",
            activity_kinds=frozenset(kinds),
            attendees="meetings" in self.options.activity_types,
            tags=frozenset({TAG_STRATEGY, TAG_ONBOARDING}) if kinds else frozenset(),
        )

    # -- reading -------------------------------------------------------------------------------
    def roles_for(
        self,
        side: str,
        job_title: str | None,
        buying_roles: Iterable[str] = (),
        labels: Iterable[str] = (),
    ) -> frozenset[Role]:
        """Canonical roles of a contact (see :meth:`HubSpotMapper.roles_for`)."""
        return self.mapper.roles_for(side, job_title, buying_roles, labels)

    def find_organisations(self, text: str, kind: OrgKind) -> list[Organisation]:
        """An exact id, every vendor, or HubSpot's company search (see the reader)."""
        return self.reader.find_organisations(text, kind)

    def records_with_waivers(self) -> list[Organisation]:
        """Companies whose ``cmrules_waived_rules`` is filled in (one search)."""
        return self.reader.records_with_waivers()

    def vendors_of(self, company_ids: Iterable[str]) -> dict[str, list[str]]:
        """company id -> vendor ids.  A vendor maps to itself (a changed vendor is evaluated)."""
        return self.reader.vendors_of(company_ids)

    def load(self, vendor_ids: Iterable[str], company_ids: Iterable[str] | None = None) -> Dataset:
        """The vendors, their clients (all or ``company_ids``), contacts and activities."""
        return self.reader.load(vendor_ids, company_ids)

    def load_prospects(self, company_ids: Iterable[str]) -> Dataset:
        """Open deals (ids) in the configured pipelines and stages, as prospects."""
        return self.deals.load(company_ids)

    def find_prospects(self, text: str) -> list[Organisation]:
        """Open deals in scope by id or name."""
        return self.deals.find(text)

    def changed_prospects(self, since: datetime | None, company_ids: Iterable[str]) -> list[str]:
        """Open deals in scope modified since the watermark."""
        return self.deals.changed(since)

    def changed_since(self, since: datetime | None, run_started: datetime) -> ChangeSet:
        """Companies changed directly or through a contact or activity (see the reader)."""
        return self.reader.changed_since(since, run_started)

    # -- writing -------------------------------------------------------------------------------
    def note_exists(self, subject: Organisation, fingerprint: str) -> bool:
        """True when the company carries a note with this fingerprint in its footer."""
        return self.writer.note_exists(subject, fingerprint)

    def write_note(self, subject: Organisation, note: RenderedNote) -> str:
        """Create the note (association 190); return its id."""
        return self.writer.write_note(subject, note)

    def write_flags(self, subject: Organisation, flags: Flags) -> None:
        """Set the ``cmrules_*`` properties, the fingerprint included."""
        self.writer.write_flags(subject, flags)

    def apply_many(self, notes: Sequence[RenderedNote]) -> list[ApplyOutcome]:
        """Up to 100 records with batch endpoints, crash-safe (see the writer); deals one by
        one (see deals.py)."""
        companies = [n for n in notes if n.subject.source != DEAL_SOURCE]
        done = iter(self.writer.apply_many(companies) if companies else [])
        return [
            self.deals.apply(n) if n.subject.source == DEAL_SOURCE else next(done) for n in notes
        ]

    def sync_task(self, subject: Organisation, task: Task | None) -> int:
        """Make ``task`` the company's one open cmrules task (see tasks.py); the batched
        write-back does the same for 100 companies at once.  Raises the task's WriteError."""
        before = self.context.stats.get("write_calls", 0)
        failed = self.writer.tasks.sync([(subject, task)])
        if subject.id in failed:
            raise failed[subject.id]
        return self.context.stats.get("write_calls", 0) - before

    def notes(self, subject: Organisation) -> list[StoredNote]:
        """The cmrules notes on a company, newest first."""
        return self.writer.notes(subject)

    # -- admin ---------------------------------------------------------------------------------
    def check(self, today: date | None = None) -> list[str]:
        """The API version and its support dates, the credential kind, the read scopes (one
        cheap list call per object type read); missing scopes are named (see check.py)."""
        return check_portal(self.client, self.options, today)

    def setup(self, dry_run: bool = False) -> list[str]:
        """Create the ``cmrules`` company property group and properties, idempotently.

        Without ``dry_run``: POST each; a 409 means it exists, so GET it and compare; missing
        ``cmrules_flags`` options (new rule ids) are added with one PATCH.  With ``dry_run``:
        GETs only, and the lines say what would be done.
        """
        lines = setup_properties(self.client, self.rule_ids, dry_run)
        if self.deals.enabled:
            wanted = deal_properties(self.rule_ids)
            lines += setup_properties(self.client, self.rule_ids, dry_run, "deals", wanted)
        return lines

    def close(self) -> None:
        """Close the HTTP session."""
        self.client.session.close()
