"""OAuth 2.0 access tokens for unattended runs: mint, renew before expiry, renew once on a 401.

Built on ``requests-oauth2client`` (the token-endpoint requests, client authentication in the
POST body, the RFC 6749 error codes, PKCE authorisation URLs); what this module adds is what a
nightly job needs around it:

* :class:`BearerAuth` — a ``requests`` auth handler holding one access token **in memory only**.
  It asks for a new one when ``expires_in`` (measured on an injectable monotonic clock, never on
  the token's own claims) is about to run out, and once more when the API answers
  ``401 invalid_token`` anyway (a token revoked or expired early); the failed request is then
  re-sent once with the new token, so the caller never sees that 401.  A second 401 in a row
  is returned to the caller (no retry storm).
* :class:`RefreshTokenFile` — the rotating refresh token of the authorisation-code flow, in a
  0600 JSON file replaced atomically: the new token is written and fsynced to a sidecar file
  first, then renamed over the old one; a sidecar left by a crash between the two steps is
  picked up by the next :meth:`RefreshTokenFile.load`, so the only valid token is never lost
  to a crash during the save.
* :func:`token_call` — runs one grant with retries on transient failures (5xx, timeouts) and
  turns OAuth errors into one-line :class:`~cmrules.errors.AuthError` messages naming the
  credential kind and the fix.  Secrets never appear in messages.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from requests_oauth2client import BearerToken, OAuth2Client
from requests_oauth2client.exceptions import (
    EndpointError,
    InvalidClient,
    InvalidGrant,
    InvalidScope,
    InvalidTokenResponse,
    UnauthorizedClient,
)

from . import redact
from .errors import AuthError, ConfigError, ConnectorError

log = logging.getLogger("cmrules.oauth")

__all__ = [
    "BearerAuth",
    "OAuth2Client",
    "RefreshTokenFile",
    "StoredRefreshToken",
    "TokenGrant",
    "token_call",
]


@dataclass(frozen=True)
class TokenGrant:
    """An access token as minted, with its lifetime on the caller's clock."""

    access_token: str
    expires_at: float  # clock() value after which the token must not be used
    lifetime: float = 0.0  # seconds, as granted
    refresh_token: str | None = None
    refresh_expires_in: int | None = None
    scope: str | None = None


def token_call(
    grant: Callable[[], BearerToken],
    *,
    credential: str,
    fix: str,
    clock: Callable[[], float],
    lifetime: int,
    sleep: Callable[[float], None] = time.sleep,
    retries: int = 3,
    backoff: float = 1.0,
) -> TokenGrant:
    """Run ``grant`` (one token-endpoint request); transient failures are retried.

    ``lifetime`` is the access-token lifetime we asked for: an answer without ``expires_in``
    (Zendesk omits it unless asked) is taken to live that long, counted from *before* the
    request so the estimate errs early."""
    attempt = 0
    while True:
        started = clock()
        try:
            token = grant()
        except (InvalidClient, UnauthorizedClient) as exc:
            raise AuthError(
                f"{credential}: the token endpoint refused the OAuth client "
                f"({exc.error}: {_describe(exc)}); {fix}"
            ) from None
        except InvalidScope as exc:
            raise AuthError(
                f"{credential}: the requested scope was refused ({_describe(exc)}); allow it "
                f"on the OAuth client or change the configured scope; {fix}"
            ) from None
        except InvalidGrant as exc:
            raise AuthError(
                f"{credential}: the grant was refused (invalid_grant: {_describe(exc)}); {fix}"
            ) from None
        except (EndpointError, InvalidTokenResponse, requests.RequestException) as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            transient = status is None or status >= 500 or status == 429
            if not transient or attempt >= retries:
                detail = f"HTTP {status}" if status else exc.__class__.__name__
                if isinstance(exc, EndpointError) and getattr(exc, "error", None):
                    detail += f": {exc.error}: {_describe(exc)}"
                raise ConnectorError(
                    f"{credential}: the token endpoint failed ({detail}"
                    + (f", after {attempt + 1} attempts" if transient else "")
                    + f"); {fix}"
                ) from None
            delay = backoff * (2**attempt)
            log.info("%s: token endpoint %s, retrying in %.1fs", credential, status, delay)
            sleep(delay)
            attempt += 1
            continue
        redact.register(token.access_token, token.refresh_token)  # blanked if ever logged
        expires_in = _expires_in(token, lifetime)
        extra = token.kwargs if isinstance(token.kwargs, dict) else {}
        refresh_lifetime = extra.get("refresh_token_expires_in")
        return TokenGrant(
            access_token=token.access_token,
            expires_at=started + expires_in,
            lifetime=expires_in,
            refresh_token=token.refresh_token if isinstance(token.refresh_token, str) else None,
            refresh_expires_in=int(refresh_lifetime)
            if isinstance(refresh_lifetime, int | float)
            else None,
            scope=token.scope if isinstance(token.scope, str) else None,
        )


def _expires_in(token: BearerToken, asked: int) -> float:
    raw = token.kwargs.get("expires_in") if isinstance(token.kwargs, dict) else None
    if token.expires_at is not None:
        remaining = token.expires_in
        return float(remaining) if remaining is not None else float(asked)
    if isinstance(raw, int | float):
        return float(raw)
    return float(asked)


def _describe(exc: Exception) -> str:
    text = getattr(exc, "description", None) or getattr(exc, "error", None) or "no detail"
    return str(text)[:200]


class BearerAuth(requests.auth.AuthBase):
    """``Authorization: Bearer`` from a renewable in-memory token (see the module doc)."""

    def __init__(
        self,
        mint: Callable[[], TokenGrant],
        *,
        clock: Callable[[], float] = time.monotonic,
        leeway: float = 60.0,
    ):
        self._mint = mint
        self._clock = clock
        self._leeway = leeway
        self._grant: TokenGrant | None = None
        #: how many tokens were minted, and why (for tests and ``check``)
        self.renewals: dict[str, int] = {"initial": 0, "expiring": 0, "invalid_token": 0}

    @property
    def grant(self) -> TokenGrant | None:
        """The current token grant, or None before the first call."""
        return self._grant

    def token(self) -> TokenGrant:
        """The current token, minted or renewed first when missing or about to expire."""
        now = self._clock()
        grant = self._grant
        if grant is None:
            self._renew("initial")
        elif now >= grant.expires_at - min(self._leeway, grant.lifetime * 0.1):
            self._renew("expiring")  # at 90 % of a short lifetime, a minute early otherwise
        assert self._grant is not None
        return self._grant

    def _renew(self, reason: str) -> None:
        self._grant = self._mint()
        self.renewals[reason] += 1

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token().access_token}"
        request.register_hook("response", self._on_response)
        return request

    def _on_response(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if response.status_code != 401 or not _invalid_token(response):
            return response
        request = response.request
        if request is None or getattr(request, "_cmrules_retried", False):
            return response  # the fresh token was refused too: the caller reports it
        self._renew("invalid_token")
        retry = request.copy()
        retry._cmrules_retried = True  # type: ignore[attr-defined]
        retry.headers["Authorization"] = f"Bearer {self.token().access_token}"
        retry.deregister_hook("response", self._on_response)
        response.content  # noqa: B018 - drain the refused answer before reusing the connection
        response.close()
        connection = getattr(response, "connection", None)
        if connection is None:  # pragma: no cover - requests always sets it
            return response
        sent: requests.Response = connection.send(retry, **kwargs)
        sent.history.append(response)
        sent.request = retry
        return sent


def _invalid_token(response: requests.Response) -> bool:
    """A 401 that says the bearer token itself is bad (expired, revoked, malformed)."""
    challenge = response.headers.get("WWW-Authenticate", "")
    if "invalid_token" in challenge:
        return True
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("error") == "invalid_token"


# ------------------------------------------------------------------------------------------
# the refresh-token file
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StoredRefreshToken:
    """A refresh token as saved on disk, with its client and save time."""

    refresh_token: str
    client_id: str
    saved_at: float  # epoch seconds
    expires_at: float | None  # epoch seconds, when the token endpoint said


class RefreshTokenFile:
    """One refresh token in a 0600 JSON file, replaced atomically on every rotation."""

    def __init__(self, path: Path, *, what: str = "the refresh-token file"):
        self.path = path
        self.sidecar = path.with_name(path.name + ".new")
        self.what = what

    def load(self) -> StoredRefreshToken | None:
        """The saved token; a complete sidecar (a crash between write and rename) wins."""
        for candidate in (self.sidecar, self.path):
            stored = self._read(candidate, strict=candidate == self.path)
            if stored is not None:
                if candidate == self.sidecar:
                    log.info("%s: finishing an interrupted save", self.path)
                    os.replace(self.sidecar, self.path)
                return stored
        return None

    def _read(self, path: Path, *, strict: bool) -> StoredRefreshToken | None:
        try:
            text = path.read_text("utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read {self.what} ({exc.strerror})") from None
        try:
            data = json.loads(text)
            token = data["refresh_token"]
            client_id = data["client_id"]
            if not isinstance(token, str) or not token or not isinstance(client_id, str):
                raise ValueError("empty")
            expires = data.get("expires_at")
            redact.register(token)
            return StoredRefreshToken(
                refresh_token=token,
                client_id=client_id,
                saved_at=float(data.get("saved_at") or 0),
                expires_at=float(expires) if isinstance(expires, int | float) else None,
            )
        except (ValueError, KeyError, TypeError):
            if not strict:  # a torn sidecar: the save it belonged to never finished
                path.unlink(missing_ok=True)
                return None
            raise ConfigError(
                f"{path}: {self.what} is damaged; run `cmrules zendesk login` again"
            ) from None

    def save(self, refresh_token: str, client_id: str, expires_in: int | None) -> None:
        """Replace the file atomically (0600) with a new refresh token."""
        now = time.time()
        data = {
            "refresh_token": refresh_token,
            "client_id": client_id,
            "saved_at": now,
            "expires_at": now + expires_in if expires_in else None,
        }
        directory = self.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(prefix=".refresh-", dir=directory)  # created 0600
        except OSError as exc:
            raise ConfigError(
                f"{directory}: cannot write {self.what} ({exc.strerror}); make the state "
                "directory writable or set token_file"
            ) from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.sidecar)  # step 1: the new token is durable
            _fsync_dir(directory)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        os.replace(self.sidecar, self.path)  # step 2: it becomes the token
        _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
