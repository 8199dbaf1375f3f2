"""``every-n-weighted``: blocks of n weighted layers, each with the layers that follow it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from blockbench.errors import UsageError
from blockbench.partition import PartitionStrategy, layer_order

if TYPE_CHECKING:
    import keras


def is_weighted(layer: Any) -> bool:
    """A layer that computes with weights: convolutions and dense layers, not normalisation.

    Normalisation layers (BatchNormalization, the Normalization preprocessing
    layer, ...) have weights too, but they belong with the layer they follow.
    """
    return bool(layer.weights) and not type(layer).__name__.endswith("Normalization")


def is_padding(layer: Any) -> bool:
    return type(layer).__name__.startswith("ZeroPadding")


class EveryNWeighted(PartitionStrategy):
    """Cut before every n-th weighted layer (conv/dense), so each block holds n of them.

    Each block starts at a weighted layer (or the padding just before it) and
    keeps the BatchNorm, activation, pooling and merge layers that follow it;
    layers before the first weighted layer (rescaling, padding) join the first
    block.

    Options:
        n: weighted layers per block.
    """

    option_defaults: ClassVar[Mapping[str, Any]] = {"n": 2}

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        completed = super().check_options(options)
        n = completed["n"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise UsageError(f"every-n-weighted option n={n!r} is not valid; use a whole "
                             "number >= 1")
        return completed

    def split(self, model: keras.Model, **options: Any) -> list[list[str]]:
        n = options["n"]  # completed by check_options before split is called
        groups: list[list[Any]] = [[]]
        seen = 0
        for layer in layer_order(model):
            if is_weighted(layer):
                if seen and seen % n == 0:
                    # Padding right before a convolution exists only for it: move it along.
                    lead: list[Any] = []
                    while len(groups[-1]) > 1 and is_padding(groups[-1][-1]):
                        lead.insert(0, groups[-1].pop())
                    groups.append(lead)
                seen += 1
            groups[-1].append(layer)
        return [[layer.name for layer in group] for group in groups if group]
