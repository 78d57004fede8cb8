"""Listing commands: ``vendors``, ``notes``, ``signals``."""

from __future__ import annotations

import click

from .app import cli
from .common import open_session, term


@cli.command()
@click.pass_context
def vendors(ctx: click.Context) -> None:
    """List the vendors the source knows (id and name).

    \b
    Example:
      cmrules vendors
    """
    from ..model import OrgKind

    session = open_session(ctx)
    for org in session.connector.find_organisations("", OrgKind.VENDOR):
        if org.kind == OrgKind.VENDOR:
            click.echo(term(f"{org.id}\t{org.name}"))


@cli.command()
@click.option("--vendor", metavar="NAME|ID")
@click.option("--company", metavar="NAME|ID")
@click.pass_context
def notes(ctx: click.Context, vendor: str | None, company: str | None) -> None:
    """Show the notes cmrules wrote on a record, newest first.

    \b
    Example:
      cmrules notes --vendor "Pixel Social"
    """
    from ..model import OrgKind
    from ..service import list_notes

    if bool(vendor) == bool(company):
        raise click.UsageError("give exactly one of --vendor or --company")
    session = open_session(ctx)
    kind = OrgKind.VENDOR if vendor else OrgKind.COMPANY
    subject, stored = list_notes(session, vendor or company or "", kind)
    if not stored:
        click.echo(term(f"no cmrules note on {subject.name} yet"))
    for n in stored:
        click.echo(f"--- note {n.id} · {n.created_at.isoformat()} · {n.fingerprint}")
        click.echo(term(n.body))


@cli.command("signals")
def signals_cmd() -> None:
    """List the signals rules can use, with how each is computed.

    \b
    Example:
      cmrules signals
    """
    from ..signals import REGISTRY

    for spec in REGISTRY.values():
        window = f", window {spec.window_days} days" if spec.window_days else ""
        click.echo(f"{spec.name} ({spec.subject}, {spec.type}{window})")
        click.echo(f"    {spec.doc}")
