"""Combine a CRM source with a helpdesk source into one connector.

``source: hubspot`` (or ``local``) plus ``helpdesk: zendesk`` in the config gives one
:class:`CombinedConnector`:

* the **primary** connector owns the structure: vendors, companies, engagements, contacts,
  meetings and notes;
* the **helpdesk** adds, for every primary organisation it can match, its users and (for
  companies) its tickets with their reply metrics;
* organisations are matched by normalised domain or by external id (``match_by``); anything
  that matches nothing (or several things) is reported in :attr:`CombinedConnector.unmatched`,
  never dropped silently;
* writes go to the primary **and** to the matched helpdesk organisation, each connector doing
  its own change check (so an unchanged rerun writes nothing anywhere).

A connector can serve as ``helpdesk`` when it also implements :class:`Helpdesk`.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from .connector import ChangeSet, Connector, Flags, RenderedNote, StoredNote
from .errors import ConfigError
from .model import Activity, Coverage, Dataset, Organisation, OrgKind

log = logging.getLogger("cmrules.sources")

MATCH_BY = ("domain", "external_id")


@dataclass(frozen=True)
class MatchCandidate:
    """One helpdesk organisation, as offered for matching."""

    org: Organisation
    #: every domain the helpdesk knows for it (Zendesk orgs have several ``domain_names``)
    domains: tuple[str, ...] = ()
    #: ids of the helpdesk organisations the helpdesk itself names as this org's vendors
    vendor_ids: tuple[str, ...] = ()


class Helpdesk(ABC):
    """What a connector adds to be usable as ``helpdesk:`` beside a CRM source."""

    @abstractmethod
    def match_candidates(self) -> list[MatchCandidate]:
        """Every organisation of the helpdesk (cached by the connector: one listing per run)."""

    @abstractmethod
    def load_for(self, targets: Mapping[str, OrgKind]) -> Dataset:
        """These helpdesk organisations (id -> kind as the primary classifies them), their
        users as contacts and, for companies, their tickets as activities (``vendor_id`` None,
        ``side`` relative to the company).  Companies whose tickets were read carry
        ``attributes["has_ticket_data"] = True``."""


def normalise_domain(value: str | None) -> str | None:
    """``"https://www.Acme.com/about"`` -> ``"acme.com"``; blank -> None."""
    if not value:
        return None
    text = value.strip().lower()
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.split("/", 1)[0].split("?", 1)[0].split(":", 1)[0].strip(".")
    if text.startswith("www."):
        text = text[4:]
    return text or None


def normalise_external_id(value: str | None) -> str | None:
    """External ids are case-insensitive (Zendesk enforces case-insensitive uniqueness)."""
    if value is None:
        return None
    text = str(value).strip().lower()
    return text or None


def build_source(
    primary: Connector, helpdesk: Connector | None, match_by: str = "domain"
) -> Connector:
    """The connector a run uses: ``primary`` alone, or ``primary`` combined with ``helpdesk``."""
    if helpdesk is None:
        return primary
    if match_by not in MATCH_BY:
        raise ConfigError(
            f"match_by is {match_by!r}: expected one of {', '.join(MATCH_BY)}. "
            "Fix 'match_by' in your config."
        )
    if not isinstance(helpdesk, Helpdesk):
        raise ConfigError(
            f"the {helpdesk.name} connector cannot be used as 'helpdesk' (it does not read "
            "tickets); use a helpdesk connector such as zendesk, or set it as 'source'."
        )
    if helpdesk is primary or helpdesk.name == primary.name:
        raise ConfigError(
            f"'source' and 'helpdesk' are both {primary.name}: remove 'helpdesk' from your config."
        )
    return CombinedConnector(primary, helpdesk, match_by)


class CombinedConnector(Connector):
    """A CRM (primary) plus a helpdesk, seen as one connector."""

    name = "combined"

    def __init__(self, primary: Connector, helpdesk: Connector, match_by: str = "domain"):
        if not isinstance(helpdesk, Helpdesk):  # build_source gives the friendly message
            raise TypeError(f"{type(helpdesk).__name__} does not implement Helpdesk")
        if match_by not in MATCH_BY:
            raise ConfigError(f"match_by is {match_by!r}: expected one of {', '.join(MATCH_BY)}")
        super().__init__({}, primary.context)
        self.primary = primary
        self.helpdesk = helpdesk
        self._hd: Helpdesk = helpdesk
        self.match_by = match_by
        #: human-readable lines for the run summary: what could not be matched, and why
        self.unmatched: list[str] = []
        self._index: dict[str, list[MatchCandidate]] | None = None
        self._by_id: dict[str, MatchCandidate] = {}
        #: primary org id -> matched helpdesk organisation (as loaded, for write-back)
        self._matched: dict[str, Organisation] = {}

    # -- matching ---------------------------------------------------------------------------
    def key_of(self, org: Organisation) -> str | None:
        """The matching key of an organisation (normalised domain or external id)."""
        if self.match_by == "domain":
            return normalise_domain(org.domain)
        return normalise_external_id(org.external_id)

    def _candidate_keys(self, cand: MatchCandidate) -> set[str]:
        if self.match_by == "domain":
            doms = [normalise_domain(d) for d in (*cand.domains, cand.org.domain)]
            return {d for d in doms if d}
        key = normalise_external_id(cand.org.external_id)
        return {key} if key else set()

    def _candidates(self) -> dict[str, list[MatchCandidate]]:
        if self._index is None:
            index: dict[str, list[MatchCandidate]] = defaultdict(list)
            for cand in self._hd.match_candidates():
                self._by_id[cand.org.id] = cand
                for key in self._candidate_keys(cand):
                    index[key].append(cand)
            self._index = dict(index)
        return self._index

    def _label(self, org: Organisation, source: str) -> str:
        return f"{source} {org.kind.value} {org.name!r} (id {org.id})"

    def _report(self, line: str) -> None:
        if line not in self.unmatched:
            self.unmatched.append(line)

    def match(self, org: Organisation, report: bool = True) -> MatchCandidate | None:
        """The helpdesk organisation matching ``org``; reports why when there is none."""
        hd = self.helpdesk.name
        note = self._report if report else (lambda line: None)
        key = self.key_of(org)
        what = "domain" if self.match_by == "domain" else "external id"
        if key is None:
            note(
                f"{self._label(org, self.primary.name)} has no {what}: it cannot be matched to a "
                f"{hd} organisation, so its helpdesk data is unknown"
            )
            return None
        hits = self._candidates().get(key, [])
        if not hits:
            note(
                f"{self._label(org, self.primary.name)}: no {hd} organisation has {what} "
                f"{key!r}, so its helpdesk data is unknown"
            )
            return None
        if len(hits) > 1:
            names = ", ".join(f"{c.org.name!r} (id {c.org.id})" for c in hits)
            note(
                f"{self._label(org, self.primary.name)}: several {hd} organisations have {what} "
                f"{key!r} ({names}); none was used — make the {what} unique in {hd}"
            )
            return None
        return hits[0]

    # -- reading ----------------------------------------------------------------------------
    def find_organisations(self, text: str, kind: OrgKind) -> list[Organisation]:
        """The CRM's candidates: the CRM is the source of record."""
        return self.primary.find_organisations(text, kind)

    def vendors_of(self, company_ids: Iterable[str]) -> dict[str, list[str]]:
        """company id -> vendors, from the CRM."""
        return self.primary.vendors_of(company_ids)

    def load(self, vendor_ids: Iterable[str], company_ids: Iterable[str] | None = None) -> Dataset:
        """The primary's data plus the helpdesk's, for every organisation that matches.
        ``unmatched`` accumulates over the loads of one run (the service may load twice)."""
        data = self.primary.load(vendor_ids, company_ids)
        h2p: dict[str, str] = {}
        targets: dict[str, OrgKind] = {}
        for org in sorted(data.organisations.values(), key=lambda o: (o.kind.value, o.id)):
            cand = self.match(org)
            if cand is None:
                continue
            if cand.org.id in h2p:
                other = data.organisations[h2p[cand.org.id]]
                self._report(
                    f"{self._label(org, self.primary.name)} and {other.name!r} (id {other.id}) "
                    f"both match {self.helpdesk.name} organisation {cand.org.name!r} "
                    f"(id {cand.org.id}); only the first is combined"
                )
                continue
            h2p[cand.org.id] = org.id
            targets[cand.org.id] = org.kind
        if company_ids is None:  # a scoped load cannot tell "unmatched" from "not asked for"
            self._report_unmatched_clients(h2p)
        if not targets:
            return data
        hd = self._hd.load_for(targets)
        for hid, pid in h2p.items():
            self._matched[pid] = hd.organisations.get(hid, self._by_id[hid].org)
        return self._merge(data, hd, h2p)

    def _report_unmatched_clients(self, h2p: Mapping[str, str]) -> None:
        """Helpdesk orgs that the helpdesk itself files under a vendor of this run but that
        match no primary organisation: their tickets would otherwise vanish silently."""
        matched_vendors = set(h2p)
        what = "domain" if self.match_by == "domain" else "external id"
        for cand in sorted(self._by_id.values(), key=lambda c: c.org.id):
            if cand.org.id in h2p or not matched_vendors.intersection(cand.vendor_ids):
                continue
            keys = sorted(self._candidate_keys(cand))
            shown = ", ".join(keys) if keys else f"no {what}"
            self._report(
                f"{self.helpdesk.name} organisation {cand.org.name!r} (id {cand.org.id}, {shown}) "
                f"is a client of a vendor in this run but matches no {self.primary.name} "
                f"company by {what}: its tickets are not evaluated"
            )

    def _merge(self, data: Dataset, hd: Dataset, h2p: Mapping[str, str]) -> Dataset:
        prefix = f"{self.helpdesk.name}:"
        # contacts: the primary's record wins when the same e-mail is in the same organisation
        by_email = {(c.org_id, c.email.strip().lower()): c.id for c in data.contacts if c.email}
        contact_ids: dict[str, str] = {}
        for c in hd.contacts:
            org_id = h2p.get(c.org_id) if c.org_id else None
            same = by_email.get((org_id, c.email.strip().lower())) if c.email else None
            if same is not None:
                contact_ids[c.id] = same
                continue
            contact_ids[c.id] = prefix + c.id
            data.add(replace(c, id=prefix + c.id, org_id=org_id))

        vendors_of = self._vendors_of_companies(
            data, [h2p[h] for h in hd.organisations if h in h2p]
        )
        with_tickets: set[str] = set()
        for a in hd.activities:
            company = h2p.get(a.company_id) if a.company_id else None
            if company is None:  # load_for only returns activities of the targets
                continue
            vendors = vendors_of.get(company, set())
            data.add(
                Activity(
                    id=prefix + a.id,
                    kind=a.kind,
                    timestamp=a.timestamp,
                    company_id=company,
                    vendor_id=next(iter(vendors)) if len(vendors) == 1 else None,
                    side=a.side,
                    contact_ids=tuple(contact_ids.get(i, prefix + i) for i in a.contact_ids),
                    status=a.status,
                    decided_at=a.decided_at,
                    tags=a.tags,
                    title=a.title,
                    first_reply_minutes=a.first_reply_minutes,
                    replies=a.replies,
                )
            )
        for hid, horg in hd.organisations.items():
            if horg.attributes.get("has_ticket_data") and hid in h2p:
                with_tickets.add(h2p[hid])
        for company in list(with_tickets):
            with_tickets.update(vendors_of.get(company, ()))
        for pid in with_tickets:
            org = data.organisations.get(pid)
            if org is not None:
                data.organisations[pid] = replace(
                    org, attributes={**org.attributes, "has_ticket_data": True}
                )
        # The writer may skip ``apply`` when the loaded fingerprint equals the new one.  In
        # combined mode that is only safe when the helpdesk holds the same fingerprint: when it
        # does not (first combined run, or a helpdesk write that failed), the fingerprint is
        # left out so ``apply`` runs and each side checks and writes for itself.
        for hid, pid in h2p.items():
            org = data.organisations.get(pid)
            mirror = hd.organisations.get(hid)
            if org is None or "fingerprint" not in org.writeback:
                continue
            if (
                mirror is None
                or mirror.writeback.get("fingerprint") != org.writeback["fingerprint"]
            ):
                data.organisations[pid] = replace(
                    org, writeback={k: v for k, v in org.writeback.items() if k != "fingerprint"}
                )
        data.add()  # reset the lazy index after direct dict edits
        return data

    def _vendors_of_companies(self, data: Dataset, org_ids: list[str]) -> dict[str, set[str]]:
        """Every vendor of each company — not only those loaded now — so that a ticket of a
        client with several vendors is attributed the same way (to none) in every load."""
        out: dict[str, set[str]] = defaultdict(set)
        for e in data.engagements:
            out[e.company_id].add(e.vendor_id)
        companies = [o for o in org_ids if data.organisations[o].kind == OrgKind.COMPANY]
        try:
            for company, vendors in self.primary.vendors_of(companies).items():
                out[company].update(vendors)
        except NotImplementedError:
            pass
        return out

    def changed_since(self, since: datetime | None, run_started: datetime) -> ChangeSet:
        """What changed in the CRM or in the helpdesk (mapped to CRM ids)."""
        primary = self.primary.changed_since(since, run_started)
        try:
            helpdesk = self.helpdesk.changed_since(since, run_started)
        except NotImplementedError:
            return primary
        ids = set(primary.organisation_ids)
        self._candidates()
        for hid in sorted(helpdesk.organisation_ids):
            cand = self._by_id.get(hid)
            pid = self._primary_id_for(cand) if cand else None
            if pid is not None:
                ids.add(pid)
        return ChangeSet(frozenset(ids), min(primary.watermark, helpdesk.watermark))

    def _primary_id_for(self, cand: MatchCandidate) -> str | None:
        """A primary organisation with the same key, found through the primary's own lookup."""
        keys = self._candidate_keys(cand)
        if not keys:
            return None
        texts = [t for t in (cand.org.external_id, cand.org.name, *cand.domains) if t]
        for kind in (OrgKind.COMPANY, OrgKind.VENDOR):
            for text in texts:
                for org in self.primary.find_organisations(text, kind):
                    if self.key_of(org) in keys:
                        return org.id
        return None

    # -- writing ----------------------------------------------------------------------------
    def helpdesk_subject(self, subject: Organisation) -> Organisation | None:
        """The helpdesk organisation a primary record's findings are mirrored to (or None)."""
        if subject.id in self._matched:
            return self._matched[subject.id]
        cand = self.match(subject, report=False)
        return cand.org if cand else None

    def apply(self, note: RenderedNote) -> bool:
        """Primary first (the record the team works in), then the matched helpdesk org.
        Each side checks its own stored fingerprint, so unchanged findings write nothing."""
        created = self.primary.apply(note)
        target = self.helpdesk_subject(note.subject)
        if target is not None:
            created = self.helpdesk.apply(replace(note, subject=target)) or created
        return created

    def note_exists(self, subject: Organisation, fingerprint: str) -> bool:
        """The note is on the CRM record and on its matched helpdesk organisation."""
        if not self.primary.note_exists(subject, fingerprint):
            return False
        target = self.helpdesk_subject(subject)
        return target is None or self.helpdesk.note_exists(target, fingerprint)

    def write_note(self, subject: Organisation, note: RenderedNote) -> str:
        """Write the note on the CRM record, then on the matched helpdesk organisation."""
        note_id = self.primary.write_note(subject, note)
        target = self.helpdesk_subject(subject)
        if target is not None:
            self.helpdesk.write_note(target, replace(note, subject=target))
        return note_id

    def write_flags(self, subject: Organisation, flags: Flags) -> None:
        """Write the flags on the CRM record, then on the matched helpdesk organisation."""
        self.primary.write_flags(subject, flags)
        target = self.helpdesk_subject(subject)
        if target is not None:
            self.helpdesk.write_flags(target, flags)

    def notes(self, subject: Organisation) -> list[StoredNote]:
        """The notes on the CRM record."""
        return self.primary.notes(subject)

    # -- admin ------------------------------------------------------------------------------
    def check(self) -> list[str]:
        """Both sources' checks."""
        return [*self.primary.check(), *self.helpdesk.check()]

    def setup(self, dry_run: bool = False) -> list[str]:
        """Both sources' setup plans."""
        return [*self.primary.setup(dry_run), *self.helpdesk.setup(dry_run)]

    @property
    def rule_ids(self) -> list[str]:
        """The rule ids setup declares (e.g. HubSpot's flag options): set on both parts."""
        return list(getattr(self.primary, "rule_ids", []))

    @rule_ids.setter
    def rule_ids(self, ids: list[str]) -> None:
        for part in (self.primary, self.helpdesk):
            part.rule_ids = list(ids)  # type: ignore[attr-defined]

    def coverage(self) -> Coverage:
        """What the CRM and the helpdesk record together."""
        return self.primary.coverage().merge(self.helpdesk.coverage())

    def describe(self) -> str:
        """Both sources and how they are matched, for messages."""
        return (
            f"{self.primary.describe()} + helpdesk {self.helpdesk.describe()} "
            f"(matched by {self.match_by})"
        )

    def close(self) -> None:
        """Close both sources."""
        try:
            self.primary.close()
        finally:
            self.helpdesk.close()
