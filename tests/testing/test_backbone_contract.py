"""BackboneContract passes a good backbone and each of its checks fails on a broken one."""

from __future__ import annotations

import pytest

from blockbench.testing import BackboneContract

#: broken case -> the check it must fail (fast checks, no TensorFlow).
FAST = {
    "TestDuckNet": "test_factory_is_a_backbone_factory",
    "TestUnknownPreprocessing": "test_preprocessing_is_a_known_mode",
    "TestInconsistentSizes": "test_input_sizes_are_consistent",
    "TestForgetsDefaults": "test_check_options_completes_defaults",
    "TestAcceptsAnything": "test_unknown_option_is_a_usage_error",
    "TestIgnoresSize": "test_too_small_input_is_a_usage_error",
    "TestRegisteredUnderAnotherName": "test_registration_is_cheap_and_tensorflow_free",
}
#: the same for checks that build models or import TensorFlow in a child process.
HEAVY = {
    "TestKeepsTheTop": "test_builds_a_feature_extractor",
    "TestProducesNaN": "test_forward_pass_is_finite",
    "TestCountedLayerNames": "test_layer_names_are_stable_across_builds",
    "TestUnseededWeights": "test_initial_weights_are_identical_across_builds",
    "TestImportsTensorflow": "test_registration_is_cheap_and_tensorflow_free",
    "TestSlowRegistration": "test_registration_is_cheap_and_tensorflow_free",
}


@pytest.fixture(scope="module")
def fast(run_cases):
    return run_cases("cases_backbone.py", "not tf and not slow")


@pytest.fixture(scope="module")
def heavy(run_cases):
    return run_cases("cases_backbone.py", "tf or slow", ["TestGoodNet", *HEAVY])


def test_every_check_is_proven_by_a_broken_case(contract_checks) -> None:
    checks, _ = contract_checks(BackboneContract)
    assert set(FAST.values()) | set(HEAVY.values()) == checks


def test_good_backbone_passes_the_fast_checks(fast, contract_checks) -> None:
    checks, tf_checks = contract_checks(BackboneContract)
    got = {test: outcome for (case, test), outcome in fast.items() if case == "TestGoodNet"}
    assert got == dict.fromkeys(checks - tf_checks, "passed")


@pytest.mark.parametrize(("case", "check"), sorted(FAST.items()))
def test_broken_backbone_fails_its_check(fast, case: str, check: str) -> None:
    assert fast[case, check] == "failed"


@pytest.mark.tf
@pytest.mark.slow
def test_heavy_checks_pass_a_good_backbone_and_fail_broken_ones(heavy, contract_checks) -> None:
    _, tf_checks = contract_checks(BackboneContract)
    good = {test: outcome for (case, test), outcome in heavy.items() if case == "TestGoodNet"}
    assert good == dict.fromkeys(tf_checks, "passed")
    failed = {case: heavy.get((case, check)) for case, check in HEAVY.items()}
    assert failed == dict.fromkeys(HEAVY, "failed")


@pytest.mark.tf
def test_weights_that_differ_between_builds_fail_with_a_clear_message(run_cases) -> None:
    check = "test_initial_weights_are_identical_across_builds"
    outcomes = run_cases("cases_backbone.py", "tf",
                         [f"{case}::{check}" for case in ("TestGoodNet", "TestUnseededWeights")])
    assert outcomes == {("TestGoodNet", check): "passed", ("TestUnseededWeights", check): "failed"}
    message = outcomes.messages["TestUnseededWeights", check]
    assert "two builds with weights=none start from different weights" in message
    assert "top_conv" in message
