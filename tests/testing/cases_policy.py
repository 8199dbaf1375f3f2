"""Fake policy plugins for the PolicyContract tests: one good policy, one broken per check."""

from __future__ import annotations

import itertools
import random
from typing import Any

from blockbench.components.policy import (
    Budget,
    Observation,
    Policy,
    PolicyResult,
    SearchSpace,
    best_on_validation,
)
from blockbench.plugin.hookspecs import hookimpl
from blockbench.testing import PolicyContract


class RandomOrder(Policy):
    """Evaluate blocks in a seeded random order until the budget runs out."""

    option_defaults = {"first": None}

    def order(self, space: SearchSpace, seed: int) -> list[str]:
        targets = space.targets()
        random.Random(seed).shuffle(targets)
        return targets

    def limit(self, budget: Budget, unit: int = 10) -> int:
        runs = [budget.runs] if budget.runs is not None else []
        if budget.epochs is not None:
            runs.append(budget.epochs // unit)
        return min(runs, default=10**9)

    def planned_evaluations(self, space: SearchSpace, budget: Budget, full_epochs: int) -> int:
        return min(self.limit(budget), space.n_blocks)

    def search(self, space: SearchSpace, evaluator: Any, budget: Budget, seed: int) -> PolicyResult:
        targets = self.order(space, seed)[: self.limit(budget)]
        observations = [evaluator.evaluate(t) for t in targets]
        return PolicyResult(best_on_validation(observations), observations)


class NotAPolicy:
    def __init__(self, **options: Any) -> None:
        self.cost_unit = "runs"

    def search(self, *args: Any) -> PolicyResult:
        return RandomOrder().search(*args)


class AcceptsAnything(RandomOrder):
    def __init__(self, **options: Any) -> None:
        self.options = dict(options)


class PicksOnTest(RandomOrder):
    def search(self, space: SearchSpace, evaluator: Any, budget: Budget, seed: int) -> PolicyResult:
        result = super().search(space, evaluator, budget, seed)
        done = [o.target for o in result.observations if o.ok]
        result.pick = max(done, key=evaluator.test_accuracies.__getitem__)
        return result


class PicksTheLast(RandomOrder):
    def search(self, space: SearchSpace, evaluator: Any, budget: Budget, seed: int) -> PolicyResult:
        result = super().search(space, evaluator, budget, seed)
        result.pick = result.observations[-1].target
        return result


class IgnoresTheBudget(RandomOrder):
    def search(self, space: SearchSpace, evaluator: Any, budget: Budget, seed: int) -> PolicyResult:
        return super().search(space, evaluator, Budget(), seed)


class OneBlockTooMany(RandomOrder):
    def order(self, space: SearchSpace, seed: int) -> list[str]:
        return [f"block:{space.n_blocks}", *super().order(space, seed)]


class SortsItsObservations(RandomOrder):
    def search(self, space: SearchSpace, evaluator: Any, budget: Budget, seed: int) -> PolicyResult:
        result = super().search(space, evaluator, budget, seed)
        result.observations.sort(key=lambda o: o.target)
        return result


_searches = itertools.count()


class IgnoresTheSeed(RandomOrder):
    def order(self, space: SearchSpace, seed: int) -> list[str]:
        return super().order(space, seed + next(_searches))


class TrustsFailedRuns(RandomOrder):
    """Scores a failed run as perfect, as a careless surrogate model might."""

    def search(self, space: SearchSpace, evaluator: Any, budget: Budget, seed: int) -> PolicyResult:
        result = super().search(space, evaluator, budget, seed)
        scored = [Observation(o.target, 1.0 if not o.ok else o.val_acc, o.epochs, True)
                  for o in result.observations]
        result.pick = best_on_validation(scored)
        return result


class MisplansItsRuns(RandomOrder):
    def planned_evaluations(self, space: SearchSpace, budget: Budget, full_epochs: int) -> int:
        return space.n_blocks  # what it could run, not what it will


class ShortThenFull(RandomOrder):
    """Multi-fidelity: 2-epoch runs of as many blocks as fit, then one full run of the best."""

    cost_unit = "epochs"

    def planned_evaluations(self, space: SearchSpace, budget: Budget, full_epochs: int) -> None:
        return None  # it cannot tell in advance (allowed): the host assumes its budget

    def search(self, space: SearchSpace, evaluator: Any, budget: Budget, seed: int) -> PolicyResult:
        full, short = 10, 2
        spare = (budget.epochs or 10**9) - full
        targets = self.order(space, seed)[: max(spare // short, 1)]
        observations = [evaluator.evaluate(t, epochs=short) for t in targets]
        best = best_on_validation(observations)
        if best is not None:
            observations.append(evaluator.evaluate(best))
        return PolicyResult(best_on_validation(observations, full_epochs=full), observations)


class EverySeed(RandomOrder):
    """Multi-seed: the same seeded random blocks at each seed while the budget lasts; best mean."""

    multi_seed = True

    def planned_evaluations(self, space: SearchSpace, budget: Budget, full_epochs: int) -> None:
        return None

    def targets(self, space: SearchSpace, evaluator: Any, budget: Budget, seed: int) -> list[str]:
        return self.order(space, seed)[: min(self.limit(budget), space.n_blocks, 4)]

    def seeds(self, evaluator: Any) -> list[int]:
        return list(evaluator.seeds)

    def search(self, space: SearchSpace, evaluator: Any, budget: Budget, seed: int) -> PolicyResult:
        targets = self.targets(space, evaluator, budget, seed)
        observations: list[Observation] = []
        for s in self.seeds(evaluator):
            if len(observations) + len(targets) > self.limit(budget):
                break
            observations += [evaluator.evaluate(t, seed=s) for t in targets]
        values: dict[str, list[float]] = {}
        for o in observations:
            if o.ok and o.val_acc is not None:
                values.setdefault(o.target, []).append(o.val_acc)
        most = max((len(v) for v in values.values()), default=0)
        means = {t: sum(v) / len(v) for t, v in values.items() if len(v) == most}
        return PolicyResult(max(means, key=means.__getitem__) if means else None, observations)


class UsesUnofferedSeeds(EverySeed):
    def seeds(self, evaluator: Any) -> list[int]:
        return [s + 100 for s in evaluator.seeds]


class PicksTheReference(EverySeed):
    def targets(self, space: SearchSpace, evaluator: Any, budget: Budget, seed: int) -> list[str]:
        return ["bl1", *super().targets(space, evaluator, budget, seed)[1:]]

    def search(self, space: SearchSpace, evaluator: Any, budget: Budget, seed: int) -> PolicyResult:
        result = super().search(space, evaluator, budget, seed)
        result.pick = "bl1"
        return result


class StripsSeeds(EverySeed):
    def search(self, space: SearchSpace, evaluator: Any, budget: Budget, seed: int) -> PolicyResult:
        result = super().search(space, evaluator, budget, seed)
        result.observations = [Observation(o.target, o.val_acc, o.epochs, o.ok)
                               for o in result.observations]
        return result


@hookimpl
def register_policies(register: Any) -> None:
    register("random-order", RandomOrder)


class TestRandomOrder(PolicyContract):
    factory = RandomOrder
    registered_name = "random-order"


class TestRandomOrderUnderEpochBudgets(PolicyContract):
    factory = RandomOrder
    budgets = (Budget(epochs=25), Budget(runs=5, epochs=80))


class TestShortThenFull(PolicyContract):
    factory = ShortThenFull


class TestNotAPolicy(PolicyContract):
    factory = NotAPolicy


class TestAcceptsAnything(PolicyContract):
    factory = AcceptsAnything


class TestRegisteredUnderAnotherName(PolicyContract):
    factory = RandomOrder
    registered_name = "exhaustive"


class TestPicksOnTest(PolicyContract):
    factory = PicksOnTest


class TestPicksTheLast(PolicyContract):
    factory = PicksTheLast


class TestIgnoresTheBudget(PolicyContract):
    factory = IgnoresTheBudget


class TestMisplansItsRuns(PolicyContract):
    factory = MisplansItsRuns


class TestOneBlockTooMany(PolicyContract):
    factory = OneBlockTooMany


class TestSortsItsObservations(PolicyContract):
    factory = SortsItsObservations


class TestIgnoresTheSeed(PolicyContract):
    factory = IgnoresTheSeed


class TestTrustsFailedRuns(PolicyContract):
    factory = TrustsFailedRuns


class TestEverySeed(PolicyContract):
    factory = EverySeed


class TestUsesUnofferedSeeds(PolicyContract):
    factory = UsesUnofferedSeeds


class TestPicksTheReference(PolicyContract):
    factory = PicksTheReference


class TestStripsSeeds(PolicyContract):
    factory = StripsSeeds
