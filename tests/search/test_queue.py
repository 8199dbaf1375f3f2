"""The work queue of detached studies: planning, atomic claims, takeover of dead workers' jobs."""

from __future__ import annotations

import threading
import time

import pytest

from blockbench.components.policy import Budget, SearchSpace
from blockbench.core.errors import UnknownNameError, UsageError
from blockbench.core.task import SplitConfig, Task
from blockbench.search.compare import PolicyRequest
from blockbench.search.queue import StudyDefinition, WorkQueue, check_study_name, queue_study
from blockbench.store.run_store import Store
from blockbench.store.schema import jobs, workers
from tests.factories import make_run, make_spec

SPACE = SearchSpace((1, 2, 3, 4))


def definition(policies=("exhaustive",), seeds=(0, 1)) -> StudyDefinition:
    task = Task("tiny-net", "blobs", SplitConfig(seed=3), partition="by-stage", weights="none",
                hparams={"epochs": 1})
    return StudyDefinition([task], [PolicyRequest(p, {}, Budget()) for p in policies], list(seeds))


def spec_of(target, seed):
    return make_spec(target, seed=seed)


@pytest.fixture
def store(tmp_path):
    with Store(f"sqlite:///{tmp_path / 'q.db'}") as opened:
        yield opened


def test_definition_round_trips_through_json():
    original = definition(("exhaustive", "tpe"))
    again = StudyDefinition.from_dict(original.to_dict())
    assert again == original
    assert again.default_name() == original.default_name()


def test_the_backend_is_part_of_a_definition_but_tensorflow_keeps_the_old_text():
    tf = definition()
    assert tf.backend == "tensorflow" and "backend" not in tf.to_dict()  # names stay the same
    jax = StudyDefinition(tf.tasks, tf.policies, tf.seeds, backend="jax")
    again = StudyDefinition.from_dict(jax.to_dict())
    assert again == jax and again.backend == "jax"
    assert jax.default_name() != tf.default_name()


def test_exhaustive_queues_every_run_adaptive_only_its_search(store):
    queue = WorkQueue(store)
    summary = queue_study(queue, "s", definition(("exhaustive", "tpe")), [(SPACE, spec_of)],
                          {"exhaustive": "exhaustive", "tpe": "tpe"})
    assert (summary.runs, summary.searches, summary.cached) == (2 * 6, 2 * 2, 0)
    again = queue_study(queue, "s", definition(("exhaustive", "tpe")), [(SPACE, spec_of)],
                        {"exhaustive": "exhaustive", "tpe": "tpe"})
    assert (again.runs, again.searches) == (0, 0)  # the same detach twice queues nothing new
    assert queue.counts("s") == {"queued": 16}


def test_runs_already_done_are_not_queued(store):
    store.add(make_run(spec_of("bl1", 0), 0.5, 0.5))
    summary = queue_study(WorkQueue(store), "s", definition(seeds=(0,)), [(SPACE, spec_of)],
                          {"exhaustive": "exhaustive"})
    assert (summary.runs, summary.cached) == (5, 1)


def test_another_definition_under_an_existing_name_is_refused(store):
    queue = WorkQueue(store)
    queue.create_study("s", definition())
    with pytest.raises(UsageError, match="already exists"):
        queue.create_study("s", definition(seeds=(5,)))
    with pytest.raises(UnknownNameError, match="Did you mean 's'"):
        queue.definition("ss")
    with pytest.raises(UsageError, match="not valid"):
        check_study_name("no spaces please")


def test_concurrent_workers_claim_each_job_exactly_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'q.db'}"
    with Store(url) as setup:
        queue_study(WorkQueue(setup), "s", definition(seeds=range(8)), [(SPACE, spec_of)],
                    {"exhaustive": "exhaustive"})
    claimed: list[list[tuple[int, str]]] = [[] for _ in range(4)]

    def work(slot: int) -> None:
        with Store(url) as store:
            queue = WorkQueue(store)
            while (job := queue.claim("s")) is not None:
                claimed[slot].append((job.id, job.kind))
                queue.finish(job)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    ids = [job_id for slot in claimed for job_id, _ in slot]
    assert len(ids) == len(set(ids)) == 8 * 7  # 6 runs + 1 search per seed
    kinds = [kind for slot in claimed for _, kind in slot]
    assert kinds.count("search") == 8
    with Store(url) as store:
        assert WorkQueue(store).counts("s") == {"done": 56}


def test_a_dead_workers_job_is_taken_over_and_runs_come_before_searches(store, tmp_path):
    queue = WorkQueue(store)
    queue_study(queue, "s", definition(seeds=(0,)), [(SPACE, spec_of)], {"exhaustive": "exhaustive"})
    with store.db.transaction() as conn:  # a remote worker took the first job, then went silent
        conn.execute(workers.insert().values(worker="far:9:x", host="far", pid=9, started_at=0.0,
                                             heartbeat=time.time() - 500))
        conn.execute(jobs.update().where(jobs.c.id == 1).values(
            status="running", worker="far:9:x", updated_at=time.time() - 500))
    kinds = []
    while (job := queue.claim("s")) is not None:
        kinds.append((job.id, job.kind))
        queue.finish(job)
    assert kinds[0] == (1, "run") and kinds[-1][1] == "search" and len(kinds) == 7


def test_a_fresh_job_claim_stands_even_before_its_worker_is_seen(store):
    queue = WorkQueue(store)
    queue.create_study("s", definition())
    queue.enqueue("s", "run", "run:x", {"task": 0, "seed": 0, "target": "bl1"})
    with store.db.transaction() as conn:
        conn.execute(jobs.update().values(status="running", worker="unseen:1:x",
                                          updated_at=time.time()))
    assert queue.claim("s") is None
