"""Message templates of rule files: checking and filling placeholders.

``{signal}``, ``{signal.records}``, ``{signal.days}``, ``{param}`` and ``{name|singular|plural}``
(the number followed by the noun form that agrees with it).  Filling never evaluates anything:
CRM text inside values is inserted as-is, not re-parsed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from .text import plural, typography

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_NAME = re.compile(r"([a-z_][a-z0-9_]*)(\.records|\.days|\|[^|{}]+\|[^|{}]+)?")


def template_problems(text: str, names: set[str]) -> list[str]:
    """Placeholders in a message must be ``{signal}``, ``{signal.records}``, ``{signal.days}``
    (the days a windowed signal observed), ``{param}`` or ``{name|singular|plural}`` (the
    number followed by the noun form that agrees with it)."""
    out = []
    stripped = text.replace("{{", "").replace("}}", "")
    for m in _PLACEHOLDER.finditer(stripped):
        inner = m.group(1)
        nm = _NAME.fullmatch(inner)
        if not nm:
            out.append(
                f"bad placeholder {{{inner}}}: use {{signal}}, {{signal.records}}, "
                "{{signal.days}}, {{param}} or {name|singular|plural}"
            )
        elif nm.group(1) not in names:
            out.append(f"unknown placeholder {{{inner}}}: not a signal or parameter")
    if stripped.count("{") != len(_PLACEHOLDER.findall(stripped)):
        out.append("unbalanced '{' — write '{{' for a literal brace")
    return out


def render_template(
    text: str,
    values: Mapping[str, str],
    *,
    numbers: Mapping[str, float] | None = None,
    language: str = "en",
) -> str:
    """Fill placeholders from ``values`` (already formatted strings).  Never evaluates
    anything: CRM text inside values is inserted as-is, not re-parsed.

    ``{name|one|other}`` becomes the formatted value and the noun form agreeing with
    ``numbers[name]`` in ``language``.  The template's own text gets the language's
    typography; inserted values are left exactly as they are.
    """
    out = []
    for piece in _pieces(text, language):
        if isinstance(piece, str):
            out.append(piece)
            continue
        inner, whole = piece
        if "|" in inner:
            name, one, other = inner.split("|", 2)
            if name in values and numbers is not None and name in numbers:
                out.append(f"{values[name]} {plural(numbers[name], one, other, language)}")
            else:
                out.append(whole)
        else:
            out.append(values.get(inner, whole))
    return "".join(out)


@functools.lru_cache(maxsize=2048)
def _pieces(text: str, language: str) -> tuple[str | tuple[str, str], ...]:
    """A template split once (per language) into its own text, typography applied, and its
    placeholders ``(inside the braces, as written)``: templates are the rules' few messages,
    filled for every finding."""
    out: list[str | tuple[str, str]] = []
    for i, part in enumerate(text.split("{{")):
        if i:
            out.append("{")
        for j, chunk in enumerate(part.split("}}")):
            if j:
                out.append("}")
            last = 0
            for m in _PLACEHOLDER.finditer(chunk):
                out.append(typography(chunk[last : m.start()], language))
                out.append((m.group(1), m.group(0)))
                last = m.end()
            out.append(typography(chunk[last:], language))
    return tuple(p for p in out if p != "")
