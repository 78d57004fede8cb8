"""``source: zendesk`` end to end through the CLI: config with ${ENV} secrets, evaluation of a
vendor from Zendesk data, write-back into the notes block, and a rerun that writes nothing."""

from __future__ import annotations

import json

import pytest
import responses
from click.testing import CliRunner
from zendesk_fake import AUTH, EMAIL, TOKEN, scenario

from cmrules.cli import cli

CONFIG = """
source: zendesk
language: en
zendesk:
  subdomain: acme
  email: ${ZENDESK_EMAIL}
  token: ${ZENDESK_API_TOKEN}
  requests_per_minute: 400
"""


@pytest.fixture
def zd(monkeypatch, tmp_path):
    monkeypatch.setenv("ZENDESK_EMAIL", EMAIL)
    monkeypatch.setenv("ZENDESK_API_TOKEN", TOKEN)
    monkeypatch.setenv("CMRULES_HOME", str(tmp_path / "home"))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield scenario(rsps)


def evaluate(tmp_path, *extra: str, config: str = CONFIG):
    cfg = tmp_path / "cmrules.yaml"
    cfg.write_text(config)
    args = [
        "-vv",
        "--config",
        str(cfg),
        "evaluate",
        "--vendor",
        "SocialCo",
        "--format",
        "json",
        "--as-of",
        "2024-04-01",
        *extra,
    ]
    return CliRunner().invoke(cli, args)


def test_cli_evaluate_writes_zendesk_notes_then_nothing(zd, tmp_path):
    first = evaluate(tmp_path)
    assert first.exit_code in (0, 1), first.output
    assert TOKEN not in first.output and AUTH.split()[1] not in first.output
    report = json.loads(first.stdout)
    assert report["warnings"] == [
        "zendesk organisation 'Gamma' (id 202) names vendor 'nobody-knows' in organisation field "
        "'cm_vendor', but no organisation tagged 'cm_vendor' has that id, external id or name"
    ]
    written = [org for org, _ in zd.puts]
    assert sorted(written) == [100, 200, 201]  # the vendor and both clients
    acme = zd.orgs[200]
    assert acme["notes"].startswith("Human intro line.\nSecond human line.\n\n--- cmrules:begin ")
    assert acme["notes"].rstrip().endswith("--- cmrules:end ---")
    assert acme["tags"][:2] == ["vip", "region_west"]
    assert any(t.startswith("cmrules_risk_") for t in acme["tags"])

    puts = len(zd.puts)
    second = evaluate(tmp_path)
    assert second.exit_code == first.exit_code, second.output
    assert len(zd.puts) == puts  # unchanged data: no write call at all
    summary = json.loads(second.stdout)["summary"]
    assert summary.get("write_calls", 0) == 0
    assert summary["unchanged"] == summary["records_evaluated"] == 3
    assert json.loads(first.stdout)["summary"]["notes_written"] == 3


def test_cli_oauth_run_longer_than_the_token_lifetime_shows_no_failure(zd, tmp_path, monkeypatch):
    # Zendesk's clock runs ahead of cmrules' (every call "takes" 4 minutes on the server, tokens
    # live 5): tokens die mid-run without cmrules seeing it coming; each refused call is renewed
    # and re-sent once, and the user sees a normal run
    from zendesk_fake import CLIENT_ID, CLIENT_SECRET, Clock

    monkeypatch.setenv("ZENDESK_OAUTH_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ZENDESK_OAUTH_CLIENT_SECRET", CLIENT_SECRET)
    zd.require_auth = None
    zd.clock = Clock()
    zd.seconds_per_call = 240
    zd.oauth_lifetime_cap = 301
    result = evaluate(
        tmp_path,
        config="source: zendesk\nlanguage: en\nzendesk:\n  subdomain: acme\n"
        "  auth: oauth_client_credentials\n",
    )
    assert result.exit_code in (0, 1), result.output
    report = json.loads(result.stdout)
    assert report["summary"]["notes_written"] == 3 and report["summary"]["failed"] == 0
    # no error line, no warning, no record failure: the 401s stayed inside the HTTP policy
    # (not a substring test on "401": fingerprints and durations may contain those digits)
    assert "Error" not in result.output and "invalid_token" not in result.output
    assert not any("401" in w or "token" in w for w in report["warnings"])
    assert all(r["error"] is None for r in report["records"])
    assert len(zd.refused) >= 2  # tokens really expired during the run ...
    assert all(r[2] == "invalid_token" for r in zd.refused)
    assert len(zd.token_requests) == len(zd.refused) + 1  # ... one renewal each, no storm
    assert CLIENT_SECRET not in result.output
