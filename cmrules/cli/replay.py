"""``replay``: re-evaluate a logged decision with the rules of that day (or today's)."""

from __future__ import annotations

import json

import click

from .app import cli
from .common import load_rulesets, term


@cli.command()
@click.argument("decision_id", required=False)
@click.option("--record", metavar="ID", help="The latest decision about this record id.")
@click.option("--current-rules", is_flag=True, help="Also show what today's rules would say.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.pass_context
def replay(
    ctx: click.Context, decision_id: str | None, record: str | None, current_rules: bool, fmt: str
) -> None:
    """Replay a decision from the decision log: same inputs, the rule set logged with it.

    Exit 0 when the replay gives the logged outcomes and fingerprints, 1 when it does not.

    \b
    Example:
      cmrules replay 20261120T023000Z-1f2e3d4c --current-rules
    """
    from .. import config as config_mod
    from ..errors import UsageError
    from ..replay import replay as run
    from ..replay import to_text

    if bool(decision_id) == bool(record):
        raise UsageError("give a DECISION_ID, or --record ID for a record's latest decision")
    cfg = config_mod.load(config_mod.find_config(ctx.find_root().obj["config"]))
    current = load_rulesets(ctx) if current_rules else None
    result = run(cfg.decisions, decision_id=decision_id, record=record, current=current)
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(term(to_text(result)), nl=False)
    ctx.exit(0 if result.identical else 1)
