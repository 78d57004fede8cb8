"""Data gaps as tasks for the record owner (opt-in: ``tasks: true`` in the config).

One task per record and gap set: "fill in executive sponsor, KPIs agreed, crisis procedure so 3
more points can be assessed".  Its fingerprint (a hash of the record and the gap set) is carried
in the task's body footer (``cmrules-task:<fingerprint>``) so a connector recognises a task it
already created (crash safety, like notes), and in the record's history, so an unchanged rerun
makes no call.  When the gaps change or are filled, the connector completes the old task (and
creates the new one, if gaps remain).  Connectors that support tasks set
``Connector.supports_tasks`` and implement :meth:`cmrules.connector.Connector.sync_task`.

A task write that fails (e.g. HubSpot refusing it with a 400) fails that record's task only: the
note and flags are still written, with the history's task set to :data:`UNSYNCED`
(``RenderedNote.unsynced_history``), so the next run sees a change and syncs the task again.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from . import text as tx
from .errors import ConfigError

TASK_PREFIX = "cmrules-task:"
#: the marker in a task body; group 1 is the fingerprint
TASK_RE = re.compile(re.escape(TASK_PREFIX) + r"([A-Za-z0-9]+)")
#: the history's task when the last task write failed: never a fingerprint, so the next run
#: differs from the stored history and syncs the task again
UNSYNCED = "unsynced"

_WORDS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Compléter la fiche {name} pour cmrules",
        "body": "Pour évaluer {n} {points} de plus, renseignez : {fields}.",
    },
    "en": {
        "title": "Complete {name} for cmrules",
        "body": "To assess {n} more {points}, fill in: {fields}.",
    },
}


@dataclass(frozen=True)
class Task:
    """A data-gap task for a record's owner, in the record's language, recognisable by its
    fingerprint."""

    subject_id: str
    fingerprint: str
    title: str
    body: str  # plain text, ends with the ``cmrules-task:<fingerprint>`` footer
    gaps: tuple[str, ...]
    language: str
    #: the record's stored history already names this task: cmrules created it and has not
    #: completed it since (a copy found completed was then completed by a person)
    recorded: bool = False


def task_fingerprint(subject_id: str, gaps: tuple[str, ...]) -> str:
    """Same record and same gaps, same fingerprint: the task is created once and completed when
    the gaps change."""
    raw = subject_id + "|" + "|".join(sorted(gaps))
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def build(
    subject_id: str,
    name: str,
    points: int,
    gaps: tuple[str, ...],
    language: str,
    previous: str = "",
) -> Task | None:
    """The task for a record's gap set (``gaps`` in the note's language), or None.
    ``previous``: the task fingerprint the record's stored history names."""
    if not gaps or not points:
        return None
    w = _WORDS[language]
    fp = task_fingerprint(subject_id, gaps)
    body = tx.typography(w["body"], language).format(
        n=tx.number(points, language),
        points=tx.plural(points, "point", "points", language),
        fields=tx.join(list(gaps), language),
    )
    title = tx.typography(w["title"], language).format(name=name)
    footer = f"{TASK_PREFIX}{fp}"
    return Task(subject_id, fp, title, f"{body}\n{footer}", gaps, language, previous == fp)


def require_support(enabled: bool, connector: Any, where: str) -> None:
    """``tasks: true`` with a source that creates no tasks is a config error (one line)."""
    if enabled and not getattr(connector, "supports_tasks", False):
        raise ConfigError(
            f"{where}: tasks: true, but the {connector.name} connector does not create "
            "data-gap tasks; remove 'tasks' from the config, or use a source that does "
            "(hubspot, local)"
        )
