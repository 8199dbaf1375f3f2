"""DatasetContract passes a good dataset and each of its checks fails on a broken one."""

from __future__ import annotations

import pytest

from blockbench.testing import DatasetContract

#: broken case -> the check it must fail.
FAST = {
    "TestDuckData": "test_factory_is_a_dataset_factory",
    "TestForgetsDefaults": "test_check_options_completes_defaults",
    "TestAcceptsAnything": "test_unknown_option_is_a_usage_error",
    "TestRegisteredUnderAnotherName": "test_registration_is_cheap_and_tensorflow_free",
    "TestOneClass": "test_load_returns_a_dataset_source",
    "TestLabelOutOfRange": "test_labels_are_in_range",
    "TestSplitsWithoutOfficialSplit": "test_splits_are_consistent",
    "TestNegativeSkipped": "test_skipped_and_notes_are_well_formed",
    "TestChangingFingerprint": "test_fingerprint_is_stable",
    "TestFloatArrays": "test_array_images_are_uint8_rgb",
    "TestMisDescribed": "test_describe_agrees_with_load",
}
TF = {"TestCorruptBytes": "test_encoded_images_decode"}


@pytest.fixture(scope="module")
def fast(run_cases):
    return run_cases("cases_dataset.py", "not tf")


def test_every_check_is_proven_by_a_broken_case(contract_checks) -> None:
    checks, tf_checks = contract_checks(DatasetContract)
    assert set(FAST.values()) | set(TF.values()) == checks
    assert set(TF.values()) == tf_checks


def test_good_dataset_passes_the_fast_checks(fast, contract_checks) -> None:
    checks, tf_checks = contract_checks(DatasetContract)
    got = {test: outcome for (case, test), outcome in fast.items() if case == "TestGoodData"}
    assert got == dict.fromkeys(checks - tf_checks, "passed")


@pytest.mark.parametrize(("case", "check"), sorted(FAST.items()))
def test_broken_dataset_fails_its_check(fast, case: str, check: str) -> None:
    assert fast[case, check] == "failed"


@pytest.mark.tf
def test_undecodable_bytes_fail_and_good_ones_pass(run_cases) -> None:
    outcomes = run_cases("cases_dataset.py", "tf", ["TestGoodData", *TF])
    assert outcomes == {("TestGoodData", "test_encoded_images_decode"): "passed",
                        **{(case, check): "failed" for case, check in TF.items()}}
