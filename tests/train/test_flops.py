"""The FLOP model of a cut network: layer counts by hand, and the order the protocols imply."""

from __future__ import annotations

import pytest

from blockbench.components.partition import build_partition
from blockbench.plugin.manager import get_components
from blockbench.train.flops import NetFlops, layer_flops, run_flops, target_flops

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def cut():  # type: ignore[no-untyped-def]
    import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.Conv2D(2, 1, name="conv2")(x)
    x = keras.layers.ReLU(name="relu2")(x)
    model = keras.Model(inputs, x)
    entry = get_components().partitions.get("delimiter")
    partition = build_partition(entry.name, entry.factory, model, entry.factory.check_options({}))
    return model, partition


def test_layer_counts_by_hand(cut) -> None:  # type: ignore[no-untyped-def]
    model, _ = cut
    net = NetFlops.of(model, dense_units=16, n_classes=5)
    conv = model.get_layer("conv")
    assert layer_flops(conv, [conv.input], [conv.output]) == 2 * 8 * 8 * 4 * (3 * 3 * 3)
    assert dict(zip(net.names, net.forward, strict=True))["conv2"] == 2 * 8 * 8 * 2 * 4
    assert dict(zip(net.names, net.forward, strict=True))["bn"] == 2 * 8 * 8 * 4
    features = 8 * 8 * 2
    assert net.head_forward == 2 * (features * 16 + 16 * 5)
    assert net.head_params == features * 16 + 16 + 16 * 5 + 5
    gap = NetFlops.of(model, dense_units=16, n_classes=5, head="gap")
    assert gap.head_forward == 2 * (2 * 16 + 16 * 5)


def test_protocol_order(cut) -> None:  # type: ignore[no-untyped-def]
    model, partition = cut
    net = NetFlops.of(model, 16, 5)
    params = partition.total_trainable_params
    common = dict(backbone_params=params, epochs=10, n=(70, 20, 10), batch_size=24)
    bl1 = target_flops(net, partition, "bl1", **common)
    bl2 = target_flops(net, partition, "bl2", **common)
    last = target_flops(net, partition, f"block:{len(partition) - 1}", **common)
    assert bl1 < last < bl2
    # A cut's prefix is paid once: the first time it costs more than with the prefix cached.
    first = target_flops(net, partition, "block:1", pays_prefix=True, **common)
    assert first > target_flops(net, partition, "block:1", **common)
    # The engine never costs more than naive training of the same run.
    block = partition.block(1)
    start = net.names.index(block.first_layer)
    args = (net, start, (start, start + len(block.layers)), block.trainable_params + net.head_params,
            10, (70, 20, 10), 24)
    assert run_flops(*args, engine=True) <= run_flops(*args, engine=False)
