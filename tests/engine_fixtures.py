"""A tiny backbone, dataset and partition for engine tests (trains in about a second)."""

from __future__ import annotations

from typing import Any

import numpy as np

from blockbench.components.backbone import BackboneFactory, Weights
from blockbench.components.dataset import DatasetFactory, DatasetSource, Example
from blockbench.components.partition import PartitionStrategy
from blockbench.plugin.registry import Components

SIZE = 16


class TinyNet(BackboneFactory):
    """Two conv-BN-ReLU stages; with ``nan_block`` a layer turns NaN once block 1 trains."""

    preprocessing = "unit"
    min_input_size = 8
    default_input_size = SIZE
    option_defaults = {"nan_block": False}

    def build(self, weights: Weights, input_size: int, **options: Any) -> Any:
        import keras

        inputs = keras.Input((input_size, input_size, 3))
        x = inputs
        for i in range(2):
            x = keras.layers.Conv2D(4, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
            x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
            x = keras.layers.ReLU(name=f"relu{i}")(x)
            if i == 1 and options.get("nan_block"):
                x = NanWhenTrained(name="nan_trap")(x)
        x = keras.layers.MaxPooling2D(name="pool")(x)
        model = keras.Model(inputs, x, name="tinynet")
        keras.utils.set_random_seed(1234)  # "pretrained" weights: fixed, non-trivial
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.moving_mean.assign(np.full(layer.moving_mean.shape, 0.1, "float32"))
                layer.moving_variance.assign(np.full(layer.moving_variance.shape, 2.0, "float32"))
        return model


def NanWhenTrained(name: str) -> Any:
    """A layer whose output becomes NaN as soon as its weight moves away from 0."""
    import keras

    class _Trap(keras.layers.Layer):
        def build(self, input_shape: Any) -> None:
            self.w = self.add_weight(shape=(), initializer="zeros", name="w")

        def call(self, x: Any) -> Any:
            # sqrt(-|w|) is 0 at w = 0 and NaN anywhere else; its gradient at 0 is infinite.
            return x + keras.ops.sqrt(-keras.ops.abs(self.w))

    return _Trap(name=name)


class Blobs(DatasetFactory):
    """Three classes of coloured noise, separable by mean colour."""

    option_defaults = {"n_per_class": 20}

    def load(self, **options: Any) -> DatasetSource:
        rng = np.random.default_rng(0)
        examples = []
        for label in range(3):
            for _ in range(int(options["n_per_class"])):
                image = rng.integers(0, 120, size=(SIZE, SIZE, 3)).astype(np.int64)
                image[..., label] += 120
                examples.append(Example(image.astype(np.uint8), label))
        return DatasetSource(["r", "g", "b"], examples, f"blobs:{options['n_per_class']}")


class ByStage(PartitionStrategy):
    """One block per stage (conv, bn, relu[, nan_trap]); the pooling joins the last."""

    def split(self, model: Any, **params: Any) -> list[list[str]]:
        names = [layer.name for layer in model.layers[1:]]
        cut = names.index("relu0") + 1
        return [names[:cut], names[cut:]]


def components() -> Components:
    c = Components()
    c.backbones.add("tiny-net", TinyNet())
    c.datasets.add("blobs", Blobs())
    c.partitions.add("by-stage", ByStage())
    from blockbench_plugins.policies import Exhaustive

    c.policies.add("exhaustive", Exhaustive)
    return c
