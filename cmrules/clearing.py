"""What would clear a fired finding, computed from the rule's condition, parameters and evidence.

No sentence is written per rule: the condition tree is negated (De Morgan), the comparisons
that do not hold yet become targets, and each target is worded from the signal's kind and
labels (:mod:`cmrules.labels`):

* numbers — ``at most 1 project owner instead of 2``, ``no unanswered requests (now 1)``;
* shares — ``1 more accepted proposal in a row to reach 30% (now 25% of 4)``;
* days since an event — ``a meeting with the vendor (nothing since 2 September 2026,
  limit 45 days)``;
* booleans — ``an executive sponsor named``;
* ``all`` becomes "one of" (facts that cannot change, such as a regulated business, are left
  out when something else can), ``any`` becomes "all of", ``not`` flips.

The result is plain data (``tree``) plus a sentence per language (``text``); it is published
as ``clear_when`` in JSON.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from . import text as tx
from .bylanguage import ByLanguage
from .conditions import All, Cmp, Condition, Not, negate
from .labels import SignalLabel, signal_label
from .rulebook import Rule
from .signals import SignalValue

LANGUAGES = ("fr", "en")
_UNKNOWN = SignalValue(None)  # a signal the record has no value for (immutable, shared)


@dataclass(frozen=True)
class ClearWhen:
    """What would clear a fired finding: the targets as data (``tree``) and as a sentence per
    language."""

    tree: Mapping[str, Any]  # {"all"|"any": [...]} or {"signal", "op", "value", "current"}
    text: Mapping[str, str]  # language -> sentence (without a final full stop)

    def to_dict(self, language: str | None = None) -> dict[str, Any]:
        """``clear_when`` in JSON: the target tree plus its sentence (one language, or all)."""
        return {**self.tree, "text": self.text[language] if language else dict(self.text)}


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq, "ne": operator.ne, "lt": operator.lt,
    "lte": operator.le, "gt": operator.gt, "gte": operator.ge,
}  # fmt: skip


def _holds(c: Cmp, value: Any) -> bool:
    return value is not None and bool(_COMPARE[c.op](value, c.value))


def _targets(cond: Condition, values: Mapping[str, SignalValue]) -> dict[str, Any] | None:
    """The part of ``cond`` (already negated) that does not hold yet; None if it holds."""
    if isinstance(cond, Not):
        return _targets(negate(cond.item), values)
    if isinstance(cond, Cmp):
        sv = values.get(cond.signal, _UNKNOWN)
        if _holds(cond, sv.value):
            return None
        op, value = cond.op, cond.value
        if isinstance(value, bool) and op == "ne":
            op, value = "eq", not value
        return {"signal": cond.signal, "op": op, "value": value, "current": sv.value}
    parts = [_targets(i, values) for i in cond.items]
    if isinstance(cond, All):
        todo = [p for p in parts if p is not None]
        if not todo:
            return None
        return todo[0] if len(todo) == 1 else {"all": todo}
    if any(p is None for p in parts):
        return None
    options = [p for p in parts if p is not None]
    actionable = [p for p in options if _actionable(p)]
    options = actionable or options
    return options[0] if len(options) == 1 else {"any": options}


def _actionable(tree: Mapping[str, Any]) -> bool:
    if "signal" in tree:
        return signal_label(tree["signal"]).actionable
    return any(_actionable(t) for t in tree.get("all", tree.get("any", [])))


def clear_when(
    rule: Rule, values: Mapping[str, SignalValue], as_of: datetime | None = None
) -> ClearWhen | None:
    """What would clear ``rule`` given the signal ``values`` (None when nothing would)."""
    tree = _targets(rule.cleared, values)
    if tree is None:
        return None
    text = ByLanguage(lambda lang: _say(tree, values, lang, as_of, top=True), LANGUAGES)
    return ClearWhen(tree, text)


# --------------------------------------------------------------------------------------------
# wording
# --------------------------------------------------------------------------------------------
_WORDS = {
    "fr": {
        "lte": "au plus", "lt": "moins de", "gte": "au moins", "gt": "plus de",
        "eq": "exactement", "ne": "autre que", "instead": "au lieu de", "or": "ou",
        "and": "et",
        "rate": "{x} {unit} de plus à la suite pour atteindre {target} (aujourd’hui {now} sur {n})",
        "rate_simple": "au moins {target} (aujourd’hui {now})",
        "since": "{event} (rien depuis le {date}, limite {limit})",
        "since_plain": "{event} (limite {limit})",
        "window": "sur les {n} derniers jours",
        "none": "aucun", "none_f": "aucune", "now": "{n} aujourd’hui",
    },
    "en": {
        "lte": "at most", "lt": "fewer than", "gte": "at least", "gt": "more than",
        "eq": "exactly", "ne": "other than", "instead": "instead of", "or": "or", "and": "and",
        "rate": "{x} more {unit} in a row to reach {target} (now {now} of {n})",
        "rate_simple": "at least {target} (now {now})",
        "since": "{event} (nothing since {date}, limit {limit})",
        "since_plain": "{event} (limit {limit})",
        "window": "over the last {n} days",
        "none": "no", "none_f": "no", "now": "now {n}",
    },
}  # fmt: skip


def _say(
    tree: Mapping[str, Any],
    values: Mapping[str, SignalValue],
    lang: str,
    as_of: datetime | None,
    top: bool = False,
) -> str:
    if "all" in tree or "any" in tree:
        key = "all" if "all" in tree else "any"
        parts = [_say(t, values, lang, as_of) for t in tree[key]]
        joined = tx.join(parts, lang, _WORDS[lang]["and" if key == "all" else "or"])
        return joined if top else f"({joined})"
    return _say_cmp(tree, values.get(tree["signal"], _UNKNOWN), lang, as_of)


def _say_cmp(t: Mapping[str, Any], sv: SignalValue, lang: str, as_of: datetime | None) -> str:
    lab = signal_label(t["signal"])
    w = _WORDS[lang]
    op, target, current = t["op"], t["value"], t["current"]
    if lab.kind == "bool" or isinstance(target, bool):
        words = lab.true if target else lab.false
        return words[lang] if words else tx.typography(f"{lab.label[lang]}: {target}", lang)
    if lab.kind == "rate":
        return _say_rate(lab, op, target, current, len(sv.records), lang)
    if lab.kind == "days_since" and op in ("lte", "lt") and lab.event is not None:
        limit = tx.count(target, _unit(lab, "one", lang), _unit(lab, "other", lang), lang)
        if as_of is not None and isinstance(current, int | float):
            since = as_of - timedelta(days=float(current))
            return w["since"].format(event=lab.event[lang], date=tx.day(since, lang), limit=limit)
        return w["since_plain"].format(event=lab.event[lang], limit=limit)
    nothing = lab.kind == "count" and op == "lte" and target == 0  # "at most 0" reads badly
    amount = (
        _none(lab, lang)
        if nothing
        else tx.count(target, _unit(lab, "one", lang), _unit(lab, "other", lang), lang)
    )
    if lab.kind == "count" and sv.window_days:
        amount += " " + w["window"].format(n=sv.window_days)
    elif lab.kind == "count" and lab.suffix is not None:
        amount += f" {lab.suffix[lang]}"
    phrase = amount if nothing else f"{w[op]} {amount}"
    if lab.kind in ("measure", "days_since"):
        phrase = tx.typography(f"{lab.label[lang]}: ", lang) + phrase
    if isinstance(current, int | float) and nothing:
        phrase += f" ({w['now'].format(n=tx.number(current, lang))})"
    elif isinstance(current, int | float):
        phrase += f" {w['instead']} {tx.number(current, lang)}"
    return phrase


def _none(lab: SignalLabel, lang: str) -> str:
    """ "no clients without a referent" / "aucun client sans référent" (French: singular,
    agreeing with the noun's gender)."""
    w = _WORDS[lang]
    if lang == "fr":
        return f"{w['none_f' if lab.feminine else 'none']} {_unit(lab, 'one', lang)}"
    return f"{w['none']} {_unit(lab, 'other', lang)}"


def _unit(lab: SignalLabel, form: str, lang: str) -> str:
    words = lab.one if form == "one" else lab.other
    return words[lang] if words is not None else ""


def _say_rate(lab: SignalLabel, op: str, target: float, current: Any, n: int, lang: str) -> str:
    w = _WORDS[lang]
    goal = tx.percent(target, lang)
    if op not in ("gte", "gt") or not isinstance(current, int | float) or n == 0 or target >= 1:
        now = tx.percent(current, lang) if isinstance(current, int | float) else "?"
        return w["rate_simple"].format(target=goal, now=now)
    k = round(current * n)
    x = max(1, math.ceil((target * n - k) / (1 - target) - 1e-9))
    if op == "gt" and (k + x) / (n + x) <= target:
        x += 1
    unit = _unit(lab, "other" if tx.is_plural(x, lang) else "one", lang)
    return w["rate"].format(x=x, unit=unit, target=goal, now=tx.percent(current, lang), n=n)
