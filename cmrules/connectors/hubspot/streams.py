"""Raw reads from HubSpot: object batch reads, v4 association batch reads and searches.

Each function returns raw property dicts or association targets, batched at the API's
limits and paged until exhausted; none of them builds model objects (that is
:mod:`.mappers`).  Problems that do not stop the read (ids HubSpot does not know) go to the
``warn`` callback.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from cmrules.connector import ConnectorContext
from cmrules.paging import LoopGuard, Page, search_windows
from cmrules.progress import Counter

from .client import HubSpotClient
from .common import (
    ASSOC_BATCH_LIMIT,
    BATCH_READ_LIMIT,
    SEARCH_CAP,
    SEARCH_PAGE_LIMIT,
    chunks,
    id_key,
    scrub,
    shape,
    str_id,
)

log = logging.getLogger("cmrules.connectors.hubspot")
#: the progress phase of reading each object type (engagement objects are activities)
_PHASES = {"companies": "companies", "contacts": "contacts", "deals": "deals", "tasks": "tasks"}


@dataclass(frozen=True)
class AssocTarget:
    """One associated record: its id, its association labels and type ids."""

    id: str
    labels: tuple[str, ...]  # non-null labels, as HubSpot spells them
    type_ids: tuple[int, ...]


class HubSpotStreams:
    """Batched, paged reads of one object type at a time."""

    def __init__(
        self,
        client: HubSpotClient,
        warn: Callable[[str], None],
        context: ConnectorContext | None = None,
    ):
        self.client = client
        self._warn = warn
        self.context = context or ConnectorContext()

    def _progress(self, object_type: str, total: int | None = None) -> Counter:
        """Records read of ``object_type``, reported to the run's progress callback."""
        name = _PHASES.get(object_type, "activities")
        emit = None if total == 0 else self.context.progress  # nothing to read: say nothing
        return Counter(emit, name, "records", total)

    def batch_read(
        self,
        object_type: str,
        ids: Iterable[str],
        properties: Iterable[str],
        quiet: bool = False,
    ) -> dict[str, dict[str, Any]]:
        """id -> properties, 100 ids per call; ids HubSpot does not know are reported, not fatal
        (``quiet``: not even reported, for look-ups where an unknown id is an expected answer)."""
        unique = sorted(set(ids), key=id_key)
        props = sorted(set(properties))
        records: dict[str, dict[str, Any]] = {}
        path = self.client.api.objects_path(object_type, "/batch/read")
        progress = self._progress(object_type, len(unique))
        for chunk in chunks(unique, BATCH_READ_LIMIT):
            body = self.client.request(
                "POST",
                path,
                params={"archived": "false"},
                json_body={
                    "inputs": [{"id": i} for i in chunk],
                    "properties": props,
                    "propertiesWithHistory": [],
                },
            )
            for item in shape(body, "results", f"{object_type} batch read"):
                if isinstance(item, dict) and item.get("id") is not None:
                    properties_map = item.get("properties") or {}
                    records[str_id(item["id"])] = dict(properties_map)
            if not quiet:
                self._report_batch_errors(body, f"{object_type} batch read")
            progress.add(len(chunk))
        progress.finish()
        return records

    def _report_batch_errors(self, body: Any, where: str) -> None:
        for error in (body or {}).get("errors") or []:
            if not isinstance(error, dict):
                continue
            ids = (error.get("context") or {}).get("ids") or []
            message = str(error.get("message") or error.get("category") or "error")
            suffix = f" ids {', '.join(map(str, ids[:20]))}" if ids else ""
            self._warn(f"HubSpot {where}: {scrub(message)}{suffix}")

    def associations(
        self, from_type: str, to_type: str, ids: Iterable[str]
    ) -> dict[str, list[AssocTarget]]:
        """from id -> targets, via v4 batch read (1,000 ids per call, per-result paging)."""
        path = self.client.api.associations_path(from_type, to_type, "/batch/read")
        result: dict[str, list[AssocTarget]] = defaultdict(list)
        pending: list[dict[str, str]] = [{"id": i} for i in sorted(set(ids), key=id_key)]
        guard = LoopGuard(f"HubSpot {from_type}→{to_type} associations")
        progress = self._progress(to_type, len(pending))  # records whose links are read
        while pending:
            batch, pending = pending[:ASSOC_BATCH_LIMIT], pending[ASSOC_BATCH_LIMIT:]
            body = self.client.request("POST", path, json_body={"inputs": batch})
            for item in shape(body, "results", f"{from_type}→{to_type} associations"):
                if not isinstance(item, dict):
                    continue
                from_id = str_id((item.get("from") or {}).get("id"))
                for to in item.get("to") or []:
                    types = to.get("associationTypes") or []
                    result[from_id].append(
                        AssocTarget(
                            id=str_id(to.get("toObjectId")),
                            labels=tuple(
                                t["label"] for t in types if isinstance(t.get("label"), str)
                            ),
                            type_ids=tuple(
                                int(t["typeId"]) for t in types if t.get("typeId") is not None
                            ),
                        )
                    )
                after = ((item.get("paging") or {}).get("next") or {}).get("after")
                if after:  # this record has more targets: one more input, its own cursor
                    guard.advance((from_id, str(after)))
                    pending.append({"id": from_id, "after": str(after)})
            progress.add(sum("after" not in i for i in batch))
            # errors here are inputs without associations or unknown ids: informational
            for error in (body or {}).get("errors") or []:
                if isinstance(error, dict):
                    log.debug(
                        "HubSpot %s→%s associations: %s",
                        from_type,
                        to_type,
                        scrub(str(error.get("message") or error.get("category"))),
                    )
        progress.finish()
        return dict(result)

    def search(
        self,
        object_type: str,
        filters: list[dict[str, Any]],
        properties: Iterable[str],
        max_results: int | None = None,
        query: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every record matching ``filters`` (ANDed), sorted by ``hs_object_id`` ascending.

        A query can page through at most 10,000 results, so when a window nears the cap the
        search restarts with ``hs_object_id GT <last id seen>``.  Sorting by the id gives a
        total order: equal modification timestamps (HubSpot bulk jobs) can neither loop nor
        drop records.
        """
        path = self.client.api.objects_path(object_type, "/search")
        props = sorted(set(properties) | {"hs_object_id"})
        where = f"HubSpot {object_type} search"
        progress = self._progress(object_type)

        def fetch(start: Hashable | None, after: Hashable | None) -> Page[dict[str, Any]]:
            window_filters = list(filters)
            if start is not None:
                window_filters.append(
                    {"propertyName": "hs_object_id", "operator": "GT", "value": start}
                )
            body: dict[str, Any] = {
                "filterGroups": [{"filters": window_filters}] if window_filters else [],
                "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                "properties": props,
                "limit": SEARCH_PAGE_LIMIT,
            }
            if query is not None:
                body["query"] = query
            if after is not None:
                body["after"] = after
            answer = self.client.request("POST", path, json_body=body, buckets=("search",))
            results = shape(answer, "results", f"{object_type} search")
            first = start is None and after is None  # the whole query's total, not a window's
            size = answer.get("total") if first else None
            progress.update(progress.done + len(results), size if type(size) is int else None)
            nxt = ((answer.get("paging") or {}).get("next") or {}).get("after")
            return Page(
                [i for i in results if isinstance(i, dict) and i.get("id") is not None],
                next=str(nxt) if nxt else None,
                size=len(results),
            )

        found = search_windows(
            fetch, lambda item: str_id(item["id"]), where, SEARCH_PAGE_LIMIT, SEARCH_CAP
        )
        return found if max_results is None else islice(found, max_results)
