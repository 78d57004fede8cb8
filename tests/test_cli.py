"""The CLI through Click's CliRunner: help, exit codes, formats, errors without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cmrules import __version__
from cmrules.cli import cli
from cmrules.connectors.local import LocalConnector, import_file

MINI = Path(__file__).parent / "data" / "mini.yaml"
AS_OF = ["--as-of", "2026-11-20T12:00:00Z"]


@pytest.fixture
def cfg(tmp_path):
    db = tmp_path / "db.sqlite3"
    conn = LocalConnector({"path": str(db), "demo": False})
    import_file(conn, MINI)
    # a second vendor with a similar name, for ambiguity
    extra = tmp_path / "extra.yaml"
    extra.write_text("organisations:\n  - {id: v2, name: Agence Test Bis, kind: vendor}\n")
    import_file(conn, extra)
    conn.close()
    path = tmp_path / "cmrules.yaml"
    path.write_text(f"local: {{path: {db}, demo: false}}\n")
    return path


def run(cfg, *args):
    return CliRunner().invoke(cli, ["--config", str(cfg), *args])


def all_commands(group: click.Group, prefix=()):
    for name, cmd in group.commands.items():
        yield (*prefix, name), cmd
        if isinstance(cmd, click.Group):
            yield from all_commands(cmd, (*prefix, name))


def test_every_command_has_help_with_text():
    for path, cmd in all_commands(cli):
        res = CliRunner().invoke(cli, [*path, "-h"])
        assert res.exit_code == 0, path
        assert cmd.help and len(cmd.help) > 20, path


def test_version():
    res = CliRunner().invoke(cli, ["--version"])
    assert res.exit_code == 0 and __version__ in res.output


def test_evaluate_table_json_markdown(cfg):
    table = run(cfg, "evaluate", "--vendor", "v1", "--no-write", *AS_OF)
    assert table.exit_code == 0, table.output
    assert "Durand & Fils <Industrie>" in table.output and "CMR001" in table.output
    js = run(
        cfg, "evaluate", "--vendor", "v1", "--no-write", "--format", "json", "--lang", "en", *AS_OF
    )
    data = json.loads(js.stdout)
    assert data["as_of"] == "2026-11-20T12:00:00Z" and data["language"] == "en"
    rec = {r["id"]: r for r in data["records"]}
    assert rec["c1"]["risk_level"] == "high"
    f = next(f for f in rec["c1"]["findings"] if f["rule_id"] == "CMR001")
    assert f["evidence"][0]["value"] == 2 and f["message"].startswith("2 people")
    assert {x["label"] for x in f["evidence"][0]["records"]} == {"Alice", "Bob"}
    md = run(cfg, "evaluate", "--company", "durand", "--no-write", "--format", "markdown", *AS_OF)
    assert md.exit_code == 0 and "Durand & Fils \\<Industrie\\>" in md.output


def test_dry_run_prints_notes_and_writes_nothing(cfg):
    res = run(cfg, "evaluate", "--vendor", "v1", "--dry-run", *AS_OF)
    assert "=====" in res.output and "cmrules:" in res.output
    assert "Aucune note cmrules" in run(cfg, "notes", "--company", "c1").output


def test_write_then_rerun_says_unchanged(cfg):
    run(cfg, "evaluate", "--vendor", "v1", *AS_OF)
    again = run(cfg, "evaluate", "--vendor", "v1", "--lang", "fr", *AS_OF)
    assert "2 fiches inchangées" in again.output
    notes = run(cfg, "notes", "--company", "c1")
    assert notes.output.count("--- note") == 1


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["evaluate", "--vendor", "Agence Tst"], 2, "Did you mean"),
        (["evaluate", "--vendor", "agence test"], 0, ""),  # exact (case-insensitive) wins
        (["evaluate", "--vendor", "Agence"], 2, "ambiguous: Agence Test (id v1); Agence Test Bis"),
        (["evaluate"], 2, "give --vendor"),
        (["evaluate", "--vendor", "v1", "--as-of", "yesterday"], 2, "is not a date"),
        (["evaluate", "--vendor", "v1", "--format", "xml"], 2, "Invalid value"),
        (["evaluate", "--vendor", "v1", "--fail-on", "high", *AS_OF], 1, ""),
        (["evaluate", "--vendor", "v2", "--fail-on", "low", *AS_OF], 0, ""),
        (["rules", "show", "CMR999"], 2, "no rule"),
        (["notes", "--vendor", "v1", "--company", "c1"], 2, "exactly one"),
    ],
)
def test_exit_codes(cfg, args, code, needle):
    res = run(cfg, *args)
    assert res.exit_code == code, res.output
    assert needle in res.output
    assert "Traceback" not in res.output


def test_bad_config_is_one_message(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("source: local\nlanguage: klingon\n")
    res = CliRunner().invoke(cli, ["--config", str(bad), "evaluate", "--vendor", "x"])
    assert res.exit_code == 2
    assert res.output.strip() == f"Error: {bad}:2: language must be fr or en, got 'klingon'"


def test_demo_database_is_created_and_announced(tmp_path):
    res = CliRunner().invoke(cli, ["vendors"])
    assert res.exit_code == 0
    assert "created local database" in res.output and "from the bundled demo" in res.output
    assert len(res.stdout.strip().splitlines()) >= 1


def test_rules_list_and_show():
    res = CliRunner().invoke(cli, ["rules", "list", "--lang", "fr"])
    assert "CMR001" in res.output and "L’interlocuteur en interne sera-t-il unique" in res.output
    show = CliRunner().invoke(cli, ["rules", "show", "cmr004"])
    assert "leadership" in show.output.lower() and "params" in show.output


def test_signals_listing():
    # one default language (the config's: fr without a config), every label translated
    res = CliRunner().invoke(cli, ["signals"])
    line = next(x for x in res.output.splitlines() if x.startswith("directing_contacts"))
    assert line.split()[1:3] == ["entreprise", "entier"]
    res = CliRunner().invoke(cli, ["signals", "--lang", "en", "--format", "json"])
    import json as json_

    first = json_.loads(res.output)[0]
    assert set(first) == {"name", "subject", "type", "window_days", "doc"}
    assert first["type"] == "int"


def test_local_import_command(cfg, tmp_path):
    data = tmp_path / "more.yaml"
    data.write_text("organisations:\n  - {id: v3, name: Troisième, kind: vendor}\n")
    res = run(cfg, "local", "import", str(data))
    assert res.exit_code == 0 and "imported 1 organisations" in res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("organisations:\n  - {id: v4, kind: vendor}\n")
    res = run(cfg, "local", "import", str(bad))
    assert (
        res.exit_code == 2
        and f"{bad}:2: organisations[0]: missing required field 'name'" in res.output
    )


def test_secrets_from_env_are_redacted_from_logs(cfg, monkeypatch, capsys):
    import logging

    monkeypatch.setenv("ACME_API_TOKEN", "tok-very-secret-123")
    res = CliRunner().invoke(cli, ["--config", str(cfg), "-vv", "vendors"])
    assert res.exit_code == 0
    logging.getLogger("cmrules.test").warning("leaking tok-very-secret-123 here")
    captured = capsys.readouterr()
    assert "leaking *** here" in captured.err
    assert "tok-very-secret-123" not in captured.err + res.output


def test_terminal_output_strips_escape_sequences(tmp_path):
    db = tmp_path / "t.sqlite3"
    conn = LocalConnector({"path": str(db), "demo": False})
    data = tmp_path / "t.yaml"
    data.write_text(
        'organisations:\n  - {id: v1, name: "Evil\\e[2J\\e]0;pwned\\u0007 Agency", kind: vendor}\n'
    )
    import_file(conn, data)
    conn.close()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"local: {{path: {db}, demo: false}}\n")
    for fmt in ("table", "markdown"):
        res = run(cfg, "evaluate", "--vendor", "v1", "--no-write", "--format", fmt)
        assert "\x1b" not in res.output and "\x07" not in res.output
        assert "Agency" in res.output
