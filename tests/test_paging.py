"""The shared paginators (cmrules.paging) on their own, with APIs that misbehave the way real
ones do: repeated cursors, a "more" flag without a cursor, a capped search over records that
share a timestamp."""

from __future__ import annotations

import pytest

from cmrules.errors import ConnectorError
from cmrules.paging import LoopGuard, Page, cursor_pages, offset_pages, search_windows


def test_cursor_pages_follows_tokens_and_is_lazy():
    book = {None: Page(["a", "b"], next="c1"), "c1": Page(["c"], next="c2"), "c2": Page(["d"])}
    asked = []

    def fetch(token):
        asked.append(token)
        return book[token]

    assert list(cursor_pages(fetch, "test list")) == ["a", "b", "c", "d"]
    assert asked == [None, "c1", "c2"]
    asked.clear()
    pages = cursor_pages(fetch, "test list")
    assert [next(pages), next(pages)] == ["a", "b"]  # a caller that stops early...
    assert asked == [None]  # ...made no request for the second page


def test_repeated_cursor_stops_instead_of_looping():
    # an API that keeps answering "has more, after=x" after a partial outage
    def fetch(token):
        return Page(["row"], next="x")

    with pytest.raises(ConnectorError, match="test list: the next cursor repeated; stopping"):
        list(cursor_pages(fetch, "test list"))


def test_more_announced_without_a_cursor_is_an_error_not_a_silent_stop():
    # has_more: true with no cursor: stopping silently would drop records
    with pytest.raises(ConnectorError, match="next cursor is missing"):
        list(cursor_pages(lambda token: Page(["row"], next=None, more=True), "tickets"))


def test_offset_pages_counts_results_when_the_token_is_not_a_number():
    seen = []

    def fetch(token):
        seen.append(token)
        if token is None:
            return Page([1, 2], next="opaque-1", size=3)  # one unusable result dropped
        if token == "opaque-1":
            return Page([4, 5, 6], next="opaque-2")
        return Page([], next="opaque-3")  # an empty page ends the query

    assert list(offset_pages(fetch, "search", page_size=3)) == [1, 2, 4, 5, 6]
    assert seen == [None, "opaque-1", "opaque-2"]


def test_offset_pages_stops_before_the_cap_and_says_so():
    capped = []

    def fetch(token):
        start = int(token or 0)
        return Page(list(range(start, start + 10)), next=str(start + 10))

    items = list(
        offset_pages(fetch, "search", page_size=10, cap=30, on_cap=lambda: capped.append(1))
    )
    assert items == list(range(30)) and capped == [1]


def search_fixture(n_records: int, cap: int, page_size: int):
    """A HubSpot-like search: records sorted by a unique id, every one with the same
    modification time (a bulk job), paging by offset, and at most ``cap`` results per query."""
    ids = [str(1000 + i) for i in range(n_records)]
    queries = []

    def fetch(start, token):
        matching = [i for i in ids if start is None or int(i) > int(start)]
        offset = int(token or 0)
        if offset + page_size > cap:
            raise AssertionError("paged past the cap: HubSpot answers 400 here")
        queries.append((start, offset))
        page = matching[offset : offset + page_size]
        more = offset + page_size < len(matching)
        return Page(page, next=str(offset + page_size) if more else None)

    return ids, queries, fetch


def test_search_windows_reads_every_record_once_across_the_cap():
    ids, queries, fetch = search_fixture(n_records=125, cap=50, page_size=20)
    found = list(search_windows(fetch, key=lambda i: i, what="companies", page_size=20, cap=50))
    assert found == ids  # nothing repeated, nothing dropped at a window edge
    starts = [s for s, offset in queries if offset == 0]
    assert starts == [None, "1039", "1079", "1119"]  # each window restarts after the last id


def test_a_search_window_that_does_not_advance_is_an_error():
    # a search that ignores the "id > last" restriction would return the same window forever
    def fetch(start, token):
        offset = int(token or 0)
        return Page([str(offset + i) for i in range(10)], next=str(offset + 10))

    with pytest.raises(ConnectorError, match="search window"):
        list(search_windows(fetch, key=lambda i: i, what="companies", page_size=10, cap=20))


def test_loop_guard_remembers_tokens():
    guard = LoopGuard("export")
    assert guard.advance(("url", "https://x/next")) == ("url", "https://x/next")
    assert guard.seen(("url", "https://x/next")) and not guard.seen("other")
    with pytest.raises(ConnectorError, match="export: the next cursor repeated"):
        guard.advance(("url", "https://x/next"))
