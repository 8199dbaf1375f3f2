"""Distributed searches: ``compare --detach`` queues a study, ``blockbench worker`` works it.

Workers need nothing but the storage URL and the study name: the study's
definition in the store tells them what to build. Every worker resolves the
same problems (the run identity includes the dataset's fingerprint and the
partition's digest), so a run trained by one is a cache hit for the others. They must train on
the Keras backend the study was queued under, which is part of every run's
identity: a worker on another backend refuses the study before claiming a job,
leaving the jobs to the workers that can do them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from blockbench.core.backends import check_backend
from blockbench.core.errors import UsageError
from blockbench.core.task import Task
from blockbench.plugin.registry import Components
from blockbench.search.compare import PolicyRequest, make_policy, run_search
from blockbench.search.evaluator import TrainingEvaluator
from blockbench.search.progress import ProgressReporter
from blockbench.search.queue import (
    FAILED,
    RUN_JOB,
    QueueSummary,
    StudyDefinition,
    WorkQueue,
    check_study_name,
    queue_study,
)
from blockbench.store.results_dir import ResultsDir
from blockbench.store.url import mask_secrets
from blockbench.train.engine import Engine
from blockbench.train.problem import Problem

log = logging.getLogger(__name__)


def detach_study(name: str | None, tasks: Sequence[Task], policies: Sequence[PolicyRequest],
                 seeds: Sequence[int], components: Components, results: ResultsDir,
                 retries: int = 1, engine: Engine | None = None) -> QueueSummary:
    """Validate and resolve the tasks, then queue the study's jobs (nothing is trained)."""
    engine = engine or Engine(components)
    for task in tasks:
        engine.check(task)
    canonical = {}
    for request in policies:
        entry = components.policies.get(request.name)
        make_policy(entry, request.options, None)  # options are checked before anything is queued
        canonical[request.name] = entry.name
    backend = check_backend()
    definition = StudyDefinition(list(tasks), list(policies), list(seeds), retries, backend)
    name = check_study_name(name) if name else definition.default_name()
    spaces = []
    for task in tasks:
        problem = engine.setup(task)
        spaces.append((problem.space, problem.spec))
    return queue_study(WorkQueue(results.store), name, definition, spaces, canonical)


@dataclass
class WorkerSummary:
    """What one worker did."""

    jobs: int = 0
    failed_jobs: int = 0


def run_worker(study: str, components: Components, results: ResultsDir,
               progress: ProgressReporter, poll: float = 2.0,
               max_jobs: int | None = None) -> WorkerSummary:
    """Work on ``study`` until no job is left (queued, or held by a live worker).

    Args:
        study: the study name.
        components: registries to build problems with.
        results: the store (a worker exports nowhere).
        progress: progress display.
        poll: seconds between looks at the queue when every job is taken.
        max_jobs: stop after this many jobs (None: until the study is done).

    Raises:
        UsageError: this process's Keras backend is not the study's.
    """
    queue = WorkQueue(results.store)
    definition = queue.definition(study)
    backend = check_backend()
    if backend != definition.backend:
        raise UsageError(f"study {study!r} trains on the Keras backend {definition.backend!r}, "
                         f"but this worker runs {backend!r}; start it with "
                         f"KERAS_BACKEND={definition.backend}")
    engine = Engine(components)
    problems: dict[int, Problem] = {}
    evaluators: dict[tuple[int, int], TrainingEvaluator] = {}
    summary = WorkerSummary()
    while max_jobs is None or summary.jobs < max_jobs:
        job = queue.claim(study)
        if job is None:
            counts = queue.counts(study)
            if not counts.get("queued") and not counts.get("running"):
                break
            time.sleep(poll)  # others hold the rest; stay to take over if one dies
            continue
        index, seed = int(job.payload["task"]), int(job.payload["seed"])
        try:
            if index not in problems:
                problems[index] = engine.setup(definition.tasks[index])
            key = (index, seed)
            if key not in evaluators:
                evaluators[key] = TrainingEvaluator(problems[index], seed, results, progress,
                                                    retries=definition.retries, poll=poll)
            # The progress total is this worker's share: the jobs it took, not the study's.
            if job.kind == RUN_JOB:
                with progress.expecting(1):
                    evaluators[key].record(str(job.payload["target"]))
            else:
                request = definition.policies[int(job.payload["policy"])]
                run_search(problems[index], evaluators[key], request, components, results, study)
        except (KeyboardInterrupt, SystemExit):
            queue.release(job)
            raise
        except Exception as exc:  # a broken job is recorded and the others go on
            message = mask_secrets(f"{type(exc).__name__}: {exc}".splitlines()[0][:500])
            log.debug("job %s of study %s failed", job.id, study, exc_info=True)
            queue.finish(job, FAILED, message)
            summary.failed_jobs += 1
            progress.console.print(f"job {job.id} ({job.kind}) failed: {message}",
                                   markup=False, highlight=False, soft_wrap=True)
        else:
            queue.finish(job)
        summary.jobs += 1
    return summary
