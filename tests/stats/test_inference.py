"""Statistical building blocks, checked against scipy and textbook examples."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from blockbench.stats.inference import (
    holm,
    summarize,
    wilcoxon_min_n,
)


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
    # Before: a zero-width interval [0.5, 0.5]; a zero sd over seeds is no certainty.
    assert (same.sd, same.ci_low, same.ci_high) == (0.0, None, None)


def test_wilcoxon_threshold_is_where_scipy_can_first_reach_significance():
    need = wilcoxon_min_n(0.05)
    assert need == 6
    assert stats.wilcoxon(np.arange(1, need)).pvalue >= 0.05  # all of one sign, one seed fewer
    assert stats.wilcoxon(np.arange(1, need + 1)).pvalue < 0.05
    assert wilcoxon_min_n(0.01) == 8
    assert stats.wilcoxon(np.arange(1, 8)).pvalue >= 0.01 > stats.wilcoxon(np.arange(1, 9)).pvalue


def test_holm_textbook_example():
    # Holm (1979) step-down: sorted p * (m, m-1, ...), made monotone, capped at 1.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.01, 0.02, 0.03, 0.04, 0.05]) == pytest.approx([0.05, 0.08, 0.09, 0.09, 0.09])
    assert holm([0.5, 0.6]) == [1.0, 1.0]


def test_holm_skips_tests_not_run():
    assert holm([None, 0.01, None, 0.04]) == [None, pytest.approx(0.02), None, pytest.approx(0.04)]
    assert holm([]) == []
