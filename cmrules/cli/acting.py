"""Acting on flags: ``history``, ``waive``, ``waivers``, ``tasks``."""

from __future__ import annotations

import json

import click

from .app import cli
from .common import open_session, term

_FORMAT = click.Choice(["table", "json"])


def _record(vendor: str | None, company: str | None) -> tuple[str, object]:
    from ..model import OrgKind

    if bool(vendor) == bool(company):
        raise click.UsageError("give exactly one of --vendor or --company")
    return (vendor or company or ""), (OrgKind.VENDOR if vendor else OrgKind.COMPANY)


@cli.command()
@click.option("--vendor", metavar="NAME|ID")
@click.option("--company", metavar="NAME|ID")
@click.option("--format", "fmt", type=_FORMAT, default="table", show_default=True)
@click.pass_context
def history(ctx: click.Context, vendor: str | None, company: str | None, fmt: str) -> None:
    """A record's flag timeline: opened, resolved, waived, waiver ended — stored on the
    record itself (survives losing the local state).

    \b
    Example:
      cmrules history --company "Café Médina"
    """
    from ..acting import record_history

    ref, kind = _record(vendor, company)
    rh = record_history(open_session(ctx), ref, kind)  # type: ignore[arg-type]
    if fmt == "json":
        click.echo(json.dumps(rh.to_dict(), indent=2, ensure_ascii=False))
        return
    if not rh.stored:
        click.echo(term(f"no flag history stored on {rh.subject.name} yet (evaluate it first)"))
        return
    click.echo(term(f"{rh.subject.name} — open flags"))
    for key, since in sorted(rh.history.open.items()):
        until = rh.history.waived.get(key)
        waived = f"  (waived until {until})" if until else ""
        click.echo(f"  {key:<24} open since {since}{waived}")
    click.echo("events, oldest first")
    for day, event, rule, vid in rh.history.log:
        click.echo(f"  {day}  {event:<13} {rule}{'@' + vid if vid else ''}")


@cli.command()
@click.option("--company", metavar="NAME|ID", help="The record waived (or --vendor).")
@click.option("--vendor-record", "vendor_record", metavar="NAME|ID", help="A vendor record.")
@click.option("--rule", required=True, metavar="ID", help="The rule waived, e.g. CMR010.")
@click.option("--vendor", metavar="NAME|ID", help="Only for this vendor (default: any).")
@click.option("--until", required=True, metavar="YYYY-MM-DD", help="Last day waived.")
@click.option("--reason", required=True, help="Why the flag is acceptable until then.")
@click.option("--by", metavar="NAME", help="Who decided (shown in the note).")
@click.option("--as-of", "as_of", metavar="DATE", help="Today, for the checks (default: now).")
@click.pass_context
def waive(
    ctx: click.Context, company: str | None, vendor_record: str | None, rule: str,
    vendor: str | None, until: str, reason: str, by: str | None, as_of: str | None,
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
    from ..service import parse_as_of

    ref, kind = _record(vendor_record, company)
    w = do_waive(
        open_session(ctx), ref=ref, kind=kind, rule=rule, until=until, reason=reason,  # type: ignore[arg-type]
        vendor=vendor, by=by, as_of=parse_as_of(as_of),
    )  # fmt: skip
    assert w.until is not None
    click.echo(term(f"waived {w.rule_id} on {w.record_name} until {w.until.isoformat()}"))


@cli.command()
@click.option("--expiring-within", "within", metavar="DAYS", help="Only those ending soon: 30d.")
@click.option("--format", "fmt", type=_FORMAT, default="table", show_default=True)
@click.option("--as-of", "as_of", metavar="DATE", help="Today (default: now).")
@click.pass_context
def waivers(ctx: click.Context, within: str | None, fmt: str, as_of: str | None) -> None:
    """The waiver register: from the config and from records, applied or not (and why).

    \b
    Example:
      cmrules waivers --expiring-within 30d
    """
    from ..acting import parse_days, register
    from ..service import parse_as_of

    days = parse_days(within) if within else None
    items = register(open_session(ctx), parse_as_of(as_of), days)
    if fmt == "json":
        click.echo(json.dumps([w.to_dict() for w in items], indent=2, ensure_ascii=False))
        return
    if not items:
        click.echo("no waiver")
    for w in items:
        until = w.until.isoformat() if w.until else "?"
        target = w.record_name or w.record or "any record"
        state = "active" if w.valid else f"NOT APPLIED: {w.problem}"
        line = f"{until}  {w.rule_id:<7} {target}  [{w.origin}: {w.where}]  {state}"
        click.echo(term(line))
        if w.reason:
            click.echo(term(f"            {w.reason}" + (f" — {w.by}" if w.by else "")))


@cli.command()
@click.option("--all", "include_completed", is_flag=True, help="Completed tasks too.")
@click.option("--format", "fmt", type=_FORMAT, default="table", show_default=True)
@click.pass_context
def tasks(ctx: click.Context, include_completed: bool, fmt: str) -> None:
    """Data-gap tasks for record owners (local store; enable with 'tasks: true').

    \b
    Example:
      cmrules tasks --all
    """
    from ..acting import list_tasks

    items = list_tasks(open_session(ctx), include_completed)
    if fmt == "json":
        click.echo(json.dumps(items, indent=2, ensure_ascii=False))
        return
    if not items:
        click.echo("no open task")
    for t in items:
        click.echo(term(f"#{t['id']} {t['status']:<9} {t['record']}: {t['title']}"))
        click.echo(term("    " + t["body"].splitlines()[0]))
