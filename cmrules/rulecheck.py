"""Checks of rule files in words: schema messages, names, numbers, condition bounds.

JSON Schema reports regex patterns and type names; a rule author needs "an id is … (e.g.
ACME001)".  Its ``$`` also lets ``"CMR001\\n"`` through, so names are matched whole here.
"""

from __future__ import annotations

import math
import re
from typing import Any

import jsonschema

OPS = ("eq", "ne", "lt", "lte", "gt", "gte")
# whole-string forms of the schema's patterns (JSON Schema's "$" lets "CMR001\n" through)
RULE_ID = re.compile(r"[A-Z][A-Z0-9]{1,9}[0-9]{3}")
RULE_NAME = re.compile(r"[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+")
PARAM_NAME = re.compile(r"[a-z][a-z0-9_]*")
IN_WORDS = {
    RULE_ID.pattern: "an id is 2 to 10 capital letters or digits, starting with a letter, then "
    "3 digits (e.g. ACME001)",
    RULE_NAME.pattern: "a name is dotted lower-case words (e.g. internal.single-contact)",
    PARAM_NAME.pattern: "a parameter name is lower-case letters, digits and _ (e.g. max_days)",
}
MAX_DEPTH = 8  # all/any/not levels in one condition
MAX_COMPARISONS = 64
MAX_GROUPS = 14  # all/any groups; the engine adds one, and durable_rules takes at most 15
MAX_ABS_NUMBER = 10**15  # beyond, numbers are no longer exact once the engine compares them


def schema_message(err: jsonschema.ValidationError) -> str:
    """A JSON Schema error in words, with how to fix it."""
    if err.validator == "additionalProperties":
        return f"{err.message} — remove it or check its spelling"
    if err.validator == "oneOf" and isinstance(err.instance, dict):
        keys = set(err.instance)
        if {"signal", "op"} <= keys:
            if err.instance.get("op") not in OPS:
                return f"unknown operator {err.instance.get('op')!r}; use one of {', '.join(OPS)}"
            if "value" in keys and "param" in keys:
                return "a comparison takes either 'value' or 'param', not both"
            value = err.instance.get("value")
            if isinstance(value, str):
                hint = (
                    " (YAML reads 1e3 as text: write 1.0e+3)"
                    if re.fullmatch(r"[-+]?[0-9.]+[eE][-+]?[0-9]+", value)
                    else ""
                )
                return f"value {value!r} is text, not a number or true/false{hint}"
            return (
                "bad comparison: it needs 'signal', 'op' and one of 'value' (a number or "
                "boolean) or 'param' (a parameter name)"
            )
        return (
            "a condition is one of {all: [...]}, {any: [...]}, {not: ...} or "
            "{signal, op, value|param}"
        )
    if err.validator == "required":
        return err.message.replace("is a required property", "is required")
    if err.validator == "enum":
        return f"{err.instance!r} is not one of {', '.join(map(str, err.validator_value))}"
    if err.validator == "pattern":
        words = IN_WORDS.get(str(err.validator_value).strip("^$"), "it has the wrong form")
        return f"{err.instance!r} is not valid: {words}"
    if err.validator == "propertyNames" or (
        err.validator == "pattern" and err.absolute_path and err.absolute_path[-1] == "params"
    ):
        return f"bad parameter name: {IN_WORDS[PARAM_NAME.pattern]}"
    if err.validator in ("minItems", "minLength"):
        return "must not be empty"
    if err.validator == "type":
        return f"{err.instance!r} is not {_TYPE_WORDS.get(str(err.validator_value), 'valid')}"
    return err.message


_TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "object": "a mapping (key: value)",
    "array": "a list",
    "['number', 'boolean']": "a number or true/false",
}


def number_problem(value: Any) -> str | None:
    """Why a rule constant or parameter is unusable, in words (None if it is fine)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and math.isnan(value):
        return "not a number (.nan): write a number"
    if isinstance(value, float) and math.isinf(value):
        return "infinite (.inf): write a finite number"
    if abs(value) > MAX_ABS_NUMBER:
        if isinstance(value, float):
            shown = f"{value:.3g}"
        else:
            digits = len(str(abs(value)))
            shown = f"a {digits}-digit number" if digits > 20 else str(value)
        return f"{shown} is too large: at most 10^15 in absolute value"
    return None


def condition_shape(when: Any) -> str | None:
    """Bound a condition's depth and size (durable_rules refuses large ones, error 113)."""
    depth = groups = comparisons = 0
    stack: list[tuple[Any, int]] = [(when, 1)]
    while stack:
        node, level = stack.pop()
        if not isinstance(node, dict):
            continue
        if "all" in node or "any" in node:
            groups += 1
            depth = max(depth, level)
            items = node.get("all", node.get("any"))
            if isinstance(items, list):
                stack.extend((i, level + 1) for i in items)
        elif "not" in node:
            depth = max(depth, level)
            stack.append((node["not"], level + 1))
        else:
            comparisons += 1
    if depth > MAX_DEPTH:
        return (
            f"the condition nests all/any/not {depth} levels deep; at most {MAX_DEPTH}: "
            "flatten it or split the rule"
        )
    if groups > MAX_GROUPS:
        return (
            f"the condition has {groups} all/any groups; at most {MAX_GROUPS} (a limit of the "
            "rules engine): simplify it or split the rule"
        )
    if comparisons > MAX_COMPARISONS:
        return (
            f"the condition has {comparisons} comparisons; at most {MAX_COMPARISONS}: "
            "split the rule"
        )
    return None


def check_type(spec: Any, op: str, value: Any, report: Any) -> None:
    """Report a comparison whose value or operator does not fit the signal's type."""
    if spec.type == "bool":
        if not isinstance(value, bool):
            report(
                f"signal {spec.name!r} is a boolean: compare it with true or false, not {value!r}"
            )
        elif op not in ("eq", "ne"):
            report(f"signal {spec.name!r} is a boolean: use op eq or ne, not {op}")
    elif isinstance(value, bool) or not isinstance(value, int | float):
        report(
            f"signal {spec.name!r} is a number ({spec.type}): compare it with a number, "
            f"not {value!r}"
        )


def subject_problems(
    subject: str,
    subjects: tuple[str, ...],
    by_subject: dict[str, dict[str, Any]],
    params: dict[str, Any],
) -> list[tuple[tuple[Any, ...], str]]:
    """``subjects`` must fit the rule's record; ``params_by_subject`` only overrides declared
    parameters, with values of the same type, for subjects the rule applies to."""
    out: list[tuple[tuple[Any, ...], str]] = []
    allowed = {"vendor"} if subject == "vendor" else {"engagement", "prospect"}
    for name in subjects:
        if name not in allowed:
            out.append((("subjects",), f"subject {name!r} does not fit a rule about the "
                        f"{subject}: use {' or '.join(sorted(allowed))}"))  # fmt: skip
    for sname, values in by_subject.items():
        if sname not in subjects:
            out.append((("params_by_subject", sname), f"params for {sname!r}, which is not in "
                        "subjects: add it to subjects"))  # fmt: skip
        for pname, value in values.items():
            at = ("params_by_subject", sname, pname)
            if pname not in params:
                out.append((at, f"unknown parameter {pname!r}; declare its default under params"))
            elif isinstance(value, bool) != isinstance(params[pname], bool):
                out.append((at, f"{value!r} is not of the type of the default {params[pname]!r}"))
    return out
