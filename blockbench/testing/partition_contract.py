"""``PartitionContract``: the checks every partition strategy must pass."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import pytest

from blockbench.components.partition import PartitionError, PartitionStrategy, build_partition
from blockbench.core.errors import UsageError
from blockbench.testing.fakes import tiny_backbone
from blockbench.testing.probe import check_registration

UNKNOWN_PARAM = "no_such_param_xyz"


class PartitionContract:
    """Subclass as ``class TestMyCut(PartitionContract)`` to check a partition strategy.

    Set ``strategy = MyCut()`` (or override the ``partition_strategy`` fixture).
    The strategy runs on :func:`blockbench.testing.tiny_backbone` (17 layers with
    BatchNorm, a residual Add and pooling); override the ``partition_model``
    fixture to run it on a real backbone instead.

    Attributes:
        strategy: the strategy instance under test.
        params: strategy parameters to split with.
        min_blocks: fewest blocks the strategy must make on the model.
        plugin_module: the module your entry point names; None means the strategy's module.
        registered_name: the name the plugin registers the strategy under (checked if set).
    """

    strategy: ClassVar[PartitionStrategy | None] = None
    params: ClassVar[Mapping[str, Any]] = {}
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

    def test_strategy_is_a_partition_strategy(self, partition_strategy: Any) -> None:
        assert isinstance(partition_strategy, PartitionStrategy), (
            f"{partition_strategy!r} is not a blockbench.components.partition.PartitionStrategy instance"
        )

    def test_check_params_completes_defaults(self, partition_strategy: PartitionStrategy) -> None:
        defaults = dict(partition_strategy.param_defaults)
        assert partition_strategy.check_params({}) == defaults, (
            "check_params({}) must return exactly param_defaults"
        )
        completed = partition_strategy.check_params(dict(self.params))
        assert set(completed) == set(defaults) | set(self.params), (
            f"check_params returned keys {sorted(completed)}, expected {sorted(defaults)}"
        )

    def test_unknown_param_is_a_usage_error(self, partition_strategy: PartitionStrategy) -> None:
        with pytest.raises(UsageError, match=UNKNOWN_PARAM):
            partition_strategy.check_params({**self.params, UNKNOWN_PARAM: 1})

    def test_registration_is_cheap_and_tensorflow_free(self, partition_strategy: Any) -> None:
        check_registration("partition", partition_strategy, self.plugin_module,
                           self.registered_name)

    @pytest.mark.tf
    def test_split_returns_lists_of_layer_names(self, partition_strategy: PartitionStrategy,
                                                partition_model: Any,
                                                initial_model_state: Any) -> None:
        params = partition_strategy.check_params(dict(self.params))
        groups = partition_strategy.split(partition_model, **params)
        assert isinstance(groups, list | tuple), f"split() returned {type(groups)}"
        bad = [g for g in groups
               if not isinstance(g, list | tuple) or not all(isinstance(n, str) for n in g)]
        assert not bad, f"each group must be a list of layer names, got {bad[:2]}"

    @pytest.mark.tf
    def test_groups_form_a_valid_partition(self, partition_strategy: PartitionStrategy,
                                           partition_model: Any, initial_model_state: Any) -> None:
        try:
            partition = build_partition(self._name(), partition_strategy, partition_model,
                                        self.params)
        except PartitionError as exc:
            pytest.fail(f"build_partition rejected the groups: {exc}", pytrace=False)
        assert len(partition) >= self.min_blocks, (
            f"{len(partition)} block(s) on {partition_model.name}; expected >= {self.min_blocks}"
        )

    @pytest.mark.tf
    def test_split_is_deterministic(self, partition_strategy: PartitionStrategy,
                                    partition_model: Any, initial_model_state: Any) -> None:
        first = build_partition(self._name(), partition_strategy, partition_model, self.params)
        second = build_partition(self._name(), partition_strategy, partition_model, self.params)
        assert first.digest == second.digest, "two splits of the same model differ"

    @pytest.mark.tf
    def test_split_leaves_the_model_unchanged(self, partition_strategy: PartitionStrategy,
                                              partition_model: Any,
                                              initial_model_state: Any) -> None:
        partition_strategy.split(partition_model, **partition_strategy.check_params(
            dict(self.params)))
        assert _model_state(partition_model) == initial_model_state, (
            "split() changed the model (layers, trainable flags or weights); it must only read it"
        )


def _model_state(model: Any) -> list[tuple[str, bool, float]]:
    import numpy as np

    return [(layer.name, bool(layer.trainable),
             float(sum(np.asarray(w).astype("float64").sum() for w in layer.weights)))
            for layer in model.layers]
