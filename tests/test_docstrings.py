"""Every public class, function and method a connector author reads says what it does in a
docstring: the connector packages and the library they use (interface, model, HTTP policy,
paging, settings schema, contract kit, errors, helpdesk pairing, value parsing).  The rest
of the core is not checked yet."""

from __future__ import annotations

import ast
from pathlib import Path

import cmrules

PACKAGE = Path(cmrules.__file__).resolve().parent


def undocumented(path: Path) -> list[str]:
    """``file:line name`` of each public definition without a docstring."""
    tree = ast.parse(path.read_text("utf-8"))
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
                    missing.append(f"{path.relative_to(PACKAGE)}:{child.lineno} {prefix}{name}")
                # inside a function or a private class, nothing is public
                inner = in_function or not isinstance(child, ast.ClassDef) or name.startswith("_")
                visit(child, f"{prefix}{name}.", inner)

    visit(tree, "", False)
    return missing


#: methods that implement a documented interface (the base class says what they do)
OVERRIDES = {"retry_delay", "error_message", "auth_hint", "emit", "filter", "format"}


#: what a connector author reads: every public definition documented
CHECKED = [
    "connectors",
    "connector.py",
    "connector_settings.py",
    "errors.py",
    "http.py",
    "model.py",
    "paging.py",
    "sources.py",
    "testing.py",
    "values.py",
]


def test_connector_facing_code_has_docstrings():
    files = [p for c in CHECKED for p in sorted((PACKAGE / c).rglob("*.py"))] + [
        PACKAGE / c for c in CHECKED if c.endswith(".py")
    ]
    missing = [m for p in files if p.suffix == ".py" for m in undocumented(p)]
    assert not missing, f"{len(missing)} without a docstring:\n" + "\n".join(missing)
