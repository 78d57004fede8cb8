"""``evaluate`` and ``sync``: evaluate records and write the findings back."""

from __future__ import annotations

import json

import click

from .app import EXIT_PARTIAL, cli
from .common import (
    beside,
    colored,
    emit,
    fail_on_exit,
    open_session,
    output_options,
    progress,
    record_options,
    sink,
)


@cli.command()
@click.option("--vendor", metavar="NAME|ID", help="Vendor to evaluate, with its clients.")
@click.option("--company", metavar="NAME|ID", help="One client company (or prospect) to evaluate.")
@click.option("--deal", metavar="NAME|ID", help="One open deal (HubSpot): its readiness.")
@record_options
@click.option("--no-write", is_flag=True, help="Evaluate only; do not write notes back.")
@output_options
@click.pass_context
def evaluate(
    ctx: click.Context,
    vendor: str | None,
    company: str | None,
    deal: str | None,
    fmt: str,
    output: str,
    no_write: bool,
    lang: str | None,
    as_of: str | None,
    dry_run: bool,
    fail_on: str | None,
) -> None:
    """Evaluate a vendor and its client companies (or one company) and write the notes.

    \b
    Example:
      cmrules evaluate --vendor "Pixel Social" --lang en --dry-run
    """
    from ..outstream import writer
    from ..service import evaluate as run
    from ..service import parse_as_of

    if not vendor and not company and not deal:
        raise click.UsageError("give --vendor NAME|ID, --company NAME|ID or --deal NAME|ID")
    moment = parse_as_of(as_of)
    session = open_session(ctx)
    language = lang or session.config.language
    with sink(ctx, output) as write, progress(ctx, language) as on_progress:
        # records are written out as they come: the report keeps none (flat memory)
        out = writer(
            fmt, beside(on_progress, write, output), language, moment, dry_run=dry_run,
            color=colored(ctx, output),
        )  # fmt: skip
        report = run(
            session,
            vendor=vendor,
            company=company,
            deal=deal,
            as_of=moment,
            language=lang,
            dry_run=dry_run,
            write=not no_write,
            on_record=out.record,
            on_progress=on_progress,
        )
        out.close(report)
    code = fail_on_exit(report, fail_on or session.config.fail_on)
    if report.count("failed"):
        code = EXIT_PARTIAL
    ctx.exit(code)


@cli.command()
@click.option("--full", is_flag=True, help="Ignore the watermark: evaluate everything.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--state", "state_path", metavar="PATH", help="State file (default: config).")
@record_options
@output_options
@click.pass_context
def sync(
    ctx: click.Context,
    full: bool,
    as_json: bool,
    state_path: str | None,
    fmt: str,
    output: str,
    lang: str | None,
    as_of: str | None,
    dry_run: bool,
    fail_on: str | None,
) -> None:
    """Nightly job: evaluate everything changed since the last successful run.

    The summary (--format json: fixed keys, with warnings and unmatched records) goes to
    standard output or --output; cron users see every warning in it.

    \b
    Example (cron, 02:30 every night):
      30 2 * * * cmrules --config /etc/cmrules.yaml sync --json >> /var/log/cmrules.jsonl
    """
    from pathlib import Path

    from .. import listing
    from ..listing import SYNC_KEYS
    from ..output import ops_lines, summary_line
    from ..service import parse_as_of
    from ..service import sync as run

    fmt = "json" if as_json else fmt
    session = open_session(ctx)
    if lang:
        session.config.language = lang
    moment = parse_as_of(as_of) if as_of else None
    with progress(ctx, session.config.language) as on_progress:
        report = run(
            session,
            full=full,
            dry_run=dry_run,
            as_of=moment,
            state_path=Path(state_path) if state_path else None,
            on_record=lambda r: None,  # only the summary is printed: keep no record
            on_progress=on_progress,
        )
    summary = report.summary()
    record = {**summary, **{k: report.stats.get(k) for k in SYNC_KEYS},
              "warnings": list(report.warnings), "unmatched": list(report.unmatched)}  # fmt: skip
    if fmt == "json":
        emit(ctx, json.dumps(record, indent=2, sort_keys=True, default=str), output)
    else:
        line = summary_line(summary, report.language)
        if fmt == "markdown":
            line = listing.md_escape(line) + "".join(
                f"\n- {listing.md_escape(w)}" for w in report.warnings
            )
        emit(ctx, line, output)
        if fmt == "table":
            for w in report.warnings:
                click.echo(f"! {listing.one_line(w)}", err=True)
            for line in ops_lines(summary.get("ops_data_gaps", []), report.language):
                click.echo(line, err=True)
    code = fail_on_exit(report, fail_on or session.config.fail_on)
    if summary["failed"]:
        code = EXIT_PARTIAL
    ctx.exit(code)
