"""The connector interface and the entry-point registry.

A connector is one class in one module, registered under the ``cmrules.connectors`` entry-point
group.  It reads records into the canonical model (:mod:`cmrules.model`) and writes findings back.
It never decides *what* to write: the core renders notes and flags and calls :meth:`apply`.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from importlib.metadata import entry_points
from typing import Any, ClassVar

from .errors import AuthError, ConfigError, ConnectorError, RateLimitExhausted
from .model import ActivityKind, Coverage, Dataset, Organisation, OrgKind
from .progress import OnProgress
from .tasks import Task

ENTRY_POINT_GROUP = "cmrules.connectors"
log = logging.getLogger("cmrules.connector")


@dataclass(frozen=True)
class Flags:
    """Filterable flag properties mirrored on a record."""

    risk_level: str  # "high" | "medium" | "low" | "info" | "none"
    rule_ids: tuple[str, ...]  # rules that fired (cannot-assess findings excluded)
    evaluated_at: datetime
    fingerprint: str  # fingerprint of the whole note; written last
    history: str = ""  # the record's flag history, compact JSON (cmrules.history); with the flags
    #: prospects (cmrules.readiness): ready | ready_with_conditions | not_ready, blocker rule
    #: ids and the number of questions for the next meeting; empty for other records
    readiness: str = ""
    open_questions: int = 0


@dataclass(frozen=True)
class RenderedNote:
    """One note for one record, in one language, ready to write."""

    subject: Organisation
    fingerprint: str  # stable id of this set of findings (+ language)
    html: str  # HTML body; every CRM-sourced string is escaped
    text: str  # plain-text body, for sources without rich text
    flags: Flags
    language: str
    gaps: tuple[str, ...] = ()  # what the record owner can fill in (note language), for tasks
    #: data-gap task when ``tasks: true`` (None: no gap, or tasks off — see ``tasks_on``)
    task: Task | None = None
    tasks_on: bool = False  # the core manages tasks for this record (sync_task is called)
    #: ``flags.history`` with its task marked unsynced: written instead when the task write
    #: fails, so that the next run syncs the task again (cmrules.tasks.UNSYNCED)
    unsynced_history: str = ""


@dataclass(frozen=True)
class ApplyOutcome:
    """What :meth:`Connector.apply_many` did for one note."""

    created: bool = False  # a note was created (False: it was already there; flags updated)
    error: ConnectorError | None = None  # this record failed; the others went on


@dataclass(frozen=True)
class StoredNote:
    """A note cmrules wrote on a record, as read back from the source."""

    id: str
    subject_id: str
    created_at: datetime
    fingerprint: str | None
    body: str


@dataclass(frozen=True)
class ChangeSet:
    """Organisations changed since a watermark, and the watermark to save after success."""

    organisation_ids: frozenset[str]
    watermark: datetime


@dataclass
class ConnectorContext:
    """What the core hands every connector."""

    config_path: str | None = None  # for messages ("… in cmrules.yaml")
    http: Mapping[str, Any] = field(default_factory=dict)  # shared HTTP policy settings
    stats: dict[str, int] = field(default_factory=dict)  # counters: api_calls, write_calls, …
    #: config ``coverage``: connector name -> overrides of what it declares it records
    coverage: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: CRM properties to read on every organisation into ``Organisation.properties``
    org_properties: tuple[str, ...] = ()
    #: where reads report their progress (pages, records), while a command runs
    progress: OnProgress | None = None

    def count(self, key: str, n: int = 1) -> None:
        """Add ``n`` to the run counter ``key`` (api_calls, write_calls, ...)."""
        self.stats[key] = self.stats.get(key, 0) + n


class Connector(ABC):
    """Base class.  Subclasses set ``name`` and implement the abstract methods."""

    name: ClassVar[str] = ""
    #: config keys this connector accepts in its section (unknown keys are config errors)
    settings_keys: ClassVar[frozenset[str]] = frozenset()
    #: the section as JSON Schema (draft 2020-12); when set, the core validates the section
    #: with it before building the connector, errors at file:line (cmrules.connector_settings)
    settings_schema: ClassVar[Mapping[str, Any] | None] = None
    #: how many notes the core hands :meth:`apply_many` at once
    write_batch_size: ClassVar[int] = 1
    #: True when :meth:`write_flags` stores ``Flags.history`` on the record and reads it back
    #: into ``Organisation.writeback["history"]`` (then a history change alone is written)
    stores_history: ClassVar[bool] = False
    #: True when :meth:`sync_task` creates/completes data-gap tasks (``tasks: true``)
    supports_tasks: ClassVar[bool] = False

    def __init__(self, settings: Mapping[str, Any], context: ConnectorContext | None = None):
        self.settings = dict(settings)
        self.context = context or ConnectorContext()

    # -- reading ------------------------------------------------------------------------------
    @abstractmethod
    def find_organisations(self, text: str, kind: OrgKind) -> list[Organisation]:
        """Candidates for a user reference: an exact id, or names containing/close to ``text``.

        The core picks the match, reports ambiguity and suggests close names.
        """

    @abstractmethod
    def load(self, vendor_ids: Iterable[str], company_ids: Iterable[str] | None = None) -> Dataset:
        """The vendors, their client companies (all, or only ``company_ids``), contacts,
        activities and engagements."""

    def load_prospects(self, company_ids: Iterable[str]) -> Dataset:
        """The prospects among ``company_ids`` — companies before signing, with no signed or
        ended engagement (:mod:`cmrules.readiness`) — each with its contacts, every activity
        recorded with it (sales meetings included, whichever agency) and its prospect
        engagements; the others are left out.  Sources without prospects raise
        NotImplementedError."""
        raise NotImplementedError

    def find_prospects(self, text: str) -> list[Organisation]:
        """Prospects by id or name when the source keeps them apart from companies (HubSpot:
        open deals); sources without raise NotImplementedError."""
        raise NotImplementedError

    def changed_prospects(self, since: datetime | None, company_ids: Iterable[str]) -> list[str]:
        """Prospect ids to re-evaluate in a sync: by default the changed companies
        (``load_prospects`` keeps the prospects among them)."""
        return list(company_ids)

    def vendors_of(self, company_ids: Iterable[str]) -> dict[str, list[str]]:
        """company id -> ids of its vendors (used by sync to evaluate changed companies)."""
        raise NotImplementedError

    def changed_since(self, since: datetime | None, run_started: datetime) -> ChangeSet:
        """Organisations (companies or vendors) changed at or after ``since``
        (``None``: every organisation).  The returned watermark must not pass ``run_started``."""
        raise NotImplementedError(f"the {self.name} connector does not support sync")

    def declared_coverage(self) -> Coverage:
        """What this source records (activity kinds, attendees, tags).  Override it: the
        default claims everything, which makes absence evidence for everything."""
        return Coverage(source=self.name)

    def coverage(self) -> Coverage:
        """The declared coverage with the config's ``coverage.<name>`` override applied."""
        return override_coverage(self.declared_coverage(), self.context.coverage.get(self.name))

    # -- writing ------------------------------------------------------------------------------
    @abstractmethod
    def note_exists(self, subject: Organisation, fingerprint: str) -> bool:
        """True when a note carrying ``fingerprint`` is already attached to ``subject``
        (read from the source, never from a search index that lags)."""

    @abstractmethod
    def write_note(self, subject: Organisation, note: RenderedNote) -> str:
        """Create the note; return its id."""

    @abstractmethod
    def write_flags(self, subject: Organisation, flags: Flags) -> None:
        """Set the flag properties, the fingerprint included."""

    def apply(self, note: RenderedNote) -> bool:
        """Write one record's findings, crash-safe: note first (unless already there), then
        the data-gap task, flags with the fingerprint last.  Returns True when a note was
        created.  A task that cannot be written fails that record's task only: the flags are
        written (their history marking the task unsynced), then the task's error is raised."""
        created = False
        if not self.note_exists(note.subject, note.fingerprint):
            self.write_note(note.subject, note)
            created = True
        flags, task_error = note.flags, None
        if note.tasks_on and self.supports_tasks:
            try:
                self.sync_task(note.subject, note.task)
            except (AuthError, RateLimitExhausted):
                raise
            except ConnectorError as exc:
                task_error = exc
                flags = replace(flags, history=note.unsynced_history or flags.history)
        self.write_flags(note.subject, flags)
        if task_error is not None:
            raise task_error
        return created

    def records_with_waivers(self) -> list[Organisation]:
        """Records carrying waiver fields (for ``cmrules waivers``); by default every company
        and vendor the connector lists, filtered on ``Organisation.waivers``."""
        out = []
        for kind in (OrgKind.COMPANY, OrgKind.VENDOR):
            out += [o for o in self.find_organisations("", kind) if o.kind == kind and o.waivers]
        return out

    def sync_task(self, subject: Organisation, task: Task | None) -> int:
        """Make ``task`` the record's one open cmrules task: create it unless a task carrying
        its fingerprint exists, complete every other open cmrules task of the record (all of
        them when ``task`` is None).  Idempotent; returns the number of write calls."""
        raise NotImplementedError(f"the {self.name} connector does not create tasks")

    def apply_many(self, notes: Sequence[RenderedNote]) -> list[ApplyOutcome]:
        """:meth:`apply` for up to ``write_batch_size`` notes, one outcome per note, in order.

        A connector with batch endpoints overrides this, keeping the same crash-safety order
        (every note of the batch before any of its flags).  Auth failures and exhausted quotas
        propagate: they would fail every record.
        """
        out = []
        for note in notes:
            try:
                out.append(ApplyOutcome(created=self.apply(note)))
            except (AuthError, RateLimitExhausted):
                raise
            except ConnectorError as exc:
                out.append(ApplyOutcome(error=exc))
        return out

    def notes(self, subject: Organisation) -> list[StoredNote]:
        """Notes cmrules wrote on a record, newest first (optional)."""
        raise NotImplementedError(f"the {self.name} connector cannot list notes")

    # -- admin ---------------------------------------------------------------------------------
    def check(self) -> list[str]:
        """Validate credentials/config with a cheap call; return human-readable OK lines."""
        return [f"{self.name}: nothing to check"]

    def setup(self, dry_run: bool = False) -> list[str]:
        """Create what write-back needs (properties, tables); idempotent.  Returns the plan."""
        return []

    def describe(self) -> str:
        """Where the data lives, for messages (no secrets)."""
        return self.name

    @classmethod
    def login(
        cls,
        section: Mapping[str, Any],
        where: str,
        ask: Callable[[Any], str],
        say: Callable[[str], None],
    ) -> str:
        """Interactive one-time authorisation (``cmrules <name> login``), for connectors whose
        credentials need a person's consent.  ``say`` shows text, ``ask(request)`` returns the
        person's answer.  Returns where the resulting credential was stored."""
        raise ConfigError(f"the {cls.name} connector has no interactive login")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""


def override_coverage(base: Coverage, values: Mapping[str, Any] | None) -> Coverage:
    """``base`` with the keys of a (validated) ``coverage.<source>`` config section replaced."""
    if not values:
        return base
    kinds = values.get("activity_kinds")
    tags = values.get("tags")
    return Coverage(
        source=base.source,
        activity_kinds=frozenset(map(ActivityKind, kinds))
        if kinds is not None
        else base.activity_kinds,
        attendees=bool(values.get("attendees", base.attendees)),
        tags=frozenset(tags) if tags is not None else base.tags,
    )


def available_connectors() -> dict[str, Any]:
    """Installed connectors by name: the ``cmrules.connectors`` entry points."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def connector_class(name: str) -> type[Connector]:
    """The connector class registered under ``name``; a config error names the installed ones."""
    eps = available_connectors()
    if name not in eps:
        known = ", ".join(sorted(eps)) or "none installed"
        raise ConfigError(
            f"unknown connector {name!r}: installed connectors are {known}. "
            "Fix 'source' in your config, or install the package that provides it."
        )
    cls = eps[name].load()
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise ConfigError(f"entry point {name!r} does not name a cmrules Connector class")
    return cls
