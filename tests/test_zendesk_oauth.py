"""Zendesk OAuth for unattended jobs: client credentials, the refresh-token flow with rotation,
API tokens still accepted with a warning — against the fake's token endpoint, virtual time."""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from click.testing import CliRunner
from zendesk_fake import (
    CLIENT_ID,
    CLIENT_SECRET,
    EMAIL,
    REDIRECT_URI,
    TOKEN,
    Clock,
    note_for,
    scenario,
)

from cmrules.cli import cli
from cmrules.connector import ConnectorContext
from cmrules.connectors.zendesk import ZendeskConnector
from cmrules.errors import AuthError, ConfigError

CC = {"auth": "oauth_client_credentials"}


@pytest.fixture
def zd(monkeypatch):
    monkeypatch.setenv("ZENDESK_OAUTH_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ZENDESK_OAUTH_CLIENT_SECRET", CLIENT_SECRET)
    for var in ("ZENDESK_EMAIL", "ZENDESK_API_TOKEN", "ZENDESK_OAUTH_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = scenario(rsps)
        fake.clock = Clock()
        fake.require_auth = None  # only the OAuth tokens the fake minted are accepted
        fake.api_tokens_enabled = True
        yield fake


def connect(zd, **settings) -> ZendeskConnector:
    base = {"subdomain": "acme", "org_attribute_fields": {"regulated": "regulated"}}
    return ZendeskConnector(
        {**base, **settings}, ConnectorContext(), sleep=zd.clock.sleep, clock=zd.clock
    )


def full_run(conn: ZendeskConnector, fingerprint: str = "fp-1") -> None:
    data = conn.load(["100"])
    for org_id in ("200", "201"):
        assert conn.apply(note_for(data.organisations[org_id], fingerprint, "Relancer l'agence"))


# -- client credentials -------------------------------------------------------------------------
def test_run_longer_than_the_token_lifetime_completes_without_a_failed_call(zd):
    # tokens live 5 minutes in this fake; each call takes 2 min: the run spans ~5 lifetimes
    zd.oauth_lifetime_cap = 301
    zd.seconds_per_call = 120
    conn = connect(zd, **CC)
    full_run(conn)
    assert zd.clock.now - 1000 > 3 * 301
    assert zd.refused == []  # renewed before expiry: Zendesk never refused a call
    assert conn.client.oauth.renewals["expiring"] >= 3
    assert conn.client.sleeps == []  # no retry either
    # every mint asks for the configured lifetime and scope, with the client-credentials grant
    assert {(r["grant_type"], r["expires_in"], r["scope"]) for r in zd.token_requests} == {
        ("client_credentials", "3600", "read organizations:write")
    }
    assert "cmrules" in zd.orgs[200]["notes"] and "cmrules" in zd.orgs[201]["notes"]


def test_token_expired_early_is_renewed_once_and_the_call_repeated(zd):
    conn = connect(zd, **CC)
    conn.load(["100"])
    zd.revoke_access_tokens()  # e.g. an admin revoked it, or the server's clock runs ahead
    full_run(conn)
    assert conn.client.oauth.renewals["invalid_token"] == 1
    assert [r[2] for r in zd.refused] == ["invalid_token"]
    assert len(zd.token_requests) == 2


def test_no_token_written_to_disk(zd, tmp_path):
    conn = connect(zd, **CC)
    full_run(conn)
    minted = list(zd.access_tokens)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", "replace")
            assert not any(token in text for token in minted), path


def test_wrong_client_secret_is_one_auth_error_exit_3(zd, monkeypatch):
    monkeypatch.setenv("ZENDESK_OAUTH_CLIENT_SECRET", "not-the-SECRET-x")
    with pytest.raises(AuthError) as err:
        connect(zd, **CC).check()
    text = str(err.value)
    assert err.value.exit_code == 3
    assert text.startswith("Zendesk OAuth client (client credentials): the token endpoint refused")
    assert "ZENDESK_OAUTH_CLIENT_SECRET" in text and "Confidential" in text
    assert "not-the-SECRET-x" not in text and CLIENT_SECRET not in text
    assert len(zd.token_requests) == 1  # never a retry storm


def test_under_scoped_token_fails_the_write_with_the_fix(zd):
    conn = connect(zd, **CC, scope="read")
    data = conn.load(["100"])
    with pytest.raises(AuthError, match="scope must include read and organizations:write"):
        conn.apply(note_for(data.organisations["200"], "fp-1", "x"))
    assert zd.calls("PUT") == ["/api/v2/organizations/200"]  # 403 is not retried


def test_missing_client_secret_is_a_config_error(zd, monkeypatch):
    monkeypatch.delenv("ZENDESK_OAUTH_CLIENT_SECRET")
    with pytest.raises(ConfigError, match="needs ZENDESK_OAUTH_CLIENT_SECRET"):
        connect(zd, **CC)


@pytest.mark.parametrize("lifetime", [300, 172_800, "1h"])
def test_token_lifetime_outside_zendesk_limits_is_a_config_error(zd, lifetime):
    with pytest.raises(
        ConfigError, match="token_lifetime must be a whole number between 301 and 1"
    ):
        connect(zd, **CC, token_lifetime=lifetime)


def test_check_names_the_credential_kind_and_token_policy(zd):
    lines = connect(zd, **CC).check()
    assert lines[0].startswith(
        "zendesk: connected to zendesk (acme.zendesk.com) with an OAuth client (client "
        "credentials) as 'Ops Bot'"
    )
    assert "scope 'read organizations:write', lifetime 3600 s" in lines[1]
    assert "kept in memory only" in lines[1]
    assert not any(line.startswith("warning:") for line in lines)


# -- API tokens: accepted until Zendesk stops them ----------------------------------------------
def test_api_token_still_works_with_a_warning_naming_30_april_2027(zd, monkeypatch, caplog):
    monkeypatch.delenv("ZENDESK_OAUTH_CLIENT_ID")
    monkeypatch.delenv("ZENDESK_OAUTH_CLIENT_SECRET")
    caplog.set_level(logging.WARNING, logger="cmrules")
    conn = connect(zd, email=EMAIL, token=TOKEN)
    lines = conn.check()
    assert "with an API token" in lines[0]
    assert lines[1].startswith("warning: Zendesk API tokens stop working on 30 Apr 2027")
    assert "30 Apr 2027" in caplog.text  # also in every run's log
    full_run(conn)


def test_api_token_switched_off_by_zendesk_says_how_to_move(zd, monkeypatch):
    monkeypatch.delenv("ZENDESK_OAUTH_CLIENT_ID")
    monkeypatch.delenv("ZENDESK_OAUTH_CLIENT_SECRET")
    zd.api_tokens_enabled = False
    with pytest.raises(AuthError, match="move to `auth: oauth_client_credentials`"):
        connect(zd, email=EMAIL, token=TOKEN).check()


# -- authorisation code + rotating refresh token ------------------------------------------------
def refresh_settings(tmp_path) -> dict:
    return {"auth": "oauth_refresh_token", "token_file": str(tmp_path / "zd-refresh.json")}


def stored(tmp_path) -> str:
    return json.loads((tmp_path / "zd-refresh.json").read_text())["refresh_token"]


def seed(zd, tmp_path) -> str:
    token = zd.issue_refresh_token()
    from cmrules.oauth import RefreshTokenFile

    RefreshTokenFile(tmp_path / "zd-refresh.json").save(token, CLIENT_ID, None)
    return token


def test_every_run_rotates_the_refresh_token_and_saves_it_first(zd, tmp_path):
    first = seed(zd, tmp_path)
    full_run(connect(zd, **refresh_settings(tmp_path)))
    second = stored(tmp_path)
    assert second != first and first not in zd.refresh_tokens  # rotated; the old one is dead
    full_run(connect(zd, **refresh_settings(tmp_path)), "fp-2")
    assert stored(tmp_path) not in (first, second)
    assert stat.S_IMODE(os.stat(tmp_path / "zd-refresh.json").st_mode) == 0o600
    assert [r["grant_type"] for r in zd.token_requests] == ["refresh_token"] * 2


def test_long_run_refreshes_mid_run_and_keeps_the_newest_token(zd, tmp_path):
    seed(zd, tmp_path)
    zd.oauth_lifetime_cap = 301
    zd.seconds_per_call = 120
    full_run(connect(zd, **refresh_settings(tmp_path)))
    assert zd.refused == [] and len(zd.token_requests) >= 4
    assert stored(tmp_path) in zd.refresh_tokens  # the file holds the one valid token


def test_crash_between_refresh_and_save_does_not_lose_the_rotated_token(zd, tmp_path, monkeypatch):
    seed(zd, tmp_path)
    real_replace = os.replace

    class Killed(BaseException):
        pass

    def replace(src, dst):
        if str(dst).endswith("zd-refresh.json"):
            raise Killed  # the process dies after Zendesk rotated, before the rename
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(Killed):
        connect(zd, **refresh_settings(tmp_path)).load(["100"])
    monkeypatch.setattr(os, "replace", real_replace)
    # the next run starts from the rotated token (the old one is dead at Zendesk)
    full_run(connect(zd, **refresh_settings(tmp_path)))
    assert not any(r[2] == "invalid_token" for r in zd.refused)
    assert stored(tmp_path) in zd.refresh_tokens


def test_revoked_refresh_token_is_one_error_naming_the_fix(zd, tmp_path):
    token = seed(zd, tmp_path)
    zd.refresh_tokens.pop(token)  # expired after 30 unused days, or revoked
    with pytest.raises(AuthError) as err:
        connect(zd, **refresh_settings(tmp_path)).check()
    text = str(err.value)
    assert "invalid_grant" in text and "run `cmrules zendesk login` again" in text
    assert token not in text and err.value.exit_code == 3
    assert len(zd.token_requests) == 1


def test_no_refresh_token_yet_says_to_log_in(zd, tmp_path):
    with pytest.raises(ConfigError, match="run `cmrules zendesk login` once"):
        connect(zd, **refresh_settings(tmp_path)).check()


def test_zendesk_login_stores_a_0600_refresh_token(zd, tmp_path, monkeypatch):
    config = tmp_path / "cmrules.yaml"
    config.write_text(
        "source: zendesk\nzendesk:\n  subdomain: acme\n  auth: oauth_refresh_token\n"
        f"  token_file: {tmp_path / 'zd-refresh.json'}\n",
        encoding="utf-8",
    )

    def browser(request):  # the admin consents; Zendesk redirects with a code
        query = parse_qs(urlsplit(request.uri).query)
        assert query["redirect_uri"] == [REDIRECT_URI] and query["client_id"] == [CLIENT_ID]
        assert query["scope"] == ["read organizations:write"]
        assert query["code_challenge_method"] == ["S256"]
        code = zd.grant_code(query["code_challenge"][0])
        return f"{REDIRECT_URI}?code={code}&state={query['state'][0]}"

    monkeypatch.setattr("cmrules.cli.zendesk.ask_redirect", browser)
    result = CliRunner().invoke(cli, ["--config", str(config), "zendesk", "login"])
    assert result.exit_code == 0, result.output
    assert "https://acme.zendesk.com/oauth/authorizations/new?" in result.output
    assert "refresh token saved in" in result.output
    assert stat.S_IMODE(os.stat(tmp_path / "zd-refresh.json").st_mode) == 0o600
    assert stored(tmp_path) in zd.refresh_tokens
    assert CLIENT_SECRET not in result.output
    # and a run works from it
    full_run(connect(zd, **refresh_settings(tmp_path)))


def test_zendesk_login_with_a_foreign_redirect_is_one_error(zd, tmp_path, monkeypatch):
    config = tmp_path / "cmrules.yaml"
    config.write_text("zendesk:\n  subdomain: acme\n", encoding="utf-8")
    monkeypatch.setattr(
        "cmrules.cli.zendesk.ask_redirect",
        lambda request: f"{REDIRECT_URI}?code=abc&state=someone-else",
    )
    result = CliRunner().invoke(cli, ["--config", str(config), "zendesk", "login"])
    assert result.exit_code == 2
    assert "Error: zendesk login: the pasted URL belongs to another login attempt" in result.output
    assert "Traceback" not in result.output


def test_secrets_never_in_errors_or_logs(zd, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    conn = connect(zd, **CC)
    full_run(conn)
    zd.oauth_clients[CLIENT_ID]["secret"] = "rotated-by-admin"
    zd.revoke_access_tokens()
    with pytest.raises(AuthError) as err:
        conn.load(["100"])
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    for text in (caplog.text, str(err.value)):
        assert CLIENT_SECRET not in text and basic not in text
        assert not any(token in text for token in zd.access_tokens)


def test_check_with_a_refresh_token_names_the_file_and_its_expiry(zd, tmp_path):
    seed(zd, tmp_path)
    lines = connect(zd, **refresh_settings(tmp_path)).check()
    assert "with an OAuth refresh token (from `cmrules zendesk login`)" in lines[0]
    text = "\n".join(lines)
    assert f"refresh token in {tmp_path / 'zd-refresh.json'} (0600), rotated on every run" in text
    assert "expires if unused until" in text and "unknown" not in text  # 30 days, as answered
