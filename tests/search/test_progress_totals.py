"""Progress totals are the runs that will really be trained or reused, and failures that would
repeat are not retried: compare and retries, on fake problems that train instantly."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from rich.console import Console

from blockbench.components.partition import quarter_of
from blockbench.components.policy import (
    Budget,
    Policy,
    PolicyResult,
    SearchSpace,
    best_on_validation,
)
from blockbench.core.records import RunRecord
from blockbench.plugin import manager
from blockbench.plugin.registry import Components
from blockbench.search.compare import PolicyRequest, run_compare
from blockbench.search.evaluator import TrainingEvaluator
from blockbench.search.progress import ProgressReporter
from blockbench.store.results_dir import ResultsDir
from tests.factories import make_run, make_spec

NAN = "RunFailed: loss became NaN or infinite in epoch 3"
OOM = "ResourceExhaustedError: out of memory"


@dataclass
class FakeProblem:
    """``n_blocks`` blocks that train instantly; targets in ``fail`` fail with that error
    on their first ``fail_times`` attempts."""

    n_blocks: int = 27
    fail: dict[str, str] = field(default_factory=dict)
    fail_times: int = 10**6
    backbone: str = "mobilenet"
    dataset: str = "flowers5"
    hparams: dict = field(default_factory=lambda: {"epochs": 10})
    trained: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.partition = SimpleNamespace(strategy="uniform")
        self.data = SimpleNamespace(notes=[])

    @property
    def space(self) -> SearchSpace:
        return SearchSpace(tuple(quarter_of(i, self.n_blocks) for i in range(self.n_blocks)))

    @property
    def identity(self) -> SimpleNamespace:
        return SimpleNamespace(space=self.space, notes=(), partition="uniform",
                               full_epochs=int(self.hparams["epochs"]))

    def spec(self, target, seed, epochs=None):
        return make_spec(target, seed=seed, **({"hparams": {"epochs": epochs}} if epochs else {}))

    def train(self, spec, on_epoch=None) -> RunRecord:
        self.trained.append(spec.target)
        if spec.target in self.fail and self.trained.count(spec.target) <= self.fail_times:
            return make_run(spec, None, None, status="failed", error=self.fail[spec.target])
        return make_run(spec, 0.5 + 0.01 * len(self.trained), 0.5)


@dataclass
class FakeEngine:
    problem: FakeProblem

    def check(self, task) -> None:
        pass

    def setup(self, task) -> FakeProblem:
        return self.problem


def reporter() -> tuple[ProgressReporter, io.StringIO]:
    out = io.StringIO()
    return ProgressReporter(Console(file=out, width=80)), out


def counters(text: str) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in re.findall(r"^\[(\d+)/(\d+) ", text, re.M)]


def compare(tmp_path, problem, policies, seeds=(0,), retries=1, components=None):
    progress, out = reporter()
    results = ResultsDir(tmp_path / "out")
    try:
        run_compare([None], policies, list(seeds), components or manager.get_components(),
                    results, progress, engine=FakeEngine(problem), retries=retries)
    finally:
        results.close()
    return progress, counters(out.getvalue())


@pytest.mark.parametrize(("policies", "runs"), [
    ([PolicyRequest("last-quarter")], 9),  # 2 baselines + 7 Q4 blocks of 27, not 29
    ([PolicyRequest("random", budget=Budget(runs=3))], 5),
    ([PolicyRequest("last-block")], 3),
    ([PolicyRequest("exhaustive", budget=Budget(runs=40))], 29),  # the budget exceeds the blocks
    ([PolicyRequest("successive-halving")], 2 + 26 + 8 + 2),  # rungs of 1, 3, 10 epochs
    ([PolicyRequest("exhaustive"), PolicyRequest("last-quarter")], 2 + 27 + 7),  # 7 reused
])
def test_the_total_is_what_the_search_runs(tmp_path, policies, runs):
    progress, seen = compare(tmp_path, FakeProblem(), policies, seeds=(0, 1))
    assert seen == [(i, 2 * runs) for i in range(1, 2 * runs + 1)]
    assert (progress.done, progress.total) == (2 * runs, 2 * runs)


class DeepestQuarter(Policy):
    """The Q4 blocks, without planning them (a third-party policy may not)."""

    def search(self, space, evaluator, budget, seed) -> PolicyResult:
        observations = [evaluator.evaluate(f"block:{i}") for i in space.in_quarter(4)]
        return PolicyResult(best_on_validation(observations), observations)


def test_a_policy_that_cannot_tell_is_trued_up_when_its_search_ends(tmp_path):
    components = Components()
    components.policies.add("deepest-quarter", DeepestQuarter)
    progress, seen = compare(tmp_path, FakeProblem(), [PolicyRequest("deepest-quarter")],
                             seeds=(0, 1), components=components)
    assert seen[0] == (1, 2 * 29)  # the most its budget allows: every block
    assert seen[9] == (10, 9 + 29)  # its first search made 7: that seed's share is now exact
    assert (progress.done, progress.total) == (18, 18)


def test_a_retry_grows_the_total_when_it_happens(tmp_path):
    problem = FakeProblem(fail={"block:26": OOM}, fail_times=1)
    progress, seen = compare(tmp_path, problem, [PolicyRequest("last-block")], retries=3)
    assert problem.trained.count("block:26") == 2  # out of memory: tried again, then ok
    assert seen == [(1, 3), (2, 3), (3, 3), (4, 4)]
    assert (progress.done, progress.total, progress.failed) == (4, 4, 1)


def test_a_nan_run_is_trained_once_even_with_retries(tmp_path):
    problem = FakeProblem(fail={"block:26": NAN})
    _, seen = compare(tmp_path, problem, [PolicyRequest("last-block")], retries=3)
    assert problem.trained.count("block:26") == 1
    assert seen == [(1, 3), (2, 3), (3, 3)]
    # ...and stays final for a later invocation on the same store
    again = FakeProblem(fail={"block:26": NAN})
    compare(tmp_path, again, [PolicyRequest("last-block")], retries=3)
    assert again.trained == []


@pytest.mark.parametrize(("error", "attempts"), [(NAN, 1), (OOM, 4), ("RuntimeError: boom", 4)])
def test_only_failures_a_retry_can_cure_are_retried(tmp_path, error, attempts):
    problem = FakeProblem(fail={"bl1": error})
    results = ResultsDir(tmp_path)
    progress, _ = reporter()
    record, trained = TrainingEvaluator(problem, 0, results, progress, retries=3).record("bl1")
    assert (record.ok, record.error, trained) == (False, error, True)
    assert problem.trained == ["bl1"] * attempts
    [row] = results.store.rows(status="failed")
    assert row.failures == attempts
    results.close()
