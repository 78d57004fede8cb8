"""Write-back to HubSpot: one note per changed company and the ``cmrules_*`` flag properties.

The crash-safe protocol: a record's note is written (or found) before its flags, and the
fingerprint property lands with the flags, last.  A crash at any point leaves a record whose
fingerprint is not stored yet; the rerun finds its note by the ``cmrules:<fingerprint>``
footer (v4 associations + notes batch read, never the lagging search index) and only writes
the flags.  Batches of 100 use ``notes/batch/create`` then ``companies/batch/update``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from cmrules.connector import ApplyOutcome, ConnectorContext, Flags, RenderedNote, StoredNote
from cmrules.errors import WriteError
from cmrules.http import HttpError
from cmrules.model import Organisation
from cmrules.values import parse_datetime

from .batchcreate import BatchCreate
from .client import HubSpotClient
from .common import (
    BATCH_WRITE_LIMIT,
    FOOTER_RE,
    RISK_LEVELS,
    NoteIndex,
    chunks,
    id_key,
    str_id,
)
from .payloads import (
    batch_answer,
    flag_properties,
    note_input,
    risk_error,
    setup_hint,
    trace_id,
)
from .streams import HubSpotStreams
from .tasks import HubSpotTasks

log = logging.getLogger("cmrules.connectors.hubspot")


class HubSpotWriter:
    """Notes and flags for one run; remembers which companies' notes it may read from cache."""

    def __init__(
        self,
        client: HubSpotClient,
        streams: HubSpotStreams,
        context: ConnectorContext,
        loaded_orgs: set[str],
        note_index: NoteIndex,
    ):
        self.client = client
        self.streams = streams
        self.context = context
        #: organisations the reader returned (their note associations can be read in one go)
        self.loaded_orgs = loaded_orgs
        #: fingerprints on the notes the reader read as activities (no need to read them again)
        self.note_index = note_index
        self._note_ids: dict[str, list[str]] = {}  # company -> note ids, fetched lazily
        self.tasks = HubSpotTasks(client, streams, context)  # data-gap tasks (tasks: true)

    def _forget(self, company: str) -> None:
        """A note may have been written on ``company``: read its notes fresh from now on."""
        self._note_ids.pop(company, None)
        self.loaded_orgs.discard(company)
        self.note_index.forget(company)

    def _companies_notes(
        self, company_ids: Iterable[str], fresh: bool = True
    ) -> dict[str, dict[str, dict[str, Any]]]:
        """company id -> {note id -> properties} for the notes attached to each company
        (v4 associations + notes batch read: never search, it lags).

        ``fresh=False`` may use the note associations of every company ``load`` returned,
        fetched in one batched read the first time a note is looked up in this run.  That is
        safe because only cmrules writes fingerprinted notes, one run at a time (run lock), and
        this instance re-reads (``fresh=True``) whenever it may itself have written one.
        Companies not served from that cache cost one association read for all of them.
        """
        wanted = list(dict.fromkeys(company_ids))
        note_ids: dict[str, list[str]] = {}
        cached = [c for c in wanted if not fresh and c in self.loaded_orgs]
        if cached and any(c not in self._note_ids for c in cached):
            todo = [
                o
                for o in self.loaded_orgs
                if o not in self._note_ids and not self.note_index.known(o)
            ]
            found = self.streams.associations("companies", "notes", todo)
            for org in todo:
                self._note_ids[org] = [t.id for t in found.get(org, [])]
        for company in cached:
            note_ids[company] = self._note_ids[company]
        uncached = [c for c in wanted if c not in note_ids]
        if uncached:
            assoc = self.streams.associations("companies", "notes", uncached)
            for company in uncached:
                note_ids[company] = [t.id for t in assoc.get(company, [])]
        all_ids = [n for ids in note_ids.values() for n in ids]
        props = (
            self.streams.batch_read(
                "notes", all_ids, ["hs_note_body", "hs_timestamp", "hs_createdate"]
            )
            if all_ids
            else {}
        )
        return {
            c: {n: props[n] for n in sorted(set(note_ids[c]) & props.keys(), key=id_key)}
            for c in wanted
        }

    def _company_notes(self, company_id: str, fresh: bool = True) -> dict[str, dict[str, Any]]:
        """The notes attached to one company (see :meth:`_companies_notes`)."""
        return self._companies_notes([company_id], fresh)[company_id]

    def _find_notes(self, wanted: Mapping[str, str], fresh: bool = True) -> dict[str, str]:
        """company id -> id of its note carrying ``wanted[company id]`` (the fingerprint), for
        the companies that have one; one association read and one notes batch read (per 100
        notes) for all of them.  ``fresh=False`` answers from the note index for the companies
        whose notes the reader read as activities: no call for them."""
        found: dict[str, str] = {}
        if not fresh:
            for company, fingerprint in wanted.items():
                note_id = self.note_index.find(company, fingerprint)
                if note_id is not None:
                    found[company] = note_id
            wanted = {c: f for c, f in wanted.items() if not self.note_index.known(c)}
            if not wanted:
                return found
        for company, notes in self._companies_notes(wanted, fresh).items():
            for note_id, props in notes.items():
                if wanted[company] in FOOTER_RE.findall(props.get("hs_note_body") or ""):
                    found[company] = note_id
                    break
        return found

    def _find_note(self, company_id: str, fingerprint: str, fresh: bool = True) -> str | None:
        return self._find_notes({company_id: fingerprint}, fresh).get(company_id)

    def note_exists(self, subject: Organisation, fingerprint: str) -> bool:
        """True when the company carries a note with ``fingerprint`` in its footer."""
        try:
            return self._find_note(subject.id, fingerprint, fresh=False) is not None
        except HttpError as exc:  # auth errors and exhausted quotas stop the run instead
            raise WriteError(f"reading the notes of company {subject.id}: {exc}") from None

    def write_note(self, subject: Organisation, note: RenderedNote) -> str:
        """Create one note (a reconcile look-up first after an ambiguous failure)."""
        payload = note_input(note)

        def reconcile() -> dict[str, str] | None:
            # the POST may have landed before the failure: look before writing again
            found = self._find_note(subject.id, note.fingerprint)
            return {"id": found} if found else None

        try:
            answer = self.client.request(
                "POST",
                self.client.api.objects_path("notes"),
                json_body=payload,
                reconcile=reconcile,
            )
        except HttpError as exc:
            raise WriteError(
                f"writing the cmrules note on company {subject.id} ({subject.name}): {exc}"
            ) from None
        note_id = answer.get("id") if isinstance(answer, dict) else None
        if note_id is None:
            raise WriteError(
                f"writing the cmrules note on company {subject.id}: HubSpot answered without a "
                "note id"
            )
        self._forget(subject.id)
        self.context.count("notes_written")
        return str_id(note_id)

    def write_flags(self, subject: Organisation, flags: Flags) -> None:
        """Set the ``cmrules_*`` properties of one company, the fingerprint included."""
        if flags.risk_level not in RISK_LEVELS:
            raise risk_error(subject, flags)
        properties = flag_properties(flags)
        try:
            self.client.request(
                "PATCH",
                self.client.api.objects_path("companies", f"/{subject.id}"),
                json_body={"properties": properties},
            )
        except HttpError as exc:
            hint = setup_hint(exc.status)
            raise WriteError(
                f"writing the cmrules flags on company {subject.id} ({subject.name}): {exc}{hint}"
            ) from None
        self.context.count("flags_written")

    # -- batched write-back ------------------------------------------------------------------
    def apply_many(self, notes: Sequence[RenderedNote]) -> list[ApplyOutcome]:
        """Write up to 100 records' findings with batch endpoints, crash-safe.

        1. one note lookup for the whole batch (v4 associations + notes batch read);
        2. ONE ``notes/batch/create`` for the missing notes (a unique ``objectWriteTraceId``
           per input maps 207 errors back to records; after an ambiguous failure the
           fingerprints are looked up again before anything is re-sent);
        3. with ``tasks: true``, the data-gap tasks of those records (see tasks.py: one look-up,
           one ``tasks/batch/create``, one ``tasks/batch/update``); a task refused fails
           that record's task only, its flags then mark the task unsynced;
        4. ONE ``companies/batch/update`` for the flags (fingerprint included) of every record
           whose note now exists.

        Every note of the batch is written before any flag of the batch, so a crash at any
        point leaves records whose fingerprint is not yet stored: the rerun finds their notes
        and only writes the flags.  A record that fails gets its own error; the others go on.
        A batch answered with a 400 as a whole is retried record by record so that one bad
        record cannot fail the others.  Auth failures and exhausted quotas propagate.
        """
        notes = list(notes)
        if len(notes) > BATCH_WRITE_LIMIT:
            return [
                outcome
                for chunk in chunks(notes, BATCH_WRITE_LIMIT)
                for outcome in self.apply_many(chunk)
            ]
        outcomes: list[ApplyOutcome | None] = [None] * len(notes)
        # one input per company per batch call: a repeated company goes to a later round
        first: dict[str, int] = {}
        later: list[int] = []
        for i, note in enumerate(notes):
            if note.subject.id in first:
                later.append(i)
            elif note.flags.risk_level not in RISK_LEVELS:
                outcomes[i] = ApplyOutcome(error=risk_error(note.subject, note.flags))
            else:
                first[note.subject.id] = i
        if first:
            batch = [notes[i] for i in first.values()]
            for i, outcome in zip(first.values(), self._apply_batch(batch), strict=True):
                outcomes[i] = outcome
        if later:
            for i, outcome in zip(later, self.apply_many([notes[i] for i in later]), strict=True):
                outcomes[i] = outcome
        assert all(o is not None for o in outcomes)
        return [o for o in outcomes if o is not None]

    def _apply_batch(self, notes: list[RenderedNote]) -> list[ApplyOutcome]:
        """:meth:`apply_many` for distinct companies with valid risk levels."""
        wanted = {n.subject.id: n.fingerprint for n in notes}
        try:
            existing = self._find_notes(wanted, fresh=False)
        except HttpError as exc:
            return [
                ApplyOutcome(
                    error=WriteError(f"reading the notes of company {n.subject.id}: {exc}")
                )
                for n in notes
            ]
        errors: dict[str, WriteError] = {}
        missing = [n for n in notes if n.subject.id not in existing]
        created = self._create_notes(missing, errors) if missing else set()
        ready = [n for n in notes if n.subject.id in existing or n.subject.id in created]
        with_tasks = [n for n in ready if n.tasks_on]
        if with_tasks:  # after the notes, before the flags whose history names the task
            failed = self.tasks.sync([(n.subject, n.task) for n in with_tasks])
            errors.update(failed)
            ready = [
                replace(n, flags=replace(n.flags, history=n.unsynced_history or n.flags.history))
                if n.subject.id in failed
                else n
                for n in ready
            ]
        if ready:
            self._update_flags(ready, errors)
        return [
            ApplyOutcome(error=errors[n.subject.id])
            if n.subject.id in errors
            else ApplyOutcome(created=n.subject.id in created)
            for n in notes
        ]

    def _create_notes(self, notes: list[RenderedNote], errors: dict[str, WriteError]) -> set[str]:
        """Create the notes with one ``notes/batch/create`` (see :mod:`.batchcreate`); return
        the companies whose note now exists.  Failures go to ``errors`` (company id -> error)."""
        pending = {trace_id("note", n.subject.id): n for n in notes}

        def landed(todo: Mapping[str, RenderedNote]) -> set[str]:
            found = self._find_notes({n.subject.id: n.fingerprint for n in todo.values()})
            return {t for t, n in todo.items() if n.subject.id in found}

        def alone(trace: str, n: RenderedNote) -> bool:
            try:
                self.write_note(n.subject, n)
            except WriteError as exc:
                errors[n.subject.id] = exc
                return False
            return True

        def attempted(todo: Mapping[str, RenderedNote]) -> None:
            for n in todo.values():  # a create may have landed: read fresh from now on
                self._forget(n.subject.id)

        out = BatchCreate(
            client=self.client,
            object_type="notes",
            noun="note",
            inputs=lambda todo: [note_input(n) for n in todo.values()],
            landed=landed,
            record_id=lambda n: n.subject.id,
            alone=alone,
            attempted=attempted,
        ).run(pending)
        self.context.count("notes_written", len(out.created))
        for trace, reason in out.failed.items():
            n = pending[trace]
            errors[n.subject.id] = WriteError(
                f"writing the cmrules note on company {n.subject.id} ({n.subject.name}): {reason}"
            )
        return {pending[t].subject.id for t in out.created | out.alone}

    def _update_flags(self, notes: list[RenderedNote], errors: dict[str, WriteError]) -> None:
        """One ``companies/batch/update`` for the flags (an idempotent write: plain retries)."""
        pending = {trace_id("flags", n.subject.id): n for n in notes}
        payload = {
            "inputs": [
                {
                    "id": n.subject.id,
                    "properties": flag_properties(n.flags),
                    "objectWriteTraceId": trace,
                }
                for trace, n in pending.items()
            ]
        }
        try:
            answer = self.client.request(
                "POST",
                self.client.api.objects_path("companies", "/batch/update"),
                json_body=payload,
            )
        except HttpError as exc:
            if exc.status == 400 and len(notes) > 1:
                for n in notes:  # rejected as a whole: isolate the bad record(s)
                    try:
                        self.write_flags(n.subject, n.flags)
                    except WriteError as one:
                        errors[n.subject.id] = one
                return
            hint = setup_hint(exc.status)
            for n in notes:
                errors[n.subject.id] = WriteError(
                    f"writing the cmrules flags on company {n.subject.id} ({n.subject.name}): "
                    f"{exc}{hint}"
                )
            return
        done, failed = batch_answer(
            answer, pending, self.client.last_correlation_id, "companies batch update", by_id=True
        )
        for trace, n in pending.items():
            if trace in done:
                continue
            reason = failed.get(trace, "HubSpot did not confirm the update; rerun to retry")
            hint = setup_hint(400) if "VALIDATION_ERROR" in reason else ""
            errors[n.subject.id] = WriteError(
                f"writing the cmrules flags on company {n.subject.id} ({n.subject.name}): "
                f"{reason}{hint}"
            )
        self.context.count("flags_written", len(done))

    def notes(self, subject: Organisation) -> list[StoredNote]:
        """The cmrules notes on a company, newest first."""
        stored = []
        for note_id, props in self._company_notes(subject.id).items():
            body = props.get("hs_note_body") or ""
            markers = FOOTER_RE.findall(body)
            if not markers:
                continue
            created = None
            for prop in ("hs_createdate", "hs_timestamp"):
                try:
                    created = parse_datetime(props.get(prop))
                except ValueError:
                    created = None
                if created:
                    break
            stored.append(
                StoredNote(
                    id=note_id,
                    subject_id=subject.id,
                    created_at=created or datetime.fromtimestamp(0, UTC),
                    fingerprint=markers[-1],
                    body=body,
                )
            )
        stored.sort(key=lambda n: (n.created_at, id_key(n.id)), reverse=True)
        return stored

    # -- admin ---------------------------------------------------------------------------------
