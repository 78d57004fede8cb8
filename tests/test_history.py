"""Run history (one JSON line per writing run) and the report's trend drawn from it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from click.testing import CliRunner
from report_fixtures import AS_OF, build_portfolio, portfolio_config

from cmrules import history
from cmrules.cli import cli
from cmrules.report import aggregate, render


def counts(flags_high: int, name: str = "V") -> history.VendorCounts:
    return history.VendorCounts(name, 3, {"high": flags_high, "medium": 1, "low": 0}, 2, {})


def line(as_of: datetime, vendors: dict[str, history.VendorCounts]) -> str:
    return json.dumps({
        "v": 1, "at": as_of.isoformat(), "as_of": as_of.isoformat(), "command": "sync",
        "vendors": {vid: c.to_dict() for vid, c in vendors.items()},
    })  # fmt: skip


def run(cfg, *args):
    return CliRunner().invoke(cli, ["--config", str(cfg), *args])


def test_sync_appends_one_line_per_run_and_dry_run_none(tmp_path):
    cfg = portfolio_config(tmp_path)
    state = tmp_path / "state" / "sync.json"
    path = history.history_path(state)
    assert path.name == "sync.history.jsonl"
    res = run(cfg, "sync", "--state", str(state), "--dry-run", "--as-of", "2026-11-01")
    assert res.exit_code == 0 and not path.exists()
    for day in ("2026-11-01", "2026-11-20"):
        assert run(cfg, "sync", "--full", "--state", str(state), "--as-of", day).exit_code == 0
    runs, skipped = history.read_runs(path)
    assert skipped == 0 and [r.as_of.day for r in runs] == [1, 20]
    calm = runs[-1].vendors["v-calm"]
    assert calm.clients == 2 and calm.name == "L'Atelier « Calme » & Co"
    # the café has two people directing « Calme »: one high CMR001 flag among the open flags
    assert calm.rules["CMR001"] == 1 and calm.open_flags == sum(calm.rules.values())


def test_evaluate_records_full_vendors_only(tmp_path):
    cfg = portfolio_config(tmp_path)
    path = history.history_path(tmp_path / "home" / "sync-local.json")
    assert run(cfg, "evaluate", "--company", "c-two", "--as-of", "2026-11-20").exit_code == 0
    assert not path.exists()  # one company is no vendor's full picture
    assert run(cfg, "evaluate", "--vendor", "v-evil", "--as-of", "2026-11-20").exit_code == 0
    runs, _ = history.read_runs(path)
    # the café's engagement with « Calme » was evaluated too (one note per company), but
    # « Calme » itself was not: only the vendor evaluated in full is recorded
    assert [set(r.vendors) for r in runs] == [{"v-evil"}]


def test_torn_line_is_skipped_and_the_next_append_stays_whole(tmp_path):
    path = tmp_path / "h.jsonl"
    path.write_text(line(AS_OF, {"v1": counts(1)}) + "\n" + '{"v": 1, "at": "2026-11-2')  # killed
    history._append(path, line(AS_OF + timedelta(days=1), {"v1": counts(2)}))
    runs, skipped = history.read_runs(path)
    assert skipped == 1 and [r.vendors["v1"].flags["high"] for r in runs] == [1, 2]


def test_history_is_rotated(tmp_path, monkeypatch):
    monkeypatch.setattr(history, "MAX_LINES", 5)
    path = tmp_path / "h.jsonl"
    for i in range(12):
        history._append(path, line(AS_OF + timedelta(days=i), {"v1": counts(i)}))
    runs, _ = history.read_runs(path)
    assert len(path.read_text().splitlines()) <= 5
    assert runs[-1].vendors["v1"].flags["high"] == 11  # the newest are kept


def test_trend_carries_forward_vendors_a_run_did_not_touch():
    t0 = AS_OF - timedelta(days=30)
    runs = [
        history.Run(t0, t0, "sync", {"a": counts(4), "b": counts(1)}),
        # an incremental sync that only re-evaluated vendor a
        history.Run(t0 + timedelta(days=1), t0 + timedelta(days=1), "sync", {"a": counts(2)}),
        history.Run(t0 + timedelta(days=2), t0 + timedelta(days=2), "sync", {"zz": counts(9)}),
    ]
    points = aggregate.trend(runs, {"a", "b"}, AS_OF)
    # vendor b still has its 1 high + 1 medium from the first run; zz is out of scope
    assert [p.total for p in points] == [(4 + 1) + (1 + 1), (2 + 1) + (1 + 1)]
    assert [p.vendors for p in points] == [2, 2]


def test_trend_window_is_the_90_days_before_as_of():
    old = AS_OF - timedelta(days=120)
    later = AS_OF + timedelta(days=3)
    runs = [
        history.Run(old, old, "sync", {"a": counts(5)}),  # seeds the state, not a point
        history.Run(AS_OF, AS_OF, "sync", {"b": counts(1)}),
        history.Run(later, later, "sync", {"a": counts(0)}),  # after the report's as-of
    ]
    points = aggregate.trend(runs, {"a", "b"}, AS_OF)
    assert len(points) == 1 and points[0].total == (5 + 1) + (1 + 1)


def test_report_draws_the_trend_from_sync_history(tmp_path):
    cfg = portfolio_config(tmp_path)
    for day in ("2026-10-01", "2026-11-01", "2026-11-20"):
        assert run(cfg, "sync", "--full", "--as-of", day).exit_code == 0
    p = build_portfolio(tmp_path)  # same CMRULES_HOME: the default state path
    assert [pt.as_of.date().isoformat() for pt in p.trend] == [
        "2026-10-01",
        "2026-11-01",
        "2026-11-20",
    ]
    assert p.trend[-1].total == sum(v.open_flags for v in p.vendors)
    page = render.render_as(p, "html")
    assert "No run history yet" not in page and page.count("<circle") == 3


def test_unreadable_history_is_reported_not_fatal(tmp_path):
    cfg = portfolio_config(tmp_path)
    state = tmp_path / "home" / "sync-local.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    history.history_path(state).write_text("not json\n")
    assert run(cfg, "report", "--all", "--as-of", "2026-11-20").exit_code == 0
    p = build_portfolio(tmp_path)
    assert p.history_skipped == 1 and p.trend == []
    assert "1 unreadable history line(s) skipped" in render.render_as(p, "html")


def test_history_write_failure_does_not_fail_the_run(tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")  # a file where the history folder should be
    assert not history.record_run(blocker / "h.jsonl", at=AS_OF, as_of=AS_OF, command="sync",
                                  results=[])  # fmt: skip  # nothing evaluated in full
    monkeypatch.setattr(history, "counts_from_results", lambda results: {"v1": counts(1)})
    ok = history.record_run(blocker / "h.jsonl", at=AS_OF, as_of=AS_OF, command="sync", results=[])
    assert ok is False and "could not record the run history" in caplog.text
