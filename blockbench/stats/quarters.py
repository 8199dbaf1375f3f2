"""The reference study's quarter analysis, across tables.

Two questions: how do the blocks of each quarter (Q1 = first quarter of the
backbone, Q4 = last) fare against the baselines, and in what share of
independent units (backbone, dataset, weights, input size, variant: the
partitions of one unit share their baselines) does the best block of a
quarter, chosen on validation, beat both BL1 and BL2 on test? A unit *beats
both* when the quarter's hits, pooled over the unit's tables on the seeds the
quarter and both baselines share, exceed each baseline's; it *wins on both*
when the noise verdict is "win" against each baseline in every table of the
unit that has the quarter. Shares carry exact Clopper-Pearson intervals. The
per-block gains over the better baseline are pooled over tables into box
statistics (descriptive only).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from blockbench.stats.grouping import shared_seeds
from blockbench.stats.inference import ALPHA, WIN
from blockbench.stats.table_stats import BoxStats, TableStats


def clopper_pearson(k: int, n: int, alpha: float = ALPHA) -> tuple[float | None, float | None]:
    """Exact (Clopper-Pearson) ``1 - alpha`` interval of a proportion ``k / n`` (None if n = 0)."""
    if n <= 0:
        return None, None
    from scipy import stats

    ci = stats.binomtest(k, n).proportion_ci(confidence_level=1 - alpha, method="exact")
    return float(ci.low), float(ci.high)


@dataclass(frozen=True)
class QuarterShare:
    """How often the validation-chosen best block of one quarter beats both baselines.

    Attributes:
        quarter: 1-4.
        n_tables: tables with that quarter, BL1 and BL2.
        beats_both: units where its pooled test accuracy exceeds both baselines'.
        wins_both: units where its verdict is "win" against both in every table.
        n_units: independent units with that quarter, BL1 and BL2 (the shares' denominator).
        ci_low, ci_high: Clopper-Pearson interval of ``share``.
        win_ci_low, win_ci_high: Clopper-Pearson interval of ``win_share``.
        alpha: the intervals are at level ``1 - alpha``.
    """

    quarter: int
    n_tables: int
    beats_both: int
    wins_both: int
    n_units: int | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    win_ci_low: float | None = None
    win_ci_high: float | None = None
    alpha: float = ALPHA

    @property
    def units(self) -> int:
        """The shares' denominator (leaderboards before units counted tables)."""
        return self.n_tables if self.n_units is None else self.n_units

    @property
    def share(self) -> float | None:
        return self.beats_both / self.units if self.units else None

    @property
    def win_share(self) -> float | None:
        return self.wins_both / self.units if self.units else None


@dataclass
class QuarterAnalysis:
    """Quarter shares and pooled gains over the better baseline.

    Attributes:
        shares: one per quarter present.
        gains: quarter -> box statistics of (block mean test accuracy - best baseline mean),
            one value per block per table.
    """

    shares: list[QuarterShare] = field(default_factory=list)
    gains: dict[int, BoxStats] = field(default_factory=dict)

    def share(self, quarter: int) -> QuarterShare | None:
        return next((s for s in self.shares if s.quarter == quarter), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "shares": [dataclasses.asdict(s) | {"share": s.share, "win_share": s.win_share}
                       for s in self.shares],
            "gains": {str(q): b.to_dict() for q, b in sorted(self.gains.items())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QuarterAnalysis:
        names = {f.name for f in dataclasses.fields(QuarterShare)}
        shares = [QuarterShare(**{k: v for k, v in s.items() if k in names}) for s in data.get("shares", [])]
        gains = {int(q): BoxStats(**b) for q, b in data.get("gains", {}).items()}
        return cls(shares, gains)


def analyse_quarters(tables: Iterable[TableStats], alpha: float = ALPHA) -> QuarterAnalysis:
    """Count, per quarter, the units where its best block beats both baselines on test."""
    # quarter -> unit -> [tables, quarter hits, bl1 hits, bl2 hits, wins in every table]
    counts: dict[int, dict[str, list[int]]] = {}
    pooled: dict[int, list[float]] = {}
    for table in tables:
        bl1, bl2 = table.method("bl1"), table.method("bl2")
        if bl1 is None or bl2 is None or bl1.summary.mean is None or bl2.summary.mean is None:
            continue
        best_baseline = max(bl1.summary.mean, bl2.summary.mean)
        for quarter, summary in table.blocks.values():
            if summary.mean is not None:
                pooled.setdefault(quarter, []).append(summary.mean - best_baseline)
        for q in range(1, 5):
            method = table.method(f"q{q}")
            seeds = shared_seeds(method.values, bl1.values, bl2.values) if method else []
            if method is None or not seeds:
                continue
            row = counts.setdefault(q, {}).setdefault(table.key.unit, [0, 0, 0, 0, 1])
            row[0] += 1
            for i, m in enumerate((method, bl1, bl2), 1):
                row[i] += sum(round(m.values[s] * m.n_test) for s in seeds)
            verdicts = [c.verdict if (c := table.comparison(f"q{q}", ref)) else None
                        for ref in ("bl1", "bl2")]
            row[4] &= all(v == WIN for v in verdicts)
    shares = []
    for q, units in sorted(counts.items()):
        # Every method of one table is scored on the same test set: hit totals compare directly.
        beats = sum(r[1] > r[2] and r[1] > r[3] for r in units.values())
        wins = sum(r[4] for r in units.values())
        n = len(units)
        shares.append(QuarterShare(q, sum(r[0] for r in units.values()), beats, wins, n,
                                   *clopper_pearson(beats, n, alpha), *clopper_pearson(wins, n, alpha),
                                   alpha))
    gains = {q: box for q, values in sorted(pooled.items()) if (box := BoxStats.of(values))}
    return QuarterAnalysis(shares, gains)
