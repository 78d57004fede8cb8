"""One CLI contract across commands: formats, --output, -q, -v anywhere, fixed JSON keys,
one default language, tables that fit the terminal, colour, completion, companies."""

from __future__ import annotations

import json
import stat

import pytest
from click.testing import CliRunner

from cmrules.cli import cli

AS_OF = ["--as-of", "2026-11-20T12:00:00Z"]
LISTINGS = [
    ["vendors"], ["companies"], ["signals"], ["rules", "list"], ["rules", "show", "CMR001"],
    ["notes", "--vendor", "v-pixel"], ["sync", "--dry-run", *AS_OF],
    ["evaluate", "--vendor", "v-pixel", "--no-write", *AS_OF],
]  # fmt: skip


def invoke(*args, **kw):
    return CliRunner().invoke(cli, list(args), **kw)


@pytest.mark.parametrize("command", LISTINGS, ids=lambda c: " ".join(c[:2]))
@pytest.mark.parametrize("fmt", ["table", "json", "markdown"])
def test_every_listing_takes_format_output_quiet_and_verbose(tmp_path, command, fmt):
    out = tmp_path / "out.txt"
    res = invoke(*command, "--format", fmt, "--output", str(out), "-q", "-v")
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert text.strip()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    if fmt == "json":
        json.loads(text)
    assert res.stdout == ""  # -q: no notice; the result went to the file


def test_verbose_before_or_after_the_subcommand(caplog):
    for args in (["-v", "vendors"], ["vendors", "-v"], ["vendors", "-vv"]):
        assert invoke(*args).exit_code == 0


def test_sync_json_alias_warnings_unmatched_and_fixed_keys():
    res = invoke("sync", "--json", "--dry-run", *AS_OF)
    data = json.loads(res.stdout)
    assert res.exit_code == 0
    documented = {
        "records_evaluated", "notes_written", "flags_updated", "unchanged", "would_write",
        "failed", "findings", "api_calls", "write_calls", "read_posts", "retry_sleeps",
        "flags_written", "duration_s", "records_read", "since", "watermark_advanced",
        "state_path", "warnings", "unmatched", "waived", "ops_data_gaps",
        "tasks_created", "tasks_completed", "tasks_reopened",
    }  # fmt: skip
    assert set(data) == documented
    assert data["api_calls"] == 0 and data["write_calls"] == 0  # present even when zero
    assert data["warnings"] == [] and data["unmatched"] == []
    assert set(data["findings"]) == {"high", "medium", "low", "info"}


def test_evaluate_json_summary_keys_always_present():
    res = invoke("evaluate", "--vendor", "v-pixel", "--format", "json", "--no-write", *AS_OF)
    data = json.loads(res.stdout)
    assert set(data) == {"as_of", "language", "records", "summary", "warnings", "unmatched"}
    assert {"api_calls", "write_calls", "flags_updated"} <= set(data["summary"])


def test_text_summary_counts_flags_updated():
    res = invoke("sync", "--dry-run", *AS_OF)
    assert "0 mise à jour de drapeaux" in res.output  # records whose flags alone changed


def test_one_default_language_and_translated_labels(tmp_path):
    # rules list --lang fr still printed "high", "company"
    res = invoke("rules", "list", "--lang", "fr")
    cmr001 = next(x for x in res.output.splitlines() if x.startswith("CMR001"))
    assert "élevé" in cmr001 and "entreprise" in cmr001 and "high" not in cmr001
    cfg = tmp_path / "cmrules.yaml"
    cfg.write_text("language: en\n")
    res = invoke("--config", str(cfg), "rules", "list")  # no --lang: the config's language
    cmr001 = next(x for x in res.output.splitlines() if x.startswith("CMR001"))
    assert "high" in cmr001 and "company" in cmr001
    assert "Will there be a single internal contact?" in res.output


def test_table_fits_the_terminal_and_marks_cuts(monkeypatch):
    # the Flags column cut to "CMR01" read as a rule id
    monkeypatch.setenv("COLUMNS", "50")
    res = invoke("evaluate", "--vendor", "v-hashtag", "--no-write", *AS_OF)
    table = res.output.split("\n\n")[0].splitlines()
    assert all(len(line) <= 50 for line in table)
    assert any("…" in line for line in table)
    for line in table[2:]:
        for token in line.replace(",", " ").split():
            assert not (token.startswith("CMR") and len(token) < 6 and "…" not in token)


def test_colour_on_demand_and_no_color(monkeypatch):
    res = invoke("--color", "always", "rules", "list")
    assert "\x1b[1;31m" in res.output  # high in red
    res = invoke("rules", "list", "--color", "always")
    assert "\x1b[" in res.output
    assert "\x1b[" not in invoke("rules", "list").output  # not a terminal: auto is off
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in invoke("rules", "list", "--color", "auto").output


def test_companies_listing_with_vendors():
    data = json.loads(invoke("companies", "--format", "json").stdout)
    medina = next(c for c in data if c["id"] == "c-medina")
    assert set(medina) == {"id", "name", "domain", "vendors"}
    assert medina["vendors"] == [{"id": "v-pixel", "name": "Pixel Social"}]


def test_vendor_with_company_is_checked_not_ignored():
    res = invoke("evaluate", "--vendor", "v-nuage", "--company", "c-medina", *AS_OF)
    assert res.exit_code == 2 and "is not a client of" in res.output


def test_shell_completion_script():
    res = invoke(env={"_CMRULES_COMPLETE": "bash_source"}, prog_name="cmrules")
    assert res.exit_code == 0 and "_CMRULES_COMPLETE=bash_complete" in res.output


def test_markdown_listing_escapes_crm_text():
    res = invoke("vendors", "--format", "markdown")
    assert res.output.startswith("| id | nom | domaine |")
    assert "Agence Hashtag \\& Co" in res.output or "Agence Hashtag & Co" in res.output
