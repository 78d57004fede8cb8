"""Secrets never reach the terminal, even when an API echoes them back.

A real HTTP server on 127.0.0.1 answers every request with 400 and a JSON ``message``
echoing the Authorization header it received, plus terminal escape sequences — the leak
reproduction of issue 7 (the HubSpot token and Zendesk's base64 Basic credentials were
printed in clear, and the escapes reached the terminal).
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from cmrules.cli import cli

HUBSPOT_TOKEN = "pat-na1-0a1b2c3d-4e5f-6789-abcd-ef0123456789"
ZD_EMAIL = "ops@acme.test"
ZD_TOKEN = "Zk9vQmFyQmF6UXV4MTIzNDU2Nzg5MDEyMzQ1Njc4OTA"


class Echo(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        auth = self.headers.get("Authorization", "")
        body = json.dumps(
            {
                "status": "error",
                "message": f"bad request from {auth}\x1b[2J\x1b]0;owned\x07 \u202eevil\nline2",
                "error": f"Invalid {auth}",
                "description": auth,
            }
        ).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = _answer

    def log_message(self, *args: object) -> None:  # quiet
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def run_check(tmp_path, config: str):
    path = tmp_path / "cmrules.yaml"
    path.write_text(config, encoding="utf-8")
    return CliRunner().invoke(cli, ["--config", str(path), "check"])


def assert_clean(output: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in output
    assert "\x1b" not in output and "\x07" not in output and "\u202e" not in output
    lines = output.strip().splitlines()
    assert len([x for x in lines if x.startswith("Error:")]) == 1
    assert "Traceback" not in output


def test_hubspot_token_echoed_by_the_api_is_redacted(server, tmp_path, monkeypatch):
    monkeypatch.setenv("HUBSPOT_TOKEN", HUBSPOT_TOKEN)
    res = run_check(
        tmp_path,
        f"source: hubspot\nhubspot:\n  token: ${{HUBSPOT_TOKEN}}\n  base_url: {server}\n"
        "http: {max_retries: 0}\n",
    )
    assert res.exit_code == 3, res.output
    assert "Error: HubSpot GET" in res.output and "HTTP 400" in res.output
    assert "Bearer ***" in res.output  # the message is kept, the credential is not
    assert_clean(res.output, HUBSPOT_TOKEN, HUBSPOT_TOKEN[8:])


def test_zendesk_basic_credentials_echoed_in_base64_are_redacted(server, tmp_path, monkeypatch):
    monkeypatch.setenv("ZENDESK_EMAIL", ZD_EMAIL)
    monkeypatch.setenv("ZENDESK_API_TOKEN", ZD_TOKEN)
    basic = base64.b64encode(f"{ZD_EMAIL}/token:{ZD_TOKEN}".encode()).decode()
    res = run_check(
        tmp_path,
        "source: zendesk\nzendesk:\n  email: ${ZENDESK_EMAIL}\n  token: ${ZENDESK_API_TOKEN}\n"
        f"  base_url: {server}\nhttp: {{max_retries: 0}}\n",
    )
    assert res.exit_code == 3, res.output
    assert "HTTP 400" in res.output
    assert_clean(res.output, ZD_TOKEN, basic, basic[:20], basic[-20:])
