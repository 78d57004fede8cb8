"""The local store at portfolio scale: no query per record."""

from __future__ import annotations

import local_portfolio as portfolio
import pytest

from cmrules import service
from cmrules.connectors.local.connector import LocalConnector
from cmrules.model import OrgKind


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("portfolio") / "local.sqlite3"
    portfolio.build(path, 20_000)
    return path


def test_evaluate_company_on_a_20k_store_takes_few_sql_statements(store, monkeypatch):
    # 20,022 statements before: one flags query per organisation listed to resolve the name,
    # and one query per company for its vendors, organisation, contacts and activities
    conn = LocalConnector({"path": str(store), "demo": False})
    statements: list[str] = []
    conn.db.set_trace_callback(statements.append)
    session = service.open_session(connector=conn)
    report = service.evaluate(
        session, company="Client 123 & Fils", as_of=portfolio.AS_OF, write=False
    )
    assert [r.subject.id for r in report.records] == ["c0000123"]
    assert report.records[0].findings  # really evaluated
    assert len(statements) < 50, statements[:60]


def test_batched_load_is_the_per_record_load(store):
    # the same Dataset as one query per record gave: same records, same order
    conn = LocalConnector({"path": str(store), "demo": False})
    clients = conn.clients_of(portfolio.BIG)[:1200]  # > 2 parts of 500
    ds = conn.load([portfolio.BIG, "v-small3"], clients)
    assert [e.company_id for e in ds.engagements][:3] == clients[:3]
    assert {e.vendor_id for e in ds.engagements} == {portfolio.BIG, "v-small3"}
    assert sorted(ds.organisations) == list(ds.organisations)
    for cid in clients[:50]:
        acts = [a for a in ds.activities if a.company_id == cid]
        assert acts == sorted(acts, key=lambda a: (a.timestamp, a.id))
        assert {a.vendor_id for a in acts} <= {portfolio.BIG, "v-small3"}
    assert conn.vendors_of(["c0000000", "nope"]) == {
        "c0000000": sorted(v for c, v in _engagements(conn) if c == "c0000000"),
        "nope": [],
    }
    names = [o.name for o in conn.find_organisations("client 12", OrgKind.COMPANY)]
    assert "Client 12 & Fils" in names and all("client 12" in n.casefold() for n in names)
    assert len(conn.find_organisations("zzz", OrgKind.VENDOR)) == 20  # all, for suggestions


def _engagements(conn):
    return conn.db.execute("SELECT company_id, vendor_id FROM engagements").fetchall()


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("portfolio") / "local.sqlite3"
    portfolio.build(path, 1_234)
    return path


def test_chunked_evaluation_is_the_whole_portfolio_evaluation(small_store, monkeypatch):
    # 1,234 clients in chunks of 100: the same records, in the same order, with the same
    # findings and notes as one evaluation of the whole portfolio (the vendor's own signals
    # are counts over all its clients, summed over the chunks)
    from cmrules import selection, stream

    monkeypatch.setattr(stream, "CHUNK", 100)
    conn = LocalConnector({"path": str(small_store), "demo": False})
    session = service.open_session(connector=conn)
    streamed: list = []
    report = service.evaluate(
        session, vendor=portfolio.BIG, as_of=portfolio.AS_OF, write=False,
        on_record=streamed.append,
    )  # fmt: skip
    assert report.records == [] and report.summary()["records_evaluated"] == 1_235
    sel = selection.select(session, vendor=portfolio.BIG)
    whole = service.evaluate_dataset(
        session, sel.dataset, vendor_ids=sel.vendor_ids, as_of=portfolio.AS_OF, language="fr"
    )
    assert [r.to_dict("fr") for r in streamed] == [r.to_dict("fr") for r in whole]
    vendor = streamed[0]
    assert (
        vendor.kind == "vendor" and vendor.signals[portfolio.BIG]["portfolio_proposals_90d"].value
    )
    assert sum(1 for r in streamed if len(r.vendors) == 2) > 100  # multi-vendor clients


def test_a_streamed_report_counts_what_it_did_not_keep(small_store):
    conn = LocalConnector({"path": str(small_store), "demo": False})
    session = service.open_session(connector=conn)
    kept = service.evaluate(session, vendor=portfolio.BIG, as_of=portfolio.AS_OF, write=False)
    streamed = service.evaluate(
        session, vendor=portfolio.BIG, as_of=portfolio.AS_OF, write=False,
        on_record=lambda r: None,
    )  # fmt: skip
    for k in ("records_evaluated", "findings", "would_write", "unchanged"):
        assert kept.summary()[k] == streamed.summary()[k]
    assert kept.worst() == streamed.worst() > 0


def test_chunks_of_one_client_give_the_demo_s_records(monkeypatch):
    # the demo's vendors, one client per chunk: every signal state the demo has (too early,
    # not recorded, unknown, counts) merges back to the whole-portfolio vendor record
    from cmrules import selection, stream

    monkeypatch.setattr(stream, "CHUNK", 1)
    session = service.open_session()
    try:
        for v in session.connector.find_organisations("", OrgKind.VENDOR):
            streamed: list = []
            service.evaluate(session, vendor=v.id, as_of=portfolio.AS_OF, write=False,
                             on_record=streamed.append)  # fmt: skip
            sel = selection.select(session, vendor=v.id)
            whole = service.evaluate_dataset(session, sel.dataset, vendor_ids=sel.vendor_ids,
                                             as_of=portfolio.AS_OF, language="fr")  # fmt: skip
            assert [r.to_dict("fr") for r in streamed] == [r.to_dict("fr") for r in whole], v.id
            assert streamed[0].signals == whole[0].signals
    finally:
        session.close()


def test_sync_commits_once_per_hundred_records(small_store, tmp_path):
    # the first sync wrote a note and flags per record, each in its own commit (2 fsyncs per
    # record); now a batch of 100 records is one transaction
    import shutil

    path = tmp_path / "local.sqlite3"
    shutil.copy(small_store, path)
    conn = LocalConnector({"path": str(path), "demo": False})
    statements: list[str] = []
    conn.db.set_trace_callback(statements.append)
    session = service.open_session(connector=conn)
    report = service.sync(session, full=True, as_of=portfolio.AS_OF, state_path=tmp_path / "s",
                          on_record=lambda r: None)  # fmt: skip
    written = report.count(service.WRITTEN)
    assert written == 1_254  # 20 agencies and 1,234 clients
    commits = sum(1 for s in statements if s.strip().upper().startswith("COMMIT"))
    assert 0 < commits <= -(-written // 100) + 2, commits
    assert conn.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # and a rerun on unchanged data writes nothing
    again = service.sync(session, full=True, as_of=portfolio.AS_OF, state_path=tmp_path / "s")
    assert again.count(service.UNCHANGED) == 1_254


def test_sync_killed_mid_run_then_rerun_writes_each_note_once(small_store, tmp_path):
    # kill -9 while batches are being committed, then rerun: no note twice, none missing
    import os
    import shutil
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    home = tmp_path / "home"
    home.mkdir()
    db = home / "local.sqlite3"
    shutil.copy(small_store, db)
    env = dict(os.environ, CMRULES_HOME=str(home))
    cmd = [sys.executable, "-c", "from cmrules.cli import main; main()", "sync", "--full",
           "--as-of", "2026-11-20T12:00:00Z"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    notes = 0
    for _ in range(6000):  # until some batches are committed (polling, not timing)
        time.sleep(0.01)
        with sqlite3.connect(db, timeout=30) as ro:
            notes = ro.execute("SELECT COUNT(*) FROM notes").fetchone()[0]
        if notes >= 200 or proc.poll() is not None:
            break
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL  # killed mid-run, not finished
    assert notes >= 200
    assert subprocess.run(cmd, env=env, capture_output=True).returncode == 0
    with sqlite3.connect(db) as rw:
        per_subject = rw.execute(
            "SELECT subject_id, COUNT(*) FROM notes GROUP BY subject_id"
        ).fetchall()
        assert len(per_subject) == 1_254 and {n for _, n in per_subject} == {1}
        unmatched = rw.execute(
            "SELECT COUNT(*) FROM flags f JOIN notes n ON n.subject_id = f.subject_id "
            "WHERE f.fingerprint != n.fingerprint"
        ).fetchone()[0]
        assert unmatched == 0
