"""every-n-weighted passes the partition contract and cuts where it says."""

from __future__ import annotations

import re

import pytest
from blockbench_example.every_n import EveryNWeighted

from blockbench.errors import UsageError
from blockbench.partition import build_partition
from blockbench.testing import PartitionContract, tiny_backbone


class TestEveryNWeighted(PartitionContract):
    strategy = EveryNWeighted()
    plugin_module = "blockbench_example.plugin"
    registered_name = "every-n-weighted"


class TestEveryOneWeighted(PartitionContract):
    strategy = EveryNWeighted()
    options = {"n": 1}
    plugin_module = "blockbench_example.plugin"
    registered_name = "every-n-weighted"


@pytest.mark.parametrize("n", [0, -2, 1.5, "2", True])
def test_bad_n_is_a_usage_error(n: object) -> None:
    with pytest.raises(UsageError, match=re.escape(f"n={n!r}")):
        EveryNWeighted().check_options({"n": n})


@pytest.mark.tf
def test_each_block_starts_at_a_weighted_layer() -> None:
    partition = build_partition("every-n-weighted", EveryNWeighted(), tiny_backbone(), {"n": 2})
    # tiny_backbone's weighted layers: stem_conv, b1_dw, b1_pw, b2_conv, top_conv.
    assert [b.first_layer for b in partition.blocks] == ["rescale", "b1_pw", "top_conv"]
    assert partition.blocks[0].layers[:2] == ("rescale", "stem_conv")
    assert partition.blocks[-1].layers == ("top_conv", "top_relu")


@pytest.mark.tf
def test_padding_before_a_cut_moves_to_the_next_block() -> None:
    import keras

    inputs = keras.Input((16, 16, 3), name="input")
    x = keras.layers.Conv2D(4, 3, name="c1")(inputs)
    x = keras.layers.ZeroPadding2D(name="pad")(x)
    x = keras.layers.Conv2D(4, 3, name="c2")(x)
    model = keras.Model(inputs, keras.layers.ReLU(name="relu")(x))
    assert EveryNWeighted().split(model, n=1) == [["c1"], ["pad", "c2", "relu"]]
