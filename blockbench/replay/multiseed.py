"""Multi-seed replay: a table served at (target, seed), seed orders, and "NAME over k seeds".

A multi-seed policy (``Policy.multi_seed``, e.g. racing) searches across seeds;
replay hands it a :class:`MultiSeedReplayEvaluator` over the table's seeds in
the order :func:`seed_order` draws for the repeat. :class:`OverSeeds` turns a
per-seed policy into a replay-side multi-seed one: the policy's own search at
each of the first k seeds of the order, and the pick with the best mean
validation accuracy (``exhaustive@3``: every block at three seeds).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from blockbench.components.policy import (
    Budget,
    Evaluator,
    Observation,
    Policy,
    PolicyResult,
    SearchSpace,
    Signal,
)
from blockbench.core.errors import BlockbenchError
from blockbench.replay.tables import ReplayEvaluator, ReplayTable


class SeedsUnavailable(BlockbenchError):
    """A policy over k seeds was asked for on a table with fewer seeds."""


def seed_order(seeds: Sequence[int], seed: int, repeat: int) -> list[int]:
    """The table's seeds in the order repeat ``repeat`` uses them.

    The first seed is ``seeds[repeat mod S]``, the run seed per-seed policies
    get at that repeat (so the seeds take turns, and a policy over one seed
    is paired with the per-seed policies); the others follow in a permutation
    drawn from ``seed`` and ``repeat``: the same for every multi-seed policy.
    """
    first = seeds[repeat % len(seeds)]
    rest = [s for s in seeds if s != first]
    rng = np.random.default_rng(np.random.SeedSequence([seed, repeat, len(seeds)]))
    return [first, *(rest[int(i)] for i in rng.permutation(len(rest)))]


def best_mean_validation(observations: Sequence[Observation], full_epochs: int) -> str | None:
    """The target with the best mean validation accuracy over its full runs (ties: first seen)."""
    sums: dict[str, list[float]] = {}
    for obs in observations:
        if obs.ok and obs.val_acc is not None and obs.epochs >= full_epochs:
            acc = sums.setdefault(obs.target, [0.0, 0])
            acc[0] += obs.val_acc
            acc[1] += 1
    best, best_mean = None, -1.0
    for target, (total, count) in sums.items():
        if total / count > best_mean:
            best, best_mean = target, total / count
    return best


class MultiSeedReplayEvaluator:
    """Serves one table at every seed of ``seeds`` (a :class:`MultiSeedEvaluator`), counting the spend.

    Args:
        table: the exhaustive table (kept private: a policy sees validation accuracy only).
        seeds: the run seeds, in the order the policy should use them.

    Attributes:
        log: every observation served, in order, with its seed.
        spent: cumulative (runs, epochs) after each observation, signals included.
        runs, epochs: total spent over all seeds.
    """

    def __init__(self, table: ReplayTable, seeds: Sequence[int]) -> None:
        self._table = table
        self._seeds = list(seeds)
        self._at = {s: ReplayEvaluator(table, s) for s in self._seeds}
        self.log: list[Observation] = []
        self.spent: list[tuple[int, int]] = []
        self.runs = 0
        self.epochs = 0

    @property
    def seeds(self) -> Sequence[int]:
        return tuple(self._seeds)

    @property
    def full_epochs(self) -> int:
        return self._table.full_epochs

    def _served(self, seed: int | None) -> tuple[int, ReplayEvaluator]:
        at = self._seeds[0] if seed is None else int(seed)
        if at not in self._at:
            raise BlockbenchError(f"{self._table.id}: seed {seed} is not one of the seeds "
                                  f"{self._seeds} this search may use")
        return at, self._at[at]

    def evaluate(self, target: str, *, epochs: int | None = None, seed: int | None = None
                 ) -> Observation:
        at, evaluator = self._served(seed)
        obs = replace(evaluator.evaluate(target, epochs=epochs), seed=at)
        self.runs += 1
        self.epochs += obs.epochs
        self.log.append(obs)
        self.spent.append((self.runs, self.epochs))
        return obs

    def signal(self, name: str, measure: Callable[..., Signal], **params: Any) -> Signal:
        """The signal stored for the first seed (see :meth:`signal_at`)."""
        return self.signal_at(self._seeds[0], name, measure, **params)

    def signal_at(self, seed: int, name: str, measure: Callable[..., Signal], **params: Any) -> Signal:
        """The signal a real search stored for this table at ``seed``; its cost counts."""
        _, evaluator = self._served(seed)
        signal = evaluator.signal(name, measure, **params)
        self.runs += signal.runs
        self.epochs += signal.epochs
        return signal

    def report(self, text: str) -> None:
        """Progress lines are not shown in replay."""


class _SeedView:
    """A per-seed :class:`Evaluator` onto one seed of a multi-seed replay evaluator."""

    def __init__(self, evaluator: MultiSeedReplayEvaluator, seed: int) -> None:
        self._evaluator, self.seed = evaluator, seed

    @property
    def full_epochs(self) -> int:
        return self._evaluator.full_epochs

    def evaluate(self, target: str, *, epochs: int | None = None) -> Observation:
        return self._evaluator.evaluate(target, epochs=epochs, seed=self.seed)

    def signal(self, name: str, measure: Callable[..., Signal], **params: Any) -> Signal:
        return self._evaluator.signal_at(self.seed, name, measure, **params)


class OverSeeds(Policy):
    """A per-seed policy run at each of the first ``k`` seeds; the pick has the best mean validation.

    Replay-only (not registered): ``replay --policy exhaustive@3``. The
    budget applies to each seed's search, so ``NAME@k`` spends k times what
    NAME spends at one seed. The policy at the i-th seed gets a policy seed
    derived from the search's and i (the search's own for i = 0, so
    ``NAME@1`` makes the same search as NAME).

    Args:
        factory: the per-seed policy's factory; options: its checked options.
        k: seeds to search (None: every seed the evaluator offers).
    """

    multi_seed = True

    def __init__(self, factory: Any, options: Mapping[str, Any], k: int | None) -> None:
        super().__init__()
        self._factory, self._inner_options, self.k = factory, dict(options), k
        self.cost_unit = factory(**self._inner_options).cost_unit  # type: ignore[misc]

    def search(self, space: SearchSpace, evaluator: Evaluator, budget: Budget, seed: int) -> PolicyResult:
        if not isinstance(evaluator, MultiSeedReplayEvaluator):
            raise BlockbenchError("a policy over k seeds replays on a multi-seed replay evaluator only")
        seeds = list(evaluator.seeds)
        if self.k is not None and self.k > len(seeds):
            raise SeedsUnavailable(f"over {self.k} seeds needs a table with at least {self.k} "
                                   f"seeds; this one has {len(seeds)}")
        start = len(evaluator.log)
        for i, at in enumerate(seeds[: self.k]):
            inner: Policy = self._factory(**self._inner_options)
            p_seed = seed if i == 0 else int(
                np.random.SeedSequence([seed, i]).generate_state(1)[0] % (2**31 - 1))
            inner.search(space, _SeedView(evaluator, at), budget, p_seed)
        observations = evaluator.log[start:]
        return PolicyResult(best_mean_validation(observations, evaluator.full_epochs), list(observations),
                            {"seeds": list(seeds[: self.k])})
