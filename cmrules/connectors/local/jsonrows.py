"""An import file in JSON, read one row at a time.

``json.loads`` of a 50 MB portfolio builds a tree of Python objects about four times the size
of the file, and the text alone takes two or four bytes a character as soon as one character
(a ``’``, an emoji) is outside Latin-1.  The import needs one row at a time: :class:`JsonRows`
reads the file in chunks of 1 MB, walks the top-level object and each section's array itself
and hands every row to the standard library's C scanner (``JSONDecoder.scan_once``), so memory
stays at a chunk plus one row whatever the size of the file.  Lines are counted as the rows go
by (``str.count`` of the newlines between two rows, at C speed).

JSON made strict like the YAML the import also reads: a key twice in one object, ``NaN`` /
``Infinity``, a number of more than 4,300 digits and nesting beyond Python's recursion limit
are errors with their line, not silently the last value, a float or a traceback.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from json.decoder import scanstring  # type: ignore[attr-defined]
from pathlib import Path
from typing import Any

from cmrules.errors import UsageError
from cmrules.yamlutil import text_chunks

_WS = re.compile(r"[ \t\n\r]*")
CHUNK = 1 << 20


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


def _real(failure: tuple[str, int], window: int) -> bool:
    """Whether a scan's failure is in the text, not the window's end cutting a value short:
    the scanner stops within a token (``-Infinity``, ``\\uXXXX``) of the end when cut short,
    except in a string, which may close in a later chunk."""
    message, pos = failure
    return not message.startswith("Unterminated string") and pos + 64 <= window


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number; write the value as a number or text")


class JsonRows:
    """The sections of a JSON import file, read once from start to end.

    :meth:`sections` yields ``(section, rows)`` for each section whose value is a list, in
    the file's order, after checking the section's name; ``rows`` yields ``(line, row)`` and
    must be read to its end before the next section.  Every problem is a :class:`UsageError`
    naming ``path:line``.
    """

    def __init__(self, path: Path, chunk: int | None = None):
        self.path = path
        decoder = json.JSONDecoder(object_pairs_hook=_mapping, parse_constant=_constant)
        self._scan: Callable[[str, int], tuple[Any, int]] = decoder.scan_once  # type: ignore[attr-defined]
        try:
            self._chunks = text_chunks(path, "import file", chunk or CHUNK)
            self.buf, self.bytes_read = next(self._chunks)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        self._eof = False
        self._line, self._line_pos = 1, 0  # the line at buf[_line_pos]
        self._pos = 0  # where the rows of the section being read ended

    # -- the window ------------------------------------------------------------------------

    def _more(self, keep_from: int) -> int:
        """Read the next chunk, dropping the text before ``keep_from``; returns how many
        characters were dropped (positions move back by as much), -1 at the end."""
        if self._eof:
            return -1
        try:
            text, self.bytes_read = next(self._chunks)
        except StopIteration:
            self._eof = True
            return -1
        except ValueError as exc:  # not UTF-8 further on
            raise UsageError(str(exc)) from None
        if not text:
            self._eof = True
            return -1
        self._advance(keep_from)
        self.buf = self.buf[keep_from:] + text
        self._line_pos -= keep_from
        return keep_from

    @property
    def position(self) -> int:
        """About how many bytes of the file were read up to the current row (for progress:
        the characters after it in the window are counted as bytes)."""
        return max(0, self.bytes_read - (len(self.buf) - self._line_pos))

    def _advance(self, pos: int) -> None:
        if pos > self._line_pos:
            self._line += self.buf.count("\n", self._line_pos, pos)
            self._line_pos = pos

    def _line_at(self, pos: int) -> int:
        if pos >= self._line_pos:
            return self._line + self.buf.count("\n", self._line_pos, pos)
        return self._line - self.buf.count("\n", pos, self._line_pos)

    def _ws(self, pos: int) -> int:
        """Position of the next non-blank character (reading on as needed)."""
        while True:
            end = _WS.match(self.buf, pos).end()  # type: ignore[union-attr]
            if end < len(self.buf):
                return end
            dropped = self._more(pos)
            if dropped < 0:
                return end
            pos -= dropped

    def _char(self, pos: int) -> tuple[str, int]:
        """The next non-blank character and its position ('' at the end of the file)."""
        pos = self._ws(pos)
        return self.buf[pos : pos + 1], pos

    def error(self, pos: int, message: str) -> UsageError:
        """``message`` about the text at ``pos`` of the window, with the file and its line."""
        return UsageError(f"{self.path}:{self._line_at(pos)}: {message}")

    def _syntax(self, pos: int, message: str) -> UsageError:
        return self.error(pos, f"not valid JSON: {message}")

    # -- the document ----------------------------------------------------------------------

    def sections(self, names: tuple[str, ...]) -> Iterator[tuple[str, Iterator[tuple[int, Any]]]]:
        """``(section, rows)`` for each section of the top-level object whose value is a list
        (a ``null`` section is empty)."""
        char, pos = self._char(0)
        if char != "{":
            raise self.error(pos, f"expected a mapping with keys {', '.join(names)}")
        seen: dict[str, int] = {}
        char, pos = self._char(pos + 1)
        while char != "}":
            if seen:
                if char != ",":
                    raise self._syntax(pos, "expecting ',' or '}' after a section")
                char, pos = self._char(pos + 1)
            if char != '"':
                raise self._syntax(pos, "expecting a key in double quotes")
            key, pos, end = self._value(pos, scanstring, 1)
            line = self._line_at(pos)
            if key in seen:
                first = seen[key]
                raise self.error(pos, f"duplicate key {key!r} (first at line {first}); keep one")
            if key not in names:
                raise self.error(pos, f"unknown section {key!r}; expected {', '.join(names)}")
            seen[key] = line
            char, pos = self._char(end)
            if char != ":":
                raise self._syntax(pos, "expecting ':' after the key")
            char, pos = self._char(pos + 1)
            if char == "[":
                self._pos = pos
                yield key, self._rows()
                pos = self._pos  # where the rows ended
            elif self.buf.startswith("null", pos):
                pos += 4
            else:
                raise self.error(pos, f"{key} must be a list")
            char, pos = self._char(pos)
        char, pos = self._char(pos + 1)
        if char:
            raise self._syntax(pos, "extra data after the top-level mapping")

    def _rows(self) -> Iterator[tuple[int, Any]]:
        """``(line, row)`` for each element of the array at ``self._pos``; leaves
        ``self._pos`` after its ']'."""
        char, pos = self._char(self._pos + 1)
        if char == "]":
            self._pos = pos + 1
            return
        while True:
            row, pos, end = self._value(pos, self._scan, 0)
            self._advance(pos)
            yield self._line, row
            char = self.buf[end : end + 1]
            if char == ",":  # the usual case: the next row follows, maybe after a newline
                pos = end
            else:
                char, pos = self._char(end)
            if char == "]":
                self._pos = pos + 1
                return
            if char != ",":
                raise self._syntax(pos, "expecting ',' or ']' after a row")
            char, pos = self._char(pos + 1)
            if char == "]":
                raise self._syntax(pos, "expecting a value")

    def _value(
        self, start: int, scan: Callable[[str, int], tuple[Any, int]], skip: int
    ) -> tuple[Any, int, int]:
        """``scan(buf, start + skip)`` -> ``(value, start, end)``, reading on when the value
        runs past the window (``start`` and ``end`` are positions in the window after that)."""
        failure: tuple[str, int] | None
        while True:
            try:
                value, end = scan(self.buf, start + skip)
                if end < len(self.buf) or self._eof:  # a number may go on in the next chunk
                    return value, start, end
                failure = None
            except StopIteration as exc:
                failure = ("expecting a value", exc.value)
            except json.JSONDecodeError as exc:
                failure = (exc.msg, exc.pos)
            except _DuplicateKey as exc:
                where = self._key_at(start, exc.key)
                raise self.error(where, f"duplicate key {exc.key!r}; keep one") from None
            except RecursionError:
                raise self.error(start, "nested too deeply; flatten the structure") from None
            except ValueError as exc:  # NaN / Infinity, or int() of more than 4,300 digits
                message = str(exc)
                if "digits" in message:
                    message = "a number is too large (more than 4,300 digits)"
                raise self.error(start, message) from None
            if failure and (self._eof or _real(failure, len(self.buf))):
                raise self._syntax(failure[1], failure[0])
            dropped = self._more(start)  # cut short by the window? read on and try again
            if dropped > 0:
                start -= dropped
                if failure is not None:
                    failure = (failure[0], failure[1] - dropped)

    def _key_at(self, pos: int, key: str) -> int:
        """Position of the second ``"key"`` after ``pos`` (where a duplicate key stands)."""
        quoted = json.dumps(key, ensure_ascii=False)
        first = self.buf.find(quoted, pos)
        second = self.buf.find(quoted, first + 1) if first >= 0 else -1
        return second if second >= 0 else pos
