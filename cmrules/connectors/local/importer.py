"""``cmrules local import FILE``: organisations, contacts, activities and engagements from a
YAML or JSON file into the local store, in one transaction.

A bad row is reported with its file, row and line, and nothing partial is committed.  What a
row may hold and how it is stored: :mod:`.rows`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cmrules.errors import ConnectorError, UsageError
from cmrules.progress import Counter, OnProgress, phase
from cmrules.values import iso
from cmrules.yamlutil import line_of, load_with_lines

from . import workflow
from .jsonrows import JsonRows
from .rows import KEY_NAME, KEYS, PARAMS, SECTIONS, SQL, RowError, row_key, text_value
from .yamlrows import YamlRows

if TYPE_CHECKING:
    from .connector import LocalConnector


def import_file(
    conn: LocalConnector,
    path: Path | str,
    replace_demo: bool = False,
    on_progress: OnProgress | None = None,
) -> dict[str, int]:
    """Load a YAML/JSON file into the local database in one transaction.

    Returns counts per section.  Raises :class:`UsageError` naming the file, the row and its
    line for the first bad row; nothing is committed then.  ``replace_demo``: when the store
    holds only the bundled demo and the file brings organisations of its own, the demo is
    deleted in the same transaction (``counts["demo_replaced"]`` is then 1).

    A ``.json`` file is read by the standard library's JSON scanner one row at a time (see
    :mod:`.jsonrows`); any other file is YAML, also read one row at a time (libyaml when
    available, see :mod:`.yamlrows`).  ``on_progress`` (:mod:`cmrules.progress`): bytes of
    the file imported.
    """
    path = Path(path)
    rows = JsonRows if path.suffix.lower() == ".json" else YamlRows
    return _import(conn, _StreamSource(path, rows), replace_demo, on_progress)


def import_data(
    conn: LocalConnector,
    data: Any,
    lines: Mapping[tuple[Any, ...], int],
    path: str,
    replace_demo: bool = False,
    on_progress: OnProgress | None = None,
) -> dict[str, int]:
    """Import already-parsed data (``lines``: line of each node, ``path``: where it came from)
    with the same checks as :func:`import_file`; rule tests' ``dataset:`` uses this."""
    return _import(conn, _TreeSource(data, lines, path), replace_demo, on_progress)


class _TreeSource:
    """Sections of parsed YAML (or a rule test's ``dataset:``); a row's place is its index."""

    def __init__(self, data: Any, lines: Mapping[tuple[Any, ...], int], path: str):
        if not isinstance(data, dict):
            raise UsageError(f"{path}:1: expected a mapping with keys {', '.join(SECTIONS)}")
        unknown = set(data) - set(SECTIONS)
        if unknown:
            key = sorted(unknown)[0]
            raise UsageError(
                f"{path}:{line_of(lines, (key,))}: unknown section {key!r}; "
                f"expected {', '.join(SECTIONS)}"
            )
        self.data, self.lines, self.path = data, lines, path
        self.total = sum(len(v) for v in data.values() if isinstance(v, list))
        self.done = 0
        self.unit = "rows"

    def sections(self) -> Iterator[tuple[str, Iterator[tuple[int, Any]]]]:
        for section in SECTIONS:
            rows = self.data.get(section) or []
            if not isinstance(rows, list):
                raise UsageError(
                    f"{self.path}:{line_of(self.lines, (section,))}: {section} must be a list"
                )
            yield section, self._rows(rows)

    def _rows(self, rows: list[Any]) -> Iterator[tuple[int, Any]]:
        for i, row in enumerate(rows):
            self.done += 1
            yield i, row

    def line(self, section: str, place: int) -> int:
        return line_of(self.lines, (section, place))

    def organisation_ids(self) -> Iterator[Any]:
        for row in self.data.get("organisations") or []:
            if isinstance(row, dict):
                yield row.get("id")


class _StreamSource:
    """Sections of a JSON or YAML file, rows parsed one at a time; a row's place is its line.

    The other sections refer to the organisations: a section written before them is read over
    (checked, not imported) and imported from a second reading after the rest of the file.
    """

    def __init__(self, path: Path, rows: type[JsonRows] | type[YamlRows]):
        self.path = str(path)
        self._file = path
        self._rows_of = rows
        self._reader = rows(path)
        self.total = path.stat().st_size
        self.unit = "bytes"

    @property
    def done(self) -> int:
        return self._reader.position

    def sections(self) -> Iterator[tuple[str, Iterator[tuple[int, Any]]]]:
        deferred: set[str] = set()
        organisations = False
        for section, rows in self._reader.sections(SECTIONS):
            organisations = organisations or section == "organisations"
            if organisations:
                yield section, rows
            else:
                deferred.add(section)
                for _ in rows:
                    pass
        if deferred:
            self._reader = self._rows_of(self._file)  # progress starts again: a rare file
            for section, rows in self._reader.sections(SECTIONS):
                if section in deferred:
                    yield section, rows
                else:
                    for _ in rows:
                        pass

    def line(self, section: str, place: int) -> int:
        return place

    def organisation_ids(self) -> Iterator[Any]:
        """Read the file once more for the organisations' ids (only when the store holds
        the demo alone, to know whether the file replaces it)."""
        for section, rows in self._rows_of(self._file).sections(SECTIONS):
            for _, row in rows:
                if section == "organisations" and isinstance(row, dict):
                    yield row.get("id")
            if section == "organisations":
                return


_Source = _TreeSource | _StreamSource


def _import(
    conn: LocalConnector, source: _Source, replace_demo: bool, on_progress: OnProgress | None
) -> dict[str, int]:
    db = conn.db
    now = iso(datetime.now(UTC)) or ""
    counts = dict.fromkeys(SECTIONS, 0)
    drop_demo = replace_demo and holds_only_demo(db) and _brings_own(source)
    known_orgs: dict[str, str] = (
        {} if drop_demo else dict(db.execute("SELECT id, kind FROM organisations").fetchall())
    )
    every = max(1, source.total // 1000)  # a thousand reports at most; the status line throttles
    mark = workflow.import_started(db, now)  # a sync meanwhile keeps its watermark before `now`
    try:
        with db, phase(on_progress, "import", source.unit, source.total, every) as counter:
            if drop_demo:
                for table in ("organisations", "contacts", "activities", "engagements",
                              "notes", "flags"):  # fmt: skip
                    db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
                counts["demo_replaced"] = 1
            for section, rows in source.sections():
                counts[section] += _insert(db, section, rows, source, known_orgs, now, counter)
            workflow.import_ended(db, mark)  # committed with the rows
    except sqlite3.Error as exc:
        raise ConnectorError(
            f"{source.path}: the local database refused the import: {exc}"
        ) from None
    finally:
        workflow.import_ended(db, mark)  # after a failure (nothing to do after a success)
    return counts


def _insert(
    db: sqlite3.Connection,
    section: str,
    rows: Iterator[tuple[int, Any]],
    source: _Source,
    known: dict[str, str],
    now: str,
    counter: Counter,
) -> int:
    """Insert one section's rows with one ``executemany`` over a generator: each row is
    checked, turned into its parameters and dropped; only its key (and place, for a duplicate's
    message) is kept."""
    seen: dict[Any, int] = {}
    allowed, params, count = KEYS[section], PARAMS[section], 0

    def checked() -> Iterator[tuple[Any, ...]]:
        nonlocal count
        for i, (place, row) in enumerate(rows):
            try:
                if not isinstance(row, dict):
                    raise RowError("expected a mapping")
                if not allowed.issuperset(row):
                    extra = sorted(set(row) - allowed)[0]
                    raise RowError(
                        f"unknown field {extra!r}; allowed: {', '.join(sorted(allowed))}"
                    )
                key = row_key(section, row)
                if key in seen:
                    raise RowError(
                        f"duplicate {KEY_NAME[section]} {key!r} (also at line "
                        f"{source.line(section, seen[key])}); keep one row per record"
                    )
                seen[key] = place
                values = params(row, known, now)
            except (RowError, ValueError, OverflowError) as exc:
                raise UsageError(
                    f"{source.path}:{source.line(section, place)}: {section}[{i}]: {exc}; "
                    "nothing was imported"
                ) from None
            count += 1
            counter.update(source.done)
            yield values

    db.executemany(SQL[section], checked())
    return count


def demo_ids() -> frozenset[str]:
    """Organisation ids of the bundled demo."""
    from .store import demo_file

    data, _ = load_with_lines(demo_file().read_text("utf-8"), line_depth=0)
    return frozenset(str(o["id"]) for o in data["organisations"])


def holds_only_demo(db: sqlite3.Connection) -> bool:
    """Whether the store holds the bundled demo organisations and nothing else."""
    ids = {r[0] for r in db.execute("SELECT id FROM organisations")}
    return bool(ids) and ids <= demo_ids()


def _brings_own(source: _Source) -> bool:
    """The file brings organisations other than the demo's."""
    demo = demo_ids()
    return any(
        not isinstance(i, dict | list) and i is not None and text_value(i) not in demo
        for i in source.organisation_ids()
    )
