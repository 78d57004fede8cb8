"""The cyclic garbage collector during a run: paused, restored, and still collecting cycles
every few chunks (cmrules.gcpolicy) — a faster run must not become a leaking one."""

from __future__ import annotations

import gc
import weakref

import local_portfolio as portfolio
import pytest

from cmrules import gcpolicy, service, stream
from cmrules.connectors.local.connector import LocalConnector


class Node:
    """An object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_paused_restores_the_collector_even_when_the_run_fails():
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gcpolicy.paused():
        assert not gc.isenabled()
        assert gc.get_freeze_count() > 0  # what was alive before is left out of the scans
        raise RuntimeError("the connector failed mid-run")
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_a_host_that_turned_the_collector_off_keeps_its_policy():
    # a library user who manages the collector: no freeze, no collection, still off after
    gc.disable()
    try:
        with gcpolicy.paused():
            assert gc.get_freeze_count() == 0
            gcpolicy.checkpoint()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_cycles_are_still_freed_every_few_chunks(monkeypatch):
    monkeypatch.setattr(gcpolicy, "FULL_EVERY", 3)
    monkeypatch.setattr(gcpolicy, "_checkpoints", 0)
    with gcpolicy.paused():
        ref = weakref.ref(Node())
        gcpolicy.checkpoint()
        gcpolicy.checkpoint()
        assert ref() is not None  # automatic collection is off: not freed yet
        gcpolicy.checkpoint()  # the third chunk: a full collection
        assert ref() is None


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("portfolio") / "local.sqlite3"
    portfolio.build(path, 230)
    return path


def test_a_streamed_evaluation_runs_paused_and_frees_cycles_as_it_goes(small_store, monkeypatch):
    # 230 clients in chunks of 50, a collection every 2 chunks: a cycle left by the first
    # record is gone before the run ends, and the collector is back on after it
    monkeypatch.setattr(stream, "CHUNK", 50)
    monkeypatch.setattr(gcpolicy, "FULL_EVERY", 2)
    refs: list[weakref.ref[Node]] = []
    states: list[bool] = []

    def on_record(r: service.RecordResult) -> None:
        states.append(gc.isenabled())
        if not refs:
            refs.append(weakref.ref(Node()))
        elif len(states) == 200:
            assert refs[0]() is None, "a cycle survived two chunks"

    conn = LocalConnector({"path": str(small_store), "demo": False})
    session = service.open_session(connector=conn)
    report = service.evaluate(
        session, vendor=portfolio.BIG, as_of=portfolio.AS_OF, write=False, on_record=on_record
    )
    assert report.summary()["records_evaluated"] == len(states) == 231  # the vendor + clients
    assert not any(states) and gc.isenabled() and gc.get_freeze_count() == 0
