"""Rank tests across independent units, exact where the count of arrangements allows.

* :func:`friedman` — the Friedman test of equal ranks. With few units the
  chi-square approximation is poor, so its p-value comes from the permutation
  distribution: within each unit the methods' ranks are exchangeable under the
  null hypothesis. Every arrangement is enumerated when there are at most
  :data:`EXACT_LIMIT` of them (the first unit is held fixed: relabelling all
  units at once leaves the statistic unchanged), else :data:`MONTE_CARLO_DRAWS`
  random arrangements with the fixed seed :data:`MONTE_CARLO_SEED` are drawn.
* :func:`wilcoxon` — the Wilcoxon signed-rank test, zeros dropped, ties kept
  (average ranks), exact by enumerating every sign flip up to
  :data:`EXACT_SIGNS` non-zero differences, normal approximation with tie
  correction above. It does not depend on the scipy version's exact tables.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

EXACT_BELOW_UNITS = 10
EXACT_LIMIT = 200_000
MONTE_CARLO_DRAWS = 20_000
MONTE_CARLO_SEED = 0
EXACT_SIGNS = 16


@dataclass(frozen=True)
class RankTest:
    """A statistic, its p-value and how the p-value was computed."""

    statistic: float
    p_value: float
    method: str


def within_ranks(scores: np.ndarray) -> np.ndarray:
    """Rank each row (unit) of ``scores``: 1 = highest, ties share the average rank."""
    from scipy import stats

    return np.vstack([stats.rankdata(-row) for row in scores])


def friedman(scores: np.ndarray) -> RankTest:
    """Friedman test on ``scores`` (units x methods, higher is better)."""
    from scipy import stats

    n, k = scores.shape
    chi2 = stats.friedmanchisquare(*scores.T)
    if n >= EXACT_BELOW_UNITS:
        return RankTest(float(chi2.statistic), float(chi2.pvalue), "chi-square approximation")
    ranks = within_ranks(scores)
    # Within-unit ties are fixed by the data, so the tie-corrected chi-square is a
    # monotone function of the sum of squared rank sums: permute that.
    observed = float(np.sum(ranks.sum(axis=0) ** 2))
    arrangements = math.factorial(k) ** (n - 1)
    if arrangements <= EXACT_LIMIT:
        sums = ranks[:1]
        for row in ranks[1:]:
            perms = np.array(list(itertools.permutations(row)))
            sums = (sums[:, None, :] + perms[None, :, :]).reshape(-1, k)
        at_least = int(np.sum(np.sum(sums ** 2, axis=1) >= observed - 1e-9))
        return RankTest(float(chi2.statistic), at_least / len(sums),
                          f"exact permutation ({len(sums)} arrangements)")
    rng = np.random.default_rng(MONTE_CARLO_SEED)
    order = np.argsort(rng.random((MONTE_CARLO_DRAWS, n, k)), axis=2)
    drawn = np.take_along_axis(np.broadcast_to(ranks, order.shape), order, axis=2)
    at_least = int(np.sum(np.sum(drawn.sum(axis=1) ** 2, axis=1) >= observed - 1e-9))
    return RankTest(float(chi2.statistic), (1 + at_least) / (1 + MONTE_CARLO_DRAWS),
                      f"Monte Carlo permutation ({MONTE_CARLO_DRAWS} draws, seed {MONTE_CARLO_SEED})")


def wilcoxon(d: np.ndarray) -> RankTest:
    """Two-sided Wilcoxon signed-rank test of paired differences ``d`` (zeros dropped).

    The differences must be exact where they tie (compute them from hit counts,
    or from fractions): ties get average ranks.
    """
    from scipy import stats

    x = d[d != 0]
    n = len(x)
    if n == 0:
        return RankTest(0.0, 1.0, "no non-zero difference")
    ranks = stats.rankdata(np.abs(x))
    observed = float(ranks[x > 0].sum())
    centre = float(ranks.sum()) / 2
    if n <= EXACT_SIGNS:
        signs = (np.arange(2 ** n)[:, None] >> np.arange(n)[None, :]) & 1
        t = signs @ ranks
        extreme = np.abs(t - centre) >= abs(observed - centre) - 1e-9
        return RankTest(observed, float(np.mean(extreme)), f"exact ({2 ** n} sign flips)")
    _, counts = np.unique(ranks, return_counts=True)
    var = n * (n + 1) * (2 * n + 1) / 24 - float(np.sum(counts ** 3 - counts)) / 48
    z = (observed - centre) / math.sqrt(var)
    return RankTest(observed, float(2 * stats.norm.sf(abs(z))), "normal approximation, tie-corrected")
