"""The plugin host: entry points, load order, error isolation, duplicates, commands, autoload."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from blockbench.components.dataset import DatasetFactory, DatasetSource
from blockbench.plugin import manager as plugins
from blockbench.plugin.hookspecs import hookimpl
from blockbench.testing import FakeEntryPoint, use_entry_points

REPO = Path(__file__).resolve().parents[2]


class Data(DatasetFactory):
    """A dataset that only registers."""

    def load(self, **options: Any) -> DatasetSource:
        raise NotImplementedError


def plugin(name: str, **hooks: Any) -> types.ModuleType:
    """An in-memory plugin module whose attributes are the given hook implementations."""
    module = types.ModuleType(name)
    for hook, function in hooks.items():
        setattr(module, hook, hookimpl(function))
    return module


def registers(kind: str, *names: str, then_raise: bool = False) -> Any:
    def hook(register: Any) -> None:
        for name in names:
            register(name, Data() if kind == "dataset" else object(), description=f"{kind} {name}")
        if then_raise:
            raise RuntimeError("boom")

    return hook


def my_errors(components: Any, plugin_name: str) -> list[str]:
    """The load errors that name ``plugin_name`` (built-ins under construction may add others)."""
    return [e for e in components.errors if plugin_name in e]


def test_builtins_register_through_entry_points(fresh_plugins: Any) -> None:
    from importlib import metadata

    own = [ep for ep in metadata.entry_points(group="blockbench") if ep.dist and ep.dist.name == "blockbench"]
    components = fresh_plugins.get_components()
    assert {f"blockbench.{ep.name}" for ep in own} <= set(components.plugins)
    assert components.policies.get("exhaustive").plugin == "blockbench.policies"


def test_nothing_registers_without_an_entry_point(fresh_plugins: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    use_entry_points(monkeypatch, [], keep_installed=False)
    components = fresh_plugins.get_components()
    assert (components.plugins, components.errors) == ([], [])
    assert not components.all_entries()


def test_third_party_plugin_registers_under_its_distribution(fresh_plugins: Any,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    fake = plugin("fake_data", register_datasets=registers("dataset", "fake-data"))
    use_entry_points(monkeypatch, [FakeEntryPoint("data", fake, "fake-plugin")])
    components = fresh_plugins.get_components()
    entry = components.datasets.get("Fake_Data")
    assert (entry.name, entry.plugin, entry.description) == ("fake-data", "fake-plugin.data",
                                                             "dataset fake-data")
    assert components.plugins.index("fake-plugin.data") < components.plugins.index(
        "blockbench.policies")
    assert not my_errors(components, "fake-plugin")


def test_a_plugin_that_raises_is_named_and_the_others_still_load(
        fresh_plugins: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = plugin("bad", register_datasets=registers("dataset", "half-done", then_raise=True),
                 register_partitions=registers("partition", "bad-cut"))
    good = plugin("good", register_datasets=registers("dataset", "good-data"))
    use_entry_points(monkeypatch, [FakeEntryPoint("bad", bad, "bad-plugin"),
                                   FakeEntryPoint("good", good, "good-plugin")])
    components = fresh_plugins.get_components()
    assert my_errors(components, "bad-plugin") == [
        "plugin 'bad-plugin.bad' failed in register_datasets: RuntimeError: boom"]
    assert "half-done" not in components.datasets  # its partial registration is undone
    assert "good-data" in components.datasets and "bad-cut" in components.partitions
    assert "exhaustive" in components.policies


@pytest.mark.parametrize("name", ["exhaustive", "exhaus-tive"])
def test_duplicate_names_name_both_plugins_and_the_builtin_wins(
        fresh_plugins: Any, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    rival = plugin("rival", register_policies=registers("policy", name))
    use_entry_points(monkeypatch, [FakeEntryPoint("rival", rival, "rival-plugin")])
    components = fresh_plugins.get_components()
    (error,) = my_errors(components, "rival-plugin")
    assert f"duplicate policy name {name!r}" in error
    assert "'blockbench.policies'" in error and "'rival-plugin.rival'" in error
    assert components.policies.get(name).plugin == "blockbench.policies"


def test_invalid_names_are_reported(fresh_plugins: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    shouty = plugin("shouty", register_datasets=registers("dataset", "MyData"))
    use_entry_points(monkeypatch, [FakeEntryPoint("shouty", shouty, "shouty-plugin")])
    (error,) = my_errors(fresh_plugins.get_components(), "shouty-plugin")
    assert "'MyData'" in error and "lowercase words joined by hyphens" in error


def test_disabling_autoload_keeps_only_the_builtins(fresh_plugins: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    fake = plugin("fake_data", register_datasets=registers("dataset", "fake-data"))
    use_entry_points(monkeypatch, [FakeEntryPoint("data", fake, "fake-plugin")])
    monkeypatch.setenv(plugins.DISABLE_ENV, "1")
    components = fresh_plugins.get_components()
    assert "fake-data" not in components.datasets
    assert "fake-plugin.data" not in components.plugins
    assert "exhaustive" in components.policies


def test_an_entry_point_that_fails_to_import_is_reported(fresh_plugins: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    missing = ModuleNotFoundError("No module named 'missing_dep'")
    use_entry_points(monkeypatch, [FakeEntryPoint("broken", missing, "broken-plugin",
                                                  value="broken_plugin.hooks")])
    components = fresh_plugins.get_components()
    assert my_errors(components, "broken-plugin") == [
        "plugin 'broken-plugin.broken' (broken_plugin.hooks) failed to load: "
        "ModuleNotFoundError: No module named 'missing_dep'"]
    assert "exhaustive" in components.policies


def test_every_plugin_with_a_misspelled_hook_is_reported(fresh_plugins: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    typo = {"register_dataset": registers("dataset", "typo-data")}
    use_entry_points(monkeypatch, [FakeEntryPoint("one", plugin("one", **typo), "typo-one"),
                                   FakeEntryPoint("two", plugin("two", **typo), "typo-two")])
    components = fresh_plugins.get_components()
    for name in ("typo-one", "typo-two"):
        (error,) = my_errors(components, name)
        assert error.startswith(f"plugin '{name}.") and "register_dataset" in error


def hello_command() -> click.Command:
    @click.command("hello")
    def hello() -> None:
        """Say hello."""
        click.echo("hello from a plugin")

    return hello


def test_register_commands_adds_a_plugin_command(fresh_plugins: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    fake = plugin("cmds", register_commands=lambda cli: cli.add_command(hello_command()))
    use_entry_points(monkeypatch, [FakeEntryPoint("cmds", fake, "cmd-plugin")])
    group = click.Group("blockbench")
    assert not [e for e in fresh_plugins.register_commands(group) if "cmd-plugin" in e]
    result = CliRunner().invoke(group, ["hello"])
    assert (result.exit_code, result.output) == (0, "hello from a plugin\n")


def test_a_plugin_cannot_replace_a_command(fresh_plugins: Any,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def hijack(cli: click.Group) -> None:
        cli.add_command(hello_command())
        cli.add_command(click.Command("list", callback=lambda: None))

    use_entry_points(monkeypatch, [FakeEntryPoint("hijack", plugin("h", register_commands=hijack),
                                                  "hijack-plugin")])
    group = click.Group("blockbench")
    original = click.Command("list", callback=lambda: None)
    group.add_command(original)
    (error,) = [e for e in fresh_plugins.register_commands(group) if "hijack-plugin" in e]
    assert "duplicate command name 'list'" in error and "'blockbench'" in error
    assert group.commands["list"] is original and "hello" not in group.commands


def test_reset_forgets_the_loaded_plugins(fresh_plugins: Any) -> None:
    first = fresh_plugins.get_components()
    assert fresh_plugins.get_components() is first
    fresh_plugins.reset()
    assert fresh_plugins.get_components() is not first


@pytest.mark.slow
def test_a_pip_installed_plugin_appears_in_blockbench_list(tmp_path: Path) -> None:
    """Install the example plugin for real (offline, into a folder) and list it from a CLI process."""
    source = tmp_path / "src"
    shutil.copytree(REPO / "plugins" / "blockbench-example", source,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
                    "--no-index", "--quiet", "--target", str(site), str(source)],
                   check=True, capture_output=True, text=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop(plugins.DISABLE_ENV, None)

    def blockbench(*args: str, **extra_env: str) -> str:
        proc = subprocess.run([sys.executable, "-m", "blockbench", *args], env={**env, **extra_env},
                              capture_output=True, text=True, timeout=120, check=True)
        return proc.stdout

    listing = json.loads(blockbench("list", "--format", "json"))
    plugin_of = {(kind, e["name"]): e["plugin"] for kind in ("datasets", "partitions")
                 for e in listing[kind]}
    assert plugin_of["datasets", "example-stripes"] == "blockbench-example.example"
    assert plugin_of["partitions", "every-n-weighted"] == "blockbench-example.example"
    assert "example-stripes" in blockbench("--help")
    quiet = json.loads(blockbench("list", "datasets", "--format", "json",
                                  **{plugins.DISABLE_ENV: "1"}))
    assert "example-stripes" not in {e["name"] for e in quiet["datasets"]}
