"""The CLI's safety net: anything unforeseen ends in one redacted, terminal-safe Error line,
a traceback saved in the state directory, and exit 70 — never a traceback, never exit 1."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cmrules import redact
from cmrules.cli import EXIT_INTERNAL, cli
from cmrules.errors import ConnectorError

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
AS_OF = ["--as-of", "2026-11-20T12:00:00Z"]


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("Error:")]


@pytest.fixture
def boom(monkeypatch):
    """evaluate hits a bug whose message carries a secret and an escape sequence."""
    import cmrules.service

    def explode(*_a, **_k):
        raise KeyError(f"\x1b[2J\x1b]0;pwned\x07 boom Bearer {TOKEN}")

    monkeypatch.setattr(cmrules.service, "evaluate", explode)


def test_unexpected_exception_is_one_error_line_exit_70_with_saved_traceback(
    boom, monkeypatch, tmp_path
):
    # a bug in a command must not print a traceback nor use exit 1 (--fail-on's)
    monkeypatch.setenv("HUBSPOT_TOKEN", TOKEN)
    res = CliRunner().invoke(cli, ["evaluate", "--vendor", "pixel", *AS_OF])
    assert res.exit_code == EXIT_INTERNAL == 70
    assert "Traceback" not in res.output
    lines = error_lines(res.output)
    assert len(lines) == 1 and len(res.output.strip().splitlines()) == 1
    log = Path(os.environ["CMRULES_HOME"]) / "error.log"
    assert str(log) in lines[0] and "KeyError" in lines[0] and "report" in lines[0]
    assert TOKEN not in res.output and "\x1b" not in res.output and "\x07" not in res.output
    saved = log.read_text()
    assert "Traceback (most recent call last)" in saved and "explode" in saved
    assert TOKEN not in saved
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700


def test_unwritable_state_dir_still_one_error_line(boom, monkeypatch, tmp_path):
    # the safety net must not itself crash when the traceback cannot be saved
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("CMRULES_HOME", str(blocker / "home"))
    res = CliRunner().invoke(cli, ["evaluate", "--vendor", "pixel", *AS_OF])
    assert res.exit_code == 70
    assert len(error_lines(res.output)) == 1 and "could not be saved" in res.output


def test_cmrules_error_text_is_redacted_and_terminal_safe(monkeypatch):
    # a connector error echoing the credentials (an API answering with the header it got)
    import cmrules.service

    def refuse(*_a, **_k):
        raise ConnectorError(f"HubSpot GET /x: HTTP 400: got 'Bearer {TOKEN}'\n\x1b[31mred")

    monkeypatch.setenv("HUBSPOT_TOKEN", TOKEN)
    monkeypatch.setattr(cmrules.service, "evaluate", refuse)
    res = CliRunner().invoke(cli, ["evaluate", "--vendor", "pixel", *AS_OF])
    assert res.exit_code == 3
    assert TOKEN not in res.output and "\x1b" not in res.output
    assert res.output.count("\n") == 1 and "Bearer ***" in res.output


def test_real_entry_point_uses_the_safety_net(tmp_path):
    # the installed console script path (standalone mode, sys.exit), not only CliRunner
    code = (
        "import cmrules.service as s\n"
        "def boom(*a, **k): raise RuntimeError('kaput')\n"
        "s.evaluate = boom\n"
        "from cmrules.cli import main\n"
        "main()\n"
    )
    env = dict(os.environ, CMRULES_HOME=str(tmp_path / "h"))
    proc = subprocess.run(
        [sys.executable, "-c", code, "evaluate", "--vendor", "pixel", *AS_OF],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 70, proc.stderr
    assert "Traceback" not in proc.stderr and len(error_lines(proc.stderr)) == 1
    assert "RuntimeError: kaput" in proc.stderr
    assert "kaput" in (tmp_path / "h" / "error.log").read_text()


def test_entry_point_is_declared():
    from importlib.metadata import entry_points

    (ep,) = [e for e in entry_points(group="console_scripts") if e.name == "cmrules"]
    assert ep.value == "cmrules.cli:main" and callable(ep.load())


def test_redaction_registers_env_and_config_secrets():
    redact.register_section({"email": "ops@acme.test", "token": "zd-TOKEN-abcdef123456"})
    import base64

    basic = base64.b64encode(b"ops@acme.test/token:zd-TOKEN-abcdef123456").decode()
    text = redact.redact(f"echo: {basic} and zd-TOKEN-abcdef123456")
    assert "zd-TOKEN" not in text and basic not in text
