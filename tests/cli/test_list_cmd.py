"""``blockbench list``: every registered component with its plugin, as a table or JSON."""

from __future__ import annotations

import json
import types
from typing import Any

import pytest
from click.testing import CliRunner, Result

from blockbench.cli.main import cli
from blockbench.plugin.hookspecs import hookimpl
from blockbench.testing import FakeEntryPoint, use_entry_points

WIDE = {"COLUMNS": "250"}  # so the table never truncates a name


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=WIDE)


def registered(components: Any) -> set[tuple[str, str, str]]:
    return {(kind, e.name, e.plugin) for kind, e in components.all_entries()}


def test_json_lists_every_component_with_its_plugin(fresh_plugins: Any) -> None:
    result = run("list", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    plural = {"backbones": "backbone", "datasets": "dataset", "partitions": "partition",
              "policies": "policy"}
    listed = {(plural[k], e["name"], e["plugin"]) for k in plural for e in data[k]}
    assert listed == registered(fresh_plugins.get_components())
    assert ("policy", "exhaustive", "blockbench.policies") in listed
    assert data["errors"] == fresh_plugins.get_components().errors
    first = data["policies"][0]
    assert set(first) == {"name", "aliases", "plugin", "description"}


def test_table_lists_every_component_with_its_plugin(fresh_plugins: Any) -> None:
    result = run("list")
    assert result.exit_code == 0, result.output
    rows = {tuple(cell.strip() for cell in line.split("│")[1:4:2])
            for line in result.stdout.splitlines() if line.startswith("│")}
    expected = {(name, plugin) for _, name, plugin in registered(fresh_plugins.get_components())}
    assert expected <= rows
    for title in ("Backbones", "Datasets", "Partitions", "Policies"):
        assert title in result.stdout


def test_a_kind_argument_lists_only_that_kind(fresh_plugins: Any) -> None:
    data = json.loads(run("list", "Policies", "--format", "json").stdout)
    assert set(data) == {"policies", "errors"}
    table = run("list", "policies").stdout
    assert "Policies" in table and "Backbones" not in table and "exhaustive" in table


def test_an_unknown_kind_is_a_usage_error(fresh_plugins: Any) -> None:
    result = run("list", "models")
    assert result.exit_code == 2 and "'models'" in result.output and "backbones" in result.output


def test_third_party_components_and_load_errors_show(fresh_plugins: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    extra = types.ModuleType("acme_plugin")
    extra.register_partitions = hookimpl(  # type: ignore[attr-defined]
        lambda register: register("acme-cut", object(), description="Acme's cut."))
    broken = ImportError("cannot import name 'x'")
    use_entry_points(monkeypatch, [FakeEntryPoint("cuts", extra, "acme"),
                                   FakeEntryPoint("oops", broken, "acme-broken")])
    table = run("list", "partitions")
    assert table.exit_code == 0
    assert any("acme-cut" in line and "acme.cuts" in line and "Acme's cut." in line
               for line in table.stdout.splitlines())
    assert "warning: plugin 'acme-broken.oops'" in table.stderr
    data = json.loads(run("list", "partitions", "--format", "json").stdout)
    assert {"name": "acme-cut", "aliases": [], "plugin": "acme.cuts",
            "description": "Acme's cut."} in data["partitions"]
    assert any("acme-broken.oops" in e and "ImportError" in e for e in data["errors"])
