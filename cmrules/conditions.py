"""The condition tree of a rule: comparisons, ``all``, ``any``, ``not`` — plain data, read by
the rule loader (:mod:`.rulebook`), the engine, the clearing lines and the docs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_NEGATE = {"gt": "lte", "gte": "lt", "lt": "gte", "lte": "gt", "eq": "ne", "ne": "eq"}


@dataclass(frozen=True)
class Cmp:
    """A comparison of a signal with a value or a named parameter."""

    signal: str
    op: str
    value: int | float | bool | None = None
    param: str | None = None


@dataclass(frozen=True)
class All:
    """A condition that holds when every item holds."""

    items: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    """A condition that holds when at least one item holds."""

    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    """A condition that holds when its item does not."""

    item: Condition


Condition = Cmp | All | AnyOf | Not


def signals_of(cond: Condition) -> list[str]:
    """Signal names a condition reads, in order of first use."""
    out: list[str] = []

    def walk(c: Condition) -> None:
        if isinstance(c, Cmp):
            if c.signal not in out:
                out.append(c.signal)
        elif isinstance(c, Not):
            walk(c.item)
        else:
            for i in c.items:
                walk(i)

    walk(cond)
    return out


def bind(cond: Condition, params: Mapping[str, Any]) -> Condition:
    """Replace ``param`` references by their values."""
    if isinstance(cond, Cmp):
        if cond.param is not None:
            return Cmp(cond.signal, cond.op, params[cond.param])
        return cond
    if isinstance(cond, Not):
        return Not(bind(cond.item, params))
    items = tuple(bind(i, params) for i in cond.items)
    return All(items) if isinstance(cond, All) else AnyOf(items)


def negate(cond: Condition) -> Condition:
    """The condition under which ``cond`` no longer holds (negation pushed to the leaves)."""
    if isinstance(cond, Cmp):
        return Cmp(cond.signal, _NEGATE[cond.op], cond.value, cond.param)
    if isinstance(cond, Not):
        return cond.item
    items = tuple(negate(i) for i in cond.items)
    return AnyOf(items) if isinstance(cond, All) else All(items)
