"""``compare --executor ray``: every training run is a task of a Ray actor.

The driver keeps the policies, the store and the progress display, and runs
the searches at once from threads; each run it cannot reuse from the store is
claimed there (so two drivers sharing a store still train it once) and sent
to an idle :class:`~blockbench.search.ray_worker.RunWorker` actor, preferably
one that has set its task up already. Only the driver writes the store, so a
SQLite file works whatever machines the workers are on.

Actors get one GPU each when the cluster has GPUs, else ``cpus_per_run``
cores each (and compute with that many threads), so runs never oversubscribe
a node. A worker process that dies (``kill -9``, a lost node) is restarted by
Ray and its run retried :data:`WORKER_DEATH_RETRIES` times; after that the run
is recorded as failed and the search goes on.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from blockbench.components.policy import Signal
from blockbench.core.backends import check_backend
from blockbench.core.errors import BlockbenchError, UsageError
from blockbench.core.records import FAILED, RunRecord
from blockbench.core.spec import RunSpec
from blockbench.core.task import Task
from blockbench.search.evaluator import RunCancelled, SearchProblem
from blockbench.search.executor import Executor
from blockbench.search.ray_worker import (
    RunWorker,
    check_worker_backend,
    task_key,
    worker_environment,
)
from blockbench.train.identity import ProblemIdentity
from blockbench.train.loop import EpochCallback

log = logging.getLogger(__name__)

T = TypeVar("T")
#: Times Ray retries a run whose worker process died, on a restarted worker.
WORKER_DEATH_RETRIES = 3


def import_ray() -> Any:
    """The ``ray`` module, or one line saying which extra installs it."""
    try:
        import ray
    except ImportError:
        raise UsageError("--executor ray needs Ray, which is not installed: "
                         "pip install 'blockbench[ray]'") from None
    return ray


@dataclass(frozen=True)
class RemoteProblem:
    """A task resolved on a Ray worker: its identity here, its runs trained there."""

    executor: RayExecutor
    task: Task
    identity: ProblemIdentity

    @property
    def backbone(self) -> str:
        return self.identity.backbone

    @property
    def dataset(self) -> str:
        return self.identity.dataset

    @property
    def hparams(self) -> dict[str, Any]:
        return dict(self.identity.hparams)

    def spec(self, target: str, seed: int, epochs: int | None = None) -> RunSpec:
        return self.identity.spec(target, seed, epochs)

    def train(self, spec: RunSpec, on_epoch: EpochCallback | None = None) -> RunRecord:
        """Train ``spec`` on a worker (epochs are not reported back: ``on_epoch`` is unused)."""
        return self.executor.train(self, spec)

    def measure(self, measure: Callable[..., Signal], seed: int, params: Mapping[str, Any]) -> Signal:
        return self.executor.measure(self, measure, seed, params)


class RayExecutor(Executor):
    """Trains runs on Ray actors, on this machine or a cluster.

    Args:
        address: the cluster (``auto``, ``HOST:PORT``, ``ray://HOST:PORT``); None:
            the one ``RAY_ADDRESS`` names, else a local Ray instance started now.
        workers: actors to start at most (None: one per GPU, else one per
            ``cpus_per_run`` cores of the cluster). Actors start when runs need them.
        cpus_per_run: cores (and compute threads) of each actor (None: 1 on a
            CPU cluster; on a GPU cluster, the cluster's cores per GPU).
        data_cache_dir: where workers cache decoded datasets (a path on their nodes).
    """

    parallel = True

    def __init__(self, address: str | None = None, workers: int | None = None,
                 cpus_per_run: int | None = None, data_cache_dir: str | None = None) -> None:
        ray = self._ray = import_ray()
        self.backend = check_backend()
        self._owned = not ray.is_initialized()
        if self._owned:
            check_reachable(address or os.environ.get("RAY_ADDRESS"))
            try:
                ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                where = f"--ray-address {address}" if address else "a local Ray instance"
                raise UsageError(f"cannot start or reach {where}: "
                                 f"{str(exc).strip().splitlines()[0][:300]}") from None
        nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
        gpus = int(sum(n.get("GPU", 0) for n in nodes))
        self.gpus_per_run = 1 if gpus else 0
        if cpus_per_run is None:
            # Cores per GPU of the GPU nodes: a CPU-only head node must not inflate it.
            cpus_per_run = max(1, min((int(n.get("CPU", 0) // n["GPU"]) for n in nodes
                                       if n.get("GPU", 0) >= 1), default=1))
        self.cpus_per_run = cpus_per_run
        check_fits(nodes, cpus_per_run, self.gpus_per_run)
        fit = sum(int(min(n.get("CPU", 0) // cpus_per_run,
                          n.get("GPU", 0) if gpus else float("inf"))) for n in nodes)
        self.max_workers = workers if workers is not None else max(1, fit)
        self._actor_class = ray.remote(RunWorker).options(
            num_cpus=cpus_per_run, num_gpus=self.gpus_per_run, max_restarts=-1,
            max_task_retries=WORKER_DEATH_RETRIES)
        self._environment = worker_environment(cpus_per_run, self.backend)
        self.data_cache_dir = data_cache_dir
        self._cond = threading.Condition()
        self._actors: list[Any] = []
        self._idle: list[Any] = []
        self._warm: dict[int, set[str]] = {}  # actor index -> tasks it has set up
        self._closing = False
        #: Runs sent to workers (cache hits never are).
        self.dispatched = 0

    def describe(self) -> str:
        each = "1 GPU" if self.gpus_per_run else f"{self.cpus_per_run} CPU"
        return f"Ray, up to {self.max_workers} workers of {each} each"

    # -- the executor's interface ----------------------------------------------

    def problem(self, task: Task) -> SearchProblem:
        identity: ProblemIdentity = self._call(task, lambda actor: actor.resolve.remote(task),
                                               raise_cause=True)
        check_worker_backend(identity, self.backend)
        return RemoteProblem(self, task, identity)

    def train(self, problem: RemoteProblem, spec: RunSpec) -> RunRecord:
        """Train one run on a worker; a worker's failure becomes the run's failed record."""
        with self._cond:
            self.dispatched += 1
        try:
            record: RunRecord = self._call(
                problem.task, lambda actor: actor.train.remote(problem.task, problem.identity, spec))
        except RunCancelled:
            raise
        except Exception as exc:
            line = " ".join(str(exc).split())[:400]
            return RunRecord(spec=spec, status=FAILED, error=f"{type(exc).__name__}: {line}",
                             data_notes=list(problem.identity.notes))
        return record

    def measure(self, problem: RemoteProblem, measure: Callable[..., Signal], seed: int,
                params: Mapping[str, Any]) -> Signal:
        signal: Signal = self._call(
            problem.task, lambda actor: actor.measure.remote(problem.task, measure, seed, dict(params)),
            raise_cause=True)
        return signal

    def close(self, cancel: bool = False) -> None:
        """Stop the actors (``cancel``: abandoning their runs), and Ray if this compare started it."""
        with self._cond:
            if self._closing:
                return
            self._closing = True
            actors = list(self._actors)
            self._cond.notify_all()
        for actor in actors:
            try:
                self._ray.kill(actor, no_restart=True)
            except Exception as exc:  # already gone: nothing to stop
                log.debug("could not kill a Ray worker: %s", exc)
        if self._owned and self._ray.is_initialized():
            self._ray.shutdown()

    # -- actors ------------------------------------------------------------------

    def _call(self, task: Task, submit: Callable[[Any], Any], raise_cause: bool = False) -> Any:
        """Run ``submit(actor)`` on an idle actor (one that knows ``task`` first) and wait for it."""
        key = task_key(task)
        index = self._acquire(key)
        try:
            return self._ray.get(submit(self._actors[index]))
        except self._ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if raise_cause and isinstance(cause, BlockbenchError):
                raise cause from None
            if self._closing:
                raise RunCancelled("the compare was interrupted") from None
            detail = f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)
            raise BlockbenchError(f"Ray worker failed: {detail.splitlines()[0][:400]}") from None
        except self._ray.exceptions.RayActorError as exc:
            if self._closing:
                raise RunCancelled("the compare was interrupted") from None
            raise WorkerDied(f"the Ray worker died {WORKER_DEATH_RETRIES + 1} times while "
                             f"doing this ({str(exc).strip().splitlines()[0][:200]})") from None
        finally:
            self._release(index, key)

    def _acquire(self, key: str) -> int:
        with self._cond:
            while True:
                if self._closing:
                    raise RunCancelled("the compare was interrupted")
                warm = [i for i in self._idle if key in self._warm[i]]
                if warm or self._idle:
                    index = (warm or self._idle)[0]
                    self._idle.remove(index)
                    return index
                if len(self._actors) < self.max_workers:
                    self._actors.append(self._actor_class.remote(self._environment,
                                                                 self.data_cache_dir))
                    index = len(self._actors) - 1
                    self._warm[index] = set()
                    return index
                self._cond.wait()

    def _release(self, index: int, key: str) -> None:
        with self._cond:
            self._warm[index].add(key)
            self._idle.append(index)
            self._cond.notify()

def check_fits(nodes: list[dict[str, float]], cpus: int, gpus: int) -> None:
    """Refuse a worker size no node of the cluster can hold (it would wait forever)."""
    if nodes and not any(n.get("CPU", 0) >= cpus and n.get("GPU", 0) >= gpus for n in nodes):
        able = [n for n in nodes if n.get("GPU", 0) >= gpus]
        most = max(int(n.get("CPU", 0)) for n in able or nodes)
        where = "node with a GPU" if gpus else "node"
        raise UsageError(f"--ray-cpus-per-run {cpus} is more than any Ray {where} has "
                         f"(the largest has {most} CPUs); use at most {max(most, 1)}")


def check_reachable(address: str | None, timeout: float = 10.0) -> None:
    """Refuse at once a ``HOST:PORT`` or ``ray://HOST:PORT`` nothing listens on (Ray would retry for minutes)."""
    if not address or address == "auto" or address.startswith("local"):
        return
    flag = "--ray-address" if address != os.environ.get("RAY_ADDRESS") else "RAY_ADDRESS"
    hostport = address.removeprefix("ray://").rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"{flag} {address!r} is not valid; use auto, HOST:PORT or "
                         "ray://HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise UsageError(f"cannot reach Ray at {flag} {address}: {exc.strerror or exc}; "
                         "start the cluster (ray start --head) or check the address") from None


class WorkerDied(BlockbenchError):
    """A Ray worker process died while training a run, as often as Ray retries it."""
