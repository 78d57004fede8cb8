"""``cmrules check`` lists what only ops can fix (issue #10): the points the configured rules
cannot assess on any record because no configured source records the data — the same lines a
run's summary prints, computed before any run."""

from __future__ import annotations

from click.testing import CliRunner
from hubspot_fake import TOKEN, FakeHubSpot
from zendesk_fake import EMAIL, scenario
from zendesk_fake import TOKEN as ZD_TOKEN

from cmrules.cli import cli

HELPDESK = ("connect a helpdesk source", "connectez une source helpdesk")

HUBSPOT_ZENDESK = """
source: hubspot
helpdesk: zendesk
language: {lang}
hubspot:
  service_key: ${{HUBSPOT_SERVICE_KEY}}
zendesk:
  subdomain: acme
  email: ${{ZENDESK_EMAIL}}
  token: ${{ZENDESK_API_TOKEN}}
"""


def ops_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("i ")]


def test_local_only_lists_the_helpdesk_signals_with_their_rules_in_both_languages(tmp_path):
    """A local store with no helpdesk: reply times (CMR012) and unanswered requests (CMR013)
    cannot be assessed for any client — ops must connect a helpdesk; said in the run's language."""
    config = tmp_path / "cmrules.yaml"
    config.write_text(f"local: {{path: {tmp_path}/db.sqlite3}}\nlanguage: fr\n", "utf-8")
    fr = CliRunner().invoke(cli, ["--config", str(config), "check"])
    assert fr.exit_code == 0, fr.output
    assert ops_lines(fr.output) == [
        "i Données que seuls les administrateurs peuvent fournir\u202f: connectez une source "
        "helpdesk (tickets avec leurs délais de réponse) — règle CMR012",
        "i Données que seuls les administrateurs peuvent fournir\u202f: connectez une source "
        "helpdesk (tickets avec le nombre de réponses) — règle CMR013",
    ]
    en = CliRunner().invoke(cli, ["--config", str(config), "check", "--lang", "en"])
    assert ops_lines(en.output) == [
        "i Data only ops can provide: connect a helpdesk source (tickets with reply-time "
        "metrics) — rule CMR012",
        "i Data only ops can provide: connect a helpdesk source (tickets with reply counts) "
        "— rule CMR013",
    ]


def test_hubspot_with_zendesk_does_not_list_the_helpdesk(tmp_path, monkeypatch):
    """HubSpot for meetings plus Zendesk for tickets: the helpdesk is connected, so the
    reply-time rules are assessable and no 'connect a helpdesk source' line is printed."""
    monkeypatch.setenv("HUBSPOT_SERVICE_KEY", TOKEN)
    monkeypatch.setenv("ZENDESK_EMAIL", EMAIL)
    monkeypatch.setenv("ZENDESK_API_TOKEN", ZD_TOKEN)
    for lang in ("en", "fr"):
        config = tmp_path / f"cmrules-{lang}.yaml"
        config.write_text(HUBSPOT_ZENDESK.format(lang=lang), "utf-8")
        with FakeHubSpot() as hub:
            scenario(hub._mock)  # one responses mock serves both fakes
            res = CliRunner().invoke(cli, ["--config", str(config), "check"])
        assert res.exit_code == 0, res.output
        lines = ops_lines(res.output)
        assert lines, res.output  # the section is there (a gap, or "none")
        assert not any(h in line for line in lines for h in HELPDESK), lines
        assert not any("CMR012" in line or "CMR013" in line for line in lines), lines


def test_a_coverage_override_in_the_config_is_what_check_goes_by(tmp_path):
    """Ops declare that their local store holds meetings only, without attendees: the rules
    needing attendees, calls or e-mails become ops gaps too — the connector's declaration with
    the config's override, as a run uses it."""
    config = tmp_path / "cmrules.yaml"
    config.write_text(
        f"local: {{path: {tmp_path}/db.sqlite3}}\nlanguage: en\n"
        "coverage: {local: {activity_kinds: [meeting], attendees: false}}\n",
        "utf-8",
    )
    res = CliRunner().invoke(cli, ["--config", str(config), "check"])
    assert res.exit_code == 0, res.output
    lines = ops_lines(res.output)
    assert any("meeting attendees" in line for line in lines), lines
    assert any("calls, e-mails or tickets" in line for line in lines), lines
    assert sum(h in line for line in lines for h in HELPDESK) == 2, lines
