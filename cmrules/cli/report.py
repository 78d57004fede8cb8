"""``report``: a portfolio picture of vendors × criteria (HTML, Markdown, CSV, JSON)."""

from __future__ import annotations

from pathlib import Path

import click

from .app import cli
from .common import open_session


@cli.command()
@click.option("--vendor", metavar="NAME|ID", help="One vendor and its clients.")
@click.option("--all", "all_vendors", is_flag=True, help="Every vendor of the source.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "markdown", "csv", "json"]),
    default="html",
    show_default=True,
    help="html: self-contained page; markdown: tickets, wikis; csv: one row per finding.",
)
@click.option(
    "--output",
    "-o",
    metavar="FILE",
    default="-",
    show_default=True,
    help="Where to write the report ('-' for standard output).",
)
@click.option(
    "--as-of", metavar="DATE", help="Evaluate as of this instant (ISO-8601). Default: now."
)
@click.option(
    "--lang",
    type=click.Choice(["fr", "en"]),
    help="Language of the report (default: config, else fr).",
)
@click.pass_context
def report(
    ctx: click.Context,
    vendor: str | None,
    all_vendors: bool,
    fmt: str,
    output: str,
    as_of: str | None,
    lang: str | None,
) -> None:
    """Report on a vendor's portfolio, or on every vendor: read-only, nothing is written back.

    \b
    Example:
      cmrules report --all --format html --output portfolio.html
      cmrules report --vendor "Pixel Social" --format csv -o pixel.csv
    """
    from .. import report as report_mod
    from ..service import parse_as_of

    if bool(vendor) == all_vendors:
        raise click.UsageError("give --vendor NAME|ID or --all (not both)")
    moment = parse_as_of(as_of)
    session = open_session(ctx)
    portfolio = report_mod.build(
        session, vendor=vendor, all_vendors=all_vendors, as_of=moment, language=lang
    )
    text = report_mod.render_as(portfolio, fmt)
    if output == "-":
        click.echo(text, nl=False)
        return
    size = report_mod.save(text, Path(output))
    click.echo(
        f"wrote {output} ({fmt}, {portfolio.records} records, {size / 1024:,.0f} KiB)", err=True
    )
