"""Text renderings of a report for the terminal: table, markdown, JSON."""

from __future__ import annotations

import json
from typing import Any

from . import redact
from .findings import format_records, format_value, sort_findings
from .labels import signal_label
from .notes import LABELS
from .service import Report

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
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False, sort_keys=False)


def _evidence(f: Any, lang: str) -> str:
    out = []
    for e in f.evidence:
        recs = f" ({format_records(e.records, lang)})" if e.records else ""
        label = signal_label(e.signal).label[lang]
        out.append(f"{label} = {format_value(e.signal, e.value, lang)}{recs}")
    return "; ".join(out)


def _about(f: Any) -> str:
    """ " · <vendor>" for a finding about one engagement of a company."""
    return f" · {_line(f.subject.vendor_name)} ·" if f.subject.vendor_name else ""


def to_table(report: Report) -> str:
    lang = report.language
    lab = LABELS[lang]
    rows = [
        (
            _line(r.subject.name),
            r.kind,
            lab["levels"][r.risk_level],
            ",".join(r.note.flags.rule_ids) or "-",
            _WRITE[lang].get(r.write, r.write or "-"),
        )
        for r in report.records
    ]
    head = _HEAD[lang]
    widths = [min(40, max([len(head[i])] + [len(str(row[i])) for row in rows])) for i in range(5)]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(str(c)[: widths[i]].ljust(widths[i]) for i, c in enumerate(cells)).rstrip()

    out = [line(head), line(tuple("-" * w for w in widths))]
    out += [line(row) for row in rows]
    for r in report.records:
        if not r.findings:
            continue
        out.append("")
        name = _line(f"{r.subject.name} ({r.kind} {r.subject.id})")
        out.append(f"{name} — {lab['levels'][r.risk_level]}")
        for f in sort_findings(r.findings):
            sev = lab["sev"]["waived" if f.status == "waived" else f.severity]
            out.append(f"  [{sev}] {f.rule_id}{_about(f)} {_line(f.message[lang])}")
            if f.status in ("fired", "waived"):
                out.append(f"      {lab['evidence']}: {_line(_evidence(f, lang))}")
            out.append(f"      {lab['advice']}: {_line(f.advice[lang])}")
            if f.clear_when is not None:
                out.append(f"      {lab['clear']}: {_line(f.clear_when.text[lang])}")
            if f.waiver:
                out.append(f"      {lab['waived_by']}: {_line(_waiver(f.waiver, lang))}")
    s = report.summary()
    out.append("")
    out.append(_summary_line(s, lang))
    out.extend(f"! {_line(w)}" for w in report.warnings)
    out.extend(f"i {lab['ops']}: {_line(g)}" for g in s.get("ops_data_gaps", []))
    return term_safe("\n".join(out))


def _line(text: str) -> str:
    """CRM text inside one line of terminal output (no line break, no control character)."""
    return redact.one_line(text)


def _waiver(w: Any, lang: str) -> str:
    by = f" ({w['by']})" if w.get("by") else ""
    return f"{w['until']}{by} — {w['reason']} [{w['where']}]"


def _summary_line(s: dict[str, Any], lang: str) -> str:
    if lang == "fr":
        return (
            f"{s['records_evaluated']} fiche(s) évaluée(s) ; notes écrites : "
            f"{s['notes_written']}, inchangées : {s['unchanged']}, à écrire : "
            f"{s['would_write']}, échecs : {s['failed']}"
        )
    return (
        f"{s['records_evaluated']} record(s) evaluated; notes written: {s['notes_written']}, "
        f"unchanged: {s['unchanged']}, would write: {s['would_write']}, "
        f"failed: {s['failed']}"
    )


def to_markdown(report: Report) -> str:
    lang = report.language
    lab = LABELS[lang]
    out = [f"# cmrules — {report.as_of.date().isoformat()}", ""]
    for r in report.records:
        out.append(f"## {_md(r.subject.name)} ({r.kind}) — {lab['levels'][r.risk_level]}")
        out.append("")
        if not r.findings:
            out.append(lab["none"])
            out.append("")
            continue
        for f in sort_findings(r.findings):
            sev = lab["sev"]["waived" if f.status == "waived" else f.severity]
            head = f"{sev} {f.rule_id}{_md(_about(f))}"
            out.append(f"- **{head}** {_md(f.message[lang])}")
            out.append(f"  - {lab['question']}: {_md(f.question[lang])}")
            if f.status in ("fired", "waived"):
                out.append(f"  - {lab['evidence']}: {_md(_evidence(f, lang))}")
            out.append(f"  - {lab['advice']}: {_md(f.advice[lang])}")
            if f.clear_when is not None:
                out.append(f"  - {lab['clear']}: {_md(f.clear_when.text[lang])}")
            if f.waiver:
                out.append(f"  - {lab['waived_by']}: {_md(_waiver(f.waiver, lang))}")
        out.append("")
    out.append(_summary_line(report.summary(), lang))
    return term_safe("\n".join(out))


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
        if r.write == "would_write":
            out.append(f"===== {_line(r.subject.name)} ({r.kind} {r.subject.id}) =====")
            out.append(r.note.text)
            out.append("")
    return term_safe("\n".join(out))
