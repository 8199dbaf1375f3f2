"""Evaluators: what a policy calls to get a target's validation accuracy.

:class:`TrainingEvaluator` trains (or reuses a cached run); the replay
evaluator of the tabular benchmark looks runs up instead. Both count what
each policy spends through :class:`CostTracker`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from blockbench.components.policy import Observation, Signal
from blockbench.core.records import RunRecord
from blockbench.search.progress import ProgressReporter
from blockbench.store.results_dir import ResultsDir
from blockbench.train.problem import Problem


class TrainingEvaluator:
    """Evaluates targets of one problem and seed by training them, reusing completed runs.

    A run is claimed in the store before it is trained, so processes sharing a
    store never train the same run twice: a run another live process is
    training is waited for. A failed run is trained again until it has failed
    ``1 + retries`` times in all; then its failure is final. A failure that
    would repeat (the loss turned NaN: training is deterministic) is final at
    once; out of memory is retried (see :mod:`blockbench.core.failures`).
    A retry adds one run to the progress total.

    Args:
        problem: the resolved search problem.
        seed: the run seed.
        results: where records are cached and persisted.
        progress: progress display.
        retries: extra attempts for a failed run.
        poll: seconds between looks at a run another process is training.
    """

    def __init__(self, problem: Problem, seed: int, results: ResultsDir,
                 progress: ProgressReporter, retries: int = 1, poll: float = 2.0) -> None:
        self.problem, self.seed, self.results, self.progress = problem, seed, results, progress
        self.retries, self.poll = retries, poll
        self.session: dict[str, RunRecord] = {}  # includes final failures
        self.signals: dict[tuple[str, tuple[tuple[str, str], ...]], Signal] = {}
        self.on_record: Callable[[RunRecord, bool], None] | None = None

    def record(self, target: str, epochs: int | None = None) -> tuple[RunRecord, bool]:
        """The record for ``target``, and whether it was trained now (False: reused)."""
        spec = self.problem.spec(target, self.seed, epochs)
        key, label = spec.run_hash, self._label(target)
        if key in self.session:
            self.progress.reused(label, self.session[key])
            return self.session[key], False
        trained = False
        while True:
            claim = self.results.claim(spec, self.retries)
            if claim.state == "busy":  # another process trains it: wait for its record
                self.progress.run_started(f"{label} (trained by {claim.worker})", 0)
                time.sleep(self.poll)
                continue
            if claim.state != "claimed":  # done, or failed as often as allowed
                assert claim.record is not None
                record = claim.record
                if not trained:
                    self.progress.reused(label, record)
                    self.results.reused(record)
                break
            if trained:  # a retry: one run more than planned
                self.progress.add_total(1)
            self.progress.run_started(label, int(spec.hparams["epochs"]))
            try:
                record = self.problem.train(spec, on_epoch=self.progress.epoch)
            except BaseException:
                self.results.release(key)  # interrupted: the run is free for anyone
                raise
            record = self.results.finish(record)
            self.progress.run_finished(label, record)
            trained = True
            if record.ok:
                break
        self.session[key] = record
        return record, trained

    def _label(self, target: str) -> str:
        return f"{self.problem.backbone}/{self.problem.dataset} seed {self.seed} {target}"

    @property
    def full_epochs(self) -> int:
        """Epochs of a full run under this problem's protocol (what ``epochs=None`` means)."""
        return int(self.problem.hparams["epochs"])

    def signal(self, name: str, measure: Callable[..., Signal], **params: Any) -> Signal:
        """A per-block signal (see :class:`~blockbench.components.policy.Signal`) of this problem and seed."""
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
    """The :class:`~blockbench.components.policy.Evaluator` a policy sees in a real search.

    It wraps the problem's training evaluator for one policy, and counts that
    policy's runs, epochs and trained runs, and keeps their hashes.
    """

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
