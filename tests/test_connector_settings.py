"""Connector settings are JSON Schema (cmrules.connector_settings): a bad value in a config file
is one ``Error:`` line with the file and the line of the key, what is wrong and what is
accepted — the same shape as the core config's errors."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cmrules import config
from cmrules.cli import cli
from cmrules.connector import ConnectorContext
from cmrules.connector_settings import bounded_int, site_url, validate_section
from cmrules.errors import ConfigError
from cmrules.service import build_connector

CONFIG = """\
source: {source}
language: en
{source}:
  {body}
"""


def build(tmp_path, source, body):
    path = tmp_path / "cmrules.yaml"
    path.write_text(CONFIG.format(source=source, body=body.replace("\n", "\n  ")), "utf-8")
    cfg = config.load(path)
    return build_connector(cfg, ConnectorContext(config_path=str(path))), path


@pytest.mark.parametrize(
    ("source", "body", "line", "needle"),
    [
        # a HubSpot plan allows at most 250 calls per 10 s: 1000 would only earn 429s
        (
            "hubspot",
            "token: pat-x\nrequests_per_10s: 1000",
            5,
            "hubspot.requests_per_10s must be a whole number between 1 and 250 (got 1000)",
        ),
        # the token travels with every request: plain http to a remote host is refused
        ("hubspot", "token: pat-x\nbase_url: http://api.hubapi.com", 5, "base_url"),
        # YAML's .inf is a float: never a valid rate
        ("zendesk", "subdomain: acme\noauth_token: t\npage_size: .inf", 6, "between 1 and 100"),
        # a port outside 1-65535 is a typo, not a server
        ("zendesk", "base_url: https://acme.zendesk.com:70000\noauth_token: t", 4, "not valid"),
        # a typo in a key is named with its line, like the core's unknown keys
        (
            "zendesk",
            "subdomain: acme\noauth_token: t\npage_sise: 50",
            6,
            "unknown key zendesk.page_sise",
        ),
        ("local", "demo: maybe", 4, "local.demo must be true or false, got 'maybe'"),
    ],
)
def test_bad_connector_setting_names_file_and_line(tmp_path, source, body, line, needle):
    with pytest.raises(ConfigError) as err:
        build(tmp_path, source, body)
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'cmrules.yaml'}:{line}: "), message
    assert needle in message


def test_numbers_from_environment_variables_are_accepted(tmp_path, monkeypatch):
    # ${ENV_VAR} substitutions are text: "190" is the number 190
    monkeypatch.setenv("HS_RATE", "190")
    connector, _ = build(tmp_path, "hubspot", "token: pat-x\nrequests_per_10s: ${HS_RATE}")
    assert connector.options.requests_per_10s == 190
    monkeypatch.setenv("HS_RATE", "lots")
    with pytest.raises(ConfigError, match="requests_per_10s must be a whole number"):
        build(tmp_path, "hubspot", "token: pat-x\nrequests_per_10s: ${HS_RATE}")


def test_cli_prints_one_error_line_with_file_and_line(tmp_path):
    path = tmp_path / "cmrules.yaml"
    path.write_text("source: zendesk\nzendesk:\n  subdomain: acme\n  page_size: 0\n", "utf-8")
    result = CliRunner().invoke(cli, ["--config", str(path), "check"])
    assert result.exit_code != 0
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and f"{path}:4: zendesk.page_size" in errors[0], result.output
    assert "Traceback" not in result.output


def test_first_problem_in_file_order_is_reported():
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"a": bounded_int(1, 5, "a hint"), "b": site_url("use https://x")},
    }
    lines = {("s", "a"): 9, ("s", "b"): 3}
    with pytest.raises(ConfigError, match=r"^f:3: s.b 'ftp://x' is not valid; use https://x$"):
        validate_section(schema, {"a": 0, "b": "ftp://x"}, "s", lambda *p: f"f:{lines[p]}")
    assert validate_section(schema, {"a": " 4 "}, "s", lambda *p: "f") == {"a": 4}
