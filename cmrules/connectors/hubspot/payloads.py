"""Pure write-back payloads for HubSpot: note bodies, batch inputs, flag properties, and
the reading of batch answers (which inputs were confirmed, which failed and why).  No I/O."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cmrules.connector import Flags, RenderedNote
from cmrules.errors import WriteError
from cmrules.model import Organisation
from cmrules.values import to_epoch_ms

from .common import (
    FOOTER_RE,
    NOTE_BODY_LIMIT,
    NOTE_TO_COMPANY,
    PROP_EVALUATED,
    PROP_FINGERPRINT,
    PROP_FLAGS,
    PROP_HISTORY,
    PROP_RISK,
    RISK_LEVELS,
    list_of_dicts,
    scrub,
    str_id,
)

log = logging.getLogger("cmrules.connectors.hubspot")


def trace_id(kind: str, company_id: str) -> str:
    """A batch input's ``objectWriteTraceId``: unique within a batch (one input per company)."""
    return f"cmrules-{kind}-{company_id}"


def setup_hint(status: int | None) -> str:
    """A hint to run ``cmrules setup`` when a write was refused as invalid (400)."""
    if status == 400:
        return (
            "; if a rule id or property is unknown to HubSpot, run `cmrules setup`; if the "
            "portal's own validation rules refused it (enforced on API writes from 2026-09), "
            "fix the record in HubSpot"
        )
    return ""


def note_body(note: RenderedNote) -> str:
    """The note HTML (already escaped by the core; never unescaped here), guaranteed to carry
    the ``cmrules:<fingerprint>`` marker and to fit HubSpot's 65,536-character limit."""
    body = note.html
    marker = f"cmrules:{note.fingerprint}"
    footer = f"<p>{marker}</p>"
    has_marker = note.fingerprint in FOOTER_RE.findall(body)
    if has_marker and len(body) <= NOTE_BODY_LIMIT:
        return body
    if not has_marker and len(body) + len(footer) <= NOTE_BODY_LIMIT:
        return body + footer
    tail = "<p>… (truncated: the note exceeded HubSpot's 65,536-character limit)</p>" + footer
    cut = NOTE_BODY_LIMIT - len(tail)
    cut = body.rfind("<", 0, cut + 1) if "<" in body[:cut] else cut  # never split a tag
    return body[: max(cut, 0)] + tail


def note_input(note: RenderedNote) -> dict[str, Any]:
    """One note's create input: body, timestamp and the association to its company."""
    moment = note.flags.evaluated_at or datetime.now(UTC)
    return {
        "properties": {
            "hs_timestamp": to_epoch_ms(moment),
            "hs_note_body": note_body(note),
        },
        "associations": [
            {
                "to": {"id": note.subject.id},
                "types": [
                    {
                        "associationCategory": "HUBSPOT_DEFINED",
                        "associationTypeId": NOTE_TO_COMPANY,
                    }
                ],
            }
        ],
    }


def flag_properties(flags: Flags) -> dict[str, str]:
    """The ``cmrules_*`` property values for ``flags`` (the fingerprint included)."""
    return {
        PROP_RISK: flags.risk_level,
        PROP_FLAGS: ";".join(sorted(set(flags.rule_ids))),
        PROP_EVALUATED: to_epoch_ms(flags.evaluated_at),
        PROP_HISTORY: flags.history,
        PROP_FINGERPRINT: flags.fingerprint,  # same input: the fingerprint lands last
    }


def risk_error(subject: Organisation, flags: Flags) -> WriteError:
    """The error for a risk level HubSpot's enumeration does not have."""
    return WriteError(
        f"company {subject.id}: risk level {flags.risk_level!r} is not one of "
        + ", ".join(RISK_LEVELS)
    )


def batch_answer(
    answer: Any,
    pending: Mapping[str, Any],
    correlation: str | None,
    where: str,
    by_id: bool,
    record_ids: Mapping[str, str] | None = None,
) -> tuple[set[str], dict[str, str]]:
    """(trace ids confirmed, trace id -> error text) from a 200/201/207 batch answer.

    Errors are mapped back by the ``objectWriteTraceId`` (or, for updates, the record ids)
    in their ``context``.  Results are matched by their echoed trace id or, for updates,
    their record id; for creates (new ids, fingerprints not unique across records), when
    every error was mapped and the result count is what is left, every other input is
    confirmed.  The order of ``results`` is never relied on; an input neither confirmed
    nor refused is left out of both (the caller checks it).  ``pending`` maps trace ids to
    notes, or to anything when ``record_ids`` (trace id -> record id) is given."""
    done: set[str] = set()
    failed: dict[str, str] = {}
    if not isinstance(answer, dict):
        return done, failed
    ids_of = record_ids if record_ids is not None else {t: n.subject.id for t, n in pending.items()}
    by_company = {record: t for t, record in ids_of.items()}
    unmapped = 0
    for error in list_of_dicts(answer.get("errors")):
        raw_context = error.get("context")
        context: dict[str, Any] = raw_context if isinstance(raw_context, dict) else {}
        traces = [str(t) for t in context.get("objectWriteTraceId") or [] if t in pending]
        if by_id:
            ids = [str(i) for i in context.get("ids") or []]
            traces += [by_company[i] for i in ids if i in by_company]
        message = scrub(str(error.get("message") or error.get("category") or "error"))
        category = error.get("category")
        if category and category not in message:
            message = f"{message} [{category}]"
        corr = error.get("correlationId") or correlation
        text = f"HubSpot {where}: {message}" + (f" (correlation id {corr})" if corr else "")
        if not traces:
            unmapped += 1
            log.warning("%s (for an input HubSpot did not identify)", text)
        for trace in traces:
            failed[trace] = text
    results = list_of_dicts(answer.get("results"))
    for item in results:
        echoed = item.get("objectWriteTraceId")
        if echoed in pending:
            done.add(str(echoed))
        elif by_id and item.get("id") is not None:
            matched = by_company.get(str_id(item["id"]))
            if matched is not None:
                done.add(matched)
    if not by_id and not unmapped and len(results) == len(pending) - len(failed):
        done = {t for t in pending if t not in failed}
    return done - set(failed), failed
