"""Built-in search policies."""

from __future__ import annotations

from blockbench.hookspecs import hookimpl
from blockbench.policy import (
    Budget,
    Evaluator,
    Policy,
    PolicyResult,
    SearchSpace,
    best_on_validation,
)


class Exhaustive(Policy):
    """Every block once: the ground truth every other policy is measured against."""

    def search(self, space: SearchSpace, evaluator: Evaluator, budget: Budget, seed: int) -> PolicyResult:
        targets = space.targets()
        if budget.runs is not None:
            targets = targets[: budget.runs]
        observations = [evaluator.evaluate(t) for t in targets]
        return PolicyResult(best_on_validation(observations), observations)


@hookimpl
def register_policies(register) -> None:  # type: ignore[no-untyped-def]
    register("exhaustive", Exhaustive, description=Exhaustive.__doc__.splitlines()[0])
