"""One error root for the library; only the CLI turns these into messages and exit codes."""

from __future__ import annotations


class CmrulesError(Exception):
    """Root of every error cmrules raises on purpose.

    ``str(err)`` is the user-facing message: what went wrong, where, and how to fix it.
    It must never contain a secret.
    """

    exit_code = 2


class UsageError(CmrulesError):
    """A bad CLI argument or an unknown record reference."""


class ConfigError(CmrulesError):
    """A bad configuration file or value."""


class RuleFileError(CmrulesError):
    """One or more rule files are invalid.  ``problems`` holds every ``file:line: id: msg``."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class ConnectorError(CmrulesError):
    """A data source failed (network, auth, malformed answer)."""

    exit_code = 3


class AuthError(ConnectorError):
    """Credentials were refused (401) or lack a scope (403)."""


class RateLimitExhausted(ConnectorError):
    """A quota that will not reset within the run (e.g. HubSpot's DAILY limit)."""

    exit_code = 5


class WriteError(ConnectorError):
    """Writing a note or flags back failed for one record."""


class EngineError(CmrulesError):
    """The rules engine failed in a way that is not the user's fault."""

    exit_code = 3


class LockedError(CmrulesError):
    """Another run holds the lock."""

    exit_code = 6
