"""The only module that imports durable_rules.

Rules (plain data from :mod:`cmrules.rulebook`) compile to durable_rules JSON rulesets with
three-valued logic: for every rule two durable rules are generated —

* ``T(condition)``: the condition is definitely true on the known signals -> a finding;
* ``U(condition)``: it is neither true nor false because a signal it needs is unknown
  -> a "cannot assess" finding.

Unknown signals are simply absent from the fact, so only ``$nex`` can see them.  The traps
measured in ``durable-rules-facts.md`` are avoided on purpose (each has a test):

* facts are asserted, never posted (a posted event is consumed by the first rule);
* one session (sid) per entity, deleted right after, so ~1,024 live sessions are never reached;
* a catch-all sentinel rule guarantees every session ran an action before ``delete_state``
  (deleting a session that never ran one can crash the process);
* every rule is ANDed with an equality on the discriminator ``_k`` (the state fact would
  otherwise re-match ``$nex`` rules forever);
* values are typed and numbers normalised before the engine sees them (mixed string/number
  comparisons are lexicographic; ``1e-05`` does not parse);
* actions are one-parameter closures wrapped in try/except on a host with no background
  threads; ``state['exception']`` is checked after every assert;
* rulesets are split so that far fewer than 64 rules can match one fact.
"""

from __future__ import annotations

import copy
import itertools
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from durable import engine as _dr

from .errors import EngineError
from .rulebook import All, Cmp, Condition, Not, Rule, Rulebook
from .signals import REGISTRY, coerce

FIRED = "fired"
CANNOT_ASSESS = "cannot_assess"
DISCRIMINATOR = "_k"
RULES_PER_RULESET = 25  # two durable rules each + the sentinel: at most 26 can match a fact
_NEGATE = {"eq": "ne", "ne": "eq", "lt": "gte", "gte": "lt", "gt": "lte", "lte": "gt"}
_DR_OP = {"ne": "$neq", "lt": "$lt", "lte": "$lte", "gt": "$gt", "gte": "$gte"}
_INT_LIMIT = 2**62


@dataclass(frozen=True)
class Outcome:
    rule_id: str
    status: str  # FIRED | CANNOT_ASSESS


def normalise_number(value: int | float) -> int | float | None:
    """Make a number safe for durable_rules' JSON parser: no NaN/inf, no bare exponent
    (``1e-05``, ``1e+16`` fail to parse), no int beyond what it can hold."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return max(-_INT_LIMIT, min(_INT_LIMIT, value))
    if not math.isfinite(value):
        return None
    if value == int(value) and abs(value) >= 1e15:
        return max(-_INT_LIMIT, min(_INT_LIMIT, int(value)))
    text = repr(value)
    if "e" in text and "." not in text.split("e")[0]:
        # 1e-05 -> 1.0000000000000003e-05: the closest float with a '.' before the exponent
        return math.nextafter(value, math.inf if value > 0 else -math.inf)
    return value


def _leaf(signal: str, op: str, value: Any) -> dict[str, Any]:
    if op == "eq":
        return {signal: value}
    return {_DR_OP[op]: {signal: value}}


def _and(items: list[dict[str, Any]]) -> dict[str, Any]:
    return items[0] if len(items) == 1 else {"$and": items}


def _or(items: list[dict[str, Any]]) -> dict[str, Any]:
    return items[0] if len(items) == 1 else {"$or": items}


def compile_true(c: Condition) -> dict[str, Any]:
    if isinstance(c, Cmp):
        return _leaf(c.signal, c.op, _constant(c))
    if isinstance(c, Not):
        return compile_false(c.item)
    if isinstance(c, All):
        return _and([compile_true(i) for i in c.items])
    return _or([compile_true(i) for i in c.items])


def compile_false(c: Condition) -> dict[str, Any]:
    if isinstance(c, Cmp):
        return _leaf(c.signal, _NEGATE[c.op], _constant(c))
    if isinstance(c, Not):
        return compile_true(c.item)
    if isinstance(c, All):
        return _or([compile_false(i) for i in c.items])
    return _and([compile_false(i) for i in c.items])


def compile_unknown(c: Condition) -> dict[str, Any]:
    if isinstance(c, Cmp):
        return {"$nex": {c.signal: 1}}
    if isinstance(c, Not):
        return compile_unknown(c.item)
    some_unknown = _or([compile_unknown(i) for i in c.items])
    if isinstance(c, All):  # no item false, one unknown
        none_decisive = [_or([compile_true(i), compile_unknown(i)]) for i in c.items]
    else:  # AnyOf: no item true, one unknown
        none_decisive = [_or([compile_false(i), compile_unknown(i)]) for i in c.items]
    return _and([*none_decisive, some_unknown])


def _constant(c: Cmp) -> Any:
    value = c.value
    spec = REGISTRY[c.signal]
    if spec.type == "bool":
        return bool(value)
    if isinstance(value, int | float):
        return normalise_number(float(value) if spec.type == "float" else value)
    raise EngineError(f"rule constant for {c.signal} is not a number: {value!r}")


class _SyncHost(_dr.Host):
    """A Host with no background threads; actions are looked up by name."""

    def __init__(self, actions: Mapping[str, Callable[[Any], None]]):
        self._actions = dict(actions)
        super().__init__()

    def _run(self) -> None:  # no dispatcher / timer threads
        return None

    def get_action(self, action_name: str) -> Callable[[Any], None]:
        try:
            return self._actions[action_name]
        except KeyError:
            raise EngineError(f"internal: no action named {action_name}") from None


class Engine:
    """Compiled rules for one rulebook.

    durable_rules' C core has no locks and never releases the GIL, so evaluations are
    serialised by a lock (threads gain nothing; use processes for parallelism).
    """

    def __init__(self, rulebook: Rulebook, rules_per_ruleset: int = RULES_PER_RULESET):
        self.rulebook = rulebook
        self._hits: list[Outcome] = []
        self._errors: list[str] = []
        self._lock = threading.Lock()
        self._sid = itertools.count(1)
        self._rules_per_ruleset = max(1, min(rules_per_ruleset, 30))
        self._definitions: dict[str, dict[str, Any]] = {}
        self._by_subject: dict[str, list[str]] = {}
        self._actions: dict[str, Callable[[Any], None]] = {}
        self._compile()
        self._host = self._new_host()

    # -- compilation ---------------------------------------------------------------------------
    def _action(self, outcome: Outcome | None) -> Callable[[Any], None]:
        hits, errors = self._hits, self._errors

        def action(c: Any) -> None:  # exactly one positional parameter (else "async")
            try:
                if outcome is not None:
                    hits.append(outcome)
            except Exception as exc:  # never let durable swallow it silently
                errors.append(f"{exc.__class__.__name__}: {exc}")

        return action

    def _compile(self) -> None:
        for subject in ("company", "vendor"):
            rules = sorted(self.rulebook.for_subject(subject), key=lambda r: r.id)
            names = []
            for n, start in enumerate(range(0, max(len(rules), 1), self._rules_per_ruleset)):
                chunk = rules[start : start + self._rules_per_ruleset]
                name = f"cmrules_{subject}_{n}"
                self._definitions[name] = self._ruleset(subject, name, chunk)
                names.append(name)
            self._by_subject[subject] = names

    def _ruleset(self, subject: str, name: str, rules: list[Rule]) -> dict[str, Any]:
        kind = {DISCRIMINATOR: subject}
        definition: dict[str, Any] = {}
        for rule in rules:
            cond = rule.condition()
            for status, compiled in (
                (FIRED, compile_true(cond)),
                (CANNOT_ASSESS, compile_unknown(cond)),
            ):
                action_name = f"{name}__{rule.id}__{status}"
                self._actions[action_name] = self._action(Outcome(rule.id, status))
                definition[f"{rule.id}_{status}"] = {
                    "all": [{"m": {"$and": [kind, compiled]}}],
                    "run": action_name,
                }
        sentinel = f"{name}__sentinel"
        self._actions[sentinel] = self._action(None)
        definition["zz_sentinel"] = {"all": [{"m": kind}], "pri": 65000, "run": sentinel}
        return definition

    def _new_host(self) -> _SyncHost:
        host = _SyncHost(self._actions)
        try:
            host.register_rulesets(copy.deepcopy(self._definitions))  # it mutates the dict
        except Exception as exc:
            raise EngineError(f"could not compile the rules into durable_rules: {exc}") from None
        return host

    def definitions(self) -> dict[str, dict[str, Any]]:
        """The durable_rules JSON rulesets (for inspection and the benchmark)."""
        return copy.deepcopy(self._definitions)

    # -- evaluation ----------------------------------------------------------------------------
    def fact(self, subject: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """The fact sent to durable_rules: typed, normalised, unknown signals left out."""
        fact: dict[str, Any] = {DISCRIMINATOR: subject}
        for name, raw in values.items():
            spec = REGISTRY.get(name)
            if spec is None or spec.subject != subject:
                continue
            value = coerce(spec, raw)
            if isinstance(value, int | float) and not isinstance(value, bool):
                value = normalise_number(value)
            if value is not None:
                fact[name] = value
        return fact

    def evaluate(self, subject: str, values: Mapping[str, Any]) -> list[Outcome]:
        """Evaluate one entity's signal values; return every fired / cannot-assess outcome."""
        if subject not in self._by_subject:
            raise EngineError(f"unknown subject {subject!r}")
        fact = self.fact(subject, values)
        outcomes: list[Outcome] = []
        with self._lock:
            for name in self._by_subject[subject]:
                outcomes.extend(self._assert(name, fact))
        return outcomes

    def _assert(self, ruleset: str, fact: dict[str, Any]) -> list[Outcome]:
        sid = str(next(self._sid))
        self._hits.clear()
        self._errors.clear()
        message = dict(fact, sid=sid)
        try:
            state = self._host.assert_fact(ruleset, message)
        except MemoryError:
            self._host = self._new_host()  # the ruleset is corrupt after this: rebuild
            raise EngineError(
                "durable_rules ran out of session slots; the engine was reset"
            ) from None
        except Exception as exc:
            # the session may never have run an action: deleting it could crash the process,
            # so drop the whole host instead of calling delete_state
            self._host = self._new_host()
            raise EngineError(f"durable_rules rejected a fact: {exc}") from None
        try:
            if isinstance(state, dict) and state.get("exception"):
                raise EngineError(f"a rule action failed: {str(state['exception'])[:200]}")
            if self._errors:
                raise EngineError(f"a rule action failed: {self._errors[0]}")
            return list(dict.fromkeys(self._hits))  # an $or can fire once per true branch
        finally:
            self._host.delete_state(ruleset, sid)
