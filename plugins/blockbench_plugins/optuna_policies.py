"""Model-based policies: Optuna's TPE and GP samplers over the block index.

The block index is one ordered integer parameter, so a sampler learns that
neighbouring blocks score alike. Each ask evaluates exactly one new block:
when the sampler proposes a block already evaluated, the trial is told the
known value (no cost) and the nearest block not yet evaluated is evaluated
instead and added to the study as its own trial. Optuna is imported only
when a search starts.
"""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from blockbench.components.policy import (
    Budget,
    Evaluator,
    Observation,
    Policy,
    PolicyResult,
    SearchSpace,
    best_on_validation,
    check_int,
    run_limit,
)
from blockbench.core.errors import BlockbenchError, UsageError
from blockbench.core.spec import block_target
from blockbench.store.url import mask_secrets

if TYPE_CHECKING:
    import optuna

PARAM = "block"


def nearest_unevaluated(block: int, done: set[int], n_blocks: int) -> int:
    """The block closest to ``block`` not in ``done`` (the deeper one on a tie)."""
    for distance in range(1, n_blocks):
        for candidate in (block + distance, block - distance):
            if 0 <= candidate < n_blocks and candidate not in done:
                return candidate
    raise ValueError("every block has been evaluated")


class OptunaPolicy(Policy):
    """Shared search loop of the Optuna samplers (subclasses make the sampler).

    Options:
        startup: random trials before the model takes over.
        warm_start: blocks of ``prior_quarter`` enqueued first, evenly spaced, deepest first.
        prior_quarter: the quarter (1-4) the warm start draws from.
        storage: Optuna storage URL (None: in memory).
        study_name: study name in ``storage`` (None: a fresh unique name).
    """

    option_defaults = {"startup": 3, "warm_start": 0, "prior_quarter": 4, "storage": None,
                       "study_name": None}
    policy_name: ClassVar[str] = "optuna"

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        checked = super().check_options(options)
        name = cls.policy_name
        check_int(name, "startup", checked["startup"], 0)
        check_int(name, "warm_start", checked["warm_start"], 0)
        quarter = checked["prior_quarter"]
        if quarter not in (1, 2, 3, 4):
            raise UsageError(f"option prior_quarter={quarter!r} of policy {name} is not valid; "
                             "use 1, 2, 3 or 4")
        for key in ("storage", "study_name"):
            if checked[key] is not None and not isinstance(checked[key], str):
                raise UsageError(f"option {key} of policy {name} must be a string")
        return checked

    def make_sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        raise NotImplementedError

    def warm_start_blocks(self, space: SearchSpace) -> list[int]:
        quarter = space.in_quarter(self.options["prior_quarter"])
        count = min(self.options["warm_start"], len(quarter))
        if not count:
            return []
        positions = np.linspace(len(quarter) - 1, 0, count).round().astype(int)
        return list(dict.fromkeys(quarter[p] for p in positions))

    def _study(self, seed: int) -> optuna.Study:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        storage = self.options["storage"]
        name = self.options["study_name"]
        if storage is not None and name is None:
            name = f"blockbench-{self.policy_name}-seed{seed}-{uuid.uuid4().hex[:8]}"
        try:
            return optuna.create_study(direction="maximize", sampler=self.make_sampler(seed),
                                       storage=storage, study_name=name)
        except optuna.exceptions.DuplicatedStudyError:
            raise UsageError(f"Optuna study {name!r} already exists in the storage; "
                             "choose another study_name") from None
        except Exception as exc:  # a bad URL fails in SQLAlchemy or Optuna with many types
            if storage is None:
                raise
            detail = mask_secrets(str(exc)).splitlines()[0][:200]
            raise BlockbenchError(f"cannot open Optuna storage {mask_secrets(storage)}: "
                                  f"{type(exc).__name__}: {detail}") from None

    def planned_evaluations(self, space: SearchSpace, budget: Budget, full_epochs: int) -> int:
        # One evaluation per loop below: a block sampled twice is replaced by its nearest new one.
        return min(run_limit(space, budget, full_epochs), space.n_blocks)

    def search(self, space: SearchSpace, evaluator: Evaluator, budget: Budget, seed: int) -> PolicyResult:
        import optuna
        from optuna.trial import TrialState

        limit = self.planned_evaluations(space, budget, evaluator.full_epochs)
        if limit == 0:
            return PolicyResult(None, [], {"trials": 0})
        study = self._study(seed)
        distribution = optuna.distributions.IntDistribution(0, space.n_blocks - 1)
        for block in self.warm_start_blocks(space)[:limit]:
            study.enqueue_trial({PARAM: block})
        observations: list[Observation] = []
        values: dict[int, float | None] = {}

        def run(block: int) -> float | None:
            obs = evaluator.evaluate(block_target(block))
            observations.append(obs)
            values[block] = obs.val_acc if obs.ok else None
            return values[block]

        def state(value: float | None) -> dict[str, Any]:
            return {"values": value} if value is not None else {"state": TrialState.FAIL}

        while len(values) < limit:
            trial = study.ask({PARAM: distribution})
            block = int(trial.params[PARAM])
            if block not in values:
                study.tell(trial, **state(run(block)))
                continue
            study.tell(trial, **state(values[block]))
            other = nearest_unevaluated(block, set(values), space.n_blocks)
            value = run(other)
            study.add_trial(optuna.trial.create_trial(
                params={PARAM: other}, distributions={PARAM: distribution},
                **({"value": value} if value is not None else {"state": TrialState.FAIL})))
        info = {"study_name": study.study_name, "trials": len(study.trials)}
        return PolicyResult(best_on_validation(observations), observations, info)


class OptunaTPE(OptunaPolicy):
    """Optuna's TPE over the block index as an ordered integer, optionally warm-started in Q4."""

    policy_name = "optuna-tpe"

    def make_sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        import optuna

        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=self.options["startup"])


class OptunaGP(OptunaPolicy):
    """Optuna's Gaussian-process sampler over the block index, for small budgets (needs PyTorch)."""

    policy_name = "optuna-gp"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if importlib.util.find_spec("torch") is None:
            raise BlockbenchError("policy optuna-gp needs PyTorch, which Optuna's GPSampler computes "
                                  "with: pip install torch (the CPU build is enough), or use optuna-tpe")

    def make_sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        import optuna

        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=self.options["startup"],
                                         deterministic_objective=False)
