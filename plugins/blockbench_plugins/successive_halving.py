"""Successive halving: many candidates for a few epochs, the best fraction for more, then full runs.

Each rung trains its candidates from scratch for that rung's epochs (the
evaluator has no way to continue a run), so a candidate that reaches the last
rung costs the sum of its rungs' epochs. The cost is counted in epochs; a
budget given in runs buys that many full runs' worth of epochs. The pick is
chosen on validation among the full-length runs only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from blockbench.components.policy import (
    Budget,
    Evaluator,
    Observation,
    Policy,
    PolicyResult,
    SearchSpace,
    best_on_validation,
    check_int,
    evaluate_batch,
)
from blockbench.core.errors import UsageError
from blockbench.core.spec import block_target


@dataclass(frozen=True)
class Rung:
    """Train ``candidates`` blocks for ``epochs`` epochs each."""

    candidates: int
    epochs: int


def schedule(eta: int, min_epochs: int, full_epochs: int) -> list[int]:
    """Rung epochs, shortest first: a full run, divided by ``eta`` while at least ``min_epochs``."""
    epochs = [full_epochs]
    while epochs[-1] // eta >= min_epochs and epochs[-1] // eta < epochs[-1]:
        epochs.append(epochs[-1] // eta)
    return epochs[::-1]


def plan(counts: list[int], epochs: list[int]) -> list[Rung]:
    """Rungs of the given sizes; a rung that would eliminate nobody is dropped (its
    candidates go straight to the next rung), so no epochs are spent without a decision."""
    return [Rung(c, e) for i, (c, e) in enumerate(zip(counts, epochs, strict=True))
            if i == len(counts) - 1 or c > counts[i + 1]]


def halving_counts(n_start: int, eta: int, n_rungs: int) -> list[int]:
    """``n_start``, then the best 1/eta of the previous rung (at least one)."""
    counts = [n_start]
    for _ in range(n_rungs - 1):
        counts.append(max(1, counts[-1] // eta))
    return counts


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

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        checked = super().check_options(options)
        check_int("successive-halving", "eta", checked["eta"], 2)
        check_int("successive-halving", "min_epochs", checked["min_epochs"], 1)
        check_int("successive-halving", "max_epochs", checked["max_epochs"], 1, allow_none=True)
        check_int("successive-halving", "n_start", checked["n_start"], 1, allow_none=True)
        if checked["max_epochs"] is not None and checked["min_epochs"] > checked["max_epochs"]:
            raise UsageError(f"option min_epochs={checked['min_epochs']} of policy "
                             f"successive-halving exceeds max_epochs={checked['max_epochs']}")
        return checked

    def best_plan(self, space: SearchSpace, budget: Budget, full: int) -> list[Rung]:
        """The plan with the most first-rung candidates that fits the budget ([] if none fits).

        When every block fits in the first rung and budget is left, more
        candidates go on to the full-length rung.
        """
        epoch_limit = budget.epochs
        if epoch_limit is None:
            q4 = len(space.in_quarter(4))
            epoch_limit = (budget.runs if budget.runs is not None else q4) * full
        run_limit = budget.runs if budget.epochs is not None else None

        def fits(rungs: list[Rung]) -> bool:
            runs, epochs = cost(rungs)
            return epochs <= epoch_limit and (run_limit is None or runs <= run_limit)

        epochs = schedule(self.options["eta"], min(self.options["min_epochs"], full), full)
        most = min(self.options["n_start"] or space.n_blocks, space.n_blocks)
        for n in range(most, 0, -1):
            counts = halving_counts(n, self.options["eta"], len(epochs))
            if fits(plan(counts, epochs)):
                break
        else:
            return []
        while counts[-1] < counts[0]:
            grown = [max(c, counts[-1] + 1) for c in counts]
            if not fits(plan(grown, epochs)):
                break
            counts = grown
        return plan(counts, epochs)

    def planned_evaluations(self, space: SearchSpace, budget: Budget, full_epochs: int) -> int:
        """Every rung's candidates (fewer run when a run fails: failed runs do not go on)."""
        full = int(self.options["max_epochs"] or full_epochs)
        return cost(self.best_plan(space, budget, full))[0]

    def search(self, space: SearchSpace, evaluator: Evaluator, budget: Budget, seed: int) -> PolicyResult:
        import random

        full = int(self.options["max_epochs"] or evaluator.full_epochs)
        rungs = self.best_plan(space, budget, full)
        observations: list[Observation] = []
        if not rungs:
            return PolicyResult(None, observations, {"rungs": []})
        alive = random.Random(seed).sample(range(space.n_blocks), rungs[0].candidates)
        for number, rung in enumerate(rungs):
            alive = alive[: rung.candidates]
            # epochs=None asks for the protocol's own full run, the same run as other policies'.
            epochs = None if rung.epochs == full and self.options["max_epochs"] is None else rung.epochs
            scored: list[tuple[float, int, int]] = []
            rung_targets = [block_target(block) for block in alive]
            for block, obs in zip(alive, evaluate_batch(evaluator, rung_targets, epochs=epochs),
                                  strict=True):
                observations.append(obs)
                if obs.ok and obs.val_acc is not None:
                    scored.append((obs.val_acc, -len(scored), block))
            if number < len(rungs) - 1:
                alive = [block for _, _, block in sorted(scored, reverse=True)]
        info = {"rungs": [[r.candidates, r.epochs] for r in rungs]}
        return PolicyResult(best_on_validation(observations, full_epochs=full), observations, info)
