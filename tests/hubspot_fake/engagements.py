"""Notes and tasks: what HubSpot checks when one is created, the association types a create
may carry, and the portal's owners (``hubspot_owner_id`` must name one).

Tasks (api-facts.md H4/H5, "Notes and tasks"): ``hs_timestamp`` (the due date) is required;
``hs_task_status`` / ``hs_task_priority`` / ``hs_task_type`` are enumerations; a task created
without a status is ``NOT_STARTED``; a task set to ``COMPLETED`` gets ``hs_task_completion_date``;
task→company is HUBSPOT_DEFINED 192 (company→task 191).  Engagements use the contact scopes.
"""

from __future__ import annotations

from typing import Any

from .common import DEFAULT_TYPE, iso

TASK_STATUSES = ["NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"]
TASK_PRIORITIES = ["NONE", "LOW", "MEDIUM", "HIGH"]
TASK_TYPES = ["TODO", "CALL", "EMAIL", "LINKED_IN", "MEETING"]
BODY_LIMIT = 65536
OWNER_PROPERTY = {
    "name": "hubspot_owner_id",
    "type": "enumeration",
    "referencedObjectType": "OWNER",
    "externalOptions": True,
}


def _options(values: list[str]) -> list[dict[str, Any]]:
    return [
        {"label": v.replace("_", " ").title(), "value": v, "hidden": False, "displayOrder": i}
        for i, v in enumerate(values)
    ]


class EngagementsMixin:
    """Mixed into :class:`hubspot_fake.portal.FakeHubSpot`."""

    def _init_engagements(self) -> None:
        #: owner id -> owner (the portal's users); ``hubspot_owner_id`` must name one of them
        self.owners: dict[str, dict[str, Any]] = {}
        tasks = self.properties["tasks"]
        for name in ("hs_task_subject", "hs_task_body", "hs_task_completion_date"):
            tasks[name] = {"name": name, "type": "string"}
        tasks["hs_task_completion_date"]["type"] = "datetime"
        for name, values in (
            ("hs_task_status", TASK_STATUSES),
            ("hs_task_priority", TASK_PRIORITIES),
            ("hs_task_type", TASK_TYPES),
        ):
            tasks[name] = {"name": name, "type": "enumeration", "options": _options(values)}
        for object_type in ("companies", "tasks", "notes", "meetings", "deals"):
            self.properties[object_type]["hubspot_owner_id"] = dict(OWNER_PROPERTY)

    # -- data building ---------------------------------------------------------------------
    def owner(self, first: str, last: str, email: str, archived: bool = False) -> str:
        """A portal user who can own records and tasks; returns the owner id."""
        owner_id = str(70_000 + len(self.owners) + 1)
        self.owners[owner_id] = {
            "id": owner_id,
            "firstName": first,
            "lastName": last,
            "email": email,
            "archived": archived,
        }
        return owner_id

    def tasks_of(self, company_id: str) -> list[dict[str, Any]]:
        """The tasks associated with a company (any author, any status)."""
        return [
            self.objects["tasks"][t]
            for t in self.associated("companies", company_id, "tasks")
            if t in self.objects["tasks"]
        ]

    # -- checks ----------------------------------------------------------------------------
    def _bad_owner(self, props: dict[str, Any]) -> tuple[int, dict[str, str], str] | None:
        owner = props.get("hubspot_owner_id")
        if owner in (None, "") or (owner in self.owners and not self.owners[owner]["archived"]):
            return None
        return self._error(
            400,
            f'Property values were not valid: [{{"isValid":false,"message":"{owner} is not a '
            f'valid owner id","error":"INVALID_OWNER_ID","name":"hubspot_owner_id"}}]',
            "VALIDATION_ERROR",
        )

    def _engagement_problem(
        self, object_type: str, props: dict[str, str]
    ) -> tuple[int, dict[str, str], str] | None:
        """A note or task create HubSpot refuses (400), else None; fills in what HubSpot does."""
        body_property = {"notes": "hs_note_body", "tasks": "hs_task_body"}.get(object_type)
        if body_property is None:
            return None
        if not props.get("hs_timestamp"):
            return self._error(400, "hs_timestamp is required", "VALIDATION_ERROR")
        if len(props.get(body_property, "")) > BODY_LIMIT:
            return self._error(
                400, f"{body_property} is longer than {BODY_LIMIT} characters", "VALIDATION_ERROR"
            )
        self.properties[object_type].setdefault(
            body_property, {"name": body_property, "type": "string"}
        )
        if object_type == "tasks":
            denied = self._check_props("tasks", props)
            if denied:
                return denied
            props.setdefault("hs_task_status", "NOT_STARTED")
        return None

    def _task_updated(self, object_type: str, record: dict[str, Any]) -> None:
        """HubSpot stamps the completion date of a task set to COMPLETED."""
        props = record["properties"]
        if object_type == "tasks" and props.get("hs_task_status") == "COMPLETED":
            props.setdefault("hs_task_completion_date", iso(self.clock_ms))
        elif object_type == "tasks":
            props.pop("hs_task_completion_date", None)

    def _associate_created(
        self, object_type: str, object_id: str, associations: list[dict[str, Any]]
    ) -> tuple[int, dict[str, str], str] | None:
        """Associations sent with a create: each type id must be the HUBSPOT_DEFINED one of
        ``object_type`` → the target's type, and the target must exist (400 otherwise, the
        record is not created)."""
        links = []
        for assoc in associations:
            to_id = str(assoc["to"]["id"])
            for spec in assoc.get("types", []):
                type_id = spec.get("associationTypeId")
                to_type = next(
                    (b for (a, b), t in DEFAULT_TYPE.items() if a == object_type and t == type_id),
                    None,
                )
                if to_type is None:
                    problem = f"association type {type_id} is not valid from {object_type}"
                elif to_id not in self.objects[to_type]:
                    problem = f"{to_type.rstrip('s').replace('ie', 'y')} {to_id} does not exist"
                else:
                    links.append((to_type, to_id))
                    continue
                del self.objects[object_type][object_id]
                return self._error(400, problem, "VALIDATION_ERROR")
        for to_type, to_id in links:
            self.associate(object_type, object_id, to_type, to_id)
        return None
