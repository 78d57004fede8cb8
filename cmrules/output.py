"""Text renderings of a report for the terminal: table, markdown, JSON."""

from __future__ import annotations

import json
from typing import Any

from . import flaghistory, redact
from . import text as tx
from .findings import format_records, format_value, sort_findings
from .labels import signal_label
from .listing import TASK_KEYS
from .notes import LABELS
from .readiness import WORDS as READY_WORDS
from .service import Report
from .tasks import TASK_PREFIX, UNSYNCED
from .text import typography

_HEAD = {
    "fr": ("Fiche", "Type", "Risque", "Drapeaux", "Écriture"),
    "en": ("Record", "Kind", "Risk", "Flags", "Write"),
}
_WRITE = {
    "fr": {"written": "note écrite", "flags_updated": "drapeaux mis à jour",
           "unchanged": "inchangé", "would_write": "à écrire (dry-run)", "failed": "ÉCHEC",
           None: "-"},
    "en": {"written": "note written", "flags_updated": "flags updated", "unchanged": "unchanged",
           "would_write": "would write (dry-run)", "failed": "FAILED", None: "-"},
}  # fmt: skip


def term_safe(text: str) -> str:
    """CRM text bound for a terminal: no escape sequences, C1 controls or bidi overrides."""
    return redact.term_safe(text)


def to_json(report: Report) -> str:
    """The whole report as JSON (the documented key set)."""
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False, sort_keys=False)


def _evidence(f: Any, lang: str) -> str:
    out = []
    for e in f.evidence:
        label = signal_label(e.signal).label[lang]
        shown = format_records(e.records, lang) if e.records else label
        recs = f" ({shown})" if shown != label else ""  # not "crisis procedure = no (crisis …)"
        out.append(f"{label} = {format_value(e.signal, e.value, lang)}{recs}")
    return typography("; ", lang).join(out)


def _head(label: str, lang: str) -> str:
    """``Preuves :`` / ``Evidence:`` — a label of ours before its content."""
    return typography(f"{label}:", lang)


def kind_word(kind: str, lang: str) -> str:
    """``entreprise`` / ``company``: a record's kind as the reader says it."""
    return LABELS[lang]["kinds"].get(kind, kind)


def _about(f: Any) -> str:
    """ " · <vendor>" for a finding about one engagement of a company."""
    return f" · {_line(f.subject.vendor_name)} ·" if f.subject.vendor_name else ""


def table_row(r: Any, lang: str) -> tuple[str, str, str, str, str]:
    """One record's line of the summary table (cells before truncation)."""
    return (
        _line(r.subject.name),
        kind_word(r.kind, lang),
        (_readiness(r, lang) or [LABELS[lang]["levels"][r.risk_level]])[0],
        ",".join(r.note.flags.rule_ids) or "-",
        _WRITE[lang].get(r.write, r.write or "-"),
    )


def table_widths(rows: Any, lang: str) -> list[int]:
    """Each column's width: the widest of its heading and cells, as the terminal draws them."""
    from rich.cells import cell_len

    head = _HEAD[lang]
    widths = [len(h) for h in head]
    for row in rows:
        widths = [max(w, cell_len(str(c))) for w, c in zip(widths, row, strict=True)]
    return widths


def fit_widths(widths: list[int], lang: str, width: int | None = None) -> list[int]:
    """Column widths that fit the terminal: the widest columns give way first."""
    from .listing import fit_widths as fit

    return fit(widths, _HEAD[lang], width)


def table_line(cells: Any, widths: list[int], color: bool = False) -> str:
    """One line of the table; a cut cell ends with … (a cut flag never reads as a rule id);
    the risk column coloured when ``color``."""
    from .listing import _fit, _style

    out = [_fit(str(c), widths[i]) for i, c in enumerate(cells)]
    if color and len(out) > 2:
        out[2] = _style(out[2], str(cells[2]))
    return "  ".join(out).rstrip()


def table_details(r: Any, lang: str) -> list[str]:
    """The lines under the table for one record with findings (none without)."""
    if not r.findings:
        return []
    lab = LABELS[lang]
    name = f"{_line(r.subject.name)} ({kind_word(r.kind, lang)})"
    ready = _readiness(r, lang)
    out = ["", f"{name} — {ready[0] if ready else lab['levels'][r.risk_level]}"]
    for f in sort_findings(r.findings):
        if ready and f.status == "cannot_assess":
            continue  # asked below, as a question for the next meeting
        sev = lab["sev"]["waived" if f.status == "waived" else f.severity]
        out.append(f"  [{sev}] {f.rule_id}{_about(f)} {_line(f.message[lang])}")
        if f.status in ("fired", "waived"):
            out.append(f"      {_head(lab['evidence'], lang)} {_line(_evidence(f, lang))}")
        out.append(f"      {_head(lab['advice'], lang)} {_line(f.advice[lang])}")
        if f.clear_when is not None:
            out.append(f"      {_head(lab['clear'], lang)} {_line(f.clear_when.text[lang])}")
        if f.waiver:
            out.append(f"      {_head(lab['waived_by'], lang)} {_line(_waiver(f.waiver, lang))}")
    return out + [f"  {_line(q)}" for q in ready[1:]]


def _readiness(r: Any, lang: str) -> list[str]:
    """A prospect's verdict, then its questions for the next meeting (heading first), in the
    reader's language (the note uses the prospect's); empty for other records."""
    ready = r.outcome.readiness if r.outcome is not None else None
    if ready is None:
        return []
    out = [ready.words(lang)]
    if ready.asks:
        out.append(typography(READY_WORDS[lang]["questions"] + ":", lang))
        out.extend(f"  ? {typography(ask[lang], lang)}" for ask in ready.asks)
    return out


def to_table(report: Report) -> str:
    """The report for the terminal: the summary table, each flagged record's details, then the run
    summary."""
    lang = report.language
    rows = [table_row(r, lang) for r in report.records]
    widths = fit_widths(table_widths(rows, lang), lang)
    out = [table_line(_HEAD[lang], widths), table_line(["-" * w for w in widths], widths)]
    out += [table_line(row, widths) for row in rows]
    for r in report.records:
        out += table_details(r, lang)
    out += table_tail(report.summary(), report.warnings, lang)
    return term_safe("\n".join(out))


def table_tail(s: dict[str, Any], warnings: list[str], lang: str) -> list[str]:
    """The lines after the table: the summary, warnings, data gaps for ops."""
    out = ["", summary_line(s, lang)]
    out.extend(f"! {_line(w)}" for w in warnings)
    return out + ops_lines(s.get("ops_data_gaps", []), lang)


def ops_lines(gaps: list[str], lang: str) -> list[str]:
    """``i Data only ops can provide: connect a helpdesk source …`` — one line per gap."""
    return [f"i {_head(LABELS[lang]['ops'], lang)} {_line(g)}" for g in gaps]


def check_gap_lines(gaps: list[Any], lang: str) -> list[str]:
    """``cmrules check``'s ops section: what no configured source records, for every record —
    ``i Data only ops can provide: connect a helpdesk source (…) — rule CMR012`` per gap, or
    ``none``."""
    head = _head(LABELS[lang]["ops"], lang)
    if not gaps:
        return [f"i {head} {'aucune' if lang == 'fr' else 'none'}"]
    out = []
    for g in gaps:
        rules = tx.plural(
            len(g.rules), *(("règle", "règles") if lang == "fr" else ("rule", "rules")), lang
        )
        out.append(f"i {head} {_line(g.fix)} — {rules} {', '.join(g.rules)}")
    return out


def _line(text: str) -> str:
    """CRM text inside one line of terminal output (no line break, no control character)."""
    return redact.one_line(text)


def _waiver(w: Any, lang: str) -> str:
    by = f" ({w['by']})" if w.get("by") else ""
    return f"{tx.day_of(w['until'], lang)}{by} — {w['reason']} [{w['where']}]"


_RUN_KEYS = ("records_evaluated", "notes_written", "flags_updated", "unchanged", "would_write",
             "failed")  # fmt: skip


def summary_line(s: dict[str, Any], lang: str) -> str:
    """The run's counts in one line, with real plurals: ``1 record evaluated; 0 notes
    written, …`` / ``1 fiche évaluée ; 0 note écrite, …`` (flags updated included)."""
    parts = [
        tx.count(s[key], one, other, lang)
        for key, (one, other) in zip(_RUN_KEYS, LABELS[lang]["run"], strict=True)
    ]
    line = f"{parts[0]}; " + ", ".join(parts[1:])
    if any(s.get(key) for key in TASK_KEYS):  # data-gap tasks: only when some were written
        tasks = zip(TASK_KEYS, LABELS[lang]["run_tasks"], strict=True)
        line += "; " + ", ".join(
            tx.count(s.get(k, 0), one, other, lang) for k, (one, other) in tasks
        )
    return typography(line, lang)


def to_markdown(report: Report) -> str:
    """The report as Markdown, for a ticket or a wiki."""
    lang = report.language
    out = [markdown_head(report.as_of)]
    for r in report.records:
        out += markdown_record(r, lang)
    out.append(summary_line(report.summary(), lang))
    return term_safe("\n".join(out))


def markdown_head(as_of: Any) -> str:
    """The Markdown title, with the date evaluated."""
    return f"# cmrules — {as_of.date().isoformat()}\n"


def markdown_record(r: Any, lang: str) -> list[str]:
    """One record in Markdown: its kind and risk, then each finding with the question, evidence,
    next step and what would clear it."""
    lab = LABELS[lang]
    ready = _readiness(r, lang)
    level = ready[0] if ready else lab["levels"][r.risk_level]
    out = [f"## {_md(r.subject.name)} ({kind_word(r.kind, lang)}) — {level}", ""]
    if not r.findings:
        return [*out, lab["none"], ""]
    for f in sort_findings(r.findings):
        if ready and f.status == "cannot_assess":
            continue  # asked below, as a question for the next meeting
        sev = lab["sev"]["waived" if f.status == "waived" else f.severity]
        head = f"{sev} {f.rule_id}{_md(_about(f))}"
        out.append(f"- **{head}** {_md(f.message[lang])}")
        out.append(f"  - {_head(lab['question'], lang)} {_md(f.question[lang])}")
        if f.status in ("fired", "waived"):
            out.append(f"  - {_head(lab['evidence'], lang)} {_md(_evidence(f, lang))}")
        out.append(f"  - {_head(lab['advice'], lang)} {_md(f.advice[lang])}")
        if f.clear_when is not None:
            out.append(f"  - {_head(lab['clear'], lang)} {_md(f.clear_when.text[lang])}")
        if f.waiver:
            out.append(f"  - {_head(lab['waived_by'], lang)} {_md(_waiver(f.waiver, lang))}")
    if len(ready) > 1:
        out += ["", f"**{ready[1]}**", "", *(f"- {q.strip()[2:]}" for q in ready[2:])]
    return [*out, ""]


def _md(text: str) -> str:
    """CRM-sourced text inside one Markdown line: no line break (a name holding a newline and
    ``- **HIGH** …`` must not start a bullet), Markdown/HTML characters escaped."""
    text = redact.one_line(text)
    for ch in "\\`*_[]<>|#~":
        text = text.replace(ch, "\\" + ch)
    return text


def dry_run_notes(report: Report) -> str:
    """The notes a dry run would write, in plain text."""
    out = []
    for r in report.records:
        out += dry_run_note(r, report.language)
    return term_safe("\n".join(out))


#: a dry run's line for a data-gap task it would complete (the gaps filled, or changed)
_COMPLETE = {
    "fr": {False: "terminer la tâche ouverte {marker} (informations renseignées)",
           True: "terminer la tâche ouverte {marker} (les informations manquantes ont changé)"},
    "en": {False: "complete the open data-gap task {marker} (the gaps are filled)",
           True: "complete the open data-gap task {marker} (the gaps changed)"},
}  # fmt: skip


def dry_run_note(r: Any, lang: str) -> list[str]:
    """The note (and task) a dry run would write on one record, under its name and kind; the
    heading in the reader's ``lang``, the note in its own language."""
    if r.write != "would_write":
        return []
    out = [f"===== {_line(r.subject.name)} ({kind_word(r.kind, lang)}) =====", r.note.text]
    task = _head(LABELS[lang]["task"], lang)
    if r.note.task is not None and not r.note.task.recorded:
        out.append(f"+ {task} {_line(r.note.task.title)} — {r.note.task.body.splitlines()[0]}")
    if r.note.tasks_on:
        before = flaghistory.loads(r.subject.writeback.get("history")).task
        now = r.note.task.fingerprint if r.note.task is not None else ""
        if before and before not in (now, UNSYNCED):
            done = _COMPLETE[lang][bool(now)].format(marker=f"{TASK_PREFIX}{before}")
            out.append(f"- {task} {done}")
    return [*out, ""]
