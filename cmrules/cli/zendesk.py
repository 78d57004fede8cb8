"""``cmrules zendesk login``: the one-time consent of the authorisation-code flow.

For Zendesk accounts that cannot use client credentials: it prints the consent URL, takes the
address the browser was sent to, exchanges the code (PKCE) and stores the refresh token in a
0600 file in the state directory.  Every later run refreshes — and so rotates — that token.
"""

from __future__ import annotations

from typing import Any

import click

from .. import redact
from .app import cli


@cli.group()
def zendesk() -> None:
    """Zendesk: connect an account with OAuth (see docs/zendesk.md, Connecting)."""


def ask_redirect(request: Any) -> str:
    """The address the browser landed on after consenting, pasted by the user."""
    return str(click.prompt("Address the browser was sent to", err=True))


@zendesk.command()
@click.pass_context
def login(ctx: click.Context) -> None:
    """Authorise cmrules once (authorisation code + PKCE) and store the refresh token.

    Needs ZENDESK_OAUTH_CLIENT_ID and ZENDESK_OAUTH_CLIENT_SECRET, and the zendesk section's
    redirect_uri (default http://127.0.0.1:8976/callback) registered on the OAuth client.

    \b
    Example:
      cmrules --config cmrules.yaml zendesk login
    """
    from .. import config as config_mod
    from ..connector import connector_class

    cfg = config_mod.load(config_mod.find_config(ctx.find_root().obj["config"]))
    section = cfg.section("zendesk")
    redact.register_section(section)
    where = f"{cfg.path}" if cfg.path else "your config"
    # the connector is reached through the entry-point registry, like every connector
    path = connector_class("zendesk").login(
        section, where, ask=ask_redirect, say=lambda text: click.echo(text, err=True)
    )
    click.echo(f"zendesk: refresh token saved in {path} (mode 0600)")
    if section.get("auth") != "oauth_refresh_token":
        click.echo("zendesk: set `auth: oauth_refresh_token` in the zendesk section to use it")
