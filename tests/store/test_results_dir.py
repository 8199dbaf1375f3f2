"""ResultsDir with the evaluator: cache hits, retries of failed runs, waiting for another trainer."""

from __future__ import annotations

import io
import threading
import time
from dataclasses import dataclass, field

from rich.console import Console

from blockbench.core.records import RUNS_FILE, RunRecord, read_jsonl
from blockbench.search.evaluator import TrainingEvaluator
from blockbench.search.progress import ProgressReporter
from blockbench.store.results_dir import ResultsDir
from blockbench.store.run_store import Store
from tests.factories import make_run, make_spec


@dataclass
class FakeProblem:
    """Trains instantly; the first ``fail_first`` attempts of each target fail."""

    fail_first: int = 0
    backbone: str = "mobilenet"
    dataset: str = "flowers5"
    trained: list[str] = field(default_factory=list)

    def spec(self, target, seed, epochs=None):
        return make_spec(target, seed=seed)

    def train(self, spec, on_epoch=None) -> RunRecord:
        self.trained.append(spec.target)
        if self.trained.count(spec.target) <= self.fail_first:
            return make_run(spec, None, None, status="failed", error="ResourceExhaustedError: OOM")
        return make_run(spec, 0.7, 0.6)


def progress() -> ProgressReporter:
    return ProgressReporter(Console(file=io.StringIO()), quiet=True)


def test_a_completed_run_is_reused_across_invocations(tmp_path):
    problem = FakeProblem()
    with_results = ResultsDir(tmp_path)
    first = TrainingEvaluator(problem, 0, with_results, progress())
    assert first.record("block:1")[1] is True
    with_results.close()
    again = ResultsDir(tmp_path)
    record, trained = TrainingEvaluator(problem, 0, again, progress()).record("block:1")
    assert (trained, record.val_acc, problem.trained) == (False, 0.7, ["block:1"])
    again.close()


def test_a_failed_run_is_retried_then_recorded_as_failed_and_others_go_on(tmp_path):
    problem = FakeProblem(fail_first=5)
    results = ResultsDir(tmp_path)
    evaluator = TrainingEvaluator(problem, 0, results, progress(), retries=2)
    record, _ = evaluator.record("block:2")
    assert not record.ok and "OOM" in record.error
    assert problem.trained == ["block:2"] * 3  # 1 + retries attempts
    assert TrainingEvaluator(problem, 0, results, progress(), retries=2).record("block:2")[1] is False
    assert problem.trained.count("block:2") == 3  # final: a rerun does not train it again
    problem.fail_first = 0
    assert evaluator.record("block:3")[0].ok  # never blocks the others
    [row] = results.store.rows(status="failed")
    assert (row.failures, row.attempts) == (3, 3)
    exported = list(read_jsonl(tmp_path / RUNS_FILE))
    assert [r.status for r in exported] == ["failed"] * 3 + ["ok"]
    results.close()


def test_a_transient_failure_succeeds_on_retry(tmp_path):
    problem = FakeProblem(fail_first=1)
    results = ResultsDir(tmp_path)
    record, trained = TrainingEvaluator(problem, 0, results, progress(), retries=1).record("bl1")
    assert record.ok and trained and problem.trained == ["bl1", "bl1"]
    results.close()


def test_a_run_another_process_is_training_is_waited_for_not_trained_twice(tmp_path):
    problem = FakeProblem()
    results = ResultsDir(tmp_path)
    other = Store(results.store.url)
    spec = make_spec("block:0")
    assert other.claim_run(spec).state == "claimed"

    def finish_later() -> None:
        time.sleep(0.5)
        other.finish_run(make_run(spec, 0.9, 0.9))

    thread = threading.Thread(target=finish_later)
    thread.start()
    record, trained = TrainingEvaluator(problem, 0, results, progress(), poll=0.05).record("block:0")
    thread.join()
    assert (trained, record.val_acc, problem.trained) == (False, 0.9, [])
    assert [r.val_acc for r in read_jsonl(tmp_path / RUNS_FILE)] == [0.9]  # exported here too
    other.close()
    results.close()
