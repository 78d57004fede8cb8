"""Shared set-up for the report tests: a local store holding tests/data/report-portfolio.yaml."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cmrules.connectors.local import LocalConnector, import_file

PORTFOLIO = Path(__file__).parent / "data" / "report-portfolio.yaml"
AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)
EVIL_VENDOR = 'Agence <script>window.__pwned=1</script> "Buzz" {{ 7*7 }} 🚀'
EVIL_CLIENT = 'Café "Chez O\'Neil" <img src=x onerror=window.__pwned=2> 😀'
FORMULA_CLIENT = '=HYPERLINK("http://evil.example","x") | *gras* [lien](http://evil.example)'
TEMPLATE_CLIENT = "Boulangerie {% if 1 %}Martin{% endif %}"


def portfolio_config(tmp_path: Path) -> Path:
    """A config whose local store holds the report portfolio (and nothing else)."""
    db = tmp_path / "report.sqlite3"
    conn = LocalConnector({"path": str(db), "demo": False})
    import_file(conn, PORTFOLIO)
    conn.close()
    cfg = tmp_path / "cmrules.yaml"
    cfg.write_text(f"local: {{path: {db}, demo: false}}\nlanguage: en\n")
    return cfg


def build_portfolio(tmp_path: Path, *, language: str = "en", **kwargs):  # type: ignore[no-untyped-def]
    from cmrules import report
    from cmrules.service import open_session

    session = open_session(str(portfolio_config(tmp_path)))
    try:
        if "vendor" not in kwargs:
            kwargs["all_vendors"] = True
        return report.build(session, as_of=AS_OF, language=language, **kwargs)
    finally:
        session.close()
