"""The Ray actor that trains runs: one per GPU (or per few cores), living as long as the compare.

:class:`RunWorker` is a plain class; :class:`~blockbench.search.ray_executor.RayExecutor`
makes it a Ray actor. Each actor is one worker process with one
:class:`~blockbench.train.engine.Engine`: it builds a backbone and decodes a
dataset once, on the first run of a task it gets, and reuses them (and the
engine's activation and step caches) for every later run of that task.

The actor trusts nothing it was not told: it resolves the task itself and
compares what it got with the identity the driver resolved (a dataset that
differs on this node, another Keras backend...). A run it would train
differently is returned as a failed run that says why, never trained under
the driver's hash.
"""

from __future__ import annotations

import dataclasses
import os
import platform
from collections.abc import Callable, Mapping
from typing import Any

from blockbench.components.policy import Signal
from blockbench.core.errors import UsageError
from blockbench.core.records import FAILED, RunRecord
from blockbench.core.spec import RunSpec, canonical_json
from blockbench.core.task import Task
from blockbench.plugin import manager
from blockbench.train.engine import Engine
from blockbench.train.identity import ProblemIdentity
from blockbench.train.problem import Problem


def task_key(task: Task) -> str:
    """A task's settings as one string: the key of the problems a worker keeps."""
    return canonical_json(dataclasses.asdict(task))


class RunWorker:
    """Trains runs of any task of a compare, keeping each task's problem after its first run.

    Args:
        environment: variables to set before Keras is imported (the Keras
            backend, blockbench settings, the threads a run may use).
        data_cache_dir: where decoded datasets are cached on this node (None: not).
    """

    def __init__(self, environment: Mapping[str, str], data_cache_dir: str | None) -> None:
        os.environ.update(environment)
        self.data_cache_dir = data_cache_dir
        self._engine: Engine | None = None
        self._problems: dict[str, Problem] = {}

    def where(self) -> str:
        """This worker: ``host:pid``, and its GPUs when it has some."""
        gpus = os.environ.get("CUDA_VISIBLE_DEVICES")
        return f"{platform.node()}:{os.getpid()}" + (f" (GPU {gpus})" if gpus else "")

    def pid(self) -> int:
        return os.getpid()

    def resolve(self, task: Task) -> ProblemIdentity:
        """Set the task up here (kept for its runs) and return its identity."""
        return self._problem(task).identity

    def train(self, task: Task, identity: ProblemIdentity, spec: RunSpec) -> RunRecord:
        """Train ``spec`` (a run of ``task`` as the driver resolved it: ``identity``)."""
        try:
            problem = self._problem(task)
        except Exception as exc:  # a node that cannot set the task up fails its runs, not the compare
            return self._failed(spec, f"{type(exc).__name__}: {exc}")
        mine = problem.identity
        differences = identity.differences(mine)
        if differences:
            return self._failed(spec, "WorkerMismatch: this worker resolved the task differently "
                                f"from the driver ({'; '.join(differences)}); check that every "
                                "node has the same data, weights, plugins and KERAS_BACKEND",
                                list(mine.notes))
        return problem.train(spec)

    def measure(self, task: Task, measure: Callable[..., Signal], seed: int,
                params: Mapping[str, Any]) -> Signal:
        """Measure a per-block signal of the task's problem (see :meth:`Problem.measure`)."""
        return self._problem(task).measure(measure, seed, params)

    def _problem(self, task: Task) -> Problem:
        key = task_key(task)
        if key not in self._problems:
            if self._engine is None:
                self._engine = Engine(manager.get_components(), data_cache_dir=self.data_cache_dir)
            self._problems[key] = self._engine.setup(task)
        return self._problems[key]

    def _failed(self, spec: RunSpec, error: str, notes: list[str] | None = None) -> RunRecord:
        line = f"{error} [on {self.where()}]".strip().splitlines()[0][:500]
        return RunRecord(spec=spec, status=FAILED, error=line, data_notes=notes or [])


def worker_environment(threads: int, backend: str) -> dict[str, str]:
    """What a worker sets before importing Keras: the driver's backend and settings, its threads.

    On CPU a run's arithmetic depends on how many threads split its
    reductions, so a worker computes with exactly the cores Ray gave it, and a
    serial compare given as many threads gives the same records.
    """
    env = {k: v for k, v in os.environ.items() if k.startswith("BLOCKBENCH_")}
    env["KERAS_BACKEND"] = backend
    env["TF_NUM_INTRAOP_THREADS"] = env["OMP_NUM_THREADS"] = str(threads)
    if backend == "jax" and threads == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        env["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false " \
            "intra_op_parallelism_threads=1".strip()
    return env


def check_worker_backend(identity: ProblemIdentity, backend: str) -> None:
    """Refuse a worker that trains on another Keras backend than the driver's (one line)."""
    if identity.backend != backend:
        raise UsageError(f"Ray worker {identity.worker} runs the Keras backend {identity.backend!r} "
                         f"but this compare runs {backend!r}; set KERAS_BACKEND={backend} "
                         "where the Ray nodes start")
