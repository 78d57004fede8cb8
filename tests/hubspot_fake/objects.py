"""Object reads, creates, updates and batches (companies, contacts, deals, engagements)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from .common import SINGULAR, iso


class ObjectsMixin:
    """Mixed into :class:`hubspot_fake.portal.FakeHubSpot`."""

    def _public(
        self, object_type: str, record: dict[str, Any], wanted: Iterable[str] | None
    ) -> dict[str, Any]:
        props = record["properties"]
        if wanted is None:
            names = {"name", "domain"} if object_type == "companies" else set()
        else:
            names = set(wanted)
        modified = "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"
        created = "createdate" if object_type in ("companies", "contacts") else "hs_createdate"
        out: dict[str, Any] = {}
        for name in names | {"hs_object_id", modified, created}:
            if name not in self.properties[object_type]:
                continue  # unknown properties are silently ignored on reads
            value = props.get(name)
            if value is None or value == "":
                if self.null_style == "null":
                    out[name] = None
                continue  # "absent" style: omitted
            out[name] = value
        return {
            "id": record["id"],
            "properties": out,
            "createdAt": record["createdAt"],
            "updatedAt": record["updatedAt"],
            "archived": False,
        }

    def _batch_read(
        self, object_type: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, str], str]:
        inputs = body.get("inputs", [])
        if len(inputs) > 100:
            return self._error(
                400, f"Too many inputs: {len(inputs)}, the maximum is 100", "VALIDATION_ERROR"
            )
        if "properties" not in body or "propertiesWithHistory" not in body:
            return self._error(
                400, "properties and propertiesWithHistory are required", "VALIDATION_ERROR"
            )
        results, missing = [], []
        for item in inputs:
            record = self.objects[object_type].get(str(item["id"]))
            if record is None:
                missing.append(str(item["id"]))
            else:
                results.append(self._public(object_type, record, body["properties"]))
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": iso(self.clock_ms),
            "completedAt": iso(self.clock_ms),
        }
        if missing:
            answer["numErrors"] = 1
            answer["errors"] = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": f"Could not get some {SINGULAR[object_type]} objects, they may be "
                    "deleted or not exist. Check that ids are valid.",
                    "context": {"ids": missing},
                }
            ]
            return self._ok(answer, 200 if self._dbv else 207)
        return self._ok(answer)

    def _check_props(
        self, object_type: str, props: dict[str, Any]
    ) -> tuple[int, dict[str, str], str] | None:
        for name, value in props.items():
            definition = self.properties[object_type].get(name)
            if definition is None:
                return self._error(
                    400,
                    f'Property values were not valid: [{{"isValid":false,'
                    f'"message":"Property \\"{name}\\" does not exist",'
                    f'"error":"PROPERTY_DOESNT_EXIST","name":"{name}"}}]',
                    "VALIDATION_ERROR",
                )
            if definition.get("referencedObjectType") == "OWNER":
                denied = self._bad_owner({name: value})
                if denied:
                    return denied
            elif definition.get("type") == "enumeration" and value not in (None, ""):
                allowed = {o["value"] for o in definition.get("options", [])}
                for part in str(value).split(";"):
                    if part not in allowed:
                        return self._error(
                            400,
                            f'Property values were not valid: [{{"isValid":false,"message":'
                            f'"{part} was not one of the allowed options","error":'
                            f'"INVALID_OPTION","name":"{name}"}}]',
                            "VALIDATION_ERROR",
                        )
        return None

    def _patch(
        self, object_type: str, object_id: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, str], str]:
        record = self.objects[object_type].get(object_id)
        if record is None:
            return self._error(404, "resource not found", "OBJECT_NOT_FOUND")
        props = {k: ("" if v is None else str(v)) for k, v in body.get("properties", {}).items()}
        denied = self._check_props(object_type, props) or self._validate(
            object_type, {**record["properties"], **props}
        )
        if denied:
            return denied
        record["properties"].update(props)
        self._task_updated(object_type, record)
        self.tick(1)
        self._touch(object_type, record)
        return self._ok(self._public(object_type, record, props))

    def _batch_item_error(
        self, item: dict[str, Any], message: str, category: str, ids: list[str] | None = None
    ) -> dict[str, Any]:
        context: dict[str, list[str]] = {}
        if item.get("objectWriteTraceId") is not None:
            context["objectWriteTraceId"] = [str(item["objectWriteTraceId"])]
        if ids:
            context["ids"] = ids
        return {"status": "error", "category": category, "message": message, "context": context}

    def _batch_answer(
        self, results: list[dict[str, Any]], errors: list[dict[str, Any]], ok_status: int
    ) -> tuple[int, dict[str, str], str]:
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": list(reversed(results)),  # HubSpot does not promise the input order
            "startedAt": iso(self.clock_ms),
            "completedAt": iso(self.clock_ms),
        }
        if errors:
            answer["numErrors"] = len(errors)
            answer["errors"] = errors
            return self._ok(answer, ok_status if self._dbv else 207)  # 2026-09: no 207
        return self._ok(answer, ok_status)

    def _batch_update(
        self, object_type: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, str], str]:
        inputs = body.get("inputs", [])
        if len(inputs) > 100:
            return self._error(
                400, f"Too many inputs: {len(inputs)}, the maximum is 100", "VALIDATION_ERROR"
            )
        ids = [str(item["id"]) for item in inputs]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            return self._error(
                400,
                f"Duplicate IDs found in batch input: {repeated}. IDs must be unique",
                "VALIDATION_ERROR",
            )
        results, errors = [], []
        for item in inputs:
            object_id = str(item["id"])
            rejection = self.batch_rejections.get((object_type, object_id))
            if rejection is not None:
                errors.append(self._batch_item_error(item, *rejection))
                continue
            if object_id not in self.objects[object_type]:
                errors.append(
                    self._batch_item_error(
                        item, f"Object {object_id} not found", "OBJECT_NOT_FOUND", [object_id]
                    )
                )
                continue
            status, _, text = self._patch(object_type, object_id, item)
            if status != 200:
                error = json.loads(text)
                errors.append(self._batch_item_error(item, error["message"], error["category"]))
                continue
            results.append(json.loads(text))
        return self._batch_answer(results, errors, 200)

    def _batch_create(
        self, object_type: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, str], str]:
        inputs = body.get("inputs", [])
        if len(inputs) > 100:
            return self._error(
                400, f"Too many inputs: {len(inputs)}, the maximum is 100", "VALIDATION_ERROR"
            )
        results, errors = [], []
        for item in inputs:
            targets = [str(a["to"]["id"]) for a in item.get("associations") or []]
            rejection = next(
                (
                    self.batch_rejections[(object_type, t)]
                    for t in targets
                    if (object_type, t) in self.batch_rejections
                ),
                None,
            )
            if rejection is not None:
                errors.append(self._batch_item_error(item, *rejection))
                continue
            status, _, text = self._create(object_type, item)
            if status != 201:
                error = json.loads(text)
                errors.append(self._batch_item_error(item, error["message"], error["category"]))
                continue
            results.append(json.loads(text))
        return self._batch_answer(results, errors, 201)

    def _create(self, object_type: str, body: dict[str, Any]) -> tuple[int, dict[str, str], str]:
        props = {k: str(v) for k, v in (body.get("properties") or {}).items()}
        denied = self._validate(object_type, props)
        if denied:
            return denied
        denied = self._engagement_problem(object_type, props)
        if denied:
            return denied
        self.tick(1)
        object_id = self.add(object_type, props)
        self._task_updated(object_type, self.objects[object_type][object_id])
        denied = self._associate_created(object_type, object_id, body.get("associations") or [])
        if denied:
            return denied
        return self._ok(
            self._public(object_type, self.objects[object_type][object_id], list(props)), 201
        )

    def _list(self, object_type: str, query: dict[str, str]) -> tuple[int, dict[str, str], str]:
        limit = min(int(query.get("limit", 10)), 100)
        after = int(query.get("after", 0))
        ids = sorted(self.objects[object_type], key=int)
        page = ids[after : after + limit]
        wanted = query["properties"].split(",") if "properties" in query else None
        answer: dict[str, Any] = {
            "results": [
                self._public(object_type, self.objects[object_type][i], wanted) for i in page
            ]
        }
        if after + limit < len(ids):
            answer["paging"] = {"next": {"after": str(after + limit), "link": "?after=x"}}
        return self._ok(answer)
