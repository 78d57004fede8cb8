"""Render one note per record: worst first, in French or English, HTML-escaped.

CRM-sourced text (names, titles) is data: it is only ever inserted through ``html.escape``
and never used as a template.  The footer line ``cmrules:<fingerprint>`` lets a connector
recognise a note it already wrote (crash safety).
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from .connector import Flags, RenderedNote
from .engine import FIRED
from .findings import Finding, risk_level, sort_findings
from .model import Organisation
from .redact import one_line

MAX_NOTE_CHARS = 65_536
FOOTER_PREFIX = "cmrules:"

LABELS: dict[str, dict[str, Any]] = {
    "fr": {
        "title": "cmrules — évaluation du {date}",
        "vendor": "Prestataire : {name}",
        "risk": "Niveau de risque : {level}",
        "question": "Question",
        "finding": "Constat",
        "evidence": "Preuves",
        "advice": "À faire",
        "cannot": "Impossible d’évaluer",
        "none": "Aucun risque détecté.",
        "more": "… et {n} constat(s) de plus (voir « cmrules evaluate »).",
        "company": "Dans l’entreprise",
        "vendor_side": "Chez le prestataire",
        "levels": {
            "high": "élevé",
            "medium": "moyen",
            "low": "faible",
            "info": "information",
            "none": "aucun",
        },
        "sev": {"high": "ÉLEVÉ", "medium": "MOYEN", "low": "FAIBLE", "info": "INFO"},
    },
    "en": {
        "title": "cmrules — evaluation of {date}",
        "vendor": "Vendor: {name}",
        "risk": "Risk level: {level}",
        "question": "Question",
        "finding": "Finding",
        "evidence": "Evidence",
        "advice": "Next step",
        "cannot": "Cannot assess",
        "none": "No risk found.",
        "more": "… and {n} more finding(s) (see 'cmrules evaluate').",
        "company": "Inside the company",
        "vendor_side": "At the vendor",
        "levels": {
            "high": "high",
            "medium": "medium",
            "low": "low",
            "info": "information",
            "none": "none",
        },
        "sev": {"high": "HIGH", "medium": "MEDIUM", "low": "LOW", "info": "INFO"},
    },
}


def note_fingerprint(findings: Sequence[Finding], language: str) -> str:
    parts = sorted(f.fingerprint for f in findings)
    return hashlib.sha256((language + "|" + ",".join(parts)).encode()).hexdigest()[:20]


def _evidence_text(f: Finding, language: str) -> str:
    from .findings import format_records, format_value

    bits = []
    for e in f.evidence:
        value = format_value(e.signal, e.value, language)
        recs = f" ({format_records(e.records, language)})" if e.records else ""
        bits.append(f"{e.signal} = {value}{recs}")
    return "; ".join(bits)


def _blocks(ordered: Sequence[Finding], language: str) -> tuple[list[str], list[str]]:
    """Text and HTML blocks for findings: fired ones (worst first), then cannot-assess."""
    lab = LABELS[language]
    esc = html.escape
    fired = [f for f in ordered if f.status == FIRED]
    cannot = [f for f in ordered if f.status != FIRED]
    blocks_txt: list[str] = []
    blocks_html: list[str] = []
    for f in fired:
        side = lab["company"] if f.side == "company" else lab["vendor_side"]
        title = f"[{lab['sev'][f.severity]}] {f.rule_id} · {side}"
        blocks_txt.append(
            "\n".join(
                [
                    title,
                    f"  {lab['question']}: {f.question[language]}",
                    f"  {lab['finding']}: {f.message[language]}",
                    f"  {lab['evidence']}: {_evidence_text(f, language)}",
                    f"  {lab['advice']}: {f.advice[language]}",
                ]
            )
        )
        blocks_html.append(
            f"<p><strong>{esc(title)}</strong><br>"
            f"<em>{esc(lab['question'])}</em> : {esc(f.question[language])}<br>"
            f"<em>{esc(lab['finding'])}</em> : {esc(f.message[language])}<br>"
            f"<em>{esc(lab['evidence'])}</em> : {esc(_evidence_text(f, language))}<br>"
            f"<em>{esc(lab['advice'])}</em> : {esc(f.advice[language])}</p>"
        )
    if cannot:
        items = [f"{f.rule_id}: {f.message[language]} {f.advice[language]}" for f in cannot]
        blocks_txt.append(
            f"{lab['cannot']} ({len(cannot)}):\n" + "\n".join(f"  - {i}" for i in items)
        )
        blocks_html.append(
            f"<p><strong>{esc(lab['cannot'])} ({len(cannot)})</strong></p><ul>"
            + "".join(f"<li>{esc(i)}</li>" for i in items)
            + "</ul>"
        )
    return blocks_txt, blocks_html


def render(
    subject: Organisation,
    findings: Sequence[Finding],
    *,
    language: str,
    as_of: datetime,
    vendors: Sequence[Organisation] = (),
    limit: int = MAX_NOTE_CHARS,
) -> RenderedNote:
    """Render the note (HTML and plain text) and the flag values for one record.

    A company working with one vendor names it in the heading; with several, the findings are
    grouped under each vendor's name (worst vendor first), so every finding says which agency
    it is about."""
    lab = LABELS[language]
    ordered = sort_findings(findings)
    fp = note_fingerprint(ordered, language)
    level = risk_level(ordered)
    footer = f"{FOOTER_PREFIX}{fp}"
    esc = html.escape

    head_txt = [lab["title"].format(date=as_of.date().isoformat())]
    head_html = [f"<p><strong>{esc(head_txt[0])}</strong></p>"]
    named = [v for v in vendors if v.id != subject.id]
    if len(named) == 1:
        line = lab["vendor"].format(name=one_line(named[0].name))  # CRM text: no raw ESC
        head_txt.append(line)
        head_html.append(f"<p>{esc(line)}</p>")
    risk = lab["risk"].format(level=lab["levels"][level])
    head_txt.append(risk)
    head_html.append(f"<p><strong>{esc(risk)}</strong></p>")
    if not ordered:
        head_txt.append(lab["none"])
        head_html.append(f"<p>{esc(lab['none'])}</p>")

    blocks_txt: list[str] = []
    blocks_html: list[str] = []
    if len(named) > 1:
        groups = {v.id: [f for f in ordered if f.subject.vendor_id == v.id] for v in named}
        names = {v.id: one_line(v.name) for v in named}
        for vid in sorted(groups, key=lambda v: _group_rank(groups[v], names[v])):
            line = f"== {lab['vendor'].format(name=names[vid])} — "
            line += lab["risk"].format(level=lab["levels"][risk_level(groups[vid])])
            txt, htm = _blocks(groups[vid], language)
            blocks_txt.append(line + ("\n\n" + "\n\n".join(txt) if txt else ""))
            blocks_html.append(f"<h3>{esc(line[3:])}</h3>" + "".join(htm))
    else:
        blocks_txt, blocks_html = _blocks(ordered, language)

    html_body = _fit("".join(head_html), blocks_html, f"<p>{esc(footer)}</p>", limit, lab, True)
    text_body = _fit("\n".join(head_txt) + "\n\n", blocks_txt, "\n" + footer, limit, lab, False)
    flags = Flags(
        risk_level=level,
        rule_ids=tuple(sorted({f.rule_id for f in ordered if f.status == FIRED})),
        evaluated_at=as_of,
        fingerprint=fp,
    )
    return RenderedNote(subject, fp, html_body, text_body, flags, language)


def _group_rank(findings: Sequence[Finding], name: str) -> tuple[int, str]:
    fired = [f.rank for f in findings if f.status == FIRED]
    return (-max(fired, default=-1), name.casefold())


def _fit(head: str, blocks: list[str], footer: str, limit: int, lab: dict, as_html: bool) -> str:
    """Join blocks, dropping the last ones (with an 'N more' line) to stay within ``limit``."""
    sep = "" if as_html else "\n\n"
    body = head + sep.join(blocks) + footer
    if len(body) <= limit:
        return body
    kept: list[str] = []
    for i, block in enumerate(blocks):
        more = lab["more"].format(n=len(blocks) - i)
        more = f"<p>{html.escape(more)}</p>" if as_html else f"\n\n{more}"
        candidate = head + sep.join([*kept, block])
        rest = len(blocks) - i - 1
        tail = lab["more"].format(n=rest) if rest else ""
        tail = (f"<p>{html.escape(tail)}</p>" if as_html else f"\n\n{tail}") if tail else ""
        if len(candidate + tail + footer) > limit:
            return head + sep.join(kept) + more + footer
        kept.append(block)
    return head + sep.join(kept) + footer  # pragma: no cover - loop always returns
