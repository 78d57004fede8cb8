"""Decision log and replay: an auditor reproduces a decision after the rules changed."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cmrules import decisions
from cmrules.cli import cli
from cmrules.rulebook import builtin_rules_dir

AS_OF = "2026-11-20T12:00:00Z"


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A team's own copy of the rules, as after 'cp -r rules/ my-rules/'."""
    shutil.copytree(
        builtin_rules_dir(), tmp_path / "my-rules", ignore=shutil.ignore_patterns("*.py")
    )
    cfg = tmp_path / "cmrules.yaml"
    cfg.write_text("language: en\nrules:\n  builtin: false\n  dirs: [my-rules]\n", "utf-8")
    return cfg


def _log(home: Path) -> list[dict]:
    path = home / "decisions" / "decisions.jsonl"
    return [json.loads(x) for x in path.read_text("utf-8").splitlines()]


def test_a_decision_replays_identically_after_the_rule_files_change(
    config: Path, tmp_path: Path
) -> None:
    code, out, err = _cli("--config", str(config), "evaluate", "--vendor", "Pixel Social",
                          "--as-of", AS_OF, "--format", "json")  # fmt: skip
    assert code == 0, err
    records = {r["id"]: r for r in json.loads(out)["records"]}
    medina = records["c-medina"]
    assert "CMR011" in medina["flags"]  # 0.67 exchanges a month, under the minimum of 2
    decision = medina["decision_id"]
    assert decision and all(r["decision_id"] for r in records.values())

    line = next(x for x in _log(tmp_path / "home") if x["decision_id"] == decision)
    assert line["record"] == {"id": "c-medina", "name": "Café Médina", "kind": "company"}
    assert line["as_of"] == AS_OF and line["profile"] == "default" and line["write"] == "written"
    assert line["fingerprint"] == medina["fingerprint"]
    signals = line["inputs"][0]["signals"]
    assert signals["exchanges_per_month"]["value"] == pytest.approx(0.67, abs=0.01)
    assert signals["exchanges_per_month"]["records"], "signal values carry their source records"
    stored = tmp_path / "home" / "decisions" / "rulesets" / f"{line['rule_set']}.json"
    manifest = json.loads(stored.read_text("utf-8"))
    assert manifest["params"]["CMR011"]["min_exchanges_per_month"] == 2

    # the team relaxes CMR011 in its rule files, and retires CMR018
    vendor = tmp_path / "my-rules" / "vendor.yaml"
    vendor.write_text(vendor.read_text("utf-8").replace(
        "min_exchanges_per_month: 2", "min_exchanges_per_month: 0.5"), "utf-8")  # fmt: skip
    config.write_text(config.read_text("utf-8") + "  disable: [CMR018]\n", "utf-8")

    code, out, err = _cli("--config", str(config), "replay", decision, "--format", "json")
    assert code == 0, err
    replay = json.loads(out)
    assert replay["identical"] is True
    assert replay["replayed"] == replay["logged"]
    assert {o["rule_id"] for o in replay["replayed"]} >= {"CMR011", "CMR018"}
    assert [o["fingerprint"] for o in replay["replayed"]] == [
        f["fingerprint"] for f in sorted(medina["findings"], key=lambda f: f["rule_id"])
    ]

    code, out, _ = _cli("--config", str(config), "replay", decision, "--current-rules")
    assert code == 0
    assert "replay: identical outcomes and fingerprints" in out
    assert "CMR011  v-pixel  fired/low           fired/low           -" in out
    assert "CMR018  v-pixel  fired/low           fired/low           -" in out
    assert "today's rules (profile default): 2 outcome(s) differ" in out


def test_the_latest_decision_of_a_record_and_a_tampered_line(config: Path, tmp_path: Path) -> None:
    assert (
        _cli("--config", str(config), "evaluate", "--company", "c-quai", "--as-of", AS_OF)[0] == 0
    )
    path = tmp_path / "home" / "decisions" / "decisions.jsonl"
    text = path.read_text("utf-8")
    forged = re.sub(r'"value":\s*0\.', '"value": 9.', text)  # forge an input
    assert forged != text
    path.write_text(forged, "utf-8")
    code, out, _ = _cli("--config", str(config), "replay", "--record", "c-quai")
    assert code == 1
    assert "replay: DIFFERENT from the log" in out


def test_dry_runs_are_logged_only_when_asked(config: Path, tmp_path: Path) -> None:
    args = ["--config", str(config), "evaluate", "--vendor", "v-buzz", "--as-of", AS_OF]
    assert _cli(*args, "--dry-run")[0] == 0
    assert not (tmp_path / "home" / "decisions" / "decisions.jsonl").exists()
    assert _cli(*args, "--no-write")[0] == 0
    assert not (tmp_path / "home" / "decisions" / "decisions.jsonl").exists()
    config.write_text(config.read_text("utf-8") + "decisions: {dry_runs: true}\n", "utf-8")
    assert _cli(*args, "--dry-run")[0] == 0
    lines = _log(tmp_path / "home")
    assert len(lines) == 3 and all(x["dry_run"] and x["write"] == "would_write" for x in lines)


def test_the_log_rotates_by_size_and_replay_reads_rotated_files(
    config: Path, tmp_path: Path
) -> None:
    log = tmp_path / "audit" / "decisions.jsonl"
    config.write_text(
        config.read_text("utf-8")
        + f"decisions: {{path: {log}, max_bytes: 14000, keep: 2}}\n", "utf-8"
    )  # fmt: skip
    first = None
    for n in range(4):
        code, out, _ = _cli("--config", str(config), "evaluate", "--vendor", "v-pixel",
                            "--as-of", AS_OF, "--format", "json")  # fmt: skip
        assert code == 0
        if n == 2:
            first = json.loads(out)["records"][0]["decision_id"]
    files = sorted(p.name for p in log.parent.glob("decisions.jsonl*"))
    assert files == ["decisions.jsonl", "decisions.jsonl.1", "decisions.jsonl.2"]
    assert all(p.stat().st_size <= 14000 for p in log.parent.glob("decisions.jsonl*"))
    code, out, _ = _cli("--config", str(config), "replay", str(first))
    assert code == 0 and "identical" in out


def test_emails_are_masked_and_secrets_never_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "zd-0123456789abcdef"
    monkeypatch.setenv("ZENDESK_API_TOKEN", secret)
    data = tmp_path / "data.yaml"
    data.write_text(
        f"""\
organisations:
  - {{id: v-1, name: Agence Exemple, kind: vendor}}
  - {{id: c-1, name: Fromagerie Dupont, kind: company}}
contacts:
  - {{id: p-1, name: marc.petit@fromagerie.example, org: c-1, roles: [project_owner]}}
  - {{id: p-2, name: louise.dupont@fromagerie.example, org: c-1, roles: [project_owner]}}
activities:
  - {{id: m-1, kind: meeting, date: 2026-11-02, company: c-1, vendor: v-1,
      title: "Call — pasted the API key {secret} by mistake", contacts: [p-1]}}
engagements:
  - {{company: c-1, vendor: v-1, started: 2026-01-01}}
""",
        "utf-8",
    )
    db = tmp_path / "own.sqlite3"
    cfg = tmp_path / "cmrules.yaml"
    cfg.write_text(f"local: {{path: {db}, demo: false}}\n", "utf-8")
    assert _cli("--config", str(cfg), "local", "import", str(data))[0] == 0
    assert _cli("--config", str(cfg), "evaluate", "--company", "c-1", "--as-of", AS_OF)[0] == 0
    text = (tmp_path / "home" / "decisions" / "decisions.jsonl").read_text("utf-8")
    assert "m***@fromagerie.example" in text and "l***@fromagerie.example" in text
    assert "marc.petit@" not in text and secret not in text
    code, out, _ = _cli("--config", str(cfg), "replay", "--record", "c-1")
    assert code == 0 and "identical" in out  # masking never touches what replay needs

    cfg.write_text(cfg.read_text("utf-8") + "decisions: {mask_emails: false}\n", "utf-8")
    assert _cli("--config", str(cfg), "evaluate", "--company", "c-1", "--as-of", AS_OF)[0] == 0
    text = (tmp_path / "home" / "decisions" / "decisions.jsonl").read_text("utf-8")
    assert "marc.petit@fromagerie.example" in text and secret not in text


@pytest.mark.parametrize(
    ("section", "error"),
    [
        ("decisions: {max_bytes: 0}", "decisions.max_bytes must be a whole number"),
        ("decisions: {mask_emails: 'no'}", "decisions.mask_emails must be true or false"),
        ("decisions: {rotate: 3}", "unknown key decisions.rotate"),
    ],
)
def test_decision_settings_errors(tmp_path: Path, section: str, error: str) -> None:
    cfg = tmp_path / "cmrules.yaml"
    cfg.write_text(section + "\n", "utf-8")
    code, _, err = _cli("--config", str(cfg), "replay", "--record", "x")
    assert code == 2 and f"Error: {cfg}:1: " in err and error in err


def test_replay_of_an_unknown_decision_is_one_error_line() -> None:
    code, _, err = _cli("replay", "20260101T000000Z-00000000")
    assert code == 2
    assert err.startswith("Error: no decision 20260101T000000Z-00000000 in ")


def test_settings_default_to_the_state_directory(tmp_path: Path) -> None:
    assert decisions.Settings().log_path() == tmp_path / "home" / "decisions" / "decisions.jsonl"


def test_sync_logs_its_decisions_in_a_private_folder(tmp_path: Path) -> None:
    code, _, err = _cli("sync", "--as-of", AS_OF)
    assert code == 0, err
    lines = _log(tmp_path / "home")
    assert len(lines) == 19 and {x["command"] for x in lines} == {"sync"}  # 15 + 4 prospects
    assert {x["record"]["id"] for x in lines} >= {"v-pixel", "c-medina", "c-roussel"}
    folder = tmp_path / "home" / "decisions"
    assert folder.stat().st_mode & 0o077 == 0
    assert (folder / "decisions.jsonl").stat().st_mode & 0o077 == 0
    code, out, _ = _cli("replay", lines[-1]["decision_id"])
    assert code == 0 and "identical" in out


def test_a_rule_file_edited_during_a_run_is_logged_as_the_run_read_it(
    config: Path, tmp_path: Path
) -> None:
    from cmrules import service

    session = service.open_session(str(config))
    try:
        vendor = tmp_path / "my-rules" / "vendor.yaml"  # edited while the run is under way
        head, rest = vendor.read_text("utf-8").split("  - id: CMR011", 1)
        rest = rest.replace("severity: low", "severity: high", 1)
        vendor.write_text(head + "  - id: CMR011" + rest, "utf-8")
        report = service.evaluate(
            session, company="c-medina", as_of=service.parse_as_of(AS_OF), write=True
        )
    finally:
        session.close()
    [record] = report.records
    assert ("CMR011", "low") in {(f.rule_id, f.severity) for f in record.findings}  # as read
    code, out, _ = _cli("--config", str(config), "replay", str(record.decision_id))
    assert code == 0 and "identical" in out


def test_one_large_run_spreads_over_files_no_larger_than_max_bytes(
    config: Path, tmp_path: Path
) -> None:
    log = tmp_path / "audit" / "decisions.jsonl"
    config.write_text(
        config.read_text("utf-8") + f"decisions: {{path: {log}, max_bytes: 8000, keep: 20}}\n",
        "utf-8",
    )
    code, out, _ = _cli("--config", str(config), "sync", "--as-of", AS_OF)
    assert code == 0, out
    files = list(log.parent.glob("decisions.jsonl*"))
    assert len(files) > 3
    for p in files:  # at most max_bytes, or a single line longer than that
        assert p.stat().st_size <= 8000 or len(p.read_text("utf-8").splitlines()) == 1
    lines = [x for p in files for x in p.read_text("utf-8").splitlines()]
    assert len(lines) == 19 and all(json.loads(x)["command"] == "sync" for x in lines)
    oldest = json.loads(max(files, key=lambda p: p.name).read_text("utf-8").splitlines()[0])
    code, out, _ = _cli("--config", str(config), "replay", oldest["decision_id"])
    assert code == 0 and "identical" in out
