"""Tests of the partition contract's build step (blockbench.components.partition.build_partition)."""

from __future__ import annotations

from typing import Any

import pytest
from blockbench_plugins.partitions import Delimiter

from blockbench.components.partition import PartitionStrategy, build_partition
from blockbench.core.errors import UsageError


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


def test_a_strategy_written_with_the_old_names_still_works_with_warnings() -> None:
    with pytest.warns(DeprecationWarning) as caught:
        class Old(PartitionStrategy):
            param_defaults = {"n": 2}

            def check_params(self, params: Any) -> dict[str, Any]:
                checked = super().check_params(params)
                if checked["n"] < 1:
                    raise UsageError(f"n={checked['n']} must be positive")
                return checked

            def split(self, model: Any, **options: Any) -> list[list[str]]:
                raise NotImplementedError

    assert sorted(str(w.message).split(" is ")[0] for w in caught) == [
        "Old.check_params", "Old.param_defaults"]
    old = Old()
    assert old.option_defaults == {"n": 2}
    assert old.check_options({}) == {"n": 2}  # what the host calls now
    with pytest.raises(UsageError, match="n=0 must be positive"):
        old.check_options({"n": 0})
    with pytest.raises(UsageError, match="unknown partition option"):
        old.check_options({"k": 1})


def test_check_params_is_a_deprecated_name_of_check_options() -> None:
    with pytest.warns(DeprecationWarning, match="call check_options"):
        assert Delimiter().check_params({"delimiters": "maxpool"}) == {"delimiters": ["maxpool"]}
