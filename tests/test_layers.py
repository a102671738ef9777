"""The house's arrows point down (DESIGN.md): a package imports only the packages below it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Lower floors first; a package may import any package on a lower floor, never one on its own or above.
FLOORS = [
    ["channels"],
    ["sandbox"],
    ["scheduler"],
    ["accounts"],
    ["recipients", "supporters"],
    ["campaign"],
    ["waves"],
    ["analytics"],
    ["privacy"],
    ["demo"],
]
FLOOR = {package: level for level, packages in enumerate(FLOORS) for package in packages}


def imported(path: Path) -> set[str]:
    """Every top-level name a module imports, in functions too (an import inside a function is still an arrow)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
    return names


@pytest.mark.parametrize("package", list(FLOOR))
def test_a_package_imports_only_the_floors_below(package: str) -> None:
    upward = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for name in imported(path)
        if name in FLOOR and name != package and FLOOR[name] >= FLOOR[package]
    }
    assert not upward, sorted(upward)


def test_channels_know_nothing_of_the_database_or_flask() -> None:
    found = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / "channels").rglob("*.py"))
        for name in imported(path) & {"flask", "flask_sqlalchemy", "sqlalchemy", "extensions", "database"}
    }
    assert not found, sorted(found)


def test_no_package_imports_the_factory() -> None:
    found = [
        str(p.relative_to(ROOT)) for package in FLOOR for p in (ROOT / package).rglob("*.py") if "app" in imported(p)
    ]
    assert not found
