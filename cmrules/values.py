"""Parse the string forms CRMs send (``"17"``, ``"false"``, epoch ms, ISO dates, ``a;b``).

Every parser returns ``None`` for null, absent or empty input, and raises ``ValueError`` with
a readable message for a value that is present but malformed.  Connectors decide whether a
malformed value is fatal or is reported as missing data.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

_TRUE = {"true", "yes", "y", "1", "on", "oui", "vrai"}
_FALSE = {"false", "no", "n", "0", "off", "non", "faux"}


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def parse_bool(value: Any) -> bool | None:
    """A yes/no value as CRMs spell it (true, oui, 1...); blank: None (unknown)."""
    if _blank(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"not a boolean: {value!r} (expected true/false)")


def parse_number(value: Any) -> int | float | None:
    """``"17"`` -> 17, ``"1.5"`` -> 1.5, ``"1 200,5"`` -> 1200.5; NaN/inf are rejected."""
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {value!r}")
        return value
    text = str(value).strip().replace("\u00a0", "").replace(" ", "")
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    try:
        number = int(text)
    except ValueError:
        try:
            f = float(text)
        except ValueError:
            raise ValueError(f"not a number: {value!r}") from None
        if not math.isfinite(f):
            raise ValueError(f"not a finite number: {value!r}") from None
        return f
    return number


def parse_datetime(value: Any) -> datetime | None:
    """Epoch milliseconds (number or string), ISO-8601 date or date-time -> aware UTC datetime."""
    if _blank(value):
        return None
    if isinstance(value, datetime):
        return _utc(value if value.tzinfo else value.replace(tzinfo=UTC), value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_epoch_ms(float(value), value)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return _from_epoch_ms(float(text), value)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"not a date: {value!r} (expected ISO-8601 or epoch milliseconds)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return _utc(parsed, value)


def _utc(moment: datetime, original: Any) -> datetime:
    """In UTC; a moment that UTC cannot hold (``0001-01-01T00:00:00+01:00``) is an error."""
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError(f"date out of range: {original!s} (years 1 to 9999 in UTC)") from None


def _from_epoch_ms(ms: float, original: Any) -> datetime:
    try:
        return datetime.fromtimestamp(ms / 1000.0, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"not a date: {original!r} (epoch milliseconds out of range)") from None


def parse_multi(value: Any) -> list[str]:
    """HubSpot multi-checkbox ``"a;b"`` (or a list) -> ``["a", "b"]``; blank -> ``[]``."""
    if _blank(value):
        return []
    if isinstance(value, list | tuple | set | frozenset):
        return [str(v).strip() for v in value if not _blank(v)]
    return [part.strip() for part in str(value).split(";") if part.strip()]


def to_epoch_ms(moment: datetime) -> str:
    """Aware datetime -> HubSpot's epoch-milliseconds string."""
    return str(int(moment.timestamp() * 1000))


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 text of an instant in UTC (``Z``); None stays None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_as_of(text: str | None) -> datetime:
    """``--as-of``: an ISO-8601 instant (a date is midnight UTC); now when not given."""
    if not text:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        parsed = parse_datetime(text)
    except ValueError:
        parsed = None
    if parsed is None:
        from .errors import UsageError

        raise UsageError(
            f"--as-of {text!r} is not a date: use ISO-8601, e.g. 2026-11-20 or 2026-11-20T12:00:00Z"
        )
    return parsed
