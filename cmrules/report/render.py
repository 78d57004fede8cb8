"""Render a :class:`~cmrules.report.aggregate.Portfolio`: HTML and Markdown through Jinja2,
CSV and JSON directly.

CRM text is data: the HTML environment autoescapes every expression, the Markdown one escapes
every value through ``finalize``, CSV cells that a spreadsheet would read as a formula are
quoted, and no CRM string is ever used as template source.  The HTML is self-contained (inline
CSS, SVG and a small script allowed by its hash in a Content-Security-Policy that forbids any
network fetch).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

from .. import __version__
from ..findings import Finding, format_records, format_value
from .aggregate import CANNOT, FINE, FLAGGED, NO_RULE, RISK_LEVELS, WAIVED, ClientRow, Portfolio
from .labels import CRITERIA, CRITERION_IDS, SEVERITY, UI

FORMATS = ("html", "markdown", "csv", "json")
#: Size bounds, whatever the portfolio: the clients × criteria grid shows at most GRID_ROWS
#: clients (worst first) and findings are detailed for at most DETAIL_CLIENTS clients, split
#: between the vendors of the report; the rest is counted, and CSV/JSON carry everything.
GRID_ROWS = 1_000
DETAIL_CLIENTS = 200
_MIN_PER_VENDOR = (20, 5)

CSV_COLUMNS = (
    "vendor_id", "vendor_name", "record_kind", "record_id", "record_name", "record_risk_level",
    "rule_id", "rule_name", "criterion", "criterion_name", "status", "severity", "message",
    "evidence", "missing", "advice", "to_clear", "open_since", "waiver_until", "waiver_by",
    "waiver_reason", "question", "fingerprint",
)  # fmt: skip


def render_as(portfolio: Portfolio, fmt: str) -> str:
    """The report in ``--format`` html, markdown, csv or json."""
    if fmt == "html":
        return to_html(portfolio)
    if fmt == "markdown":
        return to_markdown(portfolio)
    if fmt == "csv":
        return to_csv(portfolio)
    if fmt == "json":
        # compact: a 20,000-client portfolio carries ~240,000 findings
        return json.dumps(portfolio.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n"
    raise ValueError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")


# ------------------------------------------------------------------------------------------
# shared view model
# ------------------------------------------------------------------------------------------
@dataclass
class VendorView:
    """A vendor section as the templates show it: the clients in the grid, those hidden, those
    detailed."""

    index: int
    section: Any
    grid: list[ClientRow]
    hidden: dict[str, int]  # risk level -> clients not in the grid
    details: list[ClientRow]
    with_findings: int  # clients with at least one finding


def _views(p: Portfolio) -> list[VendorView]:
    n = max(1, len(p.vendors))
    grid_max = max(_MIN_PER_VENDOR[0], GRID_ROWS // n)
    detail_max = max(_MIN_PER_VENDOR[1], DETAIL_CLIENTS // n)
    out = []
    for i, v in enumerate(p.vendors, 1):
        grid = v.clients[:grid_max]
        hidden = v.risk_counts(v.clients[grid_max:])
        with_findings = [c for c in v.clients if c.findings]
        out.append(VendorView(i, v, grid, hidden, with_findings[:detail_max], len(with_findings)))
    return out


def _evidence(f: Finding, lang: str) -> list[str]:
    if f.status != "fired":
        return []
    out = []
    for e in f.evidence:
        text = f"{e.signal} = {format_value(e.signal, e.value, lang)}"
        if e.records:
            text += f" ({format_records(e.records, lang)})"
        out.append(text)
    return out


def _context(p: Portfolio) -> dict[str, Any]:
    lang = p.language
    t = UI[lang]
    return {
        "p": p,
        "lang": lang,
        "t": t,
        "sev": SEVERITY[lang],
        "criteria": [(c, *CRITERIA[c][lang]) for c in CRITERION_IDS],
        "crit_short": {c: CRITERIA[c][lang][0] for c in CRITERION_IDS},
        "levels": RISK_LEVELS,
        "views": _views(p),
        "evidence": lambda f: _evidence(f, lang),
        "since": p.since,
        "date": p.as_of.strftime("%Y-%m-%d %H:%M UTC"),
        "version": __version__,
        "S": {"flagged": FLAGGED, "cannot": CANNOT, "fine": FINE, "na": NO_RULE, "waived": WAIVED},
        "glyph": {FLAGGED: "⚑", CANNOT: "?", FINE: "✓", NO_RULE: "–", WAIVED: "⊘"},
        "state_label": {FLAGGED: t["flagged"], CANNOT: t["cannot"], FINE: t["fine"],
                        NO_RULE: t["no_rule"], WAIVED: t["waived"]},
        "trend_svg": _trend_svg(p),
        "gap_max": max((g.findings for g in p.gaps), default=1),
        "fmt_hidden": lambda hidden: ", ".join(
            f"{SEVERITY[lang][lvl]}: {n}" for lvl, n in hidden.items()
        ),
    }  # fmt: skip


def _trend_svg(p: Portfolio) -> dict[str, Any] | None:
    """Coordinates for the inline SVG line chart (numbers only; no CRM text)."""
    if not p.trend:
        return None
    width, height, pad = 640, 180, 36
    top = max(max(pt.total for pt in p.trend), 1)
    first, last = p.trend[0].as_of, p.trend[-1].as_of
    span = (last - first).total_seconds() or 1.0
    pts = []
    for pt in p.trend:
        x = pad + (width - 2 * pad) * ((pt.as_of - first).total_seconds() / span)
        if len(p.trend) == 1:
            x = width / 2
        y = height - pad - (height - 2 * pad) * pt.total / top
        pts.append({"x": round(x, 1), "y": round(y, 1), "n": pt.total,
                    "d": pt.as_of.strftime("%Y-%m-%d")})  # fmt: skip
    return {
        "w": width, "h": height, "pad": pad, "top": top, "points": pts,
        "line": " ".join(f"{q['x']},{q['y']}" for q in pts),
    }  # fmt: skip


# ------------------------------------------------------------------------------------------
# HTML
# ------------------------------------------------------------------------------------------
def _asset(name: str) -> str:
    return resources.files("cmrules.report").joinpath("templates", name).read_text("utf-8")


def _html_env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("cmrules.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def to_html(p: Portfolio) -> str:
    """One self-contained HTML page: autoescaped template, inline CSS, and a script allowed by
    its hash only (Content-Security-Policy)."""
    script = _asset("report.js")
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )
    ctx = _context(p)
    ctx.update(css=Markup(_asset("report.css")), script=Markup(script), csp=csp)  # noqa: S704
    return _html_env().get_template("report.html").render(ctx)


# ------------------------------------------------------------------------------------------
# Markdown
# ------------------------------------------------------------------------------------------
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def md_escape(value: Any) -> Any:
    """Text safe in a Markdown table cell: no markup, no HTML, no line break."""
    if not isinstance(value, str) or isinstance(value, Markup):
        return value
    text = " ".join(value.split())
    return _MD_SPECIAL.sub(r"\\\1", text)


def to_markdown(p: Portfolio) -> str:
    """The report as Markdown; every value is escaped by the template's ``finalize``."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("cmrules.report", "templates"),
        autoescape=False,  # noqa: S701 - Markdown: every value goes through md_escape instead
        finalize=md_escape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env.get_template("report.md").render(_context(p))


# ------------------------------------------------------------------------------------------
# CSV
# ------------------------------------------------------------------------------------------
def csv_cell(value: Any) -> Any:
    """A spreadsheet must not run CRM text as a formula (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(p: Portfolio) -> str:
    """One row per finding, flat columns; every finding, whatever the portfolio's size."""
    lang = p.language
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(CSV_COLUMNS)

    def row(vid: str, vname: str, kind: str, rid: str, rname: str, risk: str, f: Finding) -> None:
        waiver = f.waiver or {}
        out.writerow(
            csv_cell(x)
            for x in (
                vid, vname, kind, rid, rname, risk, f.rule_id, f.rule_name, f.criterion,
                CRITERIA[f.criterion][lang][0] if f.criterion in CRITERIA else "",
                f.status, f.severity, f.message[lang], "; ".join(_evidence(f, lang)),
                " ".join(f.missing), f.advice[lang],
                f.clear_when.text[lang] if f.clear_when else "", p.since(f) or "",
                waiver.get("until") or "", waiver.get("by") or "", waiver.get("reason") or "",
                f.question[lang], f.fingerprint,
            )
        )  # fmt: skip

    for v in p.vendors:
        for f in v.findings:
            row(v.id, v.name, "vendor", v.id, v.name, v.risk, f)
        for c in v.clients:
            for f in c.findings:
                row(v.id, v.name, "company", c.id, c.name, c.risk, f)
    return buf.getvalue()
