from __future__ import annotations

import pytest

from cmrules import config
from cmrules.errors import ConfigError

KNOWN = {"local", "hubspot", "zendesk"}


def load(tmp_path, text):
    p = tmp_path / "cmrules.yaml"
    p.write_text(text, encoding="utf-8")
    return config.load(p, known_connectors=KNOWN), p


def test_defaults_without_a_file():
    cfg = config.load(None)
    assert cfg.source == "local" and cfg.language == "fr" and cfg.helpdesk is None


def test_full_file(tmp_path, monkeypatch):
    monkeypatch.setenv("HUBSPOT_TOKEN", "pat-na1-secret")
    cfg, _ = load(
        tmp_path,
        """
source: hubspot
language: en
fail_on: high
rules:
  dirs: [extra]
  disable: [CMR017]
  params: {CMR001: {max_directing_contacts: 2}}
signals: {unanswered_after_hours: 24}
http: {timeout: 30}
state: {path: state/sync.json}
hubspot: {token: "${HUBSPOT_TOKEN}"}
""",
    )
    assert cfg.source == "hubspot" and cfg.language == "en" and cfg.fail_on == "high"
    assert cfg.section("hubspot")["token"] == "pat-na1-secret"
    assert cfg.params == {"CMR001": {"max_directing_contacts": 2}}
    assert cfg.signals.unanswered_after_hours == 24
    assert cfg.state_path == (tmp_path / "state/sync.json").resolve()
    assert cfg.rule_dirs == [(tmp_path / "extra").resolve()]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("sauce: hubspot\n", ":1: unknown key 'sauce'"),
        ("rules:\n  disabled: [CMR001]\n", ":2: unknown key rules.disabled"),
        ("language: de\n", ":1: language must be fr or en"),
        ("source: salesforce\n", ":1: unknown connector 'salesforce'"),
        ("http: {timeout: fast}\n", "http.timeout must be a number between 0.1 and 600"),
        ("hubspot: {token: '${NOPE_NOT_SET}'}\n", "environment variable NOPE_NOT_SET is not set"),
        ("rules: [1, 2]\n", "rules must be a dict"),
        ("a: [unclosed\n", "invalid YAML"),
        ("- just\n- a list\n", "must be a mapping"),
        ("x: !!python/object/apply:os.system ['id']\n", "invalid YAML"),
    ],
)
def test_bad_config_says_what_and_where(tmp_path, text, needle):
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, text)
    assert needle in str(exc.value)
    assert str(tmp_path / "cmrules.yaml") in str(exc.value)


def test_missing_env_secret_is_not_echoed(tmp_path, monkeypatch):
    monkeypatch.setenv("OTHER", "s3cr3t-value")
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, "hubspot: {token: '${NOT_SET_TOKEN}', x: '${OTHER}'}\n")
    assert "s3cr3t-value" not in str(exc.value)


def test_connector_section_unknown_key(tmp_path):
    cfg, _ = load(tmp_path, "local: {paht: x.db}\n")
    with pytest.raises(ConfigError, match=r":1: unknown key local.paht"):
        config.check_section(cfg, "local", frozenset({"path", "demo"}))


def test_missing_file():
    with pytest.raises(ConfigError, match="no such file: does-not-exist.yaml"):
        config.load(config.find_config("does-not-exist.yaml"))


def test_example_config_is_valid(monkeypatch):
    from pathlib import Path

    example = Path(__file__).parent.parent / "config.example.yaml"
    for var in ("HUBSPOT_TOKEN", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN"):
        monkeypatch.setenv(var, "x-test")
    cfg = config.load(example)
    assert cfg.source == "local"
