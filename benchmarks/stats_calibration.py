"""False-positive rate and power of the paired verdict, old (noise band) vs new (crossed model).

Data come from a crossed seed x example model on the logit scale: a method's
seed effect (sd ``seed_sd``), an example difficulty shared by both methods (sd
``diff_sd``), a per-example paired effect (sd ``pair_sd``, +w for A, -w for B)
and Bernoulli outcomes; ``effect`` shifts A's logit up by that much.

Run: ``.venv/bin/python benchmarks/stats_calibration.py [reps]``.
"""

from __future__ import annotations

import sys

import numpy as np
from scipy import stats

from blockbench.stats.crossed import components, decide

SETTINGS = {  # name: (seed_sd, diff_sd, pair_sd, n_examples)
    "seed noise dominant": (0.30, 1.0, 0.05, 500),
    "test-set noise dominant": (0.03, 1.0, 0.50, 200),
}


def simulate(rng: np.random.Generator, reps: int, seeds: int, examples: int, seed_sd: float,
             diff_sd: float, pair_sd: float, effect: float, base: float = 1.0
             ) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes ``a, b`` of shape (reps, seeds, examples), bool."""
    difficulty = rng.normal(0, diff_sd, (reps, 1, examples))
    pair = rng.normal(0, pair_sd, (reps, 1, examples))
    ua = rng.normal(0, seed_sd, (reps, seeds, 1))
    ub = rng.normal(0, seed_sd, (reps, seeds, 1))
    pa = 1 / (1 + np.exp(-(base + difficulty + pair + ua + effect)))
    pb = 1 / (1 + np.exp(-(base + difficulty - pair + ub)))
    return rng.random(pa.shape) < pa, rng.random(pb.shape) < pb


def new_rejects(a: np.ndarray, b: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """The crossed verdict (win or loss) of each repetition."""
    d = a.astype(float) - b.astype(float)
    n = d.shape[-2] * d.shape[-1]
    m, var, df = components(d)
    var = np.maximum(var, 1 / n**2)
    return decide(m, var, df, n, alpha)[3]


def old_rejects(a: np.ndarray, b: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Before: ``|diff| > z · max(independent test-set SE, seed SE)``."""
    e = a.shape[-1]
    acc_a, acc_b = a.mean(axis=-1), b.mean(axis=-1)
    d = acc_a - acc_b
    diff = d.mean(axis=-1)
    ma, mb = acc_a.mean(axis=-1), acc_b.mean(axis=-1)
    se_test = np.hypot(np.sqrt(ma * (1 - ma) / e), np.sqrt(mb * (1 - mb) / e))
    se_seed = d.std(axis=-1, ddof=1) / np.sqrt(d.shape[-1])
    return np.abs(diff) > stats.norm.ppf(1 - alpha / 2) * np.maximum(se_test, se_seed)


def table(reps: int = 2000, effects: tuple[float, ...] = (0.0, 0.15, 0.3)) -> list[dict[str, object]]:
    rng = np.random.default_rng(2024)
    rows = []
    for name, (seed_sd, diff_sd, pair_sd, examples) in SETTINGS.items():
        for seeds in (2, 3, 5, 10):
            for effect in effects:
                a, b = simulate(rng, reps, seeds, examples, seed_sd, diff_sd, pair_sd, effect)
                rows.append({"setting": name, "seeds": seeds, "effect": effect,
                             "old": float(old_rejects(a, b).mean()),
                             "new": float(new_rejects(a, b).mean())})
    return rows


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    print(f"{'setting':<26}{'seeds':>6}{'effect':>8}{'old rate':>10}{'new rate':>10}   (effect 0: false positives)")
    for r in table(n):
        print(f"{r['setting']:<26}{r['seeds']:>6}{r['effect']:>8.2f}{r['old']:>10.3f}{r['new']:>10.3f}")
