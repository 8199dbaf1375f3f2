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
from typing import Any

from blockbench.errors import UsageError
from blockbench.hookspecs import hookimpl
from blockbench.policy import (
    Budget,
    Evaluator,
    Policy,
    PolicyResult,
    SearchSpace,
    best_on_validation,
)
from blockbench.spec import REFERENCE_HPARAMS, block_target


def full_epochs_of(evaluator: Evaluator) -> int:
    """Epochs of a full run: the evaluator's ``full_epochs`` if it has one, else the protocol's."""
    return int(getattr(evaluator, "full_epochs", REFERENCE_HPARAMS["epochs"]))


def run_limit(space: SearchSpace, budget: Budget, full_epochs: int, default: int | None = None) -> int:
    """How many full runs a run-cost policy may evaluate under ``budget``.

    Args:
        space: the search space (its last quarter sets the default).
        budget: runs and/or epochs; each full run costs ``full_epochs`` epochs.
        full_epochs: epochs of one full run.
        default: the limit when the budget sets neither (None: the number of Q4 blocks).
    """
    limits = []
    if budget.runs is not None:
        limits.append(budget.runs)
    if budget.epochs is not None:
        limits.append(budget.epochs // max(full_epochs, 1))
    if not limits:
        limits.append(len(space.in_quarter(4)) if default is None else default)
    return max(0, min(limits))


def check_int(policy: str, name: str, value: Any, minimum: int, allow_none: bool = False) -> int | None:
    """Validate an integer option; the error names the policy, the option and what is valid."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        valid = f"an integer >= {minimum}" + (" or omitted" if allow_none else "")
        raise UsageError(f"option {name}={value!r} of policy {policy} is not valid; use {valid}")
    return value


def evaluate_all(targets: list[str], evaluator: Evaluator) -> PolicyResult:
    """Evaluate ``targets`` in order and pick the best on validation."""
    observations = [evaluator.evaluate(t) for t in targets]
    return PolicyResult(best_on_validation(observations), observations)


class Exhaustive(Policy):
    """Every block once: the ground truth every other policy is measured against."""

    def search(self, space: SearchSpace, evaluator: Evaluator, budget: Budget, seed: int) -> PolicyResult:
        limit = run_limit(space, budget, full_epochs_of(evaluator), default=space.n_blocks)
        return evaluate_all(space.targets()[:limit], evaluator)


class LastQuarter(Policy):
    """The reference heuristic: the Q4 blocks, deepest first (the deepest when the budget is short)."""

    def search(self, space: SearchSpace, evaluator: Evaluator, budget: Budget, seed: int) -> PolicyResult:
        q4 = [block_target(i) for i in reversed(space.in_quarter(4))]
        return evaluate_all(q4[: run_limit(space, budget, full_epochs_of(evaluator))], evaluator)


class LastBlock(Policy):
    """One run: the block nearest the head."""

    def search(self, space: SearchSpace, evaluator: Evaluator, budget: Budget, seed: int) -> PolicyResult:
        limit = run_limit(space, budget, full_epochs_of(evaluator), default=1)
        targets = [block_target(space.n_blocks - 1)] if space.n_blocks else []
        return evaluate_all(targets[:limit], evaluator)


class RandomBlocks(Policy):
    """k blocks drawn uniformly without replacement (seeded): the null baseline.

    Options:
        k: blocks to train (default: as many as the budget allows; with no
            budget, as many as there are Q4 blocks, the cost of last-quarter).
    """

    option_defaults = {"k": None}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        check_int("random", "k", self.options["k"], 1, allow_none=True)

    def search(self, space: SearchSpace, evaluator: Evaluator, budget: Budget, seed: int) -> PolicyResult:
        limit = run_limit(space, budget, full_epochs_of(evaluator))
        k = min(limit, self.options["k"] or limit, space.n_blocks)
        chosen = random.Random(seed).sample(range(space.n_blocks), k)
        return evaluate_all([block_target(i) for i in chosen], evaluator)


def _describe(factory: Any) -> str:
    return (factory.__doc__ or "").strip().splitlines()[0]


@hookimpl
def register_policies(register) -> None:  # type: ignore[no-untyped-def]
    from blockbench_plugins.gradient_rank import GradientRank
    from blockbench_plugins.optuna_policies import OptunaGP, OptunaTPE
    from blockbench_plugins.successive_halving import SuccessiveHalving

    for name, factory in [
        ("exhaustive", Exhaustive), ("last-quarter", LastQuarter), ("last-block", LastBlock),
        ("random", RandomBlocks), ("optuna-tpe", OptunaTPE), ("optuna-gp", OptunaGP),
        ("successive-halving", SuccessiveHalving), ("gradient-rank", GradientRank),
    ]:
        register(name, factory, description=_describe(factory))
