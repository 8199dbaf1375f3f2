"""Evaluators: what a policy calls to get a target's validation accuracy.

:class:`TrainingEvaluator` trains (or reuses a cached run); the replay
evaluator of the tabular benchmark looks runs up instead. Both count what
each policy spends through :class:`CostTracker`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from blockbench.components.policy import Observation, Signal
from blockbench.core.records import RunRecord
from blockbench.core.spec import RunSpec
from blockbench.search.progress import ProgressReporter
from blockbench.store.results_dir import ResultsDir
from blockbench.train.identity import ProblemIdentity
from blockbench.train.loop import EpochCallback

T = TypeVar("T")


class RunCancelled(Exception):
    """The compare stopped (interrupted, or another search failed) while this run was pending."""


class SearchProblem(Protocol):
    """What an evaluator needs of a resolved task: a :class:`~blockbench.train.problem.Problem`
    trains in this process; :class:`~blockbench.search.ray_executor.RemoteProblem` on a Ray worker."""

    @property
    def backbone(self) -> str: ...

    @property
    def dataset(self) -> str: ...

    @property
    def hparams(self) -> dict[str, Any]: ...

    @property
    def identity(self) -> ProblemIdentity: ...

    def spec(self, target: str, seed: int, epochs: int | None = None) -> RunSpec: ...

    def train(self, spec: RunSpec, on_epoch: EpochCallback | None = None) -> RunRecord: ...

    def measure(self, measure: Callable[..., Signal], seed: int,
                params: Mapping[str, Any]) -> Signal: ...


class TrainingEvaluator:
    """Evaluates targets of one problem and seed by training them, reusing completed runs.

    A run is claimed in the store before it is trained, so processes sharing a
    store never train the same run twice: a run another live process is
    training is waited for. A failed run is trained again until it has failed
    ``1 + retries`` times in all; then its failure is final. A failure that
    would repeat (the loss turned NaN: training is deterministic) is final at
    once; out of memory is retried (see :mod:`blockbench.core.failures`).
    A retry adds one run to the progress total.

    It is thread-safe: searches running at once (``compare --executor ray``)
    share one evaluator per problem and seed, and a run one of them is
    obtaining is waited for by the others, never trained twice.

    Args:
        problem: the resolved search problem (a :class:`~blockbench.train.problem.Problem`,
            or a stand-in that trains elsewhere: :class:`SearchProblem`).
        seed: the run seed.
        results: where records are cached and persisted.
        progress: progress display.
        retries: extra attempts for a failed run.
        poll: seconds between looks at a run another process is training.
        parallel: evaluate the targets of :meth:`records` at once (the problem
            trains elsewhere, so the driver only waits); False: one by one.
        stop: set when the compare stops: a run waited for is given up
            (:class:`RunCancelled`) instead of waited for.
    """

    def __init__(self, problem: SearchProblem, seed: int, results: ResultsDir,
                 progress: ProgressReporter, retries: int = 1, poll: float = 2.0,
                 parallel: bool = False, stop: threading.Event | None = None) -> None:
        self.problem, self.seed, self.results, self.progress = problem, seed, results, progress
        self.retries, self.poll, self.parallel = retries, poll, parallel
        self.stop = stop or threading.Event()
        self.session: dict[str, RunRecord] = {}  # includes final failures
        self.signals: dict[tuple[str, tuple[tuple[str, str], ...]], Signal] = {}
        self._lock = threading.Lock()
        self._pending: dict[Any, Future[Any]] = {}  # runs and signals being obtained

    def record(self, target: str, epochs: int | None = None) -> tuple[RunRecord, bool]:
        """The record for ``target``, and whether it was trained now (False: reused)."""
        spec = self.problem.spec(target, self.seed, epochs)
        label = self._label(target)
        trained = False

        def obtain() -> RunRecord:
            nonlocal trained
            record, trained = self._obtain(spec, label)
            return record

        record, fresh = self._once(self.session, spec.run_hash, obtain)
        if not fresh:
            self.progress.reused(label, record)
        return record, fresh and trained

    def _once(self, cache: dict[Any, T], key: Any, obtain: Callable[[], T]) -> tuple[T, bool]:
        """``cache[key]``, else what the thread obtaining it gets, else ``obtain()`` (True: now)."""
        with self._lock:
            known = cache.get(key)
            waiting = self._pending.get(key) if known is None else None
            if known is None and waiting is None:
                mine: Future[Any] = Future()
                self._pending[key] = mine
        if known is not None:
            return known, False
        if waiting is not None:
            return waiting.result(), False
        try:
            value = obtain()
        except BaseException as exc:
            with self._lock:
                del self._pending[key]
            mine.set_exception(exc)
            raise
        with self._lock:
            cache[key] = value
            del self._pending[key]
        mine.set_result(value)
        return value, True

    def records(self, targets: Sequence[str], epochs: int | None = None) -> list[tuple[RunRecord, bool]]:
        """:meth:`record` of each target, in order; at once when the evaluator is ``parallel``."""
        if not self.parallel or len(targets) < 2:
            return [self.record(t, epochs) for t in targets]
        with ThreadPoolExecutor(len(targets), thread_name_prefix="blockbench-run") as pool:
            return list(pool.map(lambda t: self.record(t, epochs), targets))

    def _obtain(self, spec: RunSpec, label: str) -> tuple[RunRecord, bool]:
        """Reuse ``spec``'s stored record, or claim it and train it (retrying failures)."""
        key, trained = spec.run_hash, False
        while True:
            claim = self.results.claim(spec, self.retries)
            if claim.state == "busy":  # another process trains it: wait for its record
                self.progress.run_started(f"{label} (trained by {claim.worker})", 0)
                if self.stop.wait(self.poll):
                    raise RunCancelled(f"{label}: the compare stopped")
                continue
            if claim.state != "claimed":  # done, or failed as often as allowed
                assert claim.record is not None
                if not trained:
                    self.progress.reused(label, claim.record)
                    self.results.reused(claim.record)
                return claim.record, trained
            if self.stop.is_set():
                self.results.release(key)
                raise RunCancelled(f"{label}: the compare stopped")
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

        ``measure(problem, seed, **params)`` does the work, where the problem
        lives (it may train, e.g. a head); searches asking at once measure it once.
        """
        key = (name, tuple(sorted((k, repr(v)) for k, v in params.items())))
        return self._once(self.signals, key, lambda: self.problem.measure(measure, self.seed, params))


@dataclass
class CostTracker:
    """The :class:`~blockbench.components.policy.Evaluator` a policy sees in a real search.

    It wraps the problem's training evaluator for one policy, and counts that
    policy's runs, epochs and trained runs, and keeps their hashes
    (``evaluations`` counts calls of :meth:`evaluate`, one per target of
    :meth:`evaluate_many`; ``runs`` adds what signals cost).
    """

    inner: TrainingEvaluator
    runs: int = 0
    evaluations: int = 0
    epochs: int = 0
    trained: int = 0
    targets: list[str] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    records: dict[str, RunRecord] = field(default_factory=dict)

    def evaluate(self, target: str, *, epochs: int | None = None) -> Observation:
        return self._count(target, epochs, *self.inner.record(target, epochs))

    def evaluate_many(self, targets: Sequence[str], *, epochs: int | None = None) -> list[Observation]:
        """:meth:`evaluate` each target; counted in order, trained at once where the host can.

        The search record is the same as evaluating them one by one.
        """
        obtained = self.inner.records(list(targets), epochs)
        return [self._count(t, epochs, record, trained)
                for t, (record, trained) in zip(targets, obtained, strict=True)]

    def _count(self, target: str, epochs: int | None, record: RunRecord, trained: bool,
               seed: int | None = None) -> Observation:
        run_epochs = int(record.spec.hparams["epochs"])
        self.runs += 1
        self.evaluations += 1
        self.epochs += run_epochs
        self.trained += int(trained)
        self.targets.append(record.spec.target)
        self.hashes.append(record.run_hash)
        self.records[record.run_hash] = record
        return Observation(record.spec.target, record.val_acc if record.ok else None,
                           run_epochs, record.ok, seed)

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
