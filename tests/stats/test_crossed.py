"""The crossed seed x example comparison: audit reproducers of issue 13, on integer evidence."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from blockbench.stats.crossed import (
    CROSSED,
    SEED_T,
    UNKNOWN_NONE,
    UNKNOWN_ONE,
    Evidence,
    accuracy_ci,
    compare,
    components,
    hedges_gz,
)
from blockbench.stats.inference import LOSS, WIN, WITHIN_NOISE


def _mcnemar_pair() -> tuple[np.ndarray, np.ndarray]:
    """200 images: 150 right for both, 10 only for A, 2 only for B, 38 wrong for both."""
    a = np.array([1] * 150 + [1] * 10 + [0] * 2 + [0] * 38, dtype=bool)
    b = np.array([1] * 150 + [0] * 10 + [1] * 2 + [0] * 38, dtype=bool)
    return a, b


def _ev(correct: np.ndarray) -> Evidence:
    return Evidence(float(correct.sum()), len(correct), correct)


def test_mcnemar_example_is_a_paired_win():
    # Before: independent SE 0.041, "within noise"; paired SE 0.017, exact McNemar p = 0.039.
    a, b = _mcnemar_pair()
    r = compare({s: _ev(a) for s in range(3)}, {s: _ev(b) for s in range(3)})
    assert r.method == CROSSED and r.n_examples == 200 and r.n_seeds == 3
    assert r.diff == pytest.approx(0.04)
    d = a.astype(int) - b.astype(int)
    paired_se = d.std(ddof=1) / np.sqrt(200)
    assert paired_se == pytest.approx(0.0172, abs=1e-4)
    assert r.df == pytest.approx(199)  # only the example term carries variance
    assert r.verdict == WIN and r.p < 0.05 and r.ci_low > 0
    assert stats.binomtest(10, 12).pvalue == pytest.approx(0.0386, abs=1e-3)


def test_one_shared_seed_gives_no_verdict():
    a, b = _mcnemar_pair()
    # Before: a one-seed "win" was declared with no seed variance at all.
    one = compare({0: _ev(a)}, {0: _ev(b), 1: _ev(b)})
    assert one.verdict == UNKNOWN_ONE and one.p is None and one.ci_low is None
    none = compare({0: _ev(a)}, {1: _ev(b)})
    assert none.verdict == UNKNOWN_NONE and none.n_seeds == 0


def test_float_noise_equal_differences_are_exactly_zero_in_counts():
    # Before: d_z ~ 1e6 and p ~ 1e-14 from accuracies equal up to float noise.
    n = 72
    acc_a = [0.1 + 0.2, 0.5, 0.7 + 0.1]
    acc_b = [0.3, 0.5, 0.8]
    a = {s: Evidence(round(x * n), n) for s, x in enumerate(acc_a)}
    b = {s: Evidence(round(x * n), n) for s, x in enumerate(acc_b)}
    r = compare(a, b)
    assert r.method == SEED_T and r.diff == 0.0
    assert r.p == 1.0 and r.verdict == WITHIN_NOISE
    assert r.ci_low < 0 < r.ci_high  # the add-half floor: no zero-width interval
    five_a = {s: Evidence(round((0.1 + 0.2) * n) + s % 2, n) for s in range(6)}
    five_b = {s: Evidence(round(0.3 * n) + s % 2, n) for s in range(6)}
    assert hedges_gz(five_a, five_b) is None  # identical differences: no standardised effect


def test_seed_level_fallback_says_test_set_noise_is_not_counted():
    a = {s: Evidence(k, 100) for s, k in enumerate([80, 82, 79, 85])}
    b = {s: Evidence(k, 100) for s, k in enumerate([70, 73, 71, 74])}
    r = compare(a, b)
    assert r.method == SEED_T and "test-set noise not counted" in r.note
    d = np.array([10, 9, 8, 11]) / 100
    assert r.df == 3 and r.diff == pytest.approx(d.mean())
    assert r.verdict == WIN and -1 <= r.ci_low <= r.ci_high <= 1
    lose = compare(b, a)
    assert lose.verdict == LOSS and lose.diff == pytest.approx(-r.diff)


def test_accuracy_ci_stays_inside_0_1_and_never_has_zero_width():
    # Before: the demo printed 0.903 [0.550, 1.256] (2 seeds, t quantile 12.7 on a linear scale).
    ev = {0: Evidence(96, 100), 1: Evidence(85, 100)}
    ci = accuracy_ci(ev)
    assert 0 < ci.ci_low < ci.mean < ci.ci_high < 1
    assert ci.mean == pytest.approx(0.905)
    perfect = accuracy_ci({s: Evidence(50, 50) for s in range(3)})
    assert perfect.mean == 1.0 and perfect.ci_low < perfect.ci_high < 1.0
    assert "floored" in perfect.note
    rng = np.random.default_rng(0)
    outcomes = rng.random((4, 300)) < 0.9
    crossed = accuracy_ci({s: _ev(outcomes[s]) for s in range(4)})
    assert crossed.method == CROSSED and 0 < crossed.ci_low < crossed.mean < crossed.ci_high < 1
    one = accuracy_ci({0: _ev(outcomes[0])})
    assert one.note.startswith("one seed: test-set noise only") and one.ci_low < one.mean < one.ci_high


def test_components_match_the_two_way_anova_by_hand():
    rng = np.random.default_rng(1)
    x = (rng.random((3, 40)) < 0.6).astype(float) - (rng.random((3, 40)) < 0.5)
    s, e = x.shape
    m = x.mean()
    ms_seed = e * ((x.mean(1) - m) ** 2).sum() / (s - 1)
    ms_ex = s * ((x.mean(0) - m) ** 2).sum() / (e - 1)
    resid = x - x.mean(1, keepdims=True) - x.mean(0, keepdims=True) + m
    ms_res = (resid**2).sum() / ((s - 1) * (e - 1))
    mean, var, df = components(x[None])
    expected = (ms_seed + ms_ex - ms_res) / (s * e) if ms_seed + ms_ex > ms_res else (ms_seed + ms_ex) / (s * e)
    assert mean[0] == pytest.approx(m) and var[0] == pytest.approx(expected)
    assert df[0] >= 1


def test_hedges_gz_hidden_below_five_seeds_and_with_an_interval_above():
    a = {s: Evidence(k, 100) for s, k in enumerate([80, 82, 79, 85, 81])}
    b = {s: Evidence(k, 100) for s, k in enumerate([70, 73, 71, 74, 75])}
    assert hedges_gz({s: a[s] for s in range(4)}, b) is None
    g, low, high = hedges_gz(a, b)
    d = np.array([10, 9, 8, 11, 6])
    assert g == pytest.approx((1 - 3 / 15) * d.mean() / d.std(ddof=1))
    assert low < g < high
