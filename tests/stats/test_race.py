"""The racing statistics: each test against scipy, and the race's error rates by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from blockbench.stats.race import (
    conover_p,
    friedman_p,
    gain_upper_bound,
    leader_of,
    paired_worse_p,
    race_step,
)


def test_friedman_p_is_scipys_friedman_and_the_sign_test_for_two() -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(6, 4))
    assert friedman_p(scores) == pytest.approx(stats.friedmanchisquare(*scores.T).pvalue)
    two = np.array([[0.8, 0.7], [0.9, 0.6], [0.7, 0.7], [0.6, 0.5], [0.5, 0.4], [0.9, 0.3]])
    assert friedman_p(two) == pytest.approx(stats.binomtest(5, 5, 0.5).pvalue)  # the tie is dropped
    assert friedman_p(np.full((4, 3), 0.5)) == 1.0


def test_conover_p_follows_its_formula() -> None:
    scores = np.array([[0.9, 0.8, 0.7], [0.8, 0.9, 0.7], [0.9, 0.7, 0.8], [0.9, 0.8, 0.7]])
    ranks = stats.rankdata(scores, axis=1)
    sums = ranks.sum(axis=0)
    b, k = scores.shape
    se = math.sqrt(2 * (b * np.sum(ranks ** 2) - np.sum(sums ** 2)) / ((b - 1) * (k - 1)))
    expected = 2 * stats.t.sf((sums[0] - sums[2]) / se, (b - 1) * (k - 1))
    p = conover_p(scores, leader=0)
    assert p[0] == 1.0 and p[2] == pytest.approx(expected)
    concordant = np.tile([0.9, 0.8, 0.7], (3, 1)) + np.arange(3)[:, None] * 0.01
    assert list(conover_p(concordant, 0)) == [1.0, 0.0, 0.0]  # zero variance: certain


def test_paired_tests_are_scipys_paired_t() -> None:
    a = np.array([0.80, 0.82, 0.79, 0.85, 0.81])
    b = np.array([0.83, 0.84, 0.80, 0.86, 0.85])
    assert paired_worse_p(a, b) == pytest.approx(stats.ttest_rel(a, b, alternative="less").pvalue)
    ci = stats.ttest_rel(a, b).confidence_interval(0.90)  # the one-sided 95 % bound is its top
    assert gain_upper_bound(a, b, 0.05) == pytest.approx(ci.high)
    b_missing = b.copy()
    b_missing[0] = np.nan
    assert paired_worse_p(a, b_missing) == pytest.approx(
        stats.ttest_rel(a[1:], b[1:], alternative="less").pvalue)
    assert paired_worse_p(a[:1], b[:1]) is None and gain_upper_bound(a[:1], b[:1], 0.05) is None


def test_race_step_eliminates_only_when_due_and_significant() -> None:
    rng = np.random.default_rng(1)
    shift = rng.normal(0, 0.02, (5, 1))
    scores = np.array([0.85, 0.84, 0.70, 0.86]) + shift + rng.normal(0, 0.003, (5, 4))
    reference = 0.80 + shift[:, 0]
    quiet = race_step(scores, reference, alpha=0.05, min_gain=0.01, test=False)
    assert not quiet.worse_than_leader and not quiet.worse_than_reference and quiet.friedman_p is None
    step = race_step(scores, reference, alpha=0.05, min_gain=0.01)
    assert leader_of(scores) == step.leader == 3
    assert 2 in step.worse_than_leader and 2 in step.worse_than_reference
    assert step.best == 3 and step.gain_ucb is not None and step.gain_ucb > 0.05 and not step.futile
    flat = race_step(reference[:, None] + rng.normal(0, 0.001, (5, 3)), reference,
                     alpha=0.05, min_gain=0.01)
    assert flat.futile and flat.gain_ucb is not None and flat.gain_ucb < 0.01


def _race(rng: np.random.Generator, gains: np.ndarray, *, seeds: int = 10, n_val: int = 150,
          accuracy: float = 0.8, alpha: float = 0.05, min_gain: float = 0.01,
          min_seeds: int = 3) -> tuple[bool, bool, str | None, set[int]]:
    """One race as the policy runs it, on binomial validation counts with a shared seed effect.

    Returns whether any candidate was eliminated as worse than the leader, whether any was
    eliminated as worse than the reference, why it stopped (None: all seeds), the survivors.
    """
    alive = list(range(len(gains)))
    rows, reference = [], []
    by_leader = by_reference = False
    for r in range(1, seeds + 1):
        effect = rng.normal(0, 0.02)
        rows.append(rng.binomial(n_val, np.clip(accuracy + effect + gains, 0, 1)) / n_val)
        reference.append(rng.binomial(n_val, accuracy + effect) / n_val)
        step = race_step(np.array(rows)[:, alive], np.array(reference), alpha=alpha,
                         min_gain=min_gain, test=r >= min_seeds, looks=seeds - min_seeds + 1)
        by_leader |= bool(step.worse_than_leader)
        by_reference |= bool(step.worse_than_reference)
        gone = set(step.worse_than_leader) | set(step.worse_than_reference)
        alive = [a for j, a in enumerate(alive) if j not in gone]
        if len(alive) <= 1:
            return by_leader, by_reference, "one survivor", set(alive)
        if r >= min_seeds and step.futile:
            return by_leader, by_reference, "futility", set(alive)
    return by_leader, by_reference, None, set(alive)


def test_null_races_eliminate_no_more_often_than_alpha() -> None:
    """All 8 candidates and BL1 equal (n_val=150, binomial noise, shared seed effect), 10 seeds:
    the share of races with any elimination, by either rule, stays within alpha + 2 MC s.e."""
    rng = np.random.default_rng(17)
    races = 250
    results = [_race(rng, np.zeros(8)) for _ in range(races)]
    margin = 2 * math.sqrt(0.05 * 0.95 / races)
    by_leader = np.mean([r[0] for r in results])
    by_reference = np.mean([r[1] for r in results])
    assert by_leader <= 0.05 + margin, by_leader
    assert by_reference <= 0.05 + margin, by_reference


def test_a_much_better_candidate_is_never_stopped_by_futility_nor_eliminated() -> None:
    rng = np.random.default_rng(3)
    gains = np.zeros(6)
    gains[2] = 0.10  # 10 points over BL1 and the others
    results = [_race(rng, gains) for _ in range(60)]
    assert not any(stopped == "futility" for _, _, stopped, _ in results)
    assert all(2 in alive for *_, alive in results)
    assert np.mean([stopped == "one survivor" for _, _, stopped, _ in results]) >= 0.8
