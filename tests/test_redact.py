"""Secret redaction and terminal safety, on their own."""

from __future__ import annotations

import base64

import pytest

from cmrules import redact

SECRET = "s3cr3t-Zendesk-api-token-0042"


@pytest.mark.parametrize("prefix", ["", "a", "ab", "ops@acme.test/token:"])
def test_secret_is_blanked_inside_any_base64_wrapping(prefix):
    # Basic credentials are base64(email/token:TOKEN); any alignment of the token is caught
    redact.register(SECRET)
    wrapped = base64.b64encode(f"{prefix}{SECRET}!".encode()).decode()
    assert wrapped not in redact.redact(f"header was {wrapped}")


def test_clear_and_auth_header_forms():
    redact.register(SECRET)
    out = redact.redact(f"token {SECRET}; Authorization: Basic dXNlcjpwYXNzd29yZDE=")
    assert SECRET not in out and "dXNlcjpw" not in out
    assert redact.redact("Bearer pat-eu1-0123abcd-4567") == "Bearer ***"


@pytest.mark.parametrize(
    "header",
    ["BEARER abc123def", "Basic dXNlcjpw=", "BASİC dXNlcjpw=", "basıc dXNlcjpw=",
     "ACCESS_TOKEN=abc123def", "to\u212aen=abc123def", "PAT-EU1-0123abcd-4567"],
)  # fmt: skip
def test_every_spelling_the_patterns_match_is_redacted(header):
    # the word check that spares most text the regexes folds case as the regexes do
    # (Turkish dotted and dotless i, Kelvin sign)
    assert "***" in redact.redact(f"sent {header} to the API")


def test_prose_is_not_mistaken_for_a_credential():
    text = "Basic authentication failed; the token expired; check the access token"
    assert redact.redact(text) == text


def test_short_values_are_not_registered():
    # a 3-letter "secret" would blank every occurrence of an ordinary word
    redact.register("abc")
    assert redact.redact("abc def") == "abc def"


def test_env_names_that_look_like_credentials():
    redact.register_env({"ZENDESK_API_TOKEN": "tok-123456789", "HOME": "/home/someone"})
    assert redact.redact("tok-123456789 at /home/someone") == "*** at /home/someone"


def test_terminal_safety():
    text = "a\x1b[31mb\x9bc\u0085d\u202ee\u2066f\x07g\rh\ti\nj"
    assert redact.term_safe(text) == "a[31mbcdefgh\ti\nj"
    assert redact.one_line("x\ny\u2028z\r\nw") == "x y z  w"
    assert redact.error_text("1\n2\x1b", multiline=True) == "1\n2"
