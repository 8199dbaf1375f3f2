"""A table's decision: which block to fine-tune, if any, in one sentence a user can act on.

Over the seeds every block of the table shares (the *decision seeds*):

1. the **validation-chosen block** is the block with the best mean validation
   accuracy (ties: the lowest index); every other block is compared with it on
   validation by :func:`blockbench.stats.crossed.compare` (paired, integer
   outcomes), Holm-adjusted over the blocks; those not worse beyond noise form
   the **indistinguishable set**, listed with their mean test accuracies;
2. the chosen block is compared with BL1 and BL2 **on test** by the same paired
   test, Holm over the two; the verdicts use the adjusted p-values;
3. one sentence is chosen by the first rule that applies (:data:`RULES`); an
   undecided gain gets the seeds a paired t test would need to detect it at
   80 % power (:func:`seeds_for_power`).

With fewer than :data:`MIN_SEEDS` decision seeds the decision says so and decides
nothing. ``docs/statistics.md`` states the rules.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from blockbench.core.records import RunRecord
from blockbench.core.spec import block_target
from blockbench.stats.crossed import Evidence, PairedResult, compare
from blockbench.stats.grouping import TableRuns
from blockbench.stats.inference import ALPHA, LOSS, WIN, WITHIN_NOISE, holm

#: Fewest decision seeds with which a decision is made.
MIN_SEEDS = 3
#: Below this gain over BL1 (a fraction: 1 point), a block within noise is not worth more seeds.
MIN_GAIN = 0.01
#: Power at which the seeds an undecided gain needs are computed.
POWER = 0.8
#: Largest number of seeds the power calculation looks at.
MAX_SEEDS = 1000

TOO_FEW_SEEDS, NO_BLOCKS, USE_BL2, USE_BLOCK, USE_BL1, NO_BLOCK, UNDECIDED = (
    "too few seeds", "no blocks", "bl2", "block", "bl1", "no block", "undecided")
EN_DASH = "\u2013"
#: The rules, in the order they are tried.
RULES = (TOO_FEW_SEEDS, NO_BLOCKS, USE_BL2, USE_BLOCK, USE_BL1, NO_BLOCK, UNDECIDED)


@dataclass(frozen=True)
class Indistinct:
    """A block not told apart from the chosen one on validation.

    Attributes:
        target: ``block:i``.
        test_acc: its mean test accuracy over the decision seeds.
        p: Holm-adjusted p of its paired validation test against the chosen block (None: the chosen one).
    """

    target: str
    test_acc: float | None
    p: float | None = None


@dataclass(frozen=True)
class VsBaseline:
    """The chosen block against a baseline on test, over the seeds both have among the decision seeds.

    Attributes:
        diff_points: mean test accuracy difference, block - baseline, in points (100 x the fraction).
        p: Holm-adjusted p over the comparisons with BL1 and BL2.
        verdict: "win", "loss", "within noise" or "unknown (...)", from ``p``.
        n_seeds: the seeds compared.
    """

    diff_points: float | None
    p: float | None
    verdict: str
    n_seeds: int = 0


@dataclass(frozen=True)
class Decision:
    """What a table says to do.

    Attributes:
        seeds: the decision seeds (shared by every block).
        chosen: the validation-chosen block, None without a decision.
        indistinguishable: the chosen block first, then the blocks not told apart from it on validation.
        vs_bl1, vs_bl2: the chosen block against each baseline on test (None without that baseline).
        sentence: the decision, in one sentence.
        more_seeds_needed: for an undecided gain, the further seeds that would detect it at 80 % power.
        rule: which rule of :data:`RULES` gave the sentence.
    """

    seeds: int
    chosen: str | None
    sentence: str
    indistinguishable: list[Indistinct] = field(default_factory=list)
    vs_bl1: VsBaseline | None = None
    vs_bl2: VsBaseline | None = None
    more_seeds_needed: int | None = None
    rule: str = TOO_FEW_SEEDS

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        fields = dict(data)
        fields["indistinguishable"] = [Indistinct(**i) for i in fields.get("indistinguishable", [])]
        for ref in ("vs_bl1", "vs_bl2"):
            fields[ref] = VsBaseline(**fields[ref]) if fields.get(ref) else None
        return cls(**fields)


def evidence(record: RunRecord, split: str) -> Evidence | None:
    """A run's integer evidence on ``split``: per-example outcomes, else its hit count (None: unknown)."""
    acc, n = (record.val_acc, record.n_val) if split == "val" else (record.test_acc, record.n_test)
    if acc is None or not math.isfinite(acc) or n <= 0:
        return None
    correct = record.correct(split)
    if correct is not None:
        return Evidence(float(np.sum(correct)), len(correct), correct)
    return Evidence(float(round(acc * n)), n)


def decide(table: TableRuns, alpha: float = ALPHA) -> Decision:
    """The decision of one table (see the module docstring)."""
    val = {i: {s: e for s, r in runs.items() if (e := evidence(r, "val"))} for i, runs in table.blocks.items()}
    test = {i: {s: e for s, r in runs.items() if (e := evidence(r, "test"))} for i, runs in table.blocks.items()}
    if not val:
        return Decision(0, None, "No block runs: nothing to decide.", rule=NO_BLOCKS)
    seeds = sorted(set.intersection(*(set(val[i]) & set(test[i]) for i in val)))
    if len(seeds) < MIN_SEEDS:
        return Decision(len(seeds), None, f"Only {len(seeds)} seed{'' if len(seeds) == 1 else 's'} "
                        f"shared by every block: no decision; run at least {MIN_SEEDS}.")
    mean_val = {i: float(np.mean([val[i][s].hits / val[i][s].n for s in seeds])) for i in sorted(val)}
    chosen = max(mean_val, key=lambda i: (mean_val[i], -i))
    at = {i: {s: ev[s] for s in seeds} for i, ev in val.items()}
    others = [i for i in sorted(val) if i != chosen]
    p_holm = holm([compare(at[i], at[chosen], alpha).p for i in others])
    test_mean = {i: float(np.mean([test[i][s].hits / test[i][s].n for s in seeds])) for i in val}
    same = [Indistinct(block_target(chosen), test_mean[chosen])]
    same += [Indistinct(block_target(i), test_mean[i], p) for i, p in zip(others, p_holm, strict=True)
             if p is not None and p >= alpha]
    pick = {s: test[chosen][s] for s in seeds}
    refs = {ref: {s: e for s, r in table.baselines.get(ref, {}).items()
                  if s in pick and (e := evidence(r, "test"))} for ref in ("bl1", "bl2")}
    tests = {ref: compare(pick, ev, alpha) for ref, ev in refs.items() if ev}
    adjusted = dict(zip(tests, holm([t.p for t in tests.values()]), strict=True))
    vs = {ref: _versus(t, adjusted[ref], alpha) for ref, t in tests.items()}
    decision = Decision(len(seeds), block_target(chosen), "", same, vs.get("bl1"), vs.get("bl2"))
    gap = _seed_gap(pick, refs["bl1"], alpha / max(len(tests), 1)) if "bl1" in tests else None
    return _sentence(decision, gap)


def _versus(result: PairedResult, p: float | None, alpha: float) -> VsBaseline:
    if p is None or result.diff is None:
        verdict = result.verdict
    else:
        verdict = (WIN if result.diff > 0 else LOSS) if p < alpha else WITHIN_NOISE
    diff = None if result.diff is None else 100 * result.diff
    return VsBaseline(diff, p, verdict, result.n_seeds)


def _seed_gap(pick: Mapping[int, Evidence], bl1: Mapping[int, Evidence], alpha: float) -> int | None:
    """Further seeds a paired t test of the per-seed differences needs (at least one)."""
    shared = sorted(set(pick) & set(bl1))
    d = np.array([pick[s].hits / pick[s].n - bl1[s].hits / bl1[s].n for s in shared])
    # One test example: the smallest difference a seed can show, so an sd of 0 is not "certain".
    floor = 1 / max(max(pick[s].n for s in shared), 1)
    needed = seeds_for_power(float(d.mean()), max(float(d.std(ddof=1)), floor), alpha)
    return None if needed is None else max(1, needed - len(shared))


def seeds_for_power(mean: float, sd: float, alpha: float = ALPHA, power: float = POWER,
                    most: int = MAX_SEEDS) -> int | None:
    """Fewest seeds n (≥ 2) at which a two-sided paired t test at ``alpha`` has ``power`` against
    a true mean difference ``mean`` with per-seed sd ``sd``; None beyond ``most``.

    Power = P(|T| > t_{1-alpha/2, n-1}) with T noncentral t, n - 1 df, noncentrality mean/sd·√n.
    """
    from scipy import stats

    if sd <= 0 or mean == 0:
        return None
    n = np.arange(2, most + 1)
    df, nc = n - 1, abs(mean) / sd * np.sqrt(n)
    crit = stats.t.ppf(1 - alpha / 2, df)
    achieved = stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc)
    hits = np.nonzero(achieved >= power)[0]
    return int(n[hits[0]]) if hits.size else None


def _sentence(d: Decision, gap: int | None) -> Decision:
    block = _block(d.chosen)
    bl1, bl2 = d.vs_bl1, d.vs_bl2
    if bl2 is not None and bl2.verdict == LOSS:
        return dataclasses.replace(d, rule=USE_BL2, sentence=(
            f"Fine-tune everything (BL2): it beats {block}, the best block on validation, by "
            f"{_points(-(bl2.diff_points or 0.0))} ({_p(bl2.p)}, {bl2.n_seeds} seeds)."))
    if bl1 is None:
        return dataclasses.replace(d, rule=UNDECIDED, sentence=(
            f"{block.capitalize()} is the best block on validation; no BL1 runs to compare it with."))
    if bl1.verdict == WIN:
        return dataclasses.replace(d, rule=USE_BLOCK, sentence=(
            f"Fine-tune {block}: {_points(bl1.diff_points)} over BL1 ({_p(bl1.p)}, {bl1.n_seeds} seeds); "
            f"{_same(d)}."))
    if bl1.verdict == LOSS:
        return dataclasses.replace(d, rule=USE_BL1, sentence=(
            f"Train the head alone (BL1): it beats {block}, the best block on validation, by "
            f"{_points(-(bl1.diff_points or 0.0))} ({_p(bl1.p)}, {bl1.n_seeds} seeds)."))
    diff = bl1.diff_points or 0.0
    if diff < 100 * MIN_GAIN or bl1.p is None:
        return dataclasses.replace(d, rule=NO_BLOCK, sentence=(
            f"No block beats BL1 beyond noise (best on validation: {block}, {_points(diff)}, "
            f"{_p(bl1.p)}, {bl1.n_seeds} seeds): training the head alone is the cheapest adequate choice."))
    more = f"about {gap} more seeds" if gap is not None else f"more than {MAX_SEEDS} seeds"
    return dataclasses.replace(d, rule=UNDECIDED, more_seeds_needed=gap, sentence=(
        f"Undecided: {block} is {_points(diff)} over BL1, within noise ({_p(bl1.p)}, {bl1.n_seeds} "
        f"seeds); {more} would detect the observed {_points(diff)} at {100 * POWER:.0f} % power."))


def _block(target: str | None) -> str:
    return str(target).replace("block:", "block ")


def _points(value: float | None) -> str:
    return "— points" if value is None else f"{value:+.1f} points"


def _p(value: float | None) -> str:
    if value is None:
        return "no p-value"
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def _same(d: Decision) -> str:
    if len(d.indistinguishable) < 2:
        return "no other block is indistinguishable from it on validation"
    return f"blocks {block_ranges(d.indistinguishable)} are indistinguishable from it on validation"


def block_ranges(items: Sequence[Indistinct]) -> str:
    """Block indices as sorted runs joined by an en dash: ``15`` to ``19`` and ``22`` read ``15\u201319, 22``."""
    indices = sorted(int(i.target.split(":")[1]) for i in items)
    runs: list[list[int]] = []
    for i in indices:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return ", ".join(f"{r[0]}{EN_DASH}{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in runs)
