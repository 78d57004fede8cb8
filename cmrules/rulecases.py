"""The cases of rule tests: ``*.test.yaml`` files found beside rule files, read and checked.

The file format is described in :mod:`cmrules.ruletest`, which runs the cases.  Every problem
in a test file is reported as ``file:line: message``, all of them at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from .errors import RuleFileError
from .rulebook import Rule, Rulebook, configure, is_test_file
from .values import parse_datetime
from .yamlutil import error_line, line_of, load_with_lines

OUTCOMES = ("fired", "silent", "cannot_assess")
FILE_KEYS = {"rule", "as_of", "cases"}
CASE_KEYS = {"name", "rule", "signals", "params", "expect", "message", "dataset", "company",
             "vendor", "as_of"}  # fmt: skip


@dataclass(frozen=True)
class Expectation:
    """What a case expects of one rule: an outcome, and fragments its message must contain."""

    rule_id: str
    outcome: str
    fragments: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    """One rule-test case as read from its file: signal values or a small dataset, parameters,
    and what is expected."""

    name: str
    where: str  # file:line
    expectations: tuple[Expectation, ...]
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # rule -> overrides
    signals: Mapping[str, Any] | None = None
    dataset: Any = None
    dataset_lines: Mapping[tuple[Any, ...], int] = field(default_factory=dict)
    company: str | None = None
    vendor: str | None = None
    as_of: datetime | None = None


def discover(paths: Iterable[Path | str]) -> tuple[list[Path], list[Path]]:
    """``(test files, rule files)`` under ``paths`` (directories or files)."""
    tests: list[Path] = []
    rules: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(list(p.glob("*.yaml")) + list(p.glob("*.yml")))
        elif p.exists():
            found = [p]
        else:
            raise RuleFileError([f"{p}: no such file or directory"])
        for f in found:
            (tests if is_test_file(f) else rules).append(f)
    return tests, rules


def load_cases(files: Sequence[Path], rulebook: Rulebook) -> list[Case]:
    """Parse and check test files against the rules; raise every problem at once."""
    problems: list[str] = []
    cases: list[Case] = []
    for path in files:
        cases.extend(_load_file(path, rulebook, problems))
    if problems:
        raise RuleFileError(problems)
    return cases


def _load_file(path: Path, rulebook: Rulebook, problems: list[str]) -> list[Case]:
    try:
        data, lines = load_with_lines(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path}:1: cannot read the test file ({exc.__class__.__name__})")
        return []
    except yaml.YAMLError as exc:
        problems.append(f"{path}:{error_line(exc)}: invalid YAML: {getattr(exc, 'problem', exc)}")
        return []

    def at(*keys: Any) -> str:
        return f"{path}:{line_of(lines, keys)}"

    if not isinstance(data, dict) or not isinstance(data.get("cases"), list) or not data["cases"]:
        problems.append(f"{at()}: a test file is a mapping with a non-empty 'cases' list")
        return []
    for key in sorted(set(data) - FILE_KEYS):
        problems.append(f"{at(key)}: unknown key {key!r}; allowed: {', '.join(sorted(FILE_KEYS))}")
    default_rule = data.get("rule")
    file_as_of = _as_of(data.get("as_of"), at("as_of"), problems)
    out = []
    for i, raw in enumerate(data["cases"]):
        before = len(problems)
        case = _case(raw, i, default_rule, file_as_of, rulebook, lines, at, problems)
        if case is not None and len(problems) == before:
            out.append(case)
    return out


def _as_of(value: Any, where: str, problems: list[str]) -> datetime | None:
    try:
        return parse_datetime(value)
    except ValueError as exc:
        problems.append(f"{where}: as_of: {exc}")
        return None


def _case(
    raw: Any,
    i: int,
    default_rule: Any,
    file_as_of: datetime | None,
    rulebook: Rulebook,
    lines: Mapping[tuple[Any, ...], int],
    at: Any,
    problems: list[str],
) -> Case | None:
    def report(msg: str, *keys: Any) -> None:
        problems.append(f"{at('cases', i, *keys)}: {msg}")

    if not isinstance(raw, dict):
        report("a case is a mapping with name, signals or dataset, and expect")
        return None
    for key in sorted(set(raw) - CASE_KEYS):
        report(f"unknown key {key!r}; allowed: {', '.join(sorted(CASE_KEYS))}", key)
    name = str(raw.get("name") or "")
    if not name:
        report("every case needs a 'name' saying what it shows")
    rule_id = raw.get("rule", default_rule)
    expectations = _expectations(raw, rule_id, rulebook, report)
    rules = [r for e in expectations if (r := rulebook.get(e.rule_id)) is not None]
    params = _params(raw.get("params"), rule_id, rules, report)
    signals, dataset = raw.get("signals"), raw.get("dataset")
    if (signals is None) == (dataset is None):
        report("give either 'signals' (values) or 'dataset' (records), not both or neither")
    if signals is not None:
        if not isinstance(signals, dict):
            report("signals must map signal names to values", "signals")
        else:
            read = {s for r in rules for s in r.signals}
            for stray in sorted(set(signals) - read):  # would be silently unknown
                report(f"{stray!r} is not a signal of {', '.join(r.id for r in rules)} "
                       f"(they read: {', '.join(sorted(read))})", "signals", stray)  # fmt: skip
        if len({r.subject for r in rules}) > 1:
            report("signal values are about one subject: test company and vendor rules apart")
    as_of = _as_of(raw.get("as_of"), at("cases", i, "as_of"), problems) or file_as_of
    if dataset is not None:
        if as_of is None:
            report("a dataset case needs as_of (in the case or the file) to be reproducible")
        if not (raw.get("company") or raw.get("vendor")):
            report("a dataset case names the record to evaluate: company: ID and/or vendor: ID")
    prefix = ("cases", i, "dataset")
    return Case(
        name=name,
        where=at("cases", i),
        expectations=tuple(expectations),
        params=params,
        signals=signals if isinstance(signals, dict) else None,
        dataset=dataset,
        dataset_lines={k[3:]: v for k, v in lines.items() if k[:3] == prefix},
        company=str(raw["company"]) if raw.get("company") else None,
        vendor=str(raw["vendor"]) if raw.get("vendor") else None,
        as_of=as_of,
    )


def _expectations(
    raw: Mapping[str, Any], rule_id: Any, rulebook: Rulebook, report: Any
) -> list[Expectation]:
    expect = raw.get("expect")
    fragments = raw.get("message") or []
    if isinstance(fragments, str):
        fragments = [fragments]
    if isinstance(expect, str):
        if not rule_id:
            report("expect names one outcome but no rule: set 'rule' or map rule ids to outcomes")
            return []
        pairs: list[tuple[str, Any, Any]] = [(str(rule_id), expect, fragments)]
    elif isinstance(expect, dict) and expect:
        pairs = []  # (rule id, outcome, fragments)
        for rid, value in expect.items():
            if isinstance(value, dict):
                frag = value.get("message") or []
                pairs.append((str(rid), value.get("outcome"), [frag] if isinstance(frag, str)
                              else frag))  # fmt: skip
            else:
                pairs.append((str(rid), value, []))
        if fragments:
            report("with several rules, put message fragments under each: "
                   "{RULE: {outcome: fired, message: [...]}}", "message")  # fmt: skip
    else:
        report(f"expect: one of {', '.join(OUTCOMES)}, or a mapping rule id -> outcome", "expect")
        return []
    out = []
    for rid, outcome, frag in pairs:
        if rulebook.get(rid) is None:
            known = ", ".join(r.id for r in rulebook)
            report(f"unknown rule {rid!r}; rules loaded: {known}", "expect")
        elif outcome not in OUTCOMES:
            report(f"expected outcome {outcome!r} is not one of {', '.join(OUTCOMES)}", "expect")
        elif not isinstance(frag, list):
            report("message: a fragment or a list of fragments", "message")
        else:
            out.append(Expectation(rid, str(outcome), tuple(map(str, frag))))
    return out


def _params(
    raw: Any, rule_id: Any, rules: Sequence[Rule], report: Any
) -> dict[str, dict[str, Any]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        report("params must map parameter names to values", "params")
        return {}
    ids = {r.id for r in rules}
    if raw and set(raw) <= ids and all(isinstance(v, dict) for v in raw.values()):
        per_rule = raw
    else:
        per_rule = {str(rule_id): raw} if rule_id else {}
    if not per_rule:
        report("params: say which rule they tune ('rule', or {RULE: {param: value}})", "params")
        return {}
    try:
        configure(rules, params=per_rule)
    except Exception as exc:  # ConfigError: unknown parameter, wrong type
        report(str(exc).replace("config: rules.params.", "params: "), "params")
        return {}
    return {str(k): dict(v) for k, v in per_rule.items()}
