"""Signal values, the reasons a value is unknown, the registry and signal-level settings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Subject = Literal["company", "vendor"]
SignalType = Literal["int", "float", "bool"]

#: Why a signal is unknown.
MISSING = "missing"  # the data needed is not filled in
TOO_EARLY = "too_early"  # less time observed than the signal needs
NOT_RECORDED = "not_recorded"  # the source does not record that kind of thing


@dataclass(frozen=True)
class Ref:
    """A record a signal value came from (evidence)."""

    kind: str  # contact | meeting | proposal | ticket | organisation | engagement | …
    id: str
    label: str = ""


@dataclass(frozen=True)
class Reason:
    """Why a signal is unknown, carried into the "cannot assess" finding."""

    code: str  # MISSING | TOO_EARLY | NOT_RECORDED
    observed_days: int | None = None  # TOO_EARLY: days observed so far
    needed_days: int | None = None  # TOO_EARLY: days needed before judging
    source: str = ""  # NOT_RECORDED: the source that does not record it
    what: tuple[str, ...] = ()  # NOT_RECORDED: what is not recorded (see WHAT_LABELS)

    def to_dict(self) -> dict[str, Any]:
        """The reason as JSON: its code, and what it needs (days observed, what the source does
        not record)."""
        out: dict[str, Any] = {"code": self.code}
        if self.code == TOO_EARLY:
            out.update(observed_days=self.observed_days, needed_days=self.needed_days)
        if self.code == NOT_RECORDED:
            out.update(source=self.source, what=list(self.what))
        return out


@dataclass(frozen=True)
class SignalValue:
    """A signal's value for one record, with the records it counted, or why it is unknown."""

    value: int | float | bool | None
    records: tuple[Ref, ...] = ()
    reason: Reason | None = None  # only when value is None
    window_days: int | None = None  # days the value was computed over (windowed signals)

    @property
    def known(self) -> bool:
        """Whether the value could be computed."""
        return self.value is not None


UNKNOWN = SignalValue(None, reason=Reason(MISSING))


def too_early(observed: int, needed: int) -> SignalValue:
    """Unknown because fewer days are observed than the window needs: "too early to judge"."""
    return SignalValue(None, reason=Reason(TOO_EARLY, observed_days=observed, needed_days=needed))


def not_recorded(source: str, *what: str) -> SignalValue:
    """Unknown because ``source`` does not record that kind of data: absence is not evidence."""
    return SignalValue(None, reason=Reason(NOT_RECORDED, source=source, what=what))


#: Words for what a source may not record, in both languages (used in "cannot assess").
WHAT_LABELS: dict[str, dict[str, str]] = {
    "meeting": {"en": "meetings", "fr": "les réunions"},
    "call": {"en": "calls", "fr": "les appels"},
    "email": {"en": "e-mails", "fr": "les e-mails"},
    "ticket": {"en": "tickets", "fr": "les tickets"},
    "note": {"en": "notes", "fr": "les notes"},
    "proposal": {"en": "vendor proposals", "fr": "les propositions du prestataire"},
    "report": {"en": "KPI reports", "fr": "les bilans d’indicateurs"},
    "offer_change": {"en": "offer revisions", "fr": "les révisions d’offre"},
    "attendees": {"en": "meeting attendees", "fr": "les participants aux réunions"},
    "strategy": {"en": "strategy reviews", "fr": "les revues stratégiques"},
    "onboarding": {"en": "onboarding", "fr": "l’onboarding"},
}


@dataclass(frozen=True)
class SignalSpec:
    """A registered signal: its subject, type, documentation, how to provide its data, and its
    function."""

    name: str
    subject: Subject
    type: SignalType
    doc: str
    missing: Mapping[str, str]  # language -> how to provide the data
    volatile: bool  # value drifts with time alone (days since …): excluded from fingerprints
    func: Callable[[Any], SignalValue] = field(compare=False, repr=False)
    window_days: int | None = None  # default observation window (rules may override it)


REGISTRY: dict[str, SignalSpec] = {}


def signal(
    name: str,
    subject: Subject,
    type: SignalType,
    *,
    missing_en: str,
    missing_fr: str,
    volatile: bool = False,
    window_days: int | None = None,
) -> Callable[[Callable[[Any], SignalValue]], Callable[[Any], SignalValue]]:
    """Register a signal.  ``window_days`` declares its observation window, once: rules read
    it as their ``window_days`` parameter (overridable per rule in config)."""

    def register(func: Callable[[Any], SignalValue]) -> Callable[[Any], SignalValue]:
        if name in REGISTRY:  # pragma: no cover - programming error
            raise ValueError(f"signal {name} registered twice")
        doc = " ".join((func.__doc__ or "").split())
        REGISTRY[name] = SignalSpec(
            name, subject, type, doc, {"en": missing_en, "fr": missing_fr}, volatile, func,
            window_days,
        )  # fmt: skip
        return func

    return register


@dataclass(frozen=True)
class SignalSettings:
    """Signal-level settings (config key ``signals``)."""

    regulated_industries: tuple[str, ...] = (
        "banking", "finance", "insurance", "pharmaceuticals", "healthcare", "medical",
        "legal", "energy", "chemicals", "defense", "banque", "assurance", "santé",
        "pharmacie", "juridique", "énergie",
    )  # fmt: skip
    unanswered_after_hours: int = 48
    #: below this many observed days a rate is "too early" to judge
    min_observed_days: int = 30
    #: signal name -> observation window in days (from the rules; default: the signal's own)
    windows: Mapping[str, int] = field(default_factory=dict)

    def window(self, name: str) -> int:
        """The observation window of a signal in days (the rules' request, else the signal's
        default)."""
        spec = REGISTRY[name]
        return int(self.windows.get(name) or spec.window_days or 0)


def coerce(spec: SignalSpec, raw: Any) -> int | float | bool | None:
    """Normalise a raw signal value (possibly a CRM string such as ``"3"`` or ``"false"``) to
    the signal's declared type.  Blank, null, NaN or unparsable values become ``None``
    (unknown) — they must never compare as text."""
    from ..values import parse_bool, parse_number

    try:
        if spec.type == "bool":
            return parse_bool(raw)
        number = parse_number(raw)
    except ValueError:
        return None
    if number is None:
        return None
    if spec.type == "int":
        if isinstance(number, float):
            return number if number != int(number) else int(number)
        return number
    return float(number)
