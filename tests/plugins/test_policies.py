"""The built-in policies pass the policy contract."""

from __future__ import annotations

from blockbench_plugins.policies import Exhaustive

from blockbench.plugins import get_components
from blockbench.policy import Budget, SearchSpace
from blockbench.testing import FakeEvaluator, PolicyContract


class TestExhaustive(PolicyContract):
    factory = Exhaustive
    registered_name = "exhaustive"


def test_exhaustive_without_budget_evaluates_every_block_once() -> None:
    space = SearchSpace((1, 2, 3, 4, 4))
    val = {t: 0.5 + 0.01 * i for i, t in enumerate(space.targets())}
    evaluator = FakeEvaluator(val, val)
    result = Exhaustive().search(space, evaluator, Budget(), seed=0)
    assert [t for t, _ in evaluator.calls] == space.targets()
    assert result.pick == "block:4"


def test_exhaustive_is_registered_by_the_builtin_plugin() -> None:
    entry = get_components().policies.get("exhaustive")
    assert entry.factory is Exhaustive
    assert entry.plugin == "blockbench.policies"
