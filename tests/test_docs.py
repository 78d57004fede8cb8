"""The README's rule catalogue is generated from the rule files (never written twice)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from cmrules import rulebook
from cmrules.docs import catalogue

README = Path(__file__).parent.parent / "README.md"
BLOCK = re.compile(r"(<!-- rules:begin -->\n)(.*?)(<!-- rules:end -->)", re.S)


def test_readme_catalogue_is_generated_from_the_rules():
    text = README.read_text("utf-8")
    expected = catalogue(rulebook.load(), "en")
    if os.environ.get("UPDATE_GOLDEN"):
        text = BLOCK.sub(lambda m: m.group(1) + expected + m.group(3), text)
        README.write_text(text, "utf-8")
    match = BLOCK.search(text)
    assert match, "README lost its <!-- rules:begin/end --> markers"
    assert match.group(2) == expected, "run: UPDATE_GOLDEN=1 pytest tests/test_docs.py"
