"""The package's shape: layers, no import cycles, imports at the top, public re-exports.

The layer and cycle rules themselves live in pyproject.toml (``[tool.importlinter]``);
this runs them so the README's test command enforces them too.
"""

from __future__ import annotations

import ast
import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {"blockbench": REPO / "blockbench", "blockbench_plugins": REPO / "plugins" / "blockbench_plugins"}
#: Frameworks that cost seconds to import or may be absent: imported inside functions only.
#: (SciPy, pandas and SQLAlchemy are imported at the top of the statistics and store
#: modules that need them; ``--help`` loads none of those.)
HEAVY = {"tensorflow", "keras", "jax", "torch", "optuna", "matplotlib", "tensorflow_datasets",
         "tf_keras", "ray"}
#: Old public import paths that third-party plugins use, and what they re-export.
SHIMS = {
    "blockbench.backbone": "blockbench.components.backbone",
    "blockbench.dataset": "blockbench.components.dataset",
    "blockbench.partition": "blockbench.components.partition",
    "blockbench.policy": "blockbench.components.policy",
    "blockbench.errors": "blockbench.core.errors",
    "blockbench.hookspecs": "blockbench.plugin.hookspecs",
}


def _modules() -> list[Path]:
    return sorted(p for root in PACKAGES.values() for p in root.rglob("*.py"))


def test_import_contracts_hold() -> None:
    """Layers (core -> ... -> cli), no cycles (lazy and TYPE_CHECKING imports included)."""
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which(
        "lint-imports")
    if command is None:
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    done = subprocess.run([command, "--no-cache"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(REPO)))
def test_internal_imports_are_at_the_top(path: Path) -> None:
    """Only heavy externals are imported lazily; blockbench modules import each other at the top."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    late = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots = [node.module.split(".")[0]]
        elif isinstance(node, ast.Import):
            roots = [alias.name.split(".")[0] for alias in node.names]
        else:
            continue
        if id(node) not in top and any(r in PACKAGES for r in roots):
            late.append(f"line {node.lineno}: {ast.unparse(node)}")
    assert not late, "internal imports below the top:\n" + "\n".join(late)


def _defined_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names - {"log"}


def test_top_level_stays_small() -> None:
    """At most 8 modules directly in blockbench/: the rest lives in the data-path subpackages."""
    modules = sorted(p.name for p in (REPO / "blockbench").glob("*.py"))
    assert len(modules) <= 8, modules


@pytest.mark.parametrize("shim", sorted(SHIMS))
def test_public_paths_re_export_everything(shim: str) -> None:
    """``blockbench.backbone`` & co. keep working for plugins: every public name is there."""
    target = importlib.import_module(SHIMS[shim])
    module = importlib.import_module(shim)
    public = {name for name in _defined_names(Path(str(target.__file__)))
              if not name.startswith("_")}
    missing = sorted(public - set(module.__all__))
    assert not missing, f"{shim} does not re-export {missing}"
    for name in module.__all__:
        assert getattr(module, name) is getattr(target, name)


def test_heavy_packages_are_imported_lazily() -> None:
    """No module imports TensorFlow, Keras, SciPy, SQLAlchemy & co. at its top."""
    offenders = []
    for path in _modules():
        for node in ast.parse(path.read_text()).body:
            names = ([node.module] if isinstance(node, ast.ImportFrom) and node.module else
                     [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            offenders += [f"{path.relative_to(REPO)}: {n}" for n in names if n.split(".")[0] in HEAVY]
    assert not offenders, offenders
