"""A small stateful Zendesk Support double for ``responses``.

It behaves like the wire API described in api-facts.md Z0-Z5: cursor pagination with
``page[size]`` (max 100), ``meta.has_more`` / ``links.next``; PUT on an organisation replaces
``notes`` and ``tags`` wholesale; 404 bodies are JSON; a queued failure can be injected in
front of any endpoint (e.g. a ``text/plain`` 429 with ``Retry-After``).

It is also the OAuth server of the account (api-facts.md "Zendesk: end of API tokens"):
``POST /oauth/tokens`` with the ``client_credentials``, ``authorization_code`` (PKCE checked)
and ``refresh_token`` grants, JSON or form bodies, client id + secret in the body.  Access tokens
expire on the shared virtual clock after the ``expires_in`` asked for (which must lie strictly
between 300 and 172,800 s; ``oauth_lifetime_cap`` shortens every lifetime to make long runs
cross several tokens); an expired or revoked one gets ``401 invalid_token`` with the
``WWW-Authenticate`` challenge.  A refresh rotates: the new pair replaces the old one, and
re-using a spent refresh token is ``400 invalid_grant``.  Unknown clients are
``401 invalid_client``; a token whose scope lacks ``write``/``organizations:write`` gets 403 on
PUT.  API tokens (Basic ``email/token:…``) stay accepted while ``api_tokens_enabled``.
"""

from .api import Failure, FakeZendesk
from .common import AUTH, BASE, CLIENT_ID, CLIENT_SECRET, EMAIL, REDIRECT_URI, TOKEN
from .scenario import T0, Clock, make_connector, note_for, scenario

__all__ = [
    "AUTH",
    "BASE",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "EMAIL",
    "REDIRECT_URI",
    "T0",
    "TOKEN",
    "Clock",
    "Failure",
    "FakeZendesk",
    "make_connector",
    "note_for",
    "scenario",
]
