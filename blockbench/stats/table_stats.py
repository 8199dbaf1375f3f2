"""Per-table statistics: each method's accuracy over seeds, and its paired comparison with BL1 and BL2.

For every method (BL1, BL2, Bopt, the best block of each quarter, each
policy's pick, and the optimistic best-on-test block) a :class:`Summary` of
its test accuracy over the seeds all methods share (a mismatch is noted), with
a logit-scale interval from the crossed seed x example model. Every
non-optimistic method is compared with BL1 and BL2 over the seeds the pair
shares by :func:`blockbench.stats.crossed.compare`, on per-example outcomes or
integer hit counts. Bopt vs BL1 and BL2 is the primary family (Holm-adjusted);
other rows are secondary. A verdict and its p-value come from the same test.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from blockbench.core.records import RunRecord
from blockbench.core.spec import parse_target
from blockbench.stats.crossed import (
    UNKNOWN_NONE,
    Evidence,
    PairedResult,
    accuracy_ci,
    compare,
    hedges_gz,
)
from blockbench.stats.decision import Decision, decide
from blockbench.stats.grouping import BASELINES, OPTIMISTIC, Pick, TableKey, TableRuns, method_label
from blockbench.stats.inference import ALPHA, LOSS, WIN, WITHIN_NOISE, Summary, holm, summarize


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
        same_as: an earlier method that picks the same runs at every seed (merged duplicate).
    """

    method: str
    label: str
    summary: Summary
    values: dict[int, float]
    targets: dict[int, str]
    n_test: int
    optimistic: bool = False
    same_as: str | None = None

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


PRIMARY = "primary"
SECONDARY = "secondary"


@dataclass
class Comparison:
    """A method against a baseline over the seeds both share (:func:`crossed.compare`).

    Attributes:
        method, reference: method ids (reference is ``bl1`` or ``bl2``).
        test: the crossed seed x example comparison (or its seed-level fallback).
        family: "primary" (Bopt vs BL1 and BL2, Holm-adjusted together) or "secondary".
        p_holm: Holm-adjusted p over the primary family (None for secondary rows).
        verdict: from the same test: by ``p_holm`` for primary rows, by ``p`` otherwise.
        g_z, g_z_low, g_z_high: Hedges' g_z and its interval (None below 5 shared seeds).
        same_as: the method whose picks this one repeats at every seed (a merged duplicate).
    """

    method: str
    reference: str
    test: PairedResult
    family: str = SECONDARY
    p_holm: float | None = None
    verdict: str = UNKNOWN_NONE
    g_z: float | None = None
    g_z_low: float | None = None
    g_z_high: float | None = None
    same_as: str | None = None

    def significant(self, alpha: float = ALPHA) -> bool:
        """Whether the verdict is a win or a loss (Holm-adjusted for the primary family)."""
        del alpha  # the verdict was decided at the table's alpha
        return self.verdict in (WIN, LOSS)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Comparison:
        return cls(**{**data, "test": PairedResult.from_dict(data["test"])})


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
        decision: which block to fine-tune, if any (:mod:`blockbench.stats.decision`).
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
    decision: Decision | None = None

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
            "decision": self.decision.to_dict() if self.decision else None,
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
            decision=Decision.from_dict(data["decision"]) if data.get("decision") else None,
        )


def analyse_table(table: TableRuns, alpha: float = ALPHA) -> TableStats:
    """Summaries over shared seeds, crossed comparisons with the baselines, Holm over the primary family."""
    notes = list(table.notes)
    picks = table.methods()
    evidence = {name: _evidence(table, name, seeds, notes) for name, seeds in picks.items()}
    shared = _shared_seeds(evidence)
    methods: list[MethodStats] = []
    for name, seeds in picks.items():
        ev = evidence[name]
        use = {s: e for s, e in ev.items() if s in shared} if shared <= set(ev) and shared else ev
        ci = accuracy_ci(use, alpha)
        accs = [e.hits / e.n for e in use.values()]
        summary = Summary(ci.n_seeds, ci.mean, float(np.std(accs, ddof=1)) if len(accs) > 1 else None,
                          ci.ci_low, ci.ci_high)
        targets = {s: p.target for s, p in seeds.items() if s in ev}
        twin = next((m.method for m in methods if m.targets == targets and not m.optimistic), None)
        methods.append(MethodStats(
            name, method_label(name), summary, {s: e.hits / e.n for s, e in ev.items()}, targets,
            round(float(np.mean([p.n_test for p in seeds.values()]))), name == OPTIMISTIC,
            twin if name != OPTIMISTIC else None))
    notes += _seed_notes(methods, shared)
    by_name = {m.method: m for m in methods}
    comparisons = [
        _compare(by_name[name], ref, evidence, alpha)
        for name in by_name if name != OPTIMISTIC
        for ref in BASELINES if ref in by_name and name != ref and (name, ref) != ("bl1", "bl2")
    ]
    comparisons = _adjust(comparisons, alpha)
    blocks = {i: (table.quarters[i], summarize([float(r.test_acc or 0.0) for r in runs.values()], alpha))
              for i, runs in sorted(table.blocks.items())}
    quarters = {}
    for q in range(1, 5):
        box = BoxStats.of([s.mean for qq, s in blocks.values() if qq == q and s.mean is not None])
        if box:
            quarters[q] = box
    failed = [f"{r.spec.target} seed {r.spec.seed}: {r.error or r.status}" for r in table.failed]
    return TableStats(table.key, methods, comparisons, blocks, quarters, table.n_blocks,
                      table.n_ok, len(table.failed), failed, notes, list(table.data_notes),
                      decide(table, alpha))


def _records(table: TableRuns, name: str, seed: int, pick: Pick) -> list[RunRecord]:
    if name in table.policies:
        return table.policies[name].get(seed, [])
    kind, index = parse_target(pick.target)
    runs = table.baselines.get(kind, {}) if index is None else table.blocks.get(index, {})
    return [runs[seed]] if seed in runs else []


def _evidence(table: TableRuns, name: str, picks: Mapping[int, Pick], notes: list[str]
              ) -> dict[int, Evidence]:
    """Seed -> integer evidence of a method's picks; non-finite accuracies are left out, noted."""
    out = {}
    for seed, pick in picks.items():
        if not math.isfinite(pick.test_acc) or pick.n_test <= 0:
            notes.append(f"{method_label(name)} seed {seed}: test accuracy {pick.test_acc} left out")
            continue
        records = _records(table, name, seed, pick)
        found = [r.correct("test") for r in records]
        outcomes = [o for o in found if o is not None]
        if records and len(outcomes) == len(found) and len({len(o) for o in outcomes}) == 1:
            # Several policy seeds at one run seed: the mean outcome per example.
            correct = np.mean(np.stack(outcomes), axis=0) if len(outcomes) > 1 else outcomes[0]
            out[seed] = Evidence(float(np.sum(correct)), len(correct), correct)
        else:
            hits = [round(float(r.test_acc or 0.0) * r.n_test) for r in records] or \
                [round(pick.test_acc * pick.n_test)]
            out[seed] = Evidence(float(np.mean(hits)), pick.n_test)
    return out


def _shared_seeds(evidence: Mapping[str, Mapping[int, Evidence]]) -> set[int]:
    """Seeds every fair method has; else those of the baselines and Bopt; else none."""
    for names in ([n for n in evidence if n != OPTIMISTIC], ["bl1", "bl2", "bopt"]):
        sets = [set(evidence[n]) for n in names if evidence.get(n)]
        if sets and (common := set.intersection(*sets)):
            return common
    return set()


def _seed_notes(methods: list[MethodStats], shared: set[int]) -> list[str]:
    notes = []
    for m in methods:
        if m.same_as:
            notes.append(f"{m.label} = {method_label(m.same_as)}: the same runs at every seed "
                         "(merged: counted once in every family)")
        if shared and set(m.values) != shared:
            use = "the shared seeds" if shared <= set(m.values) else "its own seeds (it lacks some shared ones)"
            notes.append(f"{m.label}: seeds {_seeds(set(m.values))}, shared by all methods "
                         f"{_seeds(shared)}; its mean and CI use {use}, comparisons the seeds each pair shares")
    return notes


def _seeds(seeds: set[int]) -> str:
    return ", ".join(str(s) for s in sorted(seeds)) or "none"


def _compare(method: MethodStats, ref: str, evidence: Mapping[str, Mapping[int, Evidence]],
             alpha: float) -> Comparison:
    a, b = evidence[method.method], evidence[ref]
    g = hedges_gz(a, b, alpha)
    family = PRIMARY if method.method == "bopt" else SECONDARY
    g_z, low, high = g if g else (None, None, None)
    return Comparison(method.method, ref, compare(a, b, alpha), family, g_z=g_z, g_z_low=low,
                      g_z_high=high, same_as=method.same_as)


def _adjust(comparisons: list[Comparison], alpha: float) -> list[Comparison]:
    """Holm over the primary family (Bopt vs BL1 and BL2); verdicts from the same p-values."""
    primary = [c.test.p if c.family == PRIMARY else None for c in comparisons]
    adjusted = holm(primary)
    out = []
    for c, q in zip(comparisons, adjusted, strict=True):
        t = c.test
        p = q if c.family == PRIMARY else t.p
        if p is None:
            verdict = t.verdict
        elif p < alpha and t.diff is not None:
            verdict = WIN if t.diff > 0 else LOSS
        else:
            verdict = WITHIN_NOISE
        out.append(dataclasses.replace(c, p_holm=q, verdict=verdict))
    return out
