"""Ranking the methods across tables: average ranks, Friedman test, Nemenyi and Wilcoxon post-hoc.

The independent unit is a (backbone, dataset, weights, input size, variant):
the partitions of one unit share their BL1 and BL2 runs, so they are one unit,
not several tables. Each unit contributes one accuracy per method: its hits
pooled over the unit's tables and the seeds that every ranked method has in
that table. Methods that report the same runs at every seed of every table
(Bopt = "Q4 best" = an exhaustive policy) are one method, listed under all
their names. The methods are ranked within each unit (rank 1 = most accurate,
ties share the average rank). The Friedman test asks whether the average ranks
differ more than chance would (a permutation p-value below
:data:`~blockbench.stats.rank_tests.EXACT_BELOW_UNITS` units); only when it
rejects are pairs told apart by the Nemenyi critical difference. Pairwise
Wilcoxon signed-rank tests are Holm-adjusted in two families: the primary one
(Bopt against BL1 and BL2) and the rest. The optimistic best-on-test block
never takes part: it is not a method anyone can run.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from blockbench.stats import rank_tests
from blockbench.stats.grouping import BASELINES, method_label, shared_seeds
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
        nemenyi_significant: |rank_diff| exceeds the critical difference (None unless the
            Friedman test rejects).
        wilcoxon_p, wilcoxon_p_holm: signed-rank test on the per-unit accuracies, and
            Holm-adjusted within its family.
        note: why the Wilcoxon test was not run.
        family: "primary" (Bopt against BL1 or BL2) or "secondary" (every other pair).
    """

    a: str
    b: str
    rank_diff: float
    nemenyi_significant: bool | None = None
    wilcoxon_p: float | None = None
    wilcoxon_p_holm: float | None = None
    note: str | None = None
    family: str = "secondary"


@dataclass
class Ranking:
    """Average ranks and the tests across tables.

    Attributes:
        methods: method ids taking part, best average rank first (one id per merged group).
        tables: ids of the tables taking part.
        average_ranks: method -> average rank over units.
        statistic, p_value: Friedman chi-square and its p-value (None when not run).
        critical_difference: Nemenyi critical difference at ``alpha`` (None unless the
            Friedman test rejects).
        pairwise: every pair of methods.
        notes: what was left out, and why a test was not run.
        units: ids of the independent units (tables without their partition).
        merged: method -> every method id reporting the same runs (only for merged groups).
        p_method: how the Friedman p-value was computed (exact, Monte Carlo, chi-square).
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
    units: list[str] = field(default_factory=list)
    merged: dict[str, list[str]] = field(default_factory=dict)
    p_method: str | None = None

    def label(self, method: str) -> str:
        """Display name of a ranked method: every name of its merged group (``Bopt = Q4 best``)."""
        return " = ".join(method_label(m) for m in self.merged.get(method, [method]))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Ranking:
        fields = dict(data)
        fields["pairwise"] = [PairwiseRank(**p) for p in fields.get("pairwise", [])]
        return cls(**fields)


def nemenyi_critical_difference(k: int, n: int, alpha: float = ALPHA) -> float:
    """``q_alpha * sqrt(k (k + 1) / (6 n))`` with q_alpha the studentized range quantile / sqrt(2)."""
    from scipy import stats

    q_alpha = stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q_alpha * math.sqrt(k * (k + 1) / (6 * n)))


def rank_methods(tables: Sequence[TableStats], alpha: float = ALPHA) -> Ranking:
    """Rank the fair methods present in every table that has a Bopt (or in every table, if none
    has), one row per independent unit."""
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
    methods, ranking.merged = _merge_duplicates(used, methods)
    units = _unit_scores(used, methods, ranking.notes) if methods else {}
    if not units or not methods:
        ranking.notes.append("no method is present in every table: nothing to rank")
        return ranking
    scores = np.array([[float(v) for v in row] for row in units.values()], dtype=float)
    average = rank_tests.within_ranks(scores).mean(axis=0)
    order = np.argsort(average, kind="stable")
    ranking.methods = [methods[i] for i in order]
    ranking.tables = [t.key.id for t in used]
    ranking.units = list(units)
    ranking.average_ranks = {methods[i]: float(average[i]) for i in order}
    k, n = len(methods), len(units)
    if n < MIN_TABLES or k < MIN_METHODS:
        ranking.notes.append(
            f"Friedman test not run: it needs ≥{MIN_TABLES} independent units and ≥{MIN_METHODS} "
            f"methods (have {n} unit(s), {k} method(s))")
    elif np.all(scores == scores[:, :1]):
        ranking.notes.append("Friedman test not run: every method ties in every unit")
    else:
        result = rank_tests.friedman(scores)
        ranking.statistic, ranking.p_value, ranking.p_method = result.statistic, result.p_value, result.method
        if result.p_value < alpha:
            ranking.critical_difference = nemenyi_critical_difference(k, n, alpha)
        else:
            ranking.notes.append("The Friedman test does not reject equal ranks: no Nemenyi post-hoc.")
    ranking.pairwise = _pairwise(ranking, list(units.values()), methods, alpha)
    return ranking


def _merge_duplicates(tables: Sequence[TableStats], methods: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Keep the first of each group of methods that report the same runs (targets and test
    accuracies) at every seed of every table; return the kept ids and the merged groups."""
    def runs(m: str) -> tuple[Any, ...]:
        return tuple((t.method(m).targets, t.method(m).values) for t in tables)  # type: ignore[union-attr]

    groups: dict[str, list[str]] = {}
    for m in methods:
        rep = next((r for r in groups if runs(r) == runs(m)), None)
        groups.setdefault(rep or m, []).append(m)
    return list(groups), {rep: names for rep, names in groups.items() if len(names) > 1}


def _unit_scores(tables: Sequence[TableStats], methods: list[str], notes: list[str]) -> dict[str, list[Fraction]]:
    """Unit id -> each method's accuracy pooled over the unit's tables, on the seeds all methods
    share in each table, as exact fractions (hits / trials) so that ties stay ties."""
    hits: dict[str, list[int]] = {}
    trials: dict[str, list[int]] = {}
    for table in tables:
        found = [s for s in map(table.method, methods) if s is not None]  # all present: ranked
        seeds = shared_seeds(*(s.values for s in found))
        extra = sorted(set().union(*(s.values for s in found)) - set(seeds))
        if not seeds:
            notes.append(f"{table.key.id}: no seed shared by every ranked method; left out")
            continue
        if extra:
            notes.append(f"{table.key.id}: ranked on the seeds every method has "
                         f"({', '.join(map(str, seeds))}); seed(s) {', '.join(map(str, extra))} left out")
        unit = table.key.unit
        h, t = hits.setdefault(unit, [0] * len(methods)), trials.setdefault(unit, [0] * len(methods))
        for i, s in enumerate(found):
            h[i] += sum(round(s.values[seed] * s.n_test) for seed in seeds)
            t[i] += s.n_test * len(seeds)
    return {u: [Fraction(h, max(t, 1)) for h, t in zip(hits[u], trials[u], strict=True)] for u in sorted(hits)}


def _pairwise(ranking: Ranking, units: list[list[Fraction]], methods: list[str], alpha: float) -> list[PairwiseRank]:
    n, need = len(units), wilcoxon_min_n(alpha)
    cd = ranking.critical_difference
    primary = {frozenset({"bopt", ref}) for ref in BASELINES}
    pairs = []
    for (i, a), (j, b) in itertools.combinations(enumerate(methods), 2):
        diff = ranking.average_ranks[a] - ranking.average_ranks[b]
        d = np.array([float(row[i] - row[j]) for row in units])
        nonzero = int(np.count_nonzero(d))
        note, p = None, None
        if n < need:
            note = f"too few units: n={n}, needs ≥{need} for Wilcoxon"
        elif nonzero < need:
            note = f"too few non-zero differences: {nonzero} of n={n}, needs ≥{need} for Wilcoxon"
        else:
            p = rank_tests.wilcoxon(d).p_value
        family = "primary" if frozenset({a, b}) in primary else "secondary"
        pairs.append(PairwiseRank(a, b, diff, None if cd is None else abs(diff) > cd, p, None, note, family))
    out = list(pairs)
    for family in ("primary", "secondary"):
        members = [i for i, p in enumerate(pairs) if p.family == family]
        adjusted = holm([pairs[i].wilcoxon_p for i in members])
        for i, q in zip(members, adjusted, strict=True):
            out[i] = dataclasses.replace(pairs[i], wilcoxon_p_holm=q)
    return out
