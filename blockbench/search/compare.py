"""`compare`: BL1, BL2 and each policy's search for every (backbone, dataset, seed).

Policies searching the same (backbone, dataset, seed) share one evaluator,
so a run trained for one policy is never trained again for another; each
policy's own cost is counted as if it had run alone. A multi-seed policy
(racing) searches each (backbone, dataset) once, across the seeds, through
the same per-seed evaluators.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from blockbench.components.policy import (
    Budget,
    Policy,
    PolicyFactory,
    SearchSpace,
    check_policy_options,
    run_limit,
)
from blockbench.core.records import RunRecord, SearchRecord
from blockbench.core.task import Task
from blockbench.plugin.registry import Components, Entry
from blockbench.search.evaluator import CostTracker, SearchProblem, TrainingEvaluator
from blockbench.search.executor import Executor, LocalExecutor
from blockbench.search.multi_seed import MultiSeedTracker
from blockbench.search.progress import ProgressReporter
from blockbench.store.results_dir import ResultsDir
from blockbench.train.engine import Engine

BASELINES = ("bl1", "bl2")
T = TypeVar("T")


@dataclass(frozen=True)
class PolicyRequest:
    """A policy to run, with its options and budget."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)
    budget: Budget = field(default_factory=Budget)


@dataclass
class CompareOutcome:
    """Everything a compare produced (records also persisted under the results directory)."""

    runs: list[RunRecord] = field(default_factory=list)
    searches: list[SearchRecord] = field(default_factory=list)
    data_notes: dict[str, list[str]] = field(default_factory=dict)

    def data_summary(self) -> list[str]:
        """One line per dataset with notes: what was left out, counted, without the file lists."""
        return [f"data {label}: " + "; ".join(n.partition(": ")[0] for n in notes)
                + " (listed in the run records and the leaderboard)"
                for label, notes in self.data_notes.items()]


def dataset_label(task: Task) -> str:
    """The dataset of a task as the user named it: ``image-folder (path=...)``."""
    options = ", ".join(f"{k}={v}" for k, v in sorted(task.dataset_options.items()))
    return f"{task.dataset} ({options})" if options else task.dataset


def planned_evaluations(policy: Policy, space: SearchSpace, budget: Budget, full_epochs: int,
                        n_seeds: int = 1) -> int:
    """Evaluations (runs trained or reused) a policy's search will make, for progress totals.

    The policy's own :meth:`~blockbench.components.policy.Policy.planned_evaluations`
    when it tells; else the most its budget allows, one run per block at most
    (per seed, BL1 included, for a multi-seed policy searching ``n_seeds``
    seeds); the total is corrected when its search ends.
    """
    plan = getattr(policy, "planned_evaluations", None)
    count = plan(space, budget, full_epochs) if callable(plan) else None
    if count is None:
        most = (space.n_blocks + 1) * n_seeds if is_multi_seed(policy) else space.n_blocks
        count = min(run_limit(space, budget, full_epochs, default=most), most)
    return max(int(count), 0)


def is_multi_seed(policy: Policy) -> bool:
    """Whether ``policy`` searches across seeds (one search per table; see :class:`Policy`)."""
    return bool(getattr(policy, "multi_seed", False))


def make_policy(entry: Entry[PolicyFactory], options: Mapping[str, Any], storage: str | None) -> Policy:
    """Check a policy's options by its registered name, then instantiate it.

    A Policy subclass with a ``storage`` option it was not given gets the
    store's URL, so its Optuna study lives beside the run records (the URL
    stays out of the recorded options).
    """
    check_policy_options(entry.name, entry.factory, options)
    kwargs = dict(options)
    declared = entry.factory.option_defaults if isinstance(entry.factory, type) \
        and issubclass(entry.factory, Policy) else {}
    if storage and "storage" in declared and "storage" not in kwargs:
        kwargs["storage"] = storage
    policy: Policy = entry.factory(**kwargs)
    return policy


def run_search(problem: SearchProblem, evaluator: TrainingEvaluator | Sequence[TrainingEvaluator],
               request: PolicyRequest, components: Components, results: ResultsDir,
               study: str | None = None, in_total: bool = False) -> tuple[SearchRecord, list[RunRecord]]:
    """Run one policy on one problem; persist and return its search record and runs.

    A per-seed policy gets ``evaluator`` (one seed); a multi-seed policy gets
    the evaluators of every seed, in the order to use them, and its record
    keeps the seeds it used (``info["seeds"]``) and the first as its seed.
    The progress total gets the search's planned evaluations, unless ``in_total``
    (the caller counted them already), and is trued up to what it really made.
    """
    evaluators = [evaluator] if isinstance(evaluator, TrainingEvaluator) else list(evaluator)
    entry = components.policies.get(request.name)
    seed, progress = evaluators[0].seed, evaluators[0].progress
    policy = make_policy(entry, request.options, results.store.url)
    multi = is_multi_seed(policy)
    tracker = MultiSeedTracker.over(evaluators, reporter=progress.note) if multi \
        else CostTracker(evaluators[0])
    identity = problem.identity
    planned = planned_evaluations(policy, identity.space, request.budget, identity.full_epochs,
                                  len(evaluators))
    with progress.expecting(planned, lambda: tracker.evaluations, counted=in_total):
        result = policy.search(identity.space, tracker, request.budget, seed)
    pick_hash = None
    if result.pick is not None:
        pick_hash = problem.spec(result.pick, seed).run_hash
    info = dict(result.info)
    if isinstance(tracker, MultiSeedTracker):
        info["seeds"] = list(tracker.used)
    search = SearchRecord(
        policy=entry.name, backbone=problem.backbone, dataset=problem.dataset,
        partition=identity.partition, seed=seed, pick=result.pick,
        pick_hash=pick_hash, policy_options=dict(request.options), policy_seed=seed,
        targets=tracker.targets, run_hashes=tracker.hashes, runs=tracker.runs,
        epochs=tracker.epochs, trained=tracker.trained,
        budget={"runs": request.budget.runs, "epochs": request.budget.epochs},
        info=info,
    )
    return results.add_search(search, study), list(tracker.records.values())


def check_compare(tasks: Sequence[Task], policies: Sequence[PolicyRequest], components: Components,
                  engine: Engine | None = None) -> list[Policy]:
    """Validate every task and policy (names, options) without importing TensorFlow; the policies.

    A compare calls it before it creates its results directory, so bad input leaves nothing behind.
    """
    engine = engine or Engine(components)
    factories = {p.name: components.policies.get(p.name) for p in policies}
    for task in tasks:
        engine.check(task)
    return [make_policy(factories[r.name], r.options, None) for r in policies]


def run_compare(
    tasks: Sequence[Task],
    policies: Sequence[PolicyRequest],
    seeds: Sequence[int],
    components: Components,
    results: ResultsDir,
    progress: ProgressReporter,
    engine: Engine | None = None,
    retries: int = 1,
    study: str | None = None,
    executor: Executor | None = None,
) -> CompareOutcome:
    """Run the baselines and every policy on every task and seed.

    Failed runs are tried ``1 + retries`` times in all (see :class:`TrainingEvaluator`);
    search records are stored under ``study`` when given. Runs train where
    ``executor`` says (default: in this process, with ``engine``); with a
    parallel one, the tasks are resolved and the searches run at once, each
    waiting only for its own runs, and the outcome lists everything in the
    same order as a serial compare.
    """
    engine = engine or Engine(components)
    executor = executor or LocalExecutor(engine)
    checked = check_compare(tasks, policies, components, engine)
    outcome = CompareOutcome()
    stop = threading.Event()

    def stopping() -> None:  # a search failed or the user interrupted: stop the others
        stop.set()
        executor.close(cancel=True)

    problems = _in_order([partial(executor.problem, task) for task in tasks], executor.parallel,
                         stopping)
    jobs: list[Callable[[], tuple[list[RunRecord], SearchRecord | None]]] = []
    for task, problem in zip(tasks, problems, strict=True):
        identity = problem.identity
        if identity.notes:
            outcome.data_notes[dataset_label(task)] = list(identity.notes)
        full = identity.full_epochs
        per_seed = [r for p, r in zip(checked, policies, strict=True) if not is_multi_seed(p)]
        progress.add_total(sum(
            planned_evaluations(policy, identity.space, request.budget, full, len(seeds))
            * (1 if is_multi_seed(policy) else len(seeds))
            for policy, request in zip(checked, policies, strict=True))
            + len(seeds) * len(BASELINES))
        evaluators = [TrainingEvaluator(problem, seed, results, progress, retries=retries,
                                        parallel=executor.parallel, stop=stop) for seed in seeds]
        for evaluator in evaluators:
            jobs.append(partial(_baselines, evaluator))
            jobs += [partial(_search, problem, evaluator, request, components, results, study)
                     for request in per_seed]
        jobs += [partial(_search, problem, evaluators, request, components, results, study)
                 for p, request in zip(checked, policies, strict=True) if is_multi_seed(p)]
    for runs, search in _in_order(jobs, executor.parallel, stopping):
        outcome.runs.extend(runs)
        if search is not None:
            outcome.searches.append(search)
    unique = {r.run_hash: r for r in outcome.runs}
    outcome.runs = list(unique.values())
    return outcome


#: Searches a parallel compare runs at once (each waits for its own runs in a thread).
MAX_CONCURRENT_SEARCHES = 64


def _baselines(evaluator: TrainingEvaluator) -> tuple[list[RunRecord], SearchRecord | None]:
    return [record for record, _ in evaluator.records(BASELINES)], None


def _search(problem: SearchProblem, evaluator: TrainingEvaluator | list[TrainingEvaluator],
            request: PolicyRequest,
            components: Components, results: ResultsDir,
            study: str | None) -> tuple[list[RunRecord], SearchRecord | None]:
    search, records = run_search(problem, evaluator, request, components, results, study,
                                 in_total=True)
    return records, search


def _in_order(jobs: Sequence[Callable[[], T]], parallel: bool, stopping: Callable[[], None]) -> list[T]:
    """Each job's result, in order: one after another, or at once from threads.

    In parallel, the first job to fail (or an interruption) stops the rest:
    ``stopping()`` cancels what is in flight, jobs not yet started are dropped,
    and the exception is raised once the started ones have ended (their
    claims released).
    """
    if not parallel or len(jobs) < 2:
        return [job() for job in jobs]
    pool = ThreadPoolExecutor(min(len(jobs), MAX_CONCURRENT_SEARCHES),
                              thread_name_prefix="blockbench-search")
    futures = [pool.submit(job) for job in jobs]
    try:
        wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in futures if f.done() and not f.cancelled() and f.exception()]
        if failed:
            raise failed[0].exception()  # type: ignore[misc]
        return [future.result() for future in futures]
    except BaseException:
        stopping()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=False)
