"""Helpers shared by the command modules: the session, option bundles, exit codes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from .. import redact
from .app import EXIT_FINDINGS


def open_session(ctx: click.Context, **kwargs: Any) -> Any:
    """The session for this command (config, connector, rulebook), closed with the context."""
    from ..service import open_session as open_

    session = open_(ctx.find_root().obj["config"], **kwargs)
    for section in session.config.sections.values():
        if isinstance(section, dict):
            redact.register_section(section)

    def close() -> None:
        if getattr(session.connector, "created", False):
            click.echo(
                f"(created {session.connector.describe()} from the bundled demo data)", err=True
            )
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
