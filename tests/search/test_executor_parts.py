"""The pieces of ``compare --executor ray`` that need no Ray instance.

A thread-safe evaluator (a run two searches ask for at once trains once),
batches evaluated in parallel but recorded in order, a Ray worker that
refuses a task it resolves differently from the driver, the workers'
environment, and one-line errors for a missing Ray, a worker no node can
hold and an address nothing listens on.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field, replace
from types import SimpleNamespace

import pytest
from rich.console import Console

from blockbench.components.partition import quarter_of
from blockbench.components.policy import Observation, SearchSpace, evaluate_batch
from blockbench.core.errors import UsageError
from blockbench.core.records import RunRecord
from blockbench.search import ray_worker
from blockbench.search.evaluator import CostTracker, RunCancelled, TrainingEvaluator
from blockbench.search.progress import ProgressReporter
from blockbench.search.ray_executor import check_fits, check_reachable, import_ray
from blockbench.search.ray_worker import RunWorker, check_worker_backend, worker_environment
from blockbench.store.results_dir import ResultsDir
from blockbench.store.run_store import Store
from blockbench.train.identity import ProblemIdentity
from tests.factories import hide_module, make_run, make_spec


def identity(**changes) -> ProblemIdentity:
    base = ProblemIdentity(
        backbone="tiny-net", dataset="blobs", backbone_options={}, weights="none", input_size=32,
        preprocessing="raw", dataset_fingerprint="abc", split={"seed": 0}, partition="by-stage",
        partition_params={}, partition_digest="d1", hparams={"epochs": 10},
        space=SearchSpace(tuple(quarter_of(i, 4) for i in range(4))), backend="tensorflow")
    return replace(base, **changes)


@dataclass
class SlowProblem:
    """Trains in ``seconds``, counting what it trained, from any thread."""

    seconds: float = 0.2
    backbone: str = "tiny-net"
    dataset: str = "blobs"
    hparams: dict = field(default_factory=lambda: {"epochs": 10})
    trained: list[str] = field(default_factory=list)
    measured: list[str] = field(default_factory=list)

    @property
    def identity(self) -> ProblemIdentity:
        return identity()

    def spec(self, target, seed, epochs=None):
        return make_spec(target, seed=seed)

    def train(self, spec, on_epoch=None) -> RunRecord:
        self.trained.append(spec.target)
        time.sleep(self.seconds)
        return make_run(spec, 0.5 + 0.01 * int(spec.target.rpartition(":")[2] or 0), 0.5)

    def measure(self, measure, seed, params):
        self.measured.append(measure.__name__)
        time.sleep(self.seconds)
        return measure(self, seed, **params)


@pytest.fixture(autouse=True)
def closing():
    """Close every results directory a test opens (their claims' heartbeats stop)."""
    opened: list[ResultsDir] = []
    yield opened
    for results in opened:
        results.close()


def evaluator(tmp_path, problem, parallel=True, opened=None, **kw) -> TrainingEvaluator:
    results = ResultsDir(tmp_path / "out")
    if opened is not None:
        opened.append(results)
    return TrainingEvaluator(problem, 0, results, ProgressReporter(Console(quiet=True)),
                             parallel=parallel, **kw)


def test_a_run_two_searches_ask_for_at_once_trains_once(tmp_path, closing):
    problem = SlowProblem()
    ev = evaluator(tmp_path, problem, opened=closing)
    got: list[tuple[RunRecord, bool]] = []
    threads = [threading.Thread(target=lambda: got.append(ev.record("block:1"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert problem.trained == ["block:1"]
    assert sorted(trained for _, trained in got) == [False, False, False, True]
    assert len({record.run_hash for record, _ in got}) == 1


def test_a_signal_two_searches_ask_for_at_once_is_measured_once(tmp_path, closing):
    problem = SlowProblem()
    ev = evaluator(tmp_path, problem, opened=closing)

    def norms(problem, seed, k):
        return SimpleNamespace(values={"block:0": float(k)}, runs=1, epochs=1)

    got = []
    threads = [threading.Thread(target=lambda: got.append(ev.measured_signal("g", norms, k=3)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert problem.measured == ["norms"]
    assert sorted(fresh for _, fresh in got) == [False, False, True]


def test_a_batch_trains_at_once_and_is_recorded_as_one_by_one(tmp_path, closing):
    targets = [f"block:{i}" for i in range(4)]
    problem = SlowProblem(seconds=0.5)
    parallel = CostTracker(evaluator(tmp_path / "a", problem, opened=closing))
    started = time.perf_counter()
    observations = evaluate_batch(parallel, targets)
    elapsed = time.perf_counter() - started
    serial = CostTracker(evaluator(tmp_path / "b", SlowProblem(seconds=0.0), parallel=False,
                                   opened=closing))
    one_by_one = [serial.evaluate(t) for t in targets]
    assert observations == one_by_one
    assert (parallel.targets, parallel.hashes, parallel.runs, parallel.evaluations) == \
        (serial.targets, serial.hashes, serial.runs, serial.evaluations)
    assert elapsed < 4 * 0.5  # four half-second runs did not wait for each other
    assert sorted(problem.trained) == targets


def test_evaluate_batch_falls_back_to_evaluate_one_by_one():
    class OneByOne:
        full_epochs = 10
        asked: list[str] = []

        def evaluate(self, target, *, epochs=None):
            self.asked.append(target)
            return Observation(target, 0.5, epochs or 10, True)

    plain = OneByOne()
    got = evaluate_batch(plain, ["block:2", "block:0"], epochs=3)
    assert plain.asked == ["block:2", "block:0"] and [o.epochs for o in got] == [3, 3]


def test_a_stopped_compare_gives_up_a_run_another_process_trains(tmp_path, closing):
    problem = SlowProblem()
    stop = threading.Event()
    ev = evaluator(tmp_path, problem, stop=stop, poll=0.05, opened=closing)
    spec = problem.spec("block:2", 0)
    with Store(tmp_path / "other.db") as other:
        ev.results = ResultsDir(tmp_path / "out2", store=Store(other.url))
        closing.append(ev.results)
        assert other.claim_run(spec).state == "claimed"  # another live process trains it
        threading.Timer(0.3, stop.set).start()
        with pytest.raises(RunCancelled):
            ev.record("block:2")
    assert problem.trained == []


def test_problem_identity_makes_the_problems_run_hashes():
    ident = identity()
    spec = ident.spec("block:2", 7, epochs=3)
    assert (spec.target, spec.seed, spec.hparams["epochs"]) == ("block:2", 7, 3)
    assert spec.run_hash == ident.spec("block:2", 7, epochs=3).run_hash
    assert spec.run_hash != replace(ident, dataset_fingerprint="xyz").spec("block:2", 7, 3).run_hash
    with pytest.raises(UsageError, match=r"block 4 does not exist; this partition has blocks 0\.\.3"):
        ident.spec("block:4", 0)
    assert ident.differences(replace(ident, worker="elsewhere:1")) == []
    assert ident.differences(replace(ident, dataset_fingerprint="xyz")) == \
        ["dataset_fingerprint 'abc' vs 'xyz'"]


@pytest.mark.tf
def test_a_problems_identity_gives_the_same_hashes_as_the_problem(tmp_path):
    from blockbench.core.task import SplitConfig, Task
    from blockbench.train.engine import Engine
    from tests.engine_fixtures import components

    problem = Engine(components()).setup(Task(
        backbone="tiny-net", dataset="blobs", split=SplitConfig(), partition="by-stage",
        weights="none", hparams={"epochs": 1, "batch_size": 8, "dense_units": 8}))
    ident = problem.identity
    for target in ("bl1", "bl2", "block:0", "block:1"):
        assert ident.spec(target, 3).run_hash == problem.spec(target, 3).run_hash
    assert ident.spec("block:1", 3, epochs=2).run_hash == problem.spec("block:1", 3, 2).run_hash
    assert ident.space == problem.space and ident.notes == tuple(problem.data.notes)


class FakeResolved:
    def __init__(self, ident: ProblemIdentity) -> None:
        self.identity = ident
        self.trained: list[str] = []

    def train(self, spec):
        self.trained.append(spec.target)
        return make_run(spec, 0.9, 0.8)


def test_a_worker_refuses_a_task_it_resolves_differently_from_the_driver(monkeypatch):
    worker = RunWorker({}, None)
    local = FakeResolved(identity(dataset_fingerprint="other-data", notes=("2 images skipped",)))
    monkeypatch.setattr(worker, "_problem", lambda task: local)
    spec = identity().spec("block:1", 0)
    record = worker.train(object(), identity(), spec)
    assert not record.ok and local.trained == []
    assert record.error.startswith("WorkerMismatch: this worker resolved the task differently")
    assert "dataset_fingerprint 'abc' vs 'other-data'" in record.error
    assert record.data_notes == ["2 images skipped"]

    same = FakeResolved(identity(worker="here:1"))
    monkeypatch.setattr(worker, "_problem", lambda task: same)
    assert worker.train(object(), identity(), spec).ok and same.trained == ["block:1"]


def test_a_worker_that_cannot_set_a_task_up_fails_its_run_saying_where(monkeypatch):
    worker = RunWorker({}, None)

    def missing(task):
        raise UsageError("dataset path /data/flowers does not exist")

    monkeypatch.setattr(worker, "_problem", missing)
    record = worker.train(object(), identity(), identity().spec("bl1", 0))
    assert not record.ok
    assert record.error.startswith("UsageError: dataset path /data/flowers does not exist [on ")


def test_workers_compute_with_their_cores_on_the_drivers_backend(monkeypatch):
    monkeypatch.setenv("BLOCKBENCH_ENGINE_MODE", "uncached")
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x")
    env = worker_environment(3, "tensorflow")
    assert env["TF_NUM_INTRAOP_THREADS"] == env["OMP_NUM_THREADS"] == "3"
    assert env["KERAS_BACKEND"] == "tensorflow" and env["BLOCKBENCH_ENGINE_MODE"] == "uncached"
    assert "XLA_FLAGS" not in env
    jax = worker_environment(1, "jax")
    assert jax["XLA_FLAGS"].startswith("--xla_dump_to=/tmp/x ")
    assert "intra_op_parallelism_threads=1" in jax["XLA_FLAGS"]
    with pytest.raises(UsageError, match="runs the Keras backend 'jax' but this compare runs "
                                         "'tensorflow'; set KERAS_BACKEND=tensorflow"):
        check_worker_backend(identity(backend="jax", worker="n1:7"), "tensorflow")


def test_a_missing_ray_is_one_line_naming_the_extra(monkeypatch):
    hide_module(monkeypatch, "ray")
    with pytest.raises(UsageError) as caught:
        import_ray()
    assert str(caught.value) == ("--executor ray needs Ray, which is not installed: "
                                 "pip install 'blockbench[ray]'")


def test_a_worker_size_no_node_can_hold_is_refused():
    nodes = [{"CPU": 8.0}, {"CPU": 32.0, "GPU": 4.0}]
    check_fits(nodes, 8, 1)
    with pytest.raises(UsageError, match=r"--ray-cpus-per-run 40 is more than any Ray node with a "
                                         r"GPU has \(the largest has 32 CPUs\); use at most 32"):
        check_fits(nodes, 40, 1)
    with pytest.raises(UsageError, match=r"more than any Ray node has \(the largest has 32 CPUs\)"):
        check_fits(nodes, 33, 0)


def test_an_address_nothing_listens_on_is_refused_at_once():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends: nothing listens
    started = time.perf_counter()
    with pytest.raises(UsageError, match=rf"cannot reach Ray at --ray-address 127\.0\.0\.1:{port}"):
        check_reachable(f"127.0.0.1:{port}")
    assert time.perf_counter() - started < 5
    with pytest.raises(UsageError, match=r"--ray-address 'headnode' is not valid; use auto, "
                                         r"HOST:PORT or ray://HOST:PORT"):
        check_reachable("headnode")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        check_reachable(f"ray://127.0.0.1:{server.getsockname()[1]}")
    check_reachable("auto")
    check_reachable(None)


def test_worker_keys_tell_tasks_apart():
    from blockbench.core.task import SplitConfig, Task

    a = Task(backbone="b", dataset="d", split=SplitConfig())
    assert ray_worker.task_key(a) == ray_worker.task_key(replace(a))
    assert ray_worker.task_key(a) != ray_worker.task_key(replace(a, input_size=64))
