"""Pure mapping from Zendesk's raw organisations, users and tickets to the canonical model.

Which organisation is a vendor, which vendors a company names, a user's roles, a ticket's
side and reply metrics: all here, no I/O.  A value that cannot be parsed goes to ``warn`` and
is left unknown, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from cmrules.model import (
    ORG_ATTRIBUTES,
    Activity,
    ActivityKind,
    Contact,
    Organisation,
    OrgKind,
    Role,
    Side,
)
from cmrules.values import parse_bool, parse_datetime, parse_number

from .blocks import TAG_PREFIX, read_block, slug
from .settings import ZendeskSettings


class ZendeskMapper:
    """Maps raw records with one connector's settings (vendor tag and fields, roles)."""

    name = "zendesk"

    def __init__(
        self,
        settings: ZendeskSettings,
        warn: Callable[[str], None],
        extra_properties: Iterable[str] = (),
    ):
        self.settings = settings
        self._warn = warn
        self.extra_properties = tuple(extra_properties)  # organisation fields, by key

    def fields(self, raw: Mapping[str, Any]) -> Mapping[str, Any]:
        """An organisation's custom fields (empty when absent or malformed)."""
        fields = raw.get("organization_fields")
        return fields if isinstance(fields, Mapping) else {}

    def is_vendor(self, raw: Mapping[str, Any]) -> bool:
        """Whether an organisation is a vendor (tag or vendor field)."""
        tag = self.settings.opts["vendor_tag"]
        if tag and tag in (raw.get("tags") or []):
            return True
        field_key = self.settings.opts["vendor_field"]
        if field_key:
            value = self.fields(raw).get(field_key)
            if isinstance(value, str) and value.strip().lower() == "vendor":
                return True
            try:
                return bool(parse_bool(value))
            except ValueError:
                return False
        return False

    def vendor_references(self, raw: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(how, reference) pairs naming this organisation's vendors."""
        refs: list[tuple[str, str]] = []
        key = self.settings.opts["vendor_link_field"]
        if key:
            value = self.fields(raw).get(key)
            values = value if isinstance(value, list) else [value]
            for v in values:
                if v is not None and not isinstance(v, bool) and str(v).strip():
                    refs.extend(
                        ("field", part.strip())
                        for part in re.split(r"[,;]", str(v))
                        if part.strip()
                    )
        prefix = self.settings.opts["vendor_link_tag_prefix"]
        if prefix:
            refs.extend(
                ("tag", t[len(prefix) :])
                for t in raw.get("tags") or []
                if t.startswith(prefix) and len(t) > len(prefix)
            )
        return refs

    def kind_of(self, raw: Mapping[str, Any]) -> OrgKind | None:
        """VENDOR, COMPANY (it names a vendor) or None (not part of community management)."""
        if self.is_vendor(raw):
            return OrgKind.VENDOR
        if self.vendor_references(raw):
            return OrgKind.COMPANY
        return None

    def organisation(self, raw: Mapping[str, Any], kind: OrgKind, **attrs: Any) -> Organisation:
        """An organisation with its mapped attributes and written fingerprint."""
        domains = [d for d in raw.get("domain_names") or [] if isinstance(d, str) and d]
        block = read_block(raw.get("notes"))
        # the block and the risk tag are written in one PUT; if a person removed the tags, the
        # fingerprint is not reported so that the next run restores them
        flagged = any(str(t).startswith(f"{TAG_PREFIX}risk_") for t in raw.get("tags") or [])
        attributes: dict[str, Any] = {}
        fields = self.fields(raw)
        for attr, key in self.settings.attribute_fields.items():
            value = fields.get(key)
            try:
                parsed = parse_bool(value) if ORG_ATTRIBUTES[attr] is bool else value
            except ValueError:
                self._warn(
                    f"zendesk organisation {raw.get('id')}: field {key!r} = {value!r} is not a "
                    f"yes/no value; {attr} is treated as unknown"
                )
                parsed = None
            if parsed is not None and parsed != "":
                attributes[attr] = parsed
        attributes.update(attrs)
        return Organisation(
            id=str(raw["id"]),
            name=str(raw.get("name") or raw["id"]),
            kind=kind,
            domain=domains[0] if domains else None,
            external_id=str(raw["external_id"]) if raw.get("external_id") else None,
            attributes=attributes,
            writeback=_writeback(block.fingerprint if block and flagged else None, fields),
            waivers=_waivers(str(raw["id"]), fields),
            properties={
                p: str(fields[p]) for p in self.extra_properties if fields.get(p) not in (None, "")
            },
            source=self.name,
            updated_at=dt(raw.get("updated_at")),
        )

    def contact(self, user: Mapping[str, Any], org_id: str) -> Contact:
        """A user of ``org_id`` with roles from its role field and tags."""
        raw_fields = user.get("user_fields")
        fields: Mapping[str, Any] = raw_fields if isinstance(raw_fields, Mapping) else {}
        labels: list[str] = []
        key = self.settings.opts["role_field"]
        value = fields.get(key) if key else None
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, str):
                labels.extend(p for p in re.split(r"[,;]", v) if p.strip())
        prefix = self.settings.opts["role_tag_prefix"]
        if prefix:
            labels.extend(t[len(prefix) :] for t in user.get("tags") or [] if t.startswith(prefix))
        roles: set[Role] = set()
        for label in labels:
            role = self.settings.roles.get(slug(label))
            if role is None:
                self._warn(
                    f"zendesk: role label {label.strip()!r} maps to no role; add it under "
                    f"zendesk.roles (known: {', '.join(sorted(self.settings.roles))})"
                )
            else:
                roles.add(role)
        title_key = self.settings.opts["job_title_field"]
        title = fields.get(title_key) if title_key else None
        user_org = str(user.get("organization_id")) if user.get("organization_id") else None
        return Contact(
            id=str(user["id"]),
            name=str(user.get("name") or user["id"]),
            org_id=user_org if user_org == org_id else org_id,
            roles=frozenset(roles),
            email=user.get("email") or None,
            job_title=str(title) if title else None,
        )

    def ticket(
        self,
        ticket: Mapping[str, Any],
        org_id: str,
        vendors: Sequence[str],
        members: set[str],
        metric: Mapping[str, Any] | None,
    ) -> Activity:
        """One ticket of company ``org_id``: ``side`` is the company's when its requester is a
        member of the organisation; reply metrics in business minutes, unknown when absent."""
        requester = str(ticket["requester_id"]) if ticket.get("requester_id") is not None else None
        return Activity(
            id=str(ticket["id"]),
            kind=ActivityKind.TICKET,
            timestamp=dt(ticket.get("created_at")),
            company_id=org_id,
            vendor_id=vendors[0] if len(vendors) == 1 else None,
            side=Side.COMPANY if requester in members else Side.VENDOR,
            contact_ids=(requester,) if requester else (),
            status=ticket.get("status"),
            title=str(ticket.get("subject") or ""),
            first_reply_minutes=_business_minutes(metric, "reply_time_in_minutes"),
            replies=_count(metric, "replies"),
        )


def dt(value: Any) -> datetime | None:
    """A Zendesk timestamp as an aware datetime; unparsable or absent: None."""
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def _business_minutes(metric: Mapping[str, Any] | None, key: str) -> float | None:
    """``{calendar, business}`` minutes -> business minutes; absent / null -> None (unknown)."""
    if not metric:
        return None
    value = metric.get(key)
    if not isinstance(value, Mapping):
        return None
    try:
        number = parse_number(value.get("business"))
    except ValueError:
        return None
    return float(number) if number is not None else None


def _count(metric: Mapping[str, Any] | None, key: str) -> int | None:
    if not metric:
        return None
    try:
        number = parse_number(metric.get(key))
    except ValueError:
        return None
    return int(number) if number is not None else None


#: Organisation fields cmrules uses when they exist (created by an admin, see docs/zendesk.md).
HISTORY_FIELD = "cmrules_history"
WAIVER_FIELDS = {
    "cmrules_waived_rules": "rules", "cmrules_waiver_reason": "reason",
    "cmrules_waiver_until": "until", "cmrules_waiver_by": "by",
}  # fmt: skip


def _writeback(fingerprint: str | None, fields: Mapping[str, Any]) -> dict[str, str]:
    """The fingerprint, and the stored flag history when the organisation has the field (a
    missing field means the account keeps no history: the core then ignores it)."""
    if fingerprint is None:
        return {}
    out = {"fingerprint": fingerprint}
    if HISTORY_FIELD in fields:
        out["history"] = str(fields.get(HISTORY_FIELD) or "")
    return out


def _waivers(org_id: str, fields: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    """The waiver filled in on the organisation's fields (raw: the core validates it)."""
    raw = {key: fields.get(name) for name, key in WAIVER_FIELDS.items()}
    if not any(str(v or "").strip() for v in raw.values()):
        return ()
    where = f"zendesk organisation {org_id} (cmrules_waived_rules, …)"
    return ({**raw, "origin": "crm", "where": where},)
