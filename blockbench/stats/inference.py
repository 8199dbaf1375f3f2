"""Statistical building blocks: summaries over seeds, paired tests, Holm, noise verdicts.

Distributions come from :mod:`scipy.stats`; only the Holm step-down adjustment
(arithmetic on sorted p-values) and the binomial standard error are written here.
A test that cannot reach significance with the seeds at hand is not run: its
p-value is ``None`` and a note says how many seeds it would need.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

#: Significance level of every test and confidence level ``1 - ALPHA`` of every interval.
ALPHA = 0.05

WIN = "win"
WITHIN_NOISE = "within noise"
LOSS = "loss"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation and t-based confidence interval over seeds.

    Attributes:
        n: number of values.
        mean: their mean (None when n = 0).
        sd: sample standard deviation, ddof = 1 (None when n < 2).
        ci_low, ci_high: confidence interval of the mean (None when n < 2).
    """

    n: int
    mean: float | None = None
    sd: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Summary:
        return cls(**dict(data))


def summarize(values: Sequence[float], alpha: float = ALPHA) -> Summary:
    """Summarise accuracies over seeds; the interval uses Student's t with n - 1 df."""
    x = np.asarray([v for v in values if v is not None], dtype=float)
    n = len(x)
    if n == 0:
        return Summary(0)
    mean = float(x.mean())
    if n < 2:
        return Summary(n, mean)
    sd = float(x.std(ddof=1))
    if sd == 0.0:
        return Summary(n, mean, 0.0, mean, mean)
    low, high = stats.t.interval(1 - alpha, n - 1, loc=mean, scale=sd / math.sqrt(n))
    return Summary(n, mean, sd, float(low), float(high))


def wilcoxon_min_n(alpha: float = ALPHA) -> int:
    """Fewest non-zero paired differences with which a two-sided exact Wilcoxon test can give p < alpha.

    The smallest two-sided p-value with n differences is 2 / 2**n (all of one sign).
    """
    return math.floor(1 + math.log2(1 / alpha)) + 1


@dataclass(frozen=True)
class PairedTest:
    """A paired comparison by seed of a method (a) against a reference (b).

    Attributes:
        n: number of seeds present for both.
        mean_diff: mean of a - b.
        diff_ci_low, diff_ci_high: t interval of the mean difference.
        cohens_dz: mean difference over the standard deviation of the differences.
        t_p, wilcoxon_p: two-sided p-values (None when the test was not run).
        t_note, wilcoxon_note: why a test was not run.
        t_p_holm, wilcoxon_p_holm: Holm-adjusted p-values, filled in per family.
    """

    n: int
    mean_diff: float | None = None
    diff_ci_low: float | None = None
    diff_ci_high: float | None = None
    cohens_dz: float | None = None
    t_p: float | None = None
    t_note: str | None = None
    wilcoxon_p: float | None = None
    wilcoxon_note: str | None = None
    t_p_holm: float | None = None
    wilcoxon_p_holm: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PairedTest:
        return cls(**dict(data))


def paired_test(a: Sequence[float], b: Sequence[float], alpha: float = ALPHA) -> PairedTest:
    """Paired t-test and Wilcoxon signed-rank test of ``a`` against ``b`` (same seed order)."""
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} and {len(b)}")
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    n = len(d)
    if n == 0:
        return PairedTest(0, t_note="no common seeds", wilcoxon_note="no common seeds")
    mean = float(d.mean())
    if n < 2:
        note = f"too few seeds: n={n}, needs ≥2 for the t-test"
        wnote = f"too few seeds: n={n}, needs ≥{wilcoxon_min_n(alpha)} for Wilcoxon"
        return PairedTest(n, mean, t_note=note, wilcoxon_note=wnote)
    sd = float(d.std(ddof=1))
    # Accuracies are fractions k/n_test, so exactly equal differences happen with few seeds.
    if np.allclose(d, d[0], rtol=0.0, atol=1e-12):
        summary = summarize(d, alpha)
        if abs(d[0]) <= 1e-12:
            note = "differences identical on every seed"
            return PairedTest(n, mean, summary.ci_low, summary.ci_high,
                              t_note=note + ": t-test undefined", wilcoxon_note=note)
        constant_note = _wilcoxon_note(n, n, alpha)
        return PairedTest(
            n, mean, summary.ci_low, summary.ci_high,
            t_note="differences the same on every seed: t-test undefined",
            wilcoxon_p=None if constant_note else _wilcoxon(d), wilcoxon_note=constant_note,
        )
    ttest = stats.ttest_rel(a, b)
    ci = ttest.confidence_interval(confidence_level=1 - alpha)
    nonzero = int(np.count_nonzero(d))
    wilcoxon_note = _wilcoxon_note(n, nonzero, alpha)
    return PairedTest(
        n, mean, float(ci.low), float(ci.high), mean / sd,
        t_p=float(ttest.pvalue),
        wilcoxon_p=None if wilcoxon_note else _wilcoxon(d),
        wilcoxon_note=wilcoxon_note,
    )


def _wilcoxon_note(n: int, nonzero: int, alpha: float) -> str | None:
    need = wilcoxon_min_n(alpha)
    if n < need:
        return f"too few seeds: n={n}, needs ≥{need} for Wilcoxon"
    if nonzero < need:
        return f"too few non-zero differences: {nonzero} of n={n}, needs ≥{need} for Wilcoxon"
    return None


def _wilcoxon(d: np.ndarray) -> float:
    return float(stats.wilcoxon(d).pvalue)


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm step-down adjustment; ``None`` entries (tests not run) stay None and do not count.

    With the m p-values sorted ascending, the i-th (1-based) becomes
    ``max over j <= i of min(1, (m - j + 1) * p_(j))``.
    """
    present = [(p, i) for i, p in enumerate(pvalues) if p is not None]
    m = len(present)
    adjusted: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, (p, index) in enumerate(sorted(present)):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[index] = running
    return adjusted


def binomial_se(p: float, n: int) -> float | None:
    """Standard error ``sqrt(p (1 - p) / n)`` of an accuracy p measured on n test examples."""
    if n <= 0 or p is None:
        return None
    return math.sqrt(max(p * (1 - p), 0.0) / n)


def diff_binomial_se(p1: float, n1: int, p2: float, n2: int) -> float | None:
    """Standard error of the difference of two accuracies, treating the test sets as independent."""
    se1, se2 = binomial_se(p1, n1), binomial_se(p2, n2)
    if se1 is None or se2 is None:
        return None
    return math.hypot(se1, se2)


def norm_quantile(alpha: float = ALPHA) -> float:
    """Two-sided standard normal quantile ``z`` with ``P(|Z| > z) = alpha`` (1.96 at 0.05)."""
    return float(stats.norm.ppf(1 - alpha / 2))


def noise_verdict(
    diff: float | None, ses: Sequence[float | None], alpha: float = ALPHA
) -> tuple[str, float | None]:
    """Call a margin a win, a loss, or within noise; return the verdict and the noise band.

    The band is ``z * max(ses)`` with ``z`` the two-sided normal quantile for
    ``alpha`` (1.96 at 0.05): a margin inside it could be test-set or seed noise.
    """
    known = [s for s in ses if s is not None]
    if diff is None or not known:
        return UNKNOWN, None
    band = norm_quantile(alpha) * max(known)
    if abs(diff) <= band:
        return WITHIN_NOISE, band
    return (WIN if diff > 0 else LOSS), band
