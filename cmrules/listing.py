"""Records as a table, JSON or Markdown — one renderer for every command that lists things.

The table fits the terminal: cells are measured as the terminal draws them (``rich.cells``:
accents, wide CJK characters, emoji, combining marks) and what does not fit is cut with
``…``, so a cut is never mistaken for a value (``CMR01`` for a rule id).  Colour marks
severities on a terminal, honouring ``NO_COLOR`` and ``--color``.  Every cell is CRM text
made safe first: one line, no control character; Markdown escapes it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from typing import Any

from .redact import one_line

SEVERITY_STYLE = {
    "high": "bold red", "élevé": "bold red", "medium": "yellow", "moyen": "yellow",
    "low": "cyan", "faible": "cyan", "info": "dim", "information": "dim",
}  # fmt: skip
FORMATS = ("table", "json", "markdown")
#: Data-gap task counters of a run (``tasks: true``), in every JSON summary (zero when
#: nothing) and in the text summary line when one is not zero.
TASK_KEYS = ("tasks_created", "tasks_completed", "tasks_reopened")
#: Counters every run summary carries (zero when nothing happened) and what sync adds.
SUMMARY_STATS: dict[str, Any] = dict.fromkeys(
    ("api_calls", "write_calls", "read_posts", "retry_sleeps", "flags_written", "duration_s",
     *TASK_KEYS), 0
)  # fmt: skip
SYNC_KEYS = ("records_read", "since", "watermark_advanced", "state_path", "ops_data_gaps")


def terminal_width(default: int = 120) -> int:
    """The terminal's width (``COLUMNS`` wins), else ``default`` when not a terminal."""
    return shutil.get_terminal_size((default, 24)).columns


def cell(value: Any) -> str:
    """A value as one table cell: ``-`` for nothing, yes/no, lists joined, CRM text on one line."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(cell(v) for v in value) or "-"
    return one_line(str(value))


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    width: int | None = None,
    color: bool = False,
    style_column: int | None = None,
    wrap_last: bool = False,
    rule: bool = False,
) -> str:
    """A plain table (two spaces between columns) within ``width`` terminal cells: the
    widest columns give way first and a cut cell ends with ``…``.  ``style_column`` holds
    severities to colour; ``wrap_last`` wraps the last column (long text such as a question)
    instead of cutting it."""
    from rich.cells import cell_len

    cells = [[cell(v) for v in row] for row in [list(headers), *rows]]
    widths = [max(cell_len(r[i]) for r in cells) for i in range(len(headers))]
    widths = fit_widths(widths, headers, width, wrap_last)
    lines = []
    for n, values in enumerate(cells):
        parts: list[list[str]] = []
        for i, value in enumerate(values):
            if wrap_last and i == len(values) - 1:
                parts.append(_wrap(value, widths[i]))
            else:
                parts.append([_fit(value, widths[i])])
        for k in range(max(len(p) for p in parts)):
            out = []
            for i, p in enumerate(parts):
                text = p[k] if k < len(p) else _fit("", widths[i])
                if color and n == 0:
                    text = f"\x1b[1m{text}\x1b[0m"
                elif color and i == style_column and k == 0:
                    text = _style(text, values[i])
                out.append(text)
            lines.append("  ".join(out).rstrip())
        if rule and n == 0:  # dashes under the headers
            lines.append("  ".join("-" * w for w in widths).rstrip())
    return "\n".join(lines)


_ANSI = {"bold red": "\x1b[1;31m", "yellow": "\x1b[33m", "cyan": "\x1b[36m", "dim": "\x1b[2m"}


def fit_widths(
    widths: list[int], headers: Sequence[str], width: int | None = None, wrap_last: bool = False
) -> list[int]:
    """Column widths (two spaces between columns) within ``width`` terminal cells (default:
    the terminal's): the widest columns give way first, none below its header (or 6)."""
    from rich.cells import cell_len

    widths = list(widths)
    floor = [min(w, max(cell_len(h), 6)) for w, h in zip(widths, headers, strict=True)]
    room = (width or terminal_width()) - 2 * (len(headers) - 1)
    if wrap_last and len(headers) > 1:  # the wrapped column takes what is left, at least 20
        widths[-1] = max(20, room - sum(widths[:-1]))
        floor[-1] = widths[-1] if room - sum(floor[:-1]) < 20 else 20
    excess = sum(widths) - room
    while excess > 0:
        i = max(range(len(widths)), key=lambda k: widths[k] - floor[k])
        if widths[i] <= floor[i]:
            break  # nothing can give way any more: the terminal is too narrow
        widths[i] -= 1
        excess -= 1
    return widths


def _style(text: str, value: str) -> str:
    code = _ANSI.get(SEVERITY_STYLE.get(value.strip(), ""))
    return f"{code}{text}\x1b[0m" if code else text


def _fit(text: str, width: int) -> str:
    """``text`` in exactly ``width`` terminal cells: cut with … or padded."""
    from rich.cells import cell_len, set_cell_size

    if cell_len(text) > width:
        return set_cell_size(text, max(width - 1, 0)) + ("…" if width else "")
    return set_cell_size(text, width)


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    from rich.cells import cell_len

    if cell_len(text) <= width:
        return [_fit(text, width)]
    # cell-aware enough for prose: wrap by characters, then cut any line still too wide
    return [_fit(line, width) for line in textwrap.wrap(text, width) or [""]]


def md_escape(text: str) -> str:
    """CRM text inside a Markdown table cell: one line, Markdown and HTML characters escaped."""
    text = one_line(text)
    for ch in "\\`*_[]<>|#~":
        text = text.replace(ch, "\\" + ch)
    return text


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table, every cell escaped."""
    out = ["| " + " | ".join(md_escape(h) for h in headers) + " |",
           "|" + "---|" * len(headers)]  # fmt: skip
    out += ["| " + " | ".join(md_escape(cell(v)) for v in row) + " |" for row in rows]
    return "\n".join(out)


def to_json(value: Any) -> str:
    """Records as indented JSON (non-ASCII kept, dates as text)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def render(
    fmt: str,
    records: Sequence[Mapping[str, Any]],
    columns: Sequence[tuple[str, str]],
    *,
    color: bool = False,
    style_key: str | None = None,
    wrap_last: bool = False,
) -> str:
    """``records`` (dicts with a fixed key set: the JSON form) as ``fmt``; ``columns`` are
    the (key, header) pairs the table and the Markdown show."""
    if fmt == "json":
        return to_json(list(records))
    headers = [h for _, h in columns]
    rows = [[r.get(k) for k, _ in columns] for r in records]
    if fmt == "markdown":
        return markdown_table(headers, rows)
    keys = [k for k, _ in columns]
    style_column = keys.index(style_key) if style_key in keys else None
    return table(headers, rows, color=color, style_column=style_column, wrap_last=wrap_last)


# -- the records each listing command prints (fixed key sets, documented in the README) -----
WORDS = {
    "fr": {"company": "entreprise", "vendor": "prestataire", "id": "id", "name": "nom",
           "domain": "domaine", "vendors": "prestataires", "severity": "gravité",
           "side": "côté", "subject": "sujet", "question": "question", "created_at": "date",
           "fingerprint": "empreinte", "type": "type", "doc": "calcul", "criterion": "critère",
           "signal": "signal", "window_days": "fenêtre (j)", "int": "entier",
           "float": "décimal", "bool": "oui/non"},
    "en": {"company": "company", "vendor": "vendor", "id": "id", "name": "name",
           "domain": "domain", "vendors": "vendors", "severity": "severity", "side": "side",
           "subject": "subject", "question": "question", "created_at": "date",
           "fingerprint": "fingerprint", "type": "type", "doc": "how it is computed",
           "criterion": "criterion", "signal": "signal", "window_days": "window (days)",
           "int": "integer", "float": "decimal",
           "bool": "yes/no"},
}  # fmt: skip


def columns(lang: str, *keys: str) -> list[tuple[str, str]]:
    """(key, heading) pairs with the headings in ``lang``."""
    return [(k, WORDS[lang].get(k, k)) for k in keys]


def organisation_records(conn: Any, kind: Any) -> list[dict[str, Any]]:
    """Vendors or client companies the source knows: ``id``, ``name``, ``domain`` and, for
    companies, ``vendors`` (``[{id, name}]``)."""
    from .model import OrgKind

    orgs = [o for o in conn.find_organisations("", kind) if o.kind == kind]
    records = [{"id": o.id, "name": o.name, "domain": o.domain} for o in orgs]
    if kind == OrgKind.COMPANY:
        from .selection import vendors_of

        names = {v.id: v.name for v in conn.find_organisations("", OrgKind.VENDOR)}
        links = vendors_of(conn, [o.id for o in orgs]) if orgs else {}
        for record in records:
            record["vendors"] = [
                {"id": v, "name": names.get(v, v)} for v in links.get(record["id"], [])
            ]
    return records


def rule_records(rulebook: Any, lang: str) -> list[dict[str, Any]]:
    """One record per rule: ``id``, ``name``, ``severity``, ``side``, ``subject``,
    ``criterion``, ``question`` (in ``lang``)."""
    return [
        {"id": r.id, "name": r.name, "severity": r.severity, "side": r.side,
         "subject": r.subject, "criterion": r.criterion, "question": r.question[lang]}
        for r in rulebook
    ]  # fmt: skip


def signal_records() -> list[dict[str, Any]]:
    """One record per signal: ``name``, ``subject``, ``type``, ``window_days`` (its default
    observation window, or null), ``doc``."""
    from .signals import REGISTRY

    return [
        {"name": s.name, "subject": s.subject, "type": s.type, "window_days": s.window_days,
         "doc": s.doc}
        for s in REGISTRY.values()
    ]  # fmt: skip


def translated(records: list[dict[str, Any]], lang: str, *keys: str) -> list[dict[str, Any]]:
    """Values of ``keys`` in words of ``lang`` for people (JSON keeps the raw values)."""
    from .notes import LABELS

    levels = LABELS[lang]["levels"]
    out = []
    for r in records:
        r = dict(r)
        for k in keys:
            v = r.get(k)
            r[k] = levels.get(v, v) if k == "severity" else WORDS[lang].get(str(v), v)
        out.append(r)
    return out
