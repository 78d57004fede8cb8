"""cmrules.oauth against the Zendesk fake's token endpoint (no network, virtual time)."""

from __future__ import annotations

import json
import os
import stat

import pytest
import requests
import responses
from requests_oauth2client import ClientSecretPost, OAuth2Client
from zendesk_fake import BASE, CLIENT_ID, CLIENT_SECRET, Clock, FakeZendesk

from cmrules.errors import AuthError, ConfigError, ConnectorError
from cmrules.oauth import BearerAuth, RefreshTokenFile, token_call

ME = BASE + "/api/v2/users/me.json"


class Crash(BaseException):
    """The process being killed at this line."""


@pytest.fixture
def zd():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeZendesk(rsps)
        fake.clock = Clock()
        yield fake


def session_for(zd: FakeZendesk, secret: str = CLIENT_SECRET, lifetime: int = 600):
    client = OAuth2Client(
        BASE + "/oauth/tokens",
        auth=ClientSecretPost(CLIENT_ID, secret),
        session=requests.Session(),
    )

    def mint():
        return token_call(
            lambda: client.client_credentials(
                scope="read organizations:write", expires_in=lifetime
            ),
            credential="Zendesk OAuth client",
            fix="check the client",
            clock=zd.clock,
            lifetime=lifetime,
            sleep=zd.clock.sleep,
        )

    auth = BearerAuth(mint, clock=zd.clock)
    session = requests.Session()
    session.auth = auth
    return session, auth


def test_token_renewed_before_expiry_without_a_refused_call(zd):
    # a job longer than three token lifetimes: every call succeeds, no 401 ever happens
    session, auth = session_for(zd, lifetime=600)
    zd.seconds_per_call = 45
    assert all(session.get(ME).status_code == 200 for _ in range(50))
    assert zd.refused == []
    assert auth.renewals["initial"] == 1 and auth.renewals["expiring"] >= 3
    # lifetime sent explicitly, with the configured scope, on every mint
    assert {(r["expires_in"], r["scope"]) for r in zd.token_requests} == {
        ("600", "read organizations:write")
    }


def test_invalid_token_renews_once_and_resends(zd):
    # the server dropped the token early (revoked): one renewal, the caller sees a 200
    session, auth = session_for(zd)
    assert session.get(ME).status_code == 200
    zd.revoke_access_tokens()
    answer = session.get(ME)
    assert answer.status_code == 200 and len(answer.history) == 1
    assert auth.renewals["invalid_token"] == 1
    assert zd.refused == [("GET", "/api/v2/users/me.json", "invalid_token")]


def test_a_fresh_token_refused_too_is_not_retried_again(zd):
    # no retry storm: a 401 on the renewed token goes back to the caller
    session, auth = session_for(zd)
    session.get(ME)
    zd.fail_next(
        "GET", "/users/me", 401, '{"error":"invalid_token"}', content_type="application/json"
    )
    zd.fail_next(
        "GET", "/users/me", 401, '{"error":"invalid_token"}', content_type="application/json"
    )
    assert session.get(ME).status_code == 401
    assert auth.renewals["invalid_token"] == 1
    assert len(zd.token_requests) == 2


def test_wrong_secret_is_one_auth_error_without_the_secret(zd):
    session, _ = session_for(zd, secret="wrong-SECRET-value")
    with pytest.raises(AuthError) as err:
        session.get(ME)
    text = str(err.value)
    assert "invalid_client" in text and "check the client" in text
    assert "wrong-SECRET-value" not in text and CLIENT_SECRET not in text
    assert len(zd.token_requests) == 1  # refused credentials are never retried


def test_token_endpoint_outage_is_retried_then_reported(zd):
    for _ in range(2):
        zd.fail_next("POST", "/oauth/tokens", 503, "busy")
    session, _ = session_for(zd)
    assert session.get(ME).status_code == 200  # third attempt works
    assert zd.clock.slept == [1.0, 2.0]
    for _ in range(4):
        zd.fail_next("POST", "/oauth/tokens", 502, "bad gateway")
    zd.revoke_access_tokens()
    with pytest.raises(ConnectorError, match=r"token endpoint failed \(HTTP 502, after 4"):
        session.get(ME)


def test_lifetime_out_of_range_is_refused_by_the_fake(zd):
    session, _ = session_for(zd, lifetime=300)  # Zendesk wants strictly more than 300 s
    with pytest.raises(
        ConnectorError, match="HTTP 400: invalid_request: expires_in is out of range"
    ):
        session.get(ME)


# -- the refresh-token file ---------------------------------------------------------------------
def test_refresh_token_file_is_0600_and_replaced_atomically(tmp_path):
    store = RefreshTokenFile(tmp_path / "state" / "zd.json")
    store.save("rt-one", CLIENT_ID, 2_592_000)
    mode = stat.S_IMODE(os.stat(store.path).st_mode)
    assert mode == 0o600
    first = store.path.stat().st_ino
    store.save("rt-two", CLIENT_ID, None)
    assert store.load().refresh_token == "rt-two"
    assert store.path.stat().st_ino != first  # a new file renamed over, never rewritten in place
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert sorted(p.name for p in store.path.parent.iterdir()) == ["zd.json"]


def test_crash_between_the_durable_write_and_the_rename_keeps_the_new_token(tmp_path, monkeypatch):
    store = RefreshTokenFile(tmp_path / "zd.json")
    store.save("rt-old", CLIENT_ID, None)
    real_replace = os.replace

    def replace(src, dst):
        if str(dst) == str(store.path):
            raise Crash  # killed after the sidecar was written, before it became the token
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(Crash):
        store.save("rt-new", CLIENT_ID, None)
    monkeypatch.setattr(os, "replace", real_replace)
    # the next run finds the rotated token (the old one is already dead at Zendesk)
    assert RefreshTokenFile(tmp_path / "zd.json").load().refresh_token == "rt-new"
    assert json.loads(store.path.read_text())["refresh_token"] == "rt-new"
    assert not store.sidecar.exists()


def test_crash_while_writing_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    store = RefreshTokenFile(tmp_path / "zd.json")
    store.save("rt-old", CLIENT_ID, None)

    def fsync(fd):
        raise Crash  # killed in the middle of writing the temporary file

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(Crash):
        store.save("rt-new", CLIENT_ID, None)
    monkeypatch.undo()
    assert store.load().refresh_token == "rt-old"  # never a torn or empty token file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zd.json"]


def test_torn_sidecar_is_ignored_and_damaged_file_is_one_error(tmp_path):
    store = RefreshTokenFile(tmp_path / "zd.json")
    store.save("rt-ok", CLIENT_ID, None)
    store.sidecar.write_text('{"refresh_token": "rt-ha')
    assert store.load().refresh_token == "rt-ok"
    store.path.write_text("not json")
    with pytest.raises(ConfigError, match="damaged; run `cmrules zendesk login` again"):
        store.load()
