"""CRM text in terminal and Markdown output: one line, no control character, escaped."""

from __future__ import annotations

from click.testing import CliRunner

from cmrules.cli import cli
from cmrules.connectors.local import LocalConnector, import_file

AS_OF = ["--as-of", "2026-11-20T12:00:00Z"]
HOSTILE = "Evil\\nCo\\n- **HIGH CMR999** injected\\e[31m\\u0085\\u202e\\u2066\\x9b"


def store(tmp_path):
    db = tmp_path / "t.sqlite3"
    conn = LocalConnector({"path": str(db), "demo": False})
    data = tmp_path / "t.yaml"
    data.write_text(
        "organisations:\n"
        "  - {id: v1, name: Agency, kind: vendor}\n"
        f'  - {{id: c1, name: "{HOSTILE}", kind: company}}\n'
        "contacts:\n"
        f'  - {{id: p1, name: "{HOSTILE}", org: c1, roles: [project_owner]}}\n'
        f'  - {{id: p2, name: "Bob", org: c1, roles: [project_owner]}}\n'
        "engagements:\n  - {company: c1, vendor: v1, started: 2025-01-01}\n"
    )
    import_file(conn, data)
    conn.close()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"language: en\nlocal: {{path: {db}, demo: false}}\n")
    return cfg


BAD = ("\x1b", "\x85", "\u202e", "\u2066", "\x9b")


def test_markdown_name_with_newline_cannot_add_a_bullet(tmp_path):
    # a company name holding "\n- **HIGH CMR999** injected" must not become a finding bullet
    cfg = store(tmp_path)
    res = CliRunner().invoke(
        cli, ["--config", str(cfg), "evaluate", "--company", "c1", "--format", "markdown",
              "--no-write", *AS_OF],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert not any(x.lstrip().startswith(("- **HIGH CMR999", "- \\*\\*HIGH")) for x in lines)
    assert "## Evil Co - \\*\\*HIGH CMR999\\*\\* injected" in res.output  # one heading line
    assert "- **HIGH CMR999**" not in res.output
    assert "\\*\\*HIGH CMR999\\*\\*" in res.output  # escaped, on the heading's line
    for ch in BAD:
        assert ch not in res.output


def test_table_keeps_crm_text_on_its_line(tmp_path):
    cfg = store(tmp_path)
    res = CliRunner().invoke(
        cli, ["--config", str(cfg), "evaluate", "--company", "c1", "--no-write", *AS_OF]
    )
    assert res.exit_code == 0
    for ch in BAD:
        assert ch not in res.output
    # the evidence line naming the contacts is one line
    evidence = [x for x in res.output.splitlines() if "project owners = 2" in x]
    assert evidence and "injected" in evidence[0]


def test_notes_keep_no_raw_escape(tmp_path):
    cfg = store(tmp_path)
    res = CliRunner().invoke(cli, ["--config", str(cfg), "evaluate", "--company", "c1", *AS_OF])
    assert res.exit_code == 0
    conn = LocalConnector({"path": str(tmp_path / "t.sqlite3"), "demo": False})
    notes = conn.db.execute("SELECT body_text || body_html FROM notes").fetchall()
    conn.close()
    assert notes
    for (body,) in notes:
        for ch in BAD:
            assert ch not in body
