"""``racing``: F-Race over seeds, with BL1 as the reference arm (see docs/policies.md, "Racing").

Each round trains the surviving candidates and BL1 on the next seed; after
``min_seeds`` rounds the statistics of :mod:`blockbench.stats.race` eliminate
candidates worse than the leader or than BL1, and stop the race when no
survivor can beat BL1 by ``min_gain`` points. Only validation accuracy is used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from blockbench.components.policy import (
    Budget,
    Evaluator,
    Observation,
    Policy,
    PolicyResult,
    SearchSpace,
    check_int,
    evaluate_batch,
    run_limit,
)
from blockbench.core.errors import UsageError
from blockbench.plugin.manager import get_components
from blockbench.stats.race import race_step

REFERENCE = "bl1"
UNLIMITED = 2 ** 62


def _first_stage(value: Any) -> tuple[str, int | None] | None:
    """Parse ``candidates``: None for "all", else (policy name, k or None); one-line errors."""
    if value == "all":
        return None
    bad = (f"option candidates={value!r} of policy racing is not valid; use 'all' or "
           "POLICY[:k], a per-seed policy and its runs, e.g. 'last-quarter' or 'optuna-tpe:8'")
    if not isinstance(value, str) or not value.strip():
        raise UsageError(bad)
    name, _, k_text = value.partition(":")
    k = None
    if k_text:
        if not k_text.isdigit() or int(k_text) < 1:
            raise UsageError(bad)
        k = int(k_text)
    policies = get_components().registry("policy")
    if name not in policies:
        raise UsageError(f"{bad}; known policies: {', '.join(sorted(policies.names()))}")
    factory = policies.get(name).factory
    if getattr(factory, "multi_seed", False) or getattr(factory, "cost_unit", "runs") != "runs":
        raise UsageError(f"{bad}; {name} is not a per-seed policy that costs runs")
    return policies.get(name).name, k


class Racing(Policy):
    """F-Race over seeds: eliminate blocks worse than the leader or than BL1, stop on futility.

    Options:
        candidates: "all" blocks, or "POLICY[:k]": the blocks a per-seed policy
            evaluates at the first seed with a budget of k runs (default: its own).
        min_seeds: rounds before the first test (default 3, at least 2).
        alpha: significance level (default 0.05).
        min_gain: the smallest gain over BL1 worth having, in accuracy points (default 1.0).
        max_seeds: most rounds (default None: every seed the evaluator offers).
    """

    multi_seed = True
    option_defaults = {"candidates": "all", "min_seeds": 3, "alpha": 0.05,
                                          "min_gain": 1.0, "max_seeds": None}

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        checked = super().check_options(options)
        _first_stage(checked["candidates"])
        check_int("racing", "min_seeds", checked["min_seeds"], 2)
        check_int("racing", "max_seeds", checked["max_seeds"], 1, allow_none=True)
        for name, low, high in (("alpha", 0.0, 1.0), ("min_gain", 0.0, math.inf)):
            value = checked[name]
            ok = isinstance(value, int | float) and not isinstance(value, bool) and (
                low < value < high if name == "alpha" else low <= value < high)
            if not ok:
                valid = "a number in (0, 1)" if name == "alpha" else "a number of points >= 0"
                raise UsageError(f"option {name}={value!r} of policy racing is not valid; use {valid}")
        return checked

    def planned_evaluations(self, space: SearchSpace, budget: Budget, full_epochs: int) -> int | None:
        limit = run_limit(space, budget, full_epochs, default=UNLIMITED)
        if limit < 2:
            return 0
        stage = _first_stage(self.options["candidates"])
        rounds = self.options["max_seeds"]
        if rounds is None or (stage is not None and stage[1] is None):
            return None if limit == UNLIMITED else limit
        first = space.n_blocks if stage is None or stage[1] is None else stage[1]
        bound = first + 1 + (min(first, space.n_blocks) + 1) * (rounds - 1)
        return min(bound, limit)

    def search(self, space: SearchSpace, evaluator: Evaluator, budget: Budget, seed: int) -> PolicyResult:
        opts = self.options
        seeds: list[int | None] = list(getattr(evaluator, "seeds", [None]))[:opts["max_seeds"]]
        limit = run_limit(space, budget, evaluator.full_epochs, default=UNLIMITED)
        if limit < 2:  # not even one candidate beside BL1
            return PolicyResult(None, [], {"reference": REFERENCE, "candidates": [], "rounds": [],
                                           "stopped": "budget", "gain_ucb": None,
                                           "min_gain": float(opts["min_gain"])})
        race = _Race(evaluator, limit, float(opts["alpha"]), float(opts["min_gain"]) / 100,
                     int(opts["min_seeds"]), max(len(seeds) - int(opts["min_seeds"]) + 1, 1))
        race.first_round(space, _first_stage(opts["candidates"]), seeds[0], seed)
        stopped = race.close_round()
        for s in seeds[1:]:
            if stopped:
                break
            if race.spent + len(race.alive) + 1 > limit:
                stopped = "budget"
                break
            race.round([REFERENCE, *race.alive], s)
            stopped = race.close_round()
        stopped = stopped or ("max seeds" if len(race.rows) == len(seeds) else "budget")
        return PolicyResult(race.pick(), race.observations, {
            "reference": REFERENCE, "candidates": race.candidates, "rounds": race.records,
            "stopped": stopped, "gain_ucb": race.gain_ucb, "min_gain": float(opts["min_gain"])})


class _Race:
    """The state of one race: survivors, their validation accuracy per round, the records."""

    def __init__(self, evaluator: Evaluator, limit: int, alpha: float, min_gain: float,
                 min_seeds: int, looks: int) -> None:
        self.evaluator, self.limit, self.alpha, self.min_gain = evaluator, limit, alpha, min_gain
        self.min_seeds, self.looks = min_seeds, looks
        self.observations: list[Observation] = []
        self.candidates: list[str] = []
        self.alive: list[str] = []
        self.rows: list[dict[str, float]] = []  # per round: target -> val (BL1 may be NaN)
        self.ran: list[str] = []
        self.failed: dict[str, str] = {}
        self.round_seed: int | None = None
        self.records: list[dict[str, Any]] = []
        self.gain_ucb: float | None = None
        self.spent = 0

    def first_round(self, space: SearchSpace, stage: tuple[str, int | None] | None,
                    first_seed: int | None, seed: int) -> None:
        room = max(self.limit - 1, 0)  # BL1 is raced every round
        if stage is None:
            blocks = space.targets()
            self.candidates = blocks[len(blocks) - min(len(blocks), room):]
            self.round([REFERENCE, *self.candidates], first_seed)
            return
        name, k = stage
        runs = min(k if k is not None else UNLIMITED, room)
        policy = get_components().registry("policy").get(name).factory()
        first = (policy.search(space, self.evaluator, Budget(runs=runs) if runs < UNLIMITED
                               else Budget(), seed) if runs > 0 else PolicyResult(None))
        observations = [o if o.seed is not None or first_seed is None else _with_seed(o, first_seed)
                        for o in first.observations]
        known = set(space.targets())
        full = [o for o in observations if o.target in known and o.ok
                and o.epochs >= self.evaluator.full_epochs]
        self.candidates = list(dict.fromkeys(o.target for o in full))
        self._start(first_seed, self.candidates)
        self._take(observations, full)
        if self.candidates:
            self._take(evaluate_batch(self.evaluator, [REFERENCE], seed=first_seed))

    def round(self, targets: Sequence[str], seed: int | None) -> None:
        """Train ``targets`` (BL1 first, then the survivors) on ``seed``: one round."""
        self._start(seed, targets[1:])
        self._take(evaluate_batch(self.evaluator, targets, seed=seed))

    def _start(self, seed: int | None, raced: Sequence[str]) -> None:
        self.rows.append({})
        self.ran, self.failed, self.round_seed = list(raced), {}, seed

    def _take(self, observations: list[Observation], scored: list[Observation] | None = None) -> None:
        self.observations.extend(observations)
        self.spent += len(observations)
        row = self.rows[-1]
        for obs in observations if scored is None else scored:
            if obs.ok and obs.val_acc is not None:
                row[obs.target] = float(obs.val_acc)
            elif obs.target == REFERENCE:
                row[REFERENCE] = math.nan
            else:
                self.failed[obs.target] = f"failed run at seed {obs.seed}"

    def close_round(self) -> str | None:
        """Apply this round's statistics; return why the race stops, or None to go on."""
        ran = self.ran
        eliminated = dict(self.failed)
        self.alive = [t for t in ran if t not in eliminated and t in self.rows[-1]]
        scores = np.array([[row[t] for t in self.alive] for row in self.rows]).reshape(len(self.rows), -1)
        reference = np.array([row.get(REFERENCE, math.nan) for row in self.rows])
        due = len(self.rows) >= self.min_seeds
        step = race_step(scores, reference, alpha=self.alpha, min_gain=self.min_gain, test=due,
                         looks=self.looks)
        leader = self.alive[step.leader] if self.alive else None
        for j, p in step.worse_than_leader.items():
            eliminated[self.alive[j]] = f"worse than leader {leader} (Conover, Holm p={p:.3g})"
        for j, p in step.worse_than_reference.items():
            eliminated.setdefault(self.alive[j], f"worse than {REFERENCE} (paired t, Holm p={p:.3g})")
        self.alive = [t for t in self.alive if t not in eliminated]
        self.gain_ucb = step.gain_ucb
        self.records.append({"seed": self.round_seed, "survivors": ran, "eliminated": eliminated,
                             "friedman_p": step.friedman_p, "leader": leader,
                             "gain_ucb": step.gain_ucb})
        report = getattr(self.evaluator, "report", None)
        if callable(report):
            report(f"racing round {len(self.rows)} (seed {self.round_seed}): {len(ran)} raced, "
                   f"{len(eliminated)} eliminated, {len(self.alive)} survive; {self.spent} runs")
        if len(self.alive) <= 1:
            return "one survivor" if self.alive else "no survivor"
        return "futility" if due and step.futile else None

    def pick(self) -> str | None:
        """The survivor with the best mean validation accuracy over its rounds (ties: earliest)."""
        means = {t: float(np.mean([row[t] for row in self.rows if t in row])) for t in self.alive}
        return min(self.alive, key=lambda t: (-means[t], self.candidates.index(t))) if means else None


def _with_seed(obs: Observation, seed: int | None) -> Observation:
    return Observation(obs.target, obs.val_acc, obs.epochs, obs.ok, seed)
