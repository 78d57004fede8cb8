"""Assembles a :class:`~cmrules.model.Dataset` from HubSpot: which companies are vendors,
which are their clients, whose contacts and activities to read, and what changed.

The reads are :mod:`.streams`; turning each record into the model is :mod:`.mappers`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from cmrules.connector import ChangeSet, ConnectorContext
from cmrules.model import ENGAGEMENT_ATTRIBUTES, Dataset, Engagement, Organisation, OrgKind
from cmrules.values import to_epoch_ms

from .common import (
    FOOTER_RE,
    PROP_WAIVED_RULES,
    SEARCH_PAGE_LIMIT,
    NoteIndex,
    id_key,
    str_id,
)
from .mappers import HubSpotMapper
from .settings import HubSpotSettings, fold
from .streams import AssocTarget, HubSpotStreams

log = logging.getLogger("cmrules.connectors.hubspot")


class HubSpotReader:
    """Reads for one run; caches vendors and client lists per instance (one run)."""

    def __init__(
        self,
        settings: HubSpotSettings,
        streams: HubSpotStreams,
        mapper: HubSpotMapper,
        context: ConnectorContext,
        warn: Callable[[str], None],
        loaded_orgs: set[str],
        note_index: NoteIndex,
    ):
        self.settings = settings
        self.streams = streams
        self.mapper = mapper
        self.context = context
        self._warn = warn
        self.vendor_cache: dict[str, dict[str, Any]] | None = None
        self._clients_cache: dict[str, set[str]] = {}
        #: (vendor, client) pairs whose association carries an "ended" label
        self._ended: set[tuple[str, str]] = set()
        #: organisations returned by load() (shared with the writer's note look-ups)
        self.loaded_orgs = loaded_orgs
        #: fingerprints on the notes read as activities (shared with the writer)
        self.note_index = note_index

    # -- reading API ---------------------------------------------------------------------------
    def vendor_records(self) -> dict[str, dict[str, Any]]:
        """Every vendor company (id -> properties) from one paged search: vendors are few.
        Cached per connector instance (one run)."""
        if self.vendor_cache is None:
            operator: dict[str, Any]
            if len(self.settings.vendor_values) == 1:
                operator = {"operator": "EQ", "value": self.settings.vendor_values[0]}
            else:
                operator = {"operator": "IN", "values": self.settings.vendor_values}
            found = self.streams.search(
                "companies",
                [{"propertyName": self.settings.vendor_property, **operator}],
                self.mapper.company_properties(),
            )
            self.vendor_cache = {
                str_id(item["id"]): dict(item.get("properties") or {}) for item in found
            }
        return self.vendor_cache

    def records_with_waivers(self) -> list[Organisation]:
        """Companies with a filled-in ``cmrules_waived_rules`` property."""
        vendors = self.vendor_ids()
        found = self.streams.search(
            "companies",
            [{"propertyName": PROP_WAIVED_RULES, "operator": "HAS_PROPERTY"}],
            self.mapper.company_properties(),
        )
        out = []
        for item in found:
            cid = str_id(item["id"])
            kind = OrgKind.VENDOR if cid in vendors else OrgKind.COMPANY
            out.append(self.mapper.organisation(cid, dict(item.get("properties") or {}), kind))
        return out

    def vendor_ids(self) -> set[str]:
        """Ids of every vendor company."""
        return set(self.vendor_records())

    def find_organisations(self, text: str, kind: OrgKind) -> list[Organisation]:
        """An exact id first; then, for vendors, every vendor (the core picks the match; an
        empty ``text`` lists them all); for companies, HubSpot's ``query`` search on name,
        domain, website and phone (first 200 hits, vendors left out)."""
        text = text.strip()
        props = self.mapper.company_properties()
        if text.isdigit():
            found = self.streams.batch_read("companies", [text], props, quiet=True)
            if text in found:
                org_kind = OrgKind.VENDOR if self.mapper.is_vendor(found[text]) else OrgKind.COMPANY
                if org_kind == kind or kind == OrgKind.VENDOR:
                    return [self.mapper.organisation(text, found[text], kind)]
        if kind == OrgKind.VENDOR:
            records = self.vendor_records()
            return [
                self.mapper.organisation(i, records[i], OrgKind.VENDOR)
                for i in sorted(records, key=id_key)
            ]
        if not text:
            return []
        hits = self.streams.search(
            "companies", [], props, max_results=SEARCH_PAGE_LIMIT, query=text
        )
        orgs = []
        for item in hits:
            item_props = item.get("properties") or {}
            if not self.mapper.is_vendor(item_props):
                orgs.append(
                    self.mapper.organisation(str_id(item["id"]), item_props, OrgKind.COMPANY)
                )
        return orgs

    def clients_of(self, vendor_ids: Iterable[str]) -> dict[str, set[str]]:
        """vendor id -> candidate client company ids (vendors not yet excluded)."""
        vendors = sorted(set(vendor_ids), key=id_key)
        missing = [v for v in vendors if v not in self._clients_cache]
        if missing:
            self._clients_cache.update(self._read_clients(missing))
        return {v: set(self._clients_cache[v]) for v in vendors}

    def _read_clients(self, vendors: list[str]) -> dict[str, set[str]]:
        clients: dict[str, set[str]] = {v: set() for v in vendors}
        for vendor, targets in self.streams.associations("companies", "companies", vendors).items():
            for target in targets:
                if target.id == vendor:
                    continue
                labels = {fold(x) for x in target.labels}
                ended = bool(labels & self.settings.ended_labels)
                if self.settings.client_labels and not (
                    labels & self.settings.client_labels or ended
                ):
                    continue
                clients.setdefault(vendor, set()).add(target.id)
                if ended:
                    self._ended.add((vendor, target.id))
        if self.settings.clients_via_deals:
            deals = self.streams.associations("companies", "deals", vendors)
            deal_ids = {t.id for targets in deals.values() for t in targets}
            deal_companies = self.streams.associations("deals", "companies", deal_ids)
            for vendor, targets in deals.items():
                for deal in targets:
                    for company in deal_companies.get(deal.id, []):
                        if company.id != vendor:
                            clients.setdefault(vendor, set()).add(company.id)
        return clients

    def vendors_of(self, company_ids: Iterable[str]) -> dict[str, list[str]]:
        """company id -> vendor ids.  A vendor maps to itself (a changed vendor is evaluated)."""
        wanted = set(company_ids)
        vendors = self.vendor_ids()
        result: dict[str, list[str]] = {c: [] for c in wanted}
        for company in wanted & vendors:
            result[company].append(company)
        for vendor, clients in self.clients_of(vendors).items():
            for client in clients & wanted:
                if client not in vendors:
                    result[client].append(vendor)
        return {c: sorted(v, key=id_key) for c, v in result.items()}

    def load(self, vendor_ids: Iterable[str], company_ids: Iterable[str] | None = None) -> Dataset:
        """The vendors, their clients (all or ``company_ids``), contacts and activities."""
        vendors = sorted({str(v) for v in vendor_ids}, key=id_key)
        only = None if company_ids is None else {str(c) for c in company_ids}
        data = Dataset()
        clients_by_vendor = self.clients_of(vendors)
        if only is not None:
            clients_by_vendor = {v: c & only for v, c in clients_by_vendor.items()}
        candidate_ids = {c for cs in clients_by_vendor.values() for c in cs} - set(vendors)
        company_props = self.mapper.company_properties()
        records = self.streams.batch_read("companies", [*vendors, *candidate_ids], company_props)

        vendor_set = set()
        for vendor in vendors:
            if vendor not in records:
                self._warn(f"HubSpot: vendor company {vendor} was not found; skipped")
                continue
            if not self.mapper.is_vendor(records[vendor]):
                log.info(
                    "company %s does not match the vendor filter; loading it as a vendor "
                    "because it was asked for",
                    vendor,
                )
            data.add(self.mapper.organisation(vendor, records[vendor], OrgKind.VENDOR))
            vendor_set.add(vendor)
        clients: dict[str, set[str]] = defaultdict(set)  # client -> vendors
        for vendor, client_ids in clients_by_vendor.items():
            if vendor not in vendor_set:
                continue
            for client in client_ids:
                props = records.get(client)
                if props is None or client in vendor_set or self.mapper.is_vendor(props):
                    continue  # unknown id (reported) or another vendor (a partner, not a client)
                clients[client].add(vendor)
        for client in clients:
            data.add(self.mapper.organisation(client, records[client], OrgKind.COMPANY))

        contact_org, vendor_contacts_at = self._load_contacts(data, vendor_set, set(clients))
        for client, its_vendors in sorted(clients.items(), key=lambda kv: id_key(kv[0])):
            props = records[client]
            started = self.mapper.typed(
                f"company {client}",
                "started_at",
                datetime,
                props.get(self.settings.engagement_started_property or ""),
            )
            attributes = self.mapper.attrs(
                f"company {client}", props, self.settings.engagement_attrs, ENGAGEMENT_ATTRIBUTES
            )
            for vendor in sorted(its_vendors, key=id_key):
                data.add(
                    Engagement(
                        company_id=client,
                        vendor_id=vendor,
                        started_at=started,
                        vendor_contact_ids=tuple(
                            sorted(vendor_contacts_at.get((client, vendor), ()), key=id_key)
                        ),
                        attributes=attributes,
                        status="ended" if (vendor, client) in self._ended else None,
                    )
                )
        self._load_activities(data, clients, contact_org)
        self.loaded_orgs.update(data.organisations)
        return data

    def _load_contacts(
        self, data: Dataset, vendors: set[str], clients: set[str]
    ) -> tuple[dict[str, str], dict[tuple[str, str], set[str]]]:
        """Add contacts; return contact id -> org id and (client, vendor) -> vendor contact ids.

        A contact associated with a vendor company belongs to that vendor (even when it is also
        associated with clients); otherwise to its primary client, else the lowest client id.
        """
        orgs = sorted(vendors | clients, key=id_key)
        assoc = self.streams.associations("companies", "contacts", orgs)
        links: dict[str, list[tuple[str, AssocTarget]]] = defaultdict(list)
        for company, targets in assoc.items():
            for target in targets:
                links[target.id].append((company, target))
        if not links:
            return {}, {}
        records = self.streams.batch_read("contacts", list(links), self.mapper.contact_properties())
        contact_org: dict[str, str] = {}
        vendor_contacts_at: dict[tuple[str, str], set[str]] = defaultdict(set)
        for contact_id in sorted(records, key=id_key):
            props = records[contact_id]
            companies = links[contact_id]
            vendor_links = [c for c, _ in companies if c in vendors]
            if vendor_links:
                org = sorted(vendor_links, key=id_key)[0]
                side = "vendor"
                for company, _ in companies:
                    if company in clients:
                        for vendor in vendor_links:
                            vendor_contacts_at[(company, vendor)].add(contact_id)
            else:
                primary = [c for c, t in companies if 2 in t.type_ids or "Primary" in t.labels]
                org = sorted(primary or [c for c, _ in companies], key=id_key)[0]
                side = "company"
            labels = [label for _, t in companies for label in t.labels]
            data.add(self.mapper.contact(contact_id, props, org, side, labels))
            contact_org[contact_id] = org
        return contact_org, vendor_contacts_at

    def _load_activities(
        self, data: Dataset, clients: Mapping[str, set[str]], contact_org: Mapping[str, str]
    ) -> None:
        client_ids = sorted(clients, key=id_key)
        if not client_ids:
            return
        for object_type in self.settings.activity_types:
            by_company = self.streams.associations("companies", object_type, client_ids)
            companies_of: dict[str, list[str]] = defaultdict(list)
            for company, targets in by_company.items():
                for target in targets:
                    companies_of[target.id].append(company)
            wanted = self.mapper.activity_properties(object_type)
            records = self.streams.batch_read(object_type, list(companies_of), wanted)
            if object_type == "notes":  # the writer finds its fingerprints here, not re-reading
                for company in client_ids:
                    self.note_index.add(
                        company,
                        {
                            t.id: str(records[t.id].get("hs_note_body") or "")
                            for t in by_company.get(company, [])
                            if t.id in records
                        },
                    )
            if not records:
                continue
            attendees = self.streams.associations(object_type, "contacts", list(records))
            for activity_id in sorted(records, key=id_key):
                props = records[activity_id]
                if object_type == "notes" and FOOTER_RE.search(props.get("hs_note_body") or ""):
                    continue  # cmrules' own notes are output, not evidence
                contacts = tuple(sorted({t.id for t in attendees.get(activity_id, [])}, key=id_key))
                its_companies = sorted(set(companies_of[activity_id]), key=id_key)
                for company in its_companies:
                    activity = self.mapper.activity(
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

    # -- incremental ---------------------------------------------------------------------------
    def changed_since(self, since: datetime | None, run_started: datetime) -> ChangeSet:
        """Companies changed at or after ``since``, directly or through a changed contact or
        activity.  The new watermark is ``run_started - lookback_minutes`` (search indexing
        lags behind writes by "a few moments"; the overlap is re-read, never skipped).

        Without a watermark (a full sync) every vendor and every candidate client is listed
        from the vendor search and the vendor→company associations — the reads the run makes
        anyway, cached — instead of paging a search through every company of the portal:
        a company that is neither would be evaluated by no vendor."""
        watermark = run_started - self.settings.lookback
        if since is None:
            vendors = self.vendor_ids()
            everyone = vendors.union(*self.clients_of(vendors).values())
            self.context.count("changed_companies", len(everyone))
            return ChangeSet(organisation_ids=frozenset(everyone), watermark=watermark)
        changed: set[str] = set()
        targets = [("companies", "hs_lastmodifieddate"), ("contacts", "lastmodifieddate")]
        targets += [(t, "hs_lastmodifieddate") for t in self.settings.activity_types]
        for object_type, modified in targets:
            filters = [{"propertyName": modified, "operator": "GTE", "value": to_epoch_ms(since)}]
            ids = [
                str_id(item["id"]) for item in self.streams.search(object_type, filters, [modified])
            ]
            self.context.count(f"changed_{object_type}", len(ids))
            if object_type == "companies":
                changed.update(ids)
            elif ids:
                for targets_of in self.streams.associations(object_type, "companies", ids).values():
                    changed.update(t.id for t in targets_of)
        if watermark < since:
            watermark = min(since, run_started)
        return ChangeSet(organisation_ids=frozenset(changed), watermark=watermark)
