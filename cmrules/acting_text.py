"""``cmrules history``, ``waivers`` and ``tasks`` as text, in French or English.

The words are ours (translated, French typography); record names, vendor names, waiver reasons
and task titles are CRM text, printed as they are (the CLI strips control characters).  Rule
ids stay, as in notes: they are what a salesperson types in a waiver field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import text as tx
from .flaghistory import split_key

WORDS: dict[str, dict[str, Any]] = {
    "fr": {
        "no_history": "Aucun historique enregistré sur {name} pour l'instant (évaluez-la d'abord).",
        "open": "{name} — points ouverts",
        "none_open": "{name} — aucun point ouvert",
        "open_since": "ouvert depuis le {date}",
        "waived_until": "suspendu jusqu'au {date}",
        "events": "Historique, du plus ancien au plus récent",
        "event": {"opened": "ouvert", "resolved": "réglé", "waived": "suspendu",
                  "waiver_ended": "fin de suspension"},
        "no_waiver": "Aucune suspension.",
        "waived": "{rule} suspendu sur {name} jusqu'au {date}.",
        "any_record": "toute fiche",
        "active": "appliquée",
        "not_applied": "NON APPLIQUÉE : {why}",
        "origin": {"crm": "CRM", "local": "base locale", "config": "configuration"},
        "no_task": "Aucune tâche ouverte.",
        "no_note": "Aucune note cmrules sur {name} pour l'instant.",
        "status": {"open": "ouverte", "completed": "terminée"},
    },
    "en": {
        "no_history": "No flag history stored on {name} yet (evaluate it first).",
        "open": "{name} — open flags",
        "none_open": "{name} — no open flag",
        "open_since": "open since {date}",
        "waived_until": "waived until {date}",
        "events": "Events, oldest first",
        "event": {"opened": "opened", "resolved": "resolved", "waived": "waived",
                  "waiver_ended": "waiver ended"},
        "no_waiver": "No waiver.",
        "waived": "Waived {rule} on {name} until {date}.",
        "any_record": "any record",
        "active": "active",
        "not_applied": "NOT APPLIED: {why}",
        "origin": {"crm": "CRM", "local": "local store", "config": "config"},
        "no_task": "No open task.",
        "no_note": "No cmrules note on {name} yet.",
        "status": {"open": "open", "completed": "completed"},
    },
}  # fmt: skip


def _w(key: str, lang: str) -> str:
    return tx.typography(WORDS[lang][key], lang)


def _colon(lang: str) -> str:
    """``:`` after CRM text: with its narrow no-break space in French, the text left as is."""
    return tx.typography(":", lang)


def _flag(key: str, vendors: Mapping[str, str]) -> str:
    """``CMR010 · Pixel Social``: a history key (``CMR010@v-pixel``) in words."""
    rule, vendor = split_key(key)
    return f"{rule} · {vendors.get(vendor, vendor)}" if vendor else rule


def history_lines(rh: Any, vendors: Mapping[str, str], lang: str) -> list[str]:
    """A record's timeline: its open flags (since when, waived until when), then its events."""
    name = rh.subject.name
    if not rh.stored:
        return [_w("no_history", lang).format(name=name)]
    h = rh.history
    out = [_w("open" if h.open else "none_open", lang).format(name=name)]
    flags = {key: _flag(key, vendors) for key in h.open}
    width = max((len(f) for f in flags.values()), default=0)
    for key, since in sorted(h.open.items()):
        since_words = _w("open_since", lang).format(date=tx.day_of(since, lang))
        line = f"  {flags[key]:<{width}}  {since_words}"
        if key in h.waived:
            line += f", {_w('waived_until', lang).format(date=tx.day_of(h.waived[key], lang))}"
        out.append(line)
    out.append(_w("events", lang))
    days = [tx.day_of(d, lang) for d, *_ in h.log]
    events = [WORDS[lang]["event"].get(ev, ev) for _, ev, _, _ in h.log]
    dw, ew = max(map(len, days), default=0), max(map(len, events), default=0)
    for day, event, (_, _, rule, vendor) in zip(days, events, h.log, strict=True):
        flag = f"{rule} · {vendors.get(vendor, vendor)}" if vendor else rule
        out.append(f"  {day:<{dw}}  {event:<{ew}}  {flag}")
    return out


def waived_line(w: Any, lang: str) -> str:
    """What ``cmrules waive`` confirms: the rule, the record, the last day."""
    until = tx.day_of(w.until, lang)
    return _w("waived", lang).format(rule=w.rule_id, name=w.record_name, date=until)


def waiver_lines(items: Sequence[Any], lang: str) -> list[str]:
    """The register: until, rule, record, where it comes from, applied or why not; its reason
    (and who) on the next line."""
    if not items:
        return [_w("no_waiver", lang)]
    words = WORDS[lang]
    out = []
    for w in items:
        until = tx.day_of(w.until, lang)
        target = w.record_name or w.record or words["any_record"]
        state = _w("active", lang) if w.valid else _w("not_applied", lang).format(why=w.why(lang))
        origin = words["origin"].get(w.origin, w.origin)
        out.append(f"{until}  {w.rule_id:<7} {target}  [{origin}{_colon(lang)} {w.where}]  {state}")
        if w.reason:
            out.append(f"            {w.reason}" + (f" — {w.by}" if w.by else ""))
    return out


def no_note_line(name: str, lang: str) -> str:
    """What ``cmrules notes`` says for a record cmrules has not written on yet."""
    return _w("no_note", lang).format(name=name)


def task_lines(items: Sequence[Mapping[str, Any]], lang: str) -> list[str]:
    """Open (or all) data-gap tasks: number, status, record, title, then the body's first line
    (the task itself is written in its record's language)."""
    if not items:
        return [_w("no_task", lang)]
    status = WORDS[lang]["status"]
    width = max(len(status.get(t["status"], t["status"])) for t in items)
    out = []
    for t in items:
        st = status.get(t["status"], t["status"])
        out.append(f"#{t['id']} {st:<{width}} {t['record']}{_colon(lang)} {t['title']}")
        out.append("    " + str(t["body"]).splitlines()[0])
    return out
