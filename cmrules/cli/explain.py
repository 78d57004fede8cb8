"""``explain``: each rule's condition tree for a record, leaf by leaf."""

from __future__ import annotations

import json

import click

from .app import cli
from .common import open_session, term


@cli.command()
@click.option("--company", metavar="NAME|ID", help="Client company to explain.")
@click.option("--vendor", metavar="NAME|ID", help="Its vendor (alone: the vendor's own rules).")
@click.option("--rule", "rule_id", metavar="ID", help="Only this rule.")
@click.option("--as-of", metavar="DATE", help="Evaluate as of this instant. Default: now.")
@click.option("--lang", type=click.Choice(["fr", "en"]), help="Language (default: config).")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.pass_context
def explain(
    ctx: click.Context,
    company: str | None,
    vendor: str | None,
    rule_id: str | None,
    as_of: str | None,
    lang: str | None,
    fmt: str,
) -> None:
    """Why a rule fired, stayed silent or could not assess: every leaf's value, source
    records and verdict (true / false / unknown), the profile and parameters applied.

    \b
    Example:
      cmrules explain --company "Café Médina" --rule CMR010 --as-of 2026-11-20
    """
    from ..explain import explain as run
    from ..explain import to_text
    from ..service import parse_as_of

    session = open_session(ctx)
    language = lang or session.config.language
    items = run(
        session,
        company=company,
        vendor=vendor,
        rule=rule_id.upper() if rule_id else None,
        as_of=parse_as_of(as_of),
    )
    if fmt == "json":
        data = [i.to_dict(language) for i in items]
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        click.echo(term(to_text(items, language)), nl=False)
