"""What a rule contributes to its findings is computed once per rule and kept on the rule:
never stale for another rule (same id, other thresholds), gone with the rule."""

from __future__ import annotations

import gc
import weakref
from dataclasses import replace

from cmrules.engine import CANNOT_ASSESS, FIRED, Outcome
from cmrules.findings import Subject, build
from cmrules.signals import SignalValue

SUBJECT = Subject("c1", "Acme", "company", "v1")
TWO = {"directing_contacts": SignalValue(2)}


def _with_limit(rulebook, limit):
    rule = rulebook.get("CMR001")
    text = {"fr": "limite {max_directing_contacts}", "en": "limit {max_directing_contacts}"}
    return replace(rule, message=text, params={"max_directing_contacts": limit})


def test_a_profile_threshold_is_never_read_from_another_rule(rulebook):
    # a profile or a prospect copies a rule with other thresholds: each copy says its own
    one, three = _with_limit(rulebook, 1), _with_limit(rulebook, 3.5)
    assert build(one, Outcome("CMR001", FIRED), SUBJECT, TWO).message["en"] == "limit 1"
    assert build(three, Outcome("CMR001", FIRED), SUBJECT, TWO).message["fr"] == "limite 3,5"
    assert build(one, Outcome("CMR001", FIRED), SUBJECT, TWO).message["fr"] == "limite 1"


def test_the_constants_go_with_their_rule(rulebook):
    # a long-lived process loading rules again and again keeps a flat memory: nothing outside
    # the rule holds what was computed for it
    for limit in range(30):
        rule = _with_limit(rulebook, limit)
        f = build(rule, Outcome("CMR001", FIRED), SUBJECT, TWO)
        assert f.message["en"] == f"limit {limit}"
        assert "_finding_constants" in rule.__dict__
        gone = weakref.ref(rule)
        del rule, f
        gc.collect()
        assert gone() is None


def test_cannot_assess_texts_are_the_same_when_remembered(rulebook):
    # the second record with the same gap reads the same sentence as the first
    rule = rulebook.get("CMR001")
    first = build(rule, Outcome("CMR001", CANNOT_ASSESS), SUBJECT, {})
    again = build(rule, Outcome("CMR001", CANNOT_ASSESS), Subject("c2", "B", "company"), {})
    assert first.message["fr"] == again.message["fr"]
    assert first.message["en"].startswith("Cannot assess: missing data (")
    assert first.fingerprint != again.fingerprint  # another record, another flag
