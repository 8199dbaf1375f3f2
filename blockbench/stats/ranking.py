"""Ranking the methods across tables: average ranks, Friedman test, Nemenyi and Wilcoxon post-hoc.

Each table contributes one mean test accuracy per method (over seeds); the
methods are ranked within each table (rank 1 = most accurate, ties share the
average rank). The Friedman test asks whether the average ranks differ more
than chance would; the Nemenyi critical difference (from the studentized
range distribution) and pairwise Wilcoxon signed-rank tests with Holm's
adjustment say which pairs differ. The optimistic best-on-test block never
takes part: it is not a method anyone can run.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from blockbench.stats.grouping import method_label
from blockbench.stats.inference import ALPHA, holm, wilcoxon_min_n
from blockbench.stats.table_stats import TableStats

MIN_TABLES = 3
MIN_METHODS = 3


@dataclass(frozen=True)
class PairwiseRank:
    """Two methods compared across tables.

    Attributes:
        a, b: method ids.
        rank_diff: average rank of a minus that of b (negative: a ranks better).
        nemenyi_significant: |rank_diff| exceeds the critical difference (None without one).
        wilcoxon_p, wilcoxon_p_holm: signed-rank test on the per-table means, and Holm-adjusted.
        note: why the Wilcoxon test was not run.
    """

    a: str
    b: str
    rank_diff: float
    nemenyi_significant: bool | None = None
    wilcoxon_p: float | None = None
    wilcoxon_p_holm: float | None = None
    note: str | None = None


@dataclass
class Ranking:
    """Average ranks and the tests across tables.

    Attributes:
        methods: method ids taking part, best average rank first.
        tables: ids of the tables taking part.
        average_ranks: method -> average rank.
        statistic, p_value: Friedman chi-square and its p-value (None when not run).
        critical_difference: Nemenyi critical difference at ``alpha`` (None when not run).
        pairwise: every pair of methods.
        notes: what was left out, and why a test was not run.
    """

    methods: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    average_ranks: dict[str, float] = field(default_factory=dict)
    statistic: float | None = None
    p_value: float | None = None
    critical_difference: float | None = None
    alpha: float = ALPHA
    pairwise: list[PairwiseRank] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Ranking:
        fields = dict(data)
        fields["pairwise"] = [PairwiseRank(**p) for p in fields.get("pairwise", [])]
        return cls(**fields)


def nemenyi_critical_difference(k: int, n: int, alpha: float = ALPHA) -> float:
    """``q_alpha * sqrt(k (k + 1) / (6 n))`` with q_alpha the studentized range quantile / sqrt(2)."""
    q_alpha = stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q_alpha * math.sqrt(k * (k + 1) / (6 * n)))


def rank_methods(tables: Sequence[TableStats], alpha: float = ALPHA) -> Ranking:
    """Rank the fair methods present in every table that has a Bopt (or in every table, if none has)."""
    with_blocks = [t for t in tables if t.method("bopt") is not None]
    used = with_blocks or list(tables)
    ranking = Ranking(alpha=alpha)
    if len(used) < len(tables):
        ranking.notes.append(f"{len(tables) - len(used)} table(s) without block runs left out")
    present: dict[str, int] = {}
    for table in used:
        for method_stats in table.methods:
            if not method_stats.optimistic and method_stats.summary.mean is not None:
                present[method_stats.method] = present.get(method_stats.method, 0) + 1
    methods = [m for m, count in present.items() if count == len(used)]
    for m, count in present.items():
        if count < len(used):
            ranking.notes.append(f"{method_label(m)} is in {count} of {len(used)} tables: not ranked")
    if not used or not methods:
        ranking.notes.append("no method is present in every table: nothing to rank")
        return ranking
    scores = np.array([[t.mean(m) for m in methods] for t in used], dtype=float)
    ranks = np.vstack([stats.rankdata(-row) for row in scores])
    average = ranks.mean(axis=0)
    order = np.argsort(average, kind="stable")
    ranking.methods = [methods[i] for i in order]
    ranking.tables = [t.key.id for t in used]
    ranking.average_ranks = {methods[i]: float(average[i]) for i in order}
    k, n = len(methods), len(used)
    if n < MIN_TABLES or k < MIN_METHODS:
        ranking.notes.append(
            f"Friedman test not run: it needs ≥{MIN_TABLES} tables and ≥{MIN_METHODS} methods "
            f"(have {n} table(s), {k} method(s))")
    elif np.all(scores == scores[:, :1]):
        ranking.notes.append("Friedman test not run: every method ties in every table")
    else:
        result = stats.friedmanchisquare(*scores.T)
        ranking.statistic, ranking.p_value = float(result.statistic), float(result.pvalue)
        ranking.critical_difference = nemenyi_critical_difference(k, n, alpha)
    ranking.pairwise = _pairwise(ranking, scores, methods, alpha)
    return ranking


def _pairwise(ranking: Ranking, scores: np.ndarray, methods: list[str], alpha: float) -> list[PairwiseRank]:
    n, need = scores.shape[0], wilcoxon_min_n(alpha)
    cd = ranking.critical_difference
    pairs = []
    for (i, a), (j, b) in itertools.combinations(enumerate(methods), 2):
        diff = ranking.average_ranks[a] - ranking.average_ranks[b]
        d = scores[:, i] - scores[:, j]
        nonzero = int(np.count_nonzero(d))
        note, p = None, None
        if n < need:
            note = f"too few tables: n={n}, needs ≥{need} for Wilcoxon"
        elif nonzero < need:
            note = f"too few non-zero differences: {nonzero} of n={n}, needs ≥{need} for Wilcoxon"
        else:
            p = float(stats.wilcoxon(d).pvalue)
        pairs.append(PairwiseRank(a, b, diff, None if cd is None else abs(diff) > cd, p, None, note))
    adjusted = holm([p.wilcoxon_p for p in pairs])
    return [dataclasses.replace(p, wilcoxon_p_holm=q) for p, q in zip(pairs, adjusted, strict=True)]
