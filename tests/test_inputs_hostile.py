"""Import files and configs as hostile input writes them: one Error line at file:line, in
words, no traceback, and a failed import leaves the database exactly as it was."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest
from click.testing import CliRunner

from cmrules.cli import cli

AS_OF = ["--as-of", "2026-11-20T12:00:00Z"]
ORG = (
    "organisations:\n  - {id: c1, name: Acme, kind: company}\n  - {id: v1, name: V, kind: vendor}\n"
)


def invoke(*args):
    return CliRunner().invoke(cli, list(args))


def one_error(res, code=2):
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    assert sum(line.startswith("Error:") for line in res.output.splitlines()) == 1
    return res.output


def dump(db) -> list:
    con = sqlite3.connect(db)
    try:
        return [tuple(r) for t in ("organisations", "contacts", "activities", "engagements")
                for r in con.execute(f"SELECT * FROM {t} ORDER BY 1")]  # fmt: skip
    finally:
        con.close()


@pytest.fixture
def store(tmp_path):
    db = tmp_path / "db.sqlite3"
    cfg = tmp_path / "cmrules.yaml"
    cfg.write_text(f"local: {{path: {db}, demo: false}}\n")
    good = tmp_path / "good.yaml"
    good.write_text(ORG)
    assert invoke("--config", str(cfg), "local", "import", str(good)).exit_code == 0
    return cfg, db


@pytest.mark.parametrize(
    ("body", "line", "needle"),
    [
        # unquoted impossible dates gave a 57-line traceback and exit 1
        ("engagements:\n  - {company: c1, vendor: v1, started: 2026-02-30}\n", 5,
         "impossible date or time '2026-02-30'"),
        ("engagements:\n  - {company: c1, vendor: v1, started: 2026-13-01}\n", 5,
         "impossible date or time '2026-13-01'"),
        ("activities:\n  - {id: a, kind: meeting, company: c1, date: 2026-01-01T25:00:00Z}\n",
         5, "hour must be in 0..23"),
        ("activities:\n  - {id: a, kind: meeting, company: c1, date: 0001-01-01T00:00:00+01:00}\n",
         5, "date out of range"),
        ("activities:\n  - {id: a, kind: ticket, company: c1, replies: 99999999999999999999}\n",
         5, "replies 99999999999999999999 is too large (SQLite holds 64-bit integers)"),
        # duplicate ids in one file were silently merged
        ("contacts:\n  - {id: p, name: A, org: c1}\n  - {id: p, name: B, org: c1}\n", 6,
         "duplicate id 'p' (also at line 5)"),
        ("  - {id: c2, name: A, kind: company}\n  - {id: c2, name: B, kind: company}\n", 5,
         "organisations[3]: duplicate id 'c2' (also at line 4)"),
        ("contacts:\n  - {id: p, name: A, org: c1, email: a@x.test, email: b@x.test}\n", 5,
         "duplicate key 'email'"),
    ],
)  # fmt: skip
def test_bad_import_is_one_error_and_changes_nothing(store, tmp_path, body, line, needle):
    cfg, db = store
    before = dump(db)
    bad = tmp_path / "bad.yaml"
    bad.write_text(ORG + body)
    out = one_error(invoke("--config", str(cfg), "local", "import", str(bad)))
    assert f"{bad}:{line}:" in out and needle in out
    assert dump(db) == before


def test_import_file_errors_in_words(store, tmp_path):
    cfg, db = store
    out = one_error(invoke("--config", str(cfg), "local", "import", "x.yaml"))
    assert "Error: no such file: x.yaml" in out
    bad = tmp_path / "x.json"
    bad.write_bytes(b'{"organisations": [{"id": "x", "name": "caf\xe9", "kind": "company"}]}')
    out = one_error(invoke("--config", str(cfg), "local", "import", str(bad)))
    assert f"Error: {bad} is not UTF-8 (byte 43): save it as UTF-8" in out


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ("http: {max_retries: 1.0e+30}\n", "http.max_retries must be a whole number between 0"),
        ("http: {timeout: .nan}\n", "http.timeout must be a number between 0.1 and 600"),
        ("http: {backoff_max: .inf}\n", "http.backoff_max must be a number between 0 and 3600"),
        ("signals: {unanswered_after_hours: -1}\n", "signals.unanswered_after_hours must be"),
        ("local: {demo: \"no\"}\n", "demo"),
        ("rules: {params: {CMR001: {max_directing_contacts: .nan}}}\n", "not a number (.nan)"),
        ("state: {path: 2026-02-30}\n", "impossible date or time '2026-02-30'"),
        ("source: local\nsource: hubspot\n", "duplicate key 'source'"),
        ("1: x\n", "key 1 is not a text key"),
    ],
)  # fmt: skip
def test_bad_config_is_one_error_with_line(tmp_path, config, needle):
    cfg = tmp_path / "cmrules.yaml"
    cfg.write_text(config)
    out = one_error(invoke("--config", str(cfg), "vendors"))
    assert needle in out and str(cfg) in out


def test_demo_must_be_a_real_boolean(tmp_path):
    # local.demo: "no" loaded the demo
    cfg = tmp_path / "cmrules.yaml"
    cfg.write_text(f'local: {{path: {tmp_path / "d.sqlite3"}, demo: "no"}}\n')
    one_error(invoke("--config", str(cfg), "vendors"))
    assert not (tmp_path / "d.sqlite3").exists()


def test_concurrent_writer_loses_with_already_written(store, tmp_path, monkeypatch):
    # two runs writing the same record at once: the loser found no note, then the winner's
    # insert hit the UNIQUE constraint (IntegrityError traceback, exit 1 before)
    from cmrules.connectors.local import LocalConnector

    cfg, db = store
    data = tmp_path / "eng.yaml"
    data.write_text(ORG + "engagements:\n  - {company: c1, vendor: v1, started: 2025-01-01}\n")
    invoke("--config", str(cfg), "local", "import", str(data))
    assert invoke("--config", str(cfg), "evaluate", "--vendor", "v1", *AS_OF).exit_code == 0
    # the winner has written its notes but not yet its flags; the loser checked for the
    # note just before the winner wrote it
    con = sqlite3.connect(db)
    with con:
        con.execute("DELETE FROM flags")
    con.close()
    monkeypatch.setattr(LocalConnector, "note_exists", lambda self, s, fp: False)
    res = invoke("--config", str(cfg), "evaluate", "--vendor", "v1", *AS_OF)
    assert res.exit_code == 4, res.output
    assert "already written" in res.output and "Traceback" not in res.output
    con = sqlite3.connect(db)
    dupes = con.execute("SELECT COUNT(*) - COUNT(DISTINCT fingerprint) FROM notes").fetchone()
    assert dupes == (0,)


def test_private_files_and_directories(tmp_path, monkeypatch):
    # the database holds contact e-mails and notes: it was 0644
    home = tmp_path / "home"
    monkeypatch.setenv("CMRULES_HOME", str(home))
    old = os.umask(0o022)
    try:
        assert invoke("evaluate", "--vendor", "pixel", *AS_OF).exit_code == 0
        assert invoke("sync", "--as-of", "2026-11-20T12:00:00Z", "--dry-run").exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.name == "local.sqlite3" for p in files)
    assert any(p.name.endswith(".lock") for p in files)
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p


def test_first_import_replaces_the_demo_and_says_so(tmp_path):
    own = tmp_path / "own.yaml"
    own.write_text(ORG)
    res = invoke("local", "import", str(own))
    assert res.exit_code == 0 and "replaced the bundled demo data" in res.output
    listed = invoke("vendors").output
    assert "v1" in listed and "Pixel" not in listed
    again = invoke("local", "import", str(own))  # not the demo any more: nothing replaced
    assert "replaced" not in again.output


def test_keep_demo(tmp_path):
    own = tmp_path / "own.yaml"
    own.write_text(ORG)
    res = invoke("local", "import", "--keep-demo", str(own))
    assert res.exit_code == 0 and "replaced" not in res.output
    listed = invoke("vendors").output
    assert "v1" in listed and "Pixel" in listed


def test_xdg_directories(tmp_path, monkeypatch):
    monkeypatch.delenv("CMRULES_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    (tmp_path / "cfg" / "cmrules").mkdir(parents=True)
    (tmp_path / "cfg" / "cmrules" / "config.yaml").write_text("language: en\n")
    res = invoke("sync", "--as-of", "2026-11-20T12:00:00Z", "--dry-run")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "data" / "cmrules" / "local.sqlite3").exists()
    assert list((tmp_path / "state" / "cmrules").glob("sync-local*"))
    assert "records evaluated" in res.output  # language: en came from the XDG config
