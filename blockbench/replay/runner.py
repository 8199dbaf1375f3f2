"""Run policies many times against replay tables and record what each repeat got.

Repeat ``r`` of every policy on a table uses the same run seed (the table's
seeds in turn) and the same policy seed (derived from ``seed`` and ``r``), so
policies are compared on paired repeats. A policy that cannot run on a table
(no stored signal, no per-epoch history) is reported as unavailable there.
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
from blockbench.replay.tables import FidelityUnavailable, ReplayEvaluator, ReplayTable

BUDGET_WORDS = ("default", "q4", "all")


@dataclass(frozen=True)
class PolicySpec:
    """A policy to replay: its label in reports, registered name and options."""

    label: str
    name: str
    options: Mapping[str, Any] = field(default_factory=dict)


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
        repeat: the repeat index; run_seed, policy_seed: the seeds it used.
        pick, pick_test: the pick (chosen on validation) and its test accuracy (None: no pick).
        bopt, bopt_test: exhaustive's pick at that run seed and its test accuracy.
        runs, epochs: what the policy spent; cost: epochs in full-run equivalents.
        runs_to_bopt: runs spent when Bopt was first evaluated as a full run (None: never).
        trace: (cost so far, regret of the incumbent pick) after each evaluation with one.
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

    @property
    def regret(self) -> float | None:
        """Test accuracy points Bopt has over the pick (negative: the pick did better on test)."""
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
    """One search of ``spec`` on ``table``; raises SignalUnavailable or FidelityUnavailable."""
    run_seed = table.seeds[repeat % len(table.seeds)]
    p_seed = policy_seed(seed, repeat)
    policy: Policy = factory(**dict(spec.options))
    evaluator = ReplayEvaluator(table, run_seed)
    result = policy.search(table.space, evaluator, budget.resolve(table, policy.cost_unit), p_seed)
    bopt = table.bopt[run_seed]
    full = table.full_epochs
    trace, best, reached = [], None, None
    for obs, (runs, epochs) in zip(evaluator.log, evaluator.spent, strict=True):
        if _full_ok(obs, full):
            if best is None or obs.val_acc > best.val_acc:  # type: ignore[operator]
                best = obs
            if reached is None and obs.target == bopt.target:
                reached = runs
        test = table.test_acc(run_seed, best.target) if best else None
        if test is not None:
            trace.append((epochs / full, 100.0 * (bopt.test_acc - test)))
    return Repeat(
        table=table.id, policy=spec.label, budget=budget.label, repeat=repeat, run_seed=run_seed,
        policy_seed=p_seed, pick=result.pick,
        pick_test=table.test_acc(run_seed, result.pick) if result.pick else None,
        bopt=bopt.target, bopt_test=bopt.test_acc, runs=evaluator.runs, epochs=evaluator.epochs,
        cost=evaluator.epochs / full, runs_to_bopt=reached, trace=trace,
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
    factories = {p.label: components.policies.get(p.name).factory for p in policies}
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
                except (SignalUnavailable, FidelityUnavailable) as exc:
                    outcome.repeats = [x for x in outcome.repeats if not (
                        x.table == table.id and x.policy == spec.label and x.budget == budget.label)]
                    outcome.unavailable.append((table.id, spec.label, budget.label, str(exc)))
                if on_done:
                    on_done(repeats)
    return outcome
