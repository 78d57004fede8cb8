"""Helpers shared by the command modules: the session, option bundles, exit codes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

import click

from .. import redact
from .app import EXIT_FINDINGS, settings, use_color


def open_session(ctx: click.Context, **kwargs: Any) -> Any:
    """The session for this command (config, connector, rulebook), closed with the context."""
    from ..service import open_session as open_

    session = open_(ctx.find_root().obj["config"], **kwargs)
    for section in session.config.sections.values():
        if isinstance(section, dict):
            redact.register_section(section)

    def close() -> None:
        if getattr(session.connector, "created", False):
            notice(ctx, f"(created {session.connector.describe()} from the bundled demo data)")
        session.close()

    ctx.call_on_close(close)
    return session


def load_rulesets(ctx: click.Context, paths: tuple[str, ...] = (), lint: bool = False) -> Any:
    """The config's rules (or those of ``paths``) per profile; profiles are checked too.

    ``lint``: also create every rule in the engine, and check ``paths`` against the built-in
    ids when the config loads the built-in rules.
    """
    from .. import config as config_mod
    from .. import rulebook
    from ..profiles import RuleSets

    cfg = config_mod.load(config_mod.find_config(ctx.find_root().obj["config"]))
    check = None
    files: list[Any] = list(paths) or cfg.rule_paths()
    if lint:
        from ..engine import rule_problems

        check = rule_problems
        if paths and cfg.builtin_rules:
            files = [rulebook.builtin_rules_dir(), *paths]
    return RuleSets(
        rulebook.load(files, check=check).rules,
        params=cfg.params,
        disabled=cfg.disabled,
        profiles=cfg.profiles,
        config_name=cfg.name,
    )


def load_rulebook(ctx: click.Context, paths: tuple[str, ...] = (), lint: bool = False) -> Any:
    """The rulebook of the config (or of ``paths``), with the config's params and disables."""
    return load_rulesets(ctx, paths, lint).rulebook()


def fail_on_exit(report: Any, fail_on: str | None) -> int:
    """Exit code 1 when a fired finding reaches the ``--fail-on`` severity, else 0."""
    from ..rulebook import SEVERITY_RANK  # lazily: --help and --version stay fast

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


def term(text: str) -> str:
    """CRM text bound for the terminal."""
    return redact.term_safe(text)


def record_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--format table|json|markdown`` and ``--output FILE`` for commands that print
    records (JSON key sets are fixed and documented in the README)."""
    func = click.option(
        "--output",
        "-o",
        metavar="FILE",
        default="-",
        help="Write the result to FILE instead of standard output ('-').",
    )(func)
    func = click.option(
        "--format",
        "fmt",
        type=click.Choice(["table", "json", "markdown"]),
        default="table",
        show_default=True,
        help="table for people, json for scripts, markdown for tickets and wikis.",
    )(func)
    return func


def emit(ctx: click.Context, text: str, output: str = "-") -> None:
    """The command's result: to standard output, or to ``output`` (created 0600: it may
    hold CRM data)."""
    import os

    if output in ("-", ""):
        # click drops colour codes when stdout is not a terminal, unless colour was asked for
        click.echo(text, color=True if use_color(ctx) else None)
        return
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text if text.endswith("\n") else text + "\n")
    except OSError as exc:
        from ..errors import UsageError

        raise UsageError(f"cannot write {output}: {exc.strerror}; check the path") from None
    notice(ctx, f"wrote {output}")


def notice(ctx: click.Context, text: str) -> None:
    """An informational line on stderr, silenced by -q."""
    if not settings(ctx).get("quiet"):
        click.echo(text, err=True)


def colored(ctx: click.Context, output: str = "-") -> bool:
    """Whether to colour severities: output to the terminal (not a file) and colour allowed."""
    return output in ("-", "") and use_color(ctx)


def language(ctx: click.Context, lang: str | None) -> str:
    """``--lang``, else the config's language (one default everywhere)."""
    if lang:
        return lang
    from .. import config as config_mod

    return config_mod.load(config_mod.find_config(settings(ctx).get("config"))).language


@contextmanager
def progress(ctx: click.Context, language: str) -> Iterator[Any]:
    """An ``on_progress`` callback drawing a status line on standard error when it is a terminal
    and ``--quiet`` was not given, else ``None``; the line is erased however the block ends."""
    import sys

    from ..progress import StatusLine, wanted

    if not wanted(sys.stderr, bool(settings(ctx).get("quiet"))):
        yield None
        return
    with StatusLine(sys.stderr, language) as line:
        yield line


def beside(on_progress: Any, write: Callable[[str], None], output: str) -> Callable[[str], None]:
    """``write`` to the result's sink, made to erase the status line first when both share a
    terminal (results on standard output, and standard output a terminal)."""
    import sys

    if on_progress is None or output not in ("-", "") or not sys.stdout.isatty():
        return write
    return cast(Callable[[str], None], on_progress.output(write))


@contextmanager
def sink(ctx: click.Context, output: str = "-") -> Iterator[Callable[[str], None]]:
    """Where a streamed result goes: standard output, or ``output`` (created 0600)."""
    import os

    if output in ("-", ""):
        color = True if use_color(ctx) else None
        yield lambda text: click.echo(text, nl=False, color=color)
        return
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        from ..errors import UsageError

        raise UsageError(f"cannot write {output}: {exc.strerror}; check the path") from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:

        def write(text: str) -> None:
            fh.write(text)

        yield write
    notice(ctx, f"wrote {output}")
