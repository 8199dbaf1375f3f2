"""The registration probe: a fresh interpreter imports a plugin module and runs its hooks."""

from __future__ import annotations

from importlib import metadata

import pytest

from blockbench.testing.probe import probe_plugin, registration_problems

BUILTIN_MODULES = sorted(ep.value for ep in metadata.entry_points(group="blockbench")
                         if ep.dist and ep.dist.name == "blockbench")


@pytest.mark.parametrize("module", BUILTIN_MODULES)
def test_builtin_plugin_modules_register_cheaply_without_tensorflow(module: str) -> None:
    result = probe_plugin(module)
    assert not result.errors
    assert not result.heavy_imports, f"{module} imports {result.heavy_imports}"
    assert any(result.entries.values()), f"{module} registers nothing"


def test_the_probe_reports_what_was_registered_and_by_which_type() -> None:
    from blockbench_plugins.policies import Exhaustive

    result = probe_plugin("blockbench_plugins.policies")
    assert {"name": "exhaustive", "type": "blockbench_plugins.policies.Exhaustive"} in \
        result.entries["policy"]
    assert registration_problems(result, "policy", "exhaustive", Exhaustive) == []
    problems = registration_problems(result, "policy", "exhaustiv", Exhaustive)
    assert problems == ["'blockbench_plugins.policies' does not register policy 'exhaustiv'; "
                        f"it registers {result.names('policy')}"]
    assert registration_problems(result, "backbone", None, Exhaustive) == [
        "'blockbench_plugins.policies' registers no backbone; set plugin_module to the module "
        "your entry point names"]


def test_a_module_that_cannot_be_imported_is_one_clear_problem() -> None:
    result = probe_plugin("no_such_plugin_module")
    assert result.errors == ["importing 'no_such_plugin_module' failed: ModuleNotFoundError: "
                             "No module named 'no_such_plugin_module'"]
