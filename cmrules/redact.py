"""Secret redaction and terminal-safe text: the last line of defence for every message.

Every ``Error:`` line, every log record and every saved traceback goes through
:func:`redact`: the secrets registered from the config and the environment disappear, in clear
and in base64 (Zendesk's Basic credentials are ``base64(email/token:TOKEN)``), and so does any
``Authorization`` value (``Bearer …``, ``Basic …``) whatever its origin.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

SECRET_KEYS = (
    "token",
    "password",
    "secret",
    "api_key",
    "apikey",
    "service_key",
    "oauth",
    "credential",
)
MASK = "***"
_MIN_SECRET = 6  # shorter values are too likely to be ordinary words to blank out
_secrets: set[str] = set()
# an Authorization value (it has a digit or a base64 symbol: "Basic authentication" is prose)
_AUTH = re.compile(
    r"\b(Bearer|Basic|access_token|token)(\s+|=)"
    r"(?=[A-Za-z._~:-]*[0-9+/=])[A-Za-z0-9+/=._~:-]{6,}",
    re.IGNORECASE,
)
_HUBSPOT_PAT = re.compile(r"\bpat-[a-z]{2,3}\d?-[0-9a-f-]{8,}", re.IGNORECASE)


def is_secret_key(name: str) -> bool:
    """Whether a config key name holds a secret (token, password, secret, key...)."""
    name = name.lower()
    return any(k in name for k in SECRET_KEYS)


def register(*values: Any) -> None:
    """Remember values (and their base64 forms) so :func:`redact` blanks them out."""
    for value in values:
        if isinstance(value, str) and len(value.strip()) >= _MIN_SECRET:
            _secrets.add(value.strip())
            _secrets.update(_base64_forms(value.strip()))


def register_basic(user: str, secret: str) -> None:
    """Register the ``user:secret`` pair of a Basic header in clear and in base64."""
    if user and secret:
        register(f"{user}:{secret}")


def register_env(environ: Mapping[str, str] | None = None) -> None:
    """Register environment variables whose name looks like a credential."""
    for name, value in (os.environ if environ is None else environ).items():
        if is_secret_key(name) and value:
            register(value)


def register_section(values: Mapping[str, Any]) -> None:
    """Register the credential-looking values of one config section."""
    for key, value in values.items():
        if is_secret_key(str(key)):
            register(value)
    email, token = values.get("email"), values.get("token")
    if isinstance(email, str) and isinstance(token, str):
        register_basic(f"{email}/token", token)
        register_basic(email, token)


def registered() -> frozenset[str]:
    """The secret values registered for redaction so far."""
    return frozenset(_secrets)


def forget() -> None:
    """Drop every registered secret (tests)."""
    _secrets.clear()


def _base64_forms(secret: str) -> Iterable[str]:
    """Substrings that appear in *any* base64 text whose decoded bytes contain ``secret``.

    Base64 encodes 3 bytes as 4 characters, so a secret inside a longer value is encoded at
    one of three alignments; dropping the groups it shares with its neighbours leaves a
    stable core to look for.
    """
    raw = secret.encode("utf-8")
    for offset in range(3):
        enc = base64.b64encode(b"\0" * offset + raw).decode("ascii")
        start = 4 if offset else 0
        end = len(enc) - (4 if (offset + len(raw)) % 3 else 0)
        core = enc[start:end]
        if len(core) >= 8:
            yield core
            yield core.replace("+", "-").replace("/", "_")  # URL-safe alphabet


def redact(text: str) -> str:
    """``text`` with every registered secret and every credential-looking header blanked."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    # both patterns need one of these words (case-insensitive as the patterns match them, the
    # dotted and dotless i included): most text skips the regexes
    folded = text.casefold().replace("\u0131", "i").replace("\u0307", "")  # ı; İ folds to i + dot
    if "token" in folded or "bearer" in folded or "basic" in folded:
        text = _AUTH.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    return _HUBSPOT_PAT.sub(MASK, text) if "pat-" in folded else text


# Terminal safety ----------------------------------------------------------------------------
# C0 controls except TAB and LF, DEL, C1 controls (incl. U+0085 NEL), bidi embeddings,
# overrides and isolates, and the Unicode line/paragraph separators.
_UNSAFE = (
    [c for c in range(32) if c not in (9, 10)]
    + list(range(0x7F, 0xA0))
    + list(range(0x202A, 0x202F))
    + list(range(0x2066, 0x206A))
    + [0x200E, 0x200F, 0x061C]
)
_TERM = dict.fromkeys(_UNSAFE) | {0x2028: "\n", 0x2029: "\n", 0x0D: None}
_LINE = dict.fromkeys(_UNSAFE, None) | {0x0A: " ", 0x0D: " ", 0x09: " ", 0x2028: " ", 0x2029: " "}


def term_safe(text: str) -> str:
    """Text bound for a terminal: no escape sequences, C1 controls or bidi overrides."""
    return text.translate(_TERM)


def one_line(text: str) -> str:
    """CRM text inside one line of output: :func:`term_safe` and no line break either."""
    return text.translate(_LINE)


def error_text(message: str, multiline: bool = False) -> str:
    """A message ready for an ``Error:`` line: redacted and terminal-safe."""
    text = redact(message)
    if multiline:
        return "\n".join(one_line(line) for line in text.split("\n"))
    return one_line(text)
