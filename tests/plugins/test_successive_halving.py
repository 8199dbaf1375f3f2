"""Successive halving: the policy contract in epochs, its plans and its epoch accounting."""

from __future__ import annotations

import pytest
from blockbench_plugins.successive_halving import (
    Rung,
    SuccessiveHalving,
    cost,
    halving_counts,
    plan,
    schedule,
)

from blockbench.components.partition import quarter_of
from blockbench.components.policy import Budget, SearchSpace
from blockbench.core.errors import UsageError
from blockbench.testing import FakeEvaluator, PolicyContract


def space_of(n: int) -> SearchSpace:
    return SearchSpace(tuple(quarter_of(i, n) for i in range(n)))


def rising(space: SearchSpace, full_epochs: int = 10) -> FakeEvaluator:
    val = {t: 0.3 + 0.02 * i for i, t in enumerate(space.targets())}
    return FakeEvaluator(val, {t: 1 - v for t, v in val.items()}, full_epochs=full_epochs)


# The contract with default options runs on every built-in in test_contracts.py.
class TestSuccessiveHalvingEta2(PolicyContract):
    factory = SuccessiveHalving
    options = {"eta": 2, "min_epochs": 2}
    plugin_module = "blockbench_plugins.policies"
    registered_name = "successive-halving"


def test_schedule_divides_a_full_run_by_eta() -> None:
    assert schedule(3, 1, 10) == [1, 3, 10]
    assert schedule(2, 1, 10) == [1, 2, 5, 10]
    assert schedule(3, 4, 10) == [10]


def test_a_rung_that_eliminates_nobody_is_dropped() -> None:
    assert halving_counts(2, 3, 3) == [2, 1, 1]
    assert plan([2, 1, 1], [1, 3, 10]) == [Rung(2, 1), Rung(1, 10)]
    assert cost(plan([11, 3, 1], [1, 3, 10])) == (15, 30)


def test_epochs_spent_are_the_plan_and_fit_the_budget() -> None:
    space = space_of(27)
    evaluator = rising(space)
    result = SuccessiveHalving().search(space, evaluator, Budget(epochs=70), seed=0)
    rungs = [Rung(*r) for r in result.info["rungs"]]
    assert rungs == [Rung(26, 1), Rung(8, 3), Rung(2, 10)]
    assert evaluator.epochs_spent == cost(rungs)[1] == 70
    assert [n for _, n in evaluator.calls] == [1] * 26 + [3] * 8 + [10] * 2


def test_survivors_are_the_best_on_validation_and_the_pick_is_a_full_run() -> None:
    space = space_of(12)
    evaluator = rising(space)
    result = SuccessiveHalving().search(space, evaluator, Budget(epochs=30), seed=4)
    first = [t for t, n in evaluator.calls if n == 1]
    second = [t for t, n in evaluator.calls if n == 3]
    best_first = sorted(first, key=evaluator.val_accuracies.get, reverse=True)[:3]
    assert second == best_first
    final = [t for t, n in evaluator.calls if n == 10]
    assert final == second[:1] and result.pick == final[0]


def test_a_run_budget_buys_full_runs_worth_of_epochs() -> None:
    space = space_of(27)
    by_runs, by_epochs = rising(space), rising(space)
    SuccessiveHalving().search(space, by_runs, Budget(runs=7), seed=1)
    SuccessiveHalving().search(space, by_epochs, Budget(epochs=70), seed=1)
    assert by_runs.calls == by_epochs.calls


def test_runs_and_epochs_together_cap_both() -> None:
    space = space_of(12)
    evaluator = rising(space)
    SuccessiveHalving().search(space, evaluator, Budget(runs=5, epochs=100), seed=0)
    assert len(evaluator.calls) <= 5 and evaluator.epochs_spent <= 100


def test_spare_budget_sends_more_candidates_to_full_runs() -> None:
    space = space_of(12)
    evaluator = rising(space)
    result = SuccessiveHalving().search(space, evaluator, Budget(epochs=80), seed=0)
    assert result.info["rungs"][0] == [12, 1] and result.info["rungs"][-1][0] > 1
    assert evaluator.epochs_spent <= 80


def test_a_budget_below_one_full_run_picks_nothing() -> None:
    space = space_of(12)
    evaluator = rising(space)
    result = SuccessiveHalving().search(space, evaluator, Budget(epochs=9), seed=0)
    assert result.pick is None and evaluator.calls == []


def test_the_full_rung_uses_the_evaluators_protocol_epochs() -> None:
    space = space_of(9)
    evaluator = rising(space, full_epochs=4)
    result = SuccessiveHalving(eta=2).search(space, evaluator, Budget(epochs=16), seed=0)
    assert {n for _, n in evaluator.calls} <= {1, 2, 4}
    assert result.pick in {t for t, n in evaluator.calls if n == 4}


@pytest.mark.parametrize("options, match", [
    ({"eta": 1}, "eta=1"), ({"min_epochs": 0}, "min_epochs=0"),
    ({"min_epochs": 5, "max_epochs": 3}, "exceeds max_epochs=3"), ({"n_start": "all"}, "n_start"),
])
def test_bad_options_are_usage_errors(options: dict, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        SuccessiveHalving(**options)
