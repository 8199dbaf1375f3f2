"""Statistical building blocks: summaries over seeds, Holm, binomial standard errors, verdict names.

Distributions come from :mod:`scipy.stats`; only the Holm step-down adjustment
(arithmetic on sorted p-values, in :mod:`blockbench.stats.holm`, re-exported
here) and the binomial standard error are written here. Paired verdicts
between methods live in :mod:`blockbench.stats.crossed`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

from blockbench.stats.holm import holm as holm  # re-exported: the statistics' one Holm

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
    if sd == 0.0:  # no zero-width interval: the spread over seeds is unknown, not zero
        return Summary(n, mean, 0.0)
    low, high = stats.t.interval(1 - alpha, n - 1, loc=mean, scale=sd / math.sqrt(n))
    return Summary(n, mean, sd, float(low), float(high))


def wilcoxon_min_n(alpha: float = ALPHA) -> int:
    """Fewest non-zero paired differences with which a two-sided exact Wilcoxon test can give p < alpha.

    The smallest two-sided p-value with n differences is 2 / 2**n (all of one sign).
    """
    return math.floor(1 + math.log2(1 / alpha)) + 1
