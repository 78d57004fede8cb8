"""Assembles a :class:`~cmrules.model.Dataset` from Zendesk: which organisations are vendors,
which companies name them (by id, external id or name, in a field or a tag), their users and
tickets, and what changed.  Reads are :mod:`.streams`; records become the model in
:mod:`.mappers`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from cmrules.connector import ChangeSet
from cmrules.errors import UsageError
from cmrules.model import Contact, Dataset, Engagement, Organisation, OrgKind
from cmrules.sources import MatchCandidate

from .blocks import slug
from .mappers import ZendeskMapper
from .metrics import TicketMetrics
from .ownwrites import OwnWrites
from .settings import ZendeskSettings
from .streams import ZendeskStreams


class ZendeskReader:
    """Reads for one run; caches how vendor references resolve."""

    def __init__(
        self,
        settings: ZendeskSettings,
        streams: ZendeskStreams,
        mapper: ZendeskMapper,
        report: Callable[[str], None],
        own: OwnWrites | None = None,
        count: Callable[[str, int], None] | None = None,
    ):
        self.settings = settings
        self.streams = streams
        self.mapper = mapper
        self._report = report
        self.own = own  # what cmrules wrote: not a change for the next sync (:mod:`.ownwrites`)
        self._count = count
        self._vendor_refs: dict[str, str | None] = {}
        self._index: dict[str, str] = {}
        self._index_size = -1

    def _vendor_index(self) -> dict[str, str]:
        if self._index_size == len(self.streams.orgs):
            return self._index
        index: dict[str, str] = {}
        for oid, raw in self.streams.orgs.items():
            if not self.mapper.is_vendor(raw):
                continue
            for k in (oid, raw.get("external_id"), raw.get("name")):
                if k:
                    index.setdefault(str(k).strip().lower(), oid)
                    index.setdefault(slug(str(k)), oid)
        self._index, self._index_size = index, len(self.streams.orgs)
        return index

    def _resolve(self, how: str, ref: str) -> str | None:
        """A vendor reference -> vendor org id, by id, external id or name."""
        cache_key = f"{how}:{ref.lower()}"
        if cache_key in self._vendor_refs:
            return self._vendor_refs[cache_key]
        found: str | None = None
        if self.streams.listed:
            index = self._vendor_index()
            found = index.get(ref.strip().lower()) or index.get(slug(ref))
        else:
            if ref.isdigit():
                try:
                    raw = self.streams.org(ref)
                    found = ref if self.mapper.is_vendor(raw) else None
                except UsageError:
                    found = None
            for param in ("external_id", "name"):
                if found:
                    break
                if how == "tag" and param == "name":
                    break  # a tag holds a slug, not a name: only the listing can resolve it
                for raw in self.streams.search_orgs(param, ref):
                    if self.mapper.is_vendor(raw):
                        self.streams.orgs.setdefault(str(raw["id"]), raw)
                        found = str(raw["id"])
                        break
            if found is None and how == "tag":
                self.streams.list_orgs()
                index = self._vendor_index()
                found = index.get(ref.strip().lower()) or index.get(slug(ref))
        self._vendor_refs[cache_key] = found
        return found

    def vendors_of_raw(self, raw: Mapping[str, Any]) -> list[str]:
        """Vendor ids an organisation names; unresolved references are reported."""
        vendors: list[str] = []
        for how, ref in self.mapper.vendor_references(raw):
            vid = self._resolve(how, ref)
            if vid is None:
                source = (
                    f"organisation field {self.settings.opts['vendor_link_field']!r}"
                    if how == "field"
                    else "tag " + repr(self.settings.opts["vendor_link_tag_prefix"] + ref)
                )
                line = (
                    f"zendesk organisation {raw.get('name')!r} (id {raw.get('id')}) names vendor "
                    f"{ref!r} in {source}, but no organisation tagged "
                    f"{self.settings.opts['vendor_tag']!r} has that id, external id or name"
                )
                self._report(line)
            elif vid not in vendors and vid != str(raw.get("id")):
                vendors.append(vid)
        return vendors

    def find_organisations(self, text: str, kind: OrgKind) -> list[Organisation]:
        """An exact id, an external id, else names containing or close to ``text``."""
        text = text.strip()
        if not text:
            return []
        hits: dict[str, dict[str, Any]] = {}
        if text.isdigit():
            try:
                raw = self.streams.org(text)
                hits[text] = raw
            except UsageError:
                pass
        if not hits:
            for raw in self.streams.search_orgs("external_id", text):
                self.streams.orgs.setdefault(str(raw["id"]), raw)
                hits[str(raw["id"])] = raw
        if not hits:
            orgs = self.streams.list_orgs()
            low = text.lower()
            names = {oid: str(r.get("name") or "") for oid, r in orgs.items()}
            close = set(difflib.get_close_matches(low, [n.lower() for n in names.values()], 5, 0.6))
            hits = {
                oid: orgs[oid] for oid, n in names.items() if low in n.lower() or n.lower() in close
            }
        return [
            self.mapper.organisation(raw, kind)
            for raw in hits.values()
            if self.mapper.kind_of(raw) == kind
        ]

    def vendors_of(self, company_ids: Iterable[str]) -> dict[str, list[str]]:
        """company id -> the vendors it names."""
        return {str(cid): self.vendors_of_raw(self.streams.org(str(cid))) for cid in company_ids}

    def match_candidates(self) -> list[MatchCandidate]:
        """Every organisation, for matching beside a CRM source."""
        candidates = []
        for raw in self.streams.list_orgs().values():
            kind = self.mapper.kind_of(raw) or OrgKind.COMPANY
            domains = tuple(d for d in raw.get("domain_names") or [] if isinstance(d, str))
            vendors = tuple(self.vendors_of_raw(raw)) if kind == OrgKind.COMPANY else ()
            candidates.append(MatchCandidate(self.mapper.organisation(raw, kind), domains, vendors))
        return candidates

    def load(self, vendor_ids: Iterable[str], company_ids: Iterable[str] | None = None) -> Dataset:
        """The vendors, the companies naming them, their users, tickets and metrics."""
        vendors: dict[str, dict[str, Any]] = {}
        for vid in (str(v) for v in vendor_ids):
            raw = self.streams.org(vid)
            if not self.mapper.is_vendor(raw):
                raise UsageError(
                    f"zendesk organisation {raw.get('name')!r} (id {vid}) is not a vendor: tag it "
                    f"{self.settings.opts['vendor_tag']!r}"
                    + (
                        f" or set its {self.settings.opts['vendor_field']!r} field"
                        if self.settings.opts["vendor_field"]
                        else ""
                    )
                )
            vendors[vid] = raw
        if company_ids is None:
            candidates = [
                r
                for oid, r in self.streams.list_orgs().items()
                if oid not in vendors and not self.mapper.is_vendor(r)
            ]
        else:
            candidates = [self.streams.org(str(c)) for c in company_ids]
        companies: dict[str, dict[str, Any]] = {}
        links: dict[str, list[str]] = {}
        for raw in candidates:
            cid = str(raw["id"])
            if not self.mapper.vendor_references(raw):
                if company_ids is not None:
                    self._report(
                        f"zendesk organisation {raw.get('name')!r} (id {cid}) names no vendor "
                        f"(field {self.settings.opts['vendor_link_field']!r} or tags "
                        f"{self.settings.opts['vendor_link_tag_prefix']}<vendor>): skipped"
                    )
                continue
            its_vendors = self.vendors_of_raw(raw)
            if set(its_vendors) & set(vendors):
                companies[cid] = raw
                links[cid] = its_vendors
        kinds = {**{v: OrgKind.VENDOR for v in vendors}, **{c: OrgKind.COMPANY for c in companies}}
        data = self._read(kinds, links)
        for cid, its_vendors in links.items():
            ended = self.ended_vendors(companies[cid])
            for vid in its_vendors:
                if vid in vendors:
                    status = "ended" if vid in ended else None
                    data.add(Engagement(company_id=cid, vendor_id=vid, status=status))
        return data

    def ended_vendors(self, raw: Mapping[str, Any]) -> set[str]:
        """Vendors whose engagement with this organisation has ended: tags
        ``<ended_link_tag_prefix><vendor>`` (the vendor's id, external id or name)."""
        prefix = self.settings.opts["ended_link_tag_prefix"]
        if not prefix:
            return set()
        refs = [t[len(prefix) :] for t in raw.get("tags") or [] if str(t).startswith(prefix)]
        return {vid for ref in refs if ref and (vid := self._resolve("tag", ref)) is not None}

    def load_for(self, targets: Mapping[str, OrgKind]) -> Dataset:
        """These organisations as a helpdesk beside a CRM source."""
        for oid in targets:
            self.streams.org(oid)
        return self._read(dict(targets), {})

    def _read(self, kinds: Mapping[str, OrgKind], links: Mapping[str, list[str]]) -> Dataset:
        """Organisations, users, tickets (of companies) and their metrics."""
        data = Dataset()
        members: dict[str, set[str]] = {}
        contacts: dict[str, Contact] = {}
        for oid in sorted(kinds, key=int):
            members[oid] = set()
            for user in self.streams.paginate(f"/organizations/{oid}/users", "users"):
                uid = str(user["id"])
                members[oid].add(uid)
                if uid not in contacts or str(user.get("organization_id")) == oid:
                    contacts[uid] = self.mapper.contact(user, oid)
        tickets: list[tuple[str, dict[str, Any]]] = []
        read: set[str] = set()
        reads = TicketMetrics(self.streams, self.settings)
        for oid, kind in sorted(kinds.items(), key=lambda kv: int(kv[0])):
            if kind != OrgKind.COMPANY:
                continue
            tickets.extend((oid, t) for t in reads.org_tickets(oid))
            read.add(oid)
        metrics = reads.metrics(str(t["id"]) for _, t in tickets)
        for oid, t in tickets:
            metric = metrics.get(str(t["id"]))
            data.add(self.mapper.ticket(t, oid, links.get(oid, []), members[oid], metric))
        vendors_with_data = {v for c in read for v in links.get(c, [])}
        for oid, kind in kinds.items():
            has = oid in read or oid in vendors_with_data
            extra = {"has_ticket_data": True} if has else {}
            data.add(self.mapper.organisation(self.streams.orgs[oid], kind, **extra))
        data.add(*contacts.values())
        return data

    def changed_since(self, since: datetime | None, run_started: datetime) -> ChangeSet:
        """Vendor and client organisations changed at or after ``since``: organisations
        (time-based export), tickets and users (cursor exports).  The watermark is one minute
        before ``run_started``: Zendesk leaves out the last minute's changes.  An exported
        organisation exactly as cmrules' own last write left it is no change
        (:mod:`.ownwrites`); cmrules writes no ticket and no user."""
        watermark = run_started - timedelta(seconds=60)
        ids: set[str] = set()
        if since is None:
            ids = {oid for oid, raw in self.streams.list_orgs().items() if self.mapper.kind_of(raw)}
            return ChangeSet(frozenset(ids), watermark)
        start = int(min(since, watermark).timestamp())
        seen: set[tuple[str, str]] = set()
        skipped = 0
        for raw in self.streams.export_orgs(start):
            key = (str(raw.get("id")), str(raw.get("updated_at")))
            if key in seen:
                continue
            seen.add(key)
            if self.own is not None and self.own.is_own(raw):
                skipped += 1
                continue
            self.streams.orgs[key[0]] = raw
            if self.mapper.kind_of(raw):
                ids.add(key[0])
        if self._count is not None:
            self._count("zendesk_own_writes_skipped", skipped)
        for t in self.streams.export_cursor("tickets", start):
            if t.get("organization_id"):
                ids.add(str(t["organization_id"]))
        if self.settings.opts["incremental_users"]:
            for u in self.streams.export_cursor("users", start):
                if u.get("organization_id"):
                    ids.add(str(u["organization_id"]))
        return ChangeSet(frozenset(ids), watermark)
