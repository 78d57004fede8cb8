"""Pure mapping from HubSpot's raw property dicts to the canonical model (no I/O).

Where a HubSpot meeting, email, call or note becomes an :class:`~cmrules.model.Activity`
(its kind, side, status and tags), where a company becomes an
:class:`~cmrules.model.Organisation` and a contact gets its roles: all here.  A value that
cannot be parsed is reported through ``warn`` and left unknown (``None``), never guessed.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from cmrules.model import (
    CONTACT_ATTRIBUTES,
    ORG_ATTRIBUTES,
    TAG_ONBOARDING,
    TAG_STRATEGY,
    Activity,
    ActivityKind,
    Contact,
    Organisation,
    OrgKind,
    Role,
    Side,
)
from cmrules.values import parse_bool, parse_datetime, parse_multi, parse_number

from .common import FLAG_PROPERTIES, PROP_OWNER, WAIVER_PROPERTIES, WRITEBACK_KEYS, id_key
from .settings import ACTIVITY_TYPES, HubSpotSettings, fold

_TAG_RE = re.compile(r"<[^>]*>")
_SPACE_RE = re.compile(r"[ \t\r\f\v]+")


def html_to_text(value: str) -> str:
    """Plain text of a HubSpot rich-text value: tags dropped, entities decoded, lines kept."""
    text = re.sub(r"(?i)<\s*(br|/p|/div|/li|/h\d)\s*/?>", "\n", value)
    text = html_lib.unescape(_TAG_RE.sub("", text))
    return "\n".join(_SPACE_RE.sub(" ", line).strip() for line in text.splitlines()).strip()


class HubSpotMapper:
    """Maps raw records with one connector's settings (vendor filter, roles, keywords)."""

    name = "hubspot"

    def __init__(
        self,
        settings: HubSpotSettings,
        warn: Callable[[str], None],
        extra_properties: Iterable[str] = (),
    ):
        self.settings = settings
        self._warn = warn
        self.extra_properties = tuple(extra_properties)  # into Organisation.properties

    def company_properties(self) -> list[str]:
        """Company properties to request: name, domain, vendor filter, flags, mapped attributes."""
        props = {
            "name",
            "domain",
            "hs_lastmodifieddate",
            self.settings.vendor_property,
            *FLAG_PROPERTIES,
            *WAIVER_PROPERTIES,
            PROP_OWNER,  # data-gap tasks are assigned to the company owner
        }
        props |= set(self.settings.org_attrs.values()) | set(
            self.settings.engagement_attrs.values()
        )
        if self.settings.engagement_started_property:
            props.add(self.settings.engagement_started_property)
        if self.settings.external_id_property:
            props.add(self.settings.external_id_property)
        props.update(self.extra_properties)
        return sorted(props)

    def contact_properties(self) -> list[str]:
        """Contact properties to request: name, email, job title, buying role, mapped attributes."""
        props = {"firstname", "lastname", "email", "jobtitle", "hs_buying_role"}
        return sorted(props | set(self.settings.contact_attrs.values()))

    def activity_properties(self, object_type: str) -> list[str]:
        """Properties to request for one activity type (title, body, time, status)."""
        spec = ACTIVITY_TYPES[object_type]
        props = {spec["body"], *spec["time"], *spec["extra"], "hs_lastmodifieddate"}
        for key in ("title", "status"):
            if spec[key]:
                props.add(spec[key])
        for extra in (
            self.settings.proposal_status_property,
            self.settings.proposal_decided_property,
        ):
            if extra:
                props.add(extra)
        return sorted(props)

    def is_vendor(self, props: Mapping[str, Any]) -> bool:
        """Whether a company's properties match the vendor filter."""
        values = parse_multi(props.get(self.settings.vendor_property))
        return any(v in self.settings.vendor_values for v in values)

    # -- value parsing -------------------------------------------------------------------------
    def typed(self, where: str, name: str, kind: type, raw: Any) -> Any:
        """``raw`` parsed as ``kind``; unparsable: a warning and ``None`` (unknown)."""
        try:
            if kind is bool:
                return parse_bool(raw)
            if kind is datetime:
                return parse_datetime(raw)
            if kind in (int, float):
                return parse_number(raw)
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                return None
            return str(raw)
        except ValueError as exc:
            self._warn(f"HubSpot {where}: attribute {name!r} ignored: {exc}")
            return None

    def attrs(
        self,
        where: str,
        props: Mapping[str, Any],
        mapping: Mapping[str, str],
        types: Mapping[str, type],
    ) -> dict[str, Any]:
        """cmrules attributes from mapped properties, typed; blanks left out (unknown)."""
        out = {}
        for name, prop in mapping.items():
            value = self.typed(where, name, types[name], props.get(prop))
            if value is not None:
                out[name] = value
        return out

    def organisation(
        self, company_id: str, props: Mapping[str, Any], kind: OrgKind
    ) -> Organisation:
        """A company as an Organisation, with its write-back properties (fingerprint)."""
        where = f"company {company_id}"
        name = (props.get("name") or "").strip() or f"(unnamed company {company_id})"
        writeback = {
            key: str(props[prop])
            for prop, key in WRITEBACK_KEYS.items()
            if props.get(prop) not in (None, "")
        }
        try:
            updated = parse_datetime(props.get("hs_lastmodifieddate"))
        except ValueError:
            updated = None
        return Organisation(
            id=company_id,
            name=name,
            kind=kind,
            domain=(props.get("domain") or None),
            external_id=(
                str(props.get(self.settings.external_id_property) or "").strip() or None
                if self.settings.external_id_property
                else None
            ),
            attributes=self.attrs(where, props, self.settings.org_attrs, ORG_ATTRIBUTES),
            writeback=writeback,
            waivers=_waivers(company_id, props),
            properties={
                p: str(props[p])
                for p in (*self.extra_properties, PROP_OWNER)
                if props.get(p) not in (None, "")
            },
            source=self.name,
            updated_at=updated,
        )

    # -- roles ---------------------------------------------------------------------------------
    def roles_for(
        self,
        side: str,
        job_title: str | None,
        buying_roles: Iterable[str] = (),
        labels: Iterable[str] = (),
    ) -> frozenset[Role]:
        """Canonical roles from association labels, ``hs_buying_role`` values and job-title
        keywords (``side`` is "company" or "vendor": the keyword lists differ)."""
        roles: set[Role] = set()
        for label in labels:
            role = self.settings.role_labels.get(fold(label).strip())
            if role is not None:
                roles.add(role)
        for value in buying_roles:
            role = self.settings.buying_roles.get(value.strip()) or self.settings.buying_roles.get(
                value.upper()
            )
            if role is not None:
                roles.add(role)
        if job_title:
            folded = fold(job_title)
            for role, pattern in self.settings.job_titles.get(side, []):
                if pattern.search(folded):
                    roles.add(role)
        return frozenset(roles)

    def activity(
        self,
        object_type: str,
        activity_id: str,
        props: Mapping[str, Any],
        company: str,
        vendors: set[str],
        contacts: tuple[str, ...],
        contact_org: Mapping[str, str],
        multi: bool,
    ) -> Activity:
        """Map one engagement.  Side heuristic: ``vendor`` when an associated contact (meeting
        attendee, email recipient…) belongs to a vendor of this client, ``company`` when
        associated contacts exist but none is a vendor's, ``None`` (unknown) with no contacts."""
        spec = ACTIVITY_TYPES[object_type]
        where = f"{object_type[:-1]} {activity_id}"
        body = html_to_text(str(props.get(spec["body"]) or ""))
        if spec["title"]:
            title = str(props.get(spec["title"]) or "").strip()
        else:
            title = body.split("\n", 1)[0][:200]
        text = fold(f"{title}\n{body}")
        folded_title = fold(title) or fold(body.split("\n", 1)[0])

        timestamp = None
        for prop in spec["time"]:
            timestamp = self.typed(where, prop, datetime, props.get(prop))
            if timestamp is not None:
                break

        kind: ActivityKind = spec["kind"]
        status: str | None = None
        if spec["status"] and props.get(spec["status"]):
            status = str(props[spec["status"]]).strip().lower()
        decided_at = None
        if self.settings.patterns["proposal_pattern"].search(folded_title):
            kind = ActivityKind.PROPOSAL
            status = self.proposal_status(props, text)
            if self.settings.proposal_decided_property:
                decided_at = self.typed(
                    where,
                    self.settings.proposal_decided_property,
                    datetime,
                    props.get(self.settings.proposal_decided_property),
                )
        elif self.settings.patterns["offer_change_pattern"].search(folded_title):
            kind = ActivityKind.OFFER_CHANGE
        elif self.settings.patterns["report_pattern"].search(folded_title):
            kind = ActivityKind.REPORT
        tags = set()
        if self.settings.patterns["strategy_pattern"].search(text):
            tags.add(TAG_STRATEGY)
        if self.settings.patterns["onboarding_pattern"].search(text):
            tags.add(TAG_ONBOARDING)

        vendor_contacts = [c for c in contacts if contact_org.get(c) in vendors]
        if vendor_contacts:
            side: Side | None = Side.VENDOR
            vendor_id: str | None = sorted({contact_org[c] for c in vendor_contacts}, key=id_key)[0]
        else:
            side = Side.COMPANY if contacts else None
            vendor_id = next(iter(vendors)) if len(vendors) == 1 else None
        return Activity(
            id=f"{activity_id}:{company}" if multi else activity_id,
            kind=kind,
            timestamp=timestamp,
            company_id=company,
            vendor_id=vendor_id,
            side=side,
            contact_ids=contacts,
            status=status,
            decided_at=decided_at,
            tags=frozenset(tags),
            title=title,
        )

    def proposal_status(self, props: Mapping[str, Any], text: str) -> str:
        """From ``proposal_status_property`` when set on the record, else from keywords in the
        title/body; the keyword that appears last wins ("rejected, then accepted")."""
        sources = []
        if self.settings.proposal_status_property and props.get(
            self.settings.proposal_status_property
        ):
            sources.append(fold(str(props[self.settings.proposal_status_property])))
        sources.append(text)
        for source in sources:
            best: tuple[int, str] | None = None
            for status, pattern in self.settings.status_keywords:
                for match in pattern.finditer(source):
                    if best is None or match.start() >= best[0]:
                        best = (match.start(), status)
            if best is not None:
                return best[1]
        return "proposed"

    def contact(
        self,
        contact_id: str,
        props: Mapping[str, Any],
        org: str,
        side: str,
        labels: Sequence[str],
    ) -> Contact:
        """One contact of ``org``; ``side`` ("company" or "vendor") picks the job-title
        keywords, ``labels`` are its association labels."""
        name = " ".join(
            p.strip()
            for p in (props.get("firstname") or "", props.get("lastname") or "")
            if p and p.strip()
        ) or (props.get("email") or f"(contact {contact_id})")
        job_title = (props.get("jobtitle") or "").strip() or None
        return Contact(
            id=contact_id,
            name=name,
            org_id=org,
            roles=self.roles_for(side, job_title, parse_multi(props.get("hs_buying_role")), labels),
            email=(props.get("email") or None),
            job_title=job_title,
            attributes=self.attrs(
                f"contact {contact_id}", props, self.settings.contact_attrs, CONTACT_ATTRIBUTES
            ),
        )


def _waivers(company_id: str, props: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    """The waiver the salesperson filled in on the company (raw: the core validates it)."""
    raw = {key: props.get(prop) for prop, key in WAIVER_PROPERTIES.items()}
    if not any(str(v or "").strip() for v in raw.values()):
        return ()
    until = raw.get("until")
    if isinstance(until, str) and until.strip().isdigit():  # a date property as epoch ms
        until = parse_datetime(until.strip())
    where = f"HubSpot company {company_id} (cmrules_waived_rules, …)"
    return ({**raw, "until": until, "origin": "crm", "where": where},)
