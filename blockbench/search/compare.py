"""`compare`: BL1, BL2 and each policy's search for every (backbone, dataset, seed).

Policies searching the same (backbone, dataset, seed) share one evaluator,
so a run trained for one policy is never trained again for another; each
policy's own cost is counted as if it had run alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from blockbench.components.policy import Budget, Policy, PolicyFactory, check_policy_options
from blockbench.core.records import RunRecord, SearchRecord
from blockbench.core.task import Task
from blockbench.plugin.registry import Components, Entry
from blockbench.search.evaluator import CostTracker, TrainingEvaluator
from blockbench.search.progress import ProgressReporter
from blockbench.store.results_dir import ResultsDir
from blockbench.train.engine import Engine
from blockbench.train.problem import Problem


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


def estimate_runs(n_blocks: int, policies: Sequence[PolicyRequest]) -> int:
    """Runs one seed will need: the baselines, plus the union of what the policies ask for."""
    if any(p.name == "exhaustive" and p.budget.runs is None for p in policies):
        return 2 + n_blocks
    asked = sum(min(p.budget.runs or n_blocks, n_blocks) for p in policies)
    return 2 + min(asked, n_blocks)


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


def run_search(problem: Problem, evaluator: TrainingEvaluator, request: PolicyRequest,
               components: Components, results: ResultsDir,
               study: str | None = None) -> tuple[SearchRecord, list[RunRecord]]:
    """Run one policy on one problem and seed; persist and return its search record and runs."""
    entry = components.policies.get(request.name)
    seed = evaluator.seed
    tracker = CostTracker(evaluator)
    policy = make_policy(entry, request.options, results.store.url)
    result = policy.search(problem.space, tracker, request.budget, seed)
    pick_hash = None
    if result.pick is not None:
        pick_hash = problem.spec(result.pick, seed).run_hash
    search = SearchRecord(
        policy=entry.name, backbone=problem.backbone, dataset=problem.dataset,
        partition=problem.partition.strategy, seed=seed, pick=result.pick,
        pick_hash=pick_hash, policy_options=dict(request.options), policy_seed=seed,
        targets=tracker.targets, run_hashes=tracker.hashes, runs=tracker.runs,
        epochs=tracker.epochs, trained=tracker.trained,
        budget={"runs": request.budget.runs, "epochs": request.budget.epochs},
        info=dict(result.info),
    )
    return results.add_search(search, study), list(tracker.records.values())


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
) -> CompareOutcome:
    """Run the baselines and every policy on every task and seed.

    Failed runs are tried ``1 + retries`` times in all (see :class:`TrainingEvaluator`);
    search records are stored under ``study`` when given.
    """
    engine = engine or Engine(components)
    factories = {p.name: components.policies.get(p.name) for p in policies}
    for task in tasks:  # validate everything before training anything
        engine.check(task)
    for request in policies:
        make_policy(factories[request.name], request.options, None)
    outcome = CompareOutcome()
    for task in tasks:
        problem = engine.setup(task)
        progress.add_total(len(seeds) * estimate_runs(problem.space.n_blocks, policies))
        for seed in seeds:
            evaluator = TrainingEvaluator(problem, seed, results, progress, retries=retries)
            for baseline in ("bl1", "bl2"):
                outcome.runs.append(evaluator.record(baseline)[0])
            for request in policies:
                search, records = run_search(problem, evaluator, request, components, results,
                                             study)
                outcome.searches.append(search)
                outcome.runs.extend(records)
    unique = {r.run_hash: r for r in outcome.runs}
    outcome.runs = list(unique.values())
    return outcome
