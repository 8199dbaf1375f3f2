"""False-alarm rate and power of the regression gate (``blockbench check``), old rule vs new.

Data come from a crossed seed x example model: on a test set of ``n_test``
examples, run ``s`` of a method gets example ``e`` right with probability
``sigmoid(mu + a_s + b_e)``, ``a_s ~ N(0, sd_seed^2)`` (training noise, one draw
per run), ``b_e ~ N(0, sd_example^2)`` (example difficulty, one draw per test set,
shared by baseline and rerun) and independent Bernoulli outcomes (which
examples a trained model gets right). The baseline has seeds ``1..n``; the rerun
the same seeds with **fresh** seed-level and Bernoulli draws of the same size:
the conservative "no change" case of a rerun on another machine, where
floating-point noise amplified by training makes every run differ. (On one
machine the engine is deterministic, a rerun is bit-identical and the gate
passes with certainty.) A drop of ``d`` examples removes ``d`` hits at every
seed of the rerun (drops of 2, 5 and 11 of 72 examples, scaled to the test-set size).

A gate holds 3 gated methods (BL1, BL2, Bopt of one table), simulated as
independent; its false alarm is a failure of any of them under no change.

* old: ``blockbench check`` up to issue 13: per method, fail when the mean over
  seeds dropped by more than ``3 * max(sd_base * sqrt(2 / n), binomial SE)``;
* new: :func:`blockbench.report.check.drop_threshold` on the per-seed hit
  differences, one-sided paired t at ``alpha / 3`` (Bonferroni).

Run it as ``python benchmarks/gate_calibration.py [--reps 2000]``.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

import numpy as np

from blockbench.report.check import DEFAULT_ALPHA, drop_threshold

METHODS = 3
CHUNK = 250  # repetitions drawn at once (memory: reps x methods x seeds x n_test)


@dataclass(frozen=True)
class Noise:
    """One setting of the crossed model (logit scale)."""

    name: str
    mu: float
    sd_seed: float
    sd_example: float
    n_test: int = 72


#: The demo's test-set size (72), then a large test set where seed noise is all there is.
SETTINGS = (
    Noise("seed noise dominant", mu=1.4, sd_seed=0.5, sd_example=1.0),
    Noise("test-set noise dominant", mu=1.4, sd_seed=0.05, sd_example=1.0),
    Noise("near-deterministic (BL1-like)", mu=0.3, sd_seed=0.05, sd_example=4.0),
    Noise("seed noise only (large test set)", mu=1.4, sd_seed=0.5, sd_example=1.0, n_test=1000),
)


def simulate(noise: Noise, seeds: int, reps: int, drop: int = 0,
             rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Hit counts ``(baseline, rerun)``, each of shape ``(reps, METHODS, seeds)``."""
    rng = rng or np.random.default_rng(0)
    chunks = [_chunk(noise, seeds, min(CHUNK, reps - start), rng) for start in range(0, reps, CHUNK)]
    base = np.concatenate([c[0] for c in chunks])
    return base, np.maximum(np.concatenate([c[1] for c in chunks]) - drop, 0)


def _chunk(noise: Noise, seeds: int, reps: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    examples = rng.normal(0, noise.sd_example, (reps, METHODS, 1, noise.n_test))

    def hits() -> np.ndarray:
        runs = rng.normal(0, noise.sd_seed, (reps, METHODS, seeds, 1))
        p = 1 / (1 + np.exp(-(noise.mu + runs + examples)))
        return (rng.random(p.shape) < p).sum(axis=-1)

    return hits(), hits()


def old_gate(base: np.ndarray, now: np.ndarray, n_test: int, sigmas: float = 3.0) -> np.ndarray:
    """The rule of ``report/check.py`` before issue 13, per method (vectorised)."""
    n = base.shape[-1]
    pb, pc = base.mean(-1) / n_test, now.mean(-1) / n_test
    seed_se = (base / n_test).std(-1, ddof=1) * math.sqrt(2 / n)
    test_se = np.sqrt(pb * (1 - pb) / n_test + pc * (1 - pc) / n_test)
    return pc - pb < -sigmas * np.maximum(seed_se, test_se)


def new_gate(base: np.ndarray, now: np.ndarray, alpha: float = DEFAULT_ALPHA) -> np.ndarray:
    """The seed-by-seed gate, per method, at the Bonferroni level of one table."""
    diffs = (now - base).astype(float)
    return diffs.mean(-1) < -drop_threshold(diffs, alpha / METHODS)


def rates(noise: Noise, seeds: int, reps: int, drop: int = 0, seed: int = 0) -> dict[str, float]:
    """Per-method and per-gate (any of the methods) failure rates of both rules."""
    base, now = simulate(noise, seeds, reps, drop, np.random.default_rng(seed))
    old, new = old_gate(base, now, noise.n_test), new_gate(base, now)
    return {"old_method": float(old[:, 0].mean()), "old_gate": float(old.any(-1).mean()),
            "new_method": float(new[:, 0].mean()), "new_gate": float(new.any(-1).mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2000)
    args = parser.parse_args()
    print(f"{args.reps} repetitions, {METHODS} gated methods, "
          f"alpha = {DEFAULT_ALPHA} (new: {DEFAULT_ALPHA / METHODS:.4f} per method)\n")
    for noise in SETTINGS:
        print(f"## {noise.name} (n_test {noise.n_test}, logit sd seed {noise.sd_seed}, "
              f"example {noise.sd_example}, accuracy {1 / (1 + math.exp(-noise.mu)):.2f})\n")
        print("| seeds | drop | old: per method | old: gate | new: per method | new: gate |")
        print("|---|---|---|---|---|---|")
        for seeds in (2, 3, 5, 10):
            for drop in (0, *(round(d * noise.n_test / 72) for d in (2, 5, 11))):
                r = rates(noise, seeds, args.reps, drop, seed=seeds * 100 + drop)
                print(f"| {seeds} | {drop}/{noise.n_test} | {r['old_method']:.3f} | {r['old_gate']:.3f} "
                      f"| {r['new_method']:.3f} | {r['new_gate']:.3f} |")
        print()


if __name__ == "__main__":
    main()
