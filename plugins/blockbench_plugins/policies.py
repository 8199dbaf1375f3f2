"""Built-in search policies, and the budget and option helpers they share.

Every policy chooses its pick on validation accuracy only (``best_on_validation``)
and spends at most its budget. A policy that costs runs turns a budget into a
number of evaluations with :func:`run_limit`: ``Budget.runs`` evaluations, or
as many full runs as ``Budget.epochs`` pays for; with no budget at all, each
policy has its own default (documented in docs/policies.md), for most of them
the size of the last quarter, so that they cost what the reference heuristic costs.

The Optuna, successive-halving and gradient-rank policies live in their own
modules; this module registers them all. Nothing here imports Optuna or
TensorFlow at import time.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from blockbench.components.policy import (
    Budget,
    Evaluator,
    Policy,
    PolicyResult,
    SearchSpace,
    best_on_validation,
    check_int,
    evaluate_batch,
    run_limit,
)
from blockbench.core.spec import block_target
from blockbench.plugin.hookspecs import hookimpl
from blockbench_plugins.gradient_rank import GradientRank
from blockbench_plugins.optuna_policies import OptunaGP, OptunaTPE
from blockbench_plugins.racing import Racing
from blockbench_plugins.successive_halving import SuccessiveHalving


def evaluate_all(targets: list[str], evaluator: Evaluator) -> PolicyResult:
    """Evaluate ``targets`` (at once where the host can) and pick the best on validation."""
    observations = evaluate_batch(evaluator, targets)
    return PolicyResult(best_on_validation(observations), observations)


class Exhaustive(Policy):
    """Every block once: the ground truth every other policy is measured against."""

    def planned_evaluations(self, space: SearchSpace, budget: Budget, full_epochs: int) -> int:
        return min(run_limit(space, budget, full_epochs, default=space.n_blocks), space.n_blocks)

    def search(self, space: SearchSpace, evaluator: Evaluator, budget: Budget, seed: int) -> PolicyResult:
        limit = self.planned_evaluations(space, budget, evaluator.full_epochs)
        return evaluate_all(space.targets()[:limit], evaluator)


class LastQuarter(Policy):
    """The reference heuristic: the Q4 blocks, deepest first (the deepest when the budget is short)."""

    def planned_evaluations(self, space: SearchSpace, budget: Budget, full_epochs: int) -> int:
        return min(run_limit(space, budget, full_epochs), len(space.in_quarter(4)))

    def search(self, space: SearchSpace, evaluator: Evaluator, budget: Budget, seed: int) -> PolicyResult:
        q4 = [block_target(i) for i in reversed(space.in_quarter(4))]
        return evaluate_all(q4[: self.planned_evaluations(space, budget, evaluator.full_epochs)],
                            evaluator)


class LastBlock(Policy):
    """One run: the block nearest the head."""

    def planned_evaluations(self, space: SearchSpace, budget: Budget, full_epochs: int) -> int:
        return min(run_limit(space, budget, full_epochs, default=1), 1 if space.n_blocks else 0)

    def search(self, space: SearchSpace, evaluator: Evaluator, budget: Budget, seed: int) -> PolicyResult:
        limit = self.planned_evaluations(space, budget, evaluator.full_epochs)
        return evaluate_all([block_target(space.n_blocks - 1)][:limit], evaluator)


class RandomBlocks(Policy):
    """k blocks drawn uniformly without replacement (seeded): the null baseline.

    Options:
        k: blocks to train (default: as many as the budget allows; with no
            budget, as many as there are Q4 blocks, the cost of last-quarter).
    """

    option_defaults = {"k": None}

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        checked = super().check_options(options)
        check_int("random", "k", checked["k"], 1, allow_none=True)
        return checked

    def planned_evaluations(self, space: SearchSpace, budget: Budget, full_epochs: int) -> int:
        limit = run_limit(space, budget, full_epochs)
        return min(limit, self.options["k"] or limit, space.n_blocks)

    def search(self, space: SearchSpace, evaluator: Evaluator, budget: Budget, seed: int) -> PolicyResult:
        k = self.planned_evaluations(space, budget, evaluator.full_epochs)
        chosen = random.Random(seed).sample(range(space.n_blocks), k)
        return evaluate_all([block_target(i) for i in chosen], evaluator)


def _describe(factory: Any) -> str:
    return (factory.__doc__ or "").strip().splitlines()[0]


@hookimpl
def register_policies(register) -> None:  # type: ignore[no-untyped-def]

    for name, factory in [
        ("exhaustive", Exhaustive), ("last-quarter", LastQuarter), ("last-block", LastBlock),
        ("random", RandomBlocks), ("optuna-tpe", OptunaTPE), ("optuna-gp", OptunaGP),
        ("successive-halving", SuccessiveHalving), ("gradient-rank", GradientRank),
        ("racing", Racing),
    ]:
        register(name, factory, description=_describe(factory))
