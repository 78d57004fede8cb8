"""cmrules' text block in a Zendesk organisation's ``notes`` and its ``cmrules_`` tags.

Zendesk replaces ``notes`` and ``tags`` wholesale on update, so cmrules writes a block between
marker lines and merges it into the human text, and replaces only its own tags.  Pure text
functions: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from cmrules.connector import Flags, RenderedNote
from cmrules.errors import WriteError
from cmrules.values import iso, parse_datetime

TAG_PREFIX = "cmrules_"
BEGIN_RE = re.compile(
    r"^--- cmrules:begin (?P<fp>\S+)(?: (?P<at>\S+))? ---[ \t]*(?=\r?$)", re.MULTILINE
)
END_RE = re.compile(r"^--- cmrules:end ---[ \t]*(?=\r?$)", re.MULTILINE)
_MARKER_LINE = re.compile(r"^(--- cmrules:)", re.MULTILINE)
_SLUG = re.compile(r"[^a-z0-9_]+")


def slug(value: str) -> str:
    """A tag-safe form: lowercase, runs of other characters -> ``_``."""
    return _SLUG.sub("_", value.strip().lower()).strip("_")


def flag_tags(flags: Flags) -> set[str]:
    """``cmrules_risk_<level>`` plus ``cmrules_flag_<rule id>`` per rule that fired."""
    tags = {f"{TAG_PREFIX}risk_{slug(flags.risk_level) or 'none'}"}
    tags.update(f"{TAG_PREFIX}flag_{slug(rule)}" for rule in flags.rule_ids if slug(rule))
    return tags


@dataclass(frozen=True)
class Block:
    """cmrules' text inside an organisation's ``notes``."""

    fingerprint: str
    written_at: datetime | None
    body: str


def read_block(notes: str | None) -> Block | None:
    """cmrules' block in an organisation's notes, or None when absent or unterminated."""
    if not notes:
        return None
    begin = BEGIN_RE.search(notes)
    if begin is None:
        return None
    end = END_RE.search(notes, begin.end())
    if end is None:
        return None
    try:
        written = parse_datetime(begin.group("at")) if begin.group("at") else None
    except ValueError:
        written = None
    body = notes[begin.end() : end.start()].strip("\r\n")
    return Block(begin.group("fp"), written, body)


def render_block(note: RenderedNote, max_chars: int) -> str:
    """The marker-delimited block for ``note``: plain text, bounded, marker lines neutralised."""
    if not re.fullmatch(r"\S+", note.fingerprint):
        raise WriteError(f"fingerprint {note.fingerprint!r} has whitespace; cannot mark it")
    text = _MARKER_LINE.sub(r" \1", note.text.strip("\r\n"))
    if len(text) > max_chars:
        cut = text.rfind("\n", 0, max_chars)
        cut = cut if cut > max_chars // 2 else max_chars
        left = len(text) - cut
        text = (
            text[:cut].rstrip()
            + f"\n… (truncated: {left} more characters; run `cmrules evaluate` for the full report)"
        )
    stamp = iso(note.flags.evaluated_at)
    return f"--- cmrules:begin {note.fingerprint} {stamp} ---\n{text}\n--- cmrules:end ---"


def merge_notes(existing: str | None, block: str, where: str) -> str:
    """Replace cmrules' block in ``existing`` (or append it); every other character survives."""
    notes = existing or ""
    begin = BEGIN_RE.search(notes)
    if begin is None:
        head = notes.rstrip()
        return f"{head}\n\n{block}" if head else block
    end = END_RE.search(notes, begin.end())
    if end is None:
        raise WriteError(
            f"{where}: the notes hold a '--- cmrules:begin' line without its '--- cmrules:end' "
            "line; cmrules will not guess where its text stops. Fix the notes in Zendesk "
            "(delete the cmrules block or restore its end line) and rerun."
        )
    rest = notes[end.end() :]
    # stale duplicate blocks (ours) further down are dropped; human text around them stays
    while (b := BEGIN_RE.search(rest)) and (e := END_RE.search(rest, b.end())):
        after = rest[e.end() :]
        after = after[2:] if after.startswith("\r\n") else after.removeprefix("\n")
        rest = rest[: b.start()] + after
    return notes[: begin.start()] + block + rest


def merge_tags(existing: Iterable[str], wanted: set[str]) -> list[str]:
    """Other tags untouched and in order; ``cmrules_`` tags replaced by ``wanted``."""
    kept = [t for t in existing if not t.startswith(TAG_PREFIX)]
    return kept + sorted(wanted - set(kept))
