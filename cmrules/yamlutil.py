"""YAML loading with line numbers: ``yaml.SafeLoader`` semantics, made strict.

Every YAML file cmrules reads (config, rule files, import files) goes through
:func:`load_with_lines`.  It parses with libyaml (``yaml.CSafeLoader``'s parser, some 10x
faster than the pure-Python one) when PyYAML was built with it, else with ``SafeLoader``'s;
either way the same safe constructors build the values, and on top of them it rejects, with
the line:

* duplicate keys in one mapping (``SafeLoader`` silently keeps the last one);
* keys that are not strings (``1:``, ``true:``, ``null:``);
* nesting deeper than :data:`MAX_DEPTH` levels (a deep file would exhaust the stack);
* alias expansion beyond :data:`MAX_ALIAS_EXPANSION` nodes (the "billion laughs" file: nine
  levels of ten aliases is 10^9 nodes from a few hundred bytes);
* impossible dates and times (``2026-02-30``, ``T25:00:00Z``): ``SafeLoader`` raises a bare
  ``ValueError`` with no line.

Every problem is a :class:`yaml.MarkedYAMLError`, so callers report it with
:func:`error_line` and ``exc.problem``.
"""

from __future__ import annotations

import codecs
import contextlib
from collections.abc import Iterator, Mapping, Sequence, Set
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import CollectionNode, MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

MAX_DEPTH = 64
MAX_ALIAS_EXPANSION = 100_000


class _Strict(SafeConstructor):
    """The strict constructors, shared by the libyaml and the pure-Python loader."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                shown = key_node.value if isinstance(key_node, ScalarNode) else "a collection"
                raise ConstructorError(
                    None,
                    None,
                    f'key {shown!s} is not a text key; quote it ("{shown!s}") if it is meant '
                    "as a name",
                    key_node.start_mark,
                )
            line = key_node.start_mark.line + 1
            if key_node.value in seen:
                raise ConstructorError(
                    None,
                    None,
                    f"duplicate key {key_node.value!r} (first at line {seen[key_node.value]}); "
                    "keep one",
                    key_node.start_mark,
                )
            seen[key_node.value] = line
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: ScalarNode) -> Any:  # type: ignore[override]
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError) as exc:
            raise ConstructorError(
                None,
                None,
                f"impossible date or time {node.value!r} ({exc}); fix it, or quote it if it "
                "is not meant as a date",
                node.start_mark,
            ) from None

    def construct_yaml_int(self, node: ScalarNode) -> Any:  # type: ignore[override]
        try:
            return super().construct_yaml_int(node)
        except ValueError:  # Python refuses int() of more than 4,300 digits
            raise ConstructorError(
                None, None, f"a {len(node.value)}-digit number is too large", node.start_mark
            ) from None


_Strict.add_constructor(  # type: ignore[type-var]
    "tag:yaml.org,2002:int",
    _Strict.construct_yaml_int,  # type: ignore[arg-type]
)
_Strict.add_constructor(  # type: ignore[type-var]
    "tag:yaml.org,2002:timestamp",
    _Strict.construct_yaml_timestamp,  # type: ignore[arg-type]
)


class _DepthComposer(Composer):
    """PyYAML's composer with the depth checked while composing, before Python's recursion
    limit is reached."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:  # type: ignore[override]
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise too_deep(self.peek_event().start_mark)  # type: ignore[attr-defined]
            return Composer.compose_node(self, parent, index)  # type: ignore[return-value]
        finally:
            self._depth -= 1


class _PyLoader(Reader, Scanner, Parser, _DepthComposer, _Strict, Resolver):
    """Pure-Python parsing (PyYAML without libyaml)."""

    def __init__(self, stream: Any):
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _Strict.__init__(self)
        Resolver.__init__(self)


try:
    from yaml.cyaml import CParser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    LOADER: type = _PyLoader
    STREAM_LOADER: type = _PyLoader
else:

    class _CLoader(CParser, _Strict, Resolver):
        """libyaml parsing, as ``yaml.CSafeLoader`` (libyaml stops at 1,000 levels of nesting;
        the 64-level limit is checked on the composed nodes)."""

        def __init__(self, stream: str):
            CParser.__init__(self, stream)
            _Strict.__init__(self)
            Resolver.__init__(self)

    LOADER = _CLoader

    class _CStreamLoader(CParser, _DepthComposer, _Strict, Resolver):
        """libyaml's events composed into nodes by PyYAML's composer one value at a time
        (:func:`stream_values`), the rest of the document never held."""

        def __init__(self, stream: Any):
            CParser.__init__(self, stream)
            Composer.__init__(self)
            _Strict.__init__(self)
            Resolver.__init__(self)

    STREAM_LOADER = _CStreamLoader


def too_deep(mark: Any) -> ConstructorError:
    """The error for nesting beyond :data:`MAX_DEPTH` at ``mark``."""
    return ConstructorError(
        None, None, f"nested deeper than {MAX_DEPTH} levels; flatten the structure", mark
    )


def check_nodes(root: Node, spent: int = 0, depth: int = 1, earlier: Set[int] = frozenset()) -> int:
    """Refuse, in one walk of the composed nodes, nesting deeper than :data:`MAX_DEPTH` (checked
    before going down, so the walk never recurses further: libyaml composes up to 1,000 levels)
    and a document whose aliases expand it beyond the budget (the DAG is small, the tree it
    stands for may be astronomically large; a scalar counts once per place it is written).
    ``spent``: what the values read before it already expanded (a file read value by value,
    ``depth`` levels down); ``earlier``: ids of the anchored nodes of those values — an alias
    to one of them is built again in full, so all of it counts as expansion; returns the
    total."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()
    distinct = 0

    def size(n: Node, depth: int, fresh: bool = True) -> int:
        nonlocal distinct
        if depth > MAX_DEPTH:
            raise too_deep(n.start_mark)
        key = id(n)
        fresh = fresh and key not in earlier
        if not isinstance(n, CollectionNode):
            distinct += fresh
            return 1
        if key in open_:
            raise ConstructorError(
                None, None, "an alias (*name) refers to its own anchor: write it out", n.start_mark
            )
        if key in sizes:
            return sizes[key]
        distinct += fresh
        open_.add(key)
        if isinstance(n, MappingNode):
            total = 1 + sum(
                size(k, depth + 1, fresh) + size(v, depth + 1, fresh) for k, v in n.value
            )
        else:
            total = 1 + sum(size(v, depth + 1, fresh) for v in n.value)
        open_.discard(key)
        sizes[key] = total
        return total

    expanded = size(root, depth)
    if spent + expanded - distinct > MAX_ALIAS_EXPANSION:
        raise ConstructorError(
            None,
            None,
            f"aliases (*name) expand this file to {expanded:,} values; at most "
            f"{MAX_ALIAS_EXPANSION:,} more than written are allowed — write the values out",
            root.start_mark,
        )
    return spent + expanded - distinct


def load_with_lines(
    text: str, line_depth: int | None = None
) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """Parse strictly (see the module doc); also return the 1-based line of every node by
    path (of the nodes at most ``line_depth`` levels down when given: an import file needs
    the lines of its sections and rows only, not of each of their values)."""
    loader = LOADER(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:  # libyaml's own limit, 1,000 levels
            if "maximum nesting depth" not in str(exc.problem):
                raise
            raise too_deep(exc.problem_mark) from None
        if node is None:
            return None, {}
        check_nodes(node)
        data = loader.construct_document(node)
    finally:
        loader.dispose()
    lines: dict[tuple[Any, ...], int] = {}
    visited: set[int] = set()
    limit = MAX_DEPTH if line_depth is None else line_depth

    def walk(n: Node, path: tuple[Any, ...]) -> None:
        lines[path] = n.start_mark.line + 1
        if id(n) in visited or len(path) >= limit:  # an alias: its lines are the anchor's
            return
        visited.add(id(n))
        if isinstance(n, MappingNode):
            for k, v in n.value:
                walk(v, (*path, k.value))
                lines[(*path, k.value)] = k.start_mark.line + 1
        elif isinstance(n, SequenceNode):
            for i, v in enumerate(n.value):
                walk(v, (*path, i))

    walk(node, ())
    return data, lines


@contextlib.contextmanager
def _in_words(path: Path, what: str) -> Iterator[None]:
    """``OSError`` of reading ``path`` as a ``ValueError`` in words."""
    try:
        yield
    except FileNotFoundError:
        raise ValueError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise ValueError(f"{path} is a directory, not a {what}") from None
    except PermissionError:
        raise ValueError(f"{path}: permission denied; make the {what} readable") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the {what} ({exc.strerror})") from None


def _not_utf8(path: Path, byte: int) -> ValueError:
    return ValueError(f"{path} is not UTF-8 (byte {byte}): save it as UTF-8")


def read_text(path: Path, what: str = "file") -> str:
    """A UTF-8 text file; ``ValueError`` in words ("no such file: x.yaml", "x.json is not
    UTF-8 (byte 1234): save it as UTF-8") instead of an exception class name."""
    with _in_words(path, what):
        data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, exc.start) from None
    return text.removeprefix("\ufeff")  # a BOM some editors add


def text_chunks(path: Path, what: str = "file", size: int = 1 << 20) -> Iterator[tuple[str, int]]:
    """:func:`read_text` a chunk at a time: ``(text, bytes read so far)``, the same errors
    (a byte that is not UTF-8 is reported when its chunk is reached)."""
    with _in_words(path, what):
        fh = path.open("rb")
    with fh:
        decoder = codecs.getincrementaldecoder("utf-8")()
        done = 0
        while True:
            with _in_words(path, what):
                data = fh.read(size)
            pending = len(decoder.getstate()[0])
            try:
                text = decoder.decode(data, final=not data)
            except UnicodeDecodeError as exc:
                raise _not_utf8(path, done - pending + exc.start) from None
            if not done:
                text = text.removeprefix("\ufeff")
            done += len(data)
            if text or not data:
                yield text, done
            if not data:
                return


def line_of(lines: Mapping[tuple[Any, ...], int], path: Sequence[Any]) -> int:
    """Line of ``path``, or of its closest ancestor present."""
    p = tuple(path)
    while p not in lines and p:
        p = p[:-1]
    return lines.get(p, 1)


def error_line(exc: yaml.YAMLError) -> int:
    """The 1-based line a YAML error points at (1 when it has none)."""
    mark = getattr(exc, "problem_mark", None)
    return mark.line + 1 if mark else 1


def problem(exc: yaml.YAMLError) -> str:
    """The readable part of a YAML error (``problem`` plus its context when useful)."""
    text = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    return f"{context}: {text}" if context and "duplicate" not in text else str(text)
