"""Hook declarations of the blockbench plugin host. Only declarations live here."""

from __future__ import annotations

from typing import Any

import pluggy

from blockbench.plugin.registry import (
    BackboneRegistry,
    DatasetRegistry,
    PartitionRegistry,
    PolicyRegistry,
)

hookspec = pluggy.HookspecMarker("blockbench")
hookimpl = pluggy.HookimplMarker("blockbench")


@hookspec
def register_backbones(register: BackboneRegistry) -> None:
    """Add backbone factories: ``register(name, factory, description=..., aliases=...)``."""


@hookspec
def register_datasets(register: DatasetRegistry) -> None:
    """Add dataset factories: ``register(name, factory, description=..., aliases=...)``."""


@hookspec
def register_partitions(register: PartitionRegistry) -> None:
    """Add partition strategies: ``register(name, strategy, description=..., aliases=...)``."""


@hookspec
def register_policies(register: PolicyRegistry) -> None:
    """Add block-selection policies: ``register(name, policy_factory, description=...)``."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add click commands to the ``blockbench`` group: ``cli.add_command(cmd)``."""
