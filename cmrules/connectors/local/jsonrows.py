"""An import file in JSON, read one row at a time.

``json.loads`` of a 50 MB portfolio builds a tree of Python objects about four times the size
of the file; the import needs one row at a time.  :class:`JsonRows` walks the top-level object
and each section's array itself and hands every row to the standard library's C scanner
(``JSONDecoder.scan_once``), so memory stays at the text plus one row, and the character
offset of each row is known.  A line number is counted from that offset only when a row is
reported (``str.count`` of the newlines before it).

JSON made strict like the YAML the import also reads: a key twice in one object, ``NaN`` /
``Infinity``, a number of more than 4,300 digits and nesting beyond Python's recursion limit
are errors with their line, not silently the last value, a float or a traceback.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

from cmrules.errors import UsageError

_WS = re.compile(r"[ \t\n\r]*")


class _DuplicateKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _mapping(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return out


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number; write the value as a number or text")


class JsonRows:
    """The sections of a JSON import file, their rows parsed as they are read.

    ``sections(names)`` yields ``(section, rows)`` with ``organisations`` first wherever it
    stands in the file (the other sections refer to it; a section written before it is
    skipped over and read again after it); ``rows`` yields ``(offset, row)``.  Every syntax
    problem is a :class:`UsageError` naming ``path:line``.
    """

    def __init__(self, text: str, path: str):
        self.text = text
        self.path = path
        decoder = json.JSONDecoder(object_pairs_hook=_mapping, parse_constant=_constant)
        self._scan: Callable[[str, int], tuple[Any, int]] = decoder.scan_once  # type: ignore[attr-defined]
        self._ends: dict[int, int] = {}  # offset of a section's '[' -> offset after its ']'
        self.position = 0  # how far the reading got (for progress)

    def line(self, offset: int) -> int:
        """1-based line of a character offset."""
        return self.text.count("\n", 0, offset) + 1

    def error(self, offset: int, message: str) -> UsageError:
        return UsageError(f"{self.path}:{self.line(offset)}: {message}")

    def _syntax(self, offset: int, message: str) -> UsageError:
        return self.error(offset, f"not valid JSON: {message}")

    def sections(self, names: tuple[str, ...]) -> Iterator[tuple[str, Iterator[tuple[int, Any]]]]:
        """``(name, rows)`` per section present, ``names[0]`` first (see the class doc)."""
        first, first_done = names[0], False
        deferred: list[tuple[str, int]] = []
        for name, offset in self._top(names):
            if name == first or first_done:
                yield name, self.rows(offset)
                first_done = first_done or name == first
                for late, late_offset in deferred:
                    yield late, self.rows(late_offset)
                deferred.clear()
            else:
                deferred.append((name, offset))
                for _ in self.rows(offset):  # read over it: parsed, checked, dropped
                    pass
        for late, late_offset in deferred:  # no names[0] section in the file
            yield late, self.rows(late_offset)

    def _top(self, names: tuple[str, ...]) -> Iterator[tuple[str, int]]:
        """``(section, offset of its '[')`` for each section of the top-level object whose
        value is a list; a ``null`` section is empty.  The caller reads the rows before asking
        for the next one."""
        text, ws = self.text, _WS.match
        pos = ws(text, 0).end()  # type: ignore[union-attr]
        if text[pos : pos + 1] != "{":
            raise self.error(pos, f"expected a mapping with keys {', '.join(names)}")
        seen: dict[str, int] = {}
        pos = ws(text, pos + 1).end()  # type: ignore[union-attr]
        if text[pos : pos + 1] == "}":
            pos += 1
        else:
            while True:
                if text[pos : pos + 1] != '"':
                    raise self._syntax(pos, "expecting a key in double quotes")
                key, end = self._string(pos)
                if key in seen:
                    raise self.error(
                        pos, f"duplicate key {key!r} (first at line {seen[key]}); keep one"
                    )
                if key not in names:
                    raise self.error(pos, f"unknown section {key!r}; expected {', '.join(names)}")
                seen[key] = self.line(pos)
                pos = ws(text, end).end()  # type: ignore[union-attr]
                if text[pos : pos + 1] != ":":
                    raise self._syntax(pos, "expecting ':' after the key")
                pos = ws(text, pos + 1).end()  # type: ignore[union-attr]
                if text.startswith("null", pos):
                    pos += 4
                elif text[pos : pos + 1] == "[":
                    yield key, pos
                    pos = self._ends[pos]  # the caller has read the rows
                else:
                    raise self.error(pos, f"{key} must be a list")
                pos = ws(text, pos).end()  # type: ignore[union-attr]
                sep = text[pos : pos + 1]
                if sep == "}":
                    pos += 1
                    break
                if sep != ",":
                    raise self._syntax(pos, "expecting ',' or '}' after a section")
                pos = ws(text, pos + 1).end()  # type: ignore[union-attr]
        pos = ws(text, pos).end()  # type: ignore[union-attr]
        if pos != len(text):
            raise self._syntax(pos, "extra data after the top-level mapping")
        self.position = len(text)

    def _string(self, pos: int) -> tuple[str, int]:
        try:
            return scanstring(self.text, pos + 1)
        except json.JSONDecodeError as exc:
            raise self._syntax(exc.pos, exc.msg) from None

    def rows(self, offset: int) -> Iterator[tuple[int, Any]]:
        """``(offset, row)`` for each element of the array at ``offset``."""
        text, ws = self.text, _WS.match
        pos = ws(text, offset + 1).end()  # type: ignore[union-attr]
        if text[pos : pos + 1] == "]":
            self._ends[offset] = pos + 1
            return
        while True:
            row, end = self._value(pos)
            yield pos, row
            pos = ws(text, end).end()  # type: ignore[union-attr]
            self.position = pos
            sep = text[pos : pos + 1]
            if sep == "]":
                self._ends[offset] = pos + 1
                return
            if sep != ",":
                raise self._syntax(pos, "expecting ',' or ']' after a row")
            pos = ws(text, pos + 1).end()  # type: ignore[union-attr]

    def _value(self, pos: int) -> tuple[Any, int]:
        try:
            return self._scan(self.text, pos)
        except StopIteration as exc:
            raise self._syntax(exc.value, "expecting a value") from None
        except json.JSONDecodeError as exc:
            raise self._syntax(exc.pos, exc.msg) from None
        except _DuplicateKey as exc:
            where = self._key_at(pos, exc.key)
            raise self.error(where, f"duplicate key {exc.key!r}; keep one") from None
        except RecursionError:
            raise self.error(pos, "nested too deeply; flatten the structure") from None
        except ValueError as exc:  # NaN / Infinity, or int() of more than 4,300 digits
            message = str(exc)
            if "digits" in message:
                message = "a number is too large (more than 4,300 digits)"
            raise self.error(pos, message) from None

    def _key_at(self, pos: int, key: str) -> int:
        """Offset of the second ``"key"`` after ``pos`` (where a duplicate key stands)."""
        quoted = json.dumps(key, ensure_ascii=False)
        first = self.text.find(quoted, pos)
        second = self.text.find(quoted, first + 1) if first >= 0 else -1
        return second if second >= 0 else pos
