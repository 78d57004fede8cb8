"""Meta-tests that keep the rule catalogue honest."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from cmrules import rulebook
from cmrules.rulebook import SEVERITIES, signals_of
from cmrules.signals import REGISTRY

CASES_DIR = Path(__file__).parent / "cases"
RULE_ID = re.compile(r"^CMR\d{3}$")
RULE_NAME = re.compile(r"^[a-z]+\.[a-z0-9]+(-[a-z0-9]+)*$")
CRITERIA = range(1, 13)  # PRODUCT.md: 10 criteria of the article + 2 from the readers' comments

RULES = rulebook.load().rules


def raw_rules() -> list[dict]:
    out = []
    for path in rulebook.rule_files([rulebook.builtin_rules_dir()]):
        out.extend(yaml.safe_load(path.read_text("utf-8"))["rules"])
    return out


def test_the_catalogue_is_not_empty() -> None:
    assert len(RULES) >= 21


def test_rule_ids_are_unique_across_files() -> None:
    ids = [r["id"] for r in raw_rules()]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates


def test_rule_names_are_unique() -> None:
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_id_and_name_format(rule: rulebook.Rule) -> None:
    assert RULE_ID.match(rule.id), f"{rule.id}: ids look like CMR001"
    assert RULE_NAME.match(rule.name), f"{rule.id}: names look like side.what-it-checks"
    assert rule.severity in SEVERITIES


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_has_both_languages(rule: rulebook.Rule) -> None:
    for field in ("question", "message", "advice"):
        text = getattr(rule, field)
        for lang in ("fr", "en"):
            assert str(text.get(lang) or "").strip(), f"{rule.id}: {field}.{lang} is empty"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_signals_exist_for_its_subject(rule: rulebook.Rule) -> None:
    names = signals_of(rule.when)
    assert names, f"{rule.id} reads no signal"
    for name in names:
        assert name in REGISTRY, f"{rule.id}: unknown signal {name}"
        subject = REGISTRY[name].subject
        assert subject == rule.subject, f"{rule.id}: {name} is a {subject} signal"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_params_are_used(rule: rulebook.Rule) -> None:
    def params_of(cond: rulebook.Condition) -> set[str]:
        if isinstance(cond, rulebook.Cmp):
            return {cond.param} if cond.param else set()
        if isinstance(cond, rulebook.Not):
            return params_of(cond.item)
        return set().union(*(params_of(i) for i in cond.items))

    used = params_of(rule.when)
    if any(REGISTRY[s].window_days for s in rule.signals):
        used.add(rulebook.WINDOW_PARAM)  # read by the rule's windowed signals
    assert set(rule.params) == used, f"{rule.id}: a declared parameter is unused"


#: a number of days, weeks, months or years written into a message instead of a placeholder
HARD_CODED_PERIOD = re.compile(
    r"\d+\s*(days?|jours?|weeks?|semaines?|months?|mois|years?|ans?|années?)\b", re.I
)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_messages_name_windows_through_placeholders(rule: rulebook.Rule) -> None:
    """Windows are declared once (signal parameters, overridable per rule): a message that
    writes "90 days" would lie as soon as the window is changed or only partly observed."""
    for lang in ("fr", "en"):
        hit = HARD_CODED_PERIOD.search(rule.message[lang])
        assert hit is None, f"{rule.id} message.{lang} hard-codes {hit.group(0)!r}"


def test_hard_coded_period_check_catches_a_number_of_days() -> None:
    assert HARD_CODED_PERIOD.search("3 meeting(s) over 90 days")
    assert HARD_CODED_PERIOD.search("aucune revue sur 12 mois")
    assert not HARD_CODED_PERIOD.search("over the last {meetings_per_month.days} days")


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_has_cases_with_every_expectation(rule: rulebook.Rule) -> None:
    path = CASES_DIR / f"{rule.id}.test.yaml"
    assert path.exists(), f"{rule.id}: write {path.relative_to(CASES_DIR.parent.parent)}"
    data = yaml.safe_load(path.read_text("utf-8"))
    assert data["rule"] == rule.id
    expected = {c["expect"] for c in data["cases"]}
    assert expected >= {"fired", "silent", "cannot_assess"}, f"{rule.id}: only {sorted(expected)}"


def test_every_case_file_names_a_rule() -> None:
    ids = {r.id for r in RULES}
    orphans = sorted(
        p.name for p in CASES_DIR.glob("*.yaml") if p.name.removesuffix(".test.yaml") not in ids
    )
    assert not orphans


@pytest.mark.parametrize("criterion", CRITERIA)
def test_every_criterion_has_a_rule(criterion: int) -> None:
    assert any(r.criterion == criterion for r in RULES), f"criterion {criterion} has no rule"


def test_criteria_are_the_products() -> None:
    assert {r.criterion for r in RULES} <= set(CRITERIA)


def test_several_internal_contacts_giving_directions_is_flagged() -> None:
    rule = rulebook.load().get("CMR001")
    assert rule is not None
    assert (rule.subject, rule.criterion, rule.severity) == ("company", 1, "high")
    assert rule.when == rulebook.Cmp("directing_contacts", "gt", param="max_directing_contacts")
    assert rule.params["max_directing_contacts"] == 1


def test_leadership_not_on_board_is_flagged() -> None:
    rule = rulebook.load().get("CMR004")
    assert rule is not None
    assert (rule.subject, rule.criterion, rule.severity) == ("company", 3, "high")
    assert set(rule.signals) == {"executive_sponsor", "exec_meetings_180d"}
    assert isinstance(rule.when, rulebook.AnyOf)
