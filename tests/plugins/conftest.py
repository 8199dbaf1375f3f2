"""Built backbones shared by the plugin tests: each is built once per session."""

from __future__ import annotations

from typing import Any

import pytest

from blockbench.components.backbone import Weights
from blockbench.plugin.manager import get_components
from blockbench.train import engine

_BUILT: dict[tuple[str, int], Any] = {}


def small_input_size(factory: Any) -> int:
    """The smallest input that every backbone accepts in tests, for speed."""
    return max(int(factory.min_input_size), 32)


@pytest.fixture(scope="session")
def build_backbone():
    """``build_backbone(name, input_size=None)``: a backbone with random weights, cached per session.

    It is built as a run builds it (:func:`blockbench.train.engine.build_backbone`),
    with default options. Tests share the model: never train or change it.
    """

    def build(name: str, input_size: int | None = None) -> Any:
        entry = get_components().backbones.get(name)
        size = input_size or small_input_size(entry.factory)
        key = (entry.name, size)
        if key not in _BUILT:
            options = entry.factory.check_options({})
            _BUILT[key] = engine.build_backbone(entry.factory, Weights.parse("none"), size, options)
        return _BUILT[key]

    return build
