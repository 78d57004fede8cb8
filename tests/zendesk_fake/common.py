"""Credentials and site of the fake account."""

from __future__ import annotations

import base64

BASE = "https://acme.zendesk.com"
EMAIL = "ops@example.com"
TOKEN = "zd-SECRET-token-123"  # noqa: S105 - test credential
AUTH = "Basic " + base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode()
CLIENT_ID = "cmrules_nightly"  # the OAuth client's *Identifier*
CLIENT_SECRET = "zd-oauth-SECRET-4f9c"  # noqa: S105 - test credential
REDIRECT_URI = "http://127.0.0.1:8976/callback"
