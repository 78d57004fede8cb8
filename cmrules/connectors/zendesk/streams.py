"""Raw reads from Zendesk Support: cursor-paged lists, organisations (cached per run) and the
incremental exports (ticket metrics: :mod:`.metrics`).  Returns raw dicts; :mod:`.mappers`
builds the model from them."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from cmrules.connector import ConnectorContext
from cmrules.errors import ConnectorError, UsageError
from cmrules.http import HttpError
from cmrules.paging import LoopGuard, Page, cursor_pages
from cmrules.progress import Event

from .client import ZendeskClient
from .settings import API, ZendeskSettings


class ZendeskStreams:
    """Reads for one run; ``orgs`` caches raw organisations by id (the writer refreshes it)."""

    def __init__(
        self,
        client: ZendeskClient,
        settings: ZendeskSettings,
        context: ConnectorContext | None = None,
    ):
        self.client = client
        self.settings = settings
        self.context = context or ConnectorContext()
        self.pages: dict[str, int] = {}  # pages read per progress phase (this run)
        self.orgs: dict[str, dict[str, Any]] = {}  # raw organisations by id
        self.listed = False  # every organisation is in ``orgs``

    def search_orgs(self, param: str, value: str) -> list[dict[str, Any]]:
        """``/organizations/search?<param>=<value>`` (external_id or name)."""
        body = self.get(f"{API}/organizations/search", {param: value})
        return [raw for raw in body.get("organizations") or [] if isinstance(raw, dict)]

    def get(self, path: str, params: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        """One GET whose answer must be a JSON object."""
        body = self.client.request("GET", path, params=params, **kw)
        if not isinstance(body, dict):
            raise ConnectorError(f"Zendesk GET {urlsplit(path).path}: expected a JSON object")
        if self.context.progress is not None:  # Zendesk gives no totals: pages and a rate
            name = _phase(urlsplit(path).path)
            self.pages[name] = self.pages.get(name, 0) + 1
            self.context.progress(Event(name, self.pages[name], None, "pages"))
        return body

    def _next_url(self, link: Any) -> str | None:
        """Follow ``links.next`` only on our own site: credentials must not travel elsewhere."""
        if isinstance(link, str) and link.startswith(self.settings.base_url + "/"):
            return link
        return None

    def paginate(
        self,
        path: str,
        key: str,
        params: Mapping[str, Any] | None = None,
        on_page: Callable[[Mapping[str, Any], list[dict[str, Any]]], None] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Cursor pagination: ``page[size]``, ``meta.has_more``, ``links.next`` (or
        ``page[after]``), through the shared loop guard.  ``on_page(body, items)`` sees each
        answer (its side-loaded arrays) before its items are handed on."""
        first = f"{API}{path}"
        size = {"page[size]": self.settings.page_size}

        def fetch(token: Hashable | None) -> Page[dict[str, Any]]:
            if token is None:
                url, query = first, {**(params or {}), **size}
            elif isinstance(token, tuple) and token[0] == "url":
                url, query = token[1], None
            else:
                url, query = first, {**(params or {}), **size, "page[after]": token}
            body = self.get(url, query)
            items = body.get(key)
            if not isinstance(items, list):
                raise ConnectorError(
                    f"Zendesk GET {first}: the answer has no '{key}' list; check base_url "
                    "points at Zendesk Support"
                )
            meta = body.get("meta") or {}
            cursor = meta.get("after_cursor")
            nxt = self._next_url((body.get("links") or {}).get("next"))
            token = ("url", nxt) if nxt else (str(cursor) if cursor else None)
            dicts = [i for i in items if isinstance(i, dict)]
            if on_page is not None:
                on_page(body, dicts)
            return Page(dicts, next=token, more=bool(meta.get("has_more")))

        return cursor_pages(fetch, f"Zendesk GET {first}")

    def list_orgs(self) -> dict[str, dict[str, Any]]:
        """Every organisation (listed once per run)."""
        if not self.listed:
            for raw in self.paginate("/organizations", "organizations"):
                self.orgs[str(raw["id"])] = raw
            self.listed = True
        return self.orgs

    def org(self, org_id: str, *, fresh: bool = False) -> dict[str, Any]:
        """One organisation, from the cache unless ``fresh``; an unknown id is a usage error."""
        org_id = str(org_id).strip()
        if not fresh and org_id in self.orgs:
            return self.orgs[org_id]
        if not org_id.isdigit():
            raise UsageError(f"{org_id!r} is not a Zendesk organisation id (ids are numbers)")
        try:
            raw = self.get(f"{API}/organizations/{org_id}").get("organization")
        except HttpError as exc:
            if exc.status == 404:
                raise UsageError(
                    f"no Zendesk organisation with id {org_id}; check the id in Zendesk "
                    "(Admin > Organizations) or use `cmrules find`"
                ) from None
            raise
        if not isinstance(raw, dict):
            raise ConnectorError(f"Zendesk GET {API}/organizations/{org_id}: no 'organization'")
        self.orgs[org_id] = raw
        return raw

    def export_orgs(self, start: int) -> Iterator[dict[str, Any]]:
        """The time-based organisations export from ``start`` (epoch seconds), following
        ``next_page`` (or, when it repeats, ``end_time``) until ``end_of_stream``."""
        first = f"{API}/incremental/organizations"
        guard = LoopGuard("Zendesk incremental organisations export")

        def fetch(token: Hashable | None) -> Page[dict[str, Any]]:
            if isinstance(token, tuple) and token[0] == "url":
                url, params = token[1], None
            else:
                url, params = first, {"start_time": start if token is None else token}
            body = self.get(url, params, buckets=("default", "incremental"))
            items = [o for o in body.get("organizations") or [] if isinstance(o, dict)]
            nxt = self._next_url(body.get("next_page"))
            end_time = body.get("end_time")
            following: Hashable | None = None
            if nxt and not guard.seen(("url", nxt)):
                following = ("url", nxt)
            elif end_time is not None:
                following = str(end_time)
            return Page(items, next=following, more=not body.get("end_of_stream", True))

        return cursor_pages(fetch, guard.what, guard)

    def export_cursor(self, kind: str, start: int) -> Iterator[dict[str, Any]]:
        """The cursor-based export of ``kind`` (tickets, users) from ``start``."""
        first = f"{API}/incremental/{kind}/cursor.json"

        def fetch(token: Hashable | None) -> Page[dict[str, Any]]:
            params = {"start_time": start} if token is None else {"cursor": token}
            body = self.get(first, params, buckets=("default", "incremental"))
            items = [o for o in body.get(kind) or [] if isinstance(o, dict)]
            cursor = body.get("after_cursor")
            return Page(items, next=cursor or None, more=not body.get("end_of_stream", True))

        return cursor_pages(fetch, f"Zendesk incremental {kind} export")


def _phase(path: str) -> str:
    """The progress phase of a read: the incremental exports find changes; organisations,
    users, and tickets (with their metrics) are companies, contacts and activities."""
    if "/incremental/" in path:
        return "changes"
    if "ticket" in path:  # /tickets, /organizations/<id>/tickets, /ticket_metrics
        return "activities"
    return "contacts" if "/users" in path else "companies"
