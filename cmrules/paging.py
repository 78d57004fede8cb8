"""Paging shared by every connector: one loop guard, three ways APIs hand out pages.

A connector writes one ``fetch`` function that makes a single request and returns a
:class:`Page`; the paginators here decide when to stop, what to ask for next, and refuse to
loop when an API hands back a cursor it already gave (seen in the wild after partial
outages).

* :func:`cursor_pages` — an opaque next-page token (Zendesk ``links.next`` / ``after_cursor``,
  incremental exports, HubSpot association pages);
* :func:`offset_pages` — a numeric offset (HubSpot search ``after``), with an optional cap on
  how far one query may page;
* :func:`search_windows` — a search that can return at most ``cap`` results per query
  (HubSpot: 10,000): results sorted by a unique key, and when the next page would cross the
  cap a new query starts after the last key seen.  Sorting by a unique key is the tie-break:
  records sharing a modification time can neither repeat nor be dropped at a window edge.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from .errors import ConnectorError

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One answer: its usable items and how to ask for the following page.

    ``next`` is the token (cursor, URL, offset) for the next page, ``None`` on the last page.
    ``more`` says whether the API announced more pages when that is separate from the token
    (Zendesk's ``has_more``); by default, a token means more.  ``size`` is how many results
    the answer held before unusable ones were dropped (offsets count those too).
    """

    items: Sequence[T]
    next: Hashable | None = None
    more: bool | None = None
    size: int | None = None

    @property
    def has_more(self) -> bool:
        """Whether another page was announced."""
        return self.next is not None if self.more is None else self.more

    @property
    def count(self) -> int:
        """Results in the answer, usable or not."""
        return len(self.items) if self.size is None else self.size


class LoopGuard:
    """Stops a paging loop when the API announces more pages but gives no new token."""

    def __init__(self, what: str):
        self.what = what
        self._seen: set[Hashable] = set()

    def advance(self, token: Hashable | None) -> Hashable:
        """Record ``token`` as the next one to ask for; raise when it is missing or repeats."""
        if token is None:
            raise ConnectorError(
                f"{self.what}: more pages were announced but the next cursor is missing; "
                "stopping to avoid a loop"
            )
        if token in self._seen:
            raise ConnectorError(f"{self.what}: the next cursor repeated; stopping to avoid a loop")
        self._seen.add(token)
        return token

    def seen(self, token: Hashable) -> bool:
        """Whether ``token`` was already followed (to prefer another one the API offers)."""
        return token in self._seen


def cursor_pages(
    fetch: Callable[[Hashable | None], Page[T]], what: str, guard: LoopGuard | None = None
) -> Iterator[T]:
    """Every item, following ``Page.next`` while more pages are announced.

    ``fetch(None)`` asks for the first page.  The generator is lazy: a caller that stops
    early makes no further request.  Pass ``guard`` when ``fetch`` needs to know which tokens
    were followed already.
    """
    guard = guard or LoopGuard(what)
    token: Hashable | None = None
    while True:
        page = fetch(token)
        yield from page.items
        if not page.has_more:
            return
        token = guard.advance(page.next)


def offset_pages(
    fetch: Callable[[Hashable | None], Page[T]],
    what: str,
    page_size: int,
    cap: int | None = None,
    on_cap: Callable[[], None] | None = None,
) -> Iterator[T]:
    """Every item of a query paged by offset.  ``Page.next`` is the server's token for the next
    page, handed back to ``fetch`` as given; when it is a number it is the offset, otherwise
    results are counted.  An empty page ends the query.

    With ``cap``, paging stops before a page that could reach past ``cap`` results, and
    ``on_cap`` is called (``search_windows`` starts a new query there).
    """
    guard = LoopGuard(what)
    token: Hashable | None = None
    consumed = 0
    while True:
        page = fetch(token)
        yield from page.items
        consumed += page.count
        if not page.has_more or page.count == 0:
            return
        try:
            next_offset = int(str(page.next))
        except ValueError:
            next_offset = consumed
        if cap is not None and next_offset + page_size > cap:
            if on_cap is not None:
                on_cap()
            return
        token = guard.advance(page.next)


def search_windows(
    fetch: Callable[[Hashable | None, Hashable | None], Page[T]],
    key: Callable[[T], Hashable],
    what: str,
    page_size: int,
    cap: int,
) -> Iterator[T]:
    """Every result of a search capped at ``cap`` results per query.

    ``fetch(start, token)`` asks for one page (``token`` as in :func:`offset_pages`) of the
    query restricted to keys greater than ``start`` (``None``: no restriction), sorted by
    that key ascending.  When the next page
    would cross the cap, a new window starts after the last key seen.
    """
    windows = LoopGuard(f"{what} (search window)")
    start: Hashable | None = None
    while True:
        capped = False
        last: Hashable | None = None

        def hit_cap() -> None:
            nonlocal capped
            capped = True

        def page(token: Hashable | None, start: Hashable | None = start) -> Page[T]:
            return fetch(start, token)

        for item in offset_pages(page, what, page_size, cap, hit_cap):
            last = key(item)
            yield item
        if not capped:
            return
        start = windows.advance(last if last != start else None)
