"""Forward FLOP counts of a built Keras backbone, and the FLOPs of a run under each protocol.

The benchmarks compare the engine with naive training through it, and
``compare --dry-run`` estimates a study's cost from it (:func:`target_flops`).

Counts are analytic, from each layer's input and output shapes: 2 FLOPs per
multiply-add for convolutions and dense layers, one per output element for
element-wise layers (two for an inference-mode BatchNormalization, one per
window element for pooling). They measure the arithmetic the protocols
repeat, not time: element-wise layers are memory-bound and cost more than
their FLOPs say, and an optimizer update touches every trained parameter.

The model of a run (``E`` epochs, ``n_train``/``n_val``/``n_test`` examples):

* forward of a training example: the network (naive) or the suffix after the
  cut (engine); backward: one forward's worth for the input gradient of every
  layer after the first trained one, one more for the weight gradient of
  every trained layer with weights; the optimizer: :data:`UPDATE_FLOPS` per
  trained parameter per step;
* every epoch evaluates the validation split; at the end the naive protocol
  (``fit`` then ``evaluate``) evaluates validation and test again, the engine
  only test (its last validation pass is final);
* the engine computes the prefix once per image of the dataset, from the
  nearest cut already cached.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from blockbench.components.partition import Partition
from blockbench.train.subgraph import topological_nodes

#: FLOPs per trained parameter per step of Keras' Adam (moments, bias correction, update).
UPDATE_FLOPS = 10


def _size(shape: Sequence[Any]) -> int:
    return math.prod(int(d) for d in shape[1:])


def layer_flops(layer: Any, inputs: Sequence[Any], outputs: Sequence[Any]) -> int:
    """Forward FLOPs per example of one call of ``layer``."""
    kind = type(layer).__name__
    out = sum(_size(t.shape) for t in outputs)
    if kind in ("Conv2D", "Conv1D", "Conv3D"):
        kernel = math.prod(layer.kernel.shape)  # (kh, kw, c_in / groups, c_out)
        return 2 * out // int(layer.kernel.shape[-1]) * kernel
    if kind == "DepthwiseConv2D":
        return 2 * out * math.prod(layer.kernel.shape[:2])
    if kind == "SeparableConv2D":
        kh, kw, c_in, multiplier = (int(d) for d in layer.depthwise_kernel.shape)
        spatial = out // int(layer.pointwise_kernel.shape[-1])
        return 2 * spatial * c_in * multiplier * kh * kw + 2 * out * c_in * multiplier
    if kind == "Dense":
        return 2 * out * int(layer.kernel.shape[0])
    if kind == "BatchNormalization":
        return 2 * out
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        return out * math.prod(layer.pool_size)
    if kind in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
        return _size(inputs[0].shape)
    if kind in ("Add", "Multiply", "Subtract", "Average", "Maximum"):
        return out * max(1, len(inputs) - 1)
    if kind in ("InputLayer", "ZeroPadding2D", "Flatten", "Reshape", "Concatenate", "Dropout",
                "Cropping2D"):
        return 0
    return out  # activations, rescaling and other element-wise layers


@dataclass(frozen=True)
class NetFlops:
    """Per-example forward FLOPs of a backbone's layers and of the reference head.

    Attributes:
        names: non-input layer names in topological order.
        forward: forward FLOPs of each.
        weighted: whether each has trainable weights.
        head_forward: forward FLOPs of the head's two dense layers.
        head_params: parameters of the head.
    """

    names: tuple[str, ...]
    forward: tuple[int, ...]
    weighted: tuple[bool, ...]
    head_forward: int
    head_params: int

    @classmethod
    def of(cls, backbone: Any, dense_units: int, n_classes: int, head: str = "flatten") -> NetFlops:
        """Count ``backbone``'s layers and a head of ``dense_units`` over ``n_classes``.

        ``head`` is the hyper-parameter: "flatten" feeds every feature to the
        dense layer, "gap" their global average (one per channel).
        """
        per_layer: dict[str, int] = {}
        for node in topological_nodes(backbone):
            if node.operation is None or node.is_input:
                continue
            name = node.operation.name
            per_layer[name] = per_layer.get(name, 0) + layer_flops(
                node.operation, node.input_tensors, node.outputs)
        layers = [lay for lay in backbone.layers if type(lay).__name__ != "InputLayer"]
        features = _size(backbone.outputs[0].shape)
        if head == "gap":
            features = int(backbone.outputs[0].shape[-1])
        head_params = features * dense_units + dense_units + dense_units * n_classes + n_classes
        return cls(tuple(lay.name for lay in layers), tuple(per_layer[lay.name] for lay in layers),
                   tuple(bool(lay.trainable_weights) for lay in layers),
                   2 * (features * dense_units + dense_units * n_classes), head_params)

    def between(self, start: int, end: int) -> int:
        return sum(self.forward[start:end])

    @property
    def total(self) -> int:
        return sum(self.forward)


def run_flops(net: NetFlops, first: int | None, block: tuple[int, int] | None, trained_params: int,
              epochs: int, n: tuple[int, int, int], batch_size: int, *, engine: bool,
              computed_from: int = 0) -> float:
    """FLOPs of one run.

    Args:
        net: the backbone's counts.
        first: position of the cut, i.e. of the first trained layer (None: BL1, after
            every layer; 0: BL2 or block 0, where the engine trains the whole network).
        block: (start, end) positions of the trained backbone layers (None: BL1).
        trained_params: parameters trained (block plus head).
        epochs: training epochs.
        n: (n_train, n_val, n_test).
        batch_size: examples per optimizer step.
        engine: the engine's protocol rather than the naive one.
        computed_from: position of the cached cut the engine computes the prefix from.
    """
    layers = len(net.forward)
    cut = layers if first is None else first
    n_train, n_val, n_test = n
    cached = engine and cut > 0
    forward = (net.between(cut, layers) if cached else net.total) + net.head_forward
    backward = net.between(cut + 1, layers) + 2 * net.head_forward
    if block is not None:
        backward += sum(f for f, w in zip(net.forward[block[0]:block[1]],
                                          net.weighted[block[0]:block[1]], strict=True) if w)
    steps = math.ceil(n_train / batch_size)
    train = epochs * (n_train * (forward + backward) + steps * UPDATE_FLOPS * trained_params)
    evaluate = (epochs * n_val + n_test + (0 if engine else n_val)) * forward
    prefix = (n_train + n_val + n_test) * net.between(min(computed_from, cut), cut) if cached else 0
    return float(train + evaluate + prefix)


def target_flops(net: NetFlops, partition: Partition, target: str, backbone_params: int,
                 epochs: int, n: tuple[int, int, int], batch_size: int, *,
                 pays_prefix: bool = False) -> float:
    """FLOPs of one engine run of ``target`` ("bl1", "bl2" or "block:i") on a cut network.

    Args:
        net: the backbone's counts.
        partition: the blocks.
        target: what trains besides the head.
        backbone_params: trainable parameters of the whole backbone (BL2 trains them all).
        epochs: training epochs.
        n: (n_train, n_val, n_test).
        batch_size: examples per optimizer step.
        pays_prefix: the engine computes this cut's prefix for the run (its first seed in a
            process), from the previous block's cut, which it has cached by then (blocks run
            in order); False: the prefix is cached already and costs nothing.
    """
    kind, _, index = target.partition(":")
    if kind == "bl1":
        first, block, trained = None, None, net.head_params
    elif kind == "bl2":
        first, block = 0, (0, len(net.forward))
        trained = backbone_params + net.head_params
    else:
        chosen = partition.block(int(index))
        start = net.names.index(chosen.first_layer)
        first, block = start, (start, start + len(chosen.layers))
        trained = chosen.trainable_params + net.head_params
    cut = len(net.forward) if first is None else first
    computed_from = cut
    if pays_prefix:
        previous = int(index) - 1 if kind == "block" and int(index) > 0 else None
        computed_from = 0 if previous is None else net.names.index(
            partition.block(previous).first_layer)
    return run_flops(net, first, block, trained, epochs, n, batch_size, engine=True,
                     computed_from=computed_from)
