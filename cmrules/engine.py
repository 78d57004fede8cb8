"""The only module that imports durable_rules.

Rules (plain data from :mod:`cmrules.rulebook`) compile to durable_rules JSON rulesets with
three-valued logic: for every rule two durable rules are generated —

* ``T(condition)``: the condition is definitely true on the known signals -> a finding;
* ``F(condition)``: it is definitely false -> no finding.

When neither fires, a signal the rule needs is unknown and the known ones do not decide it:
a "cannot assess" finding (Kleene logic: unknown = neither true nor false).  Both forms are
the size of the written condition (negation is pushed down to the comparisons), so
compilation is linear in the condition's size.  durable_rules refuses, with create error 113,
a condition holding more than 15 ``$and``/``$or`` nodes (:data:`MAX_GROUPS`); the rulebook
bounds conditions below that and :func:`rule_problems` creates each rule to be sure.

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
* the C engine module is driven directly (:class:`_Direct`): no Python action runs, so none
  can be swallowed, made "async" by its signature or stolen by a background thread, and the
  state is never written back; any error code or exception from the core raises
  :class:`EngineError`, and a ruleset that failed before an action ran is rebuilt.  The
  Python host path (:class:`_Host`: one-parameter closures wrapped in try/except on a host
  with no background threads, ``state['exception']`` checked after every assert) is kept as
  the reference it is tested and benchmarked against;
* rulesets are split so that far fewer than 64 rules can match one fact.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import durable_rules_engine as _core

from .errors import EngineError, RuleFileError
from .model import CANNOT_ASSESS, FIRED, Outcome  # outcome types live in the model
from .rulebook import All, Cmp, Condition, Not, Rule, Rulebook
from .signals import REGISTRY, coerce

_FALSE = "false"  # internal: the condition is definitely false
MAX_GROUPS = 15  # $and/$or nodes durable_rules accepts in one condition (16 -> error 113)
DISCRIMINATOR = "_k"
RULES_PER_RULESET = 25  # two durable rules each + the sentinel: at most 26 can match a fact
_NEGATE = {"eq": "ne", "ne": "eq", "lt": "gte", "gte": "lt", "gt": "lte", "lte": "gt"}
_DR_OP = {"ne": "$neq", "lt": "$lt", "lte": "$lte", "gt": "$gt", "gte": "$gte"}
_INT_LIMIT = 2**62
SENTINEL = "zz_sentinel"
#: a prospect is a company before signing: its rules read the company signals
SIGNALS_OF = {"prospect": "company"}
_OUT_OF_SLOTS = "durable_rules ran out of session slots; the engine was reset"
_NO_COMPILE = "could not compile the rules into durable_rules"


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


def _already_safe(kind: str, value: Any) -> bool:
    """Whether ``value`` is already of its signal's type and safe for the C parser, so that
    coercion and normalisation would return it unchanged (a fast path, not a filter)."""
    cls = type(value)
    if kind == "bool":
        return cls is bool
    if kind == "int":
        return cls is int and -_INT_LIMIT <= value <= _INT_LIMIT
    # repr() of a float uses an exponent only below 1e-4 or from 1e16; NaN fails both tests
    return cls is float and (value == 0.0 or 1e-4 <= abs(value) < 1e15)


def _leaf(signal: str, op: str, value: Any) -> dict[str, Any]:
    if op == "eq":
        return {signal: value}
    return {_DR_OP[op]: {signal: value}}


def _and(items: list[dict[str, Any]]) -> dict[str, Any]:
    return _group("$and", items)


def _or(items: list[dict[str, Any]]) -> dict[str, Any]:
    return _group("$or", items)


def _group(op: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """One ``$and``/``$or`` node; nested nodes of the same kind are merged into it (fewer
    nodes: durable_rules limits them)."""
    flat: list[dict[str, Any]] = []
    for item in items:
        flat.extend(item[op] if list(item) == [op] else [item])
    return flat[0] if len(flat) == 1 else {op: flat}


def _count_groups(compiled: Any) -> int:
    if isinstance(compiled, dict):
        return sum(int(k in ("$and", "$or")) + _count_groups(v) for k, v in compiled.items())
    if isinstance(compiled, list):
        return sum(_count_groups(v) for v in compiled)
    return 0


def compile_true(c: Condition) -> dict[str, Any]:
    """A condition as the durable_rules expression that matches when it is true."""
    if isinstance(c, Cmp):
        return _leaf(c.signal, c.op, _constant(c))
    if isinstance(c, Not):
        return compile_false(c.item)
    if isinstance(c, All):
        return _and([compile_true(i) for i in c.items])
    return _or([compile_true(i) for i in c.items])


def compile_false(c: Condition) -> dict[str, Any]:
    """A condition as the durable_rules expression that matches when it is false."""
    if isinstance(c, Cmp):
        return _leaf(c.signal, _NEGATE[c.op], _constant(c))
    if isinstance(c, Not):
        return compile_true(c.item)
    if isinstance(c, All):
        return _or([compile_false(i) for i in c.items])
    return _and([compile_false(i) for i in c.items])


def _constant(c: Cmp) -> Any:
    value = c.value
    spec = REGISTRY[c.signal]
    if spec.type == "bool":
        return bool(value)
    if isinstance(value, int | float):
        return normalise_number(float(value) if spec.type == "float" else value)
    raise EngineError(f"rule constant for {c.signal} is not a number: {value!r}")


def _rule_name(message: str) -> str:
    """The rule that fired, from the C core's action message ``{"<rule>": {...}}``: the first
    key, read without parsing the whole message (names with escapes fall back to json)."""
    start = message.index('"') + 1
    name = message[start : message.index('"', start)]
    if "\\" in name:
        name = next(iter(json.loads(message)))
    return name


class _Direct:
    """durable_rules' C engine module (``durable_rules_engine``) driven directly: assert the
    fact, start the session's first action, complete actions one by one until none is left,
    reading only which rule fired, then delete the session.  No Python action runs, no state
    is written back (so the state fact is never re-asserted), no thread is started."""

    def __init__(self, definitions: Mapping[str, Mapping[str, Any]]):
        self._definitions = definitions
        self._handles = self._create()

    def _create(self) -> dict[str, int]:
        handles = {}
        for name, rules in self._definitions.items():
            body = {r: {k: v for k, v in rule.items() if k != "run"} for r, rule in rules.items()}
            try:
                handles[name] = _core.create_ruleset(name, json.dumps(body))
            except Exception as exc:
                raise EngineError(
                    f"could not compile the rules into durable_rules: {exc}"
                ) from None
        return handles

    def reset(self) -> None:
        # a ruleset that raised mid-session may be corrupt (and deleting a session that never
        # ran an action can crash the process): new rulesets, the old ones are abandoned
        self._handles = self._create()

    def fired(self, ruleset: str, fact: Mapping[str, Any], body: str, sid: int) -> list[str]:
        handle = self._handles[ruleset]
        started = False
        names: list[str] = []
        try:
            code, state = _core.assert_fact(handle, f'{{"sid":"{sid}",{body[1:]}')
            if code != 0:  # 1 not handled, 2 already observed, 3 deferred: no action ran
                raise EngineError(f"durable_rules did not handle a fact (code {code})")
            result = _core.start_action_for_state(handle, state)
            if not result:
                raise EngineError("internal: no rule ran for a fact (the sentinel always should)")
            started = True
            message: str | None = result[1]
            while message:
                names.append(_rule_name(message))
                message = _core.complete_and_start_action(handle, state)
            return names
        except MemoryError:
            self.reset()
            raise EngineError(
                "durable_rules ran out of session slots; the engine was reset"
            ) from None
        except Exception as exc:
            if not started:
                self.reset()
            if isinstance(exc, EngineError):
                raise
            raise EngineError(f"durable_rules rejected a fact: {exc}") from None
        finally:
            if started:
                _core.delete_state(handle, str(sid))


class _Host:
    """The same compiled rulesets through durable_rules' Python host (``durable.engine``):
    one-parameter closures as actions, a Host with no background threads.  Kept as the
    reference the direct path is tested and benchmarked against."""

    def __init__(self, definitions: Mapping[str, Mapping[str, Any]]):
        from durable import engine as dr  # only this backend needs the Python host

        self._fired: list[str] = []
        self._errors: list[str] = []
        actions = {
            rule["run"]: self._action(rule_name)
            for rules in definitions.values()
            for rule_name, rule in rules.items()
        }

        class SyncHost(dr.Host):  # type: ignore[misc]
            def _run(self) -> None:  # no dispatcher / timer threads
                return None

            def get_action(self, action_name: str) -> Callable[[Any], None]:
                try:
                    return actions[action_name]
                except KeyError:
                    raise EngineError(f"internal: no action named {action_name}") from None

        self._new = lambda: SyncHost()
        self._definitions = definitions
        self._actions = actions
        self._host = self._build()

    def _action(self, rule_name: str) -> Callable[[Any], None]:
        fired, errors = self._fired, self._errors

        def action(c: Any) -> None:  # exactly one positional parameter (else "async")
            try:
                fired.append(rule_name)
            except Exception as exc:  # never let durable swallow it silently
                errors.append(f"{exc.__class__.__name__}: {exc}")

        return action

    def _build(self) -> Any:
        host = self._new()
        try:
            host.register_rulesets(copy.deepcopy(dict(self._definitions)))  # it mutates the dict
        except Exception as exc:
            raise EngineError(f"{_NO_COMPILE}: {exc}") from None
        return host

    def reset(self) -> None:
        self._host = self._build()

    def fired(self, ruleset: str, fact: Mapping[str, Any], body: str, sid: int) -> list[str]:
        self._fired.clear()
        self._errors.clear()
        try:
            state = self._host.assert_fact(ruleset, dict(fact, sid=str(sid)))
        except MemoryError:
            self.reset()
            raise EngineError(
                "durable_rules ran out of session slots; the engine was reset"
            ) from None
        except Exception as exc:
            # the session may never have run an action: deleting it could crash the process
            self.reset()
            raise EngineError(f"durable_rules rejected a fact: {exc}") from None
        try:
            if isinstance(state, dict) and state.get("exception"):
                raise EngineError(f"a rule action failed: {str(state['exception'])[:200]}")
            if self._errors:
                raise EngineError(f"a rule action failed: {self._errors[0]}")
            return list(self._fired)
        finally:
            self._host.delete_state(ruleset, str(sid))


BACKENDS: dict[str, type[_Direct] | type[_Host]] = {"direct": _Direct, "host": _Host}


class Engine:
    """Compiled rules for one rulebook.

    ``backend="direct"`` (the default) drives durable_rules' C engine module; ``"host"`` runs
    the same rulesets through durable_rules' Python host (the reference for tests and the
    benchmark).  durable_rules' C core has no locks and never releases the GIL, so
    evaluations are serialised by a lock (threads gain nothing; use processes).
    """

    def __init__(
        self,
        rulebook: Rulebook,
        rules_per_ruleset: int = RULES_PER_RULESET,
        backend: str = "direct",
    ):
        if backend not in BACKENDS:
            raise EngineError(f"unknown engine backend {backend!r}; use one of {sorted(BACKENDS)}")
        self.rulebook = rulebook
        self.backend = backend
        self._lock = threading.Lock()
        self._sid = itertools.count(1)
        self._rules_per_ruleset = max(1, min(rules_per_ruleset, 30))
        self._definitions: dict[str, dict[str, Any]] = {}
        self._by_subject: dict[str, list[str]] = {}
        self._outcome_of: dict[str, Outcome | None] = {SENTINEL: None}
        self._rule_ids: dict[str, list[str]] = {}
        # per ruleset, per rule: its outcomes (fired, definitely false, cannot assess), built
        # once: evaluate() neither builds nor hashes an Outcome per rule per record
        self._verdicts: dict[str, list[tuple[str, str, Outcome, Outcome]]] = {}
        self._compile()
        try:
            self._runner: _Direct | _Host = BACKENDS[backend](self._definitions)
        except EngineError:
            problems = rule_problems(rulebook)  # name the rule durable_rules refuses
            if problems:
                raise RuleFileError(problems) from None
            raise

    # -- compilation ---------------------------------------------------------------------------
    def _compile(self) -> None:
        for subject in ("company", "vendor", "prospect"):
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
            for status, match in _matches(rule):
                rule_name = f"{rule.id}_{status}"
                self._outcome_of[rule_name] = Outcome(rule.id, status)
                definition[rule_name] = {"all": [{"m": match}], "run": f"{name}__{rule_name}"}
        self._rule_ids[name] = [r.id for r in rules]
        self._verdicts[name] = [
            (
                f"{r.id}_{FIRED}",
                f"{r.id}_{_FALSE}",
                Outcome(r.id, FIRED),
                Outcome(r.id, CANNOT_ASSESS),
            )
            for r in rules
        ]
        definition[SENTINEL] = {"all": [{"m": kind}], "pri": 65000, "run": f"{name}__sentinel"}
        return definition

    def definitions(self) -> dict[str, dict[str, Any]]:
        """The durable_rules JSON rulesets (for inspection and the benchmark)."""
        return copy.deepcopy(self._definitions)

    # -- evaluation ----------------------------------------------------------------------------
    def fact(self, subject: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """The fact sent to durable_rules: typed, normalised, unknown signals left out."""
        fact: dict[str, Any] = {DISCRIMINATOR: subject}
        reads = SIGNALS_OF.get(subject, subject)
        for name, raw in values.items():
            spec = REGISTRY.get(name)
            if spec is None or spec.subject != reads:
                continue
            if _already_safe(spec.type, raw):  # the common case: computed signals
                fact[name] = raw
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
        body = json.dumps(fact)
        outcomes: list[Outcome] = []
        outcome_of = self._outcome_of
        with self._lock:
            for ruleset in self._by_subject[subject]:
                # rule names (an $or can fire once per true branch)
                hits = set(self._runner.fired(ruleset, fact, body, next(self._sid)))
                for rule_name in hits:
                    if rule_name not in outcome_of:
                        raise EngineError(f"internal: unknown durable rule {rule_name}")
                for fired_name, false_name, fired, unknown in self._verdicts[ruleset]:
                    if fired_name in hits:
                        outcomes.append(fired)
                    elif false_name not in hits:  # neither true nor false
                        outcomes.append(unknown)
        return outcomes


def _matches(rule: Rule) -> list[tuple[str, dict[str, Any]]]:
    """The two durable_rules conditions of a rule: definitely true, definitely false."""
    kind = {DISCRIMINATOR: rule.subject}
    cond = rule.condition()
    return [(FIRED, _and([kind, compile_true(cond)])), (_FALSE, _and([kind, compile_false(cond)]))]


def rule_problems(rules: Iterable[Rule]) -> list[str]:
    """Create every rule alone in durable_rules; ``file:line: id: message`` for each it
    refuses (what ``rules lint`` adds to the rulebook's own checks)."""
    problems = []
    for rule in rules:
        matches = _matches(rule)
        body: dict[str, Any] = {status: {"all": [{"m": match}]} for status, match in matches}
        body[SENTINEL] = {"all": [{"m": {DISCRIMINATOR: rule.subject}}], "pri": 65000}
        try:
            handle = _core.create_ruleset(f"lint_{rule.id}", json.dumps(body))
        except Exception as exc:
            groups = max(_count_groups(m) for _, m in matches)
            problems.append(
                f"{rule.source}: {rule.id}: the rules engine cannot create this condition "
                f"({exc}); it needs {groups} all/any groups once compiled, at most "
                f"{MAX_GROUPS} work: split the rule or simplify its condition"
            )
        else:
            _core.delete_ruleset(handle)
    return problems
