"""The racing policy end to end, on the multi-seed fake evaluator."""

from __future__ import annotations

from typing import Any

import pytest
from blockbench_plugins.racing import Racing

from blockbench.components.partition import quarter_of
from blockbench.components.policy import Budget, SearchSpace
from blockbench.core.errors import UsageError
from blockbench.plugin.manager import get_components
from blockbench.testing.fakes import MultiSeedFakeEvaluator, reversed_test

N_BLOCKS = 12
SPACE = SearchSpace(tuple(quarter_of(i, N_BLOCKS) for i in range(N_BLOCKS)))


def fake(means: dict[str, float], *, seeds: int = 10, noise: float = 0.004,
         **kwargs: Any) -> MultiSeedFakeEvaluator:
    return MultiSeedFakeEvaluator(means, reversed_test(means), seeds=range(seeds),
                                  seed_effect=0.02, noise=noise, rng_seed=5, **kwargs)


def flat() -> dict[str, float]:
    """Every block within 0.2 points of BL1: nothing is worth fine-tuning beyond it."""
    return {"bl1": 0.80, **{f"block:{i}": 0.80 + 0.0002 * i for i in range(N_BLOCKS)}}


def test_a_flat_profile_stops_on_futility_early() -> None:
    evaluator = fake(flat())
    result = Racing().search(SPACE, evaluator, Budget(), 0)
    exhaustive = (N_BLOCKS + 1) * len(evaluator.seeds)
    assert result.info["stopped"] == "futility"
    assert len(evaluator.calls) <= exhaustive // 2, (len(evaluator.calls), exhaustive)
    assert result.info["gain_ucb"] < 0.01 and result.info["min_gain"] == 1.0
    survivors = result.info["rounds"][-1]["survivors"]
    assert result.pick in survivors


def test_one_clearly_best_block_is_kept_to_the_end_and_picked() -> None:
    means = {**flat(), "block:4": 0.88}
    evaluator = fake(means)
    result = Racing().search(SPACE, evaluator, Budget(), 0)
    rounds = result.info["rounds"]
    assert result.pick == "block:4"
    assert all("block:4" in r["survivors"] and "block:4" not in r["eliminated"] for r in rounds)
    assert result.info["stopped"] == "one survivor"
    assert len(evaluator.calls) < (N_BLOCKS + 1) * len(evaluator.seeds)
    # BL1 runs every round, never a candidate; every observation carries its seed
    assert [o.seed for o in result.observations if o.target == "bl1"] == [r["seed"] for r in rounds]
    assert "bl1" not in result.info["candidates"] and result.info["reference"] == "bl1"


def test_info_format_and_progress_lines() -> None:
    evaluator = fake({**flat(), "block:4": 0.88})
    info = Racing().search(SPACE, evaluator, Budget(), 0).info
    assert set(info) == {"reference", "candidates", "rounds", "stopped", "gain_ucb", "min_gain"}
    assert info["candidates"] == SPACE.targets()
    first = info["rounds"][0]
    assert set(first) == {"seed", "survivors", "eliminated", "friedman_p", "leader", "gain_ucb"}
    assert first["seed"] == 0 and first["survivors"] == SPACE.targets()
    assert first["friedman_p"] is None and info["rounds"][2]["friedman_p"] is not None
    assert len(evaluator.reports) == len(info["rounds"])
    assert evaluator.reports[0].startswith("racing round 1 (seed 0): 12 raced")
    assert evaluator.reports[-1].endswith(f"; {len(evaluator.calls)} runs")


def test_candidates_from_a_first_stage_policy() -> None:
    evaluator = fake(flat())
    result = Racing(candidates="last-quarter").search(SPACE, evaluator, Budget(), 0)
    q4 = [f"block:{i}" for i in reversed(SPACE.in_quarter(4))]
    assert result.info["candidates"] == q4
    # the first stage's runs are round 1: its evaluations, then BL1, all at the first seed
    assert evaluator.seed_calls[: len(q4) + 1] == [*((t, 10, 0) for t in q4), ("bl1", 10, 0)]
    assert result.info["rounds"][0]["survivors"] == q4
    assert result.pick in q4
    limited = fake(flat())
    capped = Racing(candidates="last-quarter:2").search(SPACE, limited, Budget(), 0)
    assert capped.info["candidates"] == q4[:2]


def test_budget_max_seeds_and_failed_runs() -> None:
    evaluator = fake({**flat(), "block:4": 0.83}, failing=["block:7"])
    result = Racing(max_seeds=4, min_gain=0.0).search(SPACE, evaluator, Budget(runs=40), 0)
    assert len(evaluator.calls) <= 40
    assert result.info["stopped"] in {"budget", "one survivor"}
    assert "failed run at seed 0" in result.info["rounds"][0]["eliminated"]["block:7"]
    assert all("block:7" not in r["survivors"] for r in result.info["rounds"][1:])
    capped = fake(flat())
    info = Racing(max_seeds=3, min_gain=0.0).search(SPACE, capped, Budget(), 0).info
    assert len(info["rounds"]) == 3 and info["stopped"] == "max seeds"
    short = fake(flat())
    tight = Racing().search(SPACE, short, Budget(runs=5), 0)
    assert len(short.calls) == 5 and tight.info["candidates"] == SPACE.targets()[-4:]


def test_planned_evaluations_bound_the_race() -> None:
    assert Racing().planned_evaluations(SPACE, Budget(), 10) is None
    assert Racing().planned_evaluations(SPACE, Budget(runs=30), 10) == 30
    assert Racing(max_seeds=3).planned_evaluations(SPACE, Budget(), 10) == 39
    evaluator = fake(flat())
    Racing(max_seeds=3, min_gain=0.0).search(SPACE, evaluator, Budget(), 0)
    assert len(evaluator.calls) <= 39


def test_racing_is_registered_as_a_multi_seed_policy() -> None:
    entry = get_components().registry("policy").get("racing")
    assert entry.factory is Racing and Racing.multi_seed


@pytest.mark.parametrize(("options", "named"), [
    ({"candidates": "no-such-policy"}, "candidates"),
    ({"candidates": "last-quarter:0"}, "candidates"),
    ({"candidates": "racing"}, "candidates"),
    ({"candidates": "successive-halving"}, "candidates"),
    ({"min_seeds": 1}, "min_seeds"),
    ({"alpha": 0}, "alpha"),
    ({"alpha": 1.5}, "alpha"),
    ({"min_gain": -1}, "min_gain"),
    ({"max_seeds": 0}, "max_seeds"),
])
def test_bad_options_are_one_line_usage_errors(options: dict[str, Any], named: str) -> None:
    with pytest.raises(UsageError) as caught:
        Racing(**options)
    message = str(caught.value)
    assert "\n" not in message and f"option {named}=" in message and "racing" in message
