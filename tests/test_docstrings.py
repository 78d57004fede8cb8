"""Every public class, function and method in ``cmrules/`` says what it does (and why, when
that is not obvious) in a docstring: the connector packages, the library they use, and the core
(rules, signals, engine, findings, notes, output, service, CLI, report).  Methods that implement
a documented interface (:data:`OVERRIDES`) inherit their base class's description."""

from __future__ import annotations

import ast
from pathlib import Path

import cmrules

PACKAGE = Path(cmrules.__file__).resolve().parent


def undocumented(path: Path) -> list[str]:
    """``file:line name`` of each public definition without a docstring."""
    tree = ast.parse(path.read_text("utf-8"))
    where = path.relative_to(PACKAGE) if path.is_relative_to(PACKAGE) else path.name
    missing = []

    def visit(node: ast.AST, prefix: str, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                name = child.name
                setter = any(
                    isinstance(d, ast.Attribute) and d.attr in ("setter", "deleter")
                    for d in getattr(child, "decorator_list", [])
                )
                public = not name.startswith("_") and not in_function and not setter
                overrides = isinstance(child, ast.FunctionDef) and name in OVERRIDES
                if public and not overrides and ast.get_docstring(child) is None:
                    missing.append(f"{where}:{child.lineno} {prefix}{name}")
                # inside a function or a private class, nothing is public
                inner = in_function or not isinstance(child, ast.ClassDef) or name.startswith("_")
                visit(child, f"{prefix}{name}.", inner)

    visit(tree, "", False)
    return missing


#: methods that implement a documented interface (the base class says what they do)
OVERRIDES = {"retry_delay", "error_message", "auth_hint", "emit", "filter", "format"}


def test_every_public_definition_has_a_docstring():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 100  # the whole package, connectors included
    missing = [m for p in files for m in undocumented(p)]
    assert not missing, f"{len(missing)} without a docstring:\n" + "\n".join(missing)


def test_the_check_finds_an_undocumented_definition(tmp_path):
    """The check itself: a public function, class and method without a docstring are listed;
    private names, nested functions and documented definitions are not."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "def shown(): pass\n\ndef _hidden(): pass\n\n"
        "class Kept:\n    def method(self): pass\n\n"
        'def told():\n    """Says what."""\n    def inner(): pass\n',
        "utf-8",
    )
    found = [m.split(" ")[1] for m in undocumented(probe)]
    assert found == ["shown", "Kept", "Kept.method"]
