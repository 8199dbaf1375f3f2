"""Optuna TPE and GP policies: the policy contract, determinism, warm start, storage."""

from __future__ import annotations

import importlib.util

import pytest
from blockbench_plugins import optuna_policies
from blockbench_plugins.optuna_policies import OptunaGP, OptunaTPE, nearest_unevaluated

from blockbench.components.partition import quarter_of
from blockbench.components.policy import Budget, SearchSpace
from blockbench.core.errors import BlockbenchError, UsageError
from blockbench.testing import FakeEvaluator, PolicyContract

HAS_TORCH = importlib.util.find_spec("torch") is not None


def space_of(n: int) -> SearchSpace:
    return SearchSpace(tuple(quarter_of(i, n) for i in range(n)))


def peaked(space: SearchSpace, peak: int) -> FakeEvaluator:
    val = {t: 0.9 - 0.02 * abs(i - peak) for i, t in enumerate(space.targets())}
    return FakeEvaluator(val, val)


# The contract with default options runs on every built-in in test_contracts.py.
class TestOptunaTPEWarmStarted(PolicyContract):
    factory = OptunaTPE
    options = {"warm_start": 2, "startup": 1}
    plugin_module = "blockbench_plugins.policies"
    registered_name = "optuna-tpe"


def test_each_trial_evaluates_a_new_block_until_the_budget_is_spent() -> None:
    space = space_of(10)
    evaluator = peaked(space, 7)
    result = OptunaTPE(startup=2).search(space, evaluator, Budget(runs=9), seed=0)
    targets = [t for t, _ in evaluator.calls]
    assert len(targets) == len(set(targets)) == 9
    assert result.pick == "block:7" or "block:7" not in targets
    assert result.info["trials"] >= 9


def test_the_budget_can_cover_the_whole_space() -> None:
    space = space_of(5)
    evaluator = peaked(space, 1)
    result = OptunaTPE().search(space, evaluator, Budget(runs=50), seed=1)
    assert sorted(t for t, _ in evaluator.calls) == space.targets()
    assert result.pick == "block:1"


def test_seeds_give_different_searches() -> None:
    space = space_of(30)
    calls = []
    for seed in (0, 1):
        evaluator = peaked(space, 20)
        OptunaTPE().search(space, evaluator, Budget(runs=6), seed=seed)
        calls.append(evaluator.calls)
    assert calls[0] != calls[1]


def test_warm_start_evaluates_evenly_spaced_prior_quarter_blocks_first() -> None:
    space = space_of(27)  # Q4 = blocks 20..26, Q2 = blocks 6..12
    evaluator = peaked(space, 3)
    OptunaTPE(warm_start=3).search(space, evaluator, Budget(runs=5), seed=0)
    assert [t for t, _ in evaluator.calls][:3] == ["block:26", "block:23", "block:20"]
    evaluator = peaked(space, 3)
    OptunaTPE(warm_start=1, prior_quarter=2).search(space, evaluator, Budget(runs=2), seed=0)
    assert evaluator.calls[0] == ("block:12", 10)


def test_nearest_unevaluated_prefers_the_deeper_block_on_a_tie() -> None:
    assert nearest_unevaluated(4, {4}, 10) == 5
    assert nearest_unevaluated(9, {9, 8}, 10) == 7
    assert nearest_unevaluated(0, {0, 1, 2}, 4) == 3


@pytest.mark.parametrize("options, match", [
    ({"startup": -1}, "startup=-1"),
    ({"warm_start": "2"}, "warm_start='2'"),
    ({"prior_quarter": 5}, "prior_quarter=5 .* use 1, 2, 3 or 4"),
    ({"storage": 3}, "storage of policy optuna-tpe must be a string"),
])
def test_bad_options_are_usage_errors(options: dict, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        OptunaTPE(**options)


def test_a_sqlite_storage_keeps_the_study_under_its_name(tmp_path) -> None:
    import optuna

    url = f"sqlite:///{tmp_path / 'studies.db'}"
    space = space_of(8)
    result = OptunaTPE(storage=url, study_name="bb-test").search(space, peaked(space, 2),
                                                                  Budget(runs=3), seed=0)
    assert result.info["study_name"] == "bb-test"
    assert len(optuna.load_study(study_name="bb-test", storage=url).trials) == result.info["trials"]
    with pytest.raises(UsageError, match="'bb-test' already exists"):
        OptunaTPE(storage=url, study_name="bb-test").search(space, peaked(space, 2),
                                                             Budget(runs=3), seed=0)


def test_a_bad_storage_url_is_one_line_without_the_password() -> None:
    space = space_of(4)
    url = "nosuchdb://user:s3cret@localhost/x"
    with pytest.raises(BlockbenchError, match="cannot open Optuna storage") as info:
        OptunaTPE(storage=url).search(space, peaked(space, 1), Budget(runs=1), seed=0)
    assert "s3cret" not in str(info.value) and "\n" not in str(info.value)
    assert "nosuchdb://user:***@localhost/x" in str(info.value)


@pytest.mark.skipif(HAS_TORCH, reason="checks the message shown when PyTorch is missing")
def test_gp_without_torch_says_what_to_install() -> None:
    with pytest.raises(BlockbenchError, match=r"optuna-gp needs PyTorch.*pip install torch"):
        OptunaGP()


def test_gp_search_plumbing_runs_its_startup_trials_without_torch(monkeypatch) -> None:
    # Until `startup` trials are done GPSampler samples at random and never touches PyTorch,
    # so the shared loop and the sampler's construction can be checked everywhere.
    monkeypatch.setattr(optuna_policies.importlib.util, "find_spec", lambda name: object())
    space = space_of(12)
    runs = []
    for _ in range(2):
        evaluator = peaked(space, 5)
        result = OptunaGP(startup=4).search(space, evaluator, Budget(runs=4), seed=7)
        runs.append(evaluator.calls)
        assert result.pick == max({t for t, _ in evaluator.calls}, key=evaluator.val_accuracies.get)
    assert runs[0] == runs[1] and len({t for t, _ in runs[0]}) == 4
