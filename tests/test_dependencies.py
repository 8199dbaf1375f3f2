"""Every package blockbench imports is declared in pyproject.toml, not borrowed from a dependency's."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = [REPO / "blockbench", REPO / "plugins" / "blockbench_plugins"]
OWN = {"blockbench", "blockbench_plugins", "__future__"}


def _normalise(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0]).lower()


def _project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _imports(path: Path) -> Iterator[tuple[str, bool]]:
    """``(top-level package, run on import)`` of each absolute import in ``path``.

    Imports inside functions and ``if TYPE_CHECKING:`` blocks do not run on import.
    """
    tree = ast.parse(path.read_text())
    deferred = [n for n in ast.walk(tree)
                if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
                or (isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test))]
    inner = {id(n) for d in deferred for n in ast.walk(d)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            yield name.split(".")[0], id(node) not in inner


def _distributions(package: str, found: dict[str, list[str]]) -> set[str]:
    return {_normalise(d) for d in found.get(package, [package])}


def test_every_imported_package_is_declared() -> None:
    project = _project()
    core = {_normalise(r) for r in project["dependencies"]}
    extras = {name: {_normalise(r) for r in reqs}
              for name, reqs in project["optional-dependencies"].items()}
    # dev is for working on blockbench; a user never installs it.
    optional = set().union(*(reqs for name, reqs in extras.items() if name != "dev"))
    found = metadata.packages_distributions()
    problems: set[str] = set()
    for path in sorted(p for root in SOURCES for p in root.rglob("*.py")):
        in_testing = (REPO / "blockbench" / "testing") in path.parents
        for package, on_import in _imports(path):
            if package in OWN or package in sys.stdlib_module_names:
                continue
            allowed = core | extras["testing"] if in_testing else core
            if not on_import:  # a deferred import may need an extra the user opted into
                allowed = allowed | optional
            if not _distributions(package, found) & allowed:
                where = "on import" if on_import else "lazily"
                problems.add(f"{path.relative_to(REPO)} imports {package} {where}")
    assert not problems, sorted(problems)


def test_the_testing_extra_is_named_in_the_plugin_guide() -> None:
    assert "pytest>=8" in _project()["optional-dependencies"]["testing"]
    assert "pip install 'blockbench[testing]'" in (REPO / "docs" / "writing-plugins.md").read_text()
