"""How the Zendesk connector authenticates (api-facts.md "Zendesk: end of API tokens").

Four kinds, chosen with ``auth`` in the zendesk section (default: inferred from what is set):

* ``oauth_client_credentials`` — **the way for an unattended job**: a *confidential* OAuth
  client's identifier and secret (``ZENDESK_OAUTH_CLIENT_ID`` / ``ZENDESK_OAUTH_CLIENT_SECRET``)
  mint an access token at the start of the run with an explicit lifetime (``token_lifetime``),
  renewed before it expires and once on a ``401 invalid_token``; never written to disk.
* ``oauth_refresh_token`` — for accounts that cannot use client credentials: a one-time
  ``cmrules zendesk login`` (authorisation code + PKCE) stores a refresh token in a 0600 file in
  the state directory; every run refreshes it, and Zendesk rotates it, so the new one replaces
  the file atomically before it is used.
* ``api_token`` — ``email/token:…`` Basic auth: still accepted, with a warning; Zendesk stops
  every API token on 30 Apr 2027 and none can be created since 27 Oct 2026.
* ``oauth_token`` — a static bearer token (from an old local OAuth client): accepted with a
  warning; such clients must move to expiring tokens by 1 Apr 2027.

The token-endpoint requests go through ``requests-oauth2client`` (see :mod:`cmrules.oauth`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from requests_oauth2client import ClientSecretPost, OAuth2Client
from requests_oauth2client.authorization_request import AuthorizationRequest

from cmrules.errors import ConfigError
from cmrules.oauth import BearerAuth, RefreshTokenFile, TokenGrant, token_call
from cmrules.paths import state_dir

AUTH_KINDS = ("oauth_client_credentials", "oauth_refresh_token", "api_token", "oauth_token")
DEFAULT_SCOPE = "read organizations:write"
DEFAULT_LIFETIME = 3600  # seconds; Zendesk accepts 301 … 172,799 (the default would be 1,800)
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8976/callback"
API_TOKEN_END = "30 Apr 2027"  # noqa: S105 - a date, not a secret
STATIC_OAUTH_END = "1 Apr 2027"
ENV = {
    "email": "ZENDESK_EMAIL",
    "token": "ZENDESK_API_TOKEN",
    "oauth_token": "ZENDESK_OAUTH_TOKEN",
    "client_id": "ZENDESK_OAUTH_CLIENT_ID",
    "client_secret": "ZENDESK_OAUTH_CLIENT_SECRET",
}
LABELS = {
    "oauth_client_credentials": "OAuth client (client credentials)",
    "oauth_refresh_token": "OAuth refresh token (from `cmrules zendesk login`)",
    "api_token": "API token",
    "oauth_token": "static OAuth token",
}


@dataclass(frozen=True)
class Credentials:
    """What the zendesk section says about authentication (secrets kept out of ``repr``)."""

    kind: str
    email: str | None = None
    api_token: str | None = field(default=None, repr=False)
    oauth_token: str | None = field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    scope: str = DEFAULT_SCOPE
    lifetime: int = DEFAULT_LIFETIME
    token_file: Path | None = None
    redirect_uri: str = DEFAULT_REDIRECT_URI

    @property
    def label(self) -> str:
        """The credential kind in words, for `check`."""
        return LABELS[self.kind]

    def warnings(self) -> list[str]:
        """What `check` should warn about this credential (API tokens end)."""
        if self.kind == "api_token":
            return [
                f"Zendesk API tokens stop working on {API_TOKEN_END} (none can be created "
                "since 27 Oct 2026): switch to `auth: oauth_client_credentials` "
                "(docs/zendesk.md, Connecting)"
            ]
        if self.kind == "oauth_token":
            return [
                "a static Zendesk OAuth token does not expire; Zendesk requires local OAuth "
                f"clients to use expiring tokens by {STATIC_OAUTH_END}: switch to "
                "`auth: oauth_client_credentials` (docs/zendesk.md, Connecting)"
            ]
        return []


def parse_credentials(settings: Mapping[str, Any], where: str, subdomain_label: str) -> Credentials:
    """The ``auth`` part of the zendesk section; one :class:`ConfigError` per mistake."""

    def secret(key: str) -> str | None:
        value = settings.get(key)
        if value is None:
            value = os.environ.get(ENV[key])
        if value is None or str(value).strip() == "":
            return None
        text = str(value).strip()
        if text.startswith("${"):
            raise ConfigError(
                f"{where}: {key} refers to an environment variable that is not set; export it "
                f"(e.g. {ENV[key]}) before running"
            )
        return text

    kind = settings.get("auth")
    if kind is not None and kind not in AUTH_KINDS:
        raise ConfigError(f"{where}: auth is {kind!r}; expected one of {', '.join(AUTH_KINDS)}")
    email, token, oauth = secret("email"), secret("token"), secret("oauth_token")
    client_id, client_secret = secret("client_id"), secret("client_secret")
    if kind is None:  # inferred, most modern first
        if client_id or client_secret:
            kind = "oauth_client_credentials"
        elif oauth:
            kind = "oauth_token"
        elif email or token:
            kind = "api_token"
        else:
            raise ConfigError(
                f"{where}: no Zendesk credentials. Set `auth: oauth_client_credentials` with "
                "ZENDESK_OAUTH_CLIENT_ID and ZENDESK_OAUTH_CLIENT_SECRET (a confidential OAuth "
                "client: Admin Center > Apps and integrations > APIs > OAuth clients); see "
                "docs/zendesk.md, Connecting"
            )
    scope = str(settings.get("scope") or DEFAULT_SCOPE).strip()
    lifetime = settings.get("token_lifetime", DEFAULT_LIFETIME)
    if isinstance(lifetime, bool) or not isinstance(lifetime, int) or not 300 < lifetime < 172_800:
        raise ConfigError(
            f"{where}: token_lifetime must be a number of seconds above 300 and below 172800 "
            f"(Zendesk's limits), got {lifetime!r}"
        )
    token_file = settings.get("token_file")
    path = (
        Path(os.path.expanduser(str(token_file)))
        if token_file
        else state_dir() / f"zendesk-{subdomain_label}-refresh-token.json"
    )
    redirect = str(settings.get("redirect_uri") or DEFAULT_REDIRECT_URI)
    common: dict[str, Any] = {
        "scope": scope,
        "lifetime": lifetime,
        "token_file": path,
        "redirect_uri": redirect,
    }
    if kind in ("oauth_client_credentials", "oauth_refresh_token"):
        missing = [
            ENV[k] for k, v in (("client_id", client_id), ("client_secret", client_secret)) if not v
        ]
        if missing:
            raise ConfigError(
                f"{where}: auth {kind} needs {' and '.join(missing)} (the OAuth client's "
                "Identifier and Secret, Admin Center > Apps and integrations > APIs > OAuth "
                "clients); see docs/zendesk.md, Connecting"
            )
        return Credentials(kind, client_id=client_id, client_secret=client_secret, **common)
    if kind == "oauth_token":
        if not oauth:
            raise ConfigError(f"{where}: auth oauth_token needs ZENDESK_OAUTH_TOKEN")
        return Credentials(kind, oauth_token=oauth, **common)
    if not (email and token):
        missing_env = "ZENDESK_API_TOKEN" if email else "ZENDESK_EMAIL"
        raise ConfigError(
            f"{where}: auth api_token needs ZENDESK_EMAIL and ZENDESK_API_TOKEN "
            f"({missing_env} is missing); API tokens stop working on {API_TOKEN_END}: prefer "
            "`auth: oauth_client_credentials` (docs/zendesk.md, Connecting)"
        )
    return Credentials(kind, email=email, api_token=token, **common)


def credential_lines(creds: Credentials, oauth: BearerAuth | None) -> list[str]:
    """What ``cmrules check`` says about the credential, warnings included."""
    lines = [f"warning: {w}" for w in creds.warnings()]
    if oauth is not None:
        grant = oauth.grant
        lifetime = f"{grant.lifetime:.0f}" if grant else str(creds.lifetime)
        lines.append(
            f"zendesk: OAuth access token minted with scope {creds.scope!r}, lifetime "
            f"{lifetime} s; renewed before it expires and once on 401 invalid_token; kept in "
            "memory only"
        )
    if creds.kind == "oauth_refresh_token" and creds.token_file is not None:
        stored = RefreshTokenFile(creds.token_file).load()
        until = (
            time.strftime("%d %b %Y", time.gmtime(stored.expires_at))
            if stored and stored.expires_at
            else "unknown"
        )
        lines.append(
            f"zendesk: refresh token in {creds.token_file} (0600), rotated on every run; it "
            f"expires if unused until {until} — run at least that often or `cmrules zendesk "
            "login` again"
        )
    return lines


def oauth_client(creds: Credentials, base_url: str, session: requests.Session) -> OAuth2Client:
    """The OAuth client of the account's token endpoint, for these credentials."""
    assert creds.client_id and creds.client_secret
    return OAuth2Client(
        token_endpoint=f"{base_url}/oauth/tokens",
        authorization_endpoint=f"{base_url}/oauth/authorizations/new",
        redirect_uri=creds.redirect_uri,
        auth=ClientSecretPost(creds.client_id, creds.client_secret),
        session=session,
    )


def _fix(creds: Credentials) -> str:
    if creds.kind == "oauth_refresh_token":
        return (
            "run `cmrules zendesk login` again (the refresh token may have expired after 30 "
            "unused days, been revoked, or the OAuth client's secret changed)"
        )
    return (
        "check ZENDESK_OAUTH_CLIENT_ID (the client's Identifier, not its number) and "
        "ZENDESK_OAUTH_CLIENT_SECRET, and that the client kind is Confidential (Admin Center > "
        "Apps and integrations > APIs > OAuth clients)"
    )


def apply_auth(
    creds: Credentials,
    session: requests.Session,
    base_url: str,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    retries: int = 3,
    backoff: float = 1.0,
) -> BearerAuth | None:
    """Set up ``session`` for ``creds``; returns the renewing auth handler for OAuth kinds."""
    if creds.kind == "api_token":
        session.auth = (f"{creds.email}/token", creds.api_token or "")
        return None
    if creds.kind == "oauth_token":
        session.headers["Authorization"] = f"Bearer {creds.oauth_token}"
        return None
    token_session = requests.Session()  # the token endpoint never sees the API bearer
    client = oauth_client(creds, base_url, token_session)
    credential = f"Zendesk {creds.label}"

    def call(grant: Callable[[], Any]) -> TokenGrant:
        return token_call(
            grant,
            credential=credential,
            fix=_fix(creds),
            clock=clock,
            lifetime=creds.lifetime,
            sleep=sleep,
            retries=retries,
            backoff=backoff,
        )

    if creds.kind == "oauth_client_credentials":

        def mint() -> TokenGrant:
            return call(
                lambda: client.client_credentials(scope=creds.scope, expires_in=creds.lifetime)
            )

    else:
        store = RefreshTokenFile(creds.token_file or Path("."), what="the Zendesk refresh token")

        def mint() -> TokenGrant:
            stored = store.load()
            if stored is None:
                raise ConfigError(
                    f"{store.path}: no Zendesk refresh token yet; run `cmrules zendesk login` "
                    "once (it prints the URL to open)"
                )
            if stored.client_id != creds.client_id:
                raise ConfigError(
                    f"{store.path}: the refresh token belongs to another OAuth client; run "
                    "`cmrules zendesk login` again"
                )
            new = call(
                lambda: client.refresh_token(stored.refresh_token, expires_in=creds.lifetime)
            )
            if new.refresh_token:  # rotated: the old one is dead, save before any use
                store.save(new.refresh_token, stored.client_id, new.refresh_expires_in)
            return new

    auth = BearerAuth(mint, clock=clock)
    session.auth = auth
    return auth


# ------------------------------------------------------------------------------------------
# `cmrules zendesk login` (authorisation code + PKCE, once)
# ------------------------------------------------------------------------------------------
def login_request(creds: Credentials, base_url: str) -> AuthorizationRequest:
    """The consent URL to open (``.uri``) with a fresh state and PKCE verifier."""
    client = oauth_client(creds, base_url, requests.Session())
    return client.authorization_request(scope=creds.scope, nonce=None)  # PKCE S256: the default


def complete_login(
    creds: Credentials,
    base_url: str,
    request: AuthorizationRequest,
    redirected_to: str,
    session: requests.Session | None = None,
) -> Path:
    """Exchange the code from the redirect URL; store the refresh token (0600, atomic)."""
    from requests_oauth2client.exceptions import AuthorizationResponseError, MismatchingState

    text = redirected_to.strip()
    try:
        response = request.validate_callback(text)
    except MismatchingState:
        raise ConfigError(
            "zendesk login: the pasted URL belongs to another login attempt (state mismatch); "
            "run `cmrules zendesk login` again and paste the URL of that attempt"
        ) from None
    except AuthorizationResponseError as exc:
        raise ConfigError(
            f"zendesk login: Zendesk refused the consent ({exc.error}); run it again as an "
            "admin of the account"
        ) from None
    except Exception:
        raise ConfigError(
            "zendesk login: paste the full address the browser was sent to after consenting "
            f"(it starts with {creds.redirect_uri} and contains code= and state=)"
        ) from None
    client = oauth_client(creds, base_url, session or requests.Session())
    grant = token_call(
        lambda: client.authorization_code(response, expires_in=creds.lifetime),
        credential="Zendesk login",
        fix="run `cmrules zendesk login` again (an authorisation code is valid once, briefly)",
        clock=time.monotonic,
        lifetime=creds.lifetime,
    )
    if not grant.refresh_token:
        raise ConfigError(
            "zendesk login: Zendesk answered without a refresh token; the OAuth client must "
            "allow the refresh-token flow (docs/zendesk.md, Connecting)"
        )
    assert creds.token_file is not None and creds.client_id
    RefreshTokenFile(creds.token_file, what="the Zendesk refresh token").save(
        grant.refresh_token, creds.client_id, grant.refresh_expires_in
    )
    return creds.token_file
