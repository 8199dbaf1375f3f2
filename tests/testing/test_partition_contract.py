"""PartitionContract passes a good strategy and each of its checks fails on a broken one."""

from __future__ import annotations

import pytest

from blockbench.testing import PartitionContract

#: broken case -> the check it must fail.
FAST = {
    "TestDuckHalves": "test_strategy_is_a_partition_strategy",
    "TestForgetsDefaults": "test_check_options_completes_defaults",
    "TestAcceptsAnything": "test_unknown_option_is_a_usage_error",
    "TestRegisteredUnderAnotherName": "test_registration_is_cheap_and_tensorflow_free",
}
TF = {
    "TestReturnsLayers": "test_split_returns_lists_of_layer_names",
    "TestDropsTheLastLayer": "test_groups_form_a_valid_partition",
    "TestOneBlock": "test_groups_form_a_valid_partition",
    "TestMovingCut": "test_split_is_deterministic",
    "TestFreezesLayers": "test_split_leaves_the_model_unchanged",
}


@pytest.fixture(scope="module")
def fast(run_cases):
    return run_cases("cases_partition.py", "not tf")


def test_every_check_is_proven_by_a_broken_case(contract_checks) -> None:
    checks, tf_checks = contract_checks(PartitionContract)
    assert set(FAST.values()) | set(TF.values()) == checks
    assert set(TF.values()) == tf_checks


def test_good_strategy_passes_the_fast_checks(fast, contract_checks) -> None:
    checks, tf_checks = contract_checks(PartitionContract)
    got = {test: outcome for (case, test), outcome in fast.items() if case == "TestHalves"}
    assert got == dict.fromkeys(checks - tf_checks, "passed")


@pytest.mark.parametrize(("case", "check"), sorted(FAST.items()))
def test_broken_strategy_fails_its_check(fast, case: str, check: str) -> None:
    assert fast[case, check] == "failed"


@pytest.mark.tf
def test_model_checks_pass_a_good_strategy_and_fail_broken_ones(run_cases, contract_checks) -> None:
    _, tf_checks = contract_checks(PartitionContract)
    outcomes = run_cases("cases_partition.py", "tf", ["TestHalves", *TF])
    assert {t: o for (c, t), o in outcomes.items() if c == "TestHalves"} == dict.fromkeys(
        tf_checks, "passed")
    assert {case: outcomes[case, check] for case, check in TF.items()} == dict.fromkeys(
        TF, "failed")


def test_a_strategy_written_for_the_old_names_still_passes(fast, contract_checks) -> None:
    # param_defaults/check_params and the suite's `params` keep working until the next release.
    checks, tf_checks = contract_checks(PartitionContract)
    got = {test: outcome for (case, test), outcome in fast.items() if case == "TestOldHalves"}
    assert got == dict.fromkeys(checks - tf_checks, "passed")
