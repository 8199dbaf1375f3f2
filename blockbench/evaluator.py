"""Evaluators: what a policy calls to get a target's validation accuracy.

:class:`TrainingEvaluator` trains (or reuses a cached run); the replay
evaluator of the tabular benchmark looks runs up instead. Both count what
each policy spends through :class:`CostTracker`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from blockbench.policy import Observation, Signal
from blockbench.records import RunRecord

if TYPE_CHECKING:
    from blockbench.engine import Problem
    from blockbench.progress import ProgressReporter
    from blockbench.results import ResultsDir


class TrainingEvaluator:
    """Evaluates targets of one problem and seed by training them, reusing completed runs.

    Args:
        problem: the resolved search problem.
        seed: the run seed.
        results: where records are cached and persisted.
        progress: progress display.
    """

    def __init__(self, problem: Problem, seed: int, results: ResultsDir,
                 progress: ProgressReporter) -> None:
        self.problem, self.seed, self.results, self.progress = problem, seed, results, progress
        self.session: dict[str, RunRecord] = {}  # includes failed runs: never retried within one invocation
        self.on_record: Callable[[RunRecord, bool], None] | None = None
        self.signals: dict[tuple[str, tuple[tuple[str, str], ...]], Signal] = {}

    def record(self, target: str, epochs: int | None = None) -> tuple[RunRecord, bool]:
        """The record for ``target``, and whether it was trained now (False: reused)."""
        spec = self.problem.spec(target, self.seed, epochs)
        key = spec.run_hash
        cached = self.session.get(key) or self.results.get(key)
        if cached is not None:
            self.session[key] = cached
            self.progress.reused(self._label(target), cached)
            return cached, False
        self.progress.run_started(self._label(target), int(spec.hparams["epochs"]))
        record = self.problem.train(spec, on_epoch=self.progress.epoch)
        self.results.add(record)
        self.session[key] = record
        self.progress.run_finished(self._label(target), record)
        return record, True

    def _label(self, target: str) -> str:
        return f"{self.problem.backbone}/{self.problem.dataset} seed {self.seed} {target}"

    @property
    def full_epochs(self) -> int:
        """Epochs of a full run under this problem's protocol (what ``epochs=None`` means)."""
        return int(self.problem.hparams["epochs"])

    def signal(self, name: str, measure: Callable[..., Signal], **params: Any) -> Signal:
        """A per-block signal (see :class:`~blockbench.policy.Signal`) of this problem and seed."""
        return self.measured_signal(name, measure, **params)[0]

    def measured_signal(self, name: str, measure: Callable[..., Signal],
                        **params: Any) -> tuple[Signal, bool]:
        """The signal, and whether it was measured now (False: measured earlier in this invocation).

        ``measure(problem, seed, **params)`` does the work; it may train (e.g. a head).
        """
        key = (name, tuple(sorted((k, repr(v)) for k, v in params.items())))
        fresh = key not in self.signals
        if fresh:
            self.signals[key] = measure(self.problem, self.seed, **params)
        return self.signals[key], fresh


@dataclass
class CostTracker:
    """Wraps an evaluator for one policy: counts runs, epochs and trained runs, keeps hashes."""

    inner: TrainingEvaluator
    runs: int = 0
    epochs: int = 0
    trained: int = 0
    targets: list[str] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    records: dict[str, RunRecord] = field(default_factory=dict)

    def evaluate(self, target: str, *, epochs: int | None = None) -> Observation:
        record, trained = self.inner.record(target, epochs)
        run_epochs = int(record.spec.hparams["epochs"])
        self.runs += 1
        self.epochs += run_epochs
        self.trained += int(trained)
        self.targets.append(record.spec.target)
        self.hashes.append(record.run_hash)
        self.records[record.spec.target if epochs is None else f"{target}@{epochs}"] = record
        return Observation(record.spec.target, record.val_acc if record.ok else None,
                           run_epochs, record.ok)

    @property
    def full_epochs(self) -> int:
        return self.inner.full_epochs

    def signal(self, name: str, measure: Callable[..., Signal], **params: Any) -> Signal:
        """Measure a signal through the inner evaluator; its cost counts like a run of this policy."""
        measured, fresh = self.inner.measured_signal(name, measure, **params)
        self.runs += measured.runs
        self.epochs += measured.epochs
        self.trained += measured.runs if fresh else 0
        return measured
