"""PolicyContract passes a good policy and each of its checks fails on a broken one."""

from __future__ import annotations

import pytest

from blockbench.testing import FakeEvaluator, PolicyContract
from blockbench.testing.fakes import landscapes, reversed_test

#: broken case -> the checks it must fail.
BROKEN = {
    "TestNotAPolicy": ["test_factory_makes_a_policy"],
    "TestAcceptsAnything": ["test_unknown_option_is_a_usage_error"],
    "TestRegisteredUnderAnotherName": ["test_registration_is_cheap_and_tensorflow_free"],
    "TestPicksOnTest": ["test_pick_is_best_on_validation"],
    "TestPicksTheLast": ["test_pick_is_best_on_validation"],
    "TestIgnoresTheBudget": ["test_budget_is_respected"],
    "TestMisplansItsRuns": ["test_planned_evaluations_are_the_evaluations_made"],
    "TestOneBlockTooMany": ["test_only_known_targets_are_evaluated"],
    "TestSortsItsObservations": ["test_observations_are_reported_in_order"],
    "TestIgnoresTheSeed": ["test_is_deterministic_for_a_fixed_seed"],
    "TestTrustsFailedRuns": ["test_failed_runs_are_never_picked"],
    # multi-seed policies, through the multi-seed fake evaluator
    "TestUsesUnofferedSeeds": ["test_budget_is_respected"],
    "TestPicksTheReference": ["test_pick_is_best_on_validation"],
    "TestStripsSeeds": ["test_observations_are_reported_in_order"],
}
GOOD = ["TestRandomOrder", "TestRandomOrderUnderEpochBudgets", "TestShortThenFull", "TestEverySeed"]


@pytest.fixture(scope="module")
def outcomes(run_cases):
    return run_cases("cases_policy.py", "not tf")


def test_every_check_is_proven_by_a_broken_case(contract_checks) -> None:
    checks, tf_checks = contract_checks(PolicyContract)
    assert {c for failing in BROKEN.values() for c in failing} == checks
    assert not tf_checks


@pytest.mark.parametrize("case", GOOD)
def test_good_policy_passes_every_check(outcomes, contract_checks, case: str) -> None:
    checks, _ = contract_checks(PolicyContract)
    got = {test: outcome for (c, test), outcome in outcomes.items() if c == case}
    assert got == dict.fromkeys(checks, "passed")


@pytest.mark.parametrize(("case", "check"),
                         [(case, check) for case, checks in BROKEN.items() for check in checks])
def test_broken_policy_fails_its_check(outcomes, case: str, check: str) -> None:
    assert outcomes[case, check] == "failed"


def test_fake_evaluator_ranks_test_opposite_to_validation() -> None:
    val = dict(zip(["a", "b", "c"], [0.5, 0.9, 0.7], strict=True))
    test = reversed_test(val)
    assert sorted(val, key=val.__getitem__) == sorted(test, key=test.__getitem__, reverse=True)
    assert sorted(test.values()) == sorted(val.values())


def test_fake_evaluator_logs_short_failed_and_unknown_runs() -> None:
    evaluator = FakeEvaluator({"block:0": 0.8, "block:1": 0.6}, {}, full_epochs=10,
                              failing=["block:1"])
    full, short = evaluator.evaluate("block:0"), evaluator.evaluate("block:0", epochs=5)
    failed, unknown = evaluator.evaluate("block:1"), evaluator.evaluate("bl2")
    assert (full.val_acc, full.epochs, full.ok) == (0.8, 10, True)
    assert short.epochs == 5 and short.val_acc == pytest.approx(0.8 * 0.8)
    assert (failed.ok, failed.val_acc, unknown.ok) == (False, None, False)
    assert evaluator.unknown == ["bl2"] and evaluator.epochs_spent == 35
    assert evaluator.log == [full, short, failed, unknown]


@pytest.mark.parametrize("n_blocks", [1, 2, 7, 27])
def test_landscapes_have_distinct_values_and_the_promised_peaks(n_blocks: int) -> None:
    profiles = landscapes(n_blocks, seed=3)
    for values in profiles.values():
        assert len(values) == n_blocks and len(set(values)) == n_blocks
    assert profiles["rising"].index(max(profiles["rising"])) == n_blocks - 1
    assert profiles["falling"].index(max(profiles["falling"])) == 0
    assert profiles["peaked"].index(max(profiles["peaked"])) == n_blocks // 2

