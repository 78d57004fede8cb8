"""The CRM search endpoint: filter groups, operators, sorts, paging and its 10,000 cap."""

from __future__ import annotations

import json
from typing import Any

from .common import _ms


class SearchMixin:
    """Mixed into :class:`hubspot_fake.portal.FakeHubSpot`."""

    def _search(self, object_type: str, body: dict[str, Any]) -> tuple[int, dict[str, str], str]:
        groups = body.get("filterGroups") or []
        if (
            len(groups) > 5
            or any(len(g.get("filters", [])) > 6 for g in groups)
            or sum(len(g.get("filters", [])) for g in groups) > 18
        ):
            return self._error(400, "too many filters", "VALIDATION_ERROR")
        sorts = body.get("sorts") or []
        if len(sorts) > 1:
            return self._error(400, "only one sort is allowed", "VALIDATION_ERROR")
        limit = int(body.get("limit", 10))
        if limit > 200:
            return self._error(400, "limit must be at most 200", "VALIDATION_ERROR")
        after = int(body.get("after", 0) or 0)
        if after >= 10_000:
            return self._error(400, "Paging past 10000 results is not allowed", "VALIDATION_ERROR")
        if len(body.get("query") or "") > 3000:
            return self._error(400, "query is too long", "VALIDATION_ERROR")
        key = (
            json.dumps(
                {k: v for k, v in body.items() if k not in ("after", "limit")}, sort_keys=True
            )
            + f"|{object_type}|{self._version}"
        )
        matches = self._search_cache.get(key)
        if matches is None:
            matches = [
                r
                for r in self.objects[object_type].values()
                if self._matches(object_type, r, groups, body.get("query"))
            ]
            if sorts:
                sort = sorts[0]
                if isinstance(sort, str):
                    name, desc = sort.lstrip("-"), sort.startswith("-")
                else:
                    name, desc = sort["propertyName"], sort.get("direction") == "DESCENDING"

                def sort_key(r: dict[str, Any]) -> tuple[int, float | str]:
                    v = r["properties"].get(name)
                    n = _ms(v)
                    return (0, n) if n is not None else (1, str(v or ""))

                matches.sort(key=sort_key, reverse=desc)
            else:
                matches.sort(
                    key=lambda r: (
                        _ms(
                            r["properties"].get("createdate")
                            or r["properties"].get("hs_createdate")
                        )
                        or 0,
                        int(r["id"]),
                    )
                )
            self._search_cache = {key: matches}
        page = matches[after : after + limit]
        wanted = body.get("properties") or None
        answer: dict[str, Any] = {
            "total": len(matches),
            "results": [self._public(object_type, r, wanted) for r in page],
        }
        if after + limit < len(matches):
            answer["paging"] = {"next": {"after": str(after + limit)}}
        return self._ok(answer)

    def _matches(
        self,
        object_type: str,
        record: dict[str, Any],
        groups: list[dict[str, Any]],
        query: str | None,
    ) -> bool:
        props = record["properties"]
        if query:
            hay = " ".join(
                str(props.get(p) or "")
                for p in (
                    "name",
                    "domain",
                    "website",
                    "phone",
                    "firstname",
                    "lastname",
                    "email",
                    "dealname",
                )  # fmt: skip
            ).lower()
            if not all(tok in hay for tok in query.lower().split()):
                return False
        if not groups:
            return True
        return any(
            all(self._filter(object_type, props, f) for f in g.get("filters", [])) for g in groups
        )

    def _filter(self, object_type: str, props: dict[str, Any], f: dict[str, Any]) -> bool:
        name, op = f["propertyName"], f["operator"]
        value = props.get(name)
        if op == "HAS_PROPERTY":
            return value not in (None, "")
        if op == "NOT_HAS_PROPERTY":
            return value in (None, "")
        if value in (None, ""):
            return op in ("NEQ", "NOT_IN", "NOT_CONTAINS_TOKEN")
        definition = self.properties[object_type].get(name, {})
        enum = definition.get("type") == "enumeration"
        if op in ("IN", "NOT_IN"):
            values = [str(v) for v in f.get("values", [])]
            hit = str(value) in values if enum else str(value).lower() in values
            return hit if op == "IN" else not hit
        target = f.get("value")
        if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            token = str(target).lower().replace("*", "")
            hit = token in str(value).lower()
            return hit if op == "CONTAINS_TOKEN" else not hit
        a, b = _ms(value), _ms(target)
        if a is not None and b is not None:
            left: Any
            right: Any
            left, right = a, b
        elif enum:
            left, right = str(value), str(target)
        else:
            left, right = str(value).lower(), str(target).lower()
        return {
            "EQ": left == right,
            "NEQ": left != right,
            "GT": left > right,
            "GTE": left >= right,
            "LT": left < right,
            "LTE": left <= right,
        }[op]
