"""The properties API: groups, property definitions, enumeration options."""

from __future__ import annotations

from typing import Any

from .common import VALID_PAIRS


class PropertiesMixin:
    """Mixed into :class:`hubspot_fake.portal.FakeHubSpot`."""

    def _bad_options(self, body: Any) -> tuple[int, dict[str, str], str] | None:
        """Enumeration options: label/value/hidden always; ``displayOrder`` from 2026-09 on."""
        for option in (body or {}).get("options") or []:
            needed = ["label", "value", "hidden"] + (["displayOrder"] if self._dbv else [])
            absent = [k for k in needed if k not in option]
            if absent:
                return self._error(
                    400,
                    f"Invalid input JSON: option {option.get('value')!r} is missing "
                    + ", ".join(absent),
                    "VALIDATION_ERROR",
                )
        return None

    def _groups(
        self, method: str, object_type: str, name: str | None, body: Any
    ) -> tuple[int, dict[str, str], str]:
        if method == "GET" and name:
            group = self.groups[object_type].get(name)
            return (
                self._ok(group)
                if group
                else self._error(404, "group not found", "OBJECT_NOT_FOUND")
            )
        if method == "POST" and not name:
            denied = self._need(f"crm.schemas.{object_type}.write")
            if denied:
                return denied
            if body["name"] in self.groups[object_type]:
                return self._error(
                    409,
                    f"A property group named {body['name']} already exists",
                    "OBJECT_ALREADY_EXISTS",
                )
            self.groups[object_type][body["name"]] = {**body, "archived": False}
            return self._ok(self.groups[object_type][body["name"]], 201)
        return self._error(405, "method not allowed", "VALIDATION_ERROR")

    def _props(
        self, method: str, object_type: str, name: str | None, body: Any
    ) -> tuple[int, dict[str, str], str]:
        if method == "GET" and name:
            prop = self.properties[object_type].get(name)
            return (
                self._ok(prop)
                if prop
                else self._error(404, f"property {name} not found", "OBJECT_NOT_FOUND")
            )
        if method == "GET":
            return self._ok({"results": list(self.properties[object_type].values())})
        denied = self._need(f"crm.schemas.{object_type}.write")
        if denied:
            return denied
        bad = self._bad_options(body) if method in ("POST", "PATCH") else None
        if bad:
            return bad
        if method == "POST" and not name:
            if body["name"] in self.properties[object_type]:
                return self._error(
                    409, f"Property named '{body['name']}' already exists", "OBJECT_ALREADY_EXISTS"
                )
            if body.get("fieldType") not in VALID_PAIRS.get(body.get("type"), set()):
                return self._error(400, "invalid type/fieldType pair", "VALIDATION_ERROR")
            if body.get("groupName") not in self.groups[object_type]:
                return self._error(
                    400, f"group {body.get('groupName')} does not exist", "VALIDATION_ERROR"
                )
            self.properties[object_type][body["name"]] = dict(body)
            self._version += 1
            return self._ok(body, 201)
        if method == "PATCH" and name:
            prop = self.properties[object_type].get(name)
            if prop is None:
                return self._error(404, f"property {name} not found", "OBJECT_NOT_FOUND")
            prop.update(body)
            return self._ok(prop)
        return self._error(405, "method not allowed", "VALIDATION_ERROR")
