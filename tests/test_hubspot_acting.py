"""HubSpot: the flag history lives on the company (cmrules_history), waivers come from the
company's cmrules_waiver_* properties."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hubspot_fake import TOKEN, FakeHubSpot, populate

from cmrules.cli import cli


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("HUBSPOT_SERVICE_KEY", TOKEN)
    monkeypatch.setenv("CMRULES_HOME", str(tmp_path / "home"))
    config = tmp_path / "cmrules.yaml"
    config.write_text(
        "source: hubspot\nlanguage: en\nhubspot:\n  service_key: ${HUBSPOT_SERVICE_KEY}\n"
        "  client_association_labels: [Client]\n  attributes:\n    regulated: cm_regulated\n"
        "    kpis_defined: cm_kpis_defined\n",
        encoding="utf-8",
    )
    with FakeHubSpot() as fake:
        ids = populate(fake, 6, vendors=1, contacts_per_company=2, meetings_per_company=2)
        yield fake, ids, str(config), tmp_path / "state.json"


def cmd(config, *args):
    res = CliRunner().invoke(cli, ["--config", config, *args], catch_exceptions=False)
    assert res.exit_code in (0, 1), res.output
    return res


def props(fake, company):
    return fake.objects["companies"][company]["properties"]


def test_history_survives_losing_the_state_file(env):
    fake, ids, config, state = env
    assert cmd(config, "setup").exit_code == 0
    cmd(config, "sync", "--full", "--json", "--state", str(state), "--as-of", "2026-11-20")
    client = ids["clients"][0]
    stored = json.loads(props(fake, client)["cmrules_history"])
    assert stored["open"] and set(stored["open"].values()) == {"2026-11-20"}
    Path(state).unlink()  # the local state is lost; the record keeps its history
    res = cmd(config, "sync", "--full", "--json", "--state", str(state), "--as-of", "2026-11-27")
    summary = json.loads(res.stdout)
    assert summary["notes_written"] == 0 and summary["flags_updated"] == 0
    assert json.loads(props(fake, client)["cmrules_history"]) == stored
    hist = json.loads(cmd(config, "history", "--company", client, "--format", "json").stdout)
    assert hist["stored"] and {e["date"] for e in hist["events"]} == {"2026-11-20"}


def test_a_waiver_filled_in_on_the_company_is_applied_then_expires(env):
    fake, ids, config, state = env
    cmd(config, "setup")
    client = ids["clients"][0]
    first = json.loads(cmd(config, "evaluate", "--company", client, "--format", "json",
                           "--as-of", "2026-11-20", "--no-write").stdout)  # fmt: skip
    rule = first["records"][0]["flags"][0]
    props(fake, client).update({
        "cmrules_waived_rules": rule,
        "cmrules_waiver_reason": "Agreed with the client: review in January",
        "cmrules_waiver_until": "2026-12-31",
        "cmrules_waiver_by": "Claire Martin",
    })  # fmt: skip
    waived = json.loads(cmd(config, "evaluate", "--company", client, "--format", "json",
                            "--as-of", "2026-11-20").stdout)["records"][0]  # fmt: skip
    assert rule not in waived["flags"]
    (f,) = [f for f in waived["findings"] if f["rule_id"] == rule]
    assert f["status"] == "waived" and f["waiver"]["by"] == "Claire Martin"
    reg = json.loads(cmd(config, "waivers", "--format", "json", "--as-of", "2026-11-20").stdout)
    assert [(w["rule_id"], w["status"], w["origin"]) for w in reg] == [(rule, "active", "crm")]
    back = json.loads(cmd(config, "evaluate", "--company", client, "--format", "json",
                          "--as-of", "2027-01-01").stdout)["records"][0]  # fmt: skip
    assert rule in back["flags"]
    assert "waiver ended, open again" in fake_last_note(fake, client)


def test_a_waiver_without_reason_is_reported_not_applied(env):
    fake, ids, config, state = env
    cmd(config, "setup")
    client = ids["clients"][0]
    first = json.loads(cmd(config, "evaluate", "--company", client, "--format", "json",
                           "--as-of", "2026-11-20", "--no-write").stdout)  # fmt: skip
    rule = first["records"][0]["flags"][0]
    props(fake, client).update({"cmrules_waived_rules": rule, "cmrules_waiver_until": "2026-12-31"})
    res = json.loads(cmd(config, "evaluate", "--company", client, "--format", "json",
                         "--as-of", "2026-11-20", "--no-write").stdout)  # fmt: skip
    assert rule in res["records"][0]["flags"]
    assert any("no reason" in w for w in res["warnings"])


def fake_last_note(fake, company):
    return fake.notes_of(company)[-1]["properties"]["hs_note_body"]
