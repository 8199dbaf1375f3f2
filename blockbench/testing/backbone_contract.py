"""``BackboneContract``: the checks every backbone factory must pass."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import pytest

from blockbench.components.backbone import PREPROCESSING_MODES, BackboneFactory, Weights
from blockbench.core.errors import UsageError
from blockbench.testing.option_checks import (
    assert_completes_defaults,
    assert_unknown_option_is_refused,
)
from blockbench.testing.probe import check_registration
from blockbench.train.engine import build_backbone


class BackboneContract:
    """Subclass as ``class TestMyNet(BackboneContract)`` to check a backbone factory.

    Set ``factory = MyNet()`` (or override the ``backbone_factory`` fixture).
    Models are built twice per class, with random weights (``Weights.parse("none")``)
    at ``input_size`` (default: the factory's ``min_input_size``), so the suite runs
    offline. Both builds go through :func:`blockbench.train.engine.build_backbone`,
    as every run's does: Keras' session is cleared and Keras, Python and NumPy are
    seeded with 0 first, so both must give the same layer names and weights.

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

    @pytest.fixture(scope="class")
    @classmethod
    def rebuilt_backbone(cls, backbone_factory: BackboneFactory, backbone_input_size: int,
                         built_backbone: Any) -> Any:
        """A second build, made after the first, to compare with it."""
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

    def test_check_options_completes_defaults(self, backbone_factory: BackboneFactory) -> None:
        assert_completes_defaults(backbone_factory.check_options,
                                  backbone_factory.option_defaults, self.options)

    def test_unknown_option_is_a_usage_error(self, backbone_factory: BackboneFactory) -> None:
        assert_unknown_option_is_refused(backbone_factory.check_options, self.options)

    def test_too_small_input_is_a_usage_error(self, backbone_factory: BackboneFactory) -> None:
        size = backbone_factory.min_input_size - 1
        if size < 1:
            pytest.skip("min_input_size is 1: no smaller size exists")
        with pytest.raises(UsageError, match=str(size)):
            backbone_factory.check_input_size(size)

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
    def test_layer_names_are_stable_across_builds(self, built_backbone: Any,
                                                   rebuilt_backbone: Any) -> None:
        first = [layer.name for layer in built_backbone.layers]
        second = [layer.name for layer in rebuilt_backbone.layers]
        changed = [(a, b) for a, b in zip(first, second, strict=False) if a != b]
        assert first == second, (
            f"a second build names layers differently (first differences {changed[:3]}); layer "
            "names must depend only on the options (blockbench resets Keras' own name counter "
            "before each build): partitions and run hashes are keyed by layer names"
        )

    @pytest.mark.tf
    def test_initial_weights_are_identical_across_builds(self, built_backbone: Any,
                                                         rebuilt_backbone: Any) -> None:
        import keras
        import numpy as np

        first, second = built_backbone.weights, rebuilt_backbone.weights
        assert len(first) == len(second), (
            f"a second build has {len(second)} weight tensors, the first {len(first)}"
        )
        differ = [a.path for a, b in zip(first, second, strict=True)
                  if not np.array_equal(keras.ops.convert_to_numpy(a),
                                        keras.ops.convert_to_numpy(b))]
        assert not differ, (
            f"two builds with weights=none start from different weights ({len(differ)} of "
            f"{len(first)} tensors differ, first {differ[:3]}); a run's identity assumes one "
            "fixed initialisation: draw random weights from Keras initialisers or from NumPy's "
            "global generator, which blockbench seeds before each build, never from a fresh "
            "np.random.default_rng(), the clock or os.urandom"
        )


def _build(factory: BackboneFactory, size: int, options: Mapping[str, Any]) -> Any:
    factory.check_input_size(size)
    return build_backbone(factory, Weights.parse("none"), size, factory.check_options(dict(options)))
