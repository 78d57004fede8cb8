"""Connector settings declared as JSON Schema and validated with ``jsonschema``.

Each connector declares its config section as a JSON Schema (draft 2020-12) in
``Connector.settings_schema``; the core validates the section before building the connector,
so a bad value is reported like the rest of the config: one line with ``file:line``, the key,
what is wrong and what is accepted.  Connectors built directly (tests, scripts) validate the
same schema themselves, with the section's name instead of a line.

Why a schema rather than hand-written checks: one declaration gives types, bounds and unknown
keys, a third-party connector gets the same messages for free, and the schema can be
published for editors.  Numbers may arrive as strings (``${ENV_VAR}`` substitutions are
text): a string that reads as a number is converted before validation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from .errors import ConfigError

#: a TCP port inside a URL: 1-65535
_PORT = (
    r"(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}"
    r"|[1-9][0-9]{0,3}))?"
)
#: a host name or IPv4 address: labels of letters, digits and hyphens
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = rf"{_LABEL}(?:\.{_LABEL})*"


def site_url(description: str, path_suffix: str = "") -> dict[str, Any]:
    """Schema of a site URL: ``https://`` + host (+ port), nothing else; plain ``http://``
    only for ``localhost`` / ``127.0.0.1`` (a local test server).  Credentials travel with
    every request, so neither a path, a query nor user info is accepted.  ``path_suffix``
    is an optional path the connector strips (e.g. ``/api/v2``)."""
    suffix = f"(?:{path_suffix})?" if path_suffix else ""
    pattern = rf"^(?:https://{_HOST}{_PORT}|http://(?:localhost|127\.0\.0\.1){_PORT}){suffix}/?$"
    return {"type": "string", "pattern": pattern, "description": description}


def bounded_int(low: int, high: int, description: str) -> dict[str, Any]:
    """Schema of a whole number in ``[low, high]`` (never NaN, infinite or a boolean)."""
    return {"type": "integer", "minimum": low, "maximum": high, "description": description}


def validate_section(
    schema: Mapping[str, Any],
    values: Mapping[str, Any],
    section: str,
    where: Callable[..., str],
) -> dict[str, Any]:
    """Validate one connector section; return it with numeric strings converted.

    ``where(section, *path)`` names the place of a key (``cmrules.yaml:12``).  Raises
    :class:`ConfigError` for the first problem in file order.
    """
    data = _coerce(schema, dict(values))
    errors = list(Draft202012Validator(schema).iter_errors(data))
    if not errors:
        return data
    located = [(where(section, *_path(e)), i, e) for i, e in enumerate(errors)]
    place, _, error = min(located, key=lambda t: (_line_key(t[0]), t[1]))
    raise ConfigError(f"{place}: {_message(section, error, schema)}")


def _path(error: ValidationError) -> list[Any]:
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set((error.schema or {}).get("properties", {}))
        extra = sorted(k for k in error.instance if k not in allowed)
        if extra:
            path.append(extra[0])
    return path


def _line_key(place: str) -> tuple[int, str]:
    tail = place.rsplit(":", 1)[-1]
    return (int(tail), place) if tail.isdigit() else (math.inf, place)  # type: ignore[return-value]


def _message(section: str, error: ValidationError, root: Mapping[str, Any]) -> str:
    if error.validator in ("anyOf", "oneOf") and error.context:
        # "not valid under any of the given schemas" says little: name the deepest problem
        deepest = max(error.context, key=lambda e: len(e.absolute_path))
        if len(deepest.absolute_path) > len(error.absolute_path):
            return _message(section, deepest, root)
        key = ".".join(str(p) for p in [section, *_path(error)])
        hint = (
            (error.schema or {}).get("description") if isinstance(error.schema, Mapping) else None
        )
        text = f"{key} is {error.instance!r}"
        return f"{text}; expected {hint}" if hint else f"{text}: {error.message}"
    path = _path(error)
    key = ".".join(str(p) for p in [section, *path])
    sub: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    value = error.instance
    hint = sub.get("description")
    kind = error.validator
    if kind == "additionalProperties":
        allowed = ", ".join(sorted(sub.get("properties") or {}))
        return f"unknown key {key}; allowed: {allowed}"
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "type") and (
        sub.get("type") == "integer" and "minimum" in sub and "maximum" in sub
    ):
        text = (
            f"{key} must be a whole number between {sub['minimum']} and {sub['maximum']} "
            f"(got {value!r})"
        )
    elif kind == "type":
        text = f"{key} must be {_type_name(sub.get('type'))}, got {value!r}"
    elif kind == "enum":
        text = f"{key} is {value!r}; expected one of {', '.join(map(str, sub['enum']))}"
    elif kind == "required":
        missing = [k for k in error.validator_value if k not in (value or {})]
        text = f"{key}.{missing[0] if missing else '?'} is required"
    elif kind == "minItems":
        text = f"{key} must name at least {sub['minItems']} value(s)"
    elif kind == "pattern":
        text = f"{key} {value!r} is not valid"
    else:
        text = f"{key}: {error.message}"
    return f"{text}; {hint}" if hint else text


_TYPE_NAMES = {
    "integer": "a whole number",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
}


def _type_name(kind: Any) -> str:
    if isinstance(kind, list):
        return " or ".join(_TYPE_NAMES.get(k, str(k)) for k in kind)
    return _TYPE_NAMES.get(kind, str(kind))


def _coerce(schema: Mapping[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Numeric strings (from ``${ENV_VAR}``) -> numbers, for top-level numeric keys."""
    props = schema.get("properties") or {}
    for key, value in list(data.items()):
        kind = (props.get(key) or {}).get("type")
        if not isinstance(value, str) or kind not in ("integer", "number"):
            continue
        text = value.strip()
        try:
            number = float(text) if kind == "number" else int(text)
        except ValueError:
            continue
        if kind == "number" and not math.isfinite(number):
            continue
        data[key] = number
    return data
