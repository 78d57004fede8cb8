"""``cmrules explain``: why a rule fired, stayed silent or could not assess a record.

Each rule's condition tree is evaluated leaf by leaf in plain Python, three-valued (Kleene):
a leaf is true, false or unknown (its signal is unknown); ``all`` is false if any item is
false, else unknown if any is unknown; ``any`` is true if any item is true, else unknown if
any is unknown; ``not`` swaps true and false.  The combined verdict maps onto the engine's
outcomes — true: fired, unknown: cannot assess, false: silent — and a differential test
checks that it agrees with the durable_rules engine on the whole demo.  This module does not
import durable_rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .clearing import ClearWhen, clear_when
from .errors import UsageError
from .findings import format_records, format_value
from .rulebook import All, Cmp, Condition, Not, Rule
from .selection import resolve, select
from .signals import REGISTRY, CompanyContext, SignalValue, VendorContext, coerce, compute

OUTCOME = {True: "fired", None: "cannot_assess", False: "silent"}
VERDICT = {True: "true", False: "false", None: "unknown"}
_SYMBOL = {"eq": "=", "ne": "≠", "lt": "<", "lte": "≤", "gt": ">", "gte": "≥"}


def compare(op: str, value: Any, constant: Any) -> bool:
    """One comparison of a condition, as the engine evaluates it."""
    return {
        "eq": lambda: value == constant,
        "ne": lambda: value != constant,
        "lt": lambda: value < constant,
        "lte": lambda: value <= constant,
        "gt": lambda: value > constant,
        "gte": lambda: value >= constant,
    }[op]()


@dataclass
class Node:
    """One node of an explained condition: its verdict, and for a comparison the signal, threshold
    and value seen."""

    kind: str  # all | any | not | compare
    verdict: bool | None
    children: list[Node] = field(default_factory=list)
    signal: str | None = None
    op: str | None = None
    threshold: Any = None
    param: str | None = None
    value: Any = None
    records: tuple[tuple[str, str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The node and its children as JSON (``explain --format json``)."""
        out: dict[str, Any] = {"kind": self.kind, "verdict": VERDICT[self.verdict]}
        if self.kind == "compare":
            out.update({
                "signal": self.signal, "op": self.op, "threshold": self.threshold,
                "param": self.param, "value": self.value,
                "records": [{"kind": k, "id": i, "label": lbl} for k, i, lbl in self.records],
            })  # fmt: skip
        else:
            out["items"] = [c.to_dict() for c in self.children]
        return out


def tree(cond: Condition, params: Mapping[str, Any], values: Mapping[str, SignalValue]) -> Node:
    """The condition as written (``param`` names kept), each node with its verdict."""
    if isinstance(cond, Cmp):
        threshold = params[cond.param] if cond.param is not None else cond.value
        sv = values.get(cond.signal, SignalValue(None))
        value = coerce(REGISTRY[cond.signal], sv.value)
        verdict = None if value is None else compare(cond.op, value, threshold)
        records = tuple((r.kind, r.id, r.label) for r in sv.records)
        return Node("compare", verdict, [], cond.signal, cond.op, threshold, cond.param, value,
                    records)  # fmt: skip
    if isinstance(cond, Not):
        child = tree(cond.item, params, values)
        return Node("not", None if child.verdict is None else not child.verdict, [child])
    children = [tree(i, params, values) for i in cond.items]
    results = [c.verdict for c in children]
    decisive, other = (False, True) if isinstance(cond, All) else (True, False)
    verdict = decisive if decisive in results else (None if None in results else other)
    return Node("all" if isinstance(cond, All) else "any", verdict, children)


@dataclass
class RuleExplanation:
    """Why one rule fired, stayed silent or could not assess on one record: its condition tree, and
    what would clear it."""

    rule: Rule
    root: Node
    clear: ClearWhen | None = None  # what would clear it, when it fires (cmrules.clearing)

    @property
    def outcome(self) -> str:
        """fired, silent or cannot assess, from the root's verdict."""
        return OUTCOME[self.root.verdict]

    def to_dict(self, language: str) -> dict[str, Any]:
        """The rule's explanation as JSON, its texts in ``language``."""
        return {
            "rule_id": self.rule.id,
            "rule_name": self.rule.name,
            "question": self.rule.question[language],
            "severity": self.rule.severity,
            "params": dict(self.rule.params),
            "verdict": VERDICT[self.root.verdict],
            "outcome": self.outcome,
            "condition": self.root.to_dict(),
            "clear_when": self.clear.to_dict(language) if self.clear else None,
        }


@dataclass
class RecordExplanation:
    """Every rule explained for one record (and one vendor engagement), with the profile applied."""

    record: Any  # Organisation
    kind: str  # company | vendor
    vendor: Any  # Organisation: the engagement's vendor (the record itself for a vendor)
    profile: str
    rules: list[RuleExplanation]
    disabled: list[str]  # rules the profile (or rules.disable) switches off

    def to_dict(self, language: str) -> dict[str, Any]:
        """The record's explanations as JSON, texts in ``language``."""
        return {
            "record": {"id": self.record.id, "name": self.record.name, "kind": self.kind},
            "vendor": {"id": self.vendor.id, "name": self.vendor.name},
            "profile": self.profile,
            "disabled_rules": self.disabled,
            "rules": [r.to_dict(language) for r in self.rules],
        }


def explain(
    session: Any,
    *,
    company: str | None = None,
    vendor: str | None = None,
    rule: str | None = None,
    as_of: datetime,
) -> list[RecordExplanation]:
    """Explain every rule (or ``rule``) for a company in each engagement (or one, with
    ``vendor``), or for a vendor record alone (``vendor`` without ``company``)."""
    sets = session.rulesets
    settings = session.settings()  # the observation windows the rules ask for
    all_ids = {r.id for r in sets.rules}
    if rule is not None and rule not in all_ids:
        raise UsageError(f"no rule {rule!r}; 'cmrules rules list' lists them")
    out = []
    if company:
        sel = select(session, vendor=vendor, company=company)
        ds = sel.dataset
        record = ds.organisations[sel.company_ids[0]]  # type: ignore[index]
        contexts: list[tuple[str, Any, Any]] = [
            ("company", ds.organisations[vid], CompanyContext(ds, record, ds.organisations[vid],
                                                              as_of, settings))
            for vid in sel.vendor_ids
            if not any(e.vendor_id == vid and e.ended(as_of)
                       for e in ds.engagements_of_company(record.id))  # a former agency
        ]  # fmt: skip
    elif vendor:
        from .model import OrgKind

        record = resolve(session.connector, vendor, OrgKind.VENDOR)
        ds = session.prepare(session.connector.load([record.id]))
        record = ds.organisations[record.id]
        contexts = [("vendor", record, VendorContext(ds, record, as_of, settings))]
    else:
        raise UsageError("say what to explain: --company NAME|ID (optionally --vendor), or "
                         "--vendor NAME|ID alone for the vendor's own rules")  # fmt: skip
    profile = sets.select(record)
    book = sets.rulebook(profile)
    disabled = sorted(all_ids - {r.id for r in book})
    for kind, v, ctx in contexts:
        rules = [r for r in book.for_subject(kind) if rule is None or r.id == rule]
        if rule is not None and not rules:
            raise UsageError(_not_here(rule, kind, sets, disabled, profile))
        values = compute(ctx)
        explained = []
        for r in rules:
            root = tree(r.when, r.params, values)
            clear = clear_when(r, values, as_of) if root.verdict is True else None
            explained.append(RuleExplanation(r, root, clear))
        out.append(RecordExplanation(record, kind, v, profile, explained, disabled))
    return out


def _not_here(rule: str, kind: str, sets: Any, disabled: list[str], profile: str) -> str:
    if rule in disabled:
        return f"{rule} is disabled for this record (profile {profile})"
    other = "vendor" if kind == "company" else "company"
    how = "--vendor NAME alone" if other == "vendor" else "--company NAME"
    return f"{rule} is about the {other} record, not the {kind}: use {how}"


def to_text(items: list[RecordExplanation], language: str) -> str:
    """The explanations as indented text: each record, each rule's tree leaf by leaf."""
    out: list[str] = []
    for item in items:
        head = f"{item.record.name} ({item.kind} {item.record.id})"
        if item.kind == "company":
            head += f" with {item.vendor.name} ({item.vendor.id})"
        out.append(f"{head} — profile {item.profile}")
        if item.disabled:
            out.append(f"  disabled: {', '.join(item.disabled)}")
        for r in item.rules:
            params = ", ".join(f"{k} = {v}" for k, v in r.rule.params.items()) or "no parameter"
            out.append("")
            out.append(f"  {r.rule.id} {r.rule.name} → {r.outcome.replace('_', ' ')} ({params})")
            out.extend(_lines(r.root, language, 2))
            if r.clear is not None:
                out.append(f"    to clear: {r.clear.text[language]}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _lines(node: Node, language: str, depth: int) -> list[str]:
    pad = "  " * depth
    verdict = VERDICT[node.verdict]
    if node.kind != "compare":
        head = f"{pad}{node.kind} → {verdict}"
        return [head] + [x for c in node.children for x in _lines(c, language, depth + 1)]
    assert node.signal is not None and node.op is not None
    threshold = format_value(node.param or node.signal, node.threshold, language)
    limit = f"{node.param} ({threshold})" if node.param else threshold
    value = format_value(node.signal, node.value, language)
    line = f"{pad}{node.signal} {_SYMBOL[node.op]} {limit}: value {value} → {verdict}"
    if node.records:
        line += f"  [{format_records(node.records, language)}]"
    elif node.value is None:
        line += "  [" + REGISTRY[node.signal].missing[language] + "]"
    return [line]
