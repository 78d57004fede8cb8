"""Bounded-memory evaluation of a large portfolio: clients in chunks, records handed on.

A connector that can list a vendor's clients without loading them (``clients_of``) has its
portfolio evaluated ``CHUNK`` clients at a time: each chunk is loaded, evaluated and handed
on (written back, output), then dropped, so memory does not grow with the portfolio.  The
vendor's own record comes first, as in a whole-portfolio evaluation: its signals are counts
over the portfolio, computed chunk by chunk (a first, lighter pass) and summed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from .connector import Connector
from .errors import CmrulesError
from .model import Dataset
from .progress import Counter, OnProgress
from .selection import vendors_of
from .signals import SignalValue, VendorContext, compute
from .signals.base import TOO_EARLY

if TYPE_CHECKING:
    from .service import RecordResult, Session

CHUNK = 500  # clients loaded, evaluated and handed on at a time


def can_stream(conn: Connector) -> bool:
    """Whether the connector can list a vendor's clients, which streaming needs."""
    return callable(getattr(conn, "clients_of", None))


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i : i + CHUNK]


def merge_portfolio(parts: list[dict[str, SignalValue]]) -> dict[str, SignalValue]:
    """Vendor signals of a portfolio from those of its chunks.

    Every vendor signal is a count over the active clients, observed over a window that starts
    at the earliest client's start of observation: the count is the sum of the chunks that
    have one (with their evidence), observed over the longest chunk window; when no chunk has
    a count but some were too early to judge, it is too early over the longest observation;
    otherwise unknown (or not recorded) as in every chunk.  A signal that is not a count
    cannot be merged: an error, so a new vendor signal of another shape is caught by the
    chunked-vs-whole test, never summed."""
    out: dict[str, SignalValue] = {}
    for name in parts[0]:
        values = [p[name] for p in parts]
        known = [v for v in values if v.value is not None]
        early = [v for v in values if v.reason is not None and v.reason.code == TOO_EARLY]
        if any(type(v.value) is not int for v in known):
            raise CmrulesError(f"internal: vendor signal {name} is not a count; cannot chunk")
        days = [v.window_days for v in known if v.window_days is not None]
        days += [v.reason.observed_days for v in early if v.reason and v.reason.observed_days]
        if known:
            out[name] = replace(
                known[0],
                value=sum(int(v.value or 0) for v in known),
                records=tuple(r for v in known for r in v.records),
                window_days=max(days) if known[0].window_days is not None else None,
            )
        elif early:
            first = early[0].reason
            assert first is not None
            out[name] = replace(
                early[0], reason=replace(first, observed_days=max(days)) if days else first
            )
        else:
            out[name] = values[0]
    return out


def _load_clients(session: Session, vid: str, chunk: list[str]) -> Dataset:
    """``session.load([vid], chunk)`` in one read: every client in ``chunk`` is engaged with
    ``vid`` (from ``clients_of``), so their other vendors are known before loading — one note
    covers all of them — and the chunk is not read twice."""
    others = {x for vs in vendors_of(session.connector, chunk).values() for x in vs}
    return session.prepare(session.connector.load(sorted({vid, *others}), chunk))


def portfolio_records(
    session: Session,
    vendor_ids: list[str],
    *,
    as_of: datetime,
    language: str,
    on_progress: OnProgress | None = None,
) -> Iterator[RecordResult]:
    """Each vendor's record, then its clients' (a client of several of these vendors once),
    loaded and evaluated ``CHUNK`` clients at a time.

    ``on_progress`` sees two phases over every vendor: ``portfolio``, the clients read by the
    first pass (the vendors' signals), and ``evaluate``, the records evaluated (each vendor,
    each client once; a client whose engagement ended counts as done, unjudged)."""
    from .service import evaluate_dataset

    conn = session.connector
    seen: set[str] = set()
    portfolios = {vid: conn.clients_of(vid) for vid in vendor_ids}  # type: ignore[attr-defined]
    unique = len({c for clients in portfolios.values() for c in clients})
    reading = Counter(on_progress, "portfolio", "companies", sum(map(len, portfolios.values())))
    judged = Counter(on_progress, "evaluate", "records", unique + len(portfolios), start=False)
    unjudged: set[str] = set()  # ended or prospect engagements: done without a record
    for vid, clients in portfolios.items():
        if not clients:  # the vendor alone
            yield from evaluate_dataset(
                session, session.load([vid]), vendor_ids=[vid], as_of=as_of, language=language,
                progress=judged,
            )  # fmt: skip
            continue
        parts = []
        vendor_only = Dataset()
        for chunk in _chunks(clients):
            ds = session.prepare(conn.load([vid], chunk))
            reading.add(len(chunk))
            vendor = ds.organisations[vid]
            settings = session.settings(session.rulesets.select(vendor))
            parts.append(compute(VendorContext(ds, vendor, as_of, settings)))
            if not vendor_only.organisations:
                vendor_only.add(vendor, *ds.contacts_of(vid))
        yield from evaluate_dataset(
            session,
            session.prepare(vendor_only),
            vendor_ids=[vid],
            as_of=as_of,
            language=language,
            vendor_values={vid: merge_portfolio(parts)},
            progress=judged,
        )
        for chunk in _chunks([c for c in clients if c not in seen]):
            ds = _load_clients(session, vid, chunk)
            active = [
                c
                for c in chunk
                if any(e.vendor_id == vid and e.active(as_of) for e in ds.engagements_of_company(c))
            ]  # an ended or prospect engagement is not judged (as in a whole-portfolio run)
            seen.update(active)
            yield from evaluate_dataset(
                session, ds, vendor_ids=[vid], company_ids=active, as_of=as_of, language=language,
                progress=judged,
            )  # fmt: skip
            unjudged.update(c for c in chunk if c not in seen)
    judged.add(len(unjudged - seen))  # once, unless another vendor's engagement judged it
