"""Signals tested from data: one test per case in ``tests/signal_cases/<signal>.yaml``.

Each case is a small dataset (see :mod:`casedata`) and the expected value of the signal for
client ``c1`` with vendor ``v1`` (or for vendor ``v1``, for vendor signals)::

    expect: {value: 2.5, window_days: 36, records: 3}
    expect: {unknown: too_early, observed_days: 26}
    expect: {unknown: not_recorded, what: [call, email, ticket]}
    expect: {unknown: missing}
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from casedata import CASE_KEYS, dataset, settings, when

from cmrules import signals

CASES_DIR = Path(__file__).parent / "signal_cases"
EXPECT_KEYS = {"value", "window_days", "records", "unknown", "observed_days", "what"}


def _files() -> list[Path]:
    return sorted(CASES_DIR.glob("*.yaml"))


def _params() -> list[Any]:
    out = []
    for path in _files():
        data = yaml.safe_load(path.read_text("utf-8"))
        assert data["signal"] == path.stem, f"{path}: signal does not match the file name"
        for n, case in enumerate(data["cases"], 1):
            slug = re.sub(r"[^a-z0-9]+", "-", case.get("name", "").lower()).strip("-")
            out.append(pytest.param(path.stem, case, id=f"{path.stem}-{n:02d}-{slug}"))
    return out


def compute(name: str, case: dict[str, Any]) -> signals.SignalValue:
    ds = dataset(case)
    spec = signals.REGISTRY[name]
    as_of = when(case["as_of"])
    assert as_of is not None
    if spec.subject == "vendor":
        ctx: Any = signals.VendorContext(
            ds, ds.organisations["v1"], as_of, settings(case.get("settings"))
        )
    else:
        ctx = signals.CompanyContext(
            ds,
            ds.organisations["c1"],
            ds.organisations["v1"],
            as_of,
            settings(case.get("settings")),
        )
    return spec.func(ctx)


@pytest.mark.parametrize(("name", "case"), _params())
def test_signal_case(name: str, case: dict[str, Any]) -> None:
    assert set(case) <= CASE_KEYS, f"unknown case keys {sorted(set(case) - CASE_KEYS)}"
    expect = case["expect"]
    assert set(expect) <= EXPECT_KEYS, f"unknown expect keys {sorted(set(expect) - EXPECT_KEYS)}"
    got = compute(name, case)
    if "unknown" in expect:
        assert got.value is None, f"expected unknown ({expect['unknown']}), got {got.value!r}"
        assert got.reason is not None and got.reason.code == expect["unknown"], got.reason
        if "observed_days" in expect:
            assert got.reason.observed_days == expect["observed_days"]
        if "what" in expect:
            assert list(got.reason.what) == expect["what"]
        return
    assert got.value == expect["value"], f"expected {expect['value']!r}, got {got.value!r}"
    assert type(got.value) is type(expect["value"]) or isinstance(got.value, float)
    if "window_days" in expect:
        assert got.window_days == expect["window_days"]
    if "records" in expect:
        assert len(got.records) == expect["records"]


def test_every_signal_has_cases_known_and_unknown() -> None:
    """Like the rule catalogue: no signal without data-driven cases of each kind."""
    problems = []
    for name in signals.REGISTRY:
        path = CASES_DIR / f"{name}.yaml"
        if not path.exists():
            problems.append(f"{name}: no {path.name}")
            continue
        cases = yaml.safe_load(path.read_text("utf-8"))["cases"]
        kinds = {"unknown" if "unknown" in c["expect"] else "known" for c in cases}
        if kinds != {"known", "unknown"}:
            problems.append(f"{name}: cases only of kind {sorted(kinds)}")
    assert not problems, problems
