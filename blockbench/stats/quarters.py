"""The reference study's quarter analysis, across tables.

Two questions: how do the blocks of each quarter (Q1 = first quarter of the
backbone, Q4 = last) fare against the baselines, and in what share of tables
does the best block of a quarter, chosen on validation, beat both BL1 and BL2
on test? The per-block gains over the better baseline are pooled over tables
into box statistics; a "beats both" counts mean accuracies over seeds, and the
stricter "wins on both" requires the noise verdict "win" against each.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from blockbench.stats.inference import WIN
from blockbench.stats.table_stats import BoxStats, TableStats


@dataclass(frozen=True)
class QuarterShare:
    """How often the validation-chosen best block of one quarter beats both baselines.

    Attributes:
        quarter: 1-4.
        n_tables: tables with that quarter, BL1 and BL2.
        beats_both: tables where its mean test accuracy exceeds both baselines' means.
        wins_both: tables where its verdict is "win" against both (margin beyond noise).
    """

    quarter: int
    n_tables: int
    beats_both: int
    wins_both: int

    @property
    def share(self) -> float | None:
        return self.beats_both / self.n_tables if self.n_tables else None

    @property
    def win_share(self) -> float | None:
        return self.wins_both / self.n_tables if self.n_tables else None


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
        shares = [QuarterShare(s["quarter"], s["n_tables"], s["beats_both"], s["wins_both"])
                  for s in data.get("shares", [])]
        gains = {int(q): BoxStats(**b) for q, b in data.get("gains", {}).items()}
        return cls(shares, gains)


def analyse_quarters(tables: Iterable[TableStats]) -> QuarterAnalysis:
    """Count, per quarter, the tables where its best block beats both baselines on test."""
    counts: dict[int, list[int]] = {}
    pooled: dict[int, list[float]] = {}
    for table in tables:
        bl1, bl2 = table.mean("bl1"), table.mean("bl2")
        if bl1 is None or bl2 is None:
            continue
        best_baseline = max(bl1, bl2)
        for quarter, summary in table.blocks.values():
            if summary.mean is not None:
                pooled.setdefault(quarter, []).append(summary.mean - best_baseline)
        for q in range(1, 5):
            mean = table.mean(f"q{q}")
            if mean is None:
                continue
            verdicts = [c.verdict if (c := table.comparison(f"q{q}", ref)) else None
                        for ref in ("bl1", "bl2")]
            row = counts.setdefault(q, [0, 0, 0])
            row[0] += 1
            row[1] += mean > best_baseline
            row[2] += all(v == WIN for v in verdicts)
    shares = [QuarterShare(q, *row) for q, row in sorted(counts.items())]
    gains = {q: box for q, values in sorted(pooled.items()) if (box := BoxStats.of(values))}
    return QuarterAnalysis(shares, gains)
