"""The HTML report in a real browser: headless Chromium driven by Playwright.

Playwright's Python package ships its driver in the wheel and is pointed at the system
Chromium (Debian's ``chromium`` package; ``.ci/run`` installs it), so nothing is downloaded.
The test skips — saying why — only when no Chromium exists on the machine.
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner
from report_fixtures import AS_OF, EVIL_VENDOR, portfolio_config

from cmrules.cli import cli

CHROMIUM_ARGS = [
    "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
TIMEOUT_MS = 20_000  # per browser operation; the whole test takes a few seconds


def chromium() -> str | None:
    explicit = os.environ.get("CMRULES_CHROMIUM")
    if explicit:
        return explicit
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def report_file(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("browser")
    cfg = portfolio_config(tmp)
    state = tmp / "state" / "sync.json"
    cfg.write_text(cfg.read_text() + f"state: {{path: {state}}}\n")
    run = CliRunner().invoke
    for day in ("2026-10-01", "2026-11-01", "2026-11-20"):  # history for the trend
        assert run(cli, ["--config", str(cfg), "sync", "--full", "--as-of", day]).exit_code == 0
    out = tmp / "report.html"
    res = run(cli, ["--config", str(cfg), "report", "--all", "--as-of", AS_OF.isoformat(),
                    "--lang", "en", "--output", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def chromium_browser():
    exe = chromium()
    if exe is None:
        pytest.skip(
            "no Chromium on this machine: install Debian's package (apt-get install chromium) "
            "or set CMRULES_CHROMIUM; .ci/run installs it"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # Playwright gives every launch a fresh, temporary --user-data-dir
        browser = pw.chromium.launch(
            executable_path=exe,
            headless=True,
            chromium_sandbox=False,  # --no-sandbox: CI runs as root
            args=CHROMIUM_ARGS,
            timeout=60_000,
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser(chromium_browser):
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


def open_report(context, path: Path, width: int, height: int):
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": height})
    problems: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in
            ("error", "warning") else None)  # fmt: skip
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri(), wait_until="load")
    return page, problems, requests


def test_heatmap_renders_without_console_error(browser, report_file, tmp_path):
    page, problems, requests = open_report(browser, report_file, 1280, 800)
    # the script ran (its CSP hash matched) and CRM markup did not
    assert page.evaluate("document.documentElement.dataset.js") == "ready"
    assert page.evaluate("typeof window.__pwned") == "undefined"
    rows = page.locator("#heatmap tbody tr")
    assert rows.count() == 2
    cells = page.evaluate(
        """() => Array.from(document.querySelectorAll('#heatmap tbody tr')).map(tr => ({
            name: tr.querySelector('th a').textContent,
            cells: Array.from(tr.querySelectorAll('td.cell')).map(td => ({
                text: td.textContent, bg: getComputedStyle(td).backgroundColor,
                level: td.className.match(/lv(\\d)/)[1],
                box: td.getBoundingClientRect().height}))}))"""
    )
    assert {row["name"] for row in cells} >= {EVIL_VENDOR}  # shown literally, as text
    for row in cells:
        assert len(row["cells"]) == 12
        for cell in row["cells"]:
            assert "%" in cell["text"] and "⚑" in cell["text"] and "✓" in cell["text"]
            assert cell["box"] > 20  # laid out, not collapsed
            # colour follows the flagged share: white at 0 %, tinted above
            assert (cell["bg"] == "rgb(255, 255, 255)") == (cell["level"] == "0")
    # the trend was drawn from the sync history: three runs, three points
    assert page.locator("svg.trend circle").count() == 3
    # everything came from the file itself: no network request of any kind
    assert requests == [report_file.as_uri()]
    page.screenshot(path=str(tmp_path / "report-1280x800.png"))
    assert png_size(tmp_path / "report-1280x800.png") == (1280, 800)
    assert problems == []


def test_filters_and_sorting_work(browser, report_file):
    page, problems, _ = open_report(browser, report_file, 1280, 800)
    grid = page.locator("#grid-1 tbody tr")
    before = grid.count()
    assert before == 2
    page.locator('.tools[data-grid="grid-1"] input[type=search]').fill("boulangerie")
    visible = page.locator("#grid-1 tbody tr:not([hidden])")
    assert visible.count() <= 1
    # sort the heatmap on criterion 1 (flagged share), descending then ascending
    first = "document.querySelector('#heatmap tbody tr td.cell').dataset.sort"
    page.locator("#heatmap thead th").nth(1).locator("button").click()
    high = float(page.evaluate(first))
    page.locator("#heatmap thead th").nth(1).locator("button").click()
    assert float(page.evaluate(first)) <= high
    assert problems == []


def test_phone_width_and_print(browser, report_file, tmp_path):
    page, problems, _ = open_report(browser, report_file, 390, 844)
    # wide tables scroll inside their own box; the page itself does not scroll sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(tmp_path / "report-390x844.png"))
    assert png_size(tmp_path / "report-390x844.png") == (390, 844)
    page.emulate_media(media="print")
    assert page.locator(".tools").first.is_hidden()
    pdf = page.pdf(format="A4", print_background=True)
    assert pdf[:5] == b"%PDF-" and len(pdf) > 10_000
    assert problems == []


def test_readable_without_javascript(chromium_browser, report_file):
    context = chromium_browser.new_context(java_script_enabled=False)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page, problems, _ = open_report(context, report_file, 1280, 800)
        assert (
            page.evaluate("1") == 1
        )  # (evaluate still works: it is the page's scripts that are off)
        assert page.locator("html[data-js]").count() == 0  # the page's script did not run
        assert page.locator("#heatmap tbody tr").count() == 2
        assert page.locator("#heatmap td.cell").first.inner_text().strip() != ""
        assert page.locator(".tools").first.is_hidden()  # controls that need JS stay hidden
        details = page.locator("details").first
        assert details.is_visible() and "CMR" in details.inner_text()  # open, readable
        assert problems == []
    finally:
        context.close()
