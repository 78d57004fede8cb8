"""Strict YAML with libyaml (#11): the import, config and rule files parse through libyaml's
parser when PyYAML has it, and every guarantee of the strict loader holds with both parsers."""

from __future__ import annotations

import pytest
import yaml

from cmrules import yamlutil
from cmrules.connectors.local import LocalConnector, import_file
from cmrules.errors import UsageError

LOADERS = [yamlutil._PyLoader] + ([yamlutil.LOADER] if yaml.__with_libyaml__ else [])


@pytest.fixture(params=LOADERS, ids=lambda c: c.__name__)
def loader(request, monkeypatch):
    monkeypatch.setattr(yamlutil, "LOADER", request.param)
    return request.param


def test_libyaml_is_used_when_pyyaml_has_it():
    if yaml.__with_libyaml__:
        assert issubclass(yamlutil.LOADER, yaml.cyaml.CParser)


def _laughs() -> str:
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("a: 1\nb: 2\na: 3\n", 3, "duplicate key 'a' (first at line 1); keep one"),
        ("x: {y: 1, y: 2}\n", 1, "duplicate key 'y'"),
        ("1: one\n", 1, "key 1 is not a text key"),
        ("true: yes\n", 1, "key true is not a text key"),
        ("d: 2026-02-30\n", 1, "impossible date or time '2026-02-30'"),
        ("t: 2026-01-01T25:00:00Z\n", 1, "impossible date or time"),
        ("n: " + "9" * 5000 + "\n", 1, "a 5000-digit number is too large"),
        ("x: " + "[" * 5000 + "]" * 5000 + "\n", 1, "nested deeper than 64 levels"),
        ("x: " + "[" * 65 + "]" * 65 + "\n", 1, "nested deeper than 64 levels"),
        ("x:\n" + "".join("  " * i + "- \n" for i in range(1, 70)), 65, "nested deeper than 64"),
        ("a: &a [*a]\n", 1, "refers to its own anchor"),
        (_laughs(), 1, "aliases (*name) expand this file to"),
    ],
)  # fmt: skip
def test_strict_yaml_with_both_parsers(loader, text, line, needle):
    with pytest.raises(yaml.YAMLError) as exc:
        yamlutil.load_with_lines(text)
    assert needle in yamlutil.problem(exc.value)
    assert yamlutil.error_line(exc.value) == line


def test_64_levels_and_a_few_aliases_are_fine(loader):
    ok = "x: " + "[" * 63 + "]" * 63 + "\nbase: &b {kind: company}\ncopy: *b\n"
    data, lines = yamlutil.load_with_lines(ok)
    assert data["copy"] == {"kind": "company"} and lines[("copy",)] == 3


def test_line_depth_keeps_only_the_lines_asked_for(loader):
    data, lines = yamlutil.load_with_lines("rows:\n  - {id: a}\n  - id: b\n    n: 1\n", 2)
    assert data["rows"][1] == {"id": "b", "n": 1}
    assert lines == {(): 1, ("rows",): 1, ("rows", 0): 2, ("rows", 1): 3}


def test_values_are_those_of_safe_load(loader):
    text = "a: 2026-01-01\nb: '1e3'\nc: 1e3\nd: 1.5\ne: no\nf: ~\ng: [x, {h: 0x1f}]\n"
    assert yamlutil.load_with_lines(text)[0] == yaml.safe_load(text)


def test_python_objects_are_refused(loader):
    with pytest.raises(yaml.YAMLError, match="could not determine a constructor"):
        yamlutil.load_with_lines("x: !!python/object/apply:os.system ['true']\n")


def test_yaml_import_bad_row_names_its_line(loader, tmp_path):
    path = tmp_path / "data.yaml"
    path.write_text(
        "organisations:\n  - {id: v1, name: V, kind: vendor}\n  - id: c1\n    name: Client\n"
        "    kind: compagnie\n"
    )
    c = LocalConnector({"path": str(tmp_path / "db.sqlite3"), "demo": False})
    with pytest.raises(UsageError) as exc:
        import_file(c, path)
    assert str(exc.value).startswith(f"{path}:3: organisations[1]: kind 'compagnie' is not")
    assert c.organisations() == []
    c.close()
