"""Built backbones shared by the plugin tests: each is built once per session."""

from __future__ import annotations

from typing import Any

import pytest

_BUILT: dict[tuple[str, int], Any] = {}


def small_input_size(factory: Any) -> int:
    """The smallest input that every backbone accepts in tests, for speed."""
    return max(int(factory.min_input_size), 32)


@pytest.fixture(scope="session")
def build_backbone():
    """``build_backbone(name, input_size=None)``: a backbone with random weights, cached per session."""
    from blockbench.components.backbone import Weights
    from blockbench.plugin.manager import get_components

    def build(name: str, input_size: int | None = None) -> Any:
        entry = get_components().backbones.get(name)
        size = input_size or small_input_size(entry.factory)
        key = (entry.name, size)
        if key not in _BUILT:
            options = entry.factory.check_options(size, {})
            _BUILT[key] = entry.factory.build(Weights.parse("none"), size, **options)
        return _BUILT[key]

    return build
