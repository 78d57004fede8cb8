"""What would clear a flag: generated from the rule's condition, parameters and evidence."""

from __future__ import annotations

from datetime import UTC, datetime

from cmrules.clearing import clear_when
from cmrules.rulebook import All, AnyOf, Cmp, Not, Rule
from cmrules.signals import Ref, SignalValue
from cmrules.text import NNBSP, count, day, plural, typography

AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)


def rule(when, **params):
    return Rule("T001", "t.t", "company", "company", 1, "medium", {"fr": "q", "en": "q"},
                params, when, {"fr": "m", "en": "m"}, {"fr": "a", "en": "a"}, "x:1")  # fmt: skip


def test_numbers_two_project_owners_where_one_is_the_limit(rulebook):
    """CMR001 with 2 directing contacts: the target is the parameter, worded from the labels."""
    cw = clear_when(rulebook.get("CMR001"), {"directing_contacts": SignalValue(2)}, AS_OF)
    assert cw.text["en"] == "at most 1 project owner instead of 2"
    assert cw.text["fr"] == "au plus 1 responsable de projet au lieu de 2"
    assert cw.tree == {"signal": "directing_contacts", "op": "lte", "value": 1, "current": 2}


def test_a_zero_limit_reads_as_none_with_the_noun_s_gender(rulebook):
    """CMR020/CMR013 allow no client without a referent, no unanswered request: "at most 0"
    would read badly; French agrees "aucun"/"aucune" with the noun."""
    cw = clear_when(rulebook.get("CMR020"), {"clients_without_referent": SignalValue(1)}, AS_OF)
    assert cw.text["fr"] == "aucun client sans référent (1 aujourd’hui)"
    assert cw.text["en"] == "no clients without a referent (now 1)"
    cw = clear_when(rulebook.get("CMR013"), {"unanswered_requests": SignalValue(3)}, AS_OF)
    assert cw.text["fr"] == "aucune demande sans réponse (3 aujourd’hui)"
    assert cw.tree == {"signal": "unanswered_requests", "op": "lte", "value": 0, "current": 3}


def test_config_parameter_changes_the_target(rulebook):
    from dataclasses import replace

    r = replace(rulebook.get("CMR001"), params={"max_directing_contacts": 2})
    cw = clear_when(r, {"directing_contacts": SignalValue(3)}, AS_OF)
    assert cw.text["en"] == "at most 2 project owners instead of 3"


def test_dates_a_meeting_since_the_last_one(rulebook):
    """CMR010 (any): both sides hold, so both must change; the date of the last meeting shows."""
    values = {"days_since_last_meeting": SignalValue(79), "meetings_per_month": SignalValue(0.33)}
    cw = clear_when(rulebook.get("CMR010"), values, AS_OF)
    assert cw.text["en"] == (
        "a meeting with the vendor (nothing since 2 September 2026, limit 45 days) and at least "
        "1 meeting per month over 90 days instead of 0.33"
    )
    # only the side that fails is asked for
    values["meetings_per_month"] = SignalValue(1.5)
    assert clear_when(rulebook.get("CMR010"), values, AS_OF).text["fr"] == (
        "une réunion avec le prestataire (rien depuis le 2 septembre 2026, limite 45 jours)"
    )


def test_rates_how_many_more_accepted_proposals(rulebook):
    """1 accepted of 4 (25 %), threshold 30 %: one more accepted proposal reaches 40 %."""
    recs = tuple(Ref("proposal", str(i), f"p{i}") for i in range(4))
    cw = clear_when(rulebook.get("CMR016"), {"proposal_acceptance_rate": SignalValue(0.25, recs)})
    assert cw.text["en"] == "1 more accepted proposal in a row to reach 30% (now 25% of 4)"
    recs10 = tuple(Ref("proposal", str(i), "") for i in range(10))
    r = rule(Cmp("proposal_acceptance_rate", "lt", param="min"), min=0.5)
    cw = clear_when(r, {"proposal_acceptance_rate": SignalValue(0.1, recs10)})
    assert cw.text["en"].startswith("8 more accepted proposals")  # (1+8)/(10+8) = 50 %


def test_booleans_all_and_not():
    """all -> one of (a fact that cannot change is left out); not -> the inner condition."""
    r = rule(All((Cmp("regulated_activity", "eq", True), Cmp("onboarding_done", "eq", False))))
    vals = {"regulated_activity": SignalValue(True), "onboarding_done": SignalValue(False)}
    assert clear_when(r, vals).text["en"] == "a vendor onboarding (glossary, validation circuit)"
    r = rule(All((Cmp("kpis_defined", "eq", False), Cmp("escalation_plan", "eq", False))))
    vals = {"kpis_defined": SignalValue(False), "escalation_plan": SignalValue(False)}
    cw = clear_when(r, vals)
    assert cw.text["fr"] == (
        "des indicateurs d’impact convenus ou une procédure de crise e-réputation convenue"
    )
    assert set(cw.tree) == {"any"}
    r = rule(Not(AnyOf((Cmp("kpis_defined", "eq", True), Cmp("escalation_plan", "eq", True)))))
    assert (
        clear_when(r, vals).text["en"]
        == "impact KPIs agreed or an agreed e-reputation crisis procedure"
    )


def test_nothing_to_clear_when_the_condition_does_not_hold(rulebook):
    assert clear_when(rulebook.get("CMR001"), {"directing_contacts": SignalValue(1)}) is None


def test_plurals_follow_each_language():
    assert count(0.5, "réunion", "réunions", "fr") == "0,5 réunion"
    assert count(2, "réunion", "réunions", "fr") == "2 réunions"
    assert count(0, "meeting", "meetings", "en") == "0 meetings"
    assert plural(1, "meeting", "meetings", "en") == "meeting"
    assert day(datetime(2026, 3, 1, tzinfo=UTC), "fr") == "1er mars 2026"


def test_french_typography_spares_urls_and_times():
    out = typography("Note : voir https://x.io/a:b à 10:30 ; l'équipe ?", "fr")
    assert out == f"Note{NNBSP}: voir https://x.io/a:b à 10:30{NNBSP}; l’équipe{NNBSP}?"
    assert typography("It's: fine", "en") == "It’s: fine"


def test_explain_says_what_would_clear_a_fired_rule():
    from cmrules import explain, service

    session = service.open_session()
    try:
        (item,) = explain.explain(session, company="Café Médina", rule="CMR010", as_of=AS_OF)
    finally:
        session.close()
    data = item.to_dict("en")["rules"][0]
    assert data["outcome"] == "fired"
    assert data["clear_when"]["text"].startswith("a meeting with the vendor (nothing since")
    assert "to clear: une réunion avec le prestataire" in explain.to_text([item], "fr")
