"""Fake backbone plugins for the BackboneContract tests: one good factory, one broken per check."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from blockbench.components.backbone import BackboneFactory, Weights
from blockbench.plugin.hookspecs import hookimpl
from blockbench.testing import BackboneContract, tiny_backbone


class GoodNet(BackboneFactory):
    """A tiny, well-behaved backbone."""

    min_input_size = 32
    default_input_size = 64
    option_defaults = {"width": 1}

    def build(self, weights: Weights, input_size: int, **options: Any) -> Any:
        return tiny_backbone(input_size)


class DuckNet:
    """Looks like a factory but does not subclass BackboneFactory."""

    preprocessing, min_input_size, default_input_size = "tf", 32, 64
    option_defaults: dict[str, Any] = {}
    check_input_size = GoodNet.check_input_size
    check_options = GoodNet.check_options
    build = GoodNet.build


class UnknownPreprocessing(GoodNet):
    preprocessing = "imagenet"


class InconsistentSizes(GoodNet):
    min_input_size, default_input_size = 64, 32


class ForgetsDefaults(GoodNet):
    def check_options(self, options: Any) -> dict[str, Any]:
        super().check_options(options)
        return dict(options)


class AcceptsAnything(GoodNet):
    def check_options(self, options: Any) -> dict[str, Any]:
        super().check_options({})
        return {**self.option_defaults, **options}


class IgnoresSize(GoodNet):
    def check_input_size(self, size: int) -> None:
        super().check_input_size(max(size, self.min_input_size))


class KeepsTheTop(GoodNet):
    def build(self, weights: Weights, input_size: int, **options: Any) -> Any:
        import keras

        model = tiny_backbone(input_size)
        out = keras.layers.GlobalAveragePooling2D(name="gap")(model.output)
        return keras.Model(model.input, out, name="with_top")


class ProducesNaN(GoodNet):
    def build(self, weights: Weights, input_size: int, **options: Any) -> Any:
        import keras

        model = tiny_backbone(input_size)
        out = keras.layers.Rescaling(float("nan"), name="nan")(model.output)
        return keras.Model(model.input, out, name="nan_net")


class CountedLayerNames(GoodNet):
    """Numbers a layer from its own counter, which clearing Keras' session does not reset."""

    builds = itertools.count()

    def build(self, weights: Weights, input_size: int, **options: Any) -> Any:
        import keras

        inputs = keras.Input((input_size, input_size, 3), name="input")
        conv = keras.layers.Conv2D(4, 3, name=f"conv_{next(self.builds)}")
        return keras.Model(inputs, conv(inputs), name="counted")


class UnseededWeights(GoodNet):
    def build(self, weights: Weights, input_size: int, **options: Any) -> Any:
        import numpy as np

        model = tiny_backbone(input_size)
        kernel = model.get_layer("top_conv").kernel
        noise = np.random.default_rng().normal(0.0, 0.01, kernel.shape)  # fresh OS entropy
        kernel.assign(np.asarray(kernel) + noise.astype("float32"))
        return model


@hookimpl
def register_backbones(register: Any) -> None:
    register("good-net", GoodNet())


class TestGoodNet(BackboneContract):
    factory = GoodNet()
    registered_name = "good-net"


class TestDuckNet(BackboneContract):
    factory = DuckNet()  # type: ignore[assignment]


class TestUnknownPreprocessing(BackboneContract):
    factory = UnknownPreprocessing()


class TestInconsistentSizes(BackboneContract):
    factory = InconsistentSizes()


class TestForgetsDefaults(BackboneContract):
    factory = ForgetsDefaults()


class TestAcceptsAnything(BackboneContract):
    factory = AcceptsAnything()


class TestIgnoresSize(BackboneContract):
    factory = IgnoresSize()


class TestRegisteredUnderAnotherName(BackboneContract):
    factory = GoodNet()
    registered_name = "great-net"


class TestKeepsTheTop(BackboneContract):
    factory = KeepsTheTop()


class TestProducesNaN(BackboneContract):
    factory = ProducesNaN()


class TestCountedLayerNames(BackboneContract):
    factory = CountedLayerNames()


class TestUnseededWeights(BackboneContract):
    factory = UnseededWeights()


@pytest.mark.slow
class TestImportsTensorflow(BackboneContract):
    factory = GoodNet()
    plugin_module = "fake_tf_plugin"


@pytest.mark.slow
class TestSlowRegistration(BackboneContract):
    factory = GoodNet()
    plugin_module = "fake_slow_plugin"
