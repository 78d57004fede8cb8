"""The engine is immune to each durable_rules trap in durable-rules-facts.md (one test each)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading

import pytest

from cmrules import rulebook as rb
from cmrules.engine import (
    CANNOT_ASSESS,
    FIRED,
    SENTINEL,
    Engine,
    _Host,
    _rule_name,
    normalise_number,
)
from cmrules.errors import EngineError
from cmrules.rulebook import Cmp, Rule, Rulebook

# values making every company rule fire (thresholds at their defaults)
ALL_FIRE = {
    "directing_contacts": 0,  # CMR002 (CMR001 needs > 1: see ALL_FIRE_2)
    "owner_social_media_familiar": False,
    "executive_sponsor": False,
    "exec_meetings_180d": 0,
    "regulated_activity": True,
    "onboarding_done": False,
    "validation_median_days": 30.5,
    "days_since_offer_revision": 900,
    "vendor_referents": 0,
    "days_since_last_meeting": 120,
    "meetings_per_month": 0.0,
    "exchanges_per_month": 0.5,
    "median_first_reply_minutes": 2000.0,
    "unanswered_requests": 4,
    "strategy_reviews_365d": 0,
    "proposals_90d": 0,
    "proposal_acceptance_rate": 0.1,
    "escalation_plan": False,
    "kpis_defined": False,
    "days_since_kpi_report": 400,
}


def ids(outcomes, status=FIRED):
    return {o.rule_id for o in outcomes if o.status == status}


def test_an_entity_matching_many_rules_gets_every_finding(engine, rulebook):
    # trap: `post` consumes an event at the first matching rule; we assert facts instead
    fired = ids(engine.evaluate("company", ALL_FIRE))
    company_rules = {r.id for r in rulebook.for_subject("company")}
    assert fired == company_rules - {"CMR001", "CMR009"}  # exclusive with CMR002 / CMR008
    fired2 = ids(
        engine.evaluate("company", dict(ALL_FIRE, directing_contacts=3, vendor_referents=2))
    )
    assert {"CMR001", "CMR009"} <= fired2
    vendor = ids(
        engine.evaluate(
            "vendor",
            {
                "offer_revisions_365d": 0,
                "clients_without_referent": 2,
                "portfolio_proposals_90d": 0,
            },
        )
    )
    assert vendor == {"CMR019", "CMR020", "CMR021"}


@pytest.fixture(scope="module")
def host_engine(rulebook):
    return Engine(rulebook, backend="host")


@pytest.mark.parametrize(("backend", "n"), [("direct", 20_000), ("host", 4_000)])
def test_thousands_of_entities_in_one_process(engine, host_engine, backend, n):
    # trap: ~1,024 live sessions raise MemoryError; each entity's session is deleted
    e = engine if backend == "direct" else host_engine
    total = 0
    for i in range(n):
        out = e.evaluate("company", {"directing_contacts": i % 4, "vendor_referents": 1})
        total += "CMR001" in ids(out)
    assert total == n // 2  # i % 4 in (2, 3)


def test_strings_compare_as_numbers_and_booleans(engine):
    # trap: '10' > 9 is False in durable_rules (lexicographic); values are coerced first
    assert "CMR001" in ids(engine.evaluate("company", {"directing_contacts": "10"}))
    assert "CMR001" not in ids(engine.evaluate("company", {"directing_contacts": "1"}))
    assert "CMR007" in ids(engine.evaluate("company", {"days_since_offer_revision": "1000"}))
    assert "CMR003" in ids(engine.evaluate("company", {"owner_social_media_familiar": "false"}))
    assert "CMR003" not in ids(engine.evaluate("company", {"owner_social_media_familiar": "True"}))
    # '1' == 10 is True in durable_rules (prefix equality): not here
    assert "CMR002" not in ids(engine.evaluate("company", {"directing_contacts": "1"}))


def test_unparsable_strings_are_unknown_not_text(engine):
    out = engine.evaluate("company", {"directing_contacts": "abc", "kpis_defined": "maybe"})
    assert "CMR001" in ids(out, CANNOT_ASSESS)
    assert "CMR001" not in ids(out)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1e-05, None),
        (1e-7, None),
        (-1e-05, None),
        ("1e-05", None),
        (7.000001, FIRED),
        (1e16, FIRED),
        (1e300, FIRED),
        (2**70, FIRED),
        (float("nan"), CANNOT_ASSESS),
        (float("inf"), CANNOT_ASSESS),
        ("NaN", CANNOT_ASSESS),
    ],
)
def test_awkward_numbers_never_crash(engine, value, expected):
    # trap: 1e-05 / 1e+16 give parse error 204, inf error 202, ints saturate
    out = engine.evaluate("company", {"validation_median_days": value})
    got = {o.status for o in out if o.rule_id == "CMR006"}
    assert got == ({expected} if expected else set())


def test_normalise_number():
    assert "." in repr(normalise_number(1e-05)).split("e")[0]
    assert normalise_number(1e16) == 10**16
    assert normalise_number(float("nan")) is None
    assert normalise_number(2**70) == 2**62


@pytest.mark.parametrize("backend", ["direct", "host"])
def test_unknown_signal_is_cannot_assess_and_never_loops(engine, backend):
    # trap: $nex rules re-match the state fact forever; every rule is ANDed with _k (the
    # direct path also never writes the state back). Run in a subprocess with a timeout, so
    # a regression fails instead of hanging.
    code = textwrap.dedent("""
        from cmrules import rulebook
        from cmrules.engine import Engine, CANNOT_ASSESS
        e = Engine(rulebook.load(), backend="BACKEND")
        out = e.evaluate("company", {})
        assert all(o.status == CANNOT_ASSESS for o in out)
        print(len({o.rule_id for o in out}))
    """).replace("BACKEND", backend)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert int(proc.stdout) == len(engine.rulebook.for_subject("company"))


def test_kleene_logic_for_any_and_all(engine):
    # CMR004 = any(executive_sponsor == false, exec_meetings_180d < 1)
    assert "CMR004" in ids(engine.evaluate("company", {"executive_sponsor": False}))
    assert "CMR004" in ids(engine.evaluate("company", {"executive_sponsor": True}), CANNOT_ASSESS)
    assert not {
        o
        for o in engine.evaluate("company", {"executive_sponsor": True, "exec_meetings_180d": 2})
        if o.rule_id == "CMR004"
    }
    # CMR005 = all(regulated_activity == true, onboarding_done == false)
    assert not {
        o
        for o in engine.evaluate("company", {"regulated_activity": False})
        if o.rule_id == "CMR005"
    }
    assert "CMR005" in ids(engine.evaluate("company", {"regulated_activity": True}), CANNOT_ASSESS)


def _rule(i: int, signal: str = "directing_contacts", op: str = "gte", value=0) -> Rule:
    return Rule(
        id=f"T{i:03d}",
        name=f"t.r{i}",
        side="company",
        subject="company",
        criterion=1,
        severity="low",
        question={"fr": "q", "en": "q"},
        params={},
        when=Cmp(signal, op, value),
        message={"fr": "m", "en": "m"},
        advice={"fr": "a", "en": "a"},
        source="test",
    )


@pytest.mark.parametrize("backend", ["direct", "host"])
def test_more_than_64_matching_rules_are_split_across_rulesets(backend):
    # trap: >64 rules matching one fact gave error 303 and no action ran
    engine = Engine(Rulebook([_rule(i) for i in range(100)]), backend=backend)
    assert len(ids(engine.evaluate("company", {"directing_contacts": 5}))) == 100


def test_exceptions_in_host_actions_are_not_swallowed(monkeypatch):
    # trap: durable_rules' host catches every exception in an action and carries on
    def broken_action(self, rule_name):
        def action(c):
            if rule_name != SENTINEL:
                raise RuntimeError("boom")

        return action

    monkeypatch.setattr(_Host, "_action", broken_action)
    engine = Engine(Rulebook([_rule(1)]), backend="host")
    with pytest.raises(EngineError, match="boom"):
        engine.evaluate("company", {"directing_contacts": 1})
    # the engine still runs afterwards (state deleted in finally)
    with pytest.raises(EngineError, match="boom"):
        engine.evaluate("company", {"directing_contacts": 1})


def test_errors_from_the_core_are_raised_and_the_engine_recovers():
    # the direct path runs no Python action (nothing to swallow); what the C core rejects
    # raises EngineError, the ruleset is rebuilt, and the next entity evaluates normally.
    # A fact with 300 properties is refused by the core itself (error 302, max 255).
    engine = Engine(Rulebook([_rule(1)]))
    body = json.dumps({"_k": "company", **{f"p{i}": i for i in range(300)}})
    with pytest.raises(EngineError, match="302"):
        engine._runner.fired("cmrules_company_0", {}, body, 1)
    for _ in range(2_000):  # > 1,024: no session was leaked by the failure
        assert ids(engine.evaluate("company", {"directing_contacts": 1})) == {"T001"}


@pytest.mark.parametrize("backend", ["direct", "host"])
def test_no_background_threads(backend):
    # trap: the default Host starts timer threads that can steal actions
    before = threading.active_count()
    engines = [Engine(Rulebook([_rule(1)]), backend=backend) for _ in range(5)]  # same names
    assert threading.active_count() == before
    for e in engines:
        assert ids(e.evaluate("company", {"directing_contacts": 1})) == {"T001"}


@pytest.mark.parametrize("backend", ["direct", "host"])
def test_sessions_with_no_matching_rule_are_deleted_safely(backend):
    # trap: delete_state on a session that never ran an action can segfault; the sentinel
    # rule makes every session run one.  Run in a subprocess so a crash fails the test.
    code = textwrap.dedent("""
        from cmrules.engine import Engine
        from cmrules.rulebook import Rulebook, Rule, Cmp
        r = Rule(id="T001", name="t.r", side="company", subject="company", criterion=1,
                 severity="low", question={"fr": "q", "en": "q"}, params={},
                 when=Cmp("directing_contacts", "gt", 100), message={"fr": "m", "en": "m"},
                 advice={"fr": "a", "en": "a"}, source="t")
        e = Engine(Rulebook([r]), backend="BACKEND")
        for i in range(3000):
            assert e.evaluate("company", {"directing_contacts": 1}) == []
            assert e.evaluate("vendor", {}) == []      # a subject with no rule at all
        print("ok")
    """).replace("BACKEND", backend)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"


def test_thresholds_from_config_reach_the_engine():
    book = rb.load(params={"CMR001": {"max_directing_contacts": 3}})
    engine = Engine(book)
    assert "CMR001" not in ids(engine.evaluate("company", {"directing_contacts": 3}))
    assert "CMR001" in ids(engine.evaluate("company", {"directing_contacts": 4}))


def test_regex_is_not_a_rule_operator(tmp_path):
    # trap: durable_rules' regex is its own full-match DFA dialect; rules cannot use it at all
    p = tmp_path / "r.yaml"
    p.write_text(
        "rules:\n  - {id: XYZ001, name: a.b, side: company, criterion: 1, severity: low,\n"
        "     question: {fr: q, en: q}, message: {fr: m, en: m}, advice: {fr: a, en: a},\n"
        "     when: {signal: directing_contacts, op: matches, value: 1}}\n"
    )
    with pytest.raises(rb.RuleFileError, match="unknown operator 'matches'"):
        rb.load([p])


def test_actions_take_exactly_one_parameter(host_engine):
    # trap: a two-parameter action is treated as async and silently never completes (the
    # direct path has no Python action at all; the host path's are one-parameter closures)
    actions = host_engine._runner._actions
    assert actions and all(a.__code__.co_argcount == 1 for a in actions.values())


def test_reserved_names_are_never_signals():
    # trap: `id` is the fact identity, `sid` the session, `$…` internal; `_k` is ours
    from cmrules.signals import REGISTRY

    assert not {n for n in REGISTRY if n in ("id", "sid", "_k") or n.startswith("$")}


@pytest.mark.parametrize("backend", ["direct", "host"])
def test_definitions_survive_reregistration(backend, rulebook):
    # trap: Ruleset() deletes each rule's `run` from the dict it is given
    engine = Engine(rulebook, backend=backend)
    first = engine.definitions()
    engine._runner.reset()
    assert engine.definitions() == first
    assert all("run" in r for d in first.values() for r in d.values())
    assert ids(engine.evaluate("company", {"directing_contacts": 2})) == {"CMR001"}


def test_awkward_rule_constants_compile():
    rule = _rule(1, "validation_median_days", "gt", 1e-05)
    big = _rule(2, "validation_median_days", "lt", 1e16)
    engine = Engine(Rulebook([rule, big]))
    assert ids(engine.evaluate("company", {"validation_median_days": 0.5})) == {"T001", "T002"}


def test_concurrent_threads_are_serialised(engine):
    results = []

    def work():
        results.append(sum(len(engine.evaluate("company", ALL_FIRE)) for _ in range(300)))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and results[0] > 0


def test_the_fired_rule_is_read_from_the_action_message():
    assert _rule_name('{"CMR001_fired":{"m":{"_k": "company", "sid": "1"}}}') == "CMR001_fired"
    assert _rule_name(json.dumps({'a"b': {"m": {}}})) == 'a"b'  # escapes: parsed properly


def test_unknown_backend_is_refused(rulebook):
    with pytest.raises(EngineError, match="unknown engine backend"):
        Engine(rulebook, backend="fast")


@pytest.mark.parametrize(
    "value",
    [
        0,
        7,
        -3,
        2**62,
        2**62 + 1,
        0.0,
        -0.0,
        1e-4,
        9.9e-5,
        3.5,
        1e15 - 1,
        1e15,
        1e16,
        float("nan"),
        float("inf"),
        True,
        False,
        "3",
        None,
    ],
)
@pytest.mark.parametrize("kind", ["int", "float", "bool"])
def test_fast_path_changes_nothing(kind, value):
    # the fast path skips coercion only where coercion + normalisation are the identity
    from cmrules.engine import _already_safe
    from cmrules.signals import REGISTRY, coerce

    spec = next(s for s in REGISTRY.values() if s.type == kind)
    if _already_safe(kind, value):
        slow = normalise_number(coerce(spec, value)) if kind != "bool" else coerce(spec, value)
        assert slow == value and type(slow) is type(value)


def test_trap_create_error_113_beyond_fifteen_groups():
    # durable-rules-facts §8: large conditions fail at create with error 113. Measured: the
    # limit is 15 $and/$or nodes in one condition (a chain of 15 works, 16 fails) — the
    # rulebook caps written conditions at 14 groups, cmrules adds the discriminator's $and
    from cmrules.engine import MAX_GROUPS, _core

    def chain(n):
        m = {"directing_contacts": 0}
        for i in range(n):
            m = {("$and" if i % 2 else "$or"): [m, {"proposals_90d": i}]}
        return m

    def create(n):
        _core.delete_ruleset(
            _core.create_ruleset(f"t113_{n}", json.dumps({"r": {"all": [{"m": chain(n)}]}}))
        )

    create(MAX_GROUPS)
    with pytest.raises(Exception, match="error code: 113"):
        create(MAX_GROUPS + 1)
