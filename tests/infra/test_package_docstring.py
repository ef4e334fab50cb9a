"""infra/__init__.py says what infra/ holds; its list of components is the modules that hold a
ComponentResource, no more and no fewer."""

from __future__ import annotations

import ast
import re

import infra
from tests.servers import ROOT


def modules_holding_a_component() -> set[str]:
    holding = set()
    for path in (ROOT / "infra").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                ast.unparse(base).endswith("ComponentResource") for base in node.bases
            ):
                holding.add(path.relative_to(ROOT / "infra").with_suffix("").as_posix())
    return holding


def test_the_components_the_package_docstring_lists_are_the_modules_that_hold_one():
    docstring = infra.__doc__ or ""
    line = next(item for item in re.split(r"\n- ", docstring) if item.startswith("Components"))
    listed = set(re.findall(r"\b([a-z_/]+)\b(?:\s*\([^)]*\))?\s*[,.]", line.split(":", 1)[1]))
    assert listed == modules_holding_a_component()
