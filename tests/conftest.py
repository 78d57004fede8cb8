from __future__ import annotations

from datetime import UTC, datetime

import pytest

AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Never touch the user's real data/state directories or config."""
    monkeypatch.setenv("CMRULES_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CMRULES_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def rulebook():
    from cmrules import rulebook as rb

    return rb.load()


@pytest.fixture(scope="session")
def engine(rulebook):
    from cmrules.engine import Engine

    return Engine(rulebook)
