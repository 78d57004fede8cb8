"""The ``cmrules`` command line: thin commands over :mod:`cmrules.service`.

Exit codes: 0 ok · 1 a finding reached ``--fail-on`` · 2 usage, config or rule-file error ·
3 connector or auth error · 4 partial failure (some records could not be written) ·
5 API quota exhausted (e.g. HubSpot DAILY; rerun later, the run is resumable) ·
6 another sync holds the lock.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from typing import Any

import click

from . import __version__
from .errors import CmrulesError
from .rulebook import SEVERITY_RANK

EXIT_FINDINGS = 1
EXIT_PARTIAL = 4
_SECRET_KEYS = ("token", "password", "secret", "api_key", "oauth_token")


class _Redact(logging.Filter):
    """Last line of defence: blank out every configured secret in log records."""

    def __init__(self, secrets: list[str]):
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            text = record.getMessage()
            for s in self.secrets:
                text = text.replace(s, "***")
            record.msg, record.args = text, None
        return True


class CmrulesGroup(click.Group):
    """Turns library errors into one ``Error: …`` line and an exit code — no traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CmrulesError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("Interrupted; rerun to resume (writes are idempotent).", err=True)
            ctx.exit(130)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at emit time (safe under test runners)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.setLevel(level)  # the handler filters, so other handlers (tests) still see all
    logger = logging.getLogger("cmrules")
    logger.handlers[:] = [h for h in logger.handlers if not isinstance(h, _StderrHandler)]
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def _register_secrets(session: Any) -> None:
    import os

    secrets = []
    for section in session.config.sections.values():
        for key, value in section.items():
            if any(k in key for k in _SECRET_KEYS) and isinstance(value, str):
                secrets.append(value)
    # connectors may also read their credentials straight from the environment
    for name, value in os.environ.items():
        if any(k.upper() in name for k in _SECRET_KEYS) and value:
            secrets.append(value)
    flt = _Redact(secrets)
    for name in ("cmrules", "urllib3", "requests"):
        logger = logging.getLogger(name)
        logger.filters[:] = [f for f in logger.filters if not isinstance(f, _Redact)]
        logger.addFilter(flt)
    for handler in logging.getLogger("cmrules").handlers:
        handler.filters[:] = [flt]


def _session(ctx: click.Context, **kwargs: Any) -> Any:
    from .service import open_session

    session = open_session(ctx.find_root().obj["config"], **kwargs)
    _register_secrets(session)

    def close() -> None:
        if getattr(session.connector, "created", False):
            click.echo(
                f"(created {session.connector.describe()} from the bundled demo data)", err=True
            )
        session.close()

    ctx.call_on_close(close)
    return session


def _fail_on_exit(report: Any, fail_on: str | None) -> int:
    if fail_on and report.worst() >= SEVERITY_RANK[fail_on]:
        return EXIT_FINDINGS
    return 0


def output_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by evaluate and sync."""
    func = click.option(
        "--fail-on",
        type=click.Choice(["high", "medium", "low"]),
        help="Exit 1 when a finding reaches this severity.",
    )(func)
    func = click.option(
        "--dry-run", is_flag=True, help="Write nothing; show what would be written."
    )(func)
    func = click.option(
        "--as-of", metavar="DATE", help="Evaluate as of this instant (ISO-8601). Default: now."
    )(func)
    func = click.option(
        "--lang",
        type=click.Choice(["fr", "en"]),
        help="Language of messages and notes (default: config, else fr).",
    )(func)
    return func


@click.group(cls=CmrulesGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="cmrules")
@click.option(
    "--config",
    "config",
    metavar="PATH",
    envvar="CMRULES_CONFIG",
    help="Config file (default: $CMRULES_CONFIG, else ./cmrules.yaml, else the embedded demo).",
)
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug). No secrets.")
@click.pass_context
def cli(ctx: click.Context, config: str | None, verbose: int) -> None:
    """Flag the risks of outsourcing community management, from CRM and helpdesk data.

    \b
    Example:
      cmrules evaluate --vendor "Agence Hashtag"
    """
    _setup_logging(verbose)
    ctx.ensure_object(dict)
    ctx.obj["config"] = config


@cli.command()
@click.option("--vendor", metavar="NAME|ID", help="Vendor to evaluate, with its clients.")
@click.option("--company", metavar="NAME|ID", help="One client company to evaluate.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "markdown"]),
    default="table",
    show_default=True,
)
@click.option("--no-write", is_flag=True, help="Evaluate only; do not write notes back.")
@output_options
@click.pass_context
def evaluate(
    ctx: click.Context,
    vendor: str | None,
    company: str | None,
    fmt: str,
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
    from . import output
    from .service import evaluate as run
    from .service import parse_as_of

    if not vendor and not company:
        raise click.UsageError("give --vendor NAME|ID or --company NAME|ID")
    moment = parse_as_of(as_of)
    session = _session(ctx)
    report = run(
        session,
        vendor=vendor,
        company=company,
        as_of=moment,
        language=lang,
        dry_run=dry_run,
        write=not no_write,
    )
    if fmt == "json":
        click.echo(output.to_json(report))
    elif fmt == "markdown":
        click.echo(output.to_markdown(report))
    else:
        click.echo(output.to_table(report))
        if dry_run:
            notes = output.dry_run_notes(report)
            if notes:
                click.echo("\n" + notes)
    code = _fail_on_exit(report, fail_on or session.config.fail_on)
    if report.count("failed"):
        code = EXIT_PARTIAL
    ctx.exit(code)


@cli.command()
@click.option("--full", is_flag=True, help="Ignore the watermark: evaluate everything.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.option("--state", "state_path", metavar="PATH", help="State file (default: config).")
@output_options
@click.pass_context
def sync(
    ctx: click.Context,
    full: bool,
    as_json: bool,
    state_path: str | None,
    lang: str | None,
    as_of: str | None,
    dry_run: bool,
    fail_on: str | None,
) -> None:
    """Nightly job: evaluate everything changed since the last successful run.

    \b
    Example (cron, 02:30 every night):
      30 2 * * * cmrules --config /etc/cmrules.yaml sync --json >> /var/log/cmrules.jsonl
    """
    from pathlib import Path

    from .service import parse_as_of
    from .service import sync as run

    session = _session(ctx)
    if lang:
        session.config.language = lang
    moment = parse_as_of(as_of) if as_of else None
    bar: dict[str, Any] = {}
    show = not as_json and sys.stderr.isatty()

    def start(n: int) -> None:
        if show and n:
            bar["b"] = click.progressbar(length=n, label="writing back", file=sys.stderr)
            bar["b"].__enter__()

    def step(_: Any) -> None:
        if "b" in bar:
            bar["b"].update(1)

    try:
        report = run(
            session,
            full=full,
            dry_run=dry_run,
            as_of=moment,
            state_path=Path(state_path) if state_path else None,
            on_start=start,
            on_progress=step,
        )
    finally:
        if "b" in bar:
            bar["b"].__exit__(None, None, None)
    summary = report.summary()
    if as_json:
        click.echo(json.dumps(summary, indent=2, sort_keys=True, default=str))
    else:
        from .output import _summary_line

        click.echo(_summary_line(summary, report.language))
        for w in report.warnings:
            click.echo(f"! {w}", err=True)
    code = _fail_on_exit(report, fail_on or session.config.fail_on)
    if summary["failed"]:
        code = EXIT_PARTIAL
    ctx.exit(code)


@cli.command()
@click.pass_context
def vendors(ctx: click.Context) -> None:
    """List the vendors the source knows (id and name).

    \b
    Example:
      cmrules vendors
    """
    from .model import OrgKind

    session = _session(ctx)
    for org in session.connector.find_organisations("", OrgKind.VENDOR):
        if org.kind == OrgKind.VENDOR:
            click.echo(_term(f"{org.id}\t{org.name}"))


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
    from .model import OrgKind
    from .service import list_notes

    if bool(vendor) == bool(company):
        raise click.UsageError("give exactly one of --vendor or --company")
    session = _session(ctx)
    kind = OrgKind.VENDOR if vendor else OrgKind.COMPANY
    subject, stored = list_notes(session, vendor or company or "", kind)
    if not stored:
        click.echo(_term(f"no cmrules note on {subject.name} yet"))
    for n in stored:
        click.echo(f"--- note {n.id} · {n.created_at.isoformat()} · {n.fingerprint}")
        click.echo(_term(n.body))


@cli.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Validate the config and the credentials with one cheap call per source.

    \b
    Example:
      HUBSPOT_TOKEN=pat-... cmrules --config cmrules.yaml check
    """
    session = _session(ctx)
    click.echo(f"config: {session.config.name} OK; {len(session.rulebook)} rules loaded")
    for line in session.connector.check():
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
    session = _session(ctx)
    conn = session.connector
    conn.rule_ids = [r.id for r in session.rulebook]  # type: ignore[attr-defined]
    for line in conn.setup(dry_run=dry_run):
        click.echo(line)


@cli.command("signals")
def signals_cmd() -> None:
    """List the signals rules can use, with how each is computed.

    \b
    Example:
      cmrules signals
    """
    from .signals import REGISTRY

    for spec in REGISTRY.values():
        click.echo(f"{spec.name} ({spec.subject}, {spec.type})")
        click.echo(f"    {spec.doc}")


# -- rules ------------------------------------------------------------------------------------
@cli.group()
def rules() -> None:
    """Inspect, lint and document the rules."""


def _rulebook(ctx: click.Context, paths: tuple[str, ...] = ()) -> Any:
    from . import config as config_mod
    from . import rulebook

    cfg = config_mod.load(config_mod.find_config(ctx.find_root().obj["config"]))
    return rulebook.load(
        list(paths) or cfg.rule_paths(),
        params=cfg.params,
        disabled=cfg.disabled,
        config_name=cfg.name,
    )


@rules.command("list")
@click.option("--lang", type=click.Choice(["fr", "en"]), default="en", show_default=True)
@click.pass_context
def rules_list(ctx: click.Context, lang: str) -> None:
    """One line per rule: id, severity, side, name, question.

    \b
    Example:
      cmrules rules list --lang fr
    """
    for r in _rulebook(ctx):
        click.echo(f"{r.id}  {r.severity:<6}  {r.side:<7}  {r.name:<32}  {r.question[lang]}")


@rules.command("show")
@click.argument("rule_id")
@click.pass_context
def rules_show(ctx: click.Context, rule_id: str) -> None:
    """Everything about one rule, in both languages.

    \b
    Example:
      cmrules rules show CMR001
    """
    from .errors import UsageError

    rb = _rulebook(ctx)
    rule = rb.get(rule_id.upper())
    if rule is None:
        import difflib

        close = difflib.get_close_matches(rule_id.upper(), [r.id for r in rb], n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UsageError(f"no rule {rule_id!r}.{hint} 'cmrules rules list' lists them.")
    click.echo(
        f"{rule.id} — {rule.name}  [{rule.severity}, {rule.side} side, subject "
        f"{rule.subject}, criterion {rule.criterion}]"
    )
    click.echo(f"source: {rule.source}")
    for lang in ("fr", "en"):
        click.echo(f"\n[{lang}] {rule.question[lang]}")
        click.echo(f"  message: {rule.message[lang]}")
        click.echo(f"  advice:  {rule.advice[lang]}")
    click.echo(f"\nsignals: {', '.join(rule.signals)}")
    click.echo(f"params: {json.dumps(dict(rule.params)) if rule.params else 'none'}")


@rules.command("lint")
@click.argument("paths", nargs=-1, type=click.Path())
@click.pass_context
def rules_lint(ctx: click.Context, paths: tuple[str, ...]) -> None:
    """Validate rule files; print every problem as file:line: rule-id: message (exit 2).

    \b
    Example:
      cmrules rules lint my-rules/
    """
    rb = _rulebook(ctx, paths)
    click.echo(f"{len(rb)} rules OK")


@rules.command("docs")
@click.option("--lang", type=click.Choice(["fr", "en"]), default="en", show_default=True)
@click.pass_context
def rules_docs(ctx: click.Context, lang: str) -> None:
    """Print the rule and signal catalogue as Markdown, generated from the rule files.

    \b
    Example:
      cmrules rules docs --lang fr > RULES.fr.md
    """
    from .docs import catalogue

    click.echo(catalogue(_rulebook(ctx), lang), nl=False)


@rules.command("schema")
def rules_schema() -> None:
    """Print the JSON Schema of rule files (for editor completion).

    \b
    Example:
      cmrules rules schema > rule-file.schema.json
    """
    from .rulebook import schema

    click.echo(json.dumps(schema(), indent=2, ensure_ascii=False))


# -- local ------------------------------------------------------------------------------------
@cli.group()
def local() -> None:
    """The embedded local database."""


@local.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.pass_context
def local_import(ctx: click.Context, file: str) -> None:
    """Import organisations, contacts, activities and engagements from YAML or JSON.

    Nothing partial is committed: a bad row stops the import with its file, row and line.

    \b
    Example:
      cmrules local import examples/import-example.yaml
    """
    from .connectors.local import LocalConnector, import_file
    from .errors import ConfigError

    session = _session(ctx)
    conn = session.connector
    if not isinstance(conn, LocalConnector):
        raise ConfigError(
            f"'local import' needs source: local (this config uses {session.config.source})"
        )
    counts = import_file(conn, file)
    click.echo(
        "imported " + ", ".join(f"{n} {k}" for k, n in counts.items()) + f" into {conn.path}"
    )


@local.command("path")
@click.pass_context
def local_path(ctx: click.Context) -> None:
    """Print the local database path (creating it from the demo if needed)."""
    from .connectors.local import LocalConnector

    session = _session(ctx)
    conn = session.connector
    if isinstance(conn, LocalConnector):
        _ = conn.db
        click.echo(str(conn.path))


def _term(text: str) -> str:
    from .output import term_safe

    return term_safe(text)


def main() -> None:
    cli(prog_name="cmrules")
