"""Successive halving: many candidates for a few epochs, the best fraction for more, then full runs.

Each rung trains its candidates from scratch for that rung's epochs (the
evaluator has no way to continue a run), so a candidate that reaches the last
rung costs the sum of its rungs' epochs. The cost is counted in epochs; a
budget given in runs buys that many full runs' worth of epochs. The pick is
chosen on validation among the full-length runs only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from blockbench_plugins.policies import check_int, full_epochs_of

from blockbench.errors import UsageError
from blockbench.policy import (
    Budget,
    Evaluator,
    Observation,
    Policy,
    PolicyResult,
    SearchSpace,
    best_on_validation,
)
from blockbench.spec import block_target


@dataclass(frozen=True)
class Rung:
    """Train ``candidates`` blocks for ``epochs`` epochs each."""

    candidates: int
    epochs: int


def plan(n_start: int, eta: int, min_epochs: int, full_epochs: int) -> list[Rung]:
    """Rungs for ``n_start`` candidates: epochs grow by ``eta`` up to a full run, candidates shrink by ``eta``.

    A rung that would eliminate nobody is dropped (its candidates go straight
    to the next rung), so no epochs are spent without a decision.
    """
    epochs, schedule = min_epochs, []
    while epochs < full_epochs:
        schedule.append(epochs)
        epochs *= eta
    schedule.append(full_epochs)
    rungs, n = [], n_start
    for e in schedule:
        rungs.append(Rung(n, e))
        n = max(1, n // eta)
    return [r for i, r in enumerate(rungs)
            if i == len(rungs) - 1 or r.candidates > rungs[i + 1].candidates]


def cost(rungs: list[Rung]) -> tuple[int, int]:
    """(runs, epochs) a plan spends."""
    return sum(r.candidates for r in rungs), sum(r.candidates * r.epochs for r in rungs)


class SuccessiveHalving(Policy):
    """Successive halving: few epochs for many blocks, the best 1/eta continue, full runs at the end.

    Options:
        eta: keep the best 1/eta of the candidates at each rung (and multiply epochs by eta).
        min_epochs: epochs of the first rung.
        max_epochs: epochs of a full run (None: the evaluator's protocol).
        n_start: first-rung candidates (None: as many as the budget allows).
    """

    option_defaults = {"eta": 3, "min_epochs": 1, "max_epochs": None, "n_start": None}
    cost_unit = "epochs"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        check_int("successive-halving", "eta", self.options["eta"], 2)
        check_int("successive-halving", "min_epochs", self.options["min_epochs"], 1)
        check_int("successive-halving", "max_epochs", self.options["max_epochs"], 1, allow_none=True)
        check_int("successive-halving", "n_start", self.options["n_start"], 1, allow_none=True)
        if self.options["max_epochs"] is not None and self.options["min_epochs"] > self.options["max_epochs"]:
            raise UsageError(f"option min_epochs={self.options['min_epochs']} of policy "
                             f"successive-halving exceeds max_epochs={self.options['max_epochs']}")

    def best_plan(self, space: SearchSpace, budget: Budget, full: int) -> list[Rung]:
        """The plan with the most first-rung candidates that fits the budget ([] if none fits)."""
        epoch_limit = budget.epochs
        if epoch_limit is None and budget.runs is not None and budget.epochs is None:
            epoch_limit = budget.runs * full
        if epoch_limit is None:
            epoch_limit = len(space.in_quarter(4)) * full
        run_limit = budget.runs if budget.epochs is not None else None
        eta, low = self.options["eta"], min(self.options["min_epochs"], full)
        most = min(self.options["n_start"] or space.n_blocks, space.n_blocks)
        for n in range(most, 0, -1):
            rungs = plan(n, eta, low, full)
            runs, epochs = cost(rungs)
            if epochs <= epoch_limit and (run_limit is None or runs <= run_limit):
                return rungs
        return []

    def search(self, space: SearchSpace, evaluator: Evaluator, budget: Budget, seed: int) -> PolicyResult:
        import random

        full = int(self.options["max_epochs"] or full_epochs_of(evaluator))
        rungs = self.best_plan(space, budget, full)
        observations: list[Observation] = []
        if not rungs:
            return PolicyResult(None, observations, {"rungs": []})
        alive = random.Random(seed).sample(range(space.n_blocks), rungs[0].candidates)
        for number, rung in enumerate(rungs):
            alive = alive[: rung.candidates]
            # epochs=None asks for the protocol's own full run, the same run as other policies'.
            epochs = None if rung.epochs == full and self.options["max_epochs"] is None else rung.epochs
            scored = []
            for block in alive:
                obs = evaluator.evaluate(block_target(block), epochs=epochs)
                observations.append(obs)
                if obs.ok and obs.val_acc is not None:
                    scored.append((obs.val_acc, -len(scored), block))
            if number < len(rungs) - 1:
                alive = [block for _, _, block in sorted(scored, reverse=True)]
        info = {"rungs": [[r.candidates, r.epochs] for r in rungs]}
        return PolicyResult(best_on_validation(observations, full_epochs=full), observations, info)
