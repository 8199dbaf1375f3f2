"""``compare --executor ray`` on a real local Ray instance (``ray.init(num_cpus=2)``).

The offline demo trained on two Ray workers of one core each must give the
records a serial compare with one thread gives, bit for bit (on CPU a run's
arithmetic depends on its threads, nothing else); a worker killed mid-run is
retried by Ray without losing or duplicating anything; runs already in the
store are never sent to Ray; and only the driver touches the SQLite store.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console

from blockbench.core.presets import PRESETS
from blockbench.core.validation import Source
from blockbench.plugin import manager
from blockbench.search.compare import CompareOutcome, run_compare
from blockbench.search.progress import ProgressReporter
from blockbench.search.settings import Settings
from blockbench.store.results_dir import ResultsDir
from blockbench.store.run_store import Store

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'blockbench[ray]'")
from blockbench.search.ray_executor import RayExecutor  # noqa: E402

pytestmark = [pytest.mark.tf, pytest.mark.slow, pytest.mark.ray]

#: Fields that say when, where and how fast a run trained, not what it computed.
CIRCUMSTANCES = {"created_at", "wall_seconds", "host"}


def demo_settings(seeds: int = 2) -> Settings:
    settings = Settings()
    settings.update({**PRESETS["demo"], "seeds": seeds}, Source("preset 'demo'"))
    return settings


def results_of(path: Path) -> tuple[dict[str, dict], list[dict]]:
    runs = {}
    for line in (path / "runs.jsonl").read_text().splitlines():
        record = json.loads(line)
        runs[record["run_hash"]] = {k: v for k, v in record.items() if k not in CIRCUMSTANCES}
    searches = [{k: v for k, v in json.loads(line).items() if k != "created_at"}
                for line in (path / "searches.jsonl").read_text().splitlines()]
    return runs, sorted(searches, key=lambda s: json.dumps(s, sort_keys=True))


def training_pids() -> list[int]:
    """Ray worker processes executing ``RunWorker.train`` now (Ray titles them so)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                title = Path(f"/proc/{name}/cmdline").read_bytes()
            except OSError:
                continue
            if title.startswith(b"ray::RunWorker.train"):
                found.append(int(name))
    return found


@pytest.fixture(scope="module")
def serial_demo(tmp_path_factory) -> Path:
    """The demo compared serially, in a process computing with one thread as each worker does."""
    out = tmp_path_factory.mktemp("serial") / "out"
    env = {**os.environ, "TF_NUM_INTRAOP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-m", "blockbench", "compare", "--out", str(out), "-q"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, log_to_driver=False, include_dashboard=False)
    yield
    ray.shutdown()


def compare_on_ray(out: Path, seeds: int = 2, kill: bool = False,
                   executor: RayExecutor | None = None) -> tuple[CompareOutcome, RayExecutor,
                                                                  ProgressReporter, list[int]]:
    settings = demo_settings(seeds)
    results = ResultsDir(out)
    executor = executor or RayExecutor(workers=2, cpus_per_run=1)
    progress = ProgressReporter(Console(quiet=True))
    killed: list[int] = []
    stop = threading.Event()

    def kill_one_mid_run() -> None:
        while not stop.is_set() and not killed:
            for pid in training_pids():
                time.sleep(0.3)  # well inside the run: it is training, not being sent
                if pid in training_pids():
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    break
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_mid_run, daemon=True)
    if kill:
        killer.start()
    try:
        outcome = run_compare(settings.tasks(), settings.policy_requests(), settings.seed_list(),
                              manager.get_components(), results, progress, executor=executor)
        results.export()
    finally:
        stop.set()
        progress.close()
        results.close()
    return outcome, executor, progress, killed


def test_the_demo_on_two_ray_workers_equals_the_serial_compare_bit_for_bit(
        local_ray, serial_demo, tmp_path):
    outcome, executor, progress, _ = compare_on_ray(tmp_path / "out")
    try:
        # Only the driver touches the store: the workers never even import its code.
        imported = [ray.get(actor.__ray_call__.remote(
            lambda worker: sorted(m for m in sys.modules if m.startswith(
                ("blockbench.store.run_store", "blockbench.store.database", "sqlalchemy")))))
                    for actor in executor._actors]
    finally:
        executor.close()
    assert imported and all(modules == [] for modules in imported), imported
    assert executor.dispatched == 14 and progress.trained == 14 and progress.failed == 0

    serial_runs, serial_searches = results_of(serial_demo)
    ray_runs, ray_searches = results_of(tmp_path / "out")
    assert ray_runs == serial_runs
    assert ray_searches == serial_searches
    with Store(tmp_path / "out" / "blockbench.db", create=False) as store:
        rows = store.rows()
    assert len(rows) == 14 and {r.status for r in rows} == {"ok"}
    assert {r.attempts for r in rows} == {1}

    # Runs in the store are never sent to Ray: a third seed dispatches its 7 runs only.
    again, executor, progress, _ = compare_on_ray(tmp_path / "out", seeds=3)
    executor.close()
    assert executor.dispatched == 7
    assert progress.reused_count == 14 and progress.trained == 7
    assert {r.run_hash for r in outcome.runs} < {r.run_hash for r in again.runs}


def test_a_worker_killed_mid_run_is_retried_and_nothing_is_lost_or_duplicated(
        local_ray, serial_demo, tmp_path):
    outcome, executor, progress, killed = compare_on_ray(tmp_path / "out", kill=True)
    executor.close()
    assert killed, "no worker was caught training"
    assert not any(Path(f"/proc/{pid}").exists() for pid in killed)
    assert progress.failed == 0 and progress.trained == 14
    assert executor.dispatched == 14  # Ray retried the run; the driver sent it once
    with Store(tmp_path / "out" / "blockbench.db", create=False) as store:
        rows = store.rows()
    assert len(rows) == 14 and {(r.status, r.attempts, r.failures) for r in rows} == {("ok", 1, 0)}
    assert results_of(tmp_path / "out") == results_of(serial_demo)
    assert len(outcome.runs) == 14
