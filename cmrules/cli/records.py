"""Listing commands: ``vendors``, ``companies``, ``notes``, ``signals``.

Each prints records as a table (fits the terminal), JSON (fixed keys, see the README) or
Markdown, to standard output or ``--output FILE``.
"""

from __future__ import annotations

import click

from .app import cli
from .common import colored, emit, language, open_session, record_options


def _organisations(ctx: click.Context, kind_name: str, fmt: str, output: str) -> None:
    from .. import listing
    from ..model import OrgKind

    kind = OrgKind.VENDOR if kind_name == "vendor" else OrgKind.COMPANY
    session = open_session(ctx)
    lang = session.config.language
    records = listing.organisation_records(session.connector, kind)
    keys = ("id", "name", "domain") + (("vendors",) if kind == OrgKind.COMPANY else ())
    shown = records
    if fmt != "json" and kind == OrgKind.COMPANY:
        shown = [dict(r, vendors=[v["name"] for v in r["vendors"]]) for r in records]
    text = listing.render(fmt, shown, listing.columns(lang, *keys), color=colored(ctx, output))
    emit(ctx, text, output)


@cli.command()
@record_options
@click.pass_context
def vendors(ctx: click.Context, fmt: str, output: str) -> None:
    """List the vendors the source knows (id, name, domain).

    \b
    Example:
      cmrules vendors --format json
    """
    _organisations(ctx, "vendor", fmt, output)


@cli.command()
@record_options
@click.pass_context
def companies(ctx: click.Context, fmt: str, output: str) -> None:
    """List the client companies the source knows, with their vendors.

    \b
    Example:
      cmrules companies --format markdown -o companies.md
    """
    _organisations(ctx, "company", fmt, output)


@cli.command()
@click.option("--vendor", metavar="NAME|ID")
@click.option("--company", metavar="NAME|ID")
@record_options
@click.pass_context
def notes(
    ctx: click.Context, vendor: str | None, company: str | None, fmt: str, output: str
) -> None:
    """Show the notes cmrules wrote on a record, newest first.

    \b
    Example:
      cmrules notes --vendor "Pixel Social"
    """
    from .. import listing
    from ..model import OrgKind
    from ..redact import term_safe
    from ..service import list_notes

    if bool(vendor) == bool(company):
        raise click.UsageError("give exactly one of --vendor or --company")
    session = open_session(ctx)
    kind = OrgKind.VENDOR if vendor else OrgKind.COMPANY
    subject, stored = list_notes(session, vendor or company or "", kind)
    records = [
        {"id": n.id, "subject_id": n.subject_id, "created_at": n.created_at.isoformat(),
         "fingerprint": n.fingerprint, "body": n.body}
        for n in stored
    ]  # fmt: skip
    if fmt == "json":
        text = listing.to_json(records)
    elif fmt == "markdown":
        text = "\n\n".join(
            f"### {listing.md_escape(r['created_at'])} · `{r['fingerprint']}`\n\n"
            + "\n".join("    " + line for line in term_safe(r["body"]).splitlines())
            for r in records
        )
    else:
        text = "\n".join(
            f"--- note {r['id']} · {r['created_at']} · {r['fingerprint']}\n{term_safe(r['body'])}"
            for r in records
        )
    if not records and fmt != "json":
        from ..acting_text import no_note_line

        text = term_safe(listing.one_line(no_note_line(subject.name, language(ctx, None))))
    emit(ctx, text, output)


@cli.command("signals")
@click.option("--lang", type=click.Choice(["fr", "en"]), help="Labels (default: config).")
@record_options
@click.pass_context
def signals_cmd(ctx: click.Context, lang: str | None, fmt: str, output: str) -> None:
    """List the signals rules can use, with how each is computed.

    \b
    Example:
      cmrules signals --format markdown
    """
    from .. import listing

    lang = language(ctx, lang)
    records = listing.signal_records()
    shown = records if fmt == "json" else listing.translated(records, lang, "subject", "type")
    cols = listing.columns(lang, "name", "subject", "type", "window_days", "doc")
    cols[0] = ("name", listing.WORDS[lang]["signal"])
    emit(ctx, listing.render(fmt, shown, cols, wrap_last=True), output)
