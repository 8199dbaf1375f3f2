"""Multi-seed policies in a compare: one search per table across the seeds, sharing runs with
the per-seed policies, counted exactly, recorded with its seeds, and its pick standing for
the picked target at every seed in the leaderboard."""

from __future__ import annotations

import pytest

from blockbench.components.policy import (
    Budget,
    Policy,
    PolicyResult,
    best_on_validation,
    evaluate_batch,
)
from blockbench.core.errors import BlockbenchError
from blockbench.plugin.registry import Components
from blockbench.search.compare import PolicyRequest, planned_evaluations, run_compare
from blockbench.stats.grouping import group_tables
from blockbench.store.results_dir import ResultsDir
from tests.search.test_progress_totals import FakeEngine, FakeProblem, counters, reporter


class TwoDeepestEverySeed(Policy):
    """Races the two deepest blocks and BL1 over every seed (a small multi-seed policy)."""

    multi_seed = True

    def search(self, space, evaluator, budget, seed) -> PolicyResult:
        arms = ["bl1", f"block:{space.n_blocks - 2}", f"block:{space.n_blocks - 1}"]
        observations = []
        for s in evaluator.seeds:
            round_ = evaluate_batch(evaluator, arms, seed=s)
            assert {o.seed for o in round_} == {s}
            evaluator.report(f"round at seed {s}: {len(arms)} arms")
            observations += round_
        blocks = [o for o in observations if o.target != "bl1"]
        by_target = {t: [o.val_acc for o in blocks if o.target == t] for t in arms[1:]}
        best = max(by_target, key=lambda t: sum(by_target[t]) / len(by_target[t]))
        return PolicyResult(best, observations, {"rounds": len(evaluator.seeds)})


class AskingForAnotherSeed(Policy):
    multi_seed = True

    def search(self, space, evaluator, budget, seed) -> PolicyResult:
        evaluator.evaluate("block:0", seed=99)
        return PolicyResult(None)


def components() -> Components:
    from blockbench_plugins.policies import Exhaustive

    found = Components()
    found.policies.add("exhaustive", Exhaustive)
    found.policies.add("two-deepest", TwoDeepestEverySeed)
    found.policies.add("another-seed", AskingForAnotherSeed)
    return found


def compare(tmp_path, problem, policies, seeds):
    progress, out = reporter()
    results = ResultsDir(tmp_path / "out")
    try:
        outcome = run_compare([None], policies, list(seeds), components(), results, progress,
                              engine=FakeEngine(problem))
    finally:
        results.close()
    return outcome, progress, out.getvalue()


def test_a_multi_seed_policy_searches_each_table_once_across_the_seeds(tmp_path):
    problem = FakeProblem(n_blocks=6)
    outcome, progress, text = compare(tmp_path, problem, [PolicyRequest("two-deepest")],
                                      seeds=(3, 1, 2))
    [search] = outcome.searches
    assert search.seed == 3 and search.info["seeds"] == [3, 1, 2]
    assert search.runs == 9 and len(search.run_hashes) == 9
    assert search.trained == 6  # BL1 at each seed was trained as a baseline first
    assert sorted(problem.trained) == sorted(["bl1", "bl2", "block:4", "block:5"] * 3)
    assert "round at seed 1: 3 arms" in text
    assert (progress.done, progress.total) == (15, 15)  # 6 baselines + 9 evaluations
    # planned: the most it may run (every block and BL1 at every seed), trued up when it ends
    assert counters(text)[0] == (1, 6 + 7 * 3)


def test_its_runs_are_the_per_seed_policies_runs(tmp_path):
    problem = FakeProblem(n_blocks=6)
    outcome, progress, _ = compare(tmp_path, problem,
                                   [PolicyRequest("exhaustive"), PolicyRequest("two-deepest")],
                                   seeds=(0, 1))
    assert sorted(problem.trained) == sorted(["bl1", "bl2", *[f"block:{i}" for i in range(6)]] * 2)
    racing = next(s for s in outcome.searches if s.policy == "two-deepest")
    assert racing.trained == 0 and racing.runs == 6
    exhaustive = {h for s in outcome.searches if s.policy == "exhaustive" for h in s.run_hashes}
    assert {h for h, t in zip(racing.run_hashes, racing.targets, strict=True)
            if t != "bl1"} <= exhaustive
    assert progress.done == progress.total


def test_the_leaderboard_reads_its_pick_at_every_seed_it_searched(tmp_path):
    outcome, _, _ = compare(tmp_path, FakeProblem(n_blocks=6), [PolicyRequest("two-deepest")],
                            seeds=(0, 1, 2))
    [search] = outcome.searches
    [table], notes = group_tables(outcome.runs, outcome.searches)
    picks = table.methods()["policy:two-deepest"]
    assert sorted(picks) == [0, 1, 2] and notes == []
    assert {p.target for p in picks.values()} == {search.pick}


def test_a_seed_outside_the_search_is_refused(tmp_path):
    with pytest.raises(BlockbenchError, match=r"seed 99 is not one of this search's seeds \(0, 1\)"):
        compare(tmp_path, FakeProblem(n_blocks=4), [PolicyRequest("another-seed")], seeds=(0, 1))


def test_the_planned_total_of_a_multi_seed_policy_counts_every_seed():
    space = FakeProblem(n_blocks=6).space
    policy = TwoDeepestEverySeed()
    assert planned_evaluations(policy, space, Budget(), 10, n_seeds=4) == 7 * 4
    assert planned_evaluations(policy, space, Budget(runs=10), 10, n_seeds=4) == 10
    assert planned_evaluations(TwoDeepestEverySeed(), space, Budget(), 10) == 7
    assert not best_on_validation([])


@pytest.mark.tf
@pytest.mark.slow
def test_racing_runs_end_to_end_and_shares_its_runs_with_exhaustive(tmp_path):
    from blockbench_plugins.racing import Racing

    from blockbench.core.task import SplitConfig, Task
    from blockbench.train.engine import Engine
    from tests.engine_fixtures import components as tiny_components

    found = tiny_components()
    found.policies.add("racing", Racing)
    task = Task(backbone="tiny-net", dataset="blobs", split=SplitConfig(), partition="by-stage",
                weights="none", hparams={"epochs": 1, "batch_size": 8, "dense_units": 8})
    progress, out = reporter()
    results = ResultsDir(tmp_path / "out")
    try:
        outcome = run_compare([task], [PolicyRequest("racing"), PolicyRequest("exhaustive")],
                              [0, 1, 2], found, results, progress, engine=Engine(found))
    finally:
        results.close()
    racing = next(s for s in outcome.searches if s.policy == "racing")
    assert racing.info["seeds"] == [0, 1, 2][: len(racing.info["rounds"])]
    assert racing.pick in racing.info["candidates"]
    # every run racing made is a run of the table (baselines or exhaustive): nothing extra trained
    assert racing.trained == 0 and progress.trained == 3 * 4
    assert "racing round 1 (seed 0)" in out.getvalue()
    [table], _ = group_tables(outcome.runs, outcome.searches)
    assert set(table.methods()["policy:racing"]) == set(racing.info["seeds"])
