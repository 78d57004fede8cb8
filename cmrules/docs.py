"""Documentation generated from the rule files and the signal registry (never written twice)."""

from __future__ import annotations

from .rulebook import Cmp, Condition, Not, Rulebook
from .signals import REGISTRY

_OPS = {"eq": "=", "ne": "≠", "lt": "<", "lte": "≤", "gt": ">", "gte": "≥"}


def condition_text(c: Condition) -> str:
    """A rule condition in words, for the catalogue."""
    if isinstance(c, Cmp):
        value = c.param if c.param is not None else c.value
        if isinstance(value, bool):
            value = str(value).lower()
        return f"`{c.signal}` {_OPS[c.op]} {value}"
    if isinstance(c, Not):
        return f"not ({condition_text(c.item)})"
    joiner = " and " if type(c).__name__ == "All" else " or "
    return "(" + joiner.join(condition_text(i) for i in c.items) + ")"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def catalogue(rulebook: Rulebook, lang: str = "en") -> str:
    """The rules of ``rulebook`` as a Markdown table, in ``lang``."""
    lines = [
        "| id | name | severity | side | subject | criterion | question | fires when | "
        "parameters (default) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rulebook:
        params = ", ".join(f"{k} = {v}" for k, v in r.params.items()) or "—"
        lines.append(
            f"| {r.id} | {r.name} | {r.severity} | {r.side} | {r.subject} | {r.criterion} | "
            f"{_cell(r.question[lang])} | {_cell(condition_text(r.when))} | {params} |"
        )
    lines += ["", "| signal | subject | type | how it is computed |", "|---|---|---|---|"]
    for spec in REGISTRY.values():
        lines.append(f"| `{spec.name}` | {spec.subject} | {spec.type} | {_cell(spec.doc)} |")
    return "\n".join(lines) + "\n"
