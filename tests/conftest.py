from __future__ import annotations

from datetime import UTC, datetime

import pytest

AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Never touch the user's real data/state directories or config."""
    monkeypatch.setenv("CMRULES_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CMRULES_CONFIG", raising=False)
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "NO_COLOR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def rulebook():
    from cmrules import rulebook as rb

    return rb.load()


@pytest.fixture(scope="session")
def engine(rulebook):
    from cmrules.engine import Engine

    return Engine(rulebook)


@pytest.fixture(autouse=True)
def _no_registered_secrets():
    """Secrets registered for redaction by one test do not leak into the next."""
    from cmrules import redact

    redact.forget()
    yield
    redact.forget()
