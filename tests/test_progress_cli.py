"""Progress on the command line: on standard error when it is a terminal, never on standard
output, silenced by --quiet and absent from pipes, cron logs and CliRunner captures."""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from ptyrun import run, screen

from cmrules import progress as pg
from cmrules.cli import cli

N = 300  # client companies in the generated import file


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    """An agency and its N clients, as a customer's export would give them."""
    orgs = [{"id": "v-nord", "name": "Pixel Nord", "kind": "vendor"}]
    orgs += [{"id": f"c{i}", "name": f"Client {i}", "kind": "company"} for i in range(N)]
    engagements = [{"company": f"c{i}", "vendor": "v-nord", "started": "2025-01-06"}
                   for i in range(N)]  # fmt: skip
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"organisations": orgs, "engagements": engagements}), "utf-8")
    return path


@pytest.mark.parametrize("kind", ["json", "yaml"])
def test_import_shows_progress_on_a_terminal_and_erases_it(big_file, kind):
    if kind == "yaml":  # also read a row at a time
        big_file = big_file.with_suffix(".yaml")
        big_file.write_text(yaml.safe_dump(json.loads(big_file.with_suffix(".json").read_text())))
    ran = run("local", "import", str(big_file), "--keep-demo")
    assert ran.code == 0, ran.err
    # bytes of the file (the config's language: French)
    assert f"import\u202f: 0 kB/{big_file.stat().st_size // 1000} kB" in ran.err
    shown = [row for row in screen(ran.err).splitlines() if row]
    assert all(row.startswith("(created local database") for row in shown)  # erased at the end
    assert ran.out.startswith(f"imported {N + 1} organisations")  # the result, on stdout only
    assert len(ran.out.splitlines()) == 1 and "\r" not in ran.out  # no status line there


def test_no_progress_when_standard_error_is_not_a_terminal(big_file):
    ran = run("local", "import", str(big_file), "--keep-demo", tty=False)
    assert ran.code == 0
    assert "\r" not in ran.err and "import" not in ran.err  # a cron log gets no status lines
    assert ran.err.startswith("(created local database")  # notices still appear


def test_quiet_silences_progress_on_a_terminal(big_file):
    ran = run("-q", "local", "import", str(big_file), "--keep-demo")
    assert ran.code == 0
    assert ran.err == ""


class Tty(io.StringIO):
    """Standard error as a terminal (isatty), kept in memory."""

    def isatty(self) -> bool:
        return True


def cli_on_tty(monkeypatch, *args: str, lang_step: float = 0.5) -> tuple[str, str]:
    """Run the CLI in this process with standard error a terminal and a clock that moves
    ``lang_step`` seconds at each reading, so rates and ETAs are known numbers."""
    ticks = iter(range(10**9))
    monkeypatch.setattr(pg, "CLOCK", lambda: next(ticks) * lang_step)
    err, out = Tty(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(sys, "stdout", out)
    try:
        cli.main(list(args), prog_name="cmrules", standalone_mode=False)
    except SystemExit as exc:  # pragma: no cover - a failure shows in the assertions
        assert not exc.code
    return out.getvalue(), err.getvalue()


def test_import_progress_counts_rows_with_an_eta(monkeypatch, big_file):
    out, err = cli_on_tty(monkeypatch, "local", "import", str(big_file), "--keep-demo")
    assert "imported" in out
    lines = [x for x in err.split("\r") if x.startswith("import\u202f: ")]
    assert lines, err
    assert any("reste " in x for x in lines)  # with a count known, an estimate of time left
    assert err[: err.index("(created")].endswith("\r")  # erased before the next notice


def test_not_shown_under_a_test_runner_capture(big_file):
    result = CliRunner().invoke(cli, ["local", "import", str(big_file), "--keep-demo"])
    assert result.exit_code == 0, result.output
    assert "lecture du fichier" not in result.output


# -- evaluate and sync on a generated portfolio ----------------------------------------------
AS_OF = "2026-11-20T12:00:00Z"
DURATION = r'"duration_s": [0-9.]+'


@pytest.fixture(scope="module")
def store_config(tmp_path_factory) -> str:
    """A config in English on a generated store: one agency, 600 clients (two chunks)."""
    import local_portfolio

    where = tmp_path_factory.mktemp("portfolio")
    local_portfolio.build(where / "local.sqlite3", 600)
    config = where / "cmrules.yaml"
    config.write_text(
        f"source: local\nlanguage: en\nlocal:\n  path: {where / 'local.sqlite3'}\n  demo: false\n",
        "utf-8",
    )
    return str(config)


def test_evaluate_json_is_byte_identical_with_progress_on_the_terminal(store_config):
    args = ("--config", store_config, "evaluate", "--vendor", "v-big", "--format", "json",
            "--dry-run", "--as-of", AS_OF)  # fmt: skip
    shown, piped = run(*args), run(*args, tty=False)
    assert shown.code == piped.code == 0, shown.err
    # progress never touches standard output: byte for byte the same, once the run's own
    # duration (the one figure that differs between any two runs) is set aside
    assert re.sub(DURATION, "", shown.out) == re.sub(DURATION, "", piped.out)
    assert len(json.loads(shown.out)["records"]) == 601  # the whole document: agency + clients
    assert "reading the portfolio: " in shown.err and "/600 " in shown.err
    assert "evaluating: " in shown.err
    assert screen(shown.err).strip() == ""  # erased when the command ends
    assert "\r" not in piped.err and "evaluating" not in piped.err


def test_evaluate_progress_has_counts_and_an_eta(monkeypatch, store_config):
    out, err = cli_on_tty(monkeypatch, "--config", store_config, "evaluate", "--vendor",
                          "v-big", "--format", "json", "--no-write", "--as-of", AS_OF)  # fmt: skip
    assert out.startswith("{")
    evaluating = [x.rstrip() for x in err.split("\r") if x.startswith("evaluating: ")]
    assert any("/601 (" in x and " · ETA " in x for x in evaluating), evaluating  # + agency
    assert err.endswith("\r")


def test_quiet_evaluate_draws_nothing(store_config):
    ran = run("--config", store_config, "evaluate", "--vendor", "v-big", "--format", "json",
              "--no-write", "--as-of", AS_OF, "-q")  # fmt: skip
    assert ran.code == 0 and ran.err == ""


def test_sync_shows_every_phase_and_its_json_is_unchanged(store_config):
    args = ("--config", store_config, "sync", "--full", "--json", "--dry-run", "--as-of", AS_OF)
    shown, piped = run(*args), run(*args, tty=False)
    assert shown.code == piped.code == 0, shown.err
    # phases shorter than a redraw interval may not be drawn (here listing the vendors)
    for text in ("looking for changes…", "reading the portfolio: ", "evaluating: "):
        assert text in shown.err, text
    assert screen(shown.err).strip() == ""
    drop = {"duration_s", "state_path"}  # the run's own measure and path, not its result

    def result(text: str) -> dict:
        return {k: v for k, v in json.loads(text).items() if k not in drop}

    assert result(shown.out) == result(piped.out)
    assert "\r" not in piped.err


def test_ctrl_c_leaves_a_clean_row_for_the_message(store_config):
    ran = run("--config", store_config, "evaluate", "--vendor", "v-big", "--format", "json",
              "--no-write", "--as-of", AS_OF, interrupt_on="reading the portfolio")  # fmt: skip
    assert ran.code == 130, ran.err
    rows = [row for row in screen(ran.err).splitlines() if row]
    assert rows == ["Interrupted; rerun to resume (writes are idempotent)."]  # no leftover line
