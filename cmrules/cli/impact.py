"""``rules impact``: the portfolio under the current and a proposed rule set; writes nothing."""

from __future__ import annotations

import json

import click

from .common import open_session, term
from .rules import rules


@rules.command("impact")
@click.option("--rules", "rules_dirs", multiple=True, type=click.Path(), metavar="DIR",
              help="Proposed rule files: same id replaces, new id adds.")  # fmt: skip
@click.option("--params", "params_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Proposed parameters: {RULE: {param: value}}.")  # fmt: skip
@click.option("--disable", multiple=True, metavar="ID", help="Rule the proposal switches off.")
@click.option("--vendor", metavar="NAME|ID", help="One vendor and its clients.")
@click.option("--all", "all_vendors", is_flag=True, help="Every vendor and client.")
@click.option("--as-of", metavar="DATE", help="Evaluate as of this instant. Default: now.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "markdown"]),
    default="table",
    show_default=True,
)
@click.pass_context
def rules_impact(
    ctx: click.Context,
    rules_dirs: tuple[str, ...],
    params_file: str | None,
    disable: tuple[str, ...],
    vendor: str | None,
    all_vendors: bool,
    as_of: str | None,
    fmt: str,
) -> None:
    """Which records would gain, lose or change findings under a proposed rule change.

    Evaluates the same records with the current and the proposed rules; writes nothing.

    \b
    Example:
      cmrules rules impact --params proposal.yaml --all --format markdown
    """
    from ..errors import UsageError
    from ..impact import impact, proposed_rulesets, to_table
    from ..service import parse_as_of

    if not (rules_dirs or params_file or disable):
        raise UsageError("nothing proposed: give --rules DIR, --params FILE or --disable ID")
    session = open_session(ctx)
    proposed = proposed_rulesets(
        session.rulesets,
        rules_dirs=rules_dirs,
        params_file=params_file,
        disable=[d.upper() for d in disable],
    )
    report = impact(
        session, proposed, vendor=vendor, all_vendors=all_vendors, as_of=parse_as_of(as_of)
    )
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(term(to_table(report, markdown=fmt == "markdown")), nl=False)
