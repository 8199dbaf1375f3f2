"""The built-in run-cost policies: the policy contract, budgets, options and registration."""

from __future__ import annotations

import pytest
from blockbench_plugins.policies import (
    Exhaustive,
    LastBlock,
    LastQuarter,
    RandomBlocks,
)

from blockbench.components.partition import quarter_of
from blockbench.components.policy import Budget, SearchSpace, run_limit
from blockbench.core.errors import UsageError
from blockbench.plugin.manager import get_components
from blockbench.testing import FakeEvaluator, PolicyContract

BUILTIN = ("exhaustive", "last-quarter", "last-block", "random", "optuna-tpe", "optuna-gp",
           "successive-halving", "gradient-rank")


def space_of(n: int) -> SearchSpace:
    return SearchSpace(tuple(quarter_of(i, n) for i in range(n)))


def flat_evaluator(space: SearchSpace) -> FakeEvaluator:
    val = {t: 0.5 + 0.01 * i for i, t in enumerate(space.targets())}
    return FakeEvaluator(val, val)


# The contract with default options runs on every built-in in test_contracts.py.
class TestRandomWithK(PolicyContract):
    factory = RandomBlocks
    options = {"k": 2}
    registered_name = "random"


def test_exhaustive_without_budget_evaluates_every_block_once() -> None:
    space = SearchSpace((1, 2, 3, 4, 4))
    evaluator = flat_evaluator(space)
    result = Exhaustive().search(space, evaluator, Budget(), seed=0)
    assert [t for t, _ in evaluator.calls] == space.targets()
    assert result.pick == "block:4"


def test_last_quarter_trains_q4_deepest_first_and_truncates_from_the_top() -> None:
    space = space_of(27)  # quarters of 6, 7, 7, 7 blocks
    evaluator = flat_evaluator(space)
    LastQuarter().search(space, evaluator, Budget(), seed=0)
    assert [t for t, _ in evaluator.calls] == [f"block:{i}" for i in range(26, 19, -1)]
    short = flat_evaluator(space)
    LastQuarter().search(space, short, Budget(runs=2), seed=0)
    assert [t for t, _ in short.calls] == ["block:26", "block:25"]


def test_last_block_is_one_run_of_the_deepest_block() -> None:
    space = space_of(9)
    evaluator = flat_evaluator(space)
    result = LastBlock().search(space, evaluator, Budget(runs=5), seed=0)
    assert evaluator.calls == [("block:8", 10)] and result.pick == "block:8"
    assert LastBlock().search(space, flat_evaluator(space), Budget(runs=0), seed=0).pick is None


def test_random_draws_distinct_blocks_that_depend_on_the_seed() -> None:
    space = space_of(40)
    draws = []
    for seed in (0, 1):
        evaluator = flat_evaluator(space)
        RandomBlocks(k=6).search(space, evaluator, Budget(runs=10), seed=seed)
        targets = [t for t, _ in evaluator.calls]
        assert len(targets) == len(set(targets)) == 6
        draws.append(targets)
    assert draws[0] != draws[1]


def test_random_without_k_or_budget_costs_what_last_quarter_costs() -> None:
    space = space_of(27)
    evaluator = flat_evaluator(space)
    RandomBlocks().search(space, evaluator, Budget(), seed=3)
    assert len(evaluator.calls) == len(space.in_quarter(4)) == 7


def test_run_limit_takes_the_tighter_of_runs_and_epochs() -> None:
    space = space_of(12)
    assert run_limit(space, Budget(runs=5, epochs=30), 10) == 3
    assert run_limit(space, Budget(epochs=45), 10) == 4
    assert run_limit(space, Budget(), 10) == 3  # Q4 of 12 blocks
    assert run_limit(space, Budget(), 10, default=12) == 12


@pytest.mark.parametrize("k", [0, -1, 1.5, "3", True])
def test_random_rejects_a_bad_k_naming_it(k: object) -> None:
    with pytest.raises(UsageError, match=r"k=.* of policy random .*integer >= 1"):
        RandomBlocks(k=k)


def test_every_builtin_policy_is_registered_by_the_builtin_plugin() -> None:
    policies = get_components().policies
    for name in BUILTIN:
        entry = policies.get(name)
        assert entry.plugin == "blockbench.policies"
        assert entry.description and "\n" not in entry.description
    assert policies.get("exhaustive").factory is Exhaustive
