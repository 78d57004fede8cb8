"""Open deals as prospects (issue #15): the deals in the configured pipelines and stages, each
with its company and contacts, read as a prospect; its readiness note written on the deal (and
its company) and the ``cmrules_*`` deal properties a sales team filters its pipeline on.

Crash-safe like the company write-back: the note is looked for by its ``cmrules:<fingerprint>``
footer (v4 associations + notes batch read, never search) before one is created, and the
fingerprint lands last, with the other deal properties.  A kill between the note and the
properties leaves a deal whose fingerprint is not stored: the rerun finds the note and only
writes the properties.  A deal moved out of the configured stages is no longer read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from cmrules.connector import ApplyOutcome, Flags, RenderedNote
from cmrules.errors import ConnectorError, WriteError
from cmrules.http import HttpError
from cmrules.model import ENGAGEMENT_ATTRIBUTES, Dataset, Engagement, Organisation, OrgKind
from cmrules.values import to_epoch_ms

from .common import (
    FOOTER_RE,
    NOTE_TO_COMPANY,
    PROP_EVALUATED,
    PROP_FINGERPRINT,
    PROP_HISTORY,
    id_key,
    str_id,
)
from .mappers import HubSpotMapper
from .payloads import note_input
from .settings import HubSpotSettings
from .streams import HubSpotStreams

DEAL_SOURCE = "hubspot-deal"  # Organisation.source of a deal read as a prospect
NOTE_TO_DEAL = 214
PROP_READINESS = "cmrules_readiness"
PROP_BLOCKERS = "cmrules_blockers"
PROP_QUESTIONS = "cmrules_open_questions"
READINESS_LEVELS = ("ready", "ready_with_conditions", "not_ready")
_DEAL_PROPS = ("dealname", "pipeline", "dealstage", PROP_FINGERPRINT, PROP_HISTORY)


def deal_properties(rule_ids: list[str]) -> list[dict[str, Any]]:
    """The ``cmrules_*`` deal properties (``cmrules setup``): readiness, blockers, open
    questions, last evaluated, history, fingerprint."""

    def option(value: str, order: int) -> dict[str, Any]:
        return {"label": value, "value": value, "hidden": False, "displayOrder": order}

    def prop(name: str, label: str, kind: str, field: str, doc: str, **extra: Any) -> Any:
        return {"name": name, "label": label, "type": kind, "fieldType": field,
                "groupName": "cmrules", "description": doc, **extra}  # fmt: skip

    return [
        prop(PROP_READINESS, "cmrules readiness", "enumeration", "select",
             "Readiness before signing: ready, ready with conditions, not ready yet.",
             options=[option(v, i) for i, v in enumerate(READINESS_LEVELS)]),
        prop(PROP_BLOCKERS, "cmrules blockers", "enumeration", "checkbox",
             "Ids of the cmrules rules blocking the signature.",
             options=[option(v, i) for i, v in enumerate(sorted(set(rule_ids)))]),
        prop(PROP_QUESTIONS, "cmrules open questions", "number", "number",
             "Questions to ask at the next meeting (criteria not assessed yet)."),
        prop(PROP_EVALUATED, "cmrules last evaluated", "datetime", "date",
             "When cmrules last evaluated this deal."),
        prop(PROP_HISTORY, "cmrules flag history", "string", "textarea",
             "When each blocker was first seen and when it was cleared (compact JSON, written "
             "by cmrules; do not edit)."),
        prop(PROP_FINGERPRINT, "cmrules fingerprint", "string", "text",
             "Fingerprint of the last cmrules note (used to skip unchanged deals; do not edit)."),
    ]  # fmt: skip


def readiness_values(flags: Flags) -> dict[str, str]:
    """The deal property values for ``flags`` (the fingerprint last)."""
    return {
        PROP_READINESS: flags.readiness,
        PROP_BLOCKERS: ";".join(sorted(set(flags.rule_ids))),
        PROP_QUESTIONS: str(flags.open_questions),
        PROP_EVALUATED: str(to_epoch_ms(flags.evaluated_at)),
        PROP_HISTORY: flags.history,
        PROP_FINGERPRINT: flags.fingerprint,
    }


class HubSpotDeals:
    """Read open deals as prospects; write their notes and readiness properties."""

    def __init__(
        self,
        options: HubSpotSettings,
        client: Any,
        streams: HubSpotStreams,
        mapper: HubSpotMapper,
        warn: Callable[[str], None],
    ):
        self.options = options
        self.client = client
        self.streams = streams
        self.mapper = mapper
        self._warn = warn
        self._company_of: dict[str, str] = {}  # deal id -> its company, once loaded

    @property
    def enabled(self) -> bool:
        """Deals are read only when ``deal_stages`` is configured."""
        return bool(self.options.deal_stages)

    def in_scope(self, props: Mapping[str, Any]) -> bool:
        """Open, in a configured stage (and pipeline, when pipelines are configured)."""
        pipes = self.options.deal_pipelines
        return (
            self.enabled
            and props.get("dealstage") in self.options.deal_stages
            and (not pipes or props.get("pipeline") in pipes)
        )

    def _scope_filters(self) -> list[dict[str, Any]]:
        out = [{"propertyName": "dealstage", "operator": "IN", "values": self.options.deal_stages}]
        if self.options.deal_pipelines:
            out.append(
                {
                    "propertyName": "pipeline",
                    "operator": "IN",
                    "values": self.options.deal_pipelines,
                }
            )
        return out

    def _props(self) -> list[str]:
        return [*_DEAL_PROPS, *self.options.engagement_attrs.values()]

    def find(self, text: str) -> list[Organisation]:
        """Open deals in scope whose id is ``text`` or whose name contains it."""
        if not self.enabled:
            return []
        text = text.strip()
        if text.isdigit():
            found = self.streams.batch_read("deals", [text], self._props(), quiet=True)
        else:
            found = {
                str_id(d["id"]): d.get("properties") or {}
                for d in self.streams.search(
                    "deals",
                    self._scope_filters(),
                    self._props(),
                    max_results=200,
                    query=text or None,
                )  # fmt: skip
            }
        return [
            Organisation(
                i, str(p.get("dealname") or f"(deal {i})"), OrgKind.COMPANY, source=DEAL_SOURCE
            )  # fmt: skip
            for i, p in sorted(found.items(), key=lambda kv: id_key(kv[0]))
            if self.in_scope(p)
        ]

    def changed(self, since: datetime | None) -> list[str]:
        """Deals in scope modified at or after ``since`` (all of them without a watermark)."""
        if not self.enabled:
            return []
        filters = self._scope_filters()
        if since is not None:
            filters.append(
                {
                    "propertyName": "hs_lastmodifieddate",
                    "operator": "GTE",
                    "value": to_epoch_ms(since),
                }  # fmt: skip
            )
        found = self.streams.search("deals", filters, ["hs_lastmodifieddate"])
        return [str_id(d["id"]) for d in found]

    def load(self, deal_ids: Iterable[str]) -> Dataset:
        """Each deal in scope as a prospect: the deal's name, its company's attributes, its
        contacts (buying roles, job titles) and the activities associated with the deal."""
        data = Dataset()
        deals = {
            i: p
            for i, p in self.streams.batch_read("deals", list(deal_ids), self._props()).items()
            if self.in_scope(p)
        }
        if not deals:
            return data
        ids = sorted(deals, key=id_key)
        companies = self.streams.associations("deals", "companies", ids)
        company_of = {d: sorted((t.id for t in companies.get(d, [])), key=id_key) for d in ids}
        records = self.streams.batch_read(
            "companies", {c[0] for c in company_of.values() if c}, self.mapper.company_properties()
        )
        people = self.streams.associations("deals", "contacts", ids)
        contacts = self.streams.batch_read(
            "contacts", {t.id for ts in people.values() for t in ts},
            self.mapper.contact_properties(),
        )  # fmt: skip
        for deal in ids:
            props = deals[deal]
            company = company_of[deal][0] if company_of[deal] else None
            base = (
                self.mapper.organisation(company, records[company], OrgKind.COMPANY)
                if company in records
                else None
            )
            if company is not None:
                self._company_of[deal] = company
            data.add(
                Organisation(
                    deal,
                    str(props.get("dealname") or f"(deal {deal})"),
                    OrgKind.COMPANY,
                    attributes=dict(base.attributes) if base else {},
                    writeback={
                        "fingerprint": props.get(PROP_FINGERPRINT) or "",
                        "history": props.get(PROP_HISTORY) or "",
                    },
                    properties=dict(base.properties) if base else {},
                    source=DEAL_SOURCE,
                )  # fmt: skip
            )
            attrs = self.mapper.attrs(
                f"deal {deal}", props, self.options.engagement_attrs, ENGAGEMENT_ATTRIBUTES
            )
            data.add(Engagement(deal, "", attributes=attrs, status="prospect"))
            contact_org: dict[str, str] = {}
            for target in people.get(deal, []):
                if target.id in contacts:
                    data.add(
                        self.mapper.contact(
                            target.id, contacts[target.id], deal, "company", target.labels
                        )
                    )
                    contact_org[target.id] = deal
            self._activities(data, deal, contact_org)
        return data

    def _activities(self, data: Dataset, deal: str, contact_org: Mapping[str, str]) -> None:
        for object_type in self.options.activity_types:
            linked = [t.id for t in self.streams.associations("deals", object_type, [deal]).get(
                deal, [])]  # fmt: skip
            if not linked:
                continue
            records = self.streams.batch_read(
                object_type, linked, self.mapper.activity_properties(object_type)
            )
            attendees = self.streams.associations(object_type, "contacts", list(records))
            for activity_id in sorted(records, key=id_key):
                props = records[activity_id]
                if object_type == "notes" and FOOTER_RE.search(props.get("hs_note_body") or ""):
                    continue  # cmrules' own notes are output, not evidence
                people = tuple(sorted({t.id for t in attendees.get(activity_id, [])}, key=id_key))
                data.add(
                    self.mapper.activity(
                        object_type, activity_id, props, deal, set(), people, contact_org, False
                    )
                )

    # -- writing -------------------------------------------------------------------------------
    def apply(self, note: RenderedNote) -> ApplyOutcome:
        """The note (found by its footer, else created on the deal and its company), then the
        deal properties with the fingerprint."""
        deal = note.subject.id
        try:
            created = False
            if not self.note_exists(deal, note.fingerprint):
                self._create_note(note)
                created = True
            self.client.request(
                "PATCH",
                self.client.api.objects_path("deals", f"/{deal}"),
                json_body={"properties": readiness_values(note.flags)},
            )
        except (HttpError, ConnectorError) as exc:
            if isinstance(exc, HttpError) and exc.status in (401, 403):
                raise
            return ApplyOutcome(error=WriteError(f"HubSpot deal {deal}: {exc}"))
        return ApplyOutcome(created=created)

    def note_exists(self, deal: str, fingerprint: str) -> bool:
        """True when the deal carries a note with this fingerprint in its footer (v4
        associations + notes batch read: never search, it lags)."""
        notes = [t.id for t in self.streams.associations("deals", "notes", [deal]).get(deal, [])]
        bodies = self.streams.batch_read("notes", notes, ["hs_note_body"]) if notes else {}
        return any(
            (m := FOOTER_RE.search(p.get("hs_note_body") or "")) and m.group(1) == fingerprint
            for p in bodies.values()
        )

    def _create_note(self, note: RenderedNote) -> None:
        """The note, associated with the deal (214) and, when known, its company (190)."""
        body = note_input(note)
        targets = [(note.subject.id, NOTE_TO_DEAL)]
        company = self._company_of.get(note.subject.id)
        if company is not None:
            targets.append((company, NOTE_TO_COMPANY))
        body["associations"] = [
            {
                "to": {"id": to},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": kind}],
            }  # fmt: skip
            for to, kind in targets
        ]
        self.client.request("POST", self.client.api.objects_path("notes"), json_body=body)
