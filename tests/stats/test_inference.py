"""Statistical building blocks, checked against scipy and textbook examples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from blockbench.stats.inference import (
    LOSS,
    UNKNOWN,
    WIN,
    WITHIN_NOISE,
    binomial_se,
    diff_binomial_se,
    holm,
    noise_verdict,
    norm_quantile,
    paired_test,
    summarize,
    wilcoxon_min_n,
)

# A hand-made paired sample: a method and a baseline over 7 seeds (one tie).
A = [0.81, 0.83, 0.80, 0.86, 0.84, 0.82, 0.85]
B = [0.78, 0.80, 0.80, 0.81, 0.80, 0.79, 0.83]


def test_summary_matches_scipy_t_interval():
    values = [0.80, 0.82, 0.81, 0.85]
    s = summarize(values)
    low, high = stats.t.interval(0.95, 3, loc=np.mean(values), scale=stats.sem(values))
    assert s.n == 4
    assert s.mean == pytest.approx(np.mean(values))
    assert s.sd == pytest.approx(np.std(values, ddof=1))
    assert (s.ci_low, s.ci_high) == (pytest.approx(low), pytest.approx(high))


def test_summary_of_one_and_no_value_has_no_spread():
    assert summarize([0.7]).mean == 0.7 and summarize([0.7]).sd is None
    assert summarize([0.7]).ci_low is None
    assert summarize([]).n == 0 and summarize([]).mean is None
    same = summarize([0.5, 0.5, 0.5])
    assert (same.sd, same.ci_low, same.ci_high) == (0.0, 0.5, 0.5)


def test_paired_test_matches_scipy():
    p = paired_test(A, B)
    ttest = stats.ttest_rel(A, B)
    ci = ttest.confidence_interval(0.95)
    d = np.subtract(A, B)
    assert p.n == 7
    assert p.mean_diff == pytest.approx(d.mean())
    assert p.t_p == pytest.approx(ttest.pvalue)
    assert (p.diff_ci_low, p.diff_ci_high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert p.cohens_dz == pytest.approx(d.mean() / d.std(ddof=1))
    assert p.wilcoxon_p == pytest.approx(stats.wilcoxon(d).pvalue)
    assert p.t_note is None and p.wilcoxon_note is None


def test_wilcoxon_threshold_is_where_scipy_can_first_reach_significance():
    need = wilcoxon_min_n(0.05)
    assert need == 6
    assert stats.wilcoxon(np.arange(1, need)).pvalue >= 0.05  # all of one sign, one seed fewer
    assert stats.wilcoxon(np.arange(1, need + 1)).pvalue < 0.05
    assert wilcoxon_min_n(0.01) == 8
    assert stats.wilcoxon(np.arange(1, 8)).pvalue >= 0.01 > stats.wilcoxon(np.arange(1, 9)).pvalue


def test_too_few_seeds_says_so_instead_of_a_p_value():
    three = paired_test(A[:3], B[:3])
    assert three.t_p is not None
    assert three.wilcoxon_p is None
    assert three.wilcoxon_note == "too few seeds: n=3, needs ≥6 for Wilcoxon"
    one = paired_test(A[:1], B[:1])
    assert one.t_p is None and one.t_note == "too few seeds: n=1, needs ≥2 for the t-test"
    assert one.mean_diff == pytest.approx(A[0] - B[0])
    # Six seeds but one tie: five non-zero differences cannot reach p < 0.05 either.
    tied = paired_test(A[:6], B[:6])
    assert tied.wilcoxon_p is None
    assert tied.wilcoxon_note == "too few non-zero differences: 5 of n=6, needs ≥6 for Wilcoxon"


def test_constant_differences_leave_the_t_test_undefined():
    same = paired_test([0.8, 0.7, 0.9], [0.8, 0.7, 0.9])
    assert same.t_p is None and "identical" in same.t_note
    assert same.mean_diff == 0.0
    shifted = paired_test([0.8, 0.7, 0.9], [0.75, 0.65, 0.85])
    assert shifted.t_p is None and "t-test undefined" in shifted.t_note
    assert shifted.mean_diff == pytest.approx(0.05)


def test_paired_test_rejects_unequal_lengths():
    with pytest.raises(ValueError, match="differ in length"):
        paired_test([0.1, 0.2], [0.1])


def test_holm_textbook_example():
    # Holm (1979) step-down: sorted p * (m, m-1, ...), made monotone, capped at 1.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.01, 0.02, 0.03, 0.04, 0.05]) == pytest.approx([0.05, 0.08, 0.09, 0.09, 0.09])
    assert holm([0.5, 0.6]) == [1.0, 1.0]


def test_holm_skips_tests_not_run():
    assert holm([None, 0.01, None, 0.04]) == [None, pytest.approx(0.02), None, pytest.approx(0.04)]
    assert holm([]) == []


def test_binomial_standard_errors():
    assert binomial_se(0.8, 100) == pytest.approx(0.04)
    assert binomial_se(0.8, 0) is None
    assert diff_binomial_se(0.8, 100, 0.5, 100) == pytest.approx(math.hypot(0.04, 0.05))
    assert diff_binomial_se(0.8, 100, 0.5, 0) is None


def test_noise_verdicts():
    z = stats.norm.ppf(0.975)
    assert norm_quantile(0.05) == pytest.approx(z)
    assert noise_verdict(0.05, [0.01, None]) == (WIN, pytest.approx(z * 0.01))
    assert noise_verdict(-0.05, [0.01])[0] == LOSS
    assert noise_verdict(0.015, [0.01, 0.002])[0] == WITHIN_NOISE
    # The larger of the two noise estimates decides.
    assert noise_verdict(0.05, [0.01, 0.03])[0] == WITHIN_NOISE
    assert noise_verdict(None, [0.01]) == (UNKNOWN, None)
    assert noise_verdict(0.05, [None, None]) == (UNKNOWN, None)
