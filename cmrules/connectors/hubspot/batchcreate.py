"""One crash-safe ``<object>/batch/create`` loop, shared by the notes (writer.py) and the
data-gap tasks (tasks.py).

Each input carries a unique ``objectWriteTraceId``.  After an ambiguous failure (timeout,
5xx) the client's reconcile hook looks the inputs up before anything is re-sent: those that
landed are confirmed and only the rest is sent again, for at most ``max_retries`` partial
rounds.  A batch refused as a whole (400) is retried one input at a time by the caller's
``alone`` so that one bad record cannot fail the others.  An input the answer neither
confirms nor refuses is looked up rather than guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from cmrules.http import HttpError

from .client import HubSpotClient
from .payloads import batch_answer

T = TypeVar("T")


@dataclass
class Created:
    """What a batch create did, by trace id: ``created`` by the batch call (or found landed),
    ``alone`` created one at a time after a 400, ``failed`` -> the reason (the others failed
    alone and were reported by ``alone``)."""

    created: set[str] = field(default_factory=set)
    alone: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)


@dataclass
class BatchCreate(Generic[T]):
    """How to create one kind of object in batches (see the module)."""

    client: HubSpotClient
    object_type: str  # "notes", "tasks"
    noun: str  # "note", "task": in the reasons
    #: the inputs (without trace id) for the pending items, in their order
    inputs: Callable[[Mapping[str, T]], list[dict[str, Any]]]
    #: trace ids of the given items whose object is now in the portal (a fresh look-up)
    landed: Callable[[Mapping[str, T]], set[str]]
    #: the record id an item belongs to (maps refused inputs back to it)
    record_id: Callable[[T], str]
    #: create one item on its own after a 400 on the whole batch; True when created (a
    #: failure is the callback's to report)
    alone: Callable[[str, T], bool]
    #: called after every attempt with the items it carried (a create may have landed)
    attempted: Callable[[Mapping[str, T]], None] = lambda pending: None

    def run(self, pending: dict[str, T]) -> Created:
        """Create the ``pending`` items (trace id -> item, at most one batch)."""
        out = Created()
        rounds = 0
        where = f"{self.object_type} batch create"
        while pending:
            rounds += 1
            landed: set[str] = set()

            def reconcile(
                todo: Mapping[str, T] = pending, into: set[str] = landed
            ) -> dict[str, Any] | None:
                # the batch may have been applied (wholly or in part) before the failure:
                # look the inputs up again before sending anything twice
                into.update(self.landed(todo))
                return {"reconciled": True} if into else None

            payload = {
                "inputs": [
                    {**one, "objectWriteTraceId": trace}
                    for trace, one in zip(pending, self.inputs(pending), strict=True)
                ]
            }
            try:
                answer = self.client.request(
                    "POST",
                    self.client.api.objects_path(self.object_type, "/batch/create"),
                    json_body=payload,
                    reconcile=reconcile,
                )
            except HttpError as exc:
                if exc.status == 400 and len(pending) > 1:
                    # refused as a whole, nothing written: isolate the bad record(s)
                    out.alone |= {t for t, item in pending.items() if self.alone(t, item)}
                else:
                    out.failed.update(dict.fromkeys(pending, str(exc)))
                return out
            finally:
                self.attempted(pending)
            if isinstance(answer, dict) and answer.get("reconciled"):
                out.created |= landed
                pending = {t: v for t, v in pending.items() if t not in landed}
                if pending and rounds > self.client.policy.max_retries:
                    reason = (
                        f"HubSpot {where} kept failing after {rounds} partial attempts; "
                        "rerun to finish"
                    )
                    out.failed.update(dict.fromkeys(pending, reason))
                    return out
                continue
            ids = {trace: self.record_id(item) for trace, item in pending.items()}
            done, failed = batch_answer(
                answer, pending, self.client.last_correlation_id, where, False, ids
            )
            unsure = {t: v for t, v in pending.items() if t not in done and t not in failed}
            if unsure:  # neither confirmed nor refused: look rather than guess
                seen = self.landed(unsure)
                done |= seen
                failed.update(
                    {t: f"HubSpot did not confirm the {self.noun}" for t in unsure if t not in seen}
                )
            out.created |= done
            out.failed.update({t: failed[t] for t in pending if t not in done})
            return out
        return out
