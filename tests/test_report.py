"""``cmrules report``: aggregation read as a manager would, escaping of CRM text, formats, CLI.

The portfolio (tests/data/report-portfolio.yaml): agency "<script>… Buzz" has two clients —
the café with two people directing the agency, and a company with no contact recorded at all;
"L'Atelier « Calme »" has the same café and a bakery with one project owner.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import UTC, datetime

import html5lib
import pytest
from click.testing import CliRunner
from report_fixtures import (
    AS_OF,
    EVIL_CLIENT,
    EVIL_VENDOR,
    FORMULA_CLIENT,
    TEMPLATE_CLIENT,
    build_portfolio,
    portfolio_config,
)

from cmrules.cli import cli
from cmrules.report import aggregate, render


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory):
    return build_portfolio(tmp_path_factory.mktemp("report"))


def vendor(p, name_part):
    return next(v for v in p.vendors if name_part in v.name)


# ------------------------------------------------------------------------------------------
# what the picture says
# ------------------------------------------------------------------------------------------
def test_heatmap_cells_read_as_the_article_would(portfolio):
    evil, calm = vendor(portfolio, "Buzz"), vendor(portfolio, "Calme")
    # criterion 1 (single internal contact): the café has two people directing → flagged; the
    # company with no contact recorded cannot be assessed — never counted as fine
    c1 = evil.cells[1]
    assert (c1.flagged, c1.cannot, c1.fine) == (1, 1, 0)
    assert (c1.pct("flagged"), c1.pct("cannot"), c1.pct("fine")) == (50, 50, 0)
    # the bakery has exactly one project owner: fine; the café is flagged at both agencies
    c1 = calm.cells[1]
    assert (c1.flagged, c1.cannot, c1.fine) == (1, 0, 1)
    # every cell accounts for every client of the vendor, once
    for v in portfolio.vendors:
        for cell in v.cells.values():
            assert cell.total == len(v.clients) == 2
            assert cell.pct("flagged") + cell.pct("cannot") + cell.pct("fine") == 100


def test_a_client_of_two_vendors_counts_once_per_vendor_with_that_vendors_findings(portfolio):
    evil, calm = vendor(portfolio, "Buzz"), vendor(portfolio, "Calme")
    cafe_evil = next(c for c in evil.clients if c.id == "c-two")
    cafe_calm = next(c for c in calm.clients if c.id == "c-two")
    assert {f.subject.vendor_id for f in cafe_evil.findings} == {"v-evil"}
    assert {f.subject.vendor_id for f in cafe_calm.findings} == {"v-calm"}
    # each engagement is judged on its own meetings: June with « Calme », November with the other

    def days_since_meeting(row):
        f = next(f for f in row.findings if f.rule_id == "CMR010")
        return next(e.value for e in f.evidence if e.signal == "days_since_last_meeting")

    assert days_since_meeting(cafe_calm) == 163 and days_since_meeting(cafe_evil) == 18


def test_header_verdict_counts_records_and_weighs_issues(portfolio):
    assert portfolio.records == 5  # 2 vendors + 3 distinct client companies
    assert sum(portfolio.risk.values()) == 5
    assert portfolio.clients == 4  # engagements: the café twice
    top = portfolio.top
    assert len(top) == 3
    weights = [t.weight for t in top]
    assert weights == sorted(weights, reverse=True)
    # two people directing the agency (high, at both vendors) weighs most
    assert top[0].rule_id == "CMR001" and top[0].records == 2 and top[0].vendors == 2


def test_vendor_portfolio_findings_mark_the_cell(portfolio):
    calm = vendor(portfolio, "Calme")
    # the vendor-level rule on offer revisions (criterion 6) fired for « Calme »
    assert any(f.criterion == 6 and f.status == "fired" for f in calm.findings)
    assert calm.cells[6].portfolio == "flagged"


def test_data_gaps_rank_what_blocks_most(portfolio):
    gaps = {g.signal: g for g in portfolio.gaps}
    # no helpdesk is connected: reply times are unknown for all four engagements
    assert gaps["median_first_reply_minutes"].findings == 4
    assert "helpdesk" in gaps["median_first_reply_minutes"].fix
    # the company without contacts blocks both "single internal contact" rules, on one record
    assert gaps["directing_contacts"].rules == ("CMR001", "CMR002")
    assert gaps["directing_contacts"].records == 1
    counts = [g.findings for g in portfolio.gaps]
    assert counts == sorted(counts, reverse=True)


def test_clients_are_worst_first(portfolio):
    for v in portfolio.vendors:
        ranks = [aggregate.RISK_LEVELS.index(c.risk) for c in v.clients]
        assert ranks == sorted(ranks)


def test_one_vendor_report(tmp_path):
    p = build_portfolio(tmp_path, vendor="v-calm")
    assert [v.id for v in p.vendors] == ["v-calm"] and p.scope == "L'Atelier « Calme » & Co"
    assert p.records == 3  # the vendor and its two clients


# ------------------------------------------------------------------------------------------
# HTML: escaped, self-contained, valid
# ------------------------------------------------------------------------------------------
def test_html_escapes_every_crm_string(portfolio):
    page = render.render_as(portfolio, "html")
    assert page.count("<script") == 1  # ours, at the end; none from a CRM name
    assert "window.__pwned=1</script>" not in page and "<img" not in page
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=window.__pwned=2&gt;" in page
    assert "{{ 7*7 }}" in page and "49" not in page  # data, never a template
    assert "{% if 1 %}Martin{% endif %}" in page
    assert "🚀" in page and "😀" in page
    assert 'data-name="Café &#34;Chez O&#39;Neil&#34;' in page  # quotes escaped in attributes


def test_html_parses_cleanly_as_html5(portfolio):
    page = render.render_as(portfolio, "html")
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    doc = parser.parse(page)  # strict: raises on the first parse error
    heat = doc.find(".//table[@id='heatmap']")
    assert heat is not None
    assert len(heat.findall("./tbody/tr")) == 2
    assert all(len(tr.findall("./td")) == 12 for tr in heat.findall("./tbody/tr"))


def test_html_is_self_contained(portfolio):
    page = render.render_as(portfolio, "html")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and "url(" not in page
    found = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    csp = html.unescape(found.group(1))
    assert "default-src 'none'" in csp
    # the one inline script is allowed by its hash, nothing else can run
    import base64
    import hashlib

    script = re.search(r"<script>(.*?)</script>", page, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp


def test_html_has_print_stylesheet_and_labels_not_colour_alone(portfolio):
    page = render.render_as(portfolio, "html")
    assert "@media print" in page and "size: A4" in page
    # every heatmap cell carries its shares as text, not only a colour
    cells = re.findall(r'<td class="cell lv\d"[^>]*>(.*?)</td>', page, re.S)
    assert len(cells) == 24
    assert all(re.search(r"\d+ % ⚑", c) and "?" in c and "✓" in c for c in cells)


def test_french_report(tmp_path):
    p = build_portfolio(tmp_path, language="fr")
    page = render.render_as(p, "html")
    assert '<html lang="fr">' in page and "Prestataires × critères" in page
    assert "Interlocuteur unique" in page


def test_no_history_says_so(portfolio):
    assert portfolio.trend == []
    assert "No run history yet" in render.render_as(portfolio, "html")


def test_details_are_bounded_past_a_threshold(portfolio, monkeypatch):
    monkeypatch.setattr(render, "GRID_ROWS", 2)
    monkeypatch.setattr(render, "DETAIL_CLIENTS", 2)
    monkeypatch.setattr(render, "_MIN_PER_VENDOR", (1, 1))
    page = render.render_as(portfolio, "html")
    assert page.count("1 of 2 clients shown") == 2
    assert "1 more client(s) not shown here" in page
    assert "Findings of the 1 worst clients are detailed" in page
    # CSV still lists every finding
    rows = list(csv.DictReader(io.StringIO(render.render_as(portfolio, "csv"))))
    assert {r["record_id"] for r in rows} >= {"c-two", "c-bare", "c-good"}


# ------------------------------------------------------------------------------------------
# Markdown, CSV, JSON
# ------------------------------------------------------------------------------------------
def test_markdown_escapes_markup_and_keeps_tables_whole(portfolio):
    md = render.render_as(portfolio, "markdown")
    assert not re.search(r"(?<!\\)<(script|img)", md)  # every < of CRM text is escaped
    assert r"\<script\>" in md
    assert r"\[lien\](http://evil.example)" in md and r"\| \*gras\*" in md
    header = next(line for line in md.splitlines() if line.startswith("| Vendor |"))
    for line in md.splitlines():
        if line.startswith("| Agence") or line.startswith("| L'Atelier"):
            assert len(re.findall(r"(?<!\\)\|", line)) == len(re.findall(r"\|", header))


def test_csv_one_row_per_finding_and_no_formula(portfolio):
    rows = list(csv.DictReader(io.StringIO(render.render_as(portfolio, "csv"))))
    expected = sum(len(v.findings) + sum(len(c.findings) for c in v.clients)
                   for v in portfolio.vendors)  # fmt: skip
    assert len(rows) == expected
    assert tuple(rows[0]) == render.CSV_COLUMNS
    bare = [r for r in rows if r["record_id"] == "c-bare"]
    assert bare and all(r["record_name"] == "'" + FORMULA_CLIENT for r in bare)
    assert {r["status"] for r in bare} == {"fired", "cannot_assess"}
    evil = [r for r in rows if r["vendor_id"] == "v-evil"]
    assert all(r["vendor_name"] == EVIL_VENDOR for r in evil)  # text kept as is in CSV


def test_json_is_complete_and_stable(portfolio):
    data = json.loads(render.render_as(portfolio, "json"))
    assert set(data) >= {"as_of", "risk_distribution", "top_issues", "heatmap", "vendors",
                         "data_gaps", "trend"}  # fmt: skip
    assert data["as_of"] == "2026-11-20T12:00:00Z"
    names = {c["name"] for v in data["vendors"] for c in v["clients"]}
    assert names == {EVIL_CLIENT, FORMULA_CLIENT, TEMPLATE_CLIENT}
    cell = next(h for h in data["heatmap"] if h["vendor_id"] == "v-evil")["cells"]["1"]
    assert (cell["flagged"], cell["cannot_assess"], cell["fine"]) == (1, 1, 0)


# ------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------
def run(cfg, *args):
    return CliRunner().invoke(cli, ["--config", str(cfg), *args])


@pytest.mark.parametrize("fmt", ["html", "markdown", "csv", "json"])
def test_cli_writes_each_format(tmp_path, fmt):
    cfg = portfolio_config(tmp_path)
    out = tmp_path / f"report.{fmt}"
    res = run(cfg, "report", "--all", "--as-of", AS_OF.isoformat(), "--format", fmt, "-o", str(out))
    assert res.exit_code == 0, res.output
    assert out.exists() and out.stat().st_size > 500
    assert f"wrote {out}" in res.output
    assert not list(tmp_path.glob(f".{out.name}.*"))  # no temp file left behind


def test_cli_report_writes_nothing_back(tmp_path):
    cfg = portfolio_config(tmp_path)
    res = run(cfg, "report", "--vendor", "Calme", "--format", "json")
    assert res.exit_code == 0
    assert json.loads(res.stdout)["scope"] == {"vendor": "L'Atelier « Calme » & Co"}
    notes = run(cfg, "notes", "--vendor", "v-calm")
    assert "No cmrules note" in notes.output  # the portfolio config says language: en
    assert not list((tmp_path / "home").glob("*.history.jsonl"))  # a report is not a run


@pytest.mark.parametrize(
    "args, needle",
    [
        ([], "give --vendor NAME|ID or --all"),
        (["--all", "--vendor", "x"], "give --vendor NAME|ID or --all"),
        (["--vendor", "nobody"], "Error: no vendor matches 'nobody'"),
        (["--all", "-o", "/nonexistent-dir/r.html"], "does not exist"),
        (["--all", "--format", "pdf"], "Invalid value for '--format'"),
        (["--all", "--as-of", "yesterday"], "is not a date"),
    ],
)
def test_cli_errors_are_one_line(tmp_path, args, needle):
    res = run(portfolio_config(tmp_path), "report", *args)
    assert res.exit_code == 2
    assert needle in res.output
    assert "Traceback" not in res.output


def test_data_gaps_follow_the_unknown_reason(rulebook):
    """Too early to judge is no data gap; a source that records no proposals is one to connect,
    apart from a field left empty."""
    from types import SimpleNamespace

    from cmrules.engine import CANNOT_ASSESS, Outcome
    from cmrules.findings import Subject, build
    from cmrules.signals import SignalValue
    from cmrules.signals.base import not_recorded, too_early

    def cannot(rule_id, cid, values):
        rule = rulebook.get(rule_id)
        subject = Subject(cid, cid, "company", "v1")
        return build(rule, Outcome(rule_id, CANNOT_ASSESS), subject, values)

    records = [
        SimpleNamespace(findings=[
            cannot("CMR015", "c1", {"proposals_90d": too_early(20, 90)}),
            cannot("CMR017", "c1", {"escalation_plan": SignalValue(None)}),
        ]),
        SimpleNamespace(findings=[
            cannot("CMR015", "c2", {"proposals_90d": not_recorded("HubSpot", "proposal")}),
            cannot("CMR017", "c2", {"escalation_plan": SignalValue(None)}),
        ]),
    ]  # fmt: skip
    gaps, waiting = aggregate.data_gaps(records, "en")
    assert waiting == 1  # c1's proposals only wait for 90 days of relationship
    by_signal = {g.signal: g for g in gaps}
    assert by_signal["escalation_plan"].findings == 2 and by_signal["escalation_plan"].records == 2
    assert by_signal["proposals_90d"].findings == 1
    assert "not recorded" not in by_signal["proposals_90d"].fix  # the fix, not the symptom
    assert "HubSpot" in by_signal["proposals_90d"].fix and "connect a source" in (
        by_signal["proposals_90d"].fix
    )


WAIVER_CONFIG = """
language: en
waivers:
  entries:
    - rule: CMR018
      record: c-quai
      reason: "KPI workshop <booked> for January"
      approved_by: Claire Martin
      until: 2026-12-31
"""


def test_waivers_open_since_and_what_would_clear(tmp_path):
    """Éditions du Quai's KPI flag is waived until 31 December: the grid and the heatmap show
    it waived (not flagged, not fine), with the reason; each flag says what would clear it;
    "open since" is shown only where the source keeps the flag history."""
    from cmrules import report, service

    cfg = tmp_path / "cmrules.yaml"
    cfg.write_text(WAIVER_CONFIG)
    session = service.open_session(str(cfg))
    try:
        first = datetime(2026, 11, 1, 12, tzinfo=UTC)
        service.evaluate(session, vendor="Pixel Social", as_of=first)  # writes the notes
        p = report.build(session, vendor="Pixel Social", as_of=AS_OF, language="en")
    finally:
        session.close()
    pixel = p.vendors[0]
    quai = next(c for c in pixel.clients if c.id == "c-quai")
    assert quai.states[12] == "waived"
    assert pixel.cells[12].waived == 1 and pixel.cells[12].total == len(pixel.clients)
    assert all(t.rule_id != "CMR018" or t.records < len(pixel.clients) for t in p.top)
    fired = [f for c in pixel.clients for f in c.findings if f.status == "fired"]
    assert fired and all(f.clear_when is not None for f in fired)
    # the local store keeps the flag history on the record (issue 10): the first run's date
    assert p.open_since_known
    dates = {f["open_since"] for v in p.to_dict()["vendors"] for c in v["clients"]
             for f in c["findings"] if f["status"] == "fired"}  # fmt: skip
    assert dates == {"2026-11-01"}

    page = render.render_as(p, "html")
    assert (
        "Waived until 2026-12-31 (Claire Martin): KPI workshop &lt;booked&gt; for January" in page
    )
    assert "open since 2026-11-" in page and "To clear:" in page
    assert 'class="st st-waived"' in page
    rows = list(csv.DictReader(io.StringIO(render.render_as(p, "csv"))))
    waived = [r for r in rows if r["status"] == "waived"]
    assert [(r["record_id"], r["waiver_until"], r["waiver_by"]) for r in waived] == [
        ("c-quai", "2026-12-31", "Claire Martin")
    ]
    assert all(r["open_since"] and r["to_clear"] for r in rows if r["status"] == "fired")
    md = render.render_as(p, "markdown")
    assert "⊘ Waived until 2026-12-31 (Claire Martin): KPI workshop \\<booked\\>" in md
