"""v4 association batch read (paged per result) and batch archive."""

from __future__ import annotations

import base64
from typing import Any

from .common import SINGULAR, iso


class AssociationsMixin:
    """Mixed into :class:`hubspot_fake.portal.FakeHubSpot`."""

    def _assoc_read(
        self, from_type: str, to_type: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, str], str]:
        inputs = body.get("inputs", [])
        if len(inputs) > 1000:
            return self._error(
                400, f"Batch size {len(inputs)} exceeds the limit of 1000", "VALIDATION_ERROR"
            )
        results, errors = [], []
        table = self.assoc[(from_type, to_type)]
        for item in inputs:
            from_id = str(item["id"])
            targets = sorted(table.get(from_id, {}).items(), key=lambda kv: int(kv[0]))
            if not targets:
                errors.append(from_id)
                continue
            offset = 0
            if item.get("after"):
                offset = int(base64.b64decode(item["after"]).decode())
            page = targets[offset : offset + self.assoc_page_size]
            result: dict[str, Any] = {
                "from": {"id": from_id},
                "to": [{"toObjectId": int(t), "associationTypes": types} for t, types in page],
            }
            if offset + self.assoc_page_size < len(targets):
                token = base64.b64encode(str(offset + self.assoc_page_size).encode()).decode()
                result["paging"] = {"next": {"after": token, "link": None}}
            results.append(result)
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": iso(self.clock_ms),
            "completedAt": iso(self.clock_ms),
        }
        if errors:
            answer["numErrors"] = len(errors)
            answer["errors"] = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                    "message": f"No {SINGULAR.get(to_type, to_type)} is associated with "
                    f"{SINGULAR.get(from_type, from_type)} {i}.",
                    "context": {"fromObjectId": [i]},
                }
                for i in errors
            ]
            return self._ok(answer, 200 if self._dbv else 207)
        return self._ok(answer)

    def _assoc_archive(
        self, from_type: str, to_type: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, str], str]:
        for item in body.get("inputs", []):
            from_id = str(item["from"]["id"])
            for to in item.get("to", []):
                to_id = str(to["id"])
                self.assoc[(from_type, to_type)].get(from_id, {}).pop(to_id, None)
                self.assoc[(to_type, from_type)].get(to_id, {}).pop(from_id, None)
        self._version += 1
        if not self._dbv:
            return 204, {}, ""
        # 2026-09: 200 with a BatchResponseVoid body
        return self._ok(
            {
                "status": "COMPLETE",
                "startedAt": iso(self.clock_ms),
                "completedAt": iso(self.clock_ms),
            }
        )
