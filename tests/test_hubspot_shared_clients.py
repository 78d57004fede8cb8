"""A client shared by two agencies, on HubSpot: whatever brings it into a run, its one note
covers both agencies and is rewritten only when its findings change (issue #8, item 4)."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner
from hubspot_fake import TOKEN, FakeHubSpot, populate

from cmrules.cli import cli


@pytest.fixture
def portal(tmp_path, monkeypatch):
    monkeypatch.setenv("HUBSPOT_SERVICE_KEY", TOKEN)
    monkeypatch.setenv("CMRULES_HOME", str(tmp_path / "home"))
    config = tmp_path / "cmrules.yaml"
    config.write_text(
        "source: hubspot\nlanguage: en\nhubspot:\n"
        "  service_key: ${HUBSPOT_SERVICE_KEY}\n"
        "  client_association_labels: [Client]\n"
        "  attributes: {regulated: cm_regulated, kpis_defined: cm_kpis_defined}\n",
        encoding="utf-8",
    )
    with FakeHubSpot() as fake:
        ids = populate(fake, 8, vendors=2, contacts_per_company=2, meetings_per_company=2, shared=2)
        yield fake, ids, str(config), str(tmp_path / "state.json")


def run(config: str, *args: str) -> dict:
    result = CliRunner().invoke(cli, ["--config", config, *args], catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    out = result.stdout
    return json.loads(out[out.index("{") :]) if "{" in out else {}


def test_incremental_sync_rewrites_a_shared_clients_note_only_on_change(portal):
    fake, ids, config, state = portal
    agency_a, agency_b = ids["vendors"]
    shared, only_a = ids["clients"][0], ids["clients"][2]  # client 0: A and B; client 2: A
    assert agency_b in fake.associated("companies", shared, "companies")
    run(config, "setup")
    full = run(config, "sync", "--full", "--json", "--state", state)
    assert full["failed"] == 0 and full["notes_written"] == 8

    [note] = fake.notes_of(shared)
    body = note["properties"]["hs_note_body"]
    assert "Agence 0" in body and "Agence 1" in body, "one note names both agencies"
    flags = dict(fake.objects["companies"][shared]["properties"])

    # a change to a client of agency A only; the incremental sync re-evaluates A's clients —
    # the shared one included — and must load agency B's engagement with it too
    record = fake.objects["companies"][only_a]
    record["properties"]["cm_kpis_defined"] = "false"
    fake._touch("companies", record, at=int(time.time() * 1000) + 60_000)
    fake.calls.clear()
    incremental = run(config, "sync", "--json", "--state", state)
    assert incremental["failed"] == 0
    assert incremental["notes_written"] == 1, "only the changed client gets a new note"
    assert len(fake.notes_of(shared)) == 1, "the shared client's note is not rewritten"
    after = fake.objects["companies"][shared]["properties"]
    assert {k: after.get(k) for k in flags if k.startswith("cmrules_")} == {
        k: v for k, v in flags.items() if k.startswith("cmrules_")
    }, "its flags do not flip"
    assert len(fake.notes_of(only_a)) == 2

    # a full sync afterwards changes nothing either
    again = run(config, "sync", "--full", "--json", "--state", state)
    assert again["notes_written"] == 0 and again["failed"] == 0
    assert len(fake.notes_of(shared)) == 1
