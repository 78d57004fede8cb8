"""Rule files: every problem reported as file:line: rule-id: message, all of them."""

from __future__ import annotations

import json
import textwrap

import pytest
from click.testing import CliRunner

from cmrules import rulebook
from cmrules.cli import cli
from cmrules.errors import ConfigError, RuleFileError

GOOD = """\
rules:
  - id: XYZ001
    name: custom.contacts
    side: company
    criterion: 1
    severity: high
    question: {fr: "Q ?", en: "Q?"}
    params: {max: 2}
    when: {signal: directing_contacts, op: gt, param: max}
    message: {fr: "{directing_contacts} contacts", en: "{directing_contacts} contacts"}
    advice: {fr: "A", en: "A"}
"""


def write(tmp_path, text, name="r.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def problems(tmp_path, text):
    p = write(tmp_path, text)
    with pytest.raises(RuleFileError) as exc:
        rulebook.load([p])
    return exc.value.problems, p


def test_good_file_loads(tmp_path):
    book = rulebook.load([write(tmp_path, GOOD)])
    assert [r.id for r in book] == ["XYZ001"]
    assert book.get("XYZ001").params == {"max": 2}


@pytest.mark.parametrize(
    ("bad", "line", "needle"),
    [
        (
            GOOD.replace("    side: company\n", "    side: company\n    colour: red\n"),
            5,
            "'colour' was unexpected",
        ),
        (
            GOOD.replace("signal: directing_contacts, op", "signal: directing_contact, op"),
            9,
            "unknown signal 'directing_contact'",
        ),
        (GOOD.replace("op: gt", "op: greater"), 9, "unknown operator 'greater'"),
        (
            GOOD.replace("params: {max: 2}", "params: {max: 2}\n    tags: [x]").replace(
                "param: max", "value: 'two'"
            ),
            10,
            "value 'two' is text, not a number or true/false",
        ),
        (GOOD.replace('en: "Q?"', 'de: "Q?"'), 7, "'en' is required"),
        (GOOD.replace("param: max", "param: min"), 9, "unknown parameter 'min'"),
        (GOOD.replace("severity: high", "severity: urgent"), 6, "'urgent' is not one of"),
        (
            GOOD.replace('fr: "{directing_contacts} contacts"', 'fr: "{__class__} contacts"'),
            10,
            "unknown placeholder",
        ),
        (
            GOOD.replace('fr: "{directing_contacts} contacts"', 'fr: "{a.b.c} x"'),
            10,
            "bad placeholder",
        ),
    ],
)
def test_each_problem_names_file_line_and_rule(tmp_path, bad, line, needle):
    found, path = problems(tmp_path, bad)
    assert any(p.startswith(f"{path}:{line}: ") and needle in p for p in found), found


def test_duplicate_ids_across_files(tmp_path):
    a = write(tmp_path, GOOD, "a.yaml")
    write(tmp_path, GOOD, "b.yaml")
    with pytest.raises(RuleFileError) as exc:
        rulebook.load([tmp_path])
    assert any("duplicate id" in p and str(a) in p for p in exc.value.problems)


def test_all_problems_reported_not_just_the_first(tmp_path):
    text = GOOD + GOOD.split("rules:\n", 1)[1].replace("XYZ001", "XYZ002").replace(
        "op: gt", "op: bigger"
    ).replace("directing_contacts, op", "nope, op")
    text = text.replace("severity: high", "severity: high", 1)
    found, _ = problems(tmp_path, text.replace('en: "Q?"', 'xx: "Q?"', 1))
    assert len(found) >= 2


def test_bool_signal_with_ordering_operator(tmp_path):
    bad = GOOD.replace(
        "{signal: directing_contacts, op: gt, param: max}",
        "{signal: kpis_defined, op: lt, value: true}",
    )
    found, _ = problems(tmp_path, bad)
    assert any("use op eq or ne" in p for p in found)


def test_subject_mismatch(tmp_path):
    bad = GOOD.replace(
        "{signal: directing_contacts, op: gt, param: max}",
        "{signal: offer_revisions_365d, op: lt, value: 1}",
    )
    found, _ = problems(tmp_path, bad)
    assert any("is about the vendor" in p for p in found)


def test_invalid_yaml_has_a_line(tmp_path):
    found, path = problems(tmp_path, "rules:\n  - id: [unclosed\n")
    assert found[0].startswith(f"{path}:")
    assert "invalid YAML" in found[0]


def test_yaml_tags_are_not_executed(tmp_path):
    found, _ = problems(tmp_path, "rules: !!python/object/apply:os.system ['echo hi']\n")
    assert "invalid YAML" in found[0]


def test_param_overrides_are_validated():
    with pytest.raises(ConfigError, match="unknown parameter"):
        rulebook.load(params={"CMR001": {"nope": 1}})
    with pytest.raises(ConfigError, match="unknown rule"):
        rulebook.load(params={"CMR999": {"x": 1}})
    with pytest.raises(ConfigError, match="expected a int"):
        rulebook.load(params={"CMR001": {"max_directing_contacts": "two"}})
    with pytest.raises(ConfigError, match="unknown rule"):
        rulebook.load(disabled=["CMR999"])
    assert "CMR001" not in {r.id for r in rulebook.load(disabled=["CMR001"])}


def test_builtin_rules_pass_the_linter():
    assert len(rulebook.load()) >= 12


def test_cli_lint_exit_codes(tmp_path):
    runner = CliRunner()
    good = write(tmp_path, GOOD, "good.yaml")
    res = runner.invoke(cli, ["rules", "lint", str(good)])
    assert res.exit_code == 0 and "1 rules OK" in res.output
    bad = write(tmp_path, GOOD.replace("op: gt", "op: bigger"), "bad.yaml")
    res = runner.invoke(cli, ["rules", "lint", str(bad)])
    assert res.exit_code == 2
    assert f"{bad}:9: XYZ001: unknown operator" in res.output
    assert "Traceback" not in res.output


def test_schema_command_prints_the_shipped_schema():
    res = CliRunner().invoke(cli, ["rules", "schema"])
    assert res.exit_code == 0
    assert json.loads(res.output)["title"] == "cmrules rule file"
