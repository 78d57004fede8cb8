"""The fake account's OAuth server (api-facts.md "Zendesk: end of API tokens"), mixed into
:class:`.api.FakeZendesk`, whose ``__init__`` sets the state these methods use."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import Any
from urllib.parse import parse_qs

from .common import AUTH, CLIENT_ID, REDIRECT_URI


class OAuthServer:
    """Token endpoint, access-token checks and the virtual clock of the fake account."""

    clock: Any
    seconds_per_call: float
    api_tokens_enabled: bool
    require_auth: str | None
    oauth_clients: dict[str, dict[str, Any]]
    oauth_lifetime_cap: int | None
    access_tokens: dict[str, dict[str, Any]]
    refresh_tokens: dict[str, dict[str, Any]]
    codes: dict[str, dict[str, Any]]
    token_requests: list[dict[str, Any]]
    refused: list[tuple[str, str, str]]
    log: list[tuple[str, str]]

    # -- OAuth ----------------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock() if self.clock is not None else 0.0

    def grant_code(self, code_challenge: str, scope: str = "read organizations:write") -> str:
        """The code the consent screen would hand the redirect URI (PKCE S256 challenge)."""
        code = "code-" + secrets.token_hex(6)
        self.codes[code] = {
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "challenge": code_challenge,
            "scope": scope,
        }
        return code

    def issue_refresh_token(self, scope: str = "read organizations:write") -> str:
        """A refresh token as if ``cmrules zendesk login`` had run."""
        token = "rt-" + secrets.token_hex(8)
        self.refresh_tokens[token] = {"client_id": CLIENT_ID, "scope": scope}
        return token

    def revoke_access_tokens(self) -> None:
        """Every access token stops working now (an admin revoked them, or a clock jump)."""
        for info in self.access_tokens.values():
            info["revoked"] = True

    def _authorize(self, request: Any, method: str, path: str):
        refused = self._check_credentials(request, method, path)
        if self.clock is not None and self.seconds_per_call:
            self.clock.now += self.seconds_per_call  # the call takes this long to answer
        return refused

    def _check_credentials(self, request: Any, method: str, path: str):
        header = request.headers.get("Authorization") or ""
        if header == AUTH and not self.api_tokens_enabled:
            self.refused.append((method, path, "api_token_off"))
            return self._json(401, {"error": "Couldn't authenticate you"})
        if self.require_auth and header == self.require_auth:
            return None
        if header.startswith("Bearer "):
            info = self.access_tokens.get(header[7:])
            if info is None or info.get("revoked") or self.now() >= info["expires_at"]:
                self.refused.append((method, path, "invalid_token"))
                return (
                    401,
                    {
                        "Content-Type": "application/json",
                        "WWW-Authenticate": 'Bearer realm="Zendesk::OAuth Bearer Token '
                        'Authentication", error="invalid_token", error_description="The access '
                        "token provided is expired, revoked, malformed or invalid for other "
                        'reasons."',
                    },
                    json.dumps(
                        {
                            "error": "invalid_token",
                            "error_description": "The access token provided is expired, "
                            "revoked, malformed or invalid for other reasons.",
                        }
                    ),
                )
            scopes = set(info["scope"].split())
            if method != "GET" and not scopes & {"write", "organizations:write"}:
                self.refused.append((method, path, "forbidden"))
                return self._json(403, {"error": "Forbidden", "description": "scope"})
            if method == "GET" and not scopes & {"read", "organizations:read"}:
                self.refused.append((method, path, "forbidden"))
                return self._json(403, {"error": "Forbidden", "description": "scope"})
            return None
        if self.require_auth:
            self.refused.append((method, path, "unauthenticated"))
            return self._json(401, {"error": "Couldn't authenticate you"})
        return None

    def _oauth_error(self, status: int, error: str, description: str):
        return self._json(status, {"error": error, "error_description": description})

    def _token(self, request):
        self.log.append(("POST", "/oauth/tokens"))
        failure = self._failure("POST", "/oauth/tokens")
        if failure:
            return failure
        ctype = request.headers.get("Content-Type", "")
        raw = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
        if "json" in ctype:
            params = {k: str(v) for k, v in json.loads(raw).items()}
        else:
            params = {k: v[0] for k, v in parse_qs(raw).items()}
        grant = params.get("grant_type", "")
        self.token_requests.append(
            {
                "grant_type": grant,
                "expires_in": params.get("expires_in"),
                "scope": params.get("scope"),
                "at": self.now(),
            }
        )
        client = self.oauth_clients.get(params.get("client_id", ""))
        if client is None or client["secret"] != params.get("client_secret"):
            return self._oauth_error(
                401, "invalid_client", "Client authentication failed due to unknown client"
            )
        lifetime = int(params.get("expires_in") or 1800)
        if not 300 < lifetime < 172_800:
            return self._oauth_error(400, "invalid_request", "expires_in is out of range")
        if grant == "client_credentials":
            if client["kind"] != "confidential":
                return self._oauth_error(400, "unauthorized_client", "confidential clients only")
            scope = params.get("scope") or "read write"
            return self._issue(scope, lifetime, refresh=False)
        if grant == "authorization_code":
            code = self.codes.pop(params.get("code", ""), None)
            verifier = params.get("code_verifier", "")
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                .decode()
                .rstrip("=")
            )
            if (
                code is None
                or code["redirect_uri"] != params.get("redirect_uri")
                or code["challenge"] != challenge
            ):
                return self._oauth_error(
                    400, "invalid_grant", "The provided authorization grant is invalid"
                )
            return self._issue(code["scope"], lifetime, refresh=True)
        if grant == "refresh_token":
            old = self.refresh_tokens.pop(params.get("refresh_token", ""), None)
            if old is None:
                return self._oauth_error(
                    400,
                    "invalid_grant",
                    "The provided authorization grant is invalid, expired, revoked, does not "
                    "match the redirection URI used in the authorization request, or was issued "
                    "to another client.",
                )
            for token, info in list(self.access_tokens.items()):  # the old pair is deleted
                if info.get("refresh") == params.get("refresh_token"):
                    del self.access_tokens[token]
            return self._issue(old["scope"], lifetime, refresh=True)
        return self._oauth_error(400, "unsupported_grant_type", f"grant {grant!r}")

    def _issue(self, scope: str, lifetime: int, refresh: bool):
        if self.oauth_lifetime_cap is not None:
            lifetime = min(lifetime, self.oauth_lifetime_cap)
        access = "at-" + secrets.token_hex(8)
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "bearer",
            "scope": scope,
            "expires_in": lifetime,
        }
        info: dict[str, Any] = {"scope": scope, "expires_at": self.now() + lifetime}
        if refresh:
            rt = "rt-" + secrets.token_hex(8)
            self.refresh_tokens[rt] = {"client_id": CLIENT_ID, "scope": scope}
            body["refresh_token"] = rt
            body["refresh_token_expires_in"] = 2_592_000
            info["refresh"] = rt
        self.access_tokens[access] = info
        return self._json(200, body)
