"""Public import path for plugin authors: re-exports :mod:`blockbench.components.partition`."""

from blockbench.components.partition import (
    REQUIRED,
    Block,
    Partition,
    PartitionError,
    PartitionStrategy,
    build_partition,
    layer_order,
    quarter_of,
    trainable_count,
    validate_groups,
)

__all__ = [
    "REQUIRED",
    "Block",
    "Partition",
    "PartitionError",
    "PartitionStrategy",
    "build_partition",
    "layer_order",
    "quarter_of",
    "trainable_count",
    "validate_groups",
]
