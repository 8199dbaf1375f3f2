"""Tests of unit recognition for the stage partition (blockbench_plugins.stages); no TensorFlow."""

from __future__ import annotations

import pytest
from blockbench_plugins.stages import FAMILIES, assign_units, recognise, unit_keys

from blockbench.core.errors import UsageError


@pytest.mark.parametrize(("family", "name", "unit"), [
    ("vgg-xception", "block4_conv3", "block4"),
    ("vgg-xception", "block13_sepconv2_act", "block13"),
    ("mobilenet", "conv_pad_12", "12"),
    ("mobilenet", "conv_pw_13_relu", "13"),
    ("mobilenet-v2", "expanded_conv_project_BN", "expanded_conv"),
    ("mobilenet-v2", "block_16_project", "block_16"),
    ("mobilenet-v3", "expanded_conv_squeeze_excite_conv_1", "expanded_conv"),
    ("mobilenet-v3", "expanded_conv_10_add", "expanded_conv_10"),
    ("resnet-densenet", "conv2_block1_0_conv", "conv2_block1"),
    ("resnet-densenet", "pool3_conv", "pool3"),
    ("efficientnet", "block6d_se_excite", "block6d"),
    ("regnet", "regnetx002_Stage_3_XBlock_6_exit_relu", "Stage_3_XBlock_6"),
    ("nasnet", "separable_conv_1_normal_left1_12", "12"),
    ("nasnet", "reduction_add_1_stem_1", "stem_1"),
    ("nasnet", "adjust_conv_projection_reduce_8", "reduce_8"),
])
def test_family_patterns_name_the_unit(family: str, name: str, unit: str) -> None:
    assert unit_keys([name], FAMILIES[family]) == [unit]


@pytest.mark.parametrize(("family", "name"), [
    ("mobilenet-v2", "expanded_conv_3_expand"),  # a MobileNetV3 name is not V2's block 0
    ("mobilenet", "conv1_bn"),  # the stem
    ("resnet-densenet", "pool1_pad"),
    ("efficientnet", "top_conv"),
])
def test_family_patterns_leave_stem_and_head_unnamed(family: str, name: str) -> None:
    assert unit_keys([name], FAMILIES[family]) == [None]


def test_stem_joins_the_first_unit_and_gaps_the_unit_before() -> None:
    names = ["stem_conv", "stem_relu", "block_1_conv", "block_1_bn", "add", "relu",
             "block_2_conv", "head_conv", "out_relu"]
    sizes = [9, 0, 9, 2, 0, 0, 9, 9, 0]
    assert assign_units(names, sizes) == ["block_1"] * 6 + ["block_2"] * 3


def test_a_weightless_layer_placed_early_stays_with_its_neighbours() -> None:
    # NASNet's order puts the next cell's first adjust_relu among the previous cell's layers.
    names = ["stem_conv1", "reduction_conv_1_stem_1", "adjust_relu_1_stem_2",
             "reduction_add_2_stem_1", "separable_conv_1_reduction_left1_stem_1",
             "adjust_conv_1_stem_2", "reduction_conv_1_stem_2"]
    sizes = [5, 5, 0, 0, 5, 5, 5]
    assert assign_units(names, sizes) == ["stem_1"] * 5 + ["stem_2"] * 2


def test_a_unit_without_weights_is_not_a_unit() -> None:
    # ResNet's stem pooling "pool1_pool" matches the DenseNet transition pattern but has no weights.
    names = ["conv1_conv", "pool1_pad", "pool1_pool", "conv2_block1_1_conv", "conv2_block2_1_conv"]
    keys = recognise(names, [5, 0, 0, 5, 5])
    assert keys == [None, None, None, "conv2_block1", "conv2_block2"]


def test_unknown_naming_is_a_usage_error_pointing_elsewhere() -> None:
    with pytest.raises(UsageError, match=r"'delimiter' or 'uniform'.*pattern=REGEX") as info:
        recognise(["conv_a", "bn_a", "conv_b"], [5, 2, 5], "mystery-net")
    assert "'mystery-net'" in str(info.value) and "\n" not in str(info.value)


def test_a_family_must_cover_half_the_parameters() -> None:
    names = ["block1_conv1", "block2_conv1", "big_dense_like_conv"]
    with pytest.raises(UsageError, match="does not recognise"):
        recognise(names, [10, 10, 100])
    assert recognise(names, [10, 10, 15]) == ["block1", "block2", None]


def test_a_custom_pattern_wins_and_must_match_weights() -> None:
    names = ["s1_conv", "s1_bn", "s2_conv", "s2_relu"]
    assert assign_units(names, [4, 2, 4, 0], pattern=r"^(s\d)_") == ["s1", "s1", "s2", "s2"]
    with pytest.raises(UsageError, match=r"matches no layer with trainable weights in 'net'"):
        recognise(names, [4, 2, 4, 0], "net", pattern=r"_(relu)$")
