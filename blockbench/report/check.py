"""The CI regression gate: compare fresh results with a committed JSON leaderboard.

For every table and fair method of the baseline (BL1, BL2, Bopt, Q<k> best,
policies), the mean test accuracy over seeds of the fresh results must not
drop by more than a tolerance. Unless an absolute tolerance is given, the
tolerance is ``k * max(seed SE, test-set SE)`` where

* seed SE = ``sd_baseline * sqrt(1 / n_baseline + 1 / n_current)``: the standard
  error of a difference of two means over seeds, with the baseline's own
  seed-to-seed standard deviation;
* test-set SE = ``sqrt(p_b (1 - p_b) / n_test_b + p_c (1 - p_c) / n_test_c)``: the
  binomial standard error of a difference of two accuracies;
* ``k`` = :data:`DEFAULT_SIGMAS` (3): a drop beyond three standard errors is
  unlikely to be noise (one-sided normal tail about 0.13 %), which keeps false
  alarms rare even over many tables and methods.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from blockbench.core.errors import UsageError
from blockbench.report.leaderboard import Leaderboard
from blockbench.stats.inference import diff_binomial_se
from blockbench.stats.table_stats import MethodStats, TableStats

DEFAULT_SIGMAS = 3.0

OK = "ok"
REGRESSED = "regressed"
IMPROVED = "improved"
MISSING = "missing"
NEW = "new"


@dataclass(frozen=True)
class Movement:
    """One (table, method) compared with the baseline.

    Attributes:
        table: table id.
        method, label: method id and display name.
        baseline, current: mean test accuracies (None where absent).
        delta: current - baseline.
        tolerance: the largest drop accepted.
        status: "ok", "regressed", "improved", "missing" (in the baseline only) or "new".
    """

    table: str
    method: str
    label: str
    baseline: float | None
    current: float | None
    delta: float | None = None
    tolerance: float | None = None
    status: str = OK


@dataclass
class CheckResult:
    """Every comparison, and the tables only one side has."""

    movements: list[Movement] = field(default_factory=list)
    missing_tables: list[str] = field(default_factory=list)
    new_tables: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.missing_tables) or any(m.status in (REGRESSED, MISSING) for m in self.movements)

    @property
    def moved(self) -> list[Movement]:
        return [m for m in self.movements if m.status != OK]


def derived_tolerance(base: MethodStats, current: MethodStats, sigmas: float = DEFAULT_SIGMAS) -> float | None:
    """``sigmas * max(seed SE, test-set SE)`` of the difference (None when neither is known)."""
    b, c = base.summary, current.summary
    ses: list[float | None] = []
    if b.sd is not None and b.n and c.n:
        ses.append(b.sd * math.sqrt(1 / b.n + 1 / c.n))
    if b.mean is not None and c.mean is not None:
        ses.append(diff_binomial_se(b.mean, base.n_test, c.mean, current.n_test))
    known = [s for s in ses if s is not None]
    return sigmas * max(known) if known else None


def check_regression(
    baseline: Leaderboard,
    current: Leaderboard,
    tolerance: float | None = None,
    sigmas: float = DEFAULT_SIGMAS,
) -> CheckResult:
    """Compare ``current`` with ``baseline``; ``tolerance`` (absolute accuracy) overrides the derived one."""
    if tolerance is not None and not 0 <= tolerance < 1:
        raise UsageError(f"tolerance {tolerance} is not valid; use an accuracy drop in [0, 1), e.g. 0.02")
    if sigmas <= 0:
        raise UsageError(f"sigmas {sigmas} is not valid; use a positive number, e.g. {DEFAULT_SIGMAS}")
    result = CheckResult()
    fresh = {t.key.id: t for t in current.tables}
    known = {t.key.id for t in baseline.tables}
    result.new_tables = sorted(set(fresh) - known)
    for base_table in baseline.tables:
        table = fresh.get(base_table.key.id)
        if table is None:
            result.missing_tables.append(base_table.key.id)
            continue
        result.movements += _compare_table(base_table, table, tolerance, sigmas)
    return result


def _compare_table(base: TableStats, table: TableStats, tolerance: float | None,
                   sigmas: float) -> list[Movement]:
    out = []
    for b in base.methods:
        if b.optimistic:
            continue
        c = table.method(b.method)
        if c is None or c.summary.mean is None:
            out.append(Movement(base.key.id, b.method, b.label, b.summary.mean, None, status=MISSING))
            continue
        tol = tolerance if tolerance is not None else derived_tolerance(b, c, sigmas)
        if tol is None:
            raise UsageError(f"cannot derive a tolerance for {b.label} in {base.key.id} (one seed, "
                             "unknown test-set size); pass --tolerance")
        delta = c.summary.mean - b.summary.mean  # type: ignore[operator]
        status = REGRESSED if delta < -tol else IMPROVED if delta > tol else OK
        out.append(Movement(base.key.id, b.method, b.label, b.summary.mean, c.summary.mean,
                            delta, tol, status))
    names = {b.method for b in base.methods}
    out += [Movement(base.key.id, c.method, c.label, None, c.summary.mean, status=NEW)
            for c in table.methods if not c.optimistic and c.method not in names]
    return out
