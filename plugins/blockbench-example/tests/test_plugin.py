"""The plugin module registers everything, next to blockbench's built-ins, without clashes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import blockbench_example.plugin
import click
import pytest

from blockbench.plugin import manager as plugins
from blockbench.testing import FakeEntryPoint, use_entry_points


@pytest.fixture
def components(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    use_entry_points(monkeypatch, [FakeEntryPoint("example", blockbench_example.plugin,
                                                  "blockbench-example")])
    yield plugins.get_components()
    plugins.reset()


def test_registers_alongside_the_builtins(components: Any) -> None:
    assert components.datasets.get("example-stripes").plugin == "blockbench-example.example"
    assert components.partitions.get("Every_N").name == "every-n-weighted"
    assert not [e for e in components.errors if "blockbench-example" in e]


def test_adds_its_command(components: Any) -> None:
    group = click.Group("blockbench")
    assert not [e for e in plugins.register_commands(group) if "blockbench-example" in e]
    assert "example-stripes" in group.commands
