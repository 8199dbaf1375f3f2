"""The evaluator a multi-seed policy (racing) sees in a real search: (target, seed) pairs.

A multi-seed search is one search per table over the compare's seeds. It
trains through the same per-seed :class:`~blockbench.search.evaluator.TrainingEvaluator`
objects as the per-seed policies of that table, so a run racing trains is the
run exhaustive trains at that seed (and a cache hit for it in the store).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from blockbench.components.policy import Observation
from blockbench.core.errors import BlockbenchError
from blockbench.search.evaluator import CostTracker, TrainingEvaluator


@dataclass
class MultiSeedTracker(CostTracker):
    """A :class:`~blockbench.components.policy.MultiSeedEvaluator` over per-seed training evaluators.

    It counts the policy's runs, epochs and trained runs over every seed, in
    the order it asked for them, and remembers the seeds in the order of first use.

    Attributes:
        inners: the training evaluator of each seed, in the order the policy should use them.
        reporter: where :meth:`report` lines go (the progress display).
        used: the seeds evaluated, in order of first use.
    """

    inners: dict[int, TrainingEvaluator] = field(default_factory=dict)
    reporter: Callable[[str], None] | None = None
    used: list[int] = field(default_factory=list)

    @classmethod
    def over(cls, evaluators: Sequence[TrainingEvaluator],
             reporter: Callable[[str], None] | None = None) -> MultiSeedTracker:
        """A tracker over ``evaluators`` (one per seed, in the order to use them)."""
        return cls(evaluators[0], inners={e.seed: e for e in evaluators}, reporter=reporter)

    @property
    def seeds(self) -> list[int]:
        return list(self.inners)

    def evaluate(self, target: str, *, epochs: int | None = None,
                 seed: int | None = None) -> Observation:
        inner = self._at(seed)
        return self._count(target, epochs, *inner.record(target, epochs), seed=inner.seed)

    def evaluate_many(self, targets: Sequence[str], *, epochs: int | None = None,
                      seed: int | None = None) -> list[Observation]:
        """Evaluate ``targets`` at ``seed``, at once where the host can; counted in order."""
        inner = self._at(seed)
        obtained = inner.records(list(targets), epochs)
        return [self._count(t, epochs, record, trained, seed=inner.seed)
                for t, (record, trained) in zip(targets, obtained, strict=True)]

    def report(self, text: str) -> None:
        if self.reporter is not None:
            self.reporter(text)

    def _at(self, seed: int | None) -> TrainingEvaluator:
        seed = self.seeds[0] if seed is None else int(seed)
        if seed not in self.inners:
            raise BlockbenchError(f"seed {seed} is not one of this search's seeds "
                                  f"({', '.join(map(str, self.seeds))})")
        if seed not in self.used:
            self.used.append(seed)
        return self.inners[seed]
