"""The ``cmrules`` command line: thin commands over the library.

Layout: :mod:`.app` holds the group and the safety net (every failure → one ``Error:`` line
and an exit code), :mod:`.common` the helpers commands share, and each other module one
command or command group.  A new command is a new module here that decorates with
``@cli.command()`` (from :mod:`.app`), or ``@rules.command()`` (from :mod:`.rules`), plus one
import line below.

Exit codes: 0 ok · 1 a finding reached ``--fail-on`` · 2 usage, config or rule-file error ·
3 connector or auth error · 4 partial failure (some records could not be written) ·
5 API quota exhausted (e.g. HubSpot DAILY; rerun later, the run is resumable) ·
6 another sync holds the lock · 70 unexpected failure (a bug: the traceback is saved in
``error.log`` in the state directory) · 130 interrupted.
"""

from __future__ import annotations

# Command modules register themselves on import; one line each, sorted.
from . import acting as acting
from . import crm as crm
from . import evaluate as evaluate
from . import explain as explain
from . import impact as impact
from . import local as local
from . import records as records
from . import replay as replay
from . import report as report
from . import rules as rules
from . import ruletest as ruletest
from . import zendesk as zendesk
from .app import EXIT_INTERNAL, add_common_options, cli, main

add_common_options(cli)  # -v, -q, --color also after the subcommand, on every command

__all__ = ["EXIT_INTERNAL", "cli", "main"]
