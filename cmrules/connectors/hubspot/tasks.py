"""Data-gap tasks on HubSpot (``tasks: true``): one task per company and gap set, assigned to
the company owner and associated with the company (HUBSPOT_DEFINED type 192).

The core decides which task a record should have (:mod:`cmrules.tasks`: the title, the body
with its ``cmrules-task:<fingerprint>`` marker, or none when no gap is left); this module makes
the portal agree, for a whole write batch at once:

1. one look-up of the companies' tasks — v4 associations companies→tasks, then tasks batch
   read (``hs_task_body``, ``hs_task_status``) — never search, whose index lags behind a
   create; the tasks carrying a marker are cmrules';
2. ONE ``tasks/batch/create`` (100 inputs a call) for the wanted tasks not found, each input
   with a unique ``objectWriteTraceId``; after an ambiguous failure (timeout, 5xx) the tasks
   are looked up again before anything is re-sent;
3. ONE ``tasks/batch/update`` for the open cmrules tasks whose gap set is no longer the
   record's (``hs_task_status`` COMPLETED) and for a wanted task cmrules itself had completed
   (reopened).  A wanted task found completed while the record's history names it was
   completed by a person: it is left alone.

The writer calls this after the notes and before the flags, whose history names the task: a
crash between any two calls leaves the history behind, and the rerun's look-up finds what
was created.  A task refused (a 400 ``VALIDATION_ERROR``: a portal validation rule, an owner
HubSpot no longer knows) fails that company's task only; the writer then stores the history
with the task marked unsynced, so the next run tries again.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cmrules.connector import ConnectorContext
from cmrules.errors import WriteError
from cmrules.http import HttpError
from cmrules.model import Organisation
from cmrules.tasks import TASK_RE, Task
from cmrules.values import to_epoch_ms

from .batchcreate import BatchCreate
from .client import HubSpotClient
from .common import BATCH_WRITE_LIMIT, PROP_OWNER, TASK_TO_COMPANY, chunks, id_key
from .payloads import batch_answer, trace_id
from .streams import HubSpotStreams

log = logging.getLogger("cmrules.connectors.hubspot")

DUE_DAYS = 7  # hs_timestamp (the due date): a week after the task is written
PRIORITY = "MEDIUM"
COMPLETED = "COMPLETED"
NOT_STARTED = "NOT_STARTED"
TASK_PROPERTIES = ["hs_task_body", "hs_task_status"]


@dataclass(frozen=True)
class FoundTask:
    """A cmrules task read back from the portal."""

    id: str
    fingerprint: str
    completed: bool


def task_body(task: Task) -> str:
    """The task body as HTML (HubSpot's rich text): one paragraph per line, escaped; the
    last line is the ``cmrules-task:<fingerprint>`` marker."""
    return "".join(f"<p>{html.escape(line)}</p>" for line in task.body.splitlines() if line)


def task_input(subject: Organisation, task: Task, now: datetime) -> dict[str, Any]:
    """One task's create input: subject, body, due date, status, priority, the company owner
    (when the company has one) and the association to the company."""
    props = {
        "hs_timestamp": to_epoch_ms(now + timedelta(days=DUE_DAYS)),
        "hs_task_subject": task.title,
        "hs_task_body": task_body(task),
        "hs_task_status": NOT_STARTED,
        "hs_task_priority": PRIORITY,
        "hs_task_type": "TODO",
    }
    owner = subject.properties.get(PROP_OWNER)
    if owner:
        props[PROP_OWNER] = owner
    return {
        "properties": props,
        "associations": [
            {
                "to": {"id": subject.id},
                "types": [
                    {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": TASK_TO_COMPANY}
                ],
            }
        ],
    }


class HubSpotTasks:
    """Create, complete and reopen the data-gap tasks of a write batch (see the module)."""

    def __init__(
        self,
        client: HubSpotClient,
        streams: HubSpotStreams,
        context: ConnectorContext,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.client = client
        self.streams = streams
        self.context = context
        self.now = now
        #: names of the companies whose task was created without an assignee (no owner)
        self.unassigned: list[str] = []

    def find(self, company_ids: Iterable[str]) -> dict[str, list[FoundTask]]:
        """company id -> the cmrules tasks associated with it (any status)."""
        ids = list(dict.fromkeys(company_ids))
        assoc = self.streams.associations("companies", "tasks", ids)
        task_ids = sorted({t.id for c in ids for t in assoc.get(c, [])}, key=id_key)
        props = (
            self.streams.batch_read("tasks", task_ids, TASK_PROPERTIES, quiet=True)
            if task_ids
            else {}
        )
        found: dict[str, list[FoundTask]] = {}
        for company in ids:
            for target in assoc.get(company, []):
                p = props.get(target.id) or {}
                markers = TASK_RE.findall(p.get("hs_task_body") or "")
                if markers:
                    done = str(p.get("hs_task_status") or "").upper() == COMPLETED
                    found.setdefault(company, []).append(FoundTask(target.id, markers[-1], done))
        return found

    def sync(self, items: Sequence[tuple[Organisation, Task | None]]) -> dict[str, WriteError]:
        """Make each company's cmrules tasks agree with its wanted task (None: no gap left).
        One item per company.  Returns company id -> error for the companies whose task
        could not be written; the others are done."""
        errors: dict[str, WriteError] = {}
        try:
            found = self.find(s.id for s, _ in items)
        except HttpError as exc:
            return {
                s.id: WriteError(f"reading the tasks of company {s.id}: {exc}") for s, _ in items
            }
        creates: list[tuple[Organisation, Task]] = []
        updates: dict[str, tuple[Organisation, dict[str, str]]] = {}  # task id -> change
        for subject, task in items:
            want = task.fingerprint if task is not None else None
            mine = found.get(subject.id, [])
            for t in mine:
                if not t.completed and t.fingerprint != want:
                    updates[t.id] = (subject, {"hs_task_status": COMPLETED})
            if task is None:
                continue
            same = [t for t in mine if t.fingerprint == want]
            if not same:
                creates.append((subject, task))
            elif all(t.completed for t in same) and not task.recorded:
                # cmrules completed it when these gaps were filled; they are back
                due = to_epoch_ms(self.now() + timedelta(days=DUE_DAYS))
                updates[same[0].id] = (
                    subject,
                    {"hs_task_status": NOT_STARTED, "hs_timestamp": due},
                )
        if creates:
            self._create(creates, errors)
        if updates:
            self._update(updates, errors)
        return errors

    # -- create ----------------------------------------------------------------------------
    def _landed(self, pending: Mapping[str, tuple[Organisation, Task]]) -> set[str]:
        """Trace ids of ``pending`` whose task is now in the portal (a look-up)."""
        found = self.find(s.id for s, _ in pending.values())
        return {
            trace
            for trace, (s, t) in pending.items()
            if any(f.fingerprint == t.fingerprint for f in found.get(s.id, []))
        }

    def _create(
        self, creates: list[tuple[Organisation, Task]], errors: dict[str, WriteError]
    ) -> None:
        for chunk in chunks(creates, BATCH_WRITE_LIMIT):
            self._create_batch({trace_id("task", s.id): (s, t) for s, t in chunk}, errors)

    def _create_batch(
        self, pending: dict[str, tuple[Organisation, Task]], errors: dict[str, WriteError]
    ) -> bool:
        """One ``tasks/batch/create`` (see :mod:`.batchcreate`); True when all were created."""

        def inputs(todo: Mapping[str, tuple[Organisation, Task]]) -> list[dict[str, Any]]:
            now = self.now()
            return [task_input(s, t, now) for s, t in todo.values()]

        out = BatchCreate(
            client=self.client,
            object_type="tasks",
            noun="task",
            inputs=inputs,
            landed=self._landed,
            record_id=lambda item: item[0].id,
            alone=lambda trace, item: self._create_batch({trace: item}, errors),
        ).run(pending)
        self._created([pending[t] for t in pending if t in out.created])
        for trace, reason in out.failed.items():
            subject = pending[trace][0]
            errors[subject.id] = self._error(subject, "creating", reason)
        return not out.failed and len(out.created | out.alone) == len(pending)

    def _created(self, items: Sequence[tuple[Organisation, Task]]) -> None:
        self.context.count("tasks_created", len(items))
        for subject, _ in items:
            if not subject.properties.get(PROP_OWNER):
                self.unassigned.append(subject.name)

    # -- update ----------------------------------------------------------------------------
    def _update(
        self, updates: dict[str, tuple[Organisation, dict[str, str]]], errors: dict[str, WriteError]
    ) -> None:
        """Complete / reopen tasks, 100 per ``tasks/batch/update`` (idempotent: plain retries)."""
        for chunk in chunks(list(updates.items()), BATCH_WRITE_LIMIT):
            pending = {
                trace_id("task-update", task_id): (task_id, s, p) for task_id, (s, p) in chunk
            }
            payload = {
                "inputs": [
                    {"id": task_id, "properties": props, "objectWriteTraceId": trace}
                    for trace, (task_id, _, props) in pending.items()
                ]
            }
            try:
                answer = self.client.request(
                    "POST",
                    self.client.api.objects_path("tasks", "/batch/update"),
                    json_body=payload,
                )
            except HttpError as exc:
                if exc.status == 400 and len(pending) > 1:  # refused as a whole: one by one
                    for task_id, (s, p) in chunk:
                        self._update({task_id: (s, p)}, errors)
                    continue
                for _, s, _ in pending.values():
                    errors[s.id] = self._error(s, "updating", str(exc))
                continue
            ids = {trace: task_id for trace, (task_id, _, _) in pending.items()}
            done, failed = batch_answer(
                answer, pending, self.client.last_correlation_id, "tasks batch update", True, ids
            )
            for trace, (_, subject, props) in pending.items():
                if trace in done:
                    key = (
                        "tasks_completed"
                        if props["hs_task_status"] == COMPLETED
                        else "tasks_reopened"
                    )
                    self.context.count(key)
                else:
                    reason = failed.get(trace, "HubSpot did not confirm the update; rerun to retry")
                    errors[subject.id] = self._error(subject, "updating", reason)

    @staticmethod
    def _error(subject: Organisation, doing: str, reason: str) -> WriteError:
        return WriteError(
            f"{doing} the cmrules data-gap task of company {subject.id} ({subject.name}): "
            f"{reason}; the note and flags were written, the task is retried at the next run"
        )

    def summary(self) -> list[str]:
        """Run-summary lines: the tasks created without an assignee (companies without owner)."""
        if not self.unassigned:
            return []
        n = len(self.unassigned)
        names = ", ".join(self.unassigned[:10]) + (f" and {n - 10} more" if n > 10 else "")
        what = "1 data-gap task was" if n == 1 else f"{n} data-gap tasks were"
        return [
            f"HubSpot: {what} created without an assignee, the company having no owner "
            f"(hubspot_owner_id): {names}; set an owner on the company to have its next task "
            "assigned"
        ]
