"""Acting on flags: ``history``, ``waive``, ``waivers``, ``tasks``."""

from __future__ import annotations

import json

import click

from .app import cli
from .common import language, open_session, term

_FORMAT = click.Choice(["table", "json"])
_LANG = click.option(
    "--lang", type=click.Choice(["fr", "en"]), help="Language of the table (default: config)."
)


def _record(vendor: str | None, company: str | None) -> tuple[str, object]:
    from ..model import OrgKind

    if bool(vendor) == bool(company):
        raise click.UsageError("give exactly one of --vendor or --company")
    return (vendor or company or ""), (OrgKind.VENDOR if vendor else OrgKind.COMPANY)


@cli.command()
@click.option("--vendor", metavar="NAME|ID")
@click.option("--company", metavar="NAME|ID")
@click.option("--format", "fmt", type=_FORMAT, default="table", show_default=True)
@_LANG
@click.pass_context
def history(
    ctx: click.Context, vendor: str | None, company: str | None, fmt: str, lang: str | None
) -> None:
    """A record's flag timeline: opened, resolved, waived, waiver ended — stored on the
    record itself (survives losing the local state).

    \b
    Example:
      cmrules history --company "Café Médina"
    """
    from ..acting import record_history, vendor_names
    from ..acting_text import history_lines

    ref, kind = _record(vendor, company)
    session = open_session(ctx)
    rh = record_history(session, ref, kind)  # type: ignore[arg-type]
    if fmt == "json":
        click.echo(json.dumps(rh.to_dict(), indent=2, ensure_ascii=False))
        return
    for line in history_lines(rh, vendor_names(session), language(ctx, lang)):
        click.echo(term(line))


@cli.command()
@click.option("--company", metavar="NAME|ID", help="The record waived (or --vendor).")
@click.option("--vendor-record", "vendor_record", metavar="NAME|ID", help="A vendor record.")
@click.option("--rule", required=True, metavar="ID", help="The rule waived, e.g. CMR010.")
@click.option("--vendor", metavar="NAME|ID", help="Only for this vendor (default: any).")
@click.option("--until", required=True, metavar="YYYY-MM-DD", help="Last day waived.")
@click.option("--reason", required=True, help="Why the flag is acceptable until then.")
@click.option("--by", metavar="NAME", help="Who decided (shown in the note).")
@click.option("--as-of", "as_of", metavar="DATE", help="Today, for the checks (default: now).")
@_LANG
@click.pass_context
def waive(
    ctx: click.Context, company: str | None, vendor_record: str | None, rule: str,
    vendor: str | None, until: str, reason: str, by: str | None, as_of: str | None,
    lang: str | None,
) -> None:  # fmt: skip
    """Acknowledge a flag on a record of the local store until a date, with a reason.

    A waiver without a reason, for an unknown rule, already expired or longer than
    waivers.max_days (default 180 days) is refused.

    \b
    Example:
      cmrules waive --company "Café Médina" --rule CMR010 --until 2027-01-15 \\
        --reason "Monthly meetings resume in January" --by "Claire Martin"
    """
    from ..acting import waive as do_waive
    from ..acting_text import waived_line
    from ..service import parse_as_of

    ref, kind = _record(vendor_record, company)
    w = do_waive(
        open_session(ctx), ref=ref, kind=kind, rule=rule, until=until, reason=reason,  # type: ignore[arg-type]
        vendor=vendor, by=by, as_of=parse_as_of(as_of),
    )  # fmt: skip
    click.echo(term(waived_line(w, language(ctx, lang))))


@cli.command()
@click.option("--expiring-within", "within", metavar="DAYS", help="Only those ending soon: 30d.")
@click.option("--format", "fmt", type=_FORMAT, default="table", show_default=True)
@click.option("--as-of", "as_of", metavar="DATE", help="Today (default: now).")
@_LANG
@click.pass_context
def waivers(
    ctx: click.Context, within: str | None, fmt: str, as_of: str | None, lang: str | None
) -> None:
    """The waiver register: from the config and from records, applied or not (and why).

    \b
    Example:
      cmrules waivers --expiring-within 30d
    """
    from ..acting import parse_days, register
    from ..acting_text import waiver_lines
    from ..service import parse_as_of

    days = parse_days(within) if within else None
    items = register(open_session(ctx), parse_as_of(as_of), days)
    if fmt == "json":
        click.echo(json.dumps([w.to_dict() for w in items], indent=2, ensure_ascii=False))
        return
    for line in waiver_lines(items, language(ctx, lang)):
        click.echo(term(line))


@cli.command()
@click.option("--all", "include_completed", is_flag=True, help="Completed tasks too.")
@click.option("--format", "fmt", type=_FORMAT, default="table", show_default=True)
@_LANG
@click.pass_context
def tasks(ctx: click.Context, include_completed: bool, fmt: str, lang: str | None) -> None:
    """Data-gap tasks for record owners (local store; enable with 'tasks: true').

    \b
    Example:
      cmrules tasks --all
    """
    from ..acting import list_tasks
    from ..acting_text import task_lines

    items = list_tasks(open_session(ctx), include_completed)
    if fmt == "json":
        click.echo(json.dumps(items, indent=2, ensure_ascii=False))
        return
    for line in task_lines(items, language(ctx, lang)):
        click.echo(term(line))
