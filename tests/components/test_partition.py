"""Tests of the partition contract's build step (blockbench.components.partition.build_partition)."""

from __future__ import annotations

import pytest
from blockbench_plugins.partitions import Delimiter

from blockbench.components.partition import build_partition


@pytest.mark.tf
def test_a_partly_frozen_backbone_gives_the_same_blocks_and_stays_frozen() -> None:
    from blockbench.testing import tiny_backbone

    model = tiny_backbone()
    expected = build_partition("delimiter", Delimiter(), model)
    # What the engine leaves behind after training block "b2": everything else frozen.
    for layer in model.layers:
        layer.trainable = layer.name.startswith("b2_")
    partition = build_partition("delimiter", Delimiter(), model)
    assert partition.digest == expected.digest
    assert partition.blocks == expected.blocks
    assert partition.total_trainable_params == expected.total_trainable_params
    assert [layer.name for layer in model.layers if layer.trainable] == ["b2_conv", "b2_bn",
                                                                          "b2_relu", "b2_pool"]
