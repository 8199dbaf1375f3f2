"""Fake partition plugins for the PartitionContract tests: one good strategy, one broken per check."""

from __future__ import annotations

import itertools
from typing import Any

from blockbench.components.partition import PartitionStrategy, layer_order
from blockbench.plugin.hookspecs import hookimpl
from blockbench.testing import PartitionContract


class Halves(PartitionStrategy):
    """Cut the layers into ``parts`` runs of (nearly) equal length."""

    option_defaults = {"parts": 2}

    def split(self, model: Any, **options: Any) -> list[list[str]]:
        names = [layer.name for layer in layer_order(model)]
        parts = options.get("parts", 2)
        size = -(-len(names) // parts)
        return [names[i:i + size] for i in range(0, len(names), size)]


class DuckHalves:
    option_defaults: dict[str, Any] = {"parts": 2}
    check_options = Halves.check_options
    split = Halves.split


class ForgetsDefaults(Halves):
    def check_options(self, options: Any) -> dict[str, Any]:
        super().check_options(options)
        return dict(options)


class AcceptsAnything(Halves):
    def check_options(self, options: Any) -> dict[str, Any]:
        return {**self.option_defaults, **options}


class OldHalves(PartitionStrategy):
    """Written for blockbench 0.1 (param_defaults, check_params): works, with a DeprecationWarning."""

    param_defaults = {"parts": 2}

    def check_params(self, params: Any) -> dict[str, Any]:
        checked = super().check_params(params)
        if checked["parts"] < 1:
            raise ValueError("parts must be positive")
        return checked

    split = Halves.split


class ReturnsLayers(Halves):
    def split(self, model: Any, **params: Any) -> list[list[Any]]:
        by_name = {layer.name: layer for layer in model.layers}
        return [[by_name[n] for n in group] for group in super().split(model, **params)]


class DropsTheLastLayer(Halves):
    def split(self, model: Any, **params: Any) -> list[list[str]]:
        groups = super().split(model, **params)
        return [*groups[:-1], groups[-1][:-1]]


class OneBlock(Halves):
    def split(self, model: Any, **params: Any) -> list[list[str]]:
        return [[layer.name for layer in layer_order(model)]]


_calls = itertools.count()


class MovingCut(Halves):
    def split(self, model: Any, **params: Any) -> list[list[str]]:
        names = [layer.name for layer in layer_order(model)]
        cut = 1 + next(_calls) % (len(names) - 1)
        return [names[:cut], names[cut:]]


class FreezesLayers(Halves):
    def split(self, model: Any, **params: Any) -> list[list[str]]:
        layer_order(model)[0].trainable = False
        return super().split(model, **params)


@hookimpl
def register_partitions(register: Any) -> None:
    register("halves", Halves())


class TestHalves(PartitionContract):
    strategy = Halves()
    options = {"parts": 3}
    registered_name = "halves"


class TestOldHalves(PartitionContract):
    strategy = OldHalves()
    params = {"parts": 3}  # the suite's old name for options


class TestDuckHalves(PartitionContract):
    strategy = DuckHalves()  # type: ignore[assignment]


class TestForgetsDefaults(PartitionContract):
    strategy = ForgetsDefaults()


class TestAcceptsAnything(PartitionContract):
    strategy = AcceptsAnything()


class TestRegisteredUnderAnotherName(PartitionContract):
    strategy = Halves()
    registered_name = "quarters"


class TestReturnsLayers(PartitionContract):
    strategy = ReturnsLayers()


class TestDropsTheLastLayer(PartitionContract):
    strategy = DropsTheLastLayer()


class TestOneBlock(PartitionContract):
    strategy = OneBlock()


class TestMovingCut(PartitionContract):
    strategy = MovingCut()


class TestFreezesLayers(PartitionContract):
    strategy = FreezesLayers()
