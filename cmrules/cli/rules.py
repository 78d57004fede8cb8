"""The ``rules`` group: list, show, lint, docs, schema.

Other modules add subcommands with ``from .rules import rules`` and ``@rules.command()``.
"""

from __future__ import annotations

import json

import click

from .app import cli
from .common import colored, emit, language, load_rulebook, record_options


@cli.group()
def rules() -> None:
    """Inspect, lint and document the rules."""


@rules.command("list")
@click.option("--lang", type=click.Choice(["fr", "en"]), help="Language (default: config).")
@record_options
@click.pass_context
def rules_list(ctx: click.Context, lang: str | None, fmt: str, output: str) -> None:
    """One line per rule: id, severity, side, name, question.

    \b
    Example:
      cmrules rules list --lang fr
    """
    from .. import listing

    lang = language(ctx, lang)
    records = listing.rule_records(load_rulebook(ctx), lang)
    shown = records if fmt == "json" else listing.translated(records, lang, "severity", "side")
    cols = listing.columns(lang, "id", "severity", "side", "name", "question")
    text = listing.render(fmt, shown, cols, color=colored(ctx, output), style_key="severity",
                          wrap_last=True)  # fmt: skip
    emit(ctx, text, output)


@rules.command("show")
@click.argument("rule_id")
@record_options
@click.pass_context
def rules_show(ctx: click.Context, rule_id: str, fmt: str, output: str) -> None:
    """Everything about one rule, in both languages.

    \b
    Example:
      cmrules rules show CMR001 --format json
    """
    from .. import listing
    from ..errors import UsageError

    rb = load_rulebook(ctx)
    rule = rb.get(rule_id.strip().upper())
    if rule is None:
        import difflib

        close = difflib.get_close_matches(rule_id.upper(), [r.id for r in rb], n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UsageError(f"no rule {rule_id!r}.{hint} 'cmrules rules list' lists them.")
    record = {
        "id": rule.id, "name": rule.name, "severity": rule.severity, "side": rule.side,
        "subject": rule.subject, "criterion": rule.criterion, "source": rule.source,
        "question": dict(rule.question), "message": dict(rule.message),
        "advice": dict(rule.advice), "signals": list(rule.signals),
        "params": dict(rule.params),
    }  # fmt: skip
    if fmt == "json":
        emit(ctx, listing.to_json(record), output)
        return
    md = fmt == "markdown"
    esc = listing.md_escape if md else (lambda t: t)
    lines = [
        f"{'## ' if md else ''}{rule.id} — {esc(rule.name)}  [{rule.severity}, {rule.side} "
        f"side, subject {rule.subject}, criterion {rule.criterion}]",
        f"source: {esc(rule.source)}",
    ]
    for lang in ("fr", "en"):
        lines.append(f"\n{'### ' if md else ''}[{lang}] {esc(rule.question[lang])}")
        lines.append(f"{'- ' if md else '  '}message: {esc(rule.message[lang])}")
        lines.append(f"{'- ' if md else '  '}advice:  {esc(rule.advice[lang])}")
    lines.append(f"\nsignals: {esc(', '.join(rule.signals))}")
    lines.append(f"params: {json.dumps(dict(rule.params)) if rule.params else 'none'}")
    emit(ctx, "\n".join(lines), output)


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
@click.option("--lang", type=click.Choice(["fr", "en"]), help="Language (default: config).")
@click.pass_context
def rules_docs(ctx: click.Context, lang: str | None) -> None:
    """Print the rule and signal catalogue as Markdown, generated from the rule files.

    \b
    Example:
      cmrules rules docs --lang fr > RULES.fr.md
    """
    from ..docs import catalogue

    click.echo(catalogue(load_rulebook(ctx), language(ctx, lang)), nl=False)


@rules.command("schema")
def rules_schema() -> None:
    """Print the JSON Schema of rule files (for editor completion).

    \b
    Example:
      cmrules rules schema > rule-file.schema.json
    """
    from ..rulebook import schema

    click.echo(json.dumps(schema(), indent=2, ensure_ascii=False))
