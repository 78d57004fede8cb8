"""Scenario cases from the article for prospects (issue #15), judged as a careful reader would.

``tests/scenarios/prospects.yaml``: for criteria 1–5 and the impact-measurement comment (12),
prospects a reader would flag, would not flag, and would say "cannot tell" about — each with a
one-line justification (``why``) quoting the article.  The case is a company with no contract
yet (a ``prospect`` engagement with ``v1`` unless the case gives its own), evaluated through
the prospect signals and the compiled prospect rules, with the prospect thresholds.
``readiness`` (optional) checks the verdict over every prospect rule.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from casedata import CASE_KEYS, dataset, settings, when

from cmrules import findings, readiness, rulebook, signals
from cmrules.engine import CANNOT_ASSESS, FIRED, Engine

CASES = Path(__file__).parent / "scenarios" / "prospects.yaml"
KEYS = CASE_KEYS | {"criterion", "readiness", "says"}


@cache
def engine() -> Engine:
    return Engine(rulebook.load())


def _cases() -> list[Any]:
    data = yaml.safe_load(CASES.read_text("utf-8"))
    out = []
    for n, case in enumerate(data["cases"], 1):
        slug = re.sub(r"[^a-z0-9]+", "-", case["name"].lower()).strip("-")[:60]
        out.append(pytest.param(case, id=f"p{case['criterion']:02d}-{n}-{slug}"))
    return out


def judge(case: dict[str, Any]) -> tuple[str, list[findings.Finding], readiness.Readiness]:
    case = {"engagements": [{"status": "prospect"}], **case}
    ds = dataset(case)
    as_of = when(case["as_of"])
    assert as_of is not None
    company = ds.organisations["c1"]
    assert all(e.prospect for e in ds.engagements), "a prospect has no signed engagement"
    context = signals.ProspectContext(ds, company, as_of, settings(case.get("settings")))
    values = signals.compute(context)
    rules = {r.id: r for r in engine().rulebook.for_subject("prospect")}
    who = findings.Subject(company.id, company.name, "prospect")
    outcomes = engine().evaluate("prospect", {k: v.value for k, v in values.items()})
    every = [findings.build(rules[o.rule_id], o, who, values, as_of) for o in outcomes]
    found = [f for f in every if rules[f.rule_id].criterion == case["criterion"]]
    ready = readiness.assess(every, len(rules))
    statuses = {f.status for f in found}
    if FIRED in statuses:
        return "flag", [f for f in found if f.status == FIRED], ready
    if CANNOT_ASSESS in statuses:
        return "cannot_tell", found, ready
    return "no_flag", found, ready


@pytest.mark.parametrize("case", _cases())
def test_prospect_scenario(case: dict[str, Any]) -> None:
    assert set(case) <= KEYS, f"unknown keys {sorted(set(case) - KEYS)}"
    assert case.get("why"), "every scenario says why, citing the article"
    verdict, found, ready = judge(case)
    messages = " | ".join(f"{f.rule_id}: {f.message['en']}" for f in found)
    assert verdict == case["verdict"], f"{verdict} ({messages}) — {case['why']}"
    if "says" in case:
        assert case["says"] in messages, messages
    if "readiness" in case:
        assert ready.level == case["readiness"], (ready, case["why"])


def test_every_prospect_criterion_has_a_flag_a_no_flag_and_a_cannot_tell() -> None:
    seen: dict[int, set[str]] = {}
    for param in _cases():
        (case,) = param.values
        seen.setdefault(case["criterion"], set()).add(case["verdict"])
    prospect_criteria = {r.criterion for r in engine().rulebook.for_subject("prospect")}
    assert set(seen) == prospect_criteria == {1, 2, 3, 4, 5, 12}
    assert all(v == {"flag", "no_flag", "cannot_tell"} for v in seen.values()), seen


def test_unknowns_become_the_questions_in_the_prospects_words() -> None:
    """Nothing known yet: every prospect criterion is a question, in the article's words as
    asked to a prospect, once per criterion (CMR001 and CMR002 ask the same question)."""
    _, _, ready = judge({"criterion": 1, "as_of": "2026-11-20T12:00:00Z"})
    assert ready.level == readiness.NOT_READY and ready.mostly_unknown
    english = [a["en"] for a in ready.asks]
    assert "Who will be the single contact for the agency?" in english
    assert any(q.startswith("Has leadership been told about the project") for q in english)
    assert len(english) == len(set(english)) == 6
    assert "Qui sera l’interlocuteur unique de l’agence ?" in [a["fr"] for a in ready.asks]
