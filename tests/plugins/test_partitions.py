"""Tests of the built-in partition strategies (blockbench_plugins.partitions)."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from typing import Any

import pytest
from blockbench_plugins.partitions import (
    DELIMITER_GROUPS,
    Delimiter,
    Stage,
    Uniform,
    even_split,
    merge_weightless,
)
from blockbench_plugins.stages import recognise

from blockbench.components.partition import (
    PartitionError,
    build_partition,
    layer_order,
    trainable_count,
)
from blockbench.core.errors import UsageError
from blockbench.plugin.manager import get_components

#: Block counts (delimiter, stage, uniform) with default parameters, measured on the
#: backbones the shared fixture builds (random weights, its small input sizes).
PINNED = {
    "vgg16": (5, 5, 8),
    "mobilenet": (27, 13, 8),
    "mobilenet-v2": (52, 17, 8),
    "mobilenet-v3-small": (52, 11, 8),
    "mobilenet-v3-large": (62, 15, 8),
    "resnet50-v2": (50, 16, 8),
    "regnetx-002": (44, 13, 8),
    "regnetx-004": (71, 22, 8),
    "efficientnet-b0": (49, 16, 8),
    "efficientnet-b1": (69, 23, 8),
    "efficientnet-v2-b0": (59, 21, 8),
    "efficientnet-v2-b1": (73, 27, 8),
    "xception": (44, 14, 8),
    "nasnet-mobile": (215, 16, 8),
    "densenet121": (121, 61, 8),
}
STRATEGIES = ("delimiter", "stage", "uniform")


def _partition(model: Any, name: str, **params: Any) -> Any:
    entry = get_components().partitions.get(name)
    return build_partition(entry.name, entry.factory, model, params)


@pytest.mark.tf
@pytest.mark.slow
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("backbone", sorted(PINNED))
def test_every_backbone_has_a_valid_deterministic_partition(build_backbone: Any, backbone: str,
                                                            strategy: str) -> None:
    model = build_backbone(backbone)
    partition = _partition(model, strategy)  # build_partition validates the invariants
    assert len(partition) == PINNED[backbone][STRATEGIES.index(strategy)]
    assert _partition(model, strategy).digest == partition.digest
    assert all(b.trainable_params > 0 for b in partition.blocks)
    assert sum(b.trainable_params for b in partition.blocks) == partition.total_trainable_params
    if strategy == "delimiter":
        delimiters = {c for g in ("activation", "batchnorm", "maxpool") for c in DELIMITER_GROUPS[g]}
        # Every block but the last ends right after a delimiter (weightless tails included).
        assert all(type(model.get_layer(b.last_layer)).__name__ in delimiters
                   for b in partition.blocks[:-1])
    elif strategy == "stage":
        layers = layer_order(model)
        sizes = [trainable_count(layer) for layer in layers]
        units = recognise([layer.name for layer in layers], sizes)
        block_of = {n: b.index for b in partition.blocks for n in b.layers}
        owners: dict[str, set[int]] = {}
        for layer, unit, size in zip(layers, units, sizes, strict=True):
            if unit is not None and size:
                owners.setdefault(unit, set()).add(block_of[layer.name])
        # Each recognised unit's weighted layers all sit in one block of its own.
        assert all(len(blocks) == 1 for blocks in owners.values())
        assert len(owners) == len(partition)
    else:
        # Tolerance: no block is further from the mean than the backbone's largest layer.
        largest = max(trainable_count(layer) for layer in layer_order(model))
        mean = partition.total_trainable_params / len(partition)
        assert all(abs(b.trainable_params - mean) <= largest for b in partition.blocks)


@pytest.mark.tf
@pytest.mark.slow
@pytest.mark.parametrize(("backbone", "delimiters", "blocks"), [
    ("vgg16", "activation", 1),  # VGG16's ReLU lives inside Conv2D: no cut at all
    ("vgg16", "maxpool", 5),
    ("mobilenet-v2", "activation,maxpool", 35),  # 35 ReLUs; project convs join the next block
    ("mobilenet-v2", "ReLU", 35),  # a Keras class name instead of a friendly name
    ("mobilenet-v2", ["bn"], 52),  # one block per BatchNormalization
])
def test_delimiters_are_configurable(build_backbone: Any, backbone: str, delimiters: Any,
                                     blocks: int) -> None:
    assert len(_partition(build_backbone(backbone), "delimiter", delimiters=delimiters)) == blocks


@pytest.mark.tf
@pytest.mark.slow
def test_stage_pattern_overrides_the_families(build_backbone: Any) -> None:
    partition = _partition(build_backbone("resnet50-v2"), "stage", pattern=r"^conv(\d)_block")
    assert len(partition) == 4
    assert partition.blocks[0].first_layer == "conv1_pad"  # the stem joins the first stage
    assert partition.blocks[-1].last_layer == "post_relu"  # the head joins the last


@pytest.mark.tf
def test_unknown_delimiter_is_one_line_with_suggestion() -> None:
    from blockbench.testing import tiny_backbone

    with pytest.raises(UsageError, match=r"unknown delimiter 'batchnorma'.*'batchnorm'") as info:
        _partition(tiny_backbone(), "delimiter", delimiters="maxpool,batchnorma")
    assert "\n" not in str(info.value)


@pytest.mark.tf
def test_stage_on_unknown_naming_suggests_other_partitions() -> None:
    from blockbench.testing import tiny_backbone

    with pytest.raises(UsageError, match=r"'tiny_backbone'.*'delimiter' or 'uniform'") as info:
        _partition(tiny_backbone(), "stage")
    assert "\n" not in str(info.value)


@pytest.mark.tf
def test_uniform_k_above_weighted_layers_is_a_usage_error() -> None:
    from blockbench.testing import tiny_backbone

    with pytest.raises(UsageError, match=r"k=10 exceeds the 9 layers .* use k <= 9"):
        _partition(tiny_backbone(), "uniform", k=10)
    assert len(_partition(tiny_backbone(), "uniform", k=9)) == 9


@pytest.mark.tf
def test_a_partition_that_loses_a_layer_is_rejected_naming_it() -> None:
    from blockbench.testing import tiny_backbone

    class Lossy(Delimiter):
        def split(self, model: Any, **params: Any) -> list[list[str]]:
            groups = super().split(model, **params)
            return [*groups[:-1], groups[-1][:-1]]

    with pytest.raises(PartitionError, match="layers in no block: \\['top_relu'\\]"):
        build_partition("lossy", Lossy(), tiny_backbone())


@pytest.mark.parametrize(("given", "expected"), [
    ("maxpool, BatchNorm ,activation", ["activation", "batchnorm", "maxpool"]),
    (["bn", "act", "MaxPooling2D"], ["activation", "batchnorm", "maxpooling2d"]),
    ("pooling", ["pool"]),
])
def test_delimiters_are_canonicalised(given: Any, expected: list[str]) -> None:
    checked = Delimiter().check_options({"delimiters": given})
    assert checked["delimiters"] == expected
    assert Delimiter().check_options(checked) == checked  # the engine checks twice


@pytest.mark.parametrize(("strategy", "params", "message"), [
    (Delimiter(), {"delimiters": ""}, "must name at least one layer type"),
    (Delimiter(), {"delimiters": 3}, "comma-separated list"),
    (Delimiter(), {"delimiters": "max-pool"}, "must name at least one layer type"),
    (Uniform(), {"k": 0}, "positive whole number"),
    (Uniform(), {"k": "eight"}, "positive whole number"),
    (Uniform(), {"k": True}, "positive whole number"),
    (Stage(), {"pattern": "(unclosed"}, "not a valid regular expression"),
    (Stage(), {"level": 2}, "unknown partition option"),
])
def test_bad_options_are_one_line_usage_errors(strategy: Any, params: dict[str, Any],
                                              message: str) -> None:
    with pytest.raises(UsageError, match=message) as info:
        strategy.check_options(params)
    assert "\n" not in str(info.value)


def test_uniform_k_from_the_command_line_is_an_int() -> None:
    assert Uniform().check_options({"k": "12"}) == {"k": 12}


@dataclass
class _Weight:
    shape: tuple[int, ...]
    path: str = "w"


@dataclass
class _Layer:
    name: str
    trainable_weights: list[_Weight] = field(default_factory=list)


def _layers(spec: str) -> list[_Layer]:
    """``"a b1 c"``: a trailing digit gives the layer one weight of that many parameters."""
    return [_Layer(t.rstrip("0123456789"), [_Weight((int(t[-1]),))] if t[-1].isdigit() else [])
            for t in spec.split()]


def test_weightless_segments_join_the_block_before_them() -> None:
    segments = [_layers("pad rescale"), _layers("conv3 bn2"), _layers("relu"),
                _layers("dw4 bn1"), _layers("add pool")]
    blocks = merge_weightless(segments)
    assert [[layer.name for layer in b] for b in blocks] == [
        ["pad", "rescale", "conv", "bn", "relu"], ["dw", "bn", "add", "pool"]]


def test_a_backbone_without_weights_has_no_blocks() -> None:
    with pytest.raises(PartitionError, match="no trainable weights"):
        merge_weightless([_layers("relu pool")])


def _brute_force(sizes: list[int], k: int) -> int:
    best = None
    for cuts in itertools.combinations(range(1, len(sizes)), k - 1):
        bounds = [0, *cuts, len(sizes)]
        cost = sum(sum(sizes[a:b]) ** 2 for a, b in itertools.pairwise(bounds))
        best = cost if best is None else min(best, cost)
    assert best is not None
    return best


@pytest.mark.parametrize("seed", range(5))
def test_even_split_is_the_most_even_split(seed: int) -> None:
    rng = random.Random(seed)
    sizes = [rng.choice([1, 10, 100, 1000]) * rng.randint(1, 9) for _ in range(9)]
    for k in (1, 3, 5, 9):
        bounds = even_split(sizes, k)
        assert bounds[0] == 0 and bounds[-1] == len(sizes) and len(bounds) == k + 1
        assert all(a < b for a, b in itertools.pairwise(bounds))
        cost = sum(sum(sizes[a:b]) ** 2 for a, b in itertools.pairwise(bounds))
        assert cost == _brute_force(sizes, k)
