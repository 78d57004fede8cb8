"""``check`` and ``setup``: credentials and what write-back needs in the CRM."""

from __future__ import annotations

import click

from .app import cli
from .common import open_session


@cli.command()
@click.option(
    "--lang", type=click.Choice(["fr", "en"]), help="Language of the ops lines (default: config)."
)
@click.pass_context
def check(ctx: click.Context, lang: str | None) -> None:
    """Validate the config and the credentials with one cheap call per source, and list what
    the rules cannot assess on any record because no configured source records it.

    \b
    Example:
      HUBSPOT_TOKEN=pat-... cmrules --config cmrules.yaml check
    """
    from ..opsgaps import check_gaps
    from ..output import check_gap_lines

    session = open_session(ctx)
    click.echo(f"config: {session.config.name} OK; {len(session.rulebook)} rules loaded")
    for line in session.connector.check():
        click.echo(line)
    language = lang or session.config.language
    for line in check_gap_lines(check_gaps(session, language), language):
        click.echo(line)


@cli.command()
@click.option("--dry-run", is_flag=True, help="Show the plan; make no write call.")
@click.pass_context
def setup(ctx: click.Context, dry_run: bool) -> None:
    """Create what write-back needs in the CRM (property group, flag properties). Idempotent.

    \b
    Example:
      cmrules --config cmrules.yaml setup --dry-run
    """
    session = open_session(ctx)
    conn = session.connector
    conn.rule_ids = [r.id for r in session.rulebook]  # type: ignore[attr-defined]
    for line in conn.setup(dry_run=dry_run):
        click.echo(line)
