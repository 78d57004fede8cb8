"""The HubSpot objects write-back needs: the ``cmrules`` company property group and the
``cmrules_*`` properties, created idempotently (``cmrules setup``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cmrules.http import HttpError

from .client import HubSpotClient
from .common import (
    PROP_EVALUATED,
    PROP_FINGERPRINT,
    PROP_FLAGS,
    PROP_HISTORY,
    PROP_RISK,
    PROP_WAIVED_RULES,
    PROP_WAIVER_BY,
    PROP_WAIVER_REASON,
    PROP_WAIVER_UNTIL,
    PROPERTY_GROUP,
    RISK_LEVELS,
)


def wanted_properties(rule_ids: list[str]) -> list[dict[str, Any]]:
    """The ``cmrules_*`` company properties write-back needs."""

    def option(value: str, label: str, order: int) -> dict[str, Any]:
        return {"label": label, "value": value, "hidden": False, "displayOrder": order}

    rule_ids = sorted(set(rule_ids))
    return [
        {
            "name": PROP_RISK,
            "label": "cmrules risk level",
            "type": "enumeration",
            "fieldType": "select",
            "groupName": PROPERTY_GROUP,
            "description": "Worst severity among the cmrules findings on this record.",
            "options": [option(v, v, i) for i, v in enumerate(RISK_LEVELS)],
        },
        {
            "name": PROP_FLAGS,
            "label": "cmrules flags",
            "type": "enumeration",
            "fieldType": "checkbox",
            "groupName": PROPERTY_GROUP,
            "description": "Ids of the cmrules rules that fired on this record.",
            "options": [option(v, v, i) for i, v in enumerate(rule_ids)],
        },
        {
            "name": PROP_EVALUATED,
            "label": "cmrules last evaluated",
            "type": "datetime",
            "fieldType": "date",
            "groupName": PROPERTY_GROUP,
            "description": "When cmrules last evaluated this record.",
        },
        {
            "name": PROP_HISTORY,
            "label": "cmrules flag history",
            "type": "string",
            "fieldType": "textarea",
            "groupName": PROPERTY_GROUP,
            "description": "When each open cmrules flag was first seen, and when flags were "
            "resolved or waived (compact JSON, written by cmrules; do not edit).",
        },
        {
            "name": PROP_WAIVED_RULES,
            "label": "cmrules waived rules",
            "type": "string",
            "fieldType": "text",
            "groupName": PROPERTY_GROUP,
            "description": "Rule ids you acknowledge until the waiver date, e.g. CMR010, CMR018 "
            "(needs a reason and a date).",
        },
        {
            "name": PROP_WAIVER_REASON,
            "label": "cmrules waiver reason",
            "type": "string",
            "fieldType": "textarea",
            "groupName": PROPERTY_GROUP,
            "description": "Why the waived flags are acceptable until the waiver date.",
        },
        {
            "name": PROP_WAIVER_UNTIL,
            "label": "cmrules waiver until",
            "type": "date",
            "fieldType": "date",
            "groupName": PROPERTY_GROUP,
            "description": "Last day of the waiver (at most 180 days ahead); the flags come back "
            "the day after.",
        },
        {
            "name": PROP_WAIVER_BY,
            "label": "cmrules waiver by",
            "type": "string",
            "fieldType": "text",
            "groupName": PROPERTY_GROUP,
            "description": "Who decided the waiver (shown in the note).",
        },
        {
            "name": PROP_FINGERPRINT,
            "label": "cmrules fingerprint",
            "type": "string",
            "fieldType": "text",
            "groupName": PROPERTY_GROUP,
            "description": "Fingerprint of the last cmrules note (used to skip unchanged "
            "records; do not edit).",
        },
    ]


def setup_properties(
    client: HubSpotClient,
    rule_ids: list[str],
    dry_run: bool,
    object_type: str = "companies",
    properties: list[dict[str, Any]] | None = None,
) -> list[str]:
    """Create the ``cmrules`` company property group and properties, idempotently.

    Without ``dry_run``: POST each; a 409 means it exists, so GET it and compare; missing
    ``cmrules_flags`` options (new rule ids) are added with one PATCH.  With ``dry_run``:
    GETs only, and the lines say what would be done.
    """
    plan: list[str] = []
    if not rule_ids:
        plan.append(
            "warning: no rule ids given: cmrules_flags gets no options (the core sets "
            "connector.rule_ids, or set hubspot.rule_ids)"
        )
    base = client.api.properties_path(object_type)
    group = {"name": PROPERTY_GROUP, "label": "cmrules", "displayOrder": -1}
    if dry_run:
        exists = _get_or_none(client, f"{base}/groups/{PROPERTY_GROUP}") is not None
    else:
        exists = _create_or_conflict(client, f"{base}/groups", group)
    plan.append(
        ("" if object_type == "companies" else f"{object_type}: ")
        + f"property group {PROPERTY_GROUP}: "
        + ("exists" if exists else "would be created" if dry_run else "created")
    )
    for wanted in wanted_properties(rule_ids) if properties is None else properties:
        name = wanted["name"]
        if not dry_run and not _create_or_conflict(client, base, wanted):
            plan.append(f"property {name}: created ({wanted['type']}/{wanted['fieldType']})")
            continue
        current = _get_or_none(client, f"{base}/{name}")
        if current is None:
            plan.append(
                f"property {name}: would be created ({wanted['type']}/{wanted['fieldType']}"
                + (f", {len(wanted['options'])} options" if "options" in wanted else "")
                + ")"
            )
            continue
        plan.extend(_compare_property(client, base, wanted, current, dry_run))
    return plan


def _compare_property(
    client: HubSpotClient,
    base: str,
    wanted: Mapping[str, Any],
    current: Mapping[str, Any],
    dry_run: bool,
) -> list[str]:
    name = wanted["name"]
    lines = []
    for key in ("type", "fieldType", "groupName"):
        if current.get(key) != wanted[key]:
            lines.append(
                f"property {name}: DIFFERENT {key}: HubSpot has {current.get(key)!r}, cmrules "
                f"needs {wanted[key]!r}; fix it in HubSpot (Settings > Properties) — "
                "cmrules does not change existing property types"
            )
    if "options" in wanted:
        have = [o for o in current.get("options") or [] if isinstance(o, dict)]
        have_values = {o.get("value") for o in have}
        missing = [o for o in wanted["options"] if o["value"] not in have_values]
        extra = sorted(str(v) for v in have_values - {o["value"] for o in wanted["options"]} if v)
        if missing:
            names = ", ".join(o["value"] for o in missing)
            if dry_run:
                lines.append(f"property {name}: would add options {names}")
            else:
                # 2026-09 refuses an option without displayOrder, kept ones included
                options = [
                    {"hidden": False, **o, "displayOrder": _order(o, i)} for i, o in enumerate(have)
                ] + [{**o, "displayOrder": len(have) + i} for i, o in enumerate(missing)]
                client.request("PATCH", f"{base}/{name}", json_body={"options": options})
                lines.append(f"property {name}: added options {names}")
        if extra:
            lines.append(
                f"property {name}: keeps options not in the current rules ({', '.join(extra)})"
            )
    if not lines:
        lines.append(f"property {name}: exists, up to date")
    return lines


def _order(option: Mapping[str, Any], index: int) -> int:
    value = option.get("displayOrder")
    return value if isinstance(value, int) and not isinstance(value, bool) else index


def _get_or_none(client: HubSpotClient, path: str) -> dict[str, Any] | None:
    try:
        answer = client.request("GET", path)
    except HttpError as exc:
        if exc.status == 404:
            return None
        raise
    return answer if isinstance(answer, dict) else None


def _create_or_conflict(client: HubSpotClient, path: str, body: Mapping[str, Any]) -> bool:
    """POST; True when it already existed (409), False when created."""
    try:
        client.request("POST", path, json_body=dict(body))
    except HttpError as exc:
        if exc.status == 409:
            return True
        raise
    return False
