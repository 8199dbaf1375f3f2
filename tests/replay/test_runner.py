"""Replaying policies: known answers on synthetic tables, pairing, budgets, unavailable policies."""

from __future__ import annotations

from math import comb

import pytest

from blockbench.core.errors import UsageError
from blockbench.plugin.manager import get_components
from blockbench.replay.runner import BudgetSpec, PolicySpec, parse_budget, policy_seed, run_replay
from tests.replay_tables import one_table

# Seed 0: block 5 is Bopt; blocks 5 and 9 are within one point of it on test.
VAL = [[0.50, 0.52, 0.54, 0.56, 0.58, 0.90, 0.60, 0.62, 0.64, 0.89, 0.66, 0.68]]
TEST = [[0.50, 0.52, 0.54, 0.56, 0.58, 0.80, 0.60, 0.62, 0.64, 0.7925, 0.66, 0.68]]


def replay(table, names, budget="default", repeats=20, **options):
    specs = [PolicySpec(n, n, options.get(n, {})) for n in names]
    return run_replay([table], specs, [parse_budget(budget)], repeats, 0, get_components())


def test_exhaustive_has_zero_regret_and_reaches_bopt_where_it_is() -> None:
    table = one_table(VAL, TEST)
    outcome = replay(table, ["exhaustive"], repeats=3)
    assert [r.regret for r in outcome.repeats] == [0.0, 0.0, 0.0]
    assert {r.runs_to_bopt for r in outcome.repeats} == {6}
    assert outcome.repeats[0].trace[-1] == (12.0, 0.0)


def test_random_lands_within_one_point_as_often_as_combinatorics_say() -> None:
    table = one_table(VAL, TEST)
    k, n, good = 3, 12, 2
    expected = 1 - comb(n - good, k) / comb(n, k)  # a sample holding block 5 or 9
    outcome = replay(table, ["random"], budget=str(k), repeats=1000)
    share = sum(r.regret <= 1.0 + 1e-9 for r in outcome.repeats) / 1000
    assert share == pytest.approx(expected, abs=0.05)
    reached = sum(r.runs_to_bopt is not None for r in outcome.repeats) / 1000
    assert reached == pytest.approx(k / n, abs=0.05)


def test_policies_share_run_seeds_and_policy_seeds_repeat_by_repeat() -> None:
    table = one_table(VAL * 3, TEST * 3)
    outcome = replay(table, ["random", "optuna-tpe"], budget="q4", repeats=6)
    by_policy = {p: [r for r in outcome.repeats if r.policy == p] for p in ("random", "optuna-tpe")}
    for a, b in zip(by_policy["random"], by_policy["optuna-tpe"], strict=True):
        assert (a.repeat, a.run_seed, a.policy_seed) == (b.repeat, b.run_seed, b.policy_seed)
    assert [r.run_seed for r in by_policy["random"]] == [0, 1, 2, 0, 1, 2]
    assert policy_seed(0, 1) != policy_seed(0, 2) and policy_seed(0, 1) == policy_seed(0, 1)


def test_replay_is_deterministic_for_a_seed() -> None:
    table = one_table(VAL, TEST)
    first = replay(table, ["optuna-tpe", "successive-halving"], budget="4", repeats=5)
    second = replay(table, ["optuna-tpe", "successive-halving"], budget="4", repeats=5)
    assert [(r.pick, r.runs, r.epochs) for r in first.repeats] == \
        [(r.pick, r.runs, r.epochs) for r in second.repeats]


def test_budgets_resolve_per_table_and_cost_unit() -> None:
    table = one_table(VAL, TEST)
    assert BudgetSpec("q4").resolve(table, "runs").runs == 3
    assert BudgetSpec("all").resolve(table, "epochs").epochs == 120
    assert BudgetSpec("5").resolve(table, "runs").runs == 5
    assert BudgetSpec("default").resolve(table, "runs").runs is None
    outcome = replay(table, ["successive-halving", "last-quarter"], budget="q4", repeats=2)
    for r in outcome.repeats:
        assert r.epochs <= 30 and r.cost <= 3


@pytest.mark.parametrize("text", ["0", "-2", "half", "2.5"])
def test_a_bad_budget_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match=r"budget .* is not valid"):
        parse_budget(text)


def test_successive_halving_spends_epochs_and_picks_a_full_run() -> None:
    table = one_table(VAL, TEST)
    outcome = replay(table, ["successive-halving"], budget="3", repeats=10)
    for r in outcome.repeats:
        assert r.epochs <= 30 and r.runs > 3
        assert r.pick is not None and r.trace and r.trace[-1][0] <= 3


def test_a_policy_the_table_cannot_serve_is_reported_and_the_others_run() -> None:
    table = one_table(VAL, TEST, history=False)
    outcome = replay(table, ["successive-halving", "gradient-rank", "random"], repeats=4)
    missing = {(p, why.split(":")[0]) for _, p, _, why in outcome.unavailable}
    assert {p for p, _ in missing} == {"successive-halving", "gradient-rank"}
    assert {r.policy for r in outcome.repeats} == {"random"} and len(outcome.repeats) == 4


def test_bad_policy_options_fail_before_any_replay() -> None:
    table = one_table(VAL, TEST)
    with pytest.raises(UsageError, match="k=0 of policy random"):
        replay(table, ["random"], random={"k": 0})
