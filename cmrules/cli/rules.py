"""The ``rules`` group: list, show, lint, docs, schema.

Other modules add subcommands with ``from .rules import rules`` and ``@rules.command()``.
"""

from __future__ import annotations

import json

import click

from .app import cli
from .common import load_rulebook


@cli.group()
def rules() -> None:
    """Inspect, lint and document the rules."""


@rules.command("list")
@click.option("--lang", type=click.Choice(["fr", "en"]), default="en", show_default=True)
@click.pass_context
def rules_list(ctx: click.Context, lang: str) -> None:
    """One line per rule: id, severity, side, name, question.

    \b
    Example:
      cmrules rules list --lang fr
    """
    for r in load_rulebook(ctx):
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
    from ..errors import UsageError

    rb = load_rulebook(ctx)
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
    """Validate rule files as evaluate would; print every problem as file:line: id: message.

    Checks the schema, signals, parameters, placeholders, duplicate ids (also against the
    built-in rules), and creates every rule in the rules engine. Exit 2 on any problem.

    \b
    Example:
      cmrules rules lint my-rules/
    """
    from ..rulebook import builtin_rules_dir

    rb = load_rulebook(ctx, paths, lint=True)
    builtin = str(builtin_rules_dir())
    mine = [r for r in rb if not paths or not r.source.startswith(builtin)]
    extra = f" (no id clash with the {len(rb) - len(mine)} built-in rules)" if paths else ""
    click.echo(f"{len(mine)} rules OK{extra}")


@rules.command("docs")
@click.option("--lang", type=click.Choice(["fr", "en"]), default="en", show_default=True)
@click.pass_context
def rules_docs(ctx: click.Context, lang: str) -> None:
    """Print the rule and signal catalogue as Markdown, generated from the rule files.

    \b
    Example:
      cmrules rules docs --lang fr > RULES.fr.md
    """
    from ..docs import catalogue

    click.echo(catalogue(load_rulebook(ctx), lang), nl=False)


@rules.command("schema")
def rules_schema() -> None:
    """Print the JSON Schema of rule files (for editor completion).

    \b
    Example:
      cmrules rules schema > rule-file.schema.json
    """
    from ..rulebook import schema

    click.echo(json.dumps(schema(), indent=2, ensure_ascii=False))
