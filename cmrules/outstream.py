"""Streamed renderings of an evaluation: each record is written as it is handed on, so the
output of a 200,000-client portfolio never sits in memory.

* JSON: the same document as :func:`cmrules.output.to_json` gives (``as_of``, ``language``,
  ``records``, ``summary``, ``warnings``) with one compact record per line (the pretty-printed
  form took 18–23 % of a run: Python's C encoder does not indent);
* markdown: written record by record, the summary line last;
* table: the table's column widths depend on every row, so rows and the per-record details
  are spooled to temporary files and the whole is written at the end (memory stays bounded).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from datetime import datetime
from typing import IO, Any

from rich.cells import cell_len

from . import output
from .results import RecordResult, Report

Emit = Callable[[str], None]


class Writer:
    """Prints a report one record at a time: a 20k-record run never holds every record."""

    def __init__(self, emit: Emit, language: str, as_of: datetime):
        self.emit, self.language, self.as_of = emit, language, as_of

    def record(self, r: RecordResult) -> None:  # pragma: no cover - interface
        """Print (or stage) one record as soon as it is evaluated."""
        raise NotImplementedError

    def close(self, report: Report) -> None:  # pragma: no cover - interface
        """Print what needs the whole run: the summary and warnings."""
        raise NotImplementedError


class JsonWriter(Writer):
    """The report's JSON, streamed: the same document as ``output.to_json``, written record by
    record."""

    def __init__(self, emit: Emit, language: str, as_of: datetime):
        super().__init__(emit, language, as_of)
        self.n = 0
        head = {"as_of": as_of.isoformat().replace("+00:00", "Z"), "language": language}
        self.emit(json.dumps(head, indent=2, ensure_ascii=False)[:-2] + ',\n  "records": [')

    def record(self, r: RecordResult) -> None:
        """One element of ``records``."""
        text = json.dumps(r.to_dict(self.language), ensure_ascii=False)
        self.emit(("," if self.n else "") + "\n    " + text)
        self.n += 1

    def close(self, report: Report) -> None:
        """Close ``records`` and add the summary, warnings and unmatched records."""
        tail = {"summary": report.summary(), "warnings": report.warnings,
                "unmatched": report.unmatched}  # fmt: skip
        text = json.dumps(tail, indent=2, ensure_ascii=False)
        self.emit(("\n  ]," if self.n else "],") + text[1:] + "\n")


class MarkdownWriter(Writer):
    """The Markdown report, streamed record by record."""

    def __init__(self, emit: Emit, language: str, as_of: datetime):
        super().__init__(emit, language, as_of)
        self.emit(output.term_safe(output.markdown_head(as_of)) + "\n")

    def record(self, r: RecordResult) -> None:
        """One record's Markdown section."""
        self.emit(output.term_safe("\n".join(output.markdown_record(r, self.language))) + "\n")

    def close(self, report: Report) -> None:
        """The run summary line."""
        self.emit(output.term_safe(output.summary_line(report.summary(), self.language)) + "\n")


class TableWriter(Writer):
    """The terminal table, streamed: rows and details are staged in temporary files until the column
    widths are known."""

    def __init__(
        self,
        emit: Emit,
        language: str,
        as_of: datetime,
        dry_run_notes: bool = False,
        color: bool = False,
    ):
        super().__init__(emit, language, as_of)
        self.color = color
        # spools, closed (and so deleted) by close()
        self.rows: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        self.details: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        self.notes: IO[str] | None = (
            tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
            if dry_run_notes
            else None
        )
        self.widths = output.table_widths([], language)

    def record(self, r: RecordResult) -> None:
        """Stage the record's row, details and (on a dry run) note; widen the columns."""
        row = output.table_row(r, self.language)
        self.widths = [max(w, cell_len(c)) for w, c in zip(self.widths, row, strict=True)]
        self.rows.write(json.dumps(row, ensure_ascii=False) + "\n")
        for line in output.table_details(r, self.language):
            self.details.write(line + "\n")
        if self.notes is not None:
            for line in output.dry_run_note(r, self.language):
                self.notes.write(line + "\n")

    def close(self, report: Report) -> None:
        """Print the table at its final widths, then the details, the notes a dry run would write
        and the run summary."""
        safe, lang = output.term_safe, self.language
        w = output.fit_widths(self.widths, lang)  # the terminal's width, cuts marked with …
        self.emit(safe(output.table_line(output._HEAD[lang], w)) + "\n")
        self.emit(output.table_line(["-" * n for n in w], w) + "\n")
        self.rows.seek(0)
        for line in self.rows:  # cells are one-line, control-free CRM text already
            self.emit(output.table_line(json.loads(line), w, self.color) + "\n")
        _copy(self.details, self.emit, safe)
        tail = output.table_tail(report.summary(), report.warnings, lang)
        self.emit(safe("\n".join(tail)) + "\n")
        if self.notes is not None and self.notes.tell():
            self.emit("\n")
            _copy(self.notes, self.emit, safe)
        for f in (self.rows, self.details, self.notes):
            if f is not None:
                f.close()


def _copy(spool: IO[str], emit: Emit, safe: Callable[[str], str]) -> None:
    spool.seek(0)
    chunk: list[str] = []
    for line in spool:
        chunk.append(line)
        if len(chunk) >= 1000:
            emit(safe("".join(chunk)))
            chunk.clear()
    emit(safe("".join(chunk)))


def writer(
    fmt: str,
    emit: Emit,
    language: str,
    as_of: datetime,
    dry_run: bool = False,
    color: bool = False,
) -> Any:
    """The streaming writer for ``--format`` (table, markdown or json)."""
    if fmt == "json":
        return JsonWriter(emit, language, as_of)
    if fmt == "markdown":
        return MarkdownWriter(emit, language, as_of)
    return TableWriter(emit, language, as_of, dry_run_notes=dry_run, color=color)
