"""Hypothesis fuzzing of everything a user hands cmrules: rule files, configs, import files
and command lines.  Whatever the input: exit 0 or 2 only, exactly one ``Error:`` line on
failure, never a traceback, never a hang (a per-case alarm), and a failed import leaves the
database exactly as it was.  The budget is bounded (``max_examples``) so the suite stays fast;
raise ``CMRULES_FUZZ_EXAMPLES`` to dig deeper locally."""

from __future__ import annotations

import os
import signal
import sqlite3
import textwrap
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cmrules.cli import cli

EXAMPLES = int(os.environ.get("CMRULES_FUZZ_EXAMPLES", "25"))
CASE_SECONDS = 20  # a case slower than this is a hang
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # the alarm below bounds each case; timings vary on a shared machine
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # CI runs the same cases every time; failures reproduce
)


@contextmanager
def alarm(seconds: int = CASE_SECONDS):
    def hang(*_):
        raise TimeoutError(f"a case ran longer than {seconds}s (a hang)")

    old = signal.signal(signal.SIGALRM, hang)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run(*args: str):
    with alarm():
        return CliRunner().invoke(cli, list(args))


def check(res, allowed=(0, 2)) -> None:
    out = res.output
    assert res.exit_code in allowed, f"exit {res.exit_code}:\n{out[-2000:]}"
    assert "Traceback" not in out
    errors = [line for line in out.splitlines() if line.startswith("Error:")]
    assert len(errors) == (1 if res.exit_code else 0), out[-2000:]
    assert "\x1b" not in out


# -- building blocks -------------------------------------------------------------------------
TRAPS = [
    "2026-02-30", "2026-13-01", "2026-01-01T25:00:00Z", "0001-01-01T00:00:00+01:00", ".nan",
    ".inf", "-.inf", "1" + "0" * 30, "9" * 5000, "1e3", "~", "null", "yes", "no", '"no"',
    "&a [1, 2]", "*a", "*missing", "!!python/object/apply:os.system ['id']", "[" * 80,
    "{a: 1, a: 2}", "{1: x}", "{? [a]: b}", "'\x1b[2J'", '"\\u202e\\u0085"', "|\n  multi",
    "\t", "0x1F", "-1", "0", "1.5", "''", "[]", "{}",
]  # fmt: skip
KEYS = [
    "id", "name", "side", "subject", "criterion", "severity", "question", "params", "when",
    "message", "advice", "tags", "signal", "op", "value", "param", "all", "any", "not",
    "rules", "fr", "en", "max", "source", "language", "local", "path", "demo", "http",
    "timeout", "max_retries", "signals", "unanswered_after_hours", "organisations",
    "contacts", "activities", "engagements", "kind", "date", "company", "vendor", "started",
    "replies", "first_reply_minutes", "org", "roles", "attributes", "profiles", "state",
]  # fmt: skip
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20), st.sampled_from(KEYS),
)  # fmt: skip
data = st.recursive(
    scalars,
    lambda kids: st.one_of(
        st.lists(kids, max_size=4), st.dictionaries(st.sampled_from(KEYS), kids, max_size=5)
    ),
    max_leaves=25,
)


def mutate(base: str) -> st.SearchStrategy[str]:
    """A valid file with hostile values or lines spliced in."""
    lines = base.splitlines()

    @st.composite
    def build(draw) -> str:
        out = list(lines)
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, len(out) - 1))
            trap = draw(st.sampled_from(TRAPS))
            if draw(st.booleans()) and ":" in out[i]:
                key = out[i].split(":", 1)[0]
                out[i] = f"{key}: {trap}"
            else:
                indent = len(out[i]) - len(out[i].lstrip())
                out.insert(i, " " * indent + f"{draw(st.sampled_from(KEYS))}: {trap}")
        return "\n".join(out) + "\n"

    return build()


def dumped(strategy):
    return strategy.map(lambda d: yaml.safe_dump(d, allow_unicode=True))


RULE = textwrap.dedent("""\
    rules:
      - id: XYZ001
        name: custom.rule
        side: company
        criterion: 1
        severity: high
        question: {fr: "Q ?", en: "Q?"}
        params: {max: 2}
        when:
          any:
            - {signal: directing_contacts, op: gt, param: max}
            - all: [{signal: executive_sponsor, op: eq, value: false}]
        message: {fr: "{directing_contacts} contacts", en: "{directing_contacts} contacts"}
        advice: {fr: "A", en: "A"}
""")
CONFIG = (
    "language: en\nfail_on: high\nrules:\n  params: {CMR001: {max_directing_contacts: 1}}\n"
    "signals: {unanswered_after_hours: 48}\nhttp: {timeout: 30, max_retries: 2}\n"
)
IMPORT = textwrap.dedent("""\
    organisations:
      - {id: v9, name: Agence Fuzz, kind: vendor}
      - {id: c9, name: Client Fuzz, kind: company}
    contacts:
      - {id: p9, name: Alice, org: c9, roles: [project_owner]}
    activities:
      - {id: a9, kind: meeting, date: 2026-10-01, company: c9, vendor: v9, replies: 2}
    engagements:
      - {company: c9, vendor: v9, started: 2025-01-01}
""")


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


# -- the properties --------------------------------------------------------------------------
@FUZZ
@given(text=st.one_of(mutate(RULE), dumped(data), dumped(st.fixed_dictionaries({"rules": data}))))
def test_rule_files(work: Path, text: str) -> None:
    path = work / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    check(run("rules", "lint", str(path)))


@FUZZ
@given(text=st.one_of(mutate(CONFIG), dumped(data)))
def test_configs(work: Path, text: str) -> None:
    path = work / "cmrules.yaml"
    path.write_text(text, encoding="utf-8")
    check(run("--config", str(path), "rules", "list", "--format", "json"))


def dump(db: Path) -> list:
    con = sqlite3.connect(db)
    try:
        tables = ("organisations", "contacts", "activities", "engagements", "notes", "flags")
        return [tuple(r) for t in tables for r in con.execute(f"SELECT * FROM {t} ORDER BY 1")]
    finally:
        con.close()


@FUZZ
@given(text=st.one_of(mutate(IMPORT), dumped(data)))
def test_import_files(work: Path, text: str) -> None:
    db = work / "import.sqlite3"
    cfg = work / "import.yaml"
    cfg.write_text(f"local: {{path: {db}, demo: false}}\n")
    path = work / "data.yaml"
    path.write_text(text, encoding="utf-8")
    if not db.exists():
        run("--config", str(cfg), "local", "path")
    before = dump(db)
    res = run("--config", str(cfg), "local", "import", str(path))
    check(res)
    if res.exit_code:
        assert dump(db) == before, "a failed import changed the database"


WORDS = [
    "evaluate", "vendors", "companies", "signals", "notes", "rules", "list", "show", "lint",
    "schema", "docs", "local", "path", "--vendor", "--company", "--format", "json", "table",
    "markdown", "--lang", "fr", "en", "de", "--as-of", "2026-11-20T12:00:00Z", "2026-02-30",
    "yesterday", "--dry-run", "--no-write", "-v", "-q", "--color", "always", "never",
    "pixel", "v-pixel", "c-medina", "Café", "CMR001", "CMR001\n", "nope", "--output", "-",
    "--help", "--version", "\x1b[2J", "", "--", "-x",
]  # fmt: skip


@FUZZ
@given(argv=st.lists(st.sampled_from(WORDS), min_size=1, max_size=6))
def test_command_lines(argv: list[str]) -> None:
    if "--output" in argv:  # never let a case write over a file it names
        argv = [a for a in argv if a != "--output"]
    check(run(*argv))
