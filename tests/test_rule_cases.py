"""Data-driven rule cases: one test per case in ``tests/cases/CMRxxx.yaml``.

Each case gives signal values (typed, or as the strings a CRM sends), optional parameter
overrides for its rule, and the expected outcome of that rule: ``fired``, ``silent`` (the rule
produced no outcome) or ``cannot_assess``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from cmrules import rulebook
from cmrules.engine import Engine

CASES_DIR = Path(__file__).parent / "cases"
EXPECTATIONS = ("fired", "silent", "cannot_assess")
CASE_KEYS = {"name", "signals", "expect", "params"}

Params = tuple[tuple[str, Any], ...]


def load_case_file(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text("utf-8"))
    if not isinstance(data, dict) or set(data) != {"rule", "cases"}:
        raise ValueError(f"{path}: expected the keys 'rule' and 'cases'")
    if data["rule"] != path.stem:
        raise ValueError(f"{path}: rule {data['rule']!r} does not match the file name")
    if not isinstance(data["cases"], list) or not data["cases"]:
        raise ValueError(f"{path}: 'cases' must be a non-empty list")
    return data


def case_files() -> list[Path]:
    return sorted(CASES_DIR.glob("*.yaml"))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _params() -> Iterator[Any]:
    for path in case_files():
        data = load_case_file(path)
        for n, case in enumerate(data["cases"], 1):
            name = case.get("name", "") if isinstance(case, dict) else ""
            yield pytest.param(data["rule"], case, id=f"{data['rule']}-{n:02d}-{_slug(name)}")


@cache
def engine_for(rule_id: str | None, params: Params) -> Engine:
    """One compiled engine per distinct parameter override (the default one is shared)."""
    overrides = {rule_id: dict(params)} if rule_id is not None else None
    return Engine(rulebook.load(params=overrides))


def evaluate(rule_id: str, signals: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    engine = engine_for(rule_id, tuple(sorted(params.items()))) if params else engine_for(None, ())
    rule = engine.rulebook.get(rule_id)
    assert rule is not None, f"{rule_id} is not in the rulebook"
    statuses = {o.status for o in engine.evaluate(rule.subject, signals) if o.rule_id == rule_id}
    assert len(statuses) <= 1, f"{rule_id} gave contradictory outcomes {sorted(statuses)}"
    return statuses.pop() if statuses else "silent"


@pytest.mark.parametrize(("rule_id", "case"), list(_params()))
def test_rule_case(rule_id: str, case: Any) -> None:
    assert isinstance(case, dict), "a case is a mapping"
    assert set(case) <= CASE_KEYS, f"unknown case keys {sorted(set(case) - CASE_KEYS)}"
    assert case.get("name"), "every case has a name"
    assert case.get("expect") in EXPECTATIONS, f"expect must be one of {EXPECTATIONS}"
    signals = case.get("signals") or {}
    params = case.get("params") or {}
    rule = engine_for(None, ()).rulebook.get(rule_id)
    assert rule is not None, f"no rule {rule_id}"
    # a misspelt signal would be silently unknown and pass any cannot_assess case
    stray = set(signals) - set(rule.signals)
    assert not stray, f"{sorted(stray)} are not signals of {rule_id} ({rule.signals})"
    assert evaluate(rule_id, signals, params) == case["expect"]
