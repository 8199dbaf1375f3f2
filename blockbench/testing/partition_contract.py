"""``PartitionContract``: the checks every partition strategy must pass."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, ClassVar

import pytest

from blockbench.components.partition import PartitionError, PartitionStrategy, build_partition
from blockbench.testing.fakes import tiny_backbone
from blockbench.testing.option_checks import (
    assert_completes_defaults,
    assert_unknown_option_is_refused,
)
from blockbench.testing.probe import check_registration


class PartitionContract:
    """Subclass as ``class TestMyCut(PartitionContract)`` to check a partition strategy.

    Set ``strategy = MyCut()`` (or override the ``partition_strategy`` fixture).
    The strategy runs on :func:`blockbench.testing.tiny_backbone` (17 layers with
    BatchNorm, a residual Add and pooling); override the ``partition_model``
    fixture to run it on a real backbone instead.

    Attributes:
        strategy: the strategy instance under test.
        options: strategy options to split with (``params``, their old name, works
            until the next release).
        min_blocks: fewest blocks the strategy must make on the model.
        plugin_module: the module your entry point names; None means the strategy's module.
        registered_name: the name the plugin registers the strategy under (checked if set).
    """

    strategy: ClassVar[PartitionStrategy | None] = None
    options: ClassVar[Mapping[str, Any]] = {}
    params: ClassVar[Mapping[str, Any] | None] = None  # deprecated name of ``options``
    min_blocks: ClassVar[int] = 2
    plugin_module: ClassVar[str | None] = None
    registered_name: ClassVar[str | None] = None

    @pytest.fixture(scope="class")
    @classmethod
    def partition_strategy(cls) -> PartitionStrategy:
        if cls.strategy is None:
            pytest.fail(f"{cls.__name__}: set `strategy = YourStrategy()` "
                        "or override the partition_strategy fixture", pytrace=False)
        return cls.strategy

    @pytest.fixture(scope="class")
    @classmethod
    def partition_model(cls) -> Any:

        return tiny_backbone()

    @pytest.fixture(scope="class")
    @classmethod
    def initial_model_state(cls, partition_model: Any) -> list[tuple[str, bool, float]]:
        """The model's state before any split (every model check requests it, so it comes first)."""
        return _model_state(partition_model)

    def _name(self) -> str:
        return self.registered_name or "under-test"

    def _options(self) -> dict[str, Any]:
        if self.params is not None:
            warnings.warn(f"{type(self).__name__}.params is deprecated: rename it options",
                          DeprecationWarning, stacklevel=2)
            return dict(self.params)
        return dict(self.options)

    def test_strategy_is_a_partition_strategy(self, partition_strategy: Any) -> None:
        assert isinstance(partition_strategy, PartitionStrategy), (
            f"{partition_strategy!r} is not a blockbench.components.partition.PartitionStrategy instance"
        )

    def test_check_options_completes_defaults(self, partition_strategy: PartitionStrategy) -> None:
        assert_completes_defaults(partition_strategy.check_options,
                                  partition_strategy.option_defaults, self._options())

    def test_unknown_option_is_a_usage_error(self, partition_strategy: PartitionStrategy) -> None:
        assert_unknown_option_is_refused(partition_strategy.check_options, self._options())

    def test_registration_is_cheap_and_tensorflow_free(self, partition_strategy: Any) -> None:
        check_registration("partition", partition_strategy, self.plugin_module,
                           self.registered_name)

    @pytest.mark.tf
    def test_split_returns_lists_of_layer_names(self, partition_strategy: PartitionStrategy,
                                                partition_model: Any,
                                                initial_model_state: Any) -> None:
        options = partition_strategy.check_options(self._options())
        groups = partition_strategy.split(partition_model, **options)
        assert isinstance(groups, list | tuple), f"split() returned {type(groups)}"
        bad = [g for g in groups
               if not isinstance(g, list | tuple) or not all(isinstance(n, str) for n in g)]
        assert not bad, f"each group must be a list of layer names, got {bad[:2]}"

    @pytest.mark.tf
    def test_groups_form_a_valid_partition(self, partition_strategy: PartitionStrategy,
                                           partition_model: Any, initial_model_state: Any) -> None:
        try:
            partition = build_partition(self._name(), partition_strategy, partition_model,
                                        self._options())
        except PartitionError as exc:
            pytest.fail(f"build_partition rejected the groups: {exc}", pytrace=False)
        assert len(partition) >= self.min_blocks, (
            f"{len(partition)} block(s) on {partition_model.name}; expected >= {self.min_blocks}"
        )

    @pytest.mark.tf
    def test_split_is_deterministic(self, partition_strategy: PartitionStrategy,
                                    partition_model: Any, initial_model_state: Any) -> None:
        first = build_partition(self._name(), partition_strategy, partition_model, self._options())
        second = build_partition(self._name(), partition_strategy, partition_model, self._options())
        assert first.digest == second.digest, "two splits of the same model differ"

    @pytest.mark.tf
    def test_split_leaves_the_model_unchanged(self, partition_strategy: PartitionStrategy,
                                              partition_model: Any,
                                              initial_model_state: Any) -> None:
        partition_strategy.split(partition_model,
                                 **partition_strategy.check_options(self._options()))
        assert _model_state(partition_model) == initial_model_state, (
            "split() changed the model (layers, trainable flags or weights); it must only read it"
        )


def _model_state(model: Any) -> list[tuple[str, bool, float]]:
    import numpy as np

    return [(layer.name, bool(layer.trainable),
             float(sum(np.asarray(w).astype("float64").sum() for w in layer.weights)))
            for layer in model.layers]
