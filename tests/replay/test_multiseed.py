"""Multi-seed replay: seed orders, the (target, seed) evaluator, NAME@k, expected regret, equal runs."""

from __future__ import annotations

import dataclasses

import pytest

from blockbench.components.policy import (
    Budget,
    Evaluator,
    MultiSeedEvaluator,
    Policy,
    PolicyResult,
    SearchSpace,
    evaluate_batch,
)
from blockbench.core.errors import BlockbenchError, UsageError
from blockbench.plugin.manager import get_components
from blockbench.plugin.registry import Components
from blockbench.replay.multiseed import MultiSeedReplayEvaluator, best_mean_validation, seed_order
from blockbench.replay.render import format_report
from blockbench.replay.report import build_report
from blockbench.replay.runner import PolicySpec, parse_budget, run_replay
from tests.replay_tables import one_table

# Block 2 is best on mean validation and on mean test, but at every seed another block
# wins validation (seed noise): a one-seed search never picks it.
VAL = [[0.60, 0.75, 0.74, 0.50], [0.76, 0.60, 0.74, 0.50], [0.60, 0.60, 0.74, 0.75],
       [0.60, 0.76, 0.74, 0.50]]
TEST = [[0.60, 0.70, 0.78, 0.50], [0.70, 0.60, 0.78, 0.50], [0.60, 0.60, 0.78, 0.70],
        [0.60, 0.70, 0.78, 0.50]]


class HalvingRace(Policy):
    """A small multi-seed policy: every block at two seeds, then the better half at the rest."""

    multi_seed = True

    def search(self, space: SearchSpace, evaluator: Evaluator, budget: Budget, seed: int) -> PolicyResult:
        assert isinstance(evaluator, MultiSeedEvaluator)
        seeds, alive = list(evaluator.seeds), space.targets()
        observations = []
        for i, at in enumerate(seeds):
            observations += evaluate_batch(evaluator, alive, seed=at)
            if i == 1:
                mean = {t: sum(o.val_acc for o in observations if o.target == t) / 2 for t in alive}
                alive = sorted(alive, key=lambda t: -mean[t])[: max(1, len(alive) // 2)]
        evaluator.report(f"{len(alive)} survivors")
        return PolicyResult(best_mean_validation(observations, evaluator.full_epochs), observations)


@pytest.fixture(scope="module")
def components() -> Components:
    base = get_components()
    extended = Components()
    for entry in base.policies:
        extended.policies.add(entry.name, entry.factory, description=entry.description)
    extended.policies.add("halving-race", HalvingRace, description="test race")
    return extended


@pytest.fixture(scope="module")
def table():
    return one_table(VAL, TEST)


def replay(table, components, specs, repeats=8, budget="default"):
    return run_replay([table], specs, [parse_budget(budget)], repeats, 0, components)


def test_seed_orders_start_at_the_run_seed_and_permute_the_rest() -> None:
    seeds = [3, 5, 7, 9, 11]
    orders = [seed_order(seeds, 0, r) for r in range(10)]
    assert [o[0] for o in orders] == [seeds[r % 5] for r in range(10)]
    assert all(sorted(o) == seeds for o in orders)
    assert seed_order(seeds, 0, 4) == orders[4] and len({tuple(o) for o in orders}) > 5
    assert seed_order(seeds, 1, 4) != orders[4] or seed_order(seeds, 1, 9) != orders[9]


def test_the_evaluator_serves_target_and_seed_counts_all_seeds_and_hides_test(table) -> None:
    evaluator = MultiSeedReplayEvaluator(table, [2, 0, 1, 3])
    assert isinstance(evaluator, MultiSeedEvaluator) and list(evaluator.seeds) == [2, 0, 1, 3]
    first = evaluator.evaluate("block:3")
    other = evaluator.evaluate("block:3", seed=1, epochs=5)
    assert (first.seed, first.val_acc) == (2, 0.75) and (other.seed, other.epochs) == (1, 5)
    assert (evaluator.runs, evaluator.epochs) == (2, 15) and evaluator.spent == [(1, 10), (2, 15)]
    assert not any("test" in f.name for f in dataclasses.fields(first))
    evaluator.report("a progress line")  # a no-op in replay
    with pytest.raises(BlockbenchError, match="seed 7 is not one of the seeds"):
        evaluator.evaluate("block:0", seed=7)


def test_regret_is_expected_and_over_k_seeds_finds_what_one_seed_cannot(table, components) -> None:
    specs = [PolicySpec("exhaustive", "exhaustive"), PolicySpec("exhaustive@1", "exhaustive", {}, 1),
             PolicySpec("exhaustive@all", "exhaustive", {}, "all")]
    outcome = replay(table, components, specs)
    by = {p: [r for r in outcome.repeats if r.policy == p] for p in ("exhaustive", "exhaustive@1",
                                                                       "exhaustive@all")}
    assert table.best == ("block:2", pytest.approx(0.78))
    for r in by["exhaustive"]:  # the per-seed Bopt is never block 2: expected regret > 0, seed regret 0
        assert r.pick != "block:2" and r.seed_regret == 0
        assert r.regret == pytest.approx(100 * (0.78 - table.mean_test(r.pick)))
    one = [(r.pick, r.runs, r.run_seed) for r in by["exhaustive@1"]]
    assert one == [(r.pick, r.runs, r.run_seed) for r in by["exhaustive"]]
    assert all(r.pick == "block:2" and r.regret == 0 and r.runs == 16 and r.seeds == 4
               for r in by["exhaustive@all"])


def test_a_multi_seed_policy_replays_with_its_own_spend_and_is_matched_on_runs(table, components) -> None:
    specs = [PolicySpec("halving-race", "halving-race"),
             *(PolicySpec(f"exhaustive@{k}", "exhaustive", {}, k) for k in (1, 2, 3, 4)),
             PolicySpec("last-quarter@2", "last-quarter", {}, 2), PolicySpec("last-quarter", "last-quarter")]
    outcome = replay(table, components, specs)
    race = [r for r in outcome.repeats if r.policy == "halving-race"]
    assert all(r.runs == 4 + 4 + 2 + 2 and r.multi_seed and r.pick == "block:2" for r in race)
    report = build_report([table], specs, outcome, repeats=8, seed=0, budgets=["default"],
                          command="blockbench replay")
    (entry,) = report["equal_runs"]
    assert entry["policy"] == "halving-race" and entry["runs"] == 12 and entry["regret"] == 0
    compared = {c["family"]: c for c in entry["compared"]}
    assert compared["exhaustive@k"]["policy"] == "exhaustive@3"  # 12 runs, as the race
    assert compared["last-quarter@k"]["policy"] == "last-quarter@2"
    assert compared["last-quarter"]["runs"] == 1
    assert compared["exhaustive@k"]["vs"]["better"] == 0
    assert not any(c["policy"] == "halving-race" for c in report["comparisons"])
    md = format_report(report, "markdown")
    assert "## Budget default: halving-race at equal runs (overall)" in md
    assert "| exhaustive@3 |" in md and "regret - halving-race's" in md


def test_too_few_seeds_is_not_replayed_and_multi_seed_policies_take_no_at(table, components) -> None:
    outcome = replay(table, components, [PolicySpec("exhaustive@5", "exhaustive", {}, 5)], repeats=2)
    assert outcome.repeats == [] and "at least 5 seeds; this one has 4" in outcome.unavailable[0][3]
    with pytest.raises(UsageError, match="halving-race already searches across seeds"):
        replay(table, components, [PolicySpec("halving-race@2", "halving-race", {}, 2)])
    with pytest.raises(UsageError, match="must be a positive integer or 'all'"):
        replay(table, components, [PolicySpec("exhaustive@0", "exhaustive", {}, 0)])


class RacesBL1(HalvingRace):
    """Evaluates BL1 first, as racing does."""

    def search(self, space: SearchSpace, evaluator: Evaluator, budget: Budget, seed: int) -> PolicyResult:
        evaluator.evaluate("bl1")
        return super().search(space, evaluator, budget, seed)


def test_a_table_without_the_run_a_policy_asks_for_does_not_replay_it(table, components) -> None:
    components.policies.add("races-bl1", RacesBL1, description="test race with BL1")
    outcome = replay(table, components, [PolicySpec("races-bl1", "races-bl1")], repeats=2)
    assert outcome.repeats == [] and "no run of bl1 at seed" in outcome.unavailable[0][3]
