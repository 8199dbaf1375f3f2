"""Gradient rank: its ranking, its budget and the real signal (the contract: test_contracts.py)."""

from __future__ import annotations

from typing import Any

import pytest
from blockbench_plugins.gradient_rank import SIGNAL, GradientRank, measure_gradient_norms

from blockbench.components.partition import quarter_of
from blockbench.components.policy import Budget, SearchSpace, Signal, SignalUnavailable
from blockbench.core.errors import UsageError
from blockbench.testing import FakeEvaluator


class SignalEvaluator(FakeEvaluator):
    """A fake evaluator that also serves a stored signal, as a replay table does."""

    def __init__(self, *args: Any, signal: dict[str, float] | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.stored = signal if signal is not None else {
            t: (7 * i) % 11 / 10 for i, t in enumerate(sorted(self.val_accuracies))}
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def signal(self, name: str, measure: Any, **params: Any) -> Signal:
        self.requests.append((name, params))
        return Signal(name, params, self.stored, runs=1, epochs=params["head_epochs"])


def space_of(n: int) -> SearchSpace:
    return SearchSpace(tuple(quarter_of(i, n) for i in range(n)))


def evaluator_for(space: SearchSpace, signal: dict[str, float]) -> SignalEvaluator:
    val = {t: 0.5 + 0.01 * i for i, t in enumerate(space.targets())}
    return SignalEvaluator(val, {t: 1 - v for t, v in val.items()}, signal=signal)


def test_the_top_of_the_signal_is_trained_and_the_signal_costs_one_run() -> None:
    space = space_of(8)
    signal = {f"block:{i}": v for i, v in enumerate([0.1, 0.9, 0.3, 0.8, 0.2, 0.7, 0.0, 0.4])}
    evaluator = evaluator_for(space, signal)
    result = GradientRank(head_epochs=3, batches=4).search(space, evaluator, Budget(runs=4), seed=0)
    assert [t for t, _ in evaluator.calls] == ["block:1", "block:3", "block:5"]
    assert evaluator.requests == [(SIGNAL, {"head_epochs": 3, "batches": 4})]
    assert result.pick == "block:5"  # best validation among the three
    assert result.info["signal"]["values"] == signal
    assert result.info["ranking"][:3] == ["block:1", "block:3", "block:5"]


def test_an_epoch_budget_pays_for_the_signals_epochs() -> None:
    space = space_of(8)
    evaluator = evaluator_for(space, {f"block:{i}": float(i) for i in range(8)})
    GradientRank(head_epochs=5).search(space, evaluator, Budget(epochs=40), seed=0)
    assert [t for t, _ in evaluator.calls] == ["block:7", "block:6", "block:5"]


def test_ties_go_to_the_deeper_block_and_k_caps_the_runs() -> None:
    space = space_of(6)
    evaluator = evaluator_for(space, {f"block:{i}": 1.0 for i in range(6)})
    GradientRank(k=2).search(space, evaluator, Budget(runs=6), seed=0)
    assert [t for t, _ in evaluator.calls] == ["block:5", "block:4"]


def test_an_evaluator_without_signals_is_reported_not_guessed() -> None:
    space = space_of(4)
    plain = FakeEvaluator({t: 0.5 for t in space.targets()}, {t: 0.5 for t in space.targets()})
    with pytest.raises(SignalUnavailable, match="serves no 'gradient-norm' signal"):
        GradientRank().search(space, plain, Budget(runs=3), seed=0)
    assert plain.calls == []


@pytest.mark.parametrize("options", [{"k": 0}, {"head_epochs": 0}, {"batches": "8"}])
def test_bad_options_are_usage_errors(options: dict) -> None:
    with pytest.raises(UsageError, match="of policy gradient-rank"):
        GradientRank(**options)


@pytest.mark.tf
@pytest.mark.slow
def test_the_real_signal_on_a_tiny_model_and_its_cost_in_a_search(tmp_path) -> None:
    from rich.console import Console

    from blockbench.core.task import SplitConfig, Task
    from blockbench.search.evaluator import CostTracker, TrainingEvaluator
    from blockbench.search.progress import ProgressReporter
    from blockbench.store.results_dir import ResultsDir
    from blockbench.train.engine import Engine
    from tests.engine_fixtures import components

    task = Task(backbone="tiny-net", dataset="blobs", split=SplitConfig(), partition="by-stage",
                weights="none", hparams={"epochs": 2, "batch_size": 8, "dense_units": 16})
    problem = Engine(components()).setup(task)
    signal = measure_gradient_norms(problem, 0, head_epochs=1, batches=2)
    assert sorted(signal.values) == ["block:0", "block:1"]
    assert all(v > 0 for v in signal.values.values())
    assert signal.anchor == problem.spec("block:0", 0).run_hash
    assert measure_gradient_norms(problem, 0, head_epochs=1, batches=2) == signal  # deterministic

    evaluator = TrainingEvaluator(problem, 0, ResultsDir(tmp_path), ProgressReporter(Console(quiet=True)))
    tracker = CostTracker(evaluator)
    result = GradientRank(head_epochs=1, batches=2).search(problem.space, tracker, Budget(runs=2), 0)
    assert tracker.runs == 2 and tracker.epochs == 1 + 2 and tracker.trained == 2
    assert result.pick == tracker.targets[0]
    assert result.info["signal"]["values"] == signal.values
