"""Scenario cases from the article, judged as a careful reader would.

``tests/scenarios/cNN-*.yaml``: for each of the article's twelve criteria, situations a reader
would flag, would not flag, and would say "cannot tell" about — each with a one-line
justification (``why``) quoting the article.  A case is a small dataset (see
:mod:`casedata`) evaluated through signals and the compiled rules, for client ``c1`` in its
engagement with ``vendor`` (default ``v1``) — or for the vendor record (``subject: vendor``).

Verdicts over the case's ``rules`` (default: every rule of the criterion for that subject):
``flag`` — one of them fired; ``cannot_tell`` — none fired and one could not be assessed;
``no_flag`` — none fired and all could be assessed.  ``says`` (optional) is a fragment of the
English message of the deciding finding(s).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from casedata import CASE_KEYS, dataset, settings, when

from cmrules import findings, rulebook, signals
from cmrules.engine import CANNOT_ASSESS, FIRED, Engine

DIR = Path(__file__).parent / "scenarios"
VERDICTS = ("flag", "no_flag", "cannot_tell")
KEYS = CASE_KEYS | {"vendor", "says"}


@cache
def engine() -> Engine:
    return Engine(rulebook.load())


def _params() -> list[Any]:
    out = []
    for path in sorted(DIR.glob("c*.yaml")):
        data = yaml.safe_load(path.read_text("utf-8"))
        for n, case in enumerate(data["cases"], 1):
            slug = re.sub(r"[^a-z0-9]+", "-", case.get("name", "").lower()).strip("-")[:60]
            out.append(
                pytest.param(data["criterion"], case, id=f"c{data['criterion']:02d}-{n}-{slug}")
            )
    return out


def judge(criterion: int, case: dict[str, Any]) -> tuple[str, list[findings.Finding]]:
    ds = dataset(case)
    as_of = when(case["as_of"])
    assert as_of is not None
    subject = case.get("subject", "company")
    book = engine().rulebook
    wanted = case.get("rules") or [
        r.id for r in book if r.criterion == criterion and r.subject == subject
    ]
    sset = settings(case.get("settings"))
    vendor = ds.organisations[case.get("vendor", "v1")]
    if subject == "vendor":
        values = signals.compute(signals.VendorContext(ds, vendor, as_of, sset))
        who = findings.Subject(vendor.id, vendor.name, "vendor")
    else:
        company = ds.organisations["c1"]
        values = signals.compute(signals.CompanyContext(ds, company, vendor, as_of, sset))
        who = findings.Subject(company.id, company.name, "company", vendor.id, vendor.name)
    outcomes = [o for o in engine().evaluate(subject, {k: v.value for k, v in values.items()})]
    found = [
        findings.build(book.get(o.rule_id), o, who, values)  # type: ignore[arg-type]
        for o in outcomes
        if o.rule_id in wanted
    ]
    statuses = {f.status for f in found}
    if FIRED in statuses:
        return "flag", [f for f in found if f.status == FIRED]
    if CANNOT_ASSESS in statuses:
        return "cannot_tell", found
    return "no_flag", found


@pytest.mark.parametrize(("criterion", "case"), _params())
def test_scenario(criterion: int, case: dict[str, Any]) -> None:
    assert set(case) <= KEYS, f"unknown keys {sorted(set(case) - KEYS)}"
    assert case.get("why"), "every scenario says why, citing the article"
    assert case["verdict"] in VERDICTS
    verdict, found = judge(criterion, case)
    messages = " | ".join(f"{f.rule_id}: {f.message['en']}" for f in found)
    assert verdict == case["verdict"], f"{verdict} ({messages}) — {case['why']}"
    if "says" in case:
        assert case["says"] in messages, messages


def test_every_criterion_has_a_flag_a_no_flag_and_a_cannot_tell() -> None:
    seen: dict[int, set[str]] = {}
    for param in _params():
        criterion, case = param.values
        seen.setdefault(criterion, set()).add(case["verdict"])
    assert sorted(seen) == list(range(1, 13))
    assert all(v == set(VERDICTS) for v in seen.values()), seen
