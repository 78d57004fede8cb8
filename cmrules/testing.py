"""The connector contract kit: the checks every cmrules connector must pass, for plugin authors.

A third-party connector proves it behaves like the built-in ones by running this kit against
its own fake of the source (see docs/connectors.md)::

    import pytest
    from cmrules.testing import ConnectorContract, ContractHarness

    class MyHarness(ContractHarness):
        ...  # builds the connector on a fake, counts writes, injects failures

    class TestMyConnector(ConnectorContract):
        @pytest.fixture
        def harness(self, tmp_path):
            return MyHarness(tmp_path)  # a fresh fake for every check

pytest collects the ``test_*`` methods of the subclass; each takes the ``harness`` fixture.
The kit needs pytest only to be collected; the checks are plain assertions whose messages
say which promise broke.  The checks:

* reading: the vendor, its client companies, their contacts and activities, linked;
* typed values: attributes of the model's declared types, enums, aware datetimes;
* missing data left unknown: a blank source value is no attribute, never ``False`` or ``0``;
* change-only write-back through the core's own write path: a rerun writes nothing;
* dry run: the core's dry run and ``setup(dry_run=True)`` make no write;
* crash safety: a failure (an error, or the process killed) injected at each step of the
  note -> flags protocol, then a rerun: one note per fingerprint, flags last, then quiet;
* idempotent setup: the second ``setup()`` writes nothing;
* errors: refused credentials, an exhausted quota, an unavailable source raise the library's
  errors, which the CLI maps to exit codes 3 and 5, and never carry the secret.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from .connector import Connector, Flags, RenderedNote
from .errors import AuthError, CmrulesError, ConnectorError, RateLimitExhausted
from .model import (
    CONTACT_ATTRIBUTES,
    ENGAGEMENT_ATTRIBUTES,
    ORG_ATTRIBUTES,
    ActivityKind,
    Dataset,
    Organisation,
    OrgKind,
    Role,
    Side,
)
from .service import RecordResult, write_back

#: when the kit's notes were "evaluated"
EVALUATED_AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
#: the exception a harness raises to simulate the process being killed at a step
#: (a BaseException, so no ``except Exception`` in a connector can swallow it)


class SimulatedCrash(BaseException):
    """The process died here (raised by a harness's fake at an injected step)."""


#: error kind -> (the error class the connector must raise, the CLI's exit code for it)
ERROR_KINDS: dict[str, tuple[type[ConnectorError], int]] = {
    "auth": (AuthError, 3),
    "rate_limit": (RateLimitExhausted, 5),
    "unavailable": (ConnectorError, 3),
}


class ContractHarness(ABC):
    """One connector on one fake of its source, as the kit drives it.

    The fake holds at least one vendor with ``len(write_steps) + 1`` client companies or more,
    contacts and activities.  Every :meth:`connector` call returns a new connector instance on
    the same fake data (a new run); the fake keeps what was written.
    """

    #: steps of the write protocol at which :meth:`fail_next` can inject a failure, in order
    write_steps: ClassVar[tuple[str, ...]] = ("note", "flags")
    #: the failures :meth:`break_source` can produce (keys of :data:`ERROR_KINDS`)
    error_kinds: ClassVar[tuple[str, ...]] = ("auth", "rate_limit", "unavailable")
    #: a credential that must never appear in an error message (None: no credential)
    secret: str | None = None

    @abstractmethod
    def connector(self) -> Connector:
        """A new connector instance on the fake (a new run)."""

    @abstractmethod
    def vendor_id(self) -> str:
        """The id of a vendor the fake holds."""

    @abstractmethod
    def client_ids(self) -> set[str]:
        """The ids of that vendor's client companies, as the fake links them."""

    def unknown_attributes(self) -> Mapping[str, set[str]]:
        """Organisation id -> attributes whose source value is blank or absent in the fake
        (they must be left out of ``Organisation.attributes``, i.e. unknown)."""
        return {}

    @abstractmethod
    def write_count(self) -> int:
        """Write calls the fake has received so far (counted by the fake, not the connector)."""

    @abstractmethod
    def fail_next(self, step: str, crash: bool) -> None:
        """Make the next write at ``step`` fail: raise :class:`SimulatedCrash` when ``crash``
        (the process killed; the step's effect may or may not have landed, as the fake
        decides), else answer an error the connector must report."""

    @abstractmethod
    def break_source(self, kind: str) -> None:
        """Make every following call fail as ``kind`` (see :data:`ERROR_KINDS`)."""


def note_for(subject: Organisation, fingerprint: str, risk: str = "high") -> RenderedNote:
    """A note as the core renders it (HTML escaped, footer marker), for ``subject``."""
    text = f"Findings for {subject.name}: CMR001 fired.\ncmrules:{fingerprint}"
    html = f"<p>Findings for {subject.name}: CMR001 fired.</p><p>cmrules:{fingerprint}</p>"
    flags = Flags(
        risk_level=risk, rule_ids=("CMR001",), evaluated_at=EVALUATED_AT, fingerprint=fingerprint
    )
    return RenderedNote(subject, fingerprint, html, text, flags, "en")


def result_for(subject: Organisation, fingerprint: str) -> RecordResult:
    """A record result carrying :func:`note_for`, for the core's write path."""
    return RecordResult(subject, subject.kind.value, [], [], {}, note_for(subject, fingerprint))


class ConnectorContract:
    """The contract checks; subclass it as ``Test...`` and provide a ``harness`` fixture."""

    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    def load(harness: ContractHarness) -> Dataset:
        """The vendor and its clients, read by a new connector."""
        connector = harness.connector()
        try:
            return connector.load([harness.vendor_id()])
        finally:
            connector.close()

    @staticmethod
    def write(
        harness: ContractHarness, subjects: Iterable[Organisation], fp: str, dry: bool
    ) -> None:
        """Write through the core's change-only path, as ``cmrules sync`` does."""
        connector = harness.connector()
        try:
            write_back(connector, [result_for(s, fp) for s in subjects], dry_run=dry)
        finally:
            connector.close()

    @staticmethod
    def companies(data: Dataset) -> list[Organisation]:
        """The client companies of a dataset, by id."""
        return sorted(
            (o for o in data.organisations.values() if o.kind == OrgKind.COMPANY),
            key=lambda o: o.id,
        )

    # -- reading ---------------------------------------------------------------------------
    def test_reads_vendor_companies_contacts_activities(self, harness: ContractHarness) -> None:
        """The vendor, every client company, contacts of those organisations and activities
        of those companies, linked by engagements."""
        data = self.load(harness)
        vendor = data.organisations.get(harness.vendor_id())
        assert vendor is not None and vendor.kind == OrgKind.VENDOR, "the vendor is not loaded"
        companies = {o.id for o in self.companies(data)}
        assert companies == harness.client_ids(), f"clients {companies} != the fake's"
        engaged = {(e.company_id, e.vendor_id) for e in data.engagements}
        assert all((c, vendor.id) in engaged for c in companies), "a client has no engagement"
        assert data.contacts, "no contact was read"
        assert all(c.org_id in data.organisations for c in data.contacts), "orphan contact"
        assert data.activities, "no activity was read"
        assert all(a.company_id in companies for a in data.activities), "activity of no client"
        found = harness.connector().find_organisations(vendor.name, OrgKind.VENDOR)
        assert vendor.id in {o.id for o in found}, "find_organisations misses the vendor by name"

    def test_values_are_typed(self, harness: ContractHarness) -> None:
        """CRM values arrive as strings: the model gets them typed, or not at all."""
        data = self.load(harness)
        for org in data.organisations.values():
            _check_attributes(f"organisation {org.id}", org.attributes, ORG_ATTRIBUTES)
            assert org.updated_at is None or _aware(org.updated_at), f"{org.id}: naive datetime"
        for contact in data.contacts:
            _check_attributes(f"contact {contact.id}", contact.attributes, CONTACT_ATTRIBUTES)
            assert all(isinstance(r, Role) for r in contact.roles), f"{contact.id}: role type"
        for engagement in data.engagements:
            where = f"engagement {engagement.company_id}/{engagement.vendor_id}"
            _check_attributes(where, engagement.attributes, ENGAGEMENT_ATTRIBUTES)
        for activity in data.activities:
            assert isinstance(activity.kind, ActivityKind), f"activity {activity.id}: kind"
            assert activity.side is None or isinstance(activity.side, Side), activity.id
            assert activity.timestamp is None or _aware(activity.timestamp), activity.id
            assert activity.timestamp is None or activity.timestamp.year > 1970, (
                f"activity {activity.id}: a missing date became the epoch"
            )

    def test_missing_data_is_left_unknown(self, harness: ContractHarness) -> None:
        """A blank source value is unknown ("cannot assess"), never a silent False or 0."""
        data = self.load(harness)
        for org_id, names in harness.unknown_attributes().items():
            org = data.organisations.get(org_id)
            assert org is not None, f"organisation {org_id} not loaded"
            present = names & set(org.attributes)
            assert not present, f"{org_id}: blank {sorted(present)} read as {org.attributes}"

    # -- writing ---------------------------------------------------------------------------
    def test_change_only_write_back(self, harness: ContractHarness) -> None:
        """The first run writes each record; a rerun on unchanged data writes nothing."""
        subjects = self.companies(self.load(harness))
        before = harness.write_count()
        self.write(harness, subjects, "fp-contract-1", dry=False)
        assert harness.write_count() > before, "the first run wrote nothing"
        reloaded = self.companies(self.load(harness))
        stale = [o.id for o in reloaded if o.writeback.get("fingerprint") != "fp-contract-1"]
        assert not stale, f"fingerprint not read back for {stale}: the rerun would rewrite them"
        after_first = harness.write_count()
        self.write(harness, reloaded, "fp-contract-1", dry=False)
        assert harness.write_count() == after_first, "the rerun on unchanged data wrote"

    def test_dry_run_writes_nothing(self, harness: ContractHarness) -> None:
        """``--dry-run`` and ``setup --dry-run`` make no write call."""
        before = harness.write_count()
        connector = harness.connector()
        plan = connector.setup(dry_run=True)
        connector.close()
        assert isinstance(plan, list), "setup(dry_run=True) returns the plan's lines"
        self.write(harness, self.companies(self.load(harness)), "fp-dry", dry=True)
        assert harness.write_count() == before, "a dry run wrote"

    def test_crash_safe_note_then_flags(self, harness: ContractHarness) -> None:
        """A failure at each step of the protocol, as an error and as a killed process, then
        a rerun: exactly one note with the fingerprint, flags with it, then nothing to do."""
        companies = self.companies(self.load(harness))
        cases = [(step, crash) for step in harness.write_steps for crash in (False, True)]
        assert len(companies) >= len(cases), "the fake needs one client per injected failure"
        for (step, crash), subject in zip(cases, companies, strict=False):
            fp = f"fp-{step}-{'crash' if crash else 'error'}"
            harness.fail_next(step, crash)
            try:
                self.write(harness, [subject], fp, dry=False)
            except SimulatedCrash:
                pass
            except CmrulesError as exc:  # some failures stop the run: allowed, then rerun
                assert not isinstance(exc, RateLimitExhausted), f"{step}: {exc}"
            rerun = {o.id: o for o in self.companies(self.load(harness))}[subject.id]
            self.write(harness, [rerun], fp, dry=False)
            connector = harness.connector()
            notes = [n for n in connector.notes(subject) if n.fingerprint == fp]
            connector.close()
            assert len(notes) == 1, f"{step} ({crash=}): {len(notes)} notes after the rerun"
            final = {o.id: o for o in self.companies(self.load(harness))}[subject.id]
            assert final.writeback.get("fingerprint") == fp, f"{step} ({crash=}): flags missing"
            quiet = harness.write_count()
            self.write(harness, [final], fp, dry=False)
            assert harness.write_count() == quiet, f"{step} ({crash=}): third run wrote"

    # -- admin -----------------------------------------------------------------------------
    def test_setup_is_idempotent(self, harness: ContractHarness) -> None:
        """The second ``setup()`` finds everything in place and writes nothing."""
        connector = harness.connector()
        connector.setup()
        connector.close()
        before = harness.write_count()
        connector = harness.connector()
        lines = connector.setup()
        connector.close()
        assert lines, "setup says what it did"
        assert harness.write_count() == before, "the second setup wrote"

    def test_errors_map_to_exit_codes(self, harness: ContractHarness) -> None:
        """Each failure raises the library's error for it (exit code 3 or 5), with no secret."""
        for kind in harness.error_kinds:
            expected, code = ERROR_KINDS[kind]
            harness.break_source(kind)
            try:
                self.load(harness)
            except ConnectorError as exc:
                assert isinstance(exc, expected), f"{kind}: got {type(exc).__name__}: {exc}"
                assert exc.exit_code == code, f"{kind}: exit code {exc.exit_code}, not {code}"
                if harness.secret:
                    assert harness.secret not in str(exc), f"{kind}: the secret is in the error"
            else:
                raise AssertionError(f"{kind}: reading a broken source raised nothing")


def _aware(value: datetime) -> bool:
    return value.tzinfo is not None and value.utcoffset() is not None


def _check_attributes(where: str, values: Mapping[str, Any], declared: Mapping[str, type]) -> None:
    for name, value in values.items():
        assert name in declared, f"{where}: attribute {name!r} is not in the model"
        kind = declared[name]
        if kind in (int, float):
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        else:
            ok = isinstance(value, kind)
        assert ok, f"{where}: {name} = {value!r} is not a {kind.__name__}"
        if isinstance(value, datetime):
            assert _aware(value), f"{where}: {name} is a naive datetime"
        assert value is not None and value != "", f"{where}: {name} is blank, not unknown"
