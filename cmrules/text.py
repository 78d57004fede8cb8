"""Small grammar helpers for text a person reads: plurals, numbers, dates, French typography.

* Plurals follow each language's rule: in French a quantity below 2 is singular
  ("0,5 réunion", "1 réunion", "2 réunions"); in English only exactly 1 is ("0.5 meetings").
* French typography: a narrow no-break space (U+202F) before ``; : ! ?`` and inside « »,
  and one apostrophe style (’) everywhere.
* Dates are written as a person would: "5 December 2026" / "5 décembre 2026".
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime

NNBSP = "\u202f"  # narrow no-break space
NBSP = "\u00a0"

_MONTHS = {
    "fr": (
        "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
        "octobre", "novembre", "décembre",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June", "July", "August", "September",
        "October", "November", "December",
    ),
}  # fmt: skip


def is_plural(n: float, language: str) -> bool:
    """French: 2 and more (and not 0 or 1,5); English: anything but exactly 1."""
    if language == "fr":
        return abs(n) >= 2
    return abs(n) != 1


def plural(n: float, one: str, other: str, language: str) -> str:
    """The form of a noun phrase that agrees with ``n`` (without the number)."""
    return other if is_plural(n, language) else one


def number(value: float, language: str) -> str:
    """``3``, ``0.33`` / ``0,33``; at most two decimals, no trailing zeros."""
    if isinstance(value, bool):  # pragma: no cover - callers format booleans themselves
        return str(value)
    whole = float(value).is_integer()
    text = str(int(value)) if whole else f"{value:.2f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") if language == "fr" else text


def count(n: float, one: str, other: str, language: str) -> str:
    """``1 meeting``, ``2 meetings``, ``0,5 réunion``."""
    return f"{number(n, language)} {plural(n, one, other, language)}"


def percent(rate: float, language: str) -> str:
    """``25%`` / ``25 %`` (a narrow no-break space in French), no decimals."""
    text = f"{rate * 100:.0f}"
    return f"{text}{NNBSP}%" if language == "fr" else f"{text}%"


def day(d: date | datetime, language: str) -> str:
    """``5 December 2026`` / ``5 décembre 2026`` (``1er`` in French)."""
    if isinstance(d, datetime):
        d = d.date()
    month = _MONTHS[language][d.month - 1]
    first = "1er" if language == "fr" and d.day == 1 else str(d.day)
    return f"{first} {month} {d.year}"


def day_of(iso: object, language: str) -> str:
    """A stored date (``2026-11-20`` or a full ISO instant) as :func:`day` writes it; ``?`` when
    missing, anything unreadable as it is."""
    if not iso:
        return "?"
    try:
        return day(date.fromisoformat(str(iso)[:10]), language)
    except ValueError:
        return str(iso)


def join(items: list[str], language: str, last: str | None = None) -> str:
    """``a, b and c`` / ``a, b et c`` (``last`` overrides the final conjunction)."""
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    conj = last or ("et" if language == "fr" else "and")
    return ", ".join(items[:-1]) + f" {conj} " + items[-1]


_FR_BEFORE = re.compile(r"[ \u00a0\u202f]*([;:!?»])")
_FR_AFTER = re.compile(r"(«)[ \u00a0\u202f]*")
_URLISH = re.compile(r"\w+://\S+")


def typography(text: str, language: str) -> str:
    """One apostrophe style; in French, a narrow no-break space before ``; : ! ? »`` and after
    ``«`` (never inside a URL or a time such as 10:30).  Short texts (labels, sentences of
    findings: the same few again for every record) are remembered, a bounded number of them."""
    if len(text) <= _REMEMBER_UP_TO:
        return _typography_short(text, language)
    return _typography(text, language)


_REMEMBER_UP_TO = 400  # characters: a note's body is written afresh, its parts are remembered


@functools.lru_cache(maxsize=4096)
def _typography_short(text: str, language: str) -> str:
    return _typography(text, language)


def _typography(text: str, language: str) -> str:
    text = text.replace("'", "’")
    if language != "fr":
        return text
    urls: list[str] = []

    def keep(m: re.Match[str]) -> str:
        urls.append(m.group(0))
        return f"\x00{len(urls) - 1}\x00"

    text = _URLISH.sub(keep, text)
    text = re.sub(r"(?<=\d):(?=\d)", "\x01", text)  # 10:30 stays as it is
    text = _FR_BEFORE.sub(lambda m: NNBSP + m.group(1), text)
    text = _FR_AFTER.sub(lambda m: m.group(1) + NNBSP, text)
    text = text.replace("\x01", ":")
    return re.sub(r"\x00(\d+)\x00", lambda m: urls[int(m.group(1))], text)


def capitalise(text: str) -> str:
    """The first letter in upper case, the rest untouched."""
    return text[:1].upper() + text[1:]
