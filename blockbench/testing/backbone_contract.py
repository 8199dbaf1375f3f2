"""``BackboneContract``: the checks every backbone factory must pass."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import pytest

from blockbench.components.backbone import PREPROCESSING_MODES, BackboneFactory, Weights
from blockbench.core.errors import UsageError
from blockbench.testing.probe import check_registration

UNKNOWN_OPTION = "no_such_option_xyz"


class BackboneContract:
    """Subclass as ``class TestMyNet(BackboneContract)`` to check a backbone factory.

    Set ``factory = MyNet()`` (or override the ``backbone_factory`` fixture).
    Models are built once per class, with random weights (``Weights.parse("none")``)
    at ``input_size`` (default: the factory's ``min_input_size``), so the suite runs offline.

    Attributes:
        factory: the factory instance under test.
        input_size: the side to build at; None means ``factory.min_input_size``.
        options: backbone options to build with (validated by ``check_options``).
        plugin_module: the module your entry point names; None means the factory's module.
        registered_name: the name the plugin registers the factory under (checked if set).
    """

    factory: ClassVar[BackboneFactory | None] = None
    input_size: ClassVar[int | None] = None
    options: ClassVar[Mapping[str, Any]] = {}
    plugin_module: ClassVar[str | None] = None
    registered_name: ClassVar[str | None] = None

    @pytest.fixture(scope="class")
    @classmethod
    def backbone_factory(cls) -> BackboneFactory:
        if cls.factory is None:
            pytest.fail(f"{cls.__name__}: set `factory = YourFactory()` "
                        "or override the backbone_factory fixture", pytrace=False)
        return cls.factory

    @pytest.fixture(scope="class")
    @classmethod
    def backbone_input_size(cls, backbone_factory: BackboneFactory) -> int:
        return int(cls.input_size or backbone_factory.min_input_size)

    @pytest.fixture(scope="class")
    @classmethod
    def built_backbone(cls, backbone_factory: BackboneFactory, backbone_input_size: int) -> Any:
        return _build(backbone_factory, backbone_input_size, cls.options)

    def test_factory_is_a_backbone_factory(self, backbone_factory: Any) -> None:
        assert isinstance(backbone_factory, BackboneFactory), (
            f"{backbone_factory!r} is not a blockbench.components.backbone.BackboneFactory instance"
        )

    def test_preprocessing_is_a_known_mode(self, backbone_factory: BackboneFactory) -> None:
        assert backbone_factory.preprocessing in PREPROCESSING_MODES, (
            f"preprocessing {backbone_factory.preprocessing!r} is not one of {PREPROCESSING_MODES}"
        )

    def test_input_sizes_are_consistent(self, backbone_factory: BackboneFactory,
                                        backbone_input_size: int) -> None:
        low, default = backbone_factory.min_input_size, backbone_factory.default_input_size
        assert isinstance(low, int) and isinstance(default, int), "input sizes must be ints"
        assert 1 <= low <= default, f"need 1 <= min_input_size ({low}) <= default ({default})"
        assert backbone_input_size >= low, f"input_size {backbone_input_size} is below {low}"

    def test_check_options_completes_defaults(self, backbone_factory: BackboneFactory,
                                              backbone_input_size: int) -> None:
        defaults = dict(backbone_factory.option_defaults)
        assert backbone_factory.check_options(backbone_input_size, {}) == defaults, (
            "check_options(size, {}) must return exactly option_defaults"
        )
        completed = backbone_factory.check_options(backbone_input_size, dict(self.options))
        assert set(completed) == set(defaults) | set(self.options), (
            f"check_options returned keys {sorted(completed)}, expected {sorted(defaults)}"
        )

    def test_unknown_option_is_a_usage_error(self, backbone_factory: BackboneFactory,
                                             backbone_input_size: int) -> None:
        bad = {**self.options, UNKNOWN_OPTION: 1}
        with pytest.raises(UsageError, match=UNKNOWN_OPTION):
            backbone_factory.check_options(backbone_input_size, bad)

    def test_too_small_input_is_a_usage_error(self, backbone_factory: BackboneFactory) -> None:
        size = backbone_factory.min_input_size - 1
        if size < 1:
            pytest.skip("min_input_size is 1: no smaller size exists")
        with pytest.raises(UsageError, match=str(size)):
            backbone_factory.check_options(size, dict(self.options))

    def test_registration_is_cheap_and_tensorflow_free(self, backbone_factory: Any) -> None:
        check_registration("backbone", backbone_factory, self.plugin_module, self.registered_name)

    @pytest.mark.tf
    def test_builds_a_feature_extractor(self, built_backbone: Any,
                                        backbone_input_size: int) -> None:
        import keras

        assert isinstance(built_backbone, keras.Model), f"build() returned {type(built_backbone)}"
        shape = tuple(built_backbone.input_shape)
        assert shape[1:] == (backbone_input_size, backbone_input_size, 3), (
            f"input shape {shape}, expected (None, {backbone_input_size}, {backbone_input_size}, 3)"
        )
        out = tuple(built_backbone.output_shape)
        assert len(out) == 4, f"output shape {out} is not a 4-D feature map (drop the top)"
        assert all(d is None or d > 0 for d in out[1:]), f"output shape {out} has empty axes"

    @pytest.mark.tf
    def test_forward_pass_is_finite(self, built_backbone: Any, backbone_input_size: int) -> None:
        import numpy as np

        images = np.random.default_rng(0).uniform(-1, 1, (2, backbone_input_size,
                                                           backbone_input_size, 3))
        features = np.asarray(built_backbone(images.astype("float32"), training=False))
        assert features.ndim == 4 and features.shape[0] == 2, f"features {features.shape}"
        assert np.isfinite(features).all(), "the forward pass produced NaN or infinity"

    @pytest.mark.tf
    def test_layer_names_are_stable_across_builds(self, backbone_factory: BackboneFactory,
                                                   built_backbone: Any,
                                                   backbone_input_size: int) -> None:
        again = _build(backbone_factory, backbone_input_size, self.options)
        first = [layer.name for layer in built_backbone.layers]
        second = [layer.name for layer in again.layers]
        changed = [(a, b) for a, b in zip(first, second, strict=False) if a != b]
        assert first == second, (
            f"a second build names layers differently (first differences {changed[:3]}); name "
            "every layer explicitly: partitions and run hashes are keyed by layer names"
        )


def _build(factory: BackboneFactory, size: int, options: Mapping[str, Any]) -> Any:
    completed = factory.check_options(size, dict(options))
    return factory.build(Weights.parse("none"), size, **completed)
