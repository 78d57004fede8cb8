"""``rules test``: run the ``*.test.yaml`` files beside rule files."""

from __future__ import annotations

import json
from typing import Any

import click

from .rules import rules


@rules.command("test")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--rule", "rule_id", metavar="ID", help="Only the cases that check this rule.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option("--coverage", is_flag=True, help="Show which outcomes each rule's cases cover.")
@click.option(
    "--min-coverage",
    type=click.FloatRange(0, 100),
    metavar="N",
    help="Exit 1 when under N % of (rule, outcome) pairs are covered.",
)
@click.pass_context
def rules_test(
    ctx: click.Context,
    paths: tuple[str, ...],
    rule_id: str | None,
    fmt: str,
    coverage: bool,
    min_coverage: float | None,
) -> None:
    """Run rule tests (*.test.yaml): exit 0 all pass, 1 a case fails, 2 a bad test file.

    PATHS are folders or files (default: the config's rules.dirs). The rules are the
    configured ones plus the rule files found in PATHS.

    \b
    Example:
      cmrules rules test my-rules/ --coverage --min-coverage 100
    """
    from .. import config as config_mod
    from ..errors import UsageError
    from ..ruletest import load_rules, run_tests

    cfg = config_mod.load(config_mod.find_config(ctx.find_root().obj["config"]))
    targets = list(paths) or [str(p) for p in cfg.rule_dirs]
    if not targets:
        raise UsageError(
            "no test folder: give the folder of your *.test.yaml files, e.g. "
            "'cmrules rules test my-rules/' (or set rules.dirs in the config)"
        )
    base = cfg.rule_paths()
    rb = load_rules(targets, base, params=cfg.params, config_name=cfg.name)
    report = run_tests(targets, rb, rule=rule_id.upper() if rule_id else None,
                       settings=cfg.signals)  # fmt: skip
    below = min_coverage is not None and report.coverage_percent() < min_coverage
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(_table(report, coverage or min_coverage is not None))
    if below:
        click.echo(
            f"coverage {report.coverage_percent():g} % is under --min-coverage {min_coverage:g}",
            err=True,
        )
    ctx.exit(1 if report.failures or below else 0)


def _table(report: Any, coverage: bool) -> str:
    out = []
    for r in report.failures:
        out.append(f"FAIL  {r.case.where}  {r.rule_id}  {r.case.name}")
        out.append(f"      expected {r.expected}, got {r.got}")
        if r.missing_fragments:
            shown = ", ".join(repr(x) for x in r.missing_fragments)
            out.append(f"      message lacks {shown}: {r.message or '(no finding)'}")
    passed = len(report.results) - len(report.failures)
    out.append(f"{len(report.results)} checks: {passed} passed, {len(report.failures)} failed")
    if coverage:
        out.append("")
        out.append(f"{'rule':<10} {'fired':>6} {'silent':>7} {'cannot_assess':>14}  missing")
        for rid, counts in report.coverage().items():
            missing = ", ".join(k for k, n in counts.items() if not n) or "-"
            out.append(f"{rid:<10} {counts['fired']:>6} {counts['silent']:>7} "
                       f"{counts['cannot_assess']:>14}  {missing}")  # fmt: skip
        out.append(f"coverage: {report.coverage_percent():g} % of (rule, outcome) pairs")
    return "\n".join(out)
