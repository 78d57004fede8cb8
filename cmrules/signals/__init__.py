"""Signals: documented functions deriving one typed fact from the canonical model.

A signal returns a :class:`SignalValue` whose ``value`` is an ``int``, ``float`` or ``bool`` —
or ``None`` ("unknown") with a :class:`Reason`: the data is missing, it is too early to judge
(less time observed than the signal needs), or the source does not record that kind of thing.
Rules only ever see signals, never raw CRM fields, so a missing field can never pass silently:
the engine turns an unknown signal into a "cannot assess" finding that carries the reason.

Two kinds of subject are evaluated:

* ``company`` — one client company *in its engagement with one vendor* (most criteria);
* ``vendor`` — the vendor record itself, from its portfolio of active clients.

The modules follow the article's sections, like ``rules/*.yaml``: :mod:`.internal`
(inside the company), :mod:`.vendor` (at the vendor, per engagement), :mod:`.comments` (the
readers' comments) and :mod:`.portfolio` (the vendor over its clients).
"""

from __future__ import annotations

from collections.abc import Sequence

from . import comments, internal, portfolio, vendor  # they register the signals
from .base import (
    MISSING,
    NOT_RECORDED,
    REGISTRY,
    TOO_EARLY,
    UNKNOWN,
    WHAT_LABELS,
    Reason,
    Ref,
    SignalSettings,
    SignalSpec,
    SignalValue,
    coerce,
)
from .context import CompanyContext, ProspectContext, VendorContext, Window
from .vendor import median_first_reply_minutes, unanswered_requests

#: the article's order, in which signals are listed (docs, ``cmrules signals``)
SECTIONS = (internal, vendor, comments, portfolio)
_ordered = sorted(
    REGISTRY.items(), key=lambda kv: [m.__name__ for m in SECTIONS].index(kv[1].func.__module__)
)
REGISTRY.clear()
REGISTRY.update(_ordered)


def compute(
    ctx: CompanyContext | VendorContext, names: Sequence[str] | None = None
) -> dict[str, SignalValue]:
    """All signals for the context's subject (or only ``names``)."""
    subject = "company" if isinstance(ctx, CompanyContext) else "vendor"
    out: dict[str, SignalValue] = {}
    for spec in REGISTRY.values():
        if spec.subject != subject or (names is not None and spec.name not in names):
            continue
        out[spec.name] = spec.func(ctx)
    return out


__all__ = [
    "MISSING", "NOT_RECORDED", "REGISTRY", "TOO_EARLY", "UNKNOWN", "WHAT_LABELS", "CompanyContext",
    "ProspectContext",
    "Reason", "Ref", "SignalSettings", "SignalSpec", "SignalValue", "VendorContext", "Window",
    "coerce", "compute", "median_first_reply_minutes", "unanswered_requests",
]  # fmt: skip
