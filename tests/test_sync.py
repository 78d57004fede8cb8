"""cmrules sync: watermark, lock, partial failure, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cmrules import service, state
from cmrules.cli import cli
from cmrules.connectors.local import LocalConnector, import_file
from cmrules.errors import LockedError, WriteError

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


def test_first_sync_then_nothing_changed(cfg, tmp_path):
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
