"""``cmrules setup`` then ``sync`` with ``helpdesk: zendesk`` configured (issue #8, item 7):
setup must create HubSpot's ``cmrules_flags`` with one option per rule, through the combined
connector, so that the sync's flag writes are accepted."""

from __future__ import annotations

import json

from click.testing import CliRunner
from hubspot_fake import TOKEN, FakeHubSpot
from zendesk_fake import EMAIL, scenario
from zendesk_fake import TOKEN as ZD_TOKEN

from cmrules import rulebook
from cmrules.cli import cli

CONFIG = """
source: hubspot
helpdesk: zendesk
language: en
hubspot:
  service_key: ${HUBSPOT_SERVICE_KEY}
zendesk:
  subdomain: acme
  email: ${ZENDESK_EMAIL}
  token: ${ZENDESK_API_TOKEN}
"""


def test_setup_then_sync_with_a_helpdesk(tmp_path, monkeypatch):
    monkeypatch.setenv("HUBSPOT_SERVICE_KEY", TOKEN)
    monkeypatch.setenv("ZENDESK_EMAIL", EMAIL)
    monkeypatch.setenv("ZENDESK_API_TOKEN", ZD_TOKEN)
    monkeypatch.setenv("CMRULES_HOME", str(tmp_path / "home"))
    config = tmp_path / "cmrules.yaml"
    config.write_text(CONFIG, "utf-8")
    with FakeHubSpot() as hub:
        scenario(hub._mock)  # one responses mock serves both fakes
        agency = hub.company("SocialCo", type="VENDOR", domain="socialco.fr")
        acme = hub.company("Acme SA", domain="acme.com")
        hub.associate("companies", agency, "companies", acme)
        alice = hub.contact("Alice", "Owner", jobtitle="Chef de projet")
        hub.associate("companies", acme, "contacts", alice, primary=True)

        def cli_run(*args: str):
            return CliRunner().invoke(cli, ["--config", str(config), *args])

        setup = cli_run("setup")
        assert setup.exit_code == 0, setup.output
        options = {o["value"] for o in hub.properties["companies"]["cmrules_flags"]["options"]}
        assert options == {r.id for r in rulebook.load()}, "one option per rule, via the helpdesk"

        sync = cli_run("sync", "--full", "--json", "--state", str(tmp_path / "state.json"))
        assert sync.exit_code in (0, 1), sync.output
        summary = json.loads(sync.stdout[sync.stdout.index("{") :])
        assert summary["failed"] == 0 and summary["notes_written"] >= 2
        assert "INVALID_OPTION" not in sync.output
        flags = hub.objects["companies"][acme]["properties"].get("cmrules_flags")
        assert flags, "the flags of the client were written"
