"""Rule files as hostile input would write them: lint says everything evaluate would reject,
at file:line, in words, in one pass — and nothing hangs or blows up memory."""

from __future__ import annotations

import textwrap

import pytest
from click.testing import CliRunner

from cmrules import rulebook
from cmrules.cli import cli
from cmrules.engine import Engine, _count_groups, compile_false, compile_true, rule_problems
from cmrules.rulebook import All, AnyOf, Cmp, Rule

HEAD = """\
rules:
  - id: {id}
    name: custom.rule
    side: company
    criterion: 1
    severity: high
    question: {{fr: "Q ?", en: "Q?"}}
    params: {{max: 2}}
    message: {{fr: "m", en: "m"}}
    advice: {{fr: "a", en: "a"}}
    when:
"""
SIGNALS = ["directing_contacts", "exec_meetings_180d", "proposals_90d"]


def rule_file(tmp_path, when: str, rid: str = "XYZ001", name: str = "r.yaml"):
    body = HEAD.format(id=rid) + textwrap.indent(textwrap.dedent(when), " " * 6)
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def lint(*paths):
    return CliRunner().invoke(cli, ["rules", "lint", *map(str, paths)])


def cmp_yaml(i: int) -> str:
    return f"{{signal: {SIGNALS[i % 3]}, op: gt, value: {i}}}"


def test_issue_113_shape_lints_and_evaluates(tmp_path):
    # any: [all: [3 comparisons] x 3] made durable_rules' create fail (113) once its naive
    # "cannot assess" twin was compiled: lint said OK and evaluate exited 3
    groups = ", ".join("{all: [" + ", ".join(cmp_yaml(3 * j + k) for k in range(3)) + "]}"
                       for j in range(3))  # fmt: skip
    path = rule_file(tmp_path, f"any: [{groups}]\n")
    res = lint(path)
    assert res.exit_code == 0, res.output
    book = rulebook.load([path])
    engine = Engine(book)  # creates the rulesets
    out = engine.evaluate("company", {"directing_contacts": 9, "exec_meetings_180d": 9,
                                      "proposals_90d": 9})  # fmt: skip
    assert [o.status for o in out] == ["fired"]
    unknown = engine.evaluate("company", {"directing_contacts": 9})  # the others unknown
    assert [o.status for o in unknown] == ["cannot_assess"]


def test_too_many_groups_is_a_lint_error_at_file_line(tmp_path):
    # 15 all/any groups: the 16th $and/$or node (cmrules adds one) is durable's error 113
    inner = "{all: [" + cmp_yaml(0) + ", " + cmp_yaml(1) + "]}"
    path = rule_file(tmp_path, "any: [" + ", ".join([inner] * 14) + "]\n")
    res = lint(path)
    assert res.exit_code == 2
    assert f"{path}:11: XYZ001: the condition has 15 all/any groups; at most 14" in res.output


def test_depth_and_width_bounds_in_words(tmp_path):
    deep = "{signal: directing_contacts, op: gt, value: 1}"
    for _ in range(9):
        deep = "{not: " + deep + "}"
    res = lint(rule_file(tmp_path, f"all: [{deep}]\n"))
    assert res.exit_code == 2 and "nests all/any/not 10 levels deep; at most 8" in res.output
    wide = "any: [" + ", ".join(cmp_yaml(i) for i in range(65)) + "]\n"
    res = lint(rule_file(tmp_path, wide))
    assert res.exit_code == 2 and "65 comparisons; at most 64" in res.output


def test_lint_creates_every_rule_in_the_engine(tmp_path):
    # a rule the rulebook would let through but durable_rules refuses is reported at its
    # source (built here directly, past the rulebook's own bound)
    leaf = Cmp("directing_contacts", "gt", 1)
    cond = AnyOf(tuple(All((leaf, Cmp("proposals_90d", "gt", i))) for i in range(15)))
    rule = Rule("XYZ009", "x.y", "company", "company", 1, "high", {"fr": "q", "en": "q"}, {},
                cond, {"fr": "m", "en": "m"}, {"fr": "a", "en": "a"}, "mine.yaml:7")  # fmt: skip
    (problem,) = rule_problems([rule])
    assert problem.startswith("mine.yaml:7: XYZ009: the rules engine cannot create")
    assert "error code: 113" in problem and "split the rule" in problem


def test_compiled_conditions_are_linear_in_the_condition():
    # the old "cannot assess" encoding doubled at every level (depth 16 took 35 s); T and F
    # now have exactly as many groups and comparisons as the written condition
    cond: object = Cmp("directing_contacts", "gt", 0)
    for depth in range(1, 17):
        cls = All if depth % 2 else AnyOf
        cond = cls((cond, Cmp("proposals_90d", "gt", depth)))
        for compiled in (compile_true(cond), compile_false(cond)):  # type: ignore[arg-type]
            assert _count_groups(compiled) == depth
            assert str(compiled).count("directing_contacts") == 1


@pytest.mark.parametrize(
    ("value", "needle"),
    [(".nan", "not a number (.nan)"), (".inf", "infinite"), ("-.inf", "infinite"),
     ("1" + "0" * 400, "too large"), ("1.0e+300", "too large")],
)  # fmt: skip
def test_non_finite_and_huge_values_rejected(tmp_path, value, needle):
    # max_directing_contacts: .nan silently disabled CMR001
    path = rule_file(tmp_path, f"{{signal: directing_contacts, op: gt, value: {value}}}\n")
    res = lint(path)
    assert res.exit_code == 2 and f"{path}:12: XYZ001: " in res.output and needle in res.output
    text = path.read_text().replace("params: {max: 2}", f"params: {{max: {value}}}")
    path.write_text(text.replace("value: " + value, "param: max"))
    res = lint(path)
    assert res.exit_code == 2 and "parameter max: " in res.output and needle in res.output


def test_config_params_reject_nan(tmp_path):
    cfg = tmp_path / "cmrules.yaml"
    cfg.write_text("rules:\n  params: {CMR001: {max_directing_contacts: .nan}}\n")
    res = CliRunner().invoke(cli, ["--config", str(cfg), "rules", "list"])
    assert res.exit_code == 2
    assert "rules.params.CMR001.max_directing_contacts: not a number (.nan)" in res.output


def test_rule_id_matched_whole(tmp_path):
    # "CMR001\n" passed the schema's pattern and gave a second CMR001 finding
    path = rule_file(tmp_path, cmp_yaml(1) + "\n", rid='"XYZ001\\n"')
    res = lint(path)
    assert res.exit_code == 2
    assert "'XYZ001\\\\n' is not valid: an id is 2 to 10 capital letters" in res.output


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ("    severity: low\n", "duplicate key 'severity' (first at line 6)"),
        ("    1: one\n", "key 1 is not a text key"),
        ("    since: 2026-02-30\n", "impossible date or time '2026-02-30'"),
    ],
)
def test_yaml_traps_are_lint_errors_with_line(tmp_path, extra, needle):
    path = rule_file(tmp_path, cmp_yaml(1) + "\n")
    path.write_text(path.read_text().replace("    advice:", extra + "    advice:"))
    res = lint(path)
    assert res.exit_code == 2 and f"{path}:10: -: invalid YAML: {needle}" in res.output
    assert "Traceback" not in res.output


def test_billion_laughs_rule_file_is_refused_at_once(tmp_path):
    # nine levels of ten aliases: minutes and 2.3 GB before
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    path = tmp_path / "lol.yaml"
    path.write_text("\n".join(lines) + "\nrules: *i\n")
    res = lint(path)
    assert res.exit_code == 2 and "aliases (*name) expand this file" in res.output


def test_deep_nesting_is_refused_not_a_recursion_error(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("rules: " + "[" * 5000 + "]" * 5000 + "\n")
    res = lint(path)
    assert res.exit_code == 2 and "nested deeper than 64 levels" in res.output


def test_lint_reports_every_problem_in_one_pass_in_words(tmp_path):
    a = rule_file(tmp_path, "{signal: nope, op: gt, value: 1}\n", rid="XYZ001", name="a.yaml")
    text = a.read_text()
    second = text.split("rules:\n", 1)[1].replace("XYZ001", "CMR001").replace(
        "signal: nope", "signal: directing_contacts")  # fmt: skip
    third = second.replace("CMR001", "XYZ002").replace("custom.rule", "Custom Rule")
    fourth = second.replace("CMR001", "XYZ001")
    a.write_text(text + second + third + fourth)
    res = lint(a)
    out = res.output
    assert res.exit_code == 2
    assert "XYZ001: unknown signal 'nope'" in out  # semantics
    assert "CMR001: duplicate id, already used by a built-in rule" in out  # collision
    assert "'Custom Rule' is not valid: a name is dotted lower-case words" in out  # schema
    assert "XYZ001: duplicate id, already used by another rule" in out
    assert "^[" not in out  # words, not regex patterns


def test_exponent_without_dot_is_text_and_said_so(tmp_path):
    res = lint(rule_file(tmp_path, "{signal: directing_contacts, op: gt, value: 1e3}\n"))
    assert res.exit_code == 2 and "value '1e3' is text, not a number" in res.output
