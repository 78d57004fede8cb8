"""Render one note per record, for a ten-second read, in French or English.

Layout (plain text; the HTML body has the same lines)::

    Risque élevé : 3 points ouverts. À faire d’abord : <the worst flag's next step>
    Depuis la dernière note : 1 nouveau point (…) ; bonne nouvelle, réglé : …
    Prestataire : Pixel Social                       (one heading per vendor)
    • [ÉLEVÉ] <what, with values and record names> (ouvert depuis le 20 novembre 2026) [CMR008]
      → <next step> Pour lever : <what would clear it>.
    • [SUSPENDU] <title> — Suspendu jusqu’au 1er mars 2027 par Marie : <reason> [CMR018]
    Pour évaluer 3 points de plus, renseignez : sponsor de direction, … et ….
    cmrules:<fingerprint>

No identifier reaches a note: signals and fields are named by :mod:`cmrules.labels`; what only
ops can provide (a helpdesk source) is left to the run summary.  CRM text (names, titles,
waiver reasons) is data: inserted as-is in text, through ``html.escape`` in HTML, never used as
a template.  The footer ``cmrules:<fingerprint>`` lets a connector recognise a note it already
wrote (crash safety).
"""

from __future__ import annotations

import functools
import hashlib
import html
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from .. import text as tx
from ..connector import Flags, RenderedNote
from ..findings import WAIVED, Finding, risk_level, sort_findings
from ..flaghistory import Changes, History, split_key
from ..labels import signal_label
from ..model import CANNOT_ASSESS, FIRED, Organisation
from ..readiness import WORDS as READY_WORDS
from ..readiness import Readiness
from ..redact import one_line
from ..signals import MISSING
from ..tasks import Task
from .words import LABELS, LANGUAGE_VALUES

MAX_NOTE_CHARS = 65_536
FOOTER_PREFIX = "cmrules:"

__all__ = [
    "FOOTER_PREFIX", "LABELS", "MAX_NOTE_CHARS", "gaps", "note_fingerprint", "record_language",
    "render",
]  # fmt: skip


def note_fingerprint(findings: Sequence[Finding], language: str) -> str:
    """What a note says, as a short hash: the same findings in the same language give the same note,
    which is never written twice."""
    parts = sorted(f.fingerprint for f in findings)
    return hashlib.sha256((language + "|" + ",".join(parts)).encode()).hexdigest()[:20]


def record_language(org: Organisation, default: str) -> str:
    """The record's ``language`` attribute, else its ``country``, else ``default``."""
    for key in ("language", "country"):
        value = org.attributes.get(key)
        if isinstance(value, str) and value.strip():
            folded = value.strip().casefold()
            lang = LANGUAGE_VALUES.get(folded) or LANGUAGE_VALUES.get(
                folded.replace("_", "-").split("-")[0]
            )
            if lang:
                return lang
    return default


def gaps(findings: Sequence[Finding], language: str) -> tuple[int, list[str]]:
    """(number of points the owner can unlock, what to fill in) from cannot-assess findings.

    Only data simply missing on the record counts: what the source does not record, or what
    only ops can provide (no ``gap`` label), goes to the run summary; "too early to judge"
    needs time, not data."""
    return _gaps(sort_findings(findings), language)


def _gaps(ordered: Sequence[Finding], language: str) -> tuple[int, list[str]]:
    """:func:`gaps` of findings already sorted."""
    points = 0
    fields: list[str] = []
    for f in ordered:
        if f.status != CANNOT_ASSESS:
            continue
        fillable = [
            label[language]
            for e in f.evidence
            if e.value is None
            and (e.reason is None or e.reason.code == MISSING)
            and (label := signal_label(e.signal).gap) is not None
        ]
        if not fillable:
            continue
        points += 1
        fields.extend(g for g in fillable if g not in fields)
    return points, fields


@functools.lru_cache(maxsize=1024)
def _t(text: str, lang: str) -> str:
    """Typography of a label template (a few dozen per language: computed once each)."""
    return tx.typography(text, lang)


def render(
    subject: Organisation,
    findings: Sequence[Finding],
    *,
    language: str,
    as_of: datetime,
    vendor: Organisation | None = None,
    vendors: Sequence[Organisation] = (),
    history: History | None = None,
    changes: Changes | None = None,
    titles: Mapping[str, Mapping[str, str]] | None = None,
    limit: int = MAX_NOTE_CHARS,
    readiness: Readiness | None = None,
    task: Task | None = None,
    tasks_on: bool = False,
    unsynced_history: str = "",
) -> RenderedNote:
    """Render the note (HTML and plain text) and the flag values for one record.

    ``history``/``changes`` come from :func:`cmrules.history.update`; without them the note
    has no "since the last note" line and no dates.  ``titles`` names resolved rules.
    ``readiness`` (a prospect): the verdict line is the readiness verdict, and the questions
    for the next meeting replace the data-gap line.  ``task``/``tasks_on``: the record's
    data-gap task (:mod:`cmrules.tasks`); ``unsynced_history``: the history to write
    instead if the task cannot be written.  The bodies are rendered when first read.
    """
    ordered = sort_findings(findings)
    fp = note_fingerprint(ordered, language)
    level = risk_level(ordered)
    fired = [f for f in ordered if f.status == FIRED]
    points, fields = _gaps(ordered, language)
    flags = Flags(
        risk_level=level,
        rule_ids=tuple(sorted({f.rule_id for f in fired})),
        evaluated_at=as_of,
        fingerprint=fp,
        history=history.dumps() if history is not None else "",
        readiness=readiness.level if readiness is not None else "",
        open_questions=len(readiness.questions) if readiness is not None else 0,
    )

    def bodies() -> tuple[str, str]:
        return _bodies(subject, ordered, fp, level, language, vendor, vendors, history,
                       changes, titles or {}, limit, readiness, (points, fields))  # fmt: skip

    return _Note(bodies, subject=subject, fingerprint=fp, flags=flags, language=language,
                 gaps=tuple(fields), task=task, tasks_on=tasks_on,
                 unsynced_history=unsynced_history)  # fmt: skip


class _Note(RenderedNote):
    """A :class:`RenderedNote` whose bodies (text and HTML) are rendered when first read: a
    record that is not written (unchanged, ``--no-write``, a JSON listing) never pays for
    them.  Everything else (fingerprint, flags, gaps) is computed up front."""

    def __init__(self, bodies: Callable[[], tuple[str, str]] | None = None, **fields: Any):
        object.__setattr__(self, "_make", bodies)
        for name, value in fields.items():  # all of them when built by dataclasses.replace
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:  # only called for what is not set: the bodies
        if name not in ("text", "html") or self._make is None:
            raise AttributeError(name)
        text, html_body = self._make()
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "html", html_body)
        object.__setattr__(self, "_make", None)  # its findings and history can go
        return text if name == "text" else html_body


def _bodies(
    subject: Organisation,
    ordered: Sequence[Finding],
    fp: str,
    level: str,
    language: str,
    vendor: Organisation | None,
    vendors: Sequence[Organisation],
    history: History | None,
    changes: Changes | None,
    titles: Mapping[str, Mapping[str, str]],
    limit: int,
    readiness: Readiness | None,
    gap_fields: tuple[int, list[str]],
) -> tuple[str, str]:
    """The note's (text, HTML)."""
    lab = LABELS[language]
    fired = [f for f in ordered if f.status == FIRED]
    waived = [f for f in ordered if f.status == WAIVED]
    # CRM text: one line, no control character
    names = {v.id: one_line(v.name) for v in (*vendors, *([vendor] if vendor else []))}

    lines: list[tuple[str, str]] = [
        _verdict(fired, waived, level, language)
        if readiness is None
        else _ready_verdict(readiness, language)
    ]
    if changes is not None and (changes or (history is not None and history.log)):
        lines.append(_since(changes, history, language, titles, names))
    blocks: list[list[tuple[str, str]]] = []
    groups = _by_vendor(subject, [*fired, *waived], vendor, names)
    for vname, items in groups:
        for i, f in enumerate(items):
            block: list[tuple[str, str]] = []
            if vname is not None and i == 0:
                block.append(_plain(_t(lab["vendor"], language).format(name=vname)))
            blocks.append(block + _flag_lines(f, history, language))
    points, fields = gap_fields
    tail: list[tuple[str, str]] = []
    if readiness is not None:
        tail.extend(_questions(readiness, language))
    elif points:
        tail.append(
            _plain(
                _t(lab["gaps"], language).format(
                    n=tx.number(points, language),
                    points=tx.plural(points, lab["points"][0], lab["points"][1], language),
                    fields=tx.join(fields, language),
                )
            )
        )
    return _fit(lines, blocks, tail, f"{FOOTER_PREFIX}{fp}", limit, language)


# --------------------------------------------------------------------------------------------
def _plain(line: str, strong: bool = False) -> tuple[str, str]:
    esc = html.escape(line)
    return line, f"<strong>{esc}</strong>" if strong else esc


def _verdict(
    fired: Sequence[Finding], waived: Sequence[Finding], level: str, lang: str
) -> tuple[str, str]:
    lab = LABELS[lang]
    if not fired:
        text = lab["verdict_none"]
        if waived:
            text = (
                text[:-1]
                + f" ({tx.count(len(waived), lab['waived_n'][0], lab['waived_n'][1], lang)})."
            )
        return _plain(_t(text, lang), strong=True)
    lvl = lab["levels"][level]
    head = _t(lab["verdict"], lang).format(
        level=tx.capitalise(lvl) if lang == "en" else lvl,
        flags=tx.count(len(fired), lab["flags"][0], lab["flags"][1], lang),
    )
    if lang == "fr":
        head = tx.capitalise(head)
    step = _t(lab["first_step"], lang).format(step=fired[0].advice[lang])
    return f"{head} {step}", f"<strong>{html.escape(head)}</strong> {html.escape(step)}"


def _ready_verdict(r: Readiness, lang: str) -> tuple[str, str]:
    """ "Not ready yet: 2 blockers, 3 questions for the next meeting. To clear first: …" """
    w = READY_WORDS[lang]
    parts = []
    if r.blockers:
        parts.append(tx.count(len(r.blockers), w["blocker"][0], w["blocker"][1], lang))
    if r.questions:
        parts.append(tx.count(len(r.questions), w["question"][0], w["question"][1], lang))
    if r.mostly_unknown:
        parts.insert(0, w["unknown"])
    head = _t(f"{w[r.level]}" + (f": {', '.join(parts)}." if parts else "."), lang)
    if not r.blockers:
        return _plain(head, strong=True)
    first = r.blockers[0]
    what = first.clear_when.text[lang] if first.clear_when is not None else first.advice[lang]
    step = _t(w["first"], lang).format(what=what.rstrip("."))
    return f"{head} {step}", f"<strong>{html.escape(head)}</strong> {html.escape(step)}"


def _questions(r: Readiness, lang: str) -> list[tuple[str, str]]:
    if not r.asks:
        return []
    out = [_plain(_t(READY_WORDS[lang]["questions"] + ":", lang), strong=True)]
    out.extend(_plain(f"? {_t(ask[lang], lang)}") for ask in r.asks)
    return out


def _since(
    changes: Changes,
    history: History | None,
    lang: str,
    titles: Mapping[str, Mapping[str, str]],
    names: Mapping[str, str],
) -> tuple[str, str]:
    lab = LABELS[lang]
    if history is not None and changes.new and not changes.resolved and _all_new(history):
        return _plain(_t(lab["first_note"], lang))

    def name(f: Finding) -> str:
        return f.title.get(lang, f.rule_id) + _vendor_suffix(f.subject.vendor_id, names)

    def key_name(key: str) -> str:
        rule, vendor = split_key(key)
        return titles.get(rule, {}).get(lang, rule) + _vendor_suffix(vendor, names)

    items = []
    if changes.new:
        items.append(
            f"{tx.count(len(changes.new), lab['new'][0], lab['new'][1], lang)} ("
            + tx.join([name(f) for f in changes.new], lang)
            + ")"
        )
    if changes.resolved:
        items.append(
            _t(lab["resolved"], lang).format(
                items=tx.join(list(map(key_name, changes.resolved)), lang)
            )
        )
    if changes.waived:
        items.append(
            _t(lab["newly_waived"], lang).format(
                items=tx.join([name(f) for f in changes.waived], lang)
            )
        )
    if changes.returned:
        items.append(
            _t(lab["returned"], lang).format(
                items=tx.join([name(f) for f in changes.returned], lang)
            )
        )
    sep = " ; " if lang == "fr" else "; "
    body = sep.join(items) if items else lab["nothing_new"]
    return _plain(_t(lab["since"], lang).format(items=body))


def _all_new(history: History) -> bool:
    """True when every event in the log is from the current run's first opening."""
    dates = {d for d, *_ in history.log}
    kinds = {ev for _, ev, *_ in history.log}
    return len(dates) <= 1 and kinds <= {"opened", "waived"}


def _vendor_suffix(vendor_id: str | None, names: Mapping[str, str]) -> str:
    if len(names) > 1 and vendor_id is not None and vendor_id in names:
        return f" ({names[vendor_id]})"
    return ""


def _by_vendor(
    subject: Organisation,
    items: Sequence[Finding],
    vendor: Organisation | None,
    names: Mapping[str, str],
) -> list[tuple[str | None, list[Finding]]]:
    """Findings grouped by vendor, worst group first; one heading per vendor for a company."""
    if subject.kind.value == "vendor":
        return [(None, list(items))] if items else []
    groups: dict[str | None, list[Finding]] = {}
    for f in items:
        groups.setdefault(f.subject.vendor_id, []).append(f)
    out = []
    for vid, fs in groups.items():  # insertion order: the group of the worst flag first
        vname = names.get(vid or "") or (one_line(vendor.name) if vendor is not None else None)
        out.append((vname, fs))
    return out


def _flag_lines(f: Finding, history: History | None, lang: str) -> list[tuple[str, str]]:
    lab = LABELS[lang]
    esc = html.escape
    tag = f"[{lab['sev']['waived' if f.status == WAIVED else f.severity]}]"
    ident = f"[{f.rule_id}]"
    if f.status == WAIVED:
        w = f.waiver or {}
        by = _t(lab["by"], lang).format(by=one_line(w["by"])) if w.get("by") else ""
        until = tx.day_of(w.get("until"), lang)
        reason = one_line(str(w.get("reason", "")))
        text = _t(lab["waived"], lang).format(until=until, by=by, reason=reason)
        line = f"• {tag} {f.title.get(lang, '')} — {text} {ident}"
        return [(line, esc(line))]
    since = f.open_since or (history.open.get(f.key) if history is not None else None)
    opened = f" {_t(lab['open_since'], lang).format(date=tx.day_of(since, lang))}" if since else ""
    first = f"• {tag} {f.message[lang]}{opened} {ident}"
    second = f"  → {f.advice[lang]}"
    if f.clear_when is not None:
        second += " " + _t(lab["to_clear"], lang).format(what=f.clear_when.text[lang])
    return [
        (first, f"<strong>{esc(tag)}</strong> {esc(f.message[lang] + opened)} {esc(ident)}"),
        (second, "→ " + esc(second.strip()[2:])),
    ]


def _apostrophes(line: str) -> str:
    """One apostrophe style in the whole note, names and titles from the CRM included (display
    only: the CRM text is otherwise inserted as it is)."""
    return line.replace("'", "’").replace("&#x27;", "’")


def _fit(
    head: list[tuple[str, str]],
    blocks: list[list[tuple[str, str]]],
    tail: list[tuple[str, str]],
    footer: str,
    limit: int,
    lang: str,
) -> tuple[str, str]:
    """(text, html): every block if it fits in ``limit``, else the first ones and an
    "N more" line.  The footer is always last."""

    def build(kept: list[list[tuple[str, str]]], more: int) -> tuple[str, str]:
        rows: list[Any] = [*head]
        for b in kept:
            rows.extend(b)
        if more:
            rows.append(_plain(_t(LABELS[lang]["more"], lang).format(n=more)))
        rows.extend(tail)
        text = "\n".join(_apostrophes(r[0]) for r in rows) + "\n" + footer
        body = "".join(f"<p>{_apostrophes(r[1])}</p>" for r in rows)
        body += f"<p>{html.escape(footer)}</p>"
        return text, body

    text, body = build(blocks, 0)
    if max(len(text), len(body)) <= limit:
        return text, body
    kept: list[list[tuple[str, str]]] = []
    for i, block in enumerate(blocks):
        t, b = build([*kept, block], len(blocks) - i - 1)
        if max(len(t), len(b)) > limit:
            break
        kept.append(block)
    return build(kept, len(blocks) - len(kept))
