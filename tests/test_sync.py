"""cmrules sync: watermark, lock, partial failure, exit codes."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from cmrules import service, state
from cmrules.cli import cli
from cmrules.connectors.local import LocalConnector, import_file
from cmrules.errors import LockedError, WriteError
from cmrules.values import iso

MINI = Path(__file__).parent / "data" / "mini.yaml"


@pytest.fixture
def cfg(tmp_path):
    db = tmp_path / "db.sqlite3"
    conn = LocalConnector({"path": str(db), "demo": False})
    import_file(conn, MINI)
    conn.close()
    path = tmp_path / "cmrules.yaml"
    path.write_text(f"local: {{path: {db}, demo: false}}\nstate: {{path: {tmp_path}/s.json}}\n")
    return path


def sync(cfg, *args):
    return CliRunner().invoke(
        cli, ["--config", str(cfg), "sync", "--json", "--as-of", "2026-11-20T12:00:00Z", *args]
    )


def backdate(db_path: Path, stamp: str = "2026-11-20T11:00:00.250000Z") -> None:
    """Every stored change at ``stamp``: before the run's second (a change within the second
    the last run started in is re-read by the next run — an overlap, never a gap)."""
    db = sqlite3.connect(db_path)
    with db:
        for table in ("organisations", "contacts", "activities", "engagements"):
            db.execute(f"UPDATE {table} SET updated_at = ?", (stamp,))  # noqa: S608
    db.close()


def test_first_sync_then_nothing_changed(cfg, tmp_path):
    backdate(tmp_path / "db.sqlite3")
    first = sync(cfg)
    assert first.exit_code == 0, first.output
    s1 = json.loads(first.output)
    assert s1["records_evaluated"] == 2 and s1["notes_written"] == 2
    assert s1["watermark_advanced"] is True
    assert state.read_state(tmp_path / "s.json")["watermark"]
    second = json.loads(sync(cfg).output)
    assert second["records_evaluated"] == 0 and second.get("write_calls", 0) == 0
    full = json.loads(sync(cfg, "--full").output)
    assert full["records_evaluated"] == 2 and full["unchanged"] == 2
    assert full.get("write_calls", 0) == 0


def test_dry_run_does_not_advance_the_watermark(cfg, tmp_path):
    res = json.loads(sync(cfg, "--dry-run").output)
    assert res["would_write"] == 2 and res["watermark_advanced"] is False
    assert not (tmp_path / "s.json").exists()


def test_fail_on_exit_code(cfg):
    assert sync(cfg, "--fail-on", "high").exit_code == 1
    assert sync(cfg, "--full", "--fail-on", "high").exit_code == 1


def test_lock_refuses_a_second_run(cfg, tmp_path):
    with state.run_lock(tmp_path / "s.json"):
        res = sync(cfg)
        assert res.exit_code == 6
        assert "another cmrules sync is running" in res.output
        with pytest.raises(LockedError), state.run_lock(tmp_path / "s.json"):
            pass
    assert sync(cfg).exit_code == 0  # released


def test_partial_failure_keeps_the_watermark(cfg, tmp_path, monkeypatch):
    original = LocalConnector.write_note

    def refuse(self, subject, note):
        if subject.id == "v1":
            raise WriteError("refused")
        return original(self, subject, note)

    monkeypatch.setattr(LocalConnector, "write_note", refuse)
    res = sync(cfg)
    assert res.exit_code == 4
    assert json.loads(res.stdout)["failed"] == 1
    assert not (tmp_path / "s.json").exists()
    monkeypatch.setattr(LocalConnector, "write_note", original)
    again = json.loads(sync(cfg).output)
    assert again["notes_written"] == 1 and again["unchanged"] == 1  # c1 not rewritten


def test_state_file_is_atomic_and_corruption_is_reported(tmp_path):
    p = tmp_path / "s.json"
    state.write_state(p, {"watermark": "2026-01-01T00:00:00Z"})
    assert list(tmp_path.glob(".state-*")) == []
    p.write_text("{torn")
    with pytest.raises(Exception, match="sync --full"):
        state.read_state(p)


def test_sync_library_reports_stats(cfg):
    s = service.open_session(str(cfg))
    try:
        report = service.sync(s, full=True)
    finally:
        s.close()
    summary = report.summary()
    for key in (
        "records_read",
        "records_evaluated",
        "notes_written",
        "unchanged",
        "failed",
        "duration_s",
    ):
        assert key in summary


def test_a_change_in_the_same_second_as_the_last_run_start_is_picked_up(cfg, tmp_path):
    """Stored times keep microseconds, the watermark whole seconds: ``…:50.97Z`` is after
    ``…:50Z`` as an instant though it sorts before it as text — the change must not be lost."""
    assert json.loads(sync(cfg).output)["notes_written"] == 2
    mark = state.watermark(state.read_state(tmp_path / "s.json"))
    assert mark is not None and mark.microsecond == 0
    same_second = iso(mark + timedelta(microseconds=970_000))  # e.g. an import at …:50.970000Z
    db = sqlite3.connect(tmp_path / "db.sqlite3")
    with db:  # the client agreed KPIs with the agency, recorded just after the run started
        db.execute(
            "UPDATE engagements SET attributes = ?, updated_at = ? WHERE company_id = 'c1'",
            (json.dumps({"kpis_defined": True}), same_second),
        )
    db.close()
    second = json.loads(sync(cfg).output)
    assert second["records_read"] >= 1 and second["notes_written"] >= 1, second
    third = json.loads(sync(cfg).output)  # re-reading the overlap costs no write
    assert third.get("write_calls", 0) == 0, third
    full = json.loads(sync(cfg, "--full").output)
    assert full.get("write_calls", 0) == 0 and full["unchanged"] == 2, full


NEW_CLIENT = """organisations:
  - {id: c2, name: "Boulangerie Martin", kind: company}
contacts:
  - {id: p9, name: Zoé, org: c2, roles: [project_owner]}
engagements:
  - {company: c2, vendor: v1, started: 2025-06-01, vendor_contacts: [r1]}
"""


def _import_with_sync_meanwhile(cfg, tmp_path, monkeypatch, fail: bool = False) -> dict:
    """Import a new client whose rows are stamped 5 s before the import commits, and run an
    incremental sync (nothing to write) while the import's transaction is still open."""
    from cmrules.connectors.local import importer

    real = importer.datetime

    class Earlier(real):  # the import started a while ago: its stamps precede the sync's start
        @classmethod
        def now(cls, tz=None):
            return real.now(tz) - timedelta(seconds=5)

    monkeypatch.setattr(importer, "datetime", Earlier)
    data = tmp_path / "new.yaml"
    data.write_text(NEW_CLIENT + ("  - {company: c2, vendor: nobody}\n" if fail else ""))
    seen: dict = {}

    def meanwhile(event) -> None:
        if event.phase == "import" and not seen:  # its transaction open: rows not visible yet
            seen.update(json.loads(sync(cfg).output))

    conn = LocalConnector({"path": str(tmp_path / "db.sqlite3"), "demo": False})
    try:
        import_file(conn, data, on_progress=meanwhile)
    finally:
        conn.close()
    return seen


def test_a_sync_during_a_long_import_does_not_skip_its_rows(cfg, tmp_path, monkeypatch):
    """A sync that starts while an import is still writing must not move its watermark past
    the import's stamps: the next sync evaluates the imported client."""
    backdate(tmp_path / "db.sqlite3")
    assert json.loads(sync(cfg).output)["notes_written"] == 2
    during = _import_with_sync_meanwhile(cfg, tmp_path, monkeypatch)
    assert during["records_evaluated"] == 0 and during["watermark_advanced"] is True, during
    after = json.loads(sync(cfg).output)
    assert after["records_evaluated"] >= 2 and after["notes_written"] >= 1, after  # c2 (+ v1)
    db = sqlite3.connect(tmp_path / "db.sqlite3")
    assert db.execute("SELECT count(*) FROM notes WHERE subject_id = 'c2'").fetchone() == (1,)
    assert db.execute("SELECT count(*) FROM imports_running").fetchone() == (0,)
    db.close()
    assert json.loads(sync(cfg).output)["records_evaluated"] == 0  # and then nothing again


def test_a_failed_import_leaves_no_mark_and_a_killed_ones_mark_is_ignored(cfg, tmp_path,
                                                                       monkeypatch):  # fmt: skip
    with pytest.raises(Exception, match="nobody"):
        _import_with_sync_meanwhile(cfg, tmp_path, monkeypatch, fail=True)
    db = sqlite3.connect(tmp_path / "db.sqlite3")
    assert db.execute("SELECT count(*) FROM imports_running").fetchone() == (0,)
    with db:  # an import killed mid-way (kill -9): its mark stays, its process is gone
        db.execute("INSERT INTO imports_running (started_at, pid) VALUES "
                   "('2020-01-01T00:00:00Z', 2147483646)")  # fmt: skip
    db.close()
    assert json.loads(sync(cfg).output)["watermark_advanced"] is True
    mark = state.watermark(state.read_state(tmp_path / "s.json"))
    assert mark is not None and mark.year > 2020  # the dead import's mark held nothing back
