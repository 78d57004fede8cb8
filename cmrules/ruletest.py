"""Rule tests: ``*.test.yaml`` files beside rule files, run by ``cmrules rules test``.

A test file names a rule (optional) and a list of cases.  A case gives either **signal
values** (typed, or as the strings a CRM sends) or a **small dataset** in the
``cmrules local import`` format plus the record to evaluate and an ``as_of``; then the
expected outcome of one rule (``expect: fired``) or of several (``expect: {CMR001: fired,
CMR002: silent}``), optionally with message fragments the finding must contain::

    rule: CMR004
    cases:
      - name: no sponsor and no meeting with leadership
        signals: {executive_sponsor: false, exec_meetings_180d: 0}
        expect: fired
        message: ["leadership"]          # in the English or the French message
      - name: a minimum of 2 leadership meetings is not met by one
        params: {min_exec_meetings: 2}
        signals: {executive_sponsor: true, exec_meetings_180d: 1}
        expect: fired

Outcomes: ``fired`` (a finding), ``silent`` (no finding) or ``cannot_assess``.  Every problem
in a test file is reported as ``file:line: message``.  This module does not import
durable_rules: it drives :class:`cmrules.engine.Engine`, the same path ``evaluate`` takes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from . import findings as findings_mod
from .errors import RuleFileError
from .rulebook import Rule, Rulebook, configure, is_test_file
from .signals import (
    REGISTRY,
    CompanyContext,
    SignalSettings,
    SignalValue,
    VendorContext,
    coerce,
    compute,
)
from .values import parse_datetime
from .vocabulary import DEFAULT as VOCABULARY
from .yamlutil import error_line, line_of, load_with_lines

OUTCOMES = ("fired", "silent", "cannot_assess")
FILE_KEYS = {"rule", "as_of", "cases"}
CASE_KEYS = {"name", "rule", "signals", "params", "expect", "message", "dataset", "company",
             "vendor", "as_of"}  # fmt: skip


@dataclass(frozen=True)
class Expectation:
    rule_id: str
    outcome: str
    fragments: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
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


@dataclass(frozen=True)
class CaseResult:
    case: Case
    rule_id: str
    expected: str
    got: str
    message: str = ""  # the English message of the finding, if any
    missing_fragments: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.expected == self.got and not self.missing_fragments

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": self.case.name,
            "where": self.case.where,
            "rule_id": self.rule_id,
            "expected": self.expected,
            "got": self.got,
            "passed": self.passed,
            "message": self.message,
            "missing_fragments": list(self.missing_fragments),
        }


@dataclass
class TestReport:
    results: list[CaseResult]
    scope: list[str]  # rule ids coverage is computed on

    @property
    def failures(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]

    def coverage(self) -> dict[str, dict[str, int]]:
        """Per rule in scope: how many cases expect each outcome."""
        cov = {rid: dict.fromkeys(OUTCOMES, 0) for rid in self.scope}
        for r in self.results:
            if r.rule_id in cov:
                cov[r.rule_id][r.expected] += 1
        return cov

    def coverage_percent(self) -> float:
        cov = self.coverage()
        if not cov:
            return 100.0
        covered = sum(1 for c in cov.values() for n in c.values() if n)
        return round(100.0 * covered / (len(cov) * len(OUTCOMES)), 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cases": len({(r.case.where, r.case.name) for r in self.results}),
            "checks": len(self.results),
            "failed": len(self.failures),
            "results": [r.to_dict() for r in self.results],
            "coverage": self.coverage(),
            "coverage_percent": self.coverage_percent(),
        }


# --------------------------------------------------------------------------------------------
# discovery and loading
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------------------------
class Runner:
    """Evaluates cases through the engine (compiled once per rule set and parameters)."""

    def __init__(self, rulebook: Rulebook, settings: SignalSettings | None = None):
        self.rulebook = rulebook
        self.settings = settings or SignalSettings()
        self._engines: dict[Any, Any] = {}

    def engine(self, case: Case) -> Any:
        ids = tuple(sorted({e.rule_id for e in case.expectations}))
        key = (ids, repr(sorted((k, sorted(v.items())) for k, v in case.params.items())))
        if key not in self._engines:
            from .engine import Engine  # the only durable_rules import

            rules = [r for r in self.rulebook if r.id in ids]
            self._engines[key] = Engine(configure(rules, params=case.params))
        return self._engines[key]

    def run(self, cases: Iterable[Case], rule: str | None = None) -> list[CaseResult]:
        out = []
        for case in cases:
            if rule is not None and all(e.rule_id != rule for e in case.expectations):
                continue
            out.extend(self.run_case(case, rule))
        return out

    def run_case(self, case: Case, only: str | None = None) -> list[CaseResult]:
        engine = self.engine(case)
        got: dict[str, findings_mod.Finding] = {}
        for subject, kind, values in self._subjects(case, engine.rulebook):
            raw = {k: v.value for k, v in values.items()}
            for o in engine.evaluate(kind, raw):
                rule = {r.id: r for r in engine.rulebook.for_subject(kind)}[o.rule_id]
                got.setdefault(o.rule_id, findings_mod.build(rule, o, subject, values))
        results = []
        for e in case.expectations:
            if only is not None and e.rule_id != only:
                continue
            f = got.get(e.rule_id)
            text = f"{f.message['en']} / {f.message['fr']}" if f else ""
            missing = tuple(x for x in e.fragments if x.casefold() not in text.casefold())
            status = f.status if f else "silent"
            results.append(
                CaseResult(
                    case,
                    e.rule_id,
                    e.outcome,
                    status,
                    f.message["en"] if f else "",
                    missing if f else e.fragments,
                )  # fmt: skip
            )
        return results

    def _subjects(
        self, case: Case, rulebook: Rulebook
    ) -> list[tuple[findings_mod.Subject, str, dict[str, SignalValue]]]:
        if case.signals is not None:
            kind = next(iter(r.subject for r in rulebook))
            if not any(r.applies_to("engagement") or r.subject == "vendor" for r in rulebook):
                kind = "prospect"  # rules about prospects only
            values = {
                name: SignalValue(coerce(REGISTRY[name], raw))
                for name, raw in case.signals.items()
                if name in REGISTRY
            }
            return [(findings_mod.Subject("case", case.name, kind), kind, values)]
        return self._from_dataset(case, rulebook)

    def _from_dataset(
        self, case: Case, rulebook: Rulebook
    ) -> list[tuple[findings_mod.Subject, str, dict[str, SignalValue]]]:
        from .connector import ConnectorContext, connector_class  # the local plugin

        assert case.as_of is not None
        with tempfile.TemporaryDirectory(prefix="cmrules-test-") as tmp:
            conn: Any = connector_class("local")(
                {"path": str(Path(tmp) / "case.sqlite3"), "demo": False}, ConnectorContext()
            )
            try:
                where = case.where.rsplit(":", 1)[0]
                conn.import_data(case.dataset, case.dataset_lines, where)
                return self._dataset_subjects(conn, case, rulebook)
            finally:
                conn.close()

    def _dataset_subjects(
        self, conn: Any, case: Case, rulebook: Rulebook
    ) -> list[tuple[findings_mod.Subject, str, dict[str, SignalValue]]]:
        assert case.as_of is not None
        kinds = {r.subject for r in rulebook}
        vendor_id = case.vendor
        if case.company and not vendor_id:
            vendors = conn.vendors_of([case.company]).get(case.company, [])
            if len(vendors) != 1:
                raise RuleFileError([
                    f"{case.where}: company {case.company!r} has {len(vendors)} vendor "
                    "engagements in the dataset; name the one to evaluate with vendor: ID"
                ])  # fmt: skip
            vendor_id = vendors[0]
        ds = conn.load([vendor_id], [case.company] if case.company else None)
        VOCABULARY.apply(ds)  # classified as every run classifies a connector's data
        for rid in filter(None, (case.company, vendor_id)):
            if rid not in ds.organisations:
                raise RuleFileError([f"{case.where}: {rid!r} is not an organisation of the "
                                     "dataset (or has no engagement with the vendor)"])  # fmt: skip
        out = []
        vendor = ds.organisations[str(vendor_id)]
        if "company" in kinds and case.company:
            company = ds.organisations[case.company]
            values = compute(CompanyContext(ds, company, vendor, case.as_of, self.settings))
            subject = findings_mod.Subject(
                company.id, company.name, "company", vendor.id, vendor.name
            )
            out.append((subject, "company", values))
        if "vendor" in kinds:
            values = compute(VendorContext(ds, vendor, case.as_of, self.settings))
            out.append((findings_mod.Subject(vendor.id, vendor.name, "vendor"), "vendor", values))
        return out


def run_tests(
    paths: Sequence[Path | str],
    rulebook: Rulebook,
    *,
    rule: str | None = None,
    settings: SignalSettings | None = None,
) -> TestReport:
    """Discover, check and run the tests under ``paths`` against ``rulebook``."""
    tests, rule_files = discover(paths)
    if not tests:
        raise RuleFileError([f"{', '.join(map(str, paths))}: no *.test.yaml file found"])
    if rule is not None and rulebook.get(rule) is None:
        raise RuleFileError([f"--rule {rule}: no such rule; rules loaded: "
                             + ", ".join(r.id for r in rulebook)])  # fmt: skip
    cases = load_cases(tests, rulebook)
    results = Runner(rulebook, settings).run(cases, rule)
    in_paths = {f.resolve() for f in rule_files}
    scope = {r.id for r in rulebook if Path(r.source.rsplit(":", 1)[0]).resolve() in in_paths}
    scope |= {e.rule_id for c in cases for e in c.expectations}
    if rule is not None:
        scope = {rule}
    return TestReport(results, sorted(scope))


def load_rules(
    paths: Sequence[Path | str],
    base: Sequence[Path | str],
    *,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    config_name: str = "config",
) -> Rulebook:
    """The rules tests run against: the configured rule files (``base``) plus the rule files
    found under ``paths``, each file once; configured parameters apply, disabled rules stay
    testable."""
    from .rulebook import load, rule_files

    _, beside = discover(paths)
    files: dict[Path, Path] = {}
    for f in [*rule_files(base), *beside]:
        files.setdefault(f.resolve(), f)
    return load(list(files.values()), params=params, config_name=config_name)


__all__ = ["OUTCOMES", "Case", "CaseResult", "TestReport", "discover", "load_cases",
           "load_rules", "run_tests"]  # fmt: skip
