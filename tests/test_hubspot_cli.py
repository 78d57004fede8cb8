"""The HubSpot connector behind the real CLI (config file, entry point, service layer)."""

from __future__ import annotations

import json
import logging

import pytest
from click.testing import CliRunner
from hubspot_fake import TOKEN, FakeHubSpot, populate

from cmrules.cli import cli


@pytest.fixture(autouse=True)
def _restore_logging():
    """The CLI configures the ``cmrules`` logger (handler, no propagation, redaction filters);
    put it back so later tests capture logs unfiltered."""
    names = ("cmrules", "urllib3", "requests")
    saved = {
        n: (
            logging.getLogger(n).level,
            logging.getLogger(n).propagate,
            list(logging.getLogger(n).handlers),
            list(logging.getLogger(n).filters),
        )
        for n in names
    }
    yield
    for n, (level, propagate, handlers, filters) in saved.items():
        logger = logging.getLogger(n)
        logger.setLevel(level)
        logger.propagate = propagate
        logger.handlers[:] = handlers
        logger.filters[:] = filters


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("HUBSPOT_SERVICE_KEY", TOKEN)
    monkeypatch.setenv("CMRULES_HOME", str(tmp_path / "home"))
    config = tmp_path / "cmrules.yaml"
    config.write_text(
        "source: hubspot\n"
        "language: en\n"
        "hubspot:\n"
        "  service_key: ${HUBSPOT_SERVICE_KEY}\n"
        "  client_association_labels: [Client]\n"
        "  attributes:\n"
        "    regulated: cm_regulated\n"
        "    kpis_defined: cm_kpis_defined\n",
        encoding="utf-8",
    )
    with FakeHubSpot() as fake:
        populate(fake, 8, vendors=2, contacts_per_company=2, meetings_per_company=2)
        yield fake, str(config), str(tmp_path / "state.json")


SEEN: list[str] = []  # every output of the test, checked for the token


def invoke(config: str, *args: str):
    result = CliRunner().invoke(cli, ["--config", config, "-vv", *args], catch_exceptions=False)
    SEEN.append(result.output)
    return result


def test_cli_setup_evaluate_sync_notes(env):
    fake, config, state = env
    SEEN.clear()
    result = invoke(config, "check")
    assert result.exit_code == 0, result.output
    assert "API version 2026-09" in result.output
    assert "Service Key accepted by the portal" in result.output

    result = invoke(config, "setup", "--dry-run")
    assert result.exit_code == 0 and fake.write_calls() == 0
    assert "would be created" in result.output
    result = invoke(config, "setup")
    assert result.exit_code == 0, result.output
    assert "cmrules_flags: created" in result.output

    result = invoke(config, "vendors")
    assert "Agence 0" in result.output and "Agence 1" in result.output

    result = invoke(config, "sync", "--full", "--json", "--state", state)
    assert result.exit_code in (0, 1), result.output
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    assert summary["notes_written"] == 8 and summary["failed"] == 0

    fake.calls.clear()
    result = invoke(config, "sync", "--full", "--json", "--state", state)
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    assert summary["unchanged"] == 8
    assert fake.write_calls() == 0

    result = invoke(config, "notes", "--company", "Client 0")
    assert result.exit_code == 0, result.output
    assert result.output.count("--- note ") == 1

    assert len(SEEN) == 7  # check, setup x2, vendors, sync x2, notes
    for output in SEEN:
        assert TOKEN not in output


def test_cli_403_is_an_auth_error_exit_3(env):
    fake, config, _ = env
    fake.scopes.discard("crm.objects.companies.read")
    result = invoke(config, "check")
    assert result.exit_code == 3
    assert "crm.objects.companies.read" in result.output
    assert TOKEN not in result.output


def test_cli_portal_validation_rule_is_a_partial_failure_exit_4(env):
    # 2026-09 applies the portal's own record rules to API writes: the refused records fail
    # with the portal's message, the others are written, and the exit code is 4
    fake, config, state = env
    assert invoke(config, "setup").exit_code == 0
    fake.add_validation_rule(
        "companies",
        "industry",
        "Industry is required for customers",
        when=lambda p: p.get("name") == "Client 3",
    )
    result = invoke(config, "sync", "--full", "--json", "--state", state)
    assert result.exit_code == 4, result.output
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    assert summary["failed"] == 1 and summary["flags_written"] == 7
    assert "Industry is required for customers" in result.output
    assert "Traceback" not in result.output
    assert fake.count("POST", r"/companies/batch/update$") == 1  # a 400 item is never retried
    # the rerun finds the note already written and fails on the flags again, no duplicate note
    result = invoke(config, "sync", "--full", "--json", "--state", state)
    assert result.exit_code == 4
    client3 = next(
        c for c, r in fake.objects["companies"].items() if r["properties"]["name"] == "Client 3"
    )
    assert len(fake.notes_of(client3)) == 1
