"""Golden outputs of the demo, in both languages.

Regenerate after an intended change with:  UPDATE_GOLDEN=1 pytest tests/test_golden.py
then review the diff like any other change.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from cmrules.cli import cli

GOLDEN = Path(__file__).parent / "golden"
CASES = [
    ("hashtag", ["--vendor", "Agence Hashtag & Co"], "table"),
    ("pixel", ["--vendor", "Pixel Social"], "table"),
    ("pixel", ["--vendor", "Pixel Social"], "markdown"),
    ("nuage", ["--vendor", "Nuage Média"], "json"),
    # issue #15's reproduction: a prospect's readiness, blockers first, then the questions
    ("prospect", ["--company", "Prospect SA"], "table"),
    ("prospect", ["--company", "Prospect SA"], "json"),
]


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize(("name", "args", "fmt"), CASES)
def test_demo_golden(name, args, fmt, lang):
    res = CliRunner().invoke(
        cli,
        ["evaluate", *args, "--no-write", "--lang", lang, "--format", fmt,
         "--as-of", "2026-11-20T12:00:00Z"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    out = res.stdout
    out = "\n".join(
        line for line in out.splitlines() if '"duration_s"' not in line
    )  # the only run-dependent value
    path = GOLDEN / f"{name}-{lang}.{ {'table': 'txt', 'markdown': 'md', 'json': 'json'}[fmt] }"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(out + "\n", encoding="utf-8")
    assert out + "\n" == path.read_text(encoding="utf-8")
