"""Property: the engine agrees with a straightforward reading of every rule's condition,
on random signal values — numbers, booleans, missing values and CRM-style strings."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cmrules.engine import CANNOT_ASSESS, FIRED, Engine
from cmrules.rulebook import All, Cmp, Not
from cmrules.signals import REGISTRY


def read(spec_type: str, raw):
    """A plain reading of a raw value: the oracle, written independently of cmrules.values."""
    if raw is None:
        return None
    if spec_type == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        return {"true": True, "false": False, "1": True, "0": False}.get(text)
    if isinstance(raw, bool):
        return None
    try:
        number = float(raw)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def kleene(cond, values):
    if isinstance(cond, Cmp):
        v = values.get(cond.signal)
        if v is None:
            return None
        c = cond.value
        return {"eq": v == c, "ne": v != c, "lt": v < c, "lte": v <= c, "gt": v > c, "gte": v >= c}[
            cond.op
        ]
    if isinstance(cond, Not):
        r = kleene(cond.item, values)
        return None if r is None else not r
    results = [kleene(i, values) for i in cond.items]
    if isinstance(cond, All):
        if False in results:
            return False
        return None if None in results else True
    if True in results:
        return True
    return None if None in results else False


def raw_value(spec_type: str):
    if spec_type == "bool":
        return st.one_of(
            st.none(),
            st.booleans(),
            st.sampled_from(["true", "false", "True", "FALSE", "", "yes?"]),
        )
    numbers = st.one_of(
        st.integers(-5, 1000), st.floats(-5, 1000, allow_nan=False).map(lambda f: round(f, 3))
    )
    return st.one_of(st.none(), numbers, numbers.map(str), st.sampled_from(["", "n/a", " 3 "]))


company_signals = [s for s in REGISTRY.values() if s.subject == "company"]
values_strategy = st.fixed_dictionaries({s.name: raw_value(s.type) for s in company_signals})


def plain_reading(rulebook, raw):
    typed = {s.name: read(s.type, raw[s.name]) for s in company_signals}
    expected = set()
    for rule in rulebook.for_subject("company"):
        verdict = kleene(rule.condition(), typed)
        if verdict is True:
            expected.add((rule.id, FIRED))
        elif verdict is None:
            expected.add((rule.id, CANNOT_ASSESS))
    return expected


@pytest.fixture(scope="module")
def host_engine(rulebook):
    return Engine(rulebook, backend="host")


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=values_strategy)
def test_engine_matches_plain_reading(engine, rulebook, raw):
    got = {(o.rule_id, o.status) for o in engine.evaluate("company", raw)}
    assert got == plain_reading(rulebook, raw)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=values_strategy)
def test_direct_core_agrees_with_the_python_host(engine, host_engine, rulebook, raw):
    # differential: the C module driven directly, durable_rules' own Python host on the very
    # same compiled rulesets, and the plain three-valued reading give the same outcomes
    assert engine.backend == "direct"
    direct = engine.evaluate("company", raw)
    host = host_engine.evaluate("company", raw)
    assert direct == host  # same outcomes, in the same order
    assert {(o.rule_id, o.status) for o in direct} == plain_reading(rulebook, raw)


def test_direct_core_agrees_with_the_python_host_on_two_thousand_entities(
    engine, host_engine, rulebook
):
    # a seeded portfolio-sized run (the hypothesis test above shrinks; this one is wide)
    rng = random.Random(11)
    pool = {
        s.name: [None, 0, 1, 2, 3, 7, 30, 90, 181, 400, "12", "n/a", True, False, "false"]
        for s in company_signals
    }
    for _ in range(2_000):
        raw = {name: rng.choice(values) for name, values in pool.items()}
        direct = engine.evaluate("company", raw)
        assert direct == host_engine.evaluate("company", raw), raw
        assert {(o.rule_id, o.status) for o in direct} == plain_reading(rulebook, raw), raw
