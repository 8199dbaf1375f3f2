"""Per-table statistics: each method's accuracy over seeds, and its paired comparison with BL1 and BL2.

For every method (BL1, BL2, Bopt, the best block of each quarter, each
policy's pick, and the optimistic best-on-test block) a :class:`Summary` of
its test accuracy over seeds. Every non-optimistic method is compared by seed
with BL1 and BL2 (paired t-test, Wilcoxon signed-rank, Cohen's d_z, mean
difference with its t interval); the p-values of a table form one Holm family
per test. Each margin also gets a noise verdict: "win", "loss", or "within
noise" when it lies inside ``z * max(test-set SE, seed SE)``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from blockbench.stats.grouping import BASELINES, OPTIMISTIC, TableKey, TableRuns, method_label
from blockbench.stats.inference import (
    ALPHA,
    PairedTest,
    Summary,
    diff_binomial_se,
    holm,
    noise_verdict,
    paired_test,
    summarize,
)


@dataclass(frozen=True)
class BoxStats:
    """Five-number summary plus mean (quartiles by linear interpolation)."""

    n: int
    min: float
    q1: float
    median: float
    q3: float
    max: float
    mean: float

    @classmethod
    def of(cls, values: Sequence[float]) -> BoxStats | None:
        x = np.asarray(values, dtype=float)
        if x.size == 0:
            return None
        q = np.percentile(x, [0, 25, 50, 75, 100])
        low, q1, median, q3, high = (float(v) for v in q)
        return cls(int(x.size), low, q1, median, q3, high, float(x.mean()))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class MethodStats:
    """One method's test accuracy over seeds in one table.

    Attributes:
        method: id (``bl1``, ``bopt``, ``q4``, ``policy:random``, ``optimistic``...).
        label: display name.
        summary: mean, sd and confidence interval over seeds.
        values: seed -> test accuracy.
        targets: seed -> the target the method reported (its pick).
        n_test: test-set size.
        optimistic: True for the block selected on test (never a fair result).
    """

    method: str
    label: str
    summary: Summary
    values: dict[int, float]
    targets: dict[int, str]
    n_test: int
    optimistic: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["values"] = {str(k): v for k, v in self.values.items()}
        data["targets"] = {str(k): v for k, v in self.targets.items()}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MethodStats:
        fields = dict(data)
        fields["summary"] = Summary.from_dict(fields["summary"])
        fields["values"] = {int(k): float(v) for k, v in fields["values"].items()}
        fields["targets"] = {int(k): v for k, v in fields["targets"].items()}
        return cls(**fields)


@dataclass
class Comparison:
    """A method against a baseline, paired by seed.

    Attributes:
        method, reference: method ids (reference is ``bl1`` or ``bl2``).
        paired: the tests, with Holm-adjusted p-values over the table.
        se_test: binomial test-set standard error of the difference.
        se_seeds: standard error of the mean paired difference over seeds.
        band: the noise band the margin is compared with.
        verdict: "win", "loss", "within noise" or "unknown".
    """

    method: str
    reference: str
    paired: PairedTest
    se_test: float | None
    se_seeds: float | None
    band: float | None
    verdict: str

    def significant(self, alpha: float = ALPHA) -> bool:
        """Whether the Holm-adjusted paired t-test rejects equality."""
        p = self.paired.t_p_holm
        return p is not None and p < alpha

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Comparison:
        return cls(**{**data, "paired": PairedTest.from_dict(data["paired"])})


@dataclass
class TableStats:
    """Everything the leaderboard shows about one table.

    Attributes:
        key: the table's identity.
        methods: per-method statistics, in display order.
        comparisons: each method against BL1 and BL2.
        blocks: block index -> (quarter, test-accuracy summary), for plots.
        quarters: quarter -> box statistics of the per-block mean test accuracies.
        n_blocks: blocks in the partition.
        runs_ok, runs_failed: runs used, and failed runs excluded.
        failed: one line per failed run.
        notes: caveats (missing blocks, duplicates, ...).
        data_notes: what the dataset left out or could not use, from the run records.
    """

    key: TableKey
    methods: list[MethodStats]
    comparisons: list[Comparison]
    blocks: dict[int, tuple[int, Summary]] = field(default_factory=dict)
    quarters: dict[int, BoxStats] = field(default_factory=dict)
    n_blocks: int = 0
    runs_ok: int = 0
    runs_failed: int = 0
    failed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data_notes: list[str] = field(default_factory=list)

    def method(self, name: str) -> MethodStats | None:
        return next((m for m in self.methods if m.method == name), None)

    def comparison(self, method: str, reference: str) -> Comparison | None:
        return next((c for c in self.comparisons if (c.method, c.reference) == (method, reference)), None)

    def mean(self, name: str) -> float | None:
        found = self.method(name)
        return found.summary.mean if found else None

    def best_method(self) -> str | None:
        """The fair method (not optimistic) with the highest mean test accuracy."""
        fair = [m for m in self.methods if not m.optimistic and m.summary.mean is not None]
        return max(fair, key=lambda m: m.summary.mean).method if fair else None  # type: ignore[arg-type,return-value]

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key.to_dict(),
            "methods": [m.to_dict() for m in self.methods],
            "comparisons": [c.to_dict() for c in self.comparisons],
            "blocks": [{"index": i, "quarter": q, "summary": s.to_dict()}
                       for i, (q, s) in sorted(self.blocks.items())],
            "quarters": {str(q): b.to_dict() for q, b in sorted(self.quarters.items())},
            "n_blocks": self.n_blocks, "runs_ok": self.runs_ok, "runs_failed": self.runs_failed,
            "failed": self.failed, "notes": self.notes,
            # Only when there are some: a leaderboard of clean data keeps its layout.
            **({"data_notes": self.data_notes} if self.data_notes else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableStats:
        return cls(
            key=TableKey.from_dict(data["key"]),
            methods=[MethodStats.from_dict(m) for m in data["methods"]],
            comparisons=[Comparison.from_dict(c) for c in data["comparisons"]],
            blocks={int(b["index"]): (int(b["quarter"]), Summary.from_dict(b["summary"]))
                    for b in data.get("blocks", [])},
            quarters={int(q): BoxStats(**b) for q, b in data.get("quarters", {}).items()},
            n_blocks=data.get("n_blocks", 0), runs_ok=data.get("runs_ok", 0),
            runs_failed=data.get("runs_failed", 0), failed=list(data.get("failed", [])),
            notes=list(data.get("notes", [])), data_notes=list(data.get("data_notes", [])),
        )


def analyse_table(table: TableRuns, alpha: float = ALPHA) -> TableStats:
    """Summaries, paired comparisons against the baselines (Holm over the table) and verdicts."""
    methods = []
    for name, picks in table.methods().items():
        values = {s: p.test_acc for s, p in picks.items()}
        methods.append(MethodStats(
            name, method_label(name), summarize(list(values.values()), alpha), values,
            {s: p.target for s, p in picks.items()},
            round(float(np.mean([p.n_test for p in picks.values()]))), name == OPTIMISTIC,
        ))
    by_name = {m.method: m for m in methods}
    comparisons = [
        _compare(by_name[name], by_name[ref], alpha)
        for name in by_name if name != OPTIMISTIC
        for ref in BASELINES if ref in by_name and name != ref and (name, ref) != ("bl1", "bl2")
    ]
    comparisons = _adjust(comparisons)
    blocks = {i: (table.quarters[i], summarize([float(r.test_acc or 0.0) for r in runs.values()], alpha))
              for i, runs in sorted(table.blocks.items())}
    quarters = {}
    for q in range(1, 5):
        box = BoxStats.of([s.mean for qq, s in blocks.values() if qq == q and s.mean is not None])
        if box:
            quarters[q] = box
    failed = [f"{r.spec.target} seed {r.spec.seed}: {r.error or r.status}" for r in table.failed]
    return TableStats(table.key, methods, comparisons, blocks, quarters, table.n_blocks,
                      table.n_ok, len(table.failed), failed, list(table.notes),
                      list(table.data_notes))


def _compare(method: MethodStats, ref: MethodStats, alpha: float) -> Comparison:
    seeds = sorted(set(method.values) & set(ref.values))
    a = [method.values[s] for s in seeds]
    b = [ref.values[s] for s in seeds]
    paired = paired_test(a, b, alpha)
    se_test = se_seeds = None
    if seeds:
        se_test = diff_binomial_se(float(np.mean(a)), method.n_test, float(np.mean(b)), ref.n_test)
    if len(seeds) >= 2:
        se_seeds = float(np.std(np.subtract(a, b), ddof=1)) / math.sqrt(len(seeds))
    verdict, band = noise_verdict(paired.mean_diff, [se_test, se_seeds], alpha)
    return Comparison(method.method, ref.method, paired, se_test, se_seeds, band, verdict)


def _adjust(comparisons: list[Comparison]) -> list[Comparison]:
    """Holm over the whole table, one family per test."""
    t_adj = holm([c.paired.t_p for c in comparisons])
    w_adj = holm([c.paired.wilcoxon_p for c in comparisons])
    return [dataclasses.replace(c, paired=dataclasses.replace(c.paired, t_p_holm=t, wilcoxon_p_holm=w))
            for c, t, w in zip(comparisons, t_adj, w_adj, strict=True)]
