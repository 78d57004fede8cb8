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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import findings as findings_mod
from .errors import RuleFileError
from .rulebook import Rulebook, configure
from .rulecases import OUTCOMES, Case, discover, load_cases
from .signals import (
    REGISTRY,
    CompanyContext,
    SignalSettings,
    SignalValue,
    VendorContext,
    coerce,
    compute,
)
from .vocabulary import DEFAULT as VOCABULARY


@dataclass(frozen=True)
class CaseResult:
    """One expectation checked: what the case expected of a rule and what the engine gave."""

    case: Case
    rule_id: str
    expected: str
    got: str
    message: str = ""  # the English message of the finding, if any
    missing_fragments: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """Same outcome, and every expected message fragment found."""
        return self.expected == self.got and not self.missing_fragments

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON (``rules test --format json``)."""
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
    """Every expectation checked in a run, with coverage counted over the rules in scope."""

    results: list[CaseResult]
    scope: list[str]  # rule ids coverage is computed on

    @property
    def failures(self) -> list[CaseResult]:
        """The expectations that did not hold."""
        return [r for r in self.results if not r.passed]

    def coverage(self) -> dict[str, dict[str, int]]:
        """Per rule in scope: how many cases expect each outcome."""
        cov = {rid: dict.fromkeys(OUTCOMES, 0) for rid in self.scope}
        for r in self.results:
            if r.rule_id in cov:
                cov[r.rule_id][r.expected] += 1
        return cov

    def coverage_percent(self) -> float:
        """The share of (rule, outcome) pairs in scope that some case expects."""
        cov = self.coverage()
        if not cov:
            return 100.0
        covered = sum(1 for c in cov.values() for n in c.values() if n)
        return round(100.0 * covered / (len(cov) * len(OUTCOMES)), 1)

    def to_dict(self) -> dict[str, Any]:
        """The run as JSON: counts, results, coverage."""
        return {
            "cases": len({(r.case.where, r.case.name) for r in self.results}),
            "checks": len(self.results),
            "failed": len(self.failures),
            "results": [r.to_dict() for r in self.results],
            "coverage": self.coverage(),
            "coverage_percent": self.coverage_percent(),
        }


class Runner:
    """Evaluates cases through the engine (compiled once per rule set and parameters)."""

    def __init__(self, rulebook: Rulebook, settings: SignalSettings | None = None):
        self.rulebook = rulebook
        self.settings = settings or SignalSettings()
        self._engines: dict[Any, Any] = {}

    def engine(self, case: Case) -> Any:
        """The engine for a case's rules and parameters, compiled once per distinct combination."""
        ids = tuple(sorted({e.rule_id for e in case.expectations}))
        key = (ids, repr(sorted((k, sorted(v.items())) for k, v in case.params.items())))
        if key not in self._engines:
            from .engine import Engine  # the only durable_rules import

            rules = [r for r in self.rulebook if r.id in ids]
            self._engines[key] = Engine(configure(rules, params=case.params))
        return self._engines[key]

    def run(self, cases: Iterable[Case], rule: str | None = None) -> list[CaseResult]:
        """Run the cases (only the expectations about ``rule`` when given)."""
        out = []
        for case in cases:
            if rule is not None and all(e.rule_id != rule for e in case.expectations):
                continue
            out.extend(self.run_case(case, rule))
        return out

    def run_case(self, case: Case, only: str | None = None) -> list[CaseResult]:
        """Evaluate one case through the engine, as ``evaluate`` would, and check each of its
        expectations."""
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
