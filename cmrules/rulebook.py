"""Load, validate and parameterise YAML rule files.

Every problem is reported as ``file:line: rule-id: message`` — all of them, not the first —
and raised together as one :class:`~cmrules.errors.RuleFileError`.  This module does not
import durable_rules: rules are plain data here.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .conditions import All, AnyOf, Cmp, Condition, Not, bind, negate, signals_of
from .errors import ConfigError, RuleFileError
from .rulecheck import (
    IN_WORDS,
    PARAM_NAME,
    RULE_ID,
    RULE_NAME,
    check_type,
    condition_shape,
    number_problem,
    schema_message,
    subject_problems,
)
from .signals import REGISTRY, SignalSpec
from .templates import template_problems
from .windows import WINDOW_PARAM, default_window, signal_windows
from .yamlutil import error_line, line_of, load_with_lines, read_text

SEVERITIES = ("high", "medium", "low")
SEVERITY_RANK = {"high": 3, "medium": 2, "low": 1, "info": 0}
LANGUAGES = ("fr", "en")


@dataclass(frozen=True)
class Rule:
    """A rule as loaded from its YAML file: id, side, criterion, severity, texts in both
    languages, parameters and condition."""

    id: str
    name: str
    side: str
    subject: str
    criterion: int
    severity: str
    question: Mapping[str, str]
    params: Mapping[str, Any]
    when: Condition
    message: Mapping[str, str]
    advice: Mapping[str, str]
    source: str  # file:line
    tags: tuple[str, ...] = ()
    title: Mapping[str, str] | None = None  # a few words naming the problem (notes)
    #: what the rule applies to: engagement / vendor / prospect (see :mod:`cmrules.readiness`)
    subjects: tuple[str, ...] = ()
    #: thresholds that differ per subject: ``{"prospect": {param: value}}``
    params_by_subject: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    ask: Mapping[str, str] | None = None  # prospects: the question for the next meeting

    def short(self, language: str) -> str:
        """The rule's title, or its question when it has none."""
        return (self.title or self.question)[language]

    @functools.cached_property
    def signals(self) -> list[str]:
        """The signals its condition reads, in order (computed once; do not modify)."""
        return signals_of(self.when)

    def condition(self) -> Condition:
        """The condition with its parameters replaced by their values."""
        return bind(self.when, self.params)

    @functools.cached_property
    def cleared(self) -> Condition:
        """When the rule no longer fires: its bound condition negated down to the leaves
        (computed once; what would clear a finding is worded from it)."""
        return negate(self.condition())

    def applies_to(self, subject: str) -> bool:
        """``engagement`` (subject company), ``vendor`` or ``prospect``."""
        default = ("vendor",) if self.subject == "vendor" else ("engagement",)
        return subject in (self.subjects or default)

    def for_prospect(self) -> Rule:
        """The rule as evaluated on a prospect: its prospect thresholds, its meeting question,
        and the ``prospect`` subject the engine keys its ruleset on."""
        params = {**self.params, **self.params_by_subject.get("prospect", {})}
        question = self.ask or self.question
        return replace(self, subject="prospect", params=params, question=question)


@dataclass
class Rulebook:
    """The rules in force, in id order."""

    rules: list[Rule] = field(default_factory=list)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def get(self, rule_id: str) -> Rule | None:
        """The rule with that id, or None."""
        return next((r for r in self.rules if r.id == rule_id), None)

    def for_subject(self, subject: str) -> list[Rule]:
        """Rules evaluated on ``company`` (an engagement), ``vendor`` or ``prospect`` records;
        prospect rules come with their prospect thresholds and questions."""
        if subject == "prospect":
            return [r.for_prospect() for r in self.rules if r.applies_to("prospect")]
        if subject == "company":
            return [r for r in self.rules if r.subject == "company" and r.applies_to("engagement")]
        return [r for r in self.rules if r.subject == subject]

    def signal_windows(self) -> dict[str, int]:
        """Signal name -> observation window in days (see :mod:`cmrules.windows`)."""
        return signal_windows(self.rules)


def schema() -> dict[str, Any]:
    """The JSON Schema of a rule file (shipped with the package)."""
    text = resources.files("cmrules").joinpath("schema/rule-file.schema.json").read_text("utf-8")
    return json.loads(text)


_VALIDATOR: jsonschema.Draft202012Validator | None = None


def _validator() -> jsonschema.Draft202012Validator:
    global _VALIDATOR
    if _VALIDATOR is None:
        _VALIDATOR = jsonschema.Draft202012Validator(schema())
    return _VALIDATOR


# -- loading ---------------------------------------------------------------------------------------
def builtin_rules_dir() -> Path:
    """Where the built-in rule files are installed."""
    return Path(str(resources.files("cmrules.rules")))


TEST_SUFFIXES = (".test.yaml", ".test.yml")


def is_test_file(path: Path) -> bool:
    """``*.test.yaml`` files beside rule files hold rule tests, not rules."""
    return path.name.endswith(TEST_SUFFIXES)


def rule_files(paths: Iterable[Path | str], problems: list[str] | None = None) -> list[Path]:
    """The rule files under ``paths`` (directories give their YAML files, test files excluded); a
    missing path is added to ``problems`` or raised."""
    files: list[Path] = []
    missing = []
    for p in map(Path, paths):
        if p.is_dir():
            found = list(p.glob("*.yaml")) + list(p.glob("*.yml"))
            files.extend(sorted(f for f in found if not is_test_file(f)))
        elif p.exists():
            files.append(p)
        else:
            missing.append(f"{p}: no such file or directory (check rules.dirs / the path)")
    if missing and problems is None:
        raise RuleFileError(missing)
    if problems is not None:
        problems.extend(missing)
    return files


def load(
    paths: Iterable[Path | str] | None = None,
    *,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    disabled: Iterable[str] = (),
    config_name: str = "config",
    check: Callable[[list[Rule]], list[str]] | None = None,
) -> Rulebook:
    """Load and validate rule files (default: the built-in rules).

    ``params`` overrides rule parameters (``{rule_id: {param: value}}``); ``disabled`` drops
    rules by id; ``check`` adds problems found in the valid rules (``rules lint`` creates
    them in the engine).  Raises :class:`RuleFileError` listing every problem.
    """
    problems: list[str] = []
    files = rule_files(paths if paths is not None else [builtin_rules_dir()], problems)
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    builtin = str(builtin_rules_dir())
    for f in files:
        for rid, source, rule in _load_file(f, problems):
            if isinstance(rid, str) and rid in seen:
                first = seen[rid]
                what = "a built-in rule" if first.startswith(builtin) else "another rule"
                problems.append(
                    f"{source}: {rid}: duplicate id, already used by {what} ({first}); "
                    "give this rule a new id (ids are never reused)"
                )
                continue
            if isinstance(rid, str):
                seen[rid] = source
            if rule is not None:
                rules.append(rule)
    if check is not None:
        problems.extend(check(rules))
    if problems:
        raise RuleFileError(problems)
    return configure(rules, params=params, disabled=disabled, config_name=config_name)


def configure(
    rules: Iterable[Rule],
    *,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    disabled: Iterable[str] = (),
    config_name: str = "config",
) -> Rulebook:
    """Apply parameter overrides and disabled rules to loaded rules (checked against them)."""
    rules = list(rules)
    disabled = list(disabled)
    by_id = {r.id: r for r in rules}
    for rid in disabled:
        if rid not in by_id:
            raise ConfigError(
                f"{config_name}: rules.disable names unknown rule {rid!r}; "
                f"known ids: {', '.join(sorted(by_id))}"
            )
    out = []
    overrides = params or {}
    for rid in overrides:
        if rid not in by_id:
            raise ConfigError(
                f"{config_name}: rules.params names unknown rule {rid!r}; "
                f"known ids: {', '.join(sorted(by_id))}"
            )
    for rule in rules:
        if rule.id in disabled:
            continue
        if rule.id in overrides:
            rule = _override(rule, overrides[rule.id], config_name)
        out.append(rule)
    return Rulebook(sorted(out, key=lambda r: r.id))


def _override(rule: Rule, values: Mapping[str, Any], config_name: str) -> Rule:
    if not isinstance(values, Mapping):
        raise ConfigError(
            f"{config_name}: rules.params.{rule.id} must be a mapping of parameter names to values"
        )
    merged = dict(rule.params)
    by_subject = dict(rule.params_by_subject)
    for key, value in values.items():
        if key == "prospect" and rule.applies_to("prospect") and key not in rule.params:
            # rules.params.CMR006.prospect.max_validation_days: the prospect threshold
            current = replace(rule, params={**rule.params, **by_subject.get(key, {})})
            by_subject[key] = _override(current, value, config_name).params
            continue
        if key not in rule.params:
            known = ", ".join(sorted(rule.params)) or "none"
            raise ConfigError(
                f"{config_name}: rules.params.{rule.id}.{key}: unknown parameter "
                f"(parameters of {rule.id}: {known})"
            )
        default = rule.params[key]
        bad = number_problem(value)
        if bad:
            raise ConfigError(f"{config_name}: rules.params.{rule.id}.{key}: {bad}")
        if isinstance(default, bool) != isinstance(value, bool) or not isinstance(
            value, int | float
        ):
            raise ConfigError(
                f"{config_name}: rules.params.{rule.id}.{key}: expected a "
                f"{type(default).__name__} like the default {default!r}, "
                f"got {value!r}"
            )
        merged[key] = value
    return replace(rule, params=merged, params_by_subject=by_subject)


def _load_file(path: Path, problems: list[str]) -> list[tuple[Any, str, Rule | None]]:
    """``(id, file:line, rule)`` for every rule of the file; ``rule`` is None if invalid."""
    try:
        text = read_text(path, "rule file")
    except ValueError as exc:
        problems.append(f"{path}:1: -: {exc}")
        return []
    try:
        data, lines = load_with_lines(text)
    except yaml.YAMLError as exc:
        line = error_line(exc)
        problems.append(f"{path}:{line}: -: invalid YAML: {getattr(exc, 'problem', exc)}")
        return []

    def rule_id_at(path_: Sequence[Any]) -> str:
        if len(path_) >= 2 and path_[0] == "rules" and isinstance(data, dict):
            try:
                rid = data["rules"][path_[1]].get("id")
                return str(rid) if rid else "-"
            except (IndexError, AttributeError, TypeError, KeyError):
                return "-"
        return "-"

    errors = sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    bad_rules: set[int] = set()
    for err in errors:
        epath = list(err.absolute_path)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            if extra:
                epath.append(extra[0])
        line = line_of(lines, epath)
        problems.append(f"{path}:{line}: {rule_id_at(epath)}: {schema_message(err)}")
        if len(epath) >= 2 and epath[0] == "rules" and isinstance(epath[1], int):
            bad_rules.add(epath[1])
        else:  # the file itself is malformed: nothing more to check in it
            return []

    out: list[tuple[Any, str, Rule | None]] = []
    for i, raw in enumerate(data["rules"]):
        rid = raw.get("id") if isinstance(raw, dict) else None
        source = f"{path}:{line_of(lines, ('rules', i))}"
        if i in bad_rules:  # schema problems reported; its semantics cannot be checked
            out.append((rid, source, None))
            continue
        before = len(problems)
        rule = _build_rule(raw, path, lines, ("rules", i), problems)
        out.append((rid, source, rule if len(problems) == before else None))
    return out


def _build_rule(
    raw: dict[str, Any],
    path: Path,
    lines: Mapping[tuple[Any, ...], int],
    at: tuple[Any, ...],
    problems: list[str],
) -> Rule | None:
    rid = raw["id"]
    subject = raw.get("subject", "company")
    params = dict(raw.get("params") or {})
    window = default_window(raw["when"])
    if window is not None and WINDOW_PARAM not in params:
        params[WINDOW_PARAM] = window  # declared once, on the signal; config may change it

    def report(sub: Sequence[Any], msg: str) -> None:
        problems.append(f"{path}:{line_of(lines, (*at, *sub))}: {rid}: {msg}")

    shown_id = rid.encode("unicode_escape").decode("ascii")
    if not RULE_ID.fullmatch(rid):
        report(("id",), f"{shown_id!r} is not valid: {IN_WORDS[RULE_ID.pattern]}")
        rid = shown_id
    if not RULE_NAME.fullmatch(raw["name"]):
        report(("name",), f"{raw['name']!r} is not valid: {IN_WORDS[RULE_NAME.pattern]}")
    for pname, value in params.items():
        if not PARAM_NAME.fullmatch(pname):
            report(
                ("params", pname), f"bad parameter name {pname!r}: {IN_WORDS[PARAM_NAME.pattern]}"
            )
        bad = number_problem(value)
        if bad:
            report(("params", pname), f"parameter {pname}: {bad}")
    subjects = tuple(raw.get("subjects") or ())
    by_subject = {k: dict(v) for k, v in (raw.get("params_by_subject") or {}).items()}
    for sub, msg in subject_problems(subject, subjects, by_subject, params):
        report(sub, msg)
    shape = condition_shape(raw["when"])
    if shape:
        report(("when",), shape)
        return None

    def build(c: dict[str, Any], sub: tuple[Any, ...]) -> Condition:
        if "all" in c:
            return All(tuple(build(x, (*sub, "all", i)) for i, x in enumerate(c["all"])))
        if "any" in c:
            return AnyOf(tuple(build(x, (*sub, "any", i)) for i, x in enumerate(c["any"])))
        if "not" in c:
            return Not(build(c["not"], (*sub, "not")))
        name, op = c["signal"], c["op"]
        spec: SignalSpec | None = REGISTRY.get(name)
        if spec is None:
            close = [s for s in REGISTRY if s.split("_")[0] in name or name.split("_")[0] in s]
            hint = f"; did you mean {', '.join(sorted(close)[:3])}?" if close else ""
            report((*sub, "signal"), f"unknown signal {name!r}{hint} (see 'cmrules signals')")
            return Cmp(name, op, c.get("value"), c.get("param"))
        if spec.subject != subject:
            report(
                (*sub, "signal"),
                f"signal {name!r} is about the {spec.subject}, but this "
                f"rule's subject is {subject!r}",
            )
        if "param" in c:
            pname = c["param"]
            if pname not in params:
                report((*sub, "param"), f"unknown parameter {pname!r}; declare it under params")
                return Cmp(name, op, None, pname)
            value = params[pname]
        else:
            value = c["value"]
            bad = number_problem(value)
            if bad:
                report((*sub, "value"), bad)
                return Cmp(name, op, None, None)
        check_type(spec, op, value, lambda m: report(sub, m))
        return Cmp(name, op, c.get("value"), c.get("param"))

    when = build(raw["when"], ("when",))
    placeholders = set(REGISTRY) | set(params)
    for field_ in ("message", "advice"):
        for lang in LANGUAGES:
            for bad in template_problems(raw[field_][lang], placeholders):
                report((field_, lang), f"{field_}.{lang}: {bad}")
    return Rule(
        id=rid,
        name=raw["name"],
        side=raw["side"],
        subject=subject,
        criterion=raw["criterion"],
        severity=raw["severity"],
        question=raw["question"],
        params=params,
        when=when,
        message=raw["message"],
        advice=raw["advice"],
        source=f"{path}:{line_of(lines, at)}",
        tags=tuple(raw.get("tags") or ()),
        title=raw.get("title"),
        subjects=subjects,
        params_by_subject=by_subject,
        ask=raw.get("ask"),
    )
