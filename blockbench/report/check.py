"""The CI regression gate: compare fresh results with a committed JSON leaderboard, seed by seed.

A rerun of the baseline's protocol trains the same seeds on the same test set, so
each gated method is compared **seed by seed** on the seeds both sides share:
``d_s = (k_now,s - k_base,s) / n_test`` with ``k = round(acc * n_test)`` the hit
counts. The test set's sampling noise is common to both sides and cancels in
these differences; only seed-level (training) noise remains, and it is
estimated from the differences themselves. A method regressed when the mean
difference is a significant drop by a one-sided paired t-test::

    mean(d) < -t(1 - alpha / m, n - 1) * sd(d) / sqrt(n)

with ``n`` the shared seeds and ``m`` the number of gated comparisons of the
whole check (Bonferroni: the family-wise false-alarm rate is at most
``alpha``). A bit-identical rerun (every ``d_s = 0``) passes. The sd is floored at
half a test example: hit differences are integers, and with 2 seeds the same
small drop at both (``sd = 0``) is frequent noise for a near-deterministic
method; a large one still fails (with 2 seeds and 3 comparisons, 7 examples or more).

Gated: BL1, BL2 and Bopt of every table (:data:`GATED`), the primary results;
quarter bests and policies are mostly copies of Bopt (Q4 best = exhaustive =
Bopt) and would only widen the Bonferroni family, so they are compared and
reported ("dropped") but never fail the check. A gated method with fewer than
two shared seeds cannot be tested (no estimate of the seed noise): it is
"untestable" and fails the check, unless an absolute ``tolerance`` is given
(the mean of ``d`` over the shared seeds may not drop below ``-tolerance``).
The false-alarm rate and power are simulated in ``benchmarks/gate_calibration.py``.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np

from blockbench.core.errors import UsageError
from blockbench.report.leaderboard import Leaderboard
from blockbench.stats.table_stats import MethodStats, TableStats

#: Family-wise false-alarm rate of the gate (one-sided, over all gated comparisons).
DEFAULT_ALPHA = 0.05
#: Methods whose drop fails the check.
GATED = ("bl1", "bl2", "bopt")
#: Floor of the per-seed differences' sd, in hits (half a test example).
MIN_SD_HITS = 0.5

OK = "ok"
REGRESSED = "regressed"
DROPPED = "dropped"
IMPROVED = "improved"
MISSING = "missing"
NEW = "new"
UNTESTABLE = "untestable"


@dataclass(frozen=True)
class Movement:
    """One (table, method) compared with the baseline on their shared seeds.

    Attributes:
        table: table id.
        method, label: method id and display name.
        baseline, current: mean test accuracies over the shared seeds (over all seeds
            where the other side is absent).
        delta: current - baseline (mean of the per-seed differences).
        tolerance: the largest mean drop accepted (None where not testable).
        status: "ok", "regressed" (a gated method), "dropped" (beyond tolerance, not
            gated), "improved", "untestable" (gated, under two shared seeds), "missing"
            (in the baseline only) or "new".
        seeds: number of shared seeds.
        gated: whether a drop of this method fails the check.
    """

    table: str
    method: str
    label: str
    baseline: float | None
    current: float | None
    delta: float | None = None
    tolerance: float | None = None
    status: str = OK
    seeds: int = 0
    gated: bool = False


@dataclass
class CheckResult:
    """Every comparison, the tables only one side has, and the per-comparison level."""

    movements: list[Movement] = field(default_factory=list)
    missing_tables: list[str] = field(default_factory=list)
    new_tables: list[str] = field(default_factory=list)
    level: float | None = None

    @property
    def failed(self) -> bool:
        return bool(self.missing_tables) or any(
            m.status in (REGRESSED, MISSING, UNTESTABLE) for m in self.movements)

    @property
    def moved(self) -> list[Movement]:
        return [m for m in self.movements if m.status != OK]


def drop_threshold(diffs: np.ndarray, level: float, min_sd: float = MIN_SD_HITS) -> np.ndarray:
    """Largest accepted mean drop, ``t(1 - level, n - 1) * max(sd, min_sd) / sqrt(n)``.

    Over the last axis of ``diffs`` (at least two values), vectorised: the calibration
    simulation calls it on many repetitions at once. Integer hit differences keep
    ``sd`` exactly 0 when every seed moved by the same amount; ``min_sd`` (half an
    example) stops such ties, frequent with 2 seeds of a near-deterministic
    method, from turning a drop of one example into an infinite t statistic.
    """
    from scipy import stats

    n = diffs.shape[-1]
    crit = float(stats.t.ppf(1 - level, n - 1))
    return np.asarray(crit * np.maximum(diffs.std(axis=-1, ddof=1), min_sd) / math.sqrt(n))


def paired_differences(base: MethodStats, current: MethodStats) -> tuple[np.ndarray, int]:
    """Per shared seed, ``k_now - k_base`` and the scale that turns them into accuracies.

    With one test-set size the differences are integer hit counts (scale ``n_test``);
    otherwise (another test set: no longer a paired comparison) accuracy differences.
    """
    seeds = sorted(set(base.values) & set(current.values))
    if base.n_test == current.n_test and base.n_test > 0:
        n = base.n_test
        hits = [round(current.values[s] * n) - round(base.values[s] * n) for s in seeds]
        return np.asarray(hits, dtype=float), n
    return np.asarray([current.values[s] - base.values[s] for s in seeds], dtype=float), 1


def check_regression(
    baseline: Leaderboard,
    current: Leaderboard,
    tolerance: float | None = None,
    alpha: float = DEFAULT_ALPHA,
    gated: Collection[str] = GATED,
) -> CheckResult:
    """Compare ``current`` with ``baseline``; ``tolerance`` (absolute accuracy) replaces the t-test."""
    if tolerance is not None and not 0 <= tolerance < 1:
        raise UsageError(f"tolerance {tolerance} is not valid; use an accuracy drop in [0, 1), e.g. 0.02")
    if not 0 < alpha < 1:
        raise UsageError(f"alpha {alpha} is not valid; use a false-alarm rate in (0, 1), "
                         f"e.g. {DEFAULT_ALPHA}")
    result = CheckResult()
    fresh = {t.key.id: t for t in current.tables}
    known = {t.key.id for t in baseline.tables}
    result.new_tables = sorted(set(fresh) - known)
    pairs = []
    for base_table in baseline.tables:
        table = fresh.get(base_table.key.id)
        if table is None:
            result.missing_tables.append(base_table.key.id)
        else:
            pairs.append((base_table, table))
    family = sum(_shared(b, t.method(b.method)) >= 2 for b_table, t in pairs
                 for b in b_table.methods if b.method in gated)
    result.level = alpha / max(family, 1)
    for base_table, table in pairs:
        result.movements += _compare_table(base_table, table, tolerance, result.level, gated)
    return result


def _shared(base: MethodStats, current: MethodStats | None) -> int:
    return 0 if current is None else len(set(base.values) & set(current.values))


def _compare_table(base: TableStats, table: TableStats, tolerance: float | None, level: float,
                   gated: Collection[str]) -> list[Movement]:
    out = []
    for b in base.methods:
        if b.optimistic:
            continue
        c = table.method(b.method)
        if c is None or c.summary.mean is None:
            out.append(Movement(base.key.id, b.method, b.label, b.summary.mean, None, status=MISSING))
            continue
        out.append(_compare_method(base.key.id, b, c, tolerance, level, b.method in gated))
    names = {b.method for b in base.methods}
    out += [Movement(base.key.id, c.method, c.label, None, c.summary.mean, status=NEW)
            for c in table.methods if not c.optimistic and c.method not in names]
    return out


def _compare_method(table: str, b: MethodStats, c: MethodStats, tolerance: float | None,
                    level: float, gated: bool) -> Movement:
    diffs, scale = paired_differences(b, c)
    shared = sorted(set(b.values) & set(c.values))
    n = len(shared)
    if n == 0:  # no seed in common: the means of both sides, for the reader only
        return Movement(table, b.method, b.label, b.summary.mean, c.summary.mean, seeds=0,
                        gated=gated, status=UNTESTABLE if gated else OK)
    base_mean = sum(b.values[s] for s in shared) / n
    now_mean = sum(c.values[s] for s in shared) / n
    mean = float(diffs.mean())  # decided in hits: exact when every seed moved alike
    if tolerance is not None:
        tol: float | None = tolerance * scale
    elif n >= 2:
        tol = float(drop_threshold(diffs, level, MIN_SD_HITS if scale > 1 else 0.0))
    else:
        tol = None
    if tol is None:
        status = UNTESTABLE if gated else OK
    elif mean < -tol:
        status = REGRESSED if gated else DROPPED
    else:
        status = IMPROVED if mean > tol else OK
    return Movement(table, b.method, b.label, base_mean, now_mean, mean / scale,
                    None if tol is None else tol / scale, status, n, gated)
