"""Start-up stays cheap: ``cmrules --version`` and ``--help`` load none of the heavy modules
(jsonschema, requests, durable_rules, PyYAML, the rulebook); they are imported when a
command needs them.  (The CPU figure is in benchmarks/, never asserted here.)"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("jsonschema", "requests", "durable_rules_engine", "durable", "yaml", "cmrules.rulebook",
         "cmrules.service", "cmrules.engine", "sqlite3")  # fmt: skip

CODE = """
import sys
sys.argv = ["cmrules", *ARGS]
from cmrules.cli import main
try:
    main()
except SystemExit:
    pass
print("LOADED", sorted(m for m in HEAVY if m in sys.modules), file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["evaluate", "--help"]])
def test_version_and_help_load_no_heavy_module(args):
    code = CODE.replace("*ARGS", repr(args)[1:-1]).replace("HEAVY", repr(HEAVY))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout  # the version or the help text was printed
    assert "LOADED []" in proc.stderr, proc.stderr[-2000:]
