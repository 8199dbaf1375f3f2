"""The statistics of one racing round (F-Race): pure functions on arrays of validation accuracy.

A race (Birattari et al., "A racing algorithm for configuring metaheuristics",
GECCO 2002; irace, López-Ibáñez et al., Operations Research Perspectives 2016)
evaluates every surviving candidate on one more instance (here, a seed), then
eliminates the candidates that are statistically worse than the leader. After
each round, :func:`race_step` looks at ``scores`` (seeds x surviving
candidates, blocked by seed) and at the reference arm (BL1) on the same seeds:

* **Friedman test** of equal ranks across the survivors, blocked by seed, with
  the chi-square approximation F-Race uses (scipy's ``friedmanchisquare``, tie
  corrected). With two survivors the Friedman test is the sign test, so the
  exact two-sided binomial sign test is used instead (:func:`friedman_p`).
* **Post-hoc, only when Friedman rejects**: Conover's rank-based t test of each
  survivor against the leader (Conover, *Practical Nonparametric Statistics*,
  3rd ed., 1999, §5.8, the post-hoc F-Race uses): with within-seed ranks
  ``R_ij`` (higher = better), rank sums ``R_j``, ``A = Σ R_ij²`` and ``b`` seeds,
  ``t = (R_leader - R_j) / sqrt(2 (b A - Σ R_j²) / ((b-1)(k-1)))`` on
  ``(b-1)(k-1)`` degrees of freedom, two-sided, Holm-corrected over the k-1
  comparisons (:func:`conover_p`). Two-sided, because the leader is chosen
  from the same data.
* **BL1 bar**: a one-sided paired t test of each survivor against BL1 on the
  seeds both ran (H1: worse than BL1), Holm-corrected over the survivors.
* **Futility**: the one-sided (1 - alpha) upper confidence bound (paired t) of
  the mean difference between the best surviving candidate (by mean) and BL1.
  Taking the best of several candidates biases the bound upwards, which makes
  futility conservative.

The leader is the survivor with the best rank sum (ties: best mean, then the
earliest column). Its false-elimination rate under the null hypothesis is
measured by simulation in tests/stats/test_race.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from blockbench.stats.holm import holm


@dataclass(frozen=True)
class RaceStep:
    """What one round's statistics decide (columns index the survivors given).

    Attributes:
        leader: column of the leader (best rank sum; ties: best mean, then earliest).
        friedman_p: p-value of the Friedman (or, with two survivors, sign) test; None when
            not tested (fewer than two survivors or tests not due yet).
        worse_than_leader: column -> Holm-adjusted p of the columns eliminated as worse
            than the leader.
        worse_than_reference: column -> Holm-adjusted p of the columns eliminated as
            worse than the reference arm.
        best: column with the best mean among the columns not eliminated.
        gain_ucb: upper confidence bound of mean(best - reference), in accuracy units;
            None with fewer than two shared seeds.
        futile: whether ``gain_ucb`` fell below ``min_gain``.
    """

    leader: int
    friedman_p: float | None
    worse_than_leader: dict[int, float] = field(default_factory=dict)
    worse_than_reference: dict[int, float] = field(default_factory=dict)
    best: int = 0
    gain_ucb: float | None = None
    futile: bool = False


def leader_of(scores: np.ndarray) -> int:
    """The column with the best within-row rank sum; ties: best mean, then earliest column."""
    from scipy import stats

    if scores.shape[1] == 0:
        return -1
    ranks = stats.rankdata(scores, axis=1)
    sums, means = ranks.sum(axis=0), scores.mean(axis=0)
    return min(range(scores.shape[1]), key=lambda j: (-sums[j], -means[j], j))


def friedman_p(scores: np.ndarray) -> float:
    """p-value of equal ranks across the columns of ``scores`` (seeds x k, k >= 2), blocked by row.

    k >= 3: Friedman's chi-square approximation. k = 2: the exact two-sided sign
    test on the rows that differ (the Friedman test's two-sample case).
    """
    from scipy import stats

    k = scores.shape[1]
    if k == 2:
        d = scores[:, 0] - scores[:, 1]
        nonzero = int(np.sum(d != 0))
        if nonzero == 0:
            return 1.0
        return float(stats.binomtest(int(np.sum(d > 0)), nonzero, 0.5).pvalue)
    if np.all(scores == scores[:, :1]):
        return 1.0  # every seed ties every candidate: scipy's statistic is undefined
    return float(stats.friedmanchisquare(*scores.T).pvalue)


def conover_p(scores: np.ndarray, leader: int) -> np.ndarray:
    """Two-sided p of Conover's Friedman post-hoc t test of each column against ``leader``.

    The leader's own entry is 1. When every row ranks the columns identically
    the test's variance is zero: a rank-sum difference is then certain (p = 0).
    """
    from scipy import stats

    b, k = scores.shape
    if k == 2:
        p = np.ones(2)
        p[1 - leader] = friedman_p(scores)
        return p
    ranks = stats.rankdata(scores, axis=1)
    sums = ranks.sum(axis=0)
    df = (b - 1) * (k - 1)
    spread = 2.0 * (b * float(np.sum(ranks ** 2)) - float(np.sum(sums ** 2))) / df
    diff = sums[leader] - sums
    if spread <= 1e-12:
        p = np.where(np.abs(diff) > 1e-9, 0.0, 1.0)
    else:
        p = 2.0 * stats.t.sf(np.abs(diff) / math.sqrt(spread), df)
    p[leader] = 1.0
    return np.minimum(p, 1.0)


def paired_worse_p(candidate: np.ndarray, reference: np.ndarray) -> float | None:
    """One-sided paired t p-value of "candidate is worse than reference" on rows both have.

    NaN marks a missing value (a failed reference run). None with fewer than two
    shared rows; with zero spread the answer is certain (0 if worse, else 1).
    """
    from scipy import stats

    d = (candidate - reference)[~np.isnan(candidate - reference)]
    if len(d) < 2:
        return None
    sd = float(np.std(d, ddof=1))
    if sd <= 1e-12:
        return 0.0 if float(np.mean(d)) < 0 else 1.0
    return float(stats.t.cdf(float(np.mean(d)) / (sd / math.sqrt(len(d))), len(d) - 1))


def gain_upper_bound(candidate: np.ndarray, reference: np.ndarray, alpha: float) -> float | None:
    """One-sided (1 - alpha) paired-t upper bound of mean(candidate - reference) (NaN rows left out)."""
    from scipy import stats

    d = (candidate - reference)[~np.isnan(candidate - reference)]
    if len(d) < 2:
        return None
    sd = float(np.std(d, ddof=1))
    return float(np.mean(d) + stats.t.ppf(1 - alpha, len(d) - 1) * sd / math.sqrt(len(d)))


def race_step(scores: np.ndarray, reference: np.ndarray, *, alpha: float, min_gain: float,
              test: bool = True, looks: int = 1) -> RaceStep:
    """Decide one round: eliminations (when ``test``), the leader, and futility.

    Args:
        scores: validation accuracy, seeds x surviving candidates (every survivor ran every row).
        reference: the reference arm's (BL1's) validation accuracy per row; NaN where it failed.
        alpha: significance level of every test and of the futility bound.
        min_gain: the smallest gain over the reference worth having, in accuracy units.
        test: run the tests (False before the race's ``min_seeds`` rounds).
        looks: how many rounds of the race may test; each tests at ``alpha / looks``
            (Bonferroni over the looks), so the whole race's false-elimination rate
            stays at most ``alpha`` per family. The futility bound uses ``alpha``.
    """
    scores = np.asarray(scores, dtype=float)
    reference = np.asarray(reference, dtype=float)
    k = scores.shape[1]
    leader = leader_of(scores)
    if not test or k == 0:
        return RaceStep(leader, None, best=_best(scores, set()),
                        gain_ucb=_ucb(scores, reference, set(), alpha))
    level = alpha / max(looks, 1)
    fp = friedman_p(scores) if k >= 2 else None
    worse: dict[int, float] = {}
    if fp is not None and fp <= level:
        others = [j for j in range(k) if j != leader]
        raw = conover_p(scores, leader)
        adjusted = holm([float(raw[j]) for j in others])
        worse = {j: float(p) for j, p in zip(others, adjusted, strict=True)
                 if p is not None and p <= level and scores[:, j].mean() < scores[:, leader].mean()}
    raw_ref = [paired_worse_p(scores[:, j], reference) for j in range(k)]
    below = {j: float(p) for j, p in enumerate(holm(raw_ref)) if p is not None and p <= level}
    gone = set(worse) | set(below)
    ucb = _ucb(scores, reference, gone, alpha)
    futile = ucb is not None and ucb < min_gain
    return RaceStep(leader, fp, worse, below, _best(scores, gone), ucb, futile)


def _best(scores: np.ndarray, gone: set[int]) -> int:
    left = [j for j in range(scores.shape[1]) if j not in gone]
    if not left:
        return -1
    means = scores.mean(axis=0)
    return min(left, key=lambda j: (-means[j], j))


def _ucb(scores: np.ndarray, reference: np.ndarray, gone: set[int], alpha: float) -> float | None:
    best = _best(scores, gone)
    return None if best < 0 else gain_upper_bound(scores[:, best], reference, alpha)
