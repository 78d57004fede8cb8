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


def render(
    subject: Organisation,
    findings: Sequence[Finding],
    *,
    language: str,
    as_of: datetime,
    vendor: Organisation | None = None,
    limit: int = MAX_NOTE_CHARS,
) -> RenderedNote:
    """Render the note (HTML and plain text) and the flag values for one record."""
    lab = LABELS[language]
    ordered = sort_findings(findings)
    fp = note_fingerprint(ordered, language)
    level = risk_level(ordered)
    footer = f"{FOOTER_PREFIX}{fp}"
    esc = html.escape

    head_txt = [lab["title"].format(date=as_of.date().isoformat())]
    head_html = [f"<p><strong>{esc(head_txt[0])}</strong></p>"]
    if vendor is not None and vendor.id != subject.id:
        line = lab["vendor"].format(name=vendor.name)
        head_txt.append(line)
        head_html.append(f"<p>{esc(line)}</p>")
    risk = lab["risk"].format(level=lab["levels"][level])
    head_txt.append(risk)
    head_html.append(f"<p><strong>{esc(risk)}</strong></p>")
    if not ordered:
        head_txt.append(lab["none"])
        head_html.append(f"<p>{esc(lab['none'])}</p>")

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

    html_body = _fit("".join(head_html), blocks_html, f"<p>{esc(footer)}</p>", limit, lab, True)
    text_body = _fit("\n".join(head_txt) + "\n\n", blocks_txt, "\n" + footer, limit, lab, False)
    flags = Flags(
        risk_level=level,
        rule_ids=tuple(sorted({f.rule_id for f in fired})),
        evaluated_at=as_of,
        fingerprint=fp,
    )
    return RenderedNote(subject, fp, html_body, text_body, flags, language)


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
