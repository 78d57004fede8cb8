"""Write-back is change-only, idempotent and crash-safe (local connector)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cmrules import service
from cmrules.connector import Flags, RenderedNote
from cmrules.connectors.local import LocalConnector, import_file
from cmrules.errors import WriteError

AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)

MINI = Path(__file__).parent / "data" / "mini.yaml"


class Crashing(LocalConnector):
    """Raise at a chosen write step, like a process killed at that line."""

    crash_at: str | None = None

    def write_note(self, subject, note):
        if self.crash_at == "before_note":
            raise KeyboardInterrupt("killed")
        note_id = super().write_note(subject, note)
        if self.crash_at == "after_note":
            raise KeyboardInterrupt("killed")
        return note_id

    def write_flags(self, subject, flags: Flags):
        if self.crash_at == "before_flags":
            raise KeyboardInterrupt("killed")
        super().write_flags(subject, flags)
        if self.crash_at == "after_flags":
            raise KeyboardInterrupt("killed")


@pytest.fixture
def session(tmp_path):
    conn = Crashing({"path": str(tmp_path / "db.sqlite3"), "demo": False})
    import_file(conn, MINI)
    s = service.open_session(None, connector=conn)
    yield s
    s.close()


def run(session, **kw):
    kw.setdefault("as_of", AS_OF)
    return service.evaluate(session, vendor="v1", **kw)


def note_count(session, subject_id="c1"):
    return session.connector.db.execute(
        "SELECT COUNT(*) FROM notes WHERE subject_id = ?", (subject_id,)
    ).fetchone()[0]


def test_rerun_on_unchanged_data_writes_nothing(session):
    first = run(session)
    assert first.count(service.WRITTEN) == 2
    session.context.stats.clear()
    second = run(session)
    assert second.count(service.UNCHANGED) == 2
    assert session.context.stats.get("write_calls", 0) == 0


def test_changed_findings_write_one_new_note(session):
    run(session)
    assert note_count(session) == 1
    # a new meeting changes the evidence behind CMR010
    session.connector.db.execute(
        "INSERT INTO activities (id, kind, timestamp, company_id, vendor_id, contact_ids, tags, "
        "title, updated_at) VALUES ('m9', 'meeting', '2026-11-18T10:00:00Z', 'c1', 'v1', '[]', "
        "'[]', 'Point', '2026-11-18')"
    )
    session.connector.db.commit()
    report = run(session)
    assert {r.subject.id: r.write for r in report.records}["c1"] == service.WRITTEN
    assert note_count(session) == 2


def test_dry_run_writes_nothing(session):
    report = run(session, dry_run=True)
    assert report.count(service.WOULD_WRITE) == 2
    assert note_count(session) == 0
    assert session.connector.flags("c1") is None


@pytest.mark.parametrize("step", ["before_note", "after_note", "before_flags", "after_flags"])
def test_crash_at_each_write_step_then_rerun(session, step):
    session.connector.crash_at = step
    with pytest.raises(KeyboardInterrupt):
        run(session)
    session.connector.crash_at = None
    run(session)
    # never two notes for the same findings, never a lost one
    for sid in ("c1", "v1"):
        assert note_count(session, sid) == 1
        flags = session.connector.flags(sid)
        fps = [
            r[0]
            for r in session.connector.db.execute(
                "SELECT fingerprint FROM notes WHERE subject_id = ?", (sid,)
            )
        ]
        assert flags["fingerprint"] == fps[0]
    # and a third run is a no-op
    assert run(session).count(service.UNCHANGED) == 2


def test_a_failed_record_does_not_stop_the_run(session, monkeypatch):
    original = LocalConnector.write_note

    def refuse(self, subject, note: RenderedNote):
        if subject.id == "v1":
            raise WriteError("HTTP 400: property refused")
        return original(self, subject, note)

    monkeypatch.setattr(Crashing, "write_note", refuse)
    report = run(session)
    by = {r.subject.id: r for r in report.records}
    assert by["v1"].write == service.FAILED and "property refused" in by["v1"].error
    assert by["c1"].write == service.WRITTEN


def test_no_write_option(session):
    report = run(session, write=False)
    assert all(r.write is None for r in report.records)
    assert note_count(session) == 0


def test_batches_reach_apply_many_in_order_with_per_record_outcomes(tmp_path):
    from cmrules.connector import ApplyOutcome

    calls: list[list[str]] = []

    class Batching(LocalConnector):
        write_batch_size = 2

        def apply_many(self, notes):
            calls.append([n.subject.id for n in notes])
            out = super().apply_many(notes)
            return [
                ApplyOutcome(error=WriteError("refused")) if n.subject.id == "v1" else o
                for n, o in zip(notes, out, strict=True)
            ]

    conn = Batching({"path": str(tmp_path / "db.sqlite3"), "demo": False})
    import_file(conn, MINI)
    extra = tmp_path / "extra.yaml"
    extra.write_text(
        "organisations:\n  - {id: c2, name: Deux, kind: company}\n"
        "  - {id: c3, name: Trois, kind: company}\n"
        "engagements:\n  - {company: c2, vendor: v1}\n  - {company: c3, vendor: v1}\n"
    )
    import_file(conn, extra)
    s = service.open_session(None, connector=conn)
    seen = []
    report = service.evaluate(s, vendor="v1", as_of=AS_OF)
    assert [len(c) for c in calls] == [2, 2]
    by = {r.subject.id: r.write for r in report.records}
    assert by == {
        "v1": service.FAILED,
        "c1": service.WRITTEN,
        "c2": service.WRITTEN,
        "c3": service.WRITTEN,
    }
    service.write_back(conn, report.records, dry_run=False, on_progress=seen.append)
    assert len(seen) == 4
    s.close()
