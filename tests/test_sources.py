"""CRM + helpdesk combination: a primary CRM (in-memory double) with the Zendesk connector."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import pytest
import responses
from zendesk_fake import EMAIL, T0, TOKEN, Clock, note_for, scenario

from cmrules.connector import (
    ChangeSet,
    Connector,
    ConnectorContext,
    Flags,
    RenderedNote,
    StoredNote,
)
from cmrules.connectors.zendesk import ZendeskConnector
from cmrules.errors import ConfigError
from cmrules.model import (
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
from cmrules.sources import CombinedConnector, build_source, normalise_domain


class MemoryCRM(Connector):
    """A small, honest primary connector: records in memory, change-only writes, a write log."""

    name = "memcrm"

    def __init__(self, orgs: list[Organisation], contacts: list[Contact], links: dict[str, str]):
        super().__init__({}, ConnectorContext())
        self.orgs = {o.id: o for o in orgs}
        self.contacts = contacts
        self.links = links  # company id -> vendor id
        self.stored: dict[str, list[StoredNote]] = {}
        self.flags: dict[str, Flags] = {}
        self.writes: list[tuple[str, str]] = []
        self.changed: set[str] = set()

    def find_organisations(self, text: str, kind: OrgKind) -> list[Organisation]:
        low = text.lower()
        return [
            o
            for o in self.orgs.values()
            if o.kind == kind
            and (
                o.id == text
                or low in o.name.lower()
                or low in (o.domain or "").lower()
                or low == (o.external_id or "").lower()
            )
        ]

    def load(self, vendor_ids: Iterable[str], company_ids: Iterable[str] | None = None) -> Dataset:
        vendors = set(vendor_ids)
        companies = {
            c
            for c, v in self.links.items()
            if v in vendors and (company_ids is None or c in set(company_ids))
        }
        data = Dataset()
        for oid in sorted(vendors | companies):
            o = self.orgs[oid]
            fp = self.stored[oid][0].fingerprint if self.stored.get(oid) else None
            data.add(
                Organisation(
                    o.id,
                    o.name,
                    o.kind,
                    o.domain,
                    o.external_id,
                    writeback={"fingerprint": fp} if fp else {},
                    source=self.name,
                )
            )
        data.add(*(c for c in self.contacts if c.org_id in vendors | companies))
        data.add(*(Engagement(c, self.links[c]) for c in sorted(companies)))
        data.add(Activity("m1", ActivityKind.MEETING, T0, "c1", "v1", Side.VENDOR))
        return data

    def vendors_of(self, company_ids: Iterable[str]) -> dict[str, list[str]]:
        return {c: [self.links[c]] if c in self.links else [] for c in company_ids}

    def changed_since(self, since: datetime | None, run_started: datetime) -> ChangeSet:
        return ChangeSet(frozenset(self.changed), run_started)

    def note_exists(self, subject: Organisation, fingerprint: str) -> bool:
        return any(n.fingerprint == fingerprint for n in self.stored.get(subject.id, []))

    def write_note(self, subject: Organisation, note: RenderedNote) -> str:
        self.writes.append(("note", subject.id))
        nid = f"n{len(self.writes)}"
        self.stored.setdefault(subject.id, []).insert(
            0, StoredNote(nid, subject.id, T0, note.fingerprint, note.text)
        )
        return nid

    def write_flags(self, subject: Organisation, flags: Flags) -> None:
        if self.flags.get(subject.id) != flags:
            self.writes.append(("flags", subject.id))
            self.flags[subject.id] = flags

    def notes(self, subject: Organisation) -> list[StoredNote]:
        return self.stored.get(subject.id, [])


def crm() -> MemoryCRM:
    orgs = [
        Organisation("v1", "SocialCo", OrgKind.VENDOR, "https://www.SocialCo.fr/", "VEND-1"),
        Organisation("c1", "Acme SA", OrgKind.COMPANY, "acme.com", "acme-ext"),
        Organisation("c2", "Delta", OrgKind.COMPANY, "delta.com", None),
        Organisation("c3", "Nodomain", OrgKind.COMPANY, None, None),
    ]
    contacts = [
        Contact(
            "p-alice", "Alice O.", "c1", frozenset({Role.PROJECT_OWNER}), "ALICE.OWNER@example.org"
        ),
        Contact("p-vera", "Vera", "v1", frozenset({Role.VENDOR_REFERENT}), "someone@else.org"),
    ]
    return MemoryCRM(orgs, contacts, {"c1": "v1", "c2": "v1", "c3": "v1"})


@pytest.fixture
def zd():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield scenario(rsps)


def zendesk() -> ZendeskConnector:
    clock = Clock()
    return ZendeskConnector(
        {"subdomain": "acme", "email": EMAIL, "token": TOKEN},
        ConnectorContext(),
        sleep=clock.sleep,
        clock=clock,
    )


def combined(match_by: str = "domain", primary: MemoryCRM | None = None) -> CombinedConnector:
    source = build_source(primary or crm(), zendesk(), match_by)
    assert isinstance(source, CombinedConnector)
    return source


# -- factory --------------------------------------------------------------------------------------
def test_build_source_alone_and_errors(zd):
    primary = crm()
    assert build_source(primary, None, "domain") is primary
    z = zendesk()
    assert build_source(z, None, "domain") is z  # helpdesk-only setup: source: zendesk
    with pytest.raises(
        ConfigError, match="match_by is 'name': expected one of domain, external_id"
    ):
        build_source(primary, z, "name")
    with pytest.raises(ConfigError, match="the memcrm connector cannot be used as 'helpdesk'"):
        build_source(z, crm(), "domain")
    with pytest.raises(ConfigError, match="'source' and 'helpdesk' are both zendesk"):
        build_source(z, z, "domain")


def test_normalise_domain():
    assert normalise_domain("https://www.Acme.com/about?x=1") == "acme.com"
    assert normalise_domain("  ") is None and normalise_domain(None) is None


# -- reading --------------------------------------------------------------------------------------
def test_combined_load_matches_by_domain_and_rekeys(zd):
    source = combined()
    data = source.load(["v1"])
    orgs = data.organisations
    assert set(orgs) == {"v1", "c1", "c2", "c3"}  # the primary's structure, nothing else
    assert orgs["c1"].attributes == {"has_ticket_data": True}
    assert orgs["v1"].attributes == {"has_ticket_data": True}
    assert "has_ticket_data" not in orgs["c2"].attributes  # unknown, not "no tickets"
    tickets = {a.id: a for a in data.activities if a.kind == ActivityKind.TICKET}
    assert set(tickets) == {"zendesk:1000", "zendesk:1001", "zendesk:1002"}
    t = tickets["zendesk:1000"]
    assert (t.company_id, t.vendor_id, t.side) == ("c1", "v1", Side.COMPANY)
    assert t.contact_ids == ("p-alice",)  # same e-mail in the same org: the CRM contact wins
    assert t.first_reply_minutes == 30.0 and t.replies == 2
    assert tickets["zendesk:1001"].side == Side.VENDOR
    assert tickets["zendesk:1001"].contact_ids == ("zendesk:20",)
    assert tickets["zendesk:1001"].first_reply_minutes is None
    assert data.contact("zendesk:20").org_id == "v1"
    assert data.contact("zendesk:11").roles == {Role.EXECUTIVE_SPONSOR}
    assert data.contact("zendesk:10") is None  # deduplicated onto p-alice
    assert [c.id for c in data.contacts_of("c1")] == ["p-alice", "zendesk:11"]
    assert len(data.activities_between("c1", "v1")) == 4  # meeting + 3 tickets
    assert source.unmatched == [
        "memcrm company 'Delta' (id c2): no zendesk organisation has domain 'delta.com', "
        "so its helpdesk data is unknown",
        "memcrm company 'Nodomain' (id c3) has no domain: it cannot be matched to a zendesk "
        "organisation, so its helpdesk data is unknown",
        "zendesk organisation 'Beta' (id 201, beta.io) is a client of a vendor in this run but "
        "matches no memcrm company by domain: its tickets are not evaluated",
    ]


def test_combined_load_by_external_id(zd):
    zd.orgs[200]["external_id"] = "ACME-EXT"
    data = (source := combined("external_id")).load(["v1"])
    assert {a.company_id for a in data.activities if a.kind == ActivityKind.TICKET} == {"c1"}
    assert data.organisations["c1"].attributes["has_ticket_data"] is True
    assert source.unmatched == [
        "memcrm company 'Delta' (id c2) has no external id: it cannot be matched to a zendesk "
        "organisation, so its helpdesk data is unknown",
        "memcrm company 'Nodomain' (id c3) has no external id: it cannot be matched to a zendesk "
        "organisation, so its helpdesk data is unknown",
        "zendesk organisation 'Beta' (id 201, no external id) is a client of a vendor in this run "
        "but matches no memcrm company by external id: its tickets are not evaluated",
    ]


def test_ambiguous_helpdesk_match_is_reported_not_guessed(zd):
    zd.org(500, "Acme (old)", domain_names=["ACME.com"])
    source = combined()
    data = source.load(["v1"], ["c1"])
    assert not [a for a in data.activities if a.kind == ActivityKind.TICKET]
    assert "has_ticket_data" not in data.organisations["c1"].attributes
    assert (
        "memcrm company 'Acme SA' (id c1): several zendesk organisations have domain 'acme.com' "
        "('Acme' (id 200), 'Acme (old)' (id 500)); none was used — make the domain unique in "
        "zendesk"
    ) in source.unmatched


def test_helpdesk_org_needs_no_cm_tags_in_combined_mode(zd):
    zd.orgs[200]["organization_fields"] = {}
    zd.orgs[100]["tags"] = []
    data = combined().load(["v1"], ["c1"])
    assert len([a for a in data.activities if a.company_id == "c1"]) == 4


# -- writing --------------------------------------------------------------------------------------
def test_writes_go_to_primary_and_helpdesk_change_only(zd):
    source = combined()
    data = source.load(["v1"], ["c1"])
    assert source.apply(note_for(data.organisations["c1"], "fp-1", "HIGH: two directors"))
    assert source.primary.writes == [("note", "c1"), ("flags", "c1")]
    assert [oid for oid, _ in zd.puts] == [200]
    assert "--- cmrules:begin fp-1" in zd.orgs[200]["notes"]
    assert zd.orgs[200]["notes"].startswith("Human intro line.")
    assert "vip" in zd.orgs[200]["tags"] and "cmrules_risk_high" in zd.orgs[200]["tags"]

    # rerun on unchanged data, as a new process would: zero writes anywhere
    primary = source.primary
    primary.writes.clear()
    again = combined(primary=primary)
    data = again.load(["v1"], ["c1"])
    assert again.apply(note_for(data.organisations["c1"], "fp-1", "HIGH: two directors")) is False
    assert primary.writes == [] and len(zd.puts) == 1
    assert again.helpdesk.context.stats.get("write_calls", 0) == 0

    # changed findings: both sides write once
    third = combined(primary=primary)
    data = third.load(["v1"], ["c1"])
    assert third.apply(note_for(data.organisations["c1"], "fp-2", "MEDIUM: rare meetings"))
    assert primary.writes == [("note", "c1"), ("flags", "c1")] and len(zd.puts) == 2
    assert zd.orgs[200]["notes"].count("cmrules:begin") == 1


def test_unmatched_subject_writes_primary_only(zd):
    source = combined()
    data = source.load(["v1"], ["c2"])
    source.apply(note_for(data.organisations["c2"], "fp-1", "x"))
    assert source.primary.writes == [("note", "c2"), ("flags", "c2")] and zd.puts == []


def test_changed_since_maps_helpdesk_changes_onto_primary_ids(zd):
    primary = crm()
    primary.changed = {"c2"}
    zd.org_export = [{"organizations": [], "end_of_stream": True, "end_time": 1}]
    zd.ticket_export = [{"tickets": [{"id": 1, "organization_id": 200}], "end_of_stream": True}]
    zd.user_export = [{"users": [{"id": 9, "organization_id": 201}], "end_of_stream": True}]
    change = combined(primary=primary).changed_since(datetime(2024, 1, 1, tzinfo=UTC), T0)
    assert change.organisation_ids == {"c1", "c2"}  # Beta (201) has no CRM counterpart
    assert change.watermark == datetime(2024, 6, 1, 11, 59, tzinfo=UTC)


def test_check_and_describe(zd):
    source = combined()
    lines = source.check()
    assert any(
        line.startswith("zendesk: connected to zendesk (acme.zendesk.com)") for line in lines
    )
    assert "warning: Zendesk API tokens stop working on 30 Apr 2027" in lines[-2]
    assert source.describe() == "memcrm + helpdesk zendesk (acme.zendesk.com) (matched by domain)"


def test_writeback_fingerprint_is_kept_only_when_both_sides_agree(zd):
    primary = crm()
    first = combined(primary=primary)
    c1 = first.load(["v1"], ["c1"]).organisations["c1"]
    primary.write_note(c1, note_for(c1, "fp-1", "written before the helpdesk was added"))
    data = combined(primary=primary).load(["v1"], ["c1"])
    assert "fingerprint" not in data.organisations["c1"].writeback  # zendesk lacks fp-1
    source = combined(primary=primary)
    c1 = source.load(["v1"], ["c1"]).organisations["c1"]
    source.apply(note_for(c1, "fp-1", "written before the helpdesk was added"))
    assert [oid for oid, _ in zd.puts] == [200]  # the helpdesk caught up
    data = combined(primary=primary).load(["v1"], ["c1"])
    assert data.organisations["c1"].writeback == {"fingerprint": "fp-1"}


def test_client_with_several_vendors_gets_tickets_without_vendor(zd):
    primary = crm()
    primary.vendors_of = lambda ids: {c: ["v1", "v9"] for c in ids}  # c1 also works with v9
    data = combined(primary=primary).load(["v1"], ["c1"])
    tickets = [a for a in data.activities if a.kind == ActivityKind.TICKET]
    assert len(tickets) == 3 and {t.vendor_id for t in tickets} == {None}
    assert len(data.activities_between("c1", "v1")) == 4  # None counts for every vendor


def test_unmatched_accumulates_over_loads_of_one_run_without_duplicates(zd):
    source = combined()
    source.load(["v1"], ["c2"])  # scoped: Acme and Beta of Zendesk are not "unmatched"
    assert [line.split(":")[0] for line in source.unmatched] == ["memcrm company 'Delta' (id c2)"]
    source.load(["v1"])
    source.load(["v1"], ["c2", "c3"])
    assert [line.split(":")[0] for line in source.unmatched] == [
        "memcrm company 'Delta' (id c2)",
        "memcrm company 'Nodomain' (id c3) has no domain",
        "zendesk organisation 'Beta' (id 201, beta.io) is a client of a vendor in this run but "
        "matches no memcrm company by domain",
    ]
