"""Acting on flags with the local store: history on the record, waivers, data-gap tasks."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cmrules.cli import cli

DAY1 = ["--as-of", "2026-11-20T12:00:00Z"]


def run(*args, config=None):
    pre = ["--config", str(config)] if config else []
    res = CliRunner().invoke(cli, [*pre, *args])
    return res


def summary(res):
    assert res.exit_code in (0, 1), res.output
    return json.loads(res.stdout)["summary"]


def test_history_survives_deleting_the_state_file(tmp_path):
    """The sync state file is lost; the first-seen dates live in the store's flags table."""
    first = run("sync", "--json", "--as-of", "2026-11-20T12:00:00Z")
    assert first.exit_code in (0, 1), first.output
    for f in (tmp_path / "home").glob("sync-*.json"):
        f.unlink()
    again = run("sync", "--json", "--full", "--as-of", "2026-11-20T12:00:00Z")
    assert json.loads(again.stdout)["notes_written"] == 0  # same flags: nothing to write
    hist = json.loads(run("history", "--company", "Café Médina", "--format", "json").stdout)
    assert {"rule_id": "CMR008", "vendor_id": "v-pixel", "since": "2026-11-20"} in hist["open"]
    assert hist["stored"] is True


def test_resolved_flag_is_good_news_in_the_next_note(tmp_path):
    """Café Médina names a project owner: the next note opens with the good news, and the
    flags still open keep their first-seen date."""
    run("evaluate", "--company", "Café Médina", *DAY1)
    fix = tmp_path / "fix.yaml"
    fix.write_text(
        "contacts:\n  - {id: p-nadia-ferhat, name: Nadia Ferhat, org: c-medina,"
        " roles: [project_owner], attributes: {social_media_familiar: true}}\n",
        encoding="utf-8",
    )
    assert run("local", "import", "--keep-demo", str(fix)).exit_code == 0
    later = ["--as-of", "2026-11-21T12:00:00Z", "--lang", "en"]
    assert run("evaluate", "--company", "Café Médina", *later).exit_code in (0, 1)
    note = run("notes", "--company", "Café Médina").output.split("--- note")[1].splitlines()
    assert note[2] == "Since the last note: good news, resolved: No project owner named."
    assert "Open since 20 November 2026" in note[4]
    hist = json.loads(run("history", "--company", "c-medina", "--format", "json").stdout)
    assert hist["events"][-1] == {"date": "2026-11-21", "event": "resolved", "rule_id": "CMR002",
                                  "vendor_id": "v-pixel"}  # fmt: skip


def test_waive_expiry_between_two_runs_changes_only_that_note(tmp_path):
    """CMR010 on Café Médina waived until 15 December: no longer a flag, the note says so; on
    16 December it is back and the note says the waiver ended.  Other records: untouched."""
    run("evaluate", "--vendor", "Pixel Social", *DAY1)
    why = "Monthly meetings resume in January"
    res = run("waive", "--company", "Café Médina", "--rule", "CMR010", "--until", "2026-12-15",
              "--reason", why, "--by", "Claire Martin", *DAY1)  # fmt: skip
    assert res.exit_code == 0, res.output
    s = summary(run("evaluate", "--vendor", "Pixel Social", "--format", "json", *DAY1))
    assert s["notes_written"] == 1 and s["unchanged"] == s["records_evaluated"] - 1 >= 2
    assert s["waived"] == 1
    notes = run("notes", "--company", "Café Médina").output
    assert "[SUSPENDU] Réunions trop rares — Suspendu jusqu’au 15 décembre 2026" in notes
    flags = json.loads(run("evaluate", "--company", "c-medina", "--format", "json", "--no-write",
                           *DAY1).stdout)["records"][0]["flags"]  # fmt: skip
    assert "CMR010" not in flags
    reg = json.loads(run("waivers", "--format", "json", *DAY1).stdout)
    assert [(w["rule_id"], w["record_name"], w["status"]) for w in reg] == [
        ("CMR010", "Café Médina", "active")
    ]
    later = ["--as-of", "2026-12-16T12:00:00Z"]
    rep = json.loads(run("evaluate", "--vendor", "Pixel Social", "--format", "json", *later).stdout)
    assert rep["summary"]["waived"] == 0
    medina = next(r for r in rep["records"] if r["id"] == "c-medina")
    assert medina["write"] == "written" and "CMR010" in medina["flags"]
    notes = run("notes", "--company", "Café Médina").output
    assert "fin de suspension, à nouveau ouvert\u202f: Réunions trop rares" in notes
    reg = json.loads(run("waivers", "--format", "json", *later).stdout)
    assert "expired on 2026-12-15" in reg[0]["problem"]


def test_a_waiver_is_a_change_the_next_incremental_sync_picks_up(tmp_path):
    """`cmrules waive` then the nightly `sync` (no --full): Café Médina is evaluated again and
    its note says the flag is waived (it was skipped as unchanged)."""

    def sync():
        res = run("sync", "--format", "json", *DAY1)
        assert res.exit_code == 0, res.output
        return json.loads(res.stdout)  # sync's JSON is the summary itself

    assert sync()["records_evaluated"] >= 10
    assert sync()["notes_written"] == 0  # nothing changed (within the same second, too)
    res = run("waive", "--company", "Café Médina", "--rule", "CMR011", "--until", "2027-01-31",
              "--reason", "Weekly check-ins start in January", *DAY1)  # fmt: skip
    assert res.exit_code == 0, res.output
    s = sync()
    # Pixel's 3 records at least; more when the demo store was created in the second the last
    # sync started in (re-read, an overlap never a gap, and unchanged: no write)
    assert (s["notes_written"], s["waived"]) == (1, 1) and s["unchanged"] >= 2, s
    assert s["records_evaluated"] == s["notes_written"] + s["unchanged"], s
    assert "[SUSPENDU] Peu d’échanges" in run("notes", "--company", "Café Médina").output


def test_waive_refuses_what_would_not_apply(tmp_path):
    bad = [
        (["--rule", "CMR999", "--until", "2027-01-01", "--reason", "r"], "unknown rule"),
        (["--rule", "CMR010", "--until", "2026-11-01", "--reason", "r"], "expired on"),
        (["--rule", "CMR010", "--until", "2027-12-01", "--reason", "r"], "more than the maximum"),
        (["--rule", "CMR010", "--until", "2027-01-01", "--reason", " "], "no reason"),
    ]
    for args, needle in bad:
        res = run("waive", "--company", "Café Médina", *args, *DAY1)
        assert res.exit_code == 2 and needle in res.output, res.output
        assert res.output.count("Error:") == 1


def test_tasks_created_once_completed_when_filled_and_no_write_on_rerun(tmp_path):
    cfg = tmp_path / "cmrules.yaml"
    cfg.write_text("tasks: true\n", encoding="utf-8")
    dry = run("evaluate", "--company", "Café Médina", "--dry-run", *DAY1, config=cfg)
    assert "+ tâche\u202f: Compléter la fiche Café Médina pour cmrules" in dry.output
    assert json.loads(run("tasks", "--format", "json", config=cfg).stdout) == []  # dry run
    run("evaluate", "--company", "Café Médina", *DAY1, config=cfg)
    open_tasks = json.loads(run("tasks", "--format", "json", config=cfg).stdout)
    assert len(open_tasks) == 1 and "procédure de crise" in open_tasks[0]["body"]
    s = summary(run("evaluate", "--company", "Café Médina", "--format", "json", *DAY1, config=cfg))
    assert s["unchanged"] == 1 and s["write_calls"] == 0  # zero writes on rerun
    fix = tmp_path / "fix.yaml"
    fix.write_text(
        "engagements:\n  - company: c-medina\n    vendor: v-pixel\n    started: 2026-02-01\n"
        "    vendor_contacts: [p-chloe-dubois]\n"
        "    attributes: {kpis_defined: false, escalation_plan: false}\n"
        "contacts:\n  - {id: p-nadia-ferhat, name: Nadia Ferhat, org: c-medina,"
        " roles: [project_owner], attributes: {social_media_familiar: true}}\n",
        encoding="utf-8",
    )
    assert run("local", "import", "--keep-demo", str(fix), config=cfg).exit_code == 0
    run("evaluate", "--company", "Café Médina", *DAY1, config=cfg)
    every = json.loads(run("tasks", "--all", "--format", "json", config=cfg).stdout)
    assert [t["status"] for t in every] == ["completed"]  # gaps filled: completed, none new


def test_sync_counts_the_tasks_it_creates_completes_and_reopens(tmp_path):
    """A nightly job (sync --json) and the text summary say how many data-gap tasks were
    created, completed or reopened: Café Médina's crisis procedure and KPIs come and go."""
    cfg = tmp_path / "cmrules.yaml"
    cfg.write_text("tasks: true\n", encoding="utf-8")
    fix = tmp_path / "fix.yaml"

    def medina(attributes: str) -> None:  # the engagement's KPIs and crisis procedure
        fix.write_text(
            "engagements:\n  - company: c-medina\n    vendor: v-pixel\n"
            "    started: 2026-02-01\n    vendor_contacts: [p-chloe-dubois]\n"
            f"    attributes: {attributes}\n"
            "contacts:\n  - {id: p-nadia-ferhat, name: Nadia Ferhat, org: c-medina,"
            " roles: [project_owner], attributes: {social_media_familiar: true}}\n",
            encoding="utf-8",
        )
        assert run("local", "import", "--keep-demo", str(fix), config=cfg).exit_code == 0

    medina("{kpis_defined: null, escalation_plan: null}")
    first = json.loads(run("sync", "--json", *DAY1, config=cfg).stdout)
    made = len(json.loads(run("tasks", "--format", "json", config=cfg).stdout))
    assert made > 0 and first["tasks_created"] == made and first["tasks_completed"] == 0
    for attributes, counts in (
        ("{kpis_defined: true, escalation_plan: true}", (0, 1, 0)),
        ("{kpis_defined: null, escalation_plan: null}", (0, 0, 1)),
    ):
        medina(attributes)  # filled: its task completed; emptied: the same one reopened
        s = json.loads(run("sync", "--json", *DAY1, config=cfg).stdout)
        assert (s["tasks_created"], s["tasks_completed"], s["tasks_reopened"]) == counts
    medina("{kpis_defined: true, escalation_plan: true}")
    line = run("sync", "--format", "table", *DAY1, config=cfg).stdout.splitlines()[-1]
    assert line.endswith("; 0 tâche créée, 1 tâche terminée, 0 tâche rouverte"), line
    again = run("sync", "--full", "--format", "table", *DAY1, config=cfg).stdout
    assert "tâche" not in again  # nothing done with tasks: the summary line stays as it was


def test_note_language_per_record(tmp_path):
    """Config says French; a record whose language (or country) says English gets English."""
    fix = tmp_path / "lang.yaml"
    fix.write_text(
        "organisations:\n  - {id: c-medina, name: Café Médina, kind: company,"
        " attributes: {industry: restauration, regulated: false, country: GB}}\n"
        "  - {id: c-quai, name: Éditions du Quai, kind: company, attributes: {language: fr}}\n",
        encoding="utf-8",
    )
    assert run("local", "import", "--keep-demo", str(fix)).exit_code == 0
    rep = json.loads(run("evaluate", "--vendor", "Pixel Social", "--format", "json", "--dry-run",
                         *DAY1).stdout)  # fmt: skip
    langs = {r["name"]: r["note_language"] for r in rep["records"]}
    assert langs["Café Médina"] == "en" and langs["Éditions du Quai"] == "fr"
    out = run("evaluate", "--company", "Café Médina", "--dry-run", *DAY1).output
    assert "High risk:" in out and "Risque élevé" not in out
