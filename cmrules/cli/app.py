"""The ``cmrules`` group and its safety net.

Every error ends in one ``Error: …`` line on stderr, redacted and terminal-safe, and an exit
code: cmrules' own errors (:class:`~cmrules.errors.CmrulesError`) carry theirs; anything else
is a bug — its traceback is saved to ``error.log`` in the state directory, the line names that
file, and the exit code is :data:`EXIT_INTERNAL` (70, ``EX_SOFTWARE``), never 1, which belongs
to ``--fail-on``.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from .. import __version__, redact
from ..errors import CmrulesError, RuleFileError

EXIT_FINDINGS = 1
EXIT_PARTIAL = 4
EXIT_INTERRUPTED = 130
EXIT_INTERNAL = 70
ERROR_LOG = "error.log"


class _Redact(logging.Filter):
    """Blank out every registered secret in log records."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        clean = redact.redact(text)
        if clean != text:
            record.msg, record.args = clean, None
        return True


_REDACT = _Redact()


def error_line(message: str, multiline: bool = False) -> None:
    """Print ``Error: message`` to stderr, redacted and terminal-safe."""
    redact.register_env()
    click.echo(f"Error: {redact.error_text(message, multiline)}", err=True)


def save_traceback(exc: BaseException) -> Path | None:
    """Append the (redacted) traceback to the error log; its path, or None if unwritable."""
    from ..paths import private_dir, state_dir

    text = "".join(traceback.format_exception(exc))
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    entry = f"--- {stamp} cmrules {__version__} pid {os.getpid()} argv {sys.argv[1:]!r}\n"
    entry = redact.redact(entry + text)
    try:
        path = private_dir(state_dir()) / ERROR_LOG
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(entry + "\n")
    except OSError:
        return None
    return path


def internal_error(exc: BaseException) -> NoReturn:
    """A bug or an unforeseen failure: one ``Error:`` line naming the saved traceback; exit 70."""
    redact.register_env()
    where = save_traceback(exc)
    saved = (
        f"the traceback is saved in {where}"
        if where
        else "the traceback could not be saved (state directory not writable)"
    )
    what = f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
    error_line(
        f"unexpected failure ({what}); {saved}. "
        "This is a bug in cmrules or a connector: please report it with that file."
    )
    sys.exit(EXIT_INTERNAL)


class CmrulesGroup(click.Group):
    """Turns every failure into one ``Error: …`` line and an exit code — no traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; cmrules' own errors become one ``Error:`` line and their exit code,
        Ctrl-C says how to resume."""
        try:
            return super().invoke(ctx)
        except CmrulesError as exc:
            error_line(str(exc), multiline=isinstance(exc, RuleFileError))
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted; rerun to resume (writes are idempotent).", err=True)
            ctx.exit(EXIT_INTERRUPTED)

    def main(self, args: Sequence[str] | None = None, *a: Any, **kw: Any) -> Any:
        """The CLI's safety net: whatever escapes ``invoke`` (closing the session, option callbacks,
        any unexpected exception) ends in one redacted ``Error:`` line, never a traceback."""
        try:
            return super().main(args, *a, **kw)
        except CmrulesError as exc:
            error_line(str(exc), multiline=isinstance(exc, RuleFileError))
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted; rerun to resume (writes are idempotent).", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except Exception as exc:
            internal_error(exc)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at emit time (safe under test runners)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def setup_logging(verbose: int, quiet: bool = False) -> None:
    """Logging to stderr at the level ``-v``/``-q`` ask for, through secret redaction."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    if quiet and not verbose:
        level = logging.ERROR
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.setLevel(level)  # the handler filters, so other handlers (tests) still see all
    handler.addFilter(_REDACT)
    logger = logging.getLogger("cmrules")
    logger.handlers[:] = [h for h in logger.handlers if not isinstance(h, _StderrHandler)]
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    for name in ("cmrules", "urllib3", "requests"):
        other = logging.getLogger(name)
        other.filters[:] = [f for f in other.filters if not isinstance(f, _Redact)]
        other.addFilter(_REDACT)


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
@click.option("-q", "--quiet", is_flag=True, help="Only results and errors: no notices.")
@click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default=None,
    help="Colour severities: auto (a terminal, unless NO_COLOR is set), always, never.",
)
@click.pass_context
def cli(
    ctx: click.Context, config: str | None, verbose: int, quiet: bool, color: str | None
) -> None:
    """Flag the risks of outsourcing community management, from CRM and helpdesk data.

    \b
    Exit codes: 0 done · 1 a finding reached --fail-on · 2 usage, config or rule-file error ·
    3 connector error · 4 some records not written · 5 API quota exhausted ·
    6 another sync holds the lock · 70 unexpected failure (traceback saved in the state dir).

    \b
    Example:
      cmrules evaluate --vendor "Agence Hashtag"
    """
    ctx.ensure_object(dict)
    ctx.obj.update(config=config, verbose=verbose, quiet=quiet, color=color or "auto")
    setup_logging(verbose, quiet)
    redact.register_env()


# -v/-q/--color are accepted after the subcommand too ("cmrules vendors -v"): every command
# gets them (see add_common_options); they update the root context's settings.
def _more_verbose(ctx: click.Context, _: click.Parameter, value: int) -> None:
    if value:
        root = ctx.find_root().ensure_object(dict)
        root["verbose"] = root.get("verbose", 0) + value
        setup_logging(root["verbose"], root.get("quiet", False))


def _set_quiet(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    if value:
        root = ctx.find_root().ensure_object(dict)
        root["quiet"] = True
        setup_logging(root.get("verbose", 0), True)


def _set_color(ctx: click.Context, _: click.Parameter, value: str | None) -> None:
    if value:
        ctx.find_root().ensure_object(dict)["color"] = value


def common_options() -> list[click.Option]:
    """``-v``, ``-q`` and ``--color``, accepted after the command name as well as before it."""
    return [
        click.Option(
            ["-v", "--verbose"], count=True, expose_value=False, callback=_more_verbose,
            help="More logging (-vv for debug), as before the command.",
        ),
        click.Option(
            ["-q", "--quiet"], is_flag=True, expose_value=False, callback=_set_quiet,
            help="Only results and errors: no notices.",
        ),
        click.Option(
            ["--color"], type=click.Choice(["auto", "always", "never"]), expose_value=False,
            callback=_set_color, help="Colour severities: auto, always or never.",
        ),
    ]  # fmt: skip


def add_common_options(group: click.Group) -> None:
    """Give every command of ``group`` (recursively) -v, -q and --color."""
    for command in group.commands.values():
        names = {n for p in command.params for n in getattr(p, "opts", [])}
        command.params.extend(o for o in common_options() if not set(o.opts) & names)
        if isinstance(command, click.Group):
            add_common_options(command)


def settings(ctx: click.Context) -> dict[str, Any]:
    """The root settings: config path, verbose, quiet, color."""
    return ctx.find_root().ensure_object(dict)


def use_color(ctx: click.Context, stream: Any = None) -> bool:
    """Colour on a terminal unless NO_COLOR is set (https://no-color.org), or as forced."""
    mode = settings(ctx).get("color", "auto")
    if mode != "auto":
        return bool(mode == "always")
    if os.environ.get("NO_COLOR"):
        return False
    stream = stream if stream is not None else sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def main() -> None:
    """The ``cmrules`` console script."""
    cli(prog_name="cmrules")
