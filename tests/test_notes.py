from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from cmrules import notes
from cmrules.engine import FIRED, Outcome
from cmrules.findings import Subject, build
from cmrules.model import Organisation, OrgKind
from cmrules.signals import Ref, SignalValue

AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)
EVIL = '<script>alert("x")</script> & Co'


def finding(rulebook, rule_id, values):
    rule = rulebook.get(rule_id)
    return build(rule, Outcome(rule_id, FIRED), Subject("c1", EVIL, "company", "v1"), values)


def test_crm_text_is_escaped_in_html(rulebook):
    org = Organisation("c1", EVIL, OrgKind.COMPANY)
    f = finding(
        rulebook,
        "CMR001",
        {
            "directing_contacts": SignalValue(
                2,
                (Ref("contact", "p1", "<img src=x onerror=alert(1)>"), Ref("contact", "p2", "{x}")),
            )
        },
    )
    vendor = Organisation("v1", "<b>Agence</b>", OrgKind.VENDOR)
    note = notes.render(org, [f], language="en", as_of=AS_OF, vendors=[vendor])
    assert "<script>" not in note.html and "<img" not in note.html and "<b>" not in note.html
    assert "&lt;img src=x onerror=alert(1)&gt;" in note.html
    assert "{x}" in note.text  # CRM text is data, never re-read as a template
    assert note.html.count("cmrules:" + note.fingerprint) == 1


def test_worst_first_and_both_languages(rulebook):
    org = Organisation("c1", "Acme", OrgKind.COMPANY)
    low = finding(rulebook, "CMR017", {"escalation_plan": SignalValue(False)})
    high = finding(rulebook, "CMR001", {"directing_contacts": SignalValue(3)})
    en = notes.render(org, [low, high], language="en", as_of=AS_OF)
    fr = notes.render(org, [low, high], language="fr", as_of=AS_OF)
    assert en.text.index("CMR001") < en.text.index("CMR017")
    assert en.text.startswith("High risk: 2 open flags. First step: Name a single project owner")
    assert fr.text.startswith("Risque élevé\u202f: 2 points ouverts. À faire d’abord\u202f:")
    assert en.fingerprint != fr.fingerprint
    assert en.flags.rule_ids == ("CMR001", "CMR017") and en.flags.risk_level == "high"


def test_fingerprint_ignores_time_drift_but_not_evidence(rulebook):
    org = Organisation("c1", "Acme", OrgKind.COMPANY)
    ref = (Ref("meeting", "m1", "kick-off"),)

    def fp(days, refs=ref):
        f = finding(
            rulebook,
            "CMR010",
            {
                "days_since_last_meeting": SignalValue(days, refs),
                "meetings_per_month": SignalValue(0.0),
            },
        )
        return notes.render(org, [f], language="en", as_of=AS_OF).fingerprint

    assert fp(60) == fp(61)  # one more day since the same last meeting: same finding
    assert fp(60) != fp(60, (Ref("meeting", "m2", "review"),))


def test_long_notes_are_truncated_with_a_count(rulebook):
    org = Organisation("c1", "Acme", OrgKind.COMPANY)
    many = [Ref("contact", str(i), "x" * 50) for i in range(10)]
    fs = [
        finding(rulebook, rid, {"directing_contacts": SignalValue(10, tuple(many))})
        for rid in ("CMR001", "CMR002")
    ]
    fs += [finding(rulebook, "CMR017", {"escalation_plan": SignalValue(False)})]
    full = notes.render(org, fs, language="en", as_of=AS_OF)
    short = notes.render(org, fs, language="en", as_of=AS_OF, limit=len(full.html) - 200)
    assert len(short.html) <= len(full.html) - 200
    assert "… and 1 more (see" in short.html
    assert short.html.endswith(f"<p>cmrules:{short.fingerprint}</p>")
    assert len(notes.render(org, fs * 200, language="fr", as_of=AS_OF).html) <= 65_536


def test_no_findings_note(rulebook):
    note = notes.render(Organisation("c1", "Acme", OrgKind.COMPANY), [], language="fr", as_of=AS_OF)
    assert note.text.startswith("Aucun point ouvert.") and note.flags.risk_level == "none"


def test_bodies_are_rendered_when_first_read_and_survive_a_copy(rulebook):
    # a record that is not written (unchanged, --no-write) never pays for its note's bodies;
    # one that is gets exactly the note an eager rendering gives
    org = Organisation("c1", EVIL, OrgKind.COMPANY)
    values = {"directing_contacts": SignalValue(2, (Ref("contact", "p1", "Ann"),))}
    note = notes.render(org, [finding(rulebook, "CMR001", values)], language="fr", as_of=AS_OF)
    assert "text" not in vars(note) and "html" not in vars(note)
    assert note.flags.fingerprint == note.fingerprint and note.flags.rule_ids == ("CMR001",)
    text, html = note.text, note.html
    assert text.endswith("cmrules:" + note.fingerprint) and html.startswith("<p><strong>")
    other = Organisation("c2", "Autre", OrgKind.COMPANY)
    copy = replace(note, subject=other)  # as a helpdesk companion writes it
    assert (copy.subject, copy.text, copy.html) == (other, text, html)
