"""``cmrules report``: a portfolio picture (HTML, Markdown, CSV, JSON) of vendors × criteria.

* :mod:`.collect` evaluates the vendors in scope (read-only) and reads the run history;
* :mod:`.aggregate` turns findings into the heatmap, clients × criteria, top issues, data gaps
  and the trend (pure);
* :mod:`.render` renders it with Jinja2 (autoescaping HTML) or as CSV/JSON.
"""

from __future__ import annotations

from .aggregate import Portfolio, build_portfolio
from .collect import build, save
from .render import FORMATS, render_as

__all__ = ["FORMATS", "Portfolio", "build", "build_portfolio", "render_as", "save"]
