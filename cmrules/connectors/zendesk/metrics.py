"""Ticket reply metrics at the fewest calls (docs/zendesk.md, "Ticket metrics").

What Zendesk offers (sources in docs/zendesk.md):

* side-loading: ``include=metric_sets`` on a ticket listing returns the tickets' metric sets
  in a top-level ``metric_sets`` array (the same objects as ``/ticket_metrics``, keyed by
  ``ticket_id``) in the same answer;
* ``GET /api/v2/tickets/show_many?ids=…`` takes up to 100 ticket ids, and side-loads
  ``metric_sets`` the same way;
* ``GET /api/v2/tickets/{id}/metrics``: one ticket per call;
* ``GET /api/v2/ticket_metrics``: the whole account, 100 per page, newest first.

Calls for the metrics of ``n`` tickets, beyond listing the tickets (which cmrules does anyway,
``ceil(n / 100)`` pages per organisation):

==================================  =====================================================
side-load on the organisation list  0
``show_many`` + side-load           ``ceil(n / 100)``
per ticket                          ``n``
account-wide ``/ticket_metrics``    at least ``ceil(n / 100)``, up to the account's size / 100
==================================  =====================================================

``ticket_metrics: auto`` (the default) therefore side-loads on the listing; tickets whose page
came back without a ``metric_sets`` array (the side-load not honoured) are read with
``show_many`` — or per ticket when there is a single one (one call either way, a smaller
answer); and if ``show_many`` does not side-load either, per ticket up to
:data:`AUTO_PER_TICKET_MAX` tickets, else the account-wide listing, which stops as soon as
every wanted ticket is covered.  The account-wide listing never costs fewer calls than
``show_many`` (a page holds at most 100 metrics), so it is only the last resort.
``bulk`` and ``per_ticket`` force one strategy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from cmrules.http import HttpError

from .settings import API, ZendeskSettings
from .streams import ZendeskStreams

#: ids per ``show_many`` call (Zendesk's limit)
SHOW_MANY_MAX = 100
#: the last resort reads metrics ticket by ticket up to this many tickets, else the account
AUTO_PER_TICKET_MAX = 10

Metric = Mapping[str, Any]


def plan_calls(n: int) -> dict[str, int]:
    """Calls each strategy needs for ``n`` tickets whose metrics are missing (the account-wide
    listing: its lower bound)."""
    pages = math.ceil(n / SHOW_MANY_MAX)
    return {"show_many": pages, "per_ticket": n, "bulk": pages}


def _sideloaded(body: Mapping[str, Any], tickets: Iterable[Mapping[str, Any]]) -> dict[str, Metric]:
    """Metric sets of an answer: the top-level ``metric_sets`` array, or a ``metric_set``
    embedded in a ticket (the incremental export's shape)."""
    found: dict[str, Metric] = {}
    for metric in body.get("metric_sets") or []:
        if isinstance(metric, dict) and metric.get("ticket_id") is not None:
            found[str(metric["ticket_id"])] = metric
    for ticket in tickets:
        embedded = ticket.get("metric_set")
        if isinstance(embedded, dict):
            found.setdefault(str(ticket.get("id")), embedded)
    return found


class TicketMetrics:
    """Tickets of organisations with their metrics, for one run."""

    def __init__(self, streams: ZendeskStreams, settings: ZendeskSettings):
        self.streams = streams
        self.mode = str(settings.opts["ticket_metrics"])
        self.found: dict[str, Metric] = {}  # ticket id -> metric set, side-loaded or read
        self.covered: set[str] = set()  # tickets whose answer carried metric sets

    def org_tickets(self, org_id: str) -> list[dict[str, Any]]:
        """The organisation's tickets; in ``auto`` mode their metric sets come along."""
        params = {"include": "metric_sets"} if self.mode == "auto" else None

        def on_page(body: Mapping[str, Any], tickets: list[dict[str, Any]]) -> None:
            if isinstance(body.get("metric_sets"), list) or any("metric_set" in t for t in tickets):
                self.found.update(_sideloaded(body, tickets))
                self.covered.update(str(t.get("id")) for t in tickets)

        path = f"/organizations/{org_id}/tickets"
        return list(self.streams.paginate(path, "tickets", params, on_page if params else None))

    def metrics(self, ticket_ids: Iterable[str]) -> dict[str, Metric]:
        """Metrics of these tickets: side-loaded ones as they came, the rest read by the
        cheapest strategy.  A ticket without metrics is absent (unknown, never zero)."""
        wanted = {str(t) for t in ticket_ids}
        missing = wanted - self.covered
        if missing:
            self._read(missing)
        return {tid: self.found[tid] for tid in wanted if tid in self.found}

    def _read(self, missing: set[str]) -> None:
        mode = self.mode
        if mode == "auto":  # the cheaper of the two bounded strategies; a tie: per ticket
            costs = plan_calls(len(missing))
            mode = min(("per_ticket", "show_many"), key=lambda m: (costs[m], m != "per_ticket"))
        if mode == "show_many":
            missing = self._show_many(missing)
            if not missing:
                return
            mode = "per_ticket" if len(missing) <= AUTO_PER_TICKET_MAX else "bulk"
        if mode == "per_ticket":
            self._per_ticket(missing)
        else:
            self._bulk(missing)

    def _show_many(self, missing: set[str]) -> set[str]:
        """``show_many`` with side-loaded metric sets, 100 ids a call; the ids left when the
        side-load is not honoured."""
        ids = sorted(missing, key=int)
        for start in range(0, len(ids), SHOW_MANY_MAX):
            chunk = ids[start : start + SHOW_MANY_MAX]
            body = self.streams.get(
                f"{API}/tickets/show_many", {"ids": ",".join(chunk), "include": "metric_sets"}
            )
            tickets = [t for t in body.get("tickets") or [] if isinstance(t, dict)]
            if not isinstance(body.get("metric_sets"), list) and not any(
                "metric_set" in t for t in tickets
            ):
                return set(ids[start:])
            self.found.update(_sideloaded(body, tickets))
            self.covered.update(chunk)
        return set()

    def _per_ticket(self, missing: set[str]) -> None:
        for tid in sorted(missing, key=int):
            try:
                body = self.streams.get(f"{API}/tickets/{tid}/metrics")
            except HttpError as exc:
                if exc.status == 404:
                    continue
                raise
            metric = body.get("ticket_metric")
            if isinstance(metric, dict):
                self.found[tid] = metric
            self.covered.add(tid)

    def _bulk(self, missing: set[str]) -> None:
        """Page the account's ``/ticket_metrics`` until every wanted ticket is covered (the
        generator is lazy: no further page is requested)."""
        left = set(missing)
        for metric in self.streams.paginate("/ticket_metrics", "ticket_metrics"):
            tid = str(metric.get("ticket_id"))
            if tid in left:
                self.found[tid] = metric
                left.discard(tid)
                if not left:
                    break
        self.covered.update(missing)
