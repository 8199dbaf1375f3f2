"""Public import path for plugin authors: re-exports :mod:`blockbench.plugin.hookspecs`."""

from blockbench.plugin.hookspecs import (
    BackboneRegistry,
    DatasetRegistry,
    PartitionRegistry,
    PolicyRegistry,
    hookimpl,
    hookspec,
    register_backbones,
    register_commands,
    register_datasets,
    register_partitions,
    register_policies,
)

__all__ = [
    "BackboneRegistry",
    "DatasetRegistry",
    "PartitionRegistry",
    "PolicyRegistry",
    "hookimpl",
    "hookspec",
    "register_backbones",
    "register_commands",
    "register_datasets",
    "register_partitions",
    "register_policies",
]
