"""The plugin guide's reference section shows the base classes, protocol and hooks exactly as coded.

The Python blocks of docs/writing-plugins.md section 8 are parsed and each
declaration is compared, normalised by ``ast``, with the same declaration in
the source, so the guide cannot drift from the code: a changed signature, a
new public method or a renamed class attribute fails here.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from types import ModuleType

import pytest

from blockbench.components import backbone, dataset, partition, policy
from blockbench.plugin import hookspecs, registry

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "writing-plugins.md"
SECTION = "## 8. Reference: exact signatures"

#: Each class the reference shows, the module defining it, and whether every public member must be shown.
CLASSES: dict[str, tuple[ModuleType, bool]] = {
    "BackboneFactory": (backbone, True),
    "DatasetFactory": (dataset, True),
    "PartitionStrategy": (partition, True),
    "Policy": (policy, True),
    "Evaluator": (policy, True),
    "Registry": (registry, False),  # the guide shows only how a plugin calls it
}


def _reference() -> list[ast.stmt]:
    text = GUIDE.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    blocks = re.findall(r"```python\n(.*?)```", text[start:end if end > 0 else None], re.S)
    return [stmt for block in blocks for stmt in ast.parse(block).body]


def _declaration(node: ast.stmt) -> tuple[str, str] | None:
    """(name, normalised text) of a class-body or module statement; None for anything else."""
    if isinstance(node, ast.FunctionDef):
        decorators = "".join(f"@{ast.unparse(d)} " for d in node.decorator_list)
        returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
        return node.name, f"{decorators}def {node.name}({ast.unparse(node.args)}){returns}"
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id, ast.unparse(node)
    if isinstance(node, ast.Assign) and len(node.targets) == 1 \
            and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id, ast.unparse(node)
    return None


def _members(body: list[ast.stmt]) -> dict[str, str]:
    return dict(filter(None, map(_declaration, body)))


def _source_class(module: ModuleType, name: str) -> ast.ClassDef:
    tree = ast.parse(inspect.getsource(module))
    return next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name)


def _public(name: str) -> bool:
    return not name.startswith("_") or name == "__init__"


GUIDE_CLASSES = {n.name: n for n in _reference() if isinstance(n, ast.ClassDef)}


def test_the_reference_shows_every_base_class_the_guide_promises() -> None:
    assert sorted(GUIDE_CLASSES) == sorted(CLASSES)


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_each_declaration_in_the_guide_is_the_codes(name: str) -> None:
    module, complete = CLASSES[name]
    source = _source_class(module, name)
    shown = GUIDE_CLASSES[name]
    assert [ast.unparse(b) for b in shown.bases] == [ast.unparse(b) for b in source.bases]
    coded = _members(source.body)
    documented = _members(shown.body)
    for member, text in documented.items():
        assert member in coded, f"the guide shows {name}.{member}, which the code lacks"
        assert text == coded[member], f"{name}.{member}: the guide says\n  {text}\nthe code\n  {coded[member]}"
    if complete:
        missing = sorted(m for m in coded if _public(m) and m not in documented)
        assert not missing, f"public members of {name} missing from the guide: {missing}"


def test_the_hooks_in_the_guide_are_the_hookspecs() -> None:
    tree = ast.parse(inspect.getsource(hookspecs))
    coded = _members([n for n in tree.body if isinstance(n, ast.FunctionDef)])
    shown = _members([n for n in _reference() if isinstance(n, ast.FunctionDef)])
    # The guide omits the @hookspec marker: a plugin writes @hookimpl instead.
    assert shown == {name: text.replace("@hookspec ", "") for name, text in coded.items()}
