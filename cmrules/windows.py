"""Observation windows: declared once on the signals, read by rules as ``window_days``.

A signal registered with ``window_days`` (see :mod:`cmrules.signals.base`) gives every rule
that reads it a ``window_days`` parameter with that default; ``rules.params`` or a profile may
set another.  The signal is computed once per record, so two rules reading it must agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .errors import ConfigError
from .signals import REGISTRY

#: the parameter naming the observation window of a rule's windowed signals
WINDOW_PARAM = "window_days"


def _signals(raw: Any) -> list[str]:
    """Signal names in a raw (schema-valid) condition."""
    if not isinstance(raw, dict):
        return []
    if "signal" in raw:
        return [str(raw["signal"])]
    items = raw.get("all") or raw.get("any") or ([raw["not"]] if "not" in raw else [])
    return [s for item in items for s in _signals(item)]


def default_window(raw_when: Any) -> int | None:
    """The default window of a rule: the longest of its windowed signals' windows."""
    days = [
        REGISTRY[n].window_days for n in _signals(raw_when) if n in REGISTRY
    ]  # fmt: skip
    known = [d for d in days if d]
    return max(known) if known else None


def signal_windows(rules: Iterable[Any]) -> dict[str, int]:
    """Signal name -> observation window in days, from the rules reading it (``Rule``
    objects).  Two rules reading one signal over different windows is a config error."""
    out: dict[str, int] = {}
    seen: dict[str, str] = {}
    for rule in rules:
        if WINDOW_PARAM not in rule.params:
            continue
        days = rule.params[WINDOW_PARAM]
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise ConfigError(
                f"{rule.id}: {WINDOW_PARAM} must be a whole number of days (1 or more), "
                f"not {days!r}"
            )
        for name in rule.signals:
            if REGISTRY[name].window_days is None:
                continue
            if name in out and out[name] != days:
                raise ConfigError(
                    f"rules {seen[name]} and {rule.id} both read {name} but over different "
                    f"windows ({out[name]} and {days} days): give them the same "
                    f"{WINDOW_PARAM} in rules.params"
                )
            out[name], seen[name] = days, rule.id
    return out
