"""An import file in YAML, read one row at a time.

``yaml.safe_load`` of a portfolio builds every node of the document, then every Python
value, before the first row can be imported: about 60 times the file in memory.  The import
needs one row at a time: :class:`YamlRows` feeds the file to libyaml (or PyYAML's own parser
where PyYAML was built without it) a megabyte at a time, walks the events of the top-level
mapping and of each section's sequence itself, and composes and builds one row at a time with
the same strict loader as every YAML file cmrules reads (:mod:`cmrules.yamlutil`: duplicate
keys, text keys, impossible dates, depth and alias limits — the alias budget counted over the
whole file).  An anchor may be used by a later row, as in a document read whole.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from yaml.events import (
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)
from yaml.nodes import ScalarNode

from cmrules.errors import UsageError
from cmrules.yamlutil import STREAM_LOADER, check_nodes, error_line, problem, text_chunks, too_deep

CHUNK = 1 << 20
_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"


class _Text:
    """The file's text for the parser, a chunk at a time, counting the bytes read."""

    def __init__(self, path: Path, chunk: int):
        self._chunks = text_chunks(path, "import file", chunk)
        try:  # the first chunk now: a missing or unreadable file is reported before parsing
            self._first: str | None
            self._first, self.bytes_read = next(self._chunks)
        except ValueError as exc:
            raise UsageError(str(exc)) from None

    def read(self, size: int = -1) -> str:
        if self._first is not None:
            text, self._first = self._first, None
            return text
        try:
            text, self.bytes_read = next(self._chunks)
        except StopIteration:
            return ""
        return text


class _Anchors(dict[str, Any]):
    """The composer's anchors, noting the nodes anchored since the last :meth:`settle`."""

    def __init__(self) -> None:
        super().__init__()
        self.earlier: set[int] = set()  # anchored by the rows already read
        self._new: set[int] = set()

    def __setitem__(self, name: str, node: Any) -> None:
        super().__setitem__(name, node)
        self._new.add(id(node))

    def settle(self) -> None:
        self.earlier |= self._new
        self._new.clear()


class YamlRows:
    """The sections of a YAML import file, read once from start to end, with the interface
    of :class:`~.jsonrows.JsonRows`: :meth:`sections` yields ``(section, rows)`` in the
    file's order, ``rows`` yields ``(line, row)`` and must be read to its end before the next
    section.  Every problem is a :class:`UsageError` naming ``path:line``."""

    def __init__(self, path: Path, chunk: int | None = None):
        self.path = path
        self._text = _Text(path, chunk or CHUNK)
        self._loader = STREAM_LOADER(self._text)
        self._anchors = self._loader.anchors = _Anchors()
        self._spent = 0  # alias expansion over the rows read so far

    @property
    def position(self) -> int:
        """Bytes of the file handed to the parser so far (for progress)."""
        return self._text.bytes_read

    def _error(self, line: int, message: str) -> UsageError:
        return UsageError(f"{self.path}:{line}: {message}")

    def sections(self, names: tuple[str, ...]) -> Iterator[tuple[str, Iterator[tuple[int, Any]]]]:
        """``(section, rows)`` for each section whose value is a sequence (an empty or
        ``null`` section has no rows)."""
        try:
            with self._worded():
                yield from self._sections(names)
        finally:
            self._loader.dispose()

    @contextlib.contextmanager
    def _worded(self) -> Iterator[None]:
        """Parser and loader errors as ``UsageError`` with the file and line."""
        try:
            yield
        except UsageError:
            raise
        except ValueError as exc:  # not UTF-8, unreadable: worded by text_chunks
            raise UsageError(str(exc)) from None
        except yaml.YAMLError as exc:
            if "maximum nesting depth" in str(getattr(exc, "problem", "")):  # libyaml's 1,000
                exc = too_deep(getattr(exc, "problem_mark", None))  # worded as when read whole
            raise self._error(error_line(exc), f"not valid YAML: {problem(exc)}") from None

    def _sections(self, names: tuple[str, ...]) -> Iterator[tuple[str, Iterator[tuple[int, Any]]]]:
        load = self._loader
        expected = f"expected a mapping with keys {', '.join(names)}"
        if load.check_event(StreamStartEvent):
            load.get_event()
        if load.check_event(StreamEndEvent):
            raise self._error(1, expected)  # an empty file
        if load.check_event(DocumentStartEvent):
            load.get_event()
        if not load.check_event(MappingStartEvent):
            raise self._error(load.peek_event().start_mark.line + 1, expected)
        load.get_event()
        seen: dict[str, int] = {}
        while not load.check_event(MappingEndEvent):
            key = load.compose_node(None, None)
            line = key.start_mark.line + 1
            if not isinstance(key, ScalarNode) or key.tag != _STR:
                shown = key.value if isinstance(key, ScalarNode) else "a collection"
                message = f'key {shown!s} is not a text key; quote it ("{shown!s}") if it '
                raise self._error(line, f"not valid YAML: {message}is meant as a name")
            name = key.value
            if name in seen:
                raise self._error(
                    line, f"not valid YAML: duplicate key {name!r} (first at line "
                    f"{seen[name]}); keep one",
                )  # fmt: skip
            seen[name] = line
            if name not in names:
                raise self._error(line, f"unknown section {name!r}; expected {', '.join(names)}")
            if load.check_event(SequenceStartEvent):
                load.get_event()
                yield name, self._rows()
            else:
                value = load.compose_node(None, None)
                empty = isinstance(value, ScalarNode) and value.tag == _NULL
                if not empty:
                    raise self._error(value.start_mark.line + 1, f"{name} must be a list")
        load.get_event()  # the mapping's end
        if load.check_event(DocumentEndEvent):
            load.get_event()
        if not load.check_event(StreamEndEvent):
            event = load.peek_event()
            raise self._error(event.start_mark.line + 1, "not valid YAML: expected a single "
                                                         "document in the stream")  # fmt: skip

    def _rows(self) -> Iterator[tuple[int, Any]]:
        with self._worded():
            yield from self._read_rows()

    def _read_rows(self) -> Iterator[tuple[int, Any]]:
        load = self._loader
        while not load.check_event(SequenceEndEvent):
            node = load.compose_node(None, None)
            earlier = self._anchors.earlier
            self._spent = check_nodes(node, self._spent, depth=3, earlier=earlier)
            self._anchors.settle()
            row = load.construct_document(node)
            yield node.start_mark.line + 1, row
        load.get_event()
