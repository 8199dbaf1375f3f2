"""Run policies many times against replay tables and record what each repeat got.

Repeat ``r`` of every policy on a table uses the same run seed (the table's
seeds in turn) and the same policy seed (derived from ``seed`` and ``r``), so
policies are compared on paired repeats. A multi-seed policy (racing, or
``NAME@k``: a per-seed policy over k seeds) gets the table's seeds in the order
:func:`~blockbench.replay.multiseed.seed_order` draws for ``r``, starting at
that run seed. Every pick is scored by its expected test accuracy, its mean
over all the table's seeds. A policy that cannot run on a table (no stored
signal, no per-epoch history, too few seeds) is reported as unavailable there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from blockbench.components.policy import (
    Budget,
    Observation,
    Policy,
    SignalUnavailable,
    check_policy_options,
)
from blockbench.core.errors import UsageError
from blockbench.plugin.registry import Components
from blockbench.replay.multiseed import (
    MultiSeedReplayEvaluator,
    OverSeeds,
    SeedsUnavailable,
    best_mean_validation,
    seed_order,
)
from blockbench.replay.tables import (
    FidelityUnavailable,
    ReplayEvaluator,
    ReplayTable,
    RunUnavailable,
)

BUDGET_WORDS = ("default", "q4", "all")


@dataclass(frozen=True)
class PolicySpec:
    """A policy to replay: its label in reports, registered name and options.

    ``seeds``: None for the policy itself; k (an int) or "all" to replay the
    per-seed policy over that many seeds (:class:`~blockbench.replay.multiseed.OverSeeds`).
    """

    label: str
    name: str
    options: Mapping[str, Any] = field(default_factory=dict)
    seeds: int | str | None = None


@dataclass(frozen=True)
class BudgetSpec:
    """A budget in full-run equivalents, resolved per table.

    ``default`` lets each policy use its own; ``q4`` is the number of Q4 blocks
    (what last-quarter spends); ``all`` the number of blocks; an integer is
    that many runs. A policy whose cost unit is epochs gets as many full runs'
    worth of epochs.
    """

    label: str

    def resolve(self, table: ReplayTable, cost_unit: str) -> Budget:
        if self.label == "default":
            return Budget()
        runs = {"q4": len(table.space.in_quarter(4)), "all": table.n_blocks}.get(self.label)
        runs = int(self.label) if runs is None else runs
        return Budget(epochs=runs * table.full_epochs) if cost_unit == "epochs" else Budget(runs=runs)


def parse_budget(text: str) -> BudgetSpec:
    """``default``, ``q4``, ``all`` or a positive integer; anything else is a usage error."""
    word = str(text).strip().lower()
    if word in BUDGET_WORDS or (word.isdigit() and int(word) > 0):
        return BudgetSpec(str(int(word)) if word.isdigit() else word)
    raise UsageError(f"budget {text!r} is not valid; use a positive number of runs, "
                     "'q4' (as many runs as there are Q4 blocks), 'all' or 'default'")


@dataclass
class Repeat:
    """One replayed search.

    Attributes:
        table, policy, budget: what was replayed (ids and labels).
        repeat: the repeat index; run_seed, policy_seed: the seeds it used (a
            multi-seed policy's run seed is the first of its order).
        pick, pick_test: the pick (chosen on validation) and its test accuracy at the run seed.
        bopt, bopt_test: exhaustive's pick at that run seed and its test accuracy.
        runs, epochs: what the policy spent; cost: epochs in full-run equivalents.
        runs_to_bopt: runs spent when Bopt was first evaluated as a full run (None: never).
        trace: (cost so far, expected regret of the incumbent pick) after each evaluation with one.
        pick_mean: the pick's expected test accuracy (its mean over the table's seeds).
        best, best_mean: the block with the highest expected test accuracy, and that accuracy.
        seeds: distinct seeds the search evaluated at.
        multi_seed: whether the policy searched across seeds (racing, ``NAME@k``).
    """

    table: str
    policy: str
    budget: str
    repeat: int
    run_seed: int
    policy_seed: int
    pick: str | None
    pick_test: float | None
    bopt: str
    bopt_test: float
    runs: int
    epochs: int
    cost: float
    runs_to_bopt: int | None
    trace: list[tuple[float, float]]
    pick_mean: float | None = None
    best: str = ""
    best_mean: float = 0.0
    seeds: int = 1
    multi_seed: bool = False

    @property
    def regret(self) -> float | None:
        """Expected test accuracy points the best block has over the pick (the headline regret)."""
        return None if self.pick_mean is None else 100.0 * (self.best_mean - self.pick_mean)

    @property
    def seed_regret(self) -> float | None:
        """Test accuracy points Bopt has over the pick at the run seed (negative: the pick did better)."""
        return None if self.pick_test is None else 100.0 * (self.bopt_test - self.pick_test)


@dataclass
class ReplayOutcome:
    """Every repeat, and the (table, policy, budget) combinations that could not run, with why."""

    repeats: list[Repeat] = field(default_factory=list)
    unavailable: list[tuple[str, str, str, str]] = field(default_factory=list)


def policy_seed(seed: int, repeat: int) -> int:
    """The policy seed of repeat ``repeat``: shared by every policy and table (paired repeats)."""
    return int(np.random.SeedSequence([seed, repeat]).generate_state(1)[0] % (2**31 - 1))


def replay_once(table: ReplayTable, spec: PolicySpec, factory: Any, budget: BudgetSpec,
                repeat: int, seed: int) -> Repeat:
    """One search of ``spec`` on ``table``; raises SignalUnavailable, FidelityUnavailable or
    SeedsUnavailable."""
    p_seed = policy_seed(seed, repeat)
    policy: Policy = factory(**dict(spec.options))
    evaluator: ReplayEvaluator | MultiSeedReplayEvaluator
    if getattr(policy, "multi_seed", False):
        order = seed_order(table.seeds, seed, repeat)
        run_seed, evaluator = order[0], MultiSeedReplayEvaluator(table, order)
    else:
        run_seed = table.seeds[repeat % len(table.seeds)]
        evaluator = ReplayEvaluator(table, run_seed)
    result = policy.search(table.space, evaluator, budget.resolve(table, policy.cost_unit), p_seed)
    bopt = table.bopt[run_seed]
    best, best_mean = table.best
    full = table.full_epochs
    trace, seen, reached = [], [], None
    for obs, (runs, epochs) in zip(evaluator.log, evaluator.spent, strict=True):
        if _full_ok(obs, full):
            seen.append(obs)
            if reached is None and obs.target == bopt.target:
                reached = runs
        incumbent = best_mean_validation(seen, full)
        mean = table.mean_test(incumbent) if incumbent else None
        if mean is not None:
            trace.append((epochs / full, 100.0 * (best_mean - mean)))
    return Repeat(
        table=table.id, policy=spec.label, budget=budget.label, repeat=repeat, run_seed=run_seed,
        policy_seed=p_seed, pick=result.pick,
        pick_test=table.test_acc(run_seed, result.pick) if result.pick else None,
        bopt=bopt.target, bopt_test=bopt.test_acc, runs=evaluator.runs, epochs=evaluator.epochs,
        cost=evaluator.epochs / full, runs_to_bopt=reached, trace=trace,
        pick_mean=table.mean_test(result.pick) if result.pick else None, best=best,
        best_mean=best_mean, seeds=len({obs.seed for obs in evaluator.log}) or 1,
        multi_seed=isinstance(evaluator, MultiSeedReplayEvaluator),
    )


def _full_ok(obs: Observation, full: int) -> bool:
    return obs.ok and obs.val_acc is not None and obs.epochs >= full


def run_replay(
    tables: Sequence[ReplayTable],
    policies: Sequence[PolicySpec],
    budgets: Sequence[BudgetSpec],
    repeats: int,
    seed: int,
    components: Components,
    on_done: Callable[[int], None] | None = None,
) -> ReplayOutcome:
    """Replay every policy ``repeats`` times on every table under every budget."""
    if repeats < 1:
        raise UsageError(f"repeats must be at least 1, got {repeats}")
    factories = {p.label: _factory(p, components) for p in policies}
    for spec in policies:  # bad options fail before any replay, naming the policy
        entry = components.policies.get(spec.name)
        check_policy_options(entry.name, entry.factory, spec.options)
        factories[spec.label](**dict(spec.options))
    outcome = ReplayOutcome()
    for table in tables:
        for budget in budgets:
            for spec in policies:
                try:
                    for r in range(repeats):
                        outcome.repeats.append(
                            replay_once(table, spec, factories[spec.label], budget, r, seed))
                except (SignalUnavailable, FidelityUnavailable, SeedsUnavailable, RunUnavailable) as exc:
                    outcome.repeats = [x for x in outcome.repeats if not (
                        x.table == table.id and x.policy == spec.label and x.budget == budget.label)]
                    outcome.unavailable.append((table.id, spec.label, budget.label, str(exc)))
                if on_done:
                    on_done(repeats)
    return outcome


def _factory(spec: PolicySpec, components: Components) -> Any:
    """The factory of ``spec``: the registered one, or it over ``spec.seeds`` seeds."""
    entry = components.policies.get(spec.name)
    if spec.seeds is None:
        return entry.factory
    if getattr(entry.factory, "multi_seed", False):
        raise UsageError(f"policy {spec.label!r}: {entry.name} already searches across seeds; "
                         f"'@k' applies to per-seed policies only (e.g. exhaustive@3)")
    if spec.seeds != "all" and (isinstance(spec.seeds, bool) or not isinstance(spec.seeds, int)
                                or spec.seeds < 1):
        raise UsageError(f"policy {spec.label!r}: the seed count after '@' must be a positive "
                         f"integer or 'all', not {spec.seeds!r}")
    k = None if spec.seeds == "all" else int(spec.seeds)
    return lambda **options: OverSeeds(entry.factory, options, k)
