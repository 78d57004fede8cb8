"""The account-sized parts of the fake (mixed into :class:`.api.FakeZendesk`):

* a wall clock (``wall_offset`` seconds ahead of the real one) that stamps ``updated_at`` on
  every organisation PUT and every edit made through :meth:`LiveAccount.edit_org` /
  :meth:`LiveAccount.edit_ticket`, at Zendesk's one-second resolution;
* **live incremental exports** computed from that state when no pages were queued by hand:
  the time-based organisation export (records with ``updated_at >= start_time``, oldest first,
  ``export_page_size`` a page (Zendesk: 1,000), ``end_time`` = the last record's time and
  ``next_page`` starting there — so the boundary records come again, as Zendesk's do — and the
  last minute before the request left out) and the cursor-based ticket and user exports;
* side-loading (https://developer.zendesk.com/documentation/ticketing/using-the-zendesk-api/
  side_loading/): ``include=metric_sets`` on an organisation's ticket listing and on
  ``/tickets/show_many`` (at most 100 ids, else 400) adds a top-level ``metric_sets`` array;
  ``sideload_org_tickets`` / ``sideload_show_many`` switch it off to play an API that ignores
  the include;
* **filler tickets**: ``filler_tickets`` generated tickets of another customer
  (:data:`FILLER_ORG`), created lazily page by page (a 100,000-ticket account costs nothing
  until paged), listed first by ``/ticket_metrics`` (newest first), as the account's newer
  tickets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

FILLER_ORG = 9_999
FILLER_FIRST_ID = 1_000_000


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(stamp: str) -> int:
    return int(datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


class Lazy(Sequence):
    """``n`` records made by ``make(i)`` only when a slice of them is asked for."""

    def __init__(self, n: int, make: Callable[[int], dict[str, Any]]):
        self.n, self.make = n, make

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self.make(i) for i in range(*index.indices(self.n))]
        return self.make(range(self.n)[index])


class Chain(Sequence):
    """Two sequences one after the other, sliced without copying either."""

    def __init__(self, first: Sequence, second: Sequence):
        self.first, self.second = first, second

    def __len__(self) -> int:
        return len(self.first) + len(self.second)

    def __getitem__(self, index):  # type: ignore[override]
        if not isinstance(index, slice):
            return self[index : index + 1][0]
        start, stop, _ = index.indices(len(self))
        cut = len(self.first)
        head = list(self.first[start : min(stop, cut)]) if start < cut else []
        tail = list(self.second[max(start - cut, 0) : max(stop - cut, 0)]) if stop > cut else []
        return head + tail


def filler_metric(tid: int) -> dict[str, Any]:
    return {
        "id": 9000 + tid,
        "ticket_id": tid,
        "replies": 1,
        "reply_time_in_minutes": {"calendar": 42, "business": 17},
    }


class LiveAccount:
    orgs: dict[int, dict[str, Any]]
    users: dict[int, dict[str, Any]]
    tickets: dict[int, dict[str, Any]]
    metrics: dict[int, dict[str, Any]]
    base: str

    wall_offset: float
    export_page_size: int
    filler_tickets: int
    sideload_org_tickets: bool
    sideload_show_many: bool

    def _live_init(self) -> None:
        self.wall_offset = 0.0  # seconds the fake account's clock is ahead of the real one
        self.export_page_size = 1000
        self.filler_tickets = 0
        self.sideload_org_tickets = True
        self.sideload_show_many = True

    # -- time and edits -----------------------------------------------------------------------
    def wall(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.wall_offset)

    def later(self, seconds: float) -> None:
        """Time passes on the account (the next sync runs that much later)."""
        self.wall_offset += seconds

    def stamp(self) -> str:
        return iso(self.wall())

    def edit_org(self, oid: int, **changes: Any) -> dict[str, Any]:
        """A person edits the organisation in Zendesk."""
        org = self.orgs[oid]
        org.update(changes)
        org["updated_at"] = self.stamp()
        return org

    def edit_ticket(self, tid: int, **changes: Any) -> dict[str, Any]:
        """A person (or a customer's reply) updates the ticket."""
        ticket = self.tickets[tid]
        ticket.update(changes)
        ticket["updated_at"] = self.stamp()
        return ticket

    # -- the account's tickets ----------------------------------------------------------------
    def filler_ticket(self, i: int) -> dict[str, Any]:
        tid = FILLER_FIRST_ID + i
        return {
            "id": tid,
            "subject": f"Order question {tid}",
            "status": "solved",
            "requester_id": 1,
            "organization_id": FILLER_ORG,
            "created_at": "2024-02-01T10:00:00Z",
            "updated_at": "2024-02-02T10:00:00Z",
            "tags": [],
        }

    def ticket_by_id(self, tid: int) -> dict[str, Any] | None:
        if tid in self.tickets:
            return self.tickets[tid]
        if FILLER_FIRST_ID <= tid < FILLER_FIRST_ID + self.filler_tickets:
            return self.filler_ticket(tid - FILLER_FIRST_ID)
        return None

    def metric_by_id(self, tid: int) -> dict[str, Any] | None:
        if tid in self.metrics or tid in self.tickets:
            return self.metrics.get(tid)  # a ticket of ours may have no metrics record
        return filler_metric(tid) if self.ticket_by_id(tid) is not None else None

    def all_metrics(self) -> Sequence:
        """``/ticket_metrics``: the filler tickets first (newer, newest first), then ours."""
        newest_first = Lazy(
            self.filler_tickets,
            lambda i: filler_metric(FILLER_FIRST_ID + self.filler_tickets - 1 - i),
        )
        return Chain(newest_first, [self.metrics[t] for t in sorted(self.metrics)])

    def sideload(self, tickets: list[dict[str, Any]]) -> dict[str, Any]:
        found = [m for t in tickets if (m := self.metric_by_id(int(t["id"]))) is not None]
        return {"metric_sets": found}

    def show_many(self, query: dict[str, str]):
        ids = [int(i) for i in (query.get("ids") or "").split(",") if i.strip()]
        if len(ids) > 100:
            return 400, {"error": "InvalidValue", "description": "at most 100 ids"}
        tickets = [t for i in ids if (t := self.ticket_by_id(i)) is not None]
        body: dict[str, Any] = {"tickets": tickets, "count": len(tickets)}
        if self.sideload_show_many and "metric_sets" in (query.get("include") or "").split(","):
            body.update(self.sideload(tickets))
        return 200, body

    # -- live incremental exports -------------------------------------------------------------
    def _cutoff(self) -> int:
        return int((self.wall() - timedelta(seconds=60)).timestamp())

    def live_org_export(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        start = int(query.get("start_time", "0"))
        cutoff = self._cutoff()
        items = sorted(
            (o for o in self.orgs.values() if start <= epoch(o["updated_at"]) <= cutoff),
            key=lambda o: (epoch(o["updated_at"]), o["id"]),
        )
        page = [dict(o) for o in items[: self.export_page_size]]
        last = len(items) <= self.export_page_size
        end_time = epoch(page[-1]["updated_at"]) if page else start
        return {
            "organizations": page,
            "count": len(page),
            "end_time": end_time,
            "end_of_stream": last,
            "next_page": f"{self.base}{path}?{urlencode({'start_time': end_time})}",
        }

    def live_cursor_export(self, kind: str, query: dict[str, str]) -> dict[str, Any]:
        """Records changed since ``start_time`` (the cursor carries it and the offset)."""
        if "cursor" in query:
            start, offset = (int(x) for x in query["cursor"].split(":"))
        else:
            start, offset = int(query.get("start_time", "0")), 0
        cutoff = self._cutoff()
        records = self.tickets.values() if kind == "tickets" else self.users.values()
        items = sorted(
            (
                r
                for r in records
                if start <= epoch(r.get("updated_at") or "2024-01-02T00:00:00Z") <= cutoff
            ),
            key=lambda r: (r.get("updated_at"), r["id"]),
        )
        page = items[offset : offset + self.export_page_size]
        last = offset + self.export_page_size >= len(items)
        return {
            kind: page,
            "after_cursor": None if last else f"{start}:{offset + self.export_page_size}",
            "end_of_stream": last,
        }
