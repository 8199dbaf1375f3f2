"""The replay report: per-table and overall metrics, paired comparisons, anytime regret.

Everything is in accuracy points (percent). A target's *expected* test
accuracy is its mean test accuracy over all the table's seeds; for one repeat,
``regret = 100 * (expected(best) - expected(pick))``, where ``best`` is the
block with the highest expected test accuracy and ``pick`` the target the
policy chose on validation (a per-seed policy at the repeat's run seed ``s``,
a multi-seed one across seeds). The per-seed regret of earlier reports,
``100 * (test_s(Bopt_s) - test_s(pick))`` with ``Bopt_s`` exhaustive's pick at
``s``, is kept as ``seed_regret``. Multi-seed policies are also compared with
``NAME@k`` at equal runs (:mod:`blockbench.replay.equal_runs`). Overall rows average the
tables' rows, each table weighing the same. The ``points`` list is the input
format of ``blockbench plot regret`` (see :mod:`blockbench.report.regret`); the
report's format and version are :data:`blockbench.core.formats.REPLAY_REPORT`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from blockbench import __version__
from blockbench.core.formats import REPLAY_REPORT
from blockbench.replay.equal_runs import equal_runs, overall_equal_runs
from blockbench.replay.runner import PolicySpec, Repeat, ReplayOutcome
from blockbench.replay.tables import ReplayTable

REFERENCES = ("last-quarter", "random")
_EPS = 1e-6  # accuracies are fractions of a test set; keep 0.5 points from failing on rounding

REGRET = ("regret = 100 * (expected test accuracy of the best block - expected test accuracy of the "
          "pick), where a target's expected test accuracy is its mean over all the table's seeds, so "
          "single-seed noise does not decide; the per-seed regret against exhaustive's pick at the "
          "repeat's run seed is the JSON's seed_regret")


def _mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def summarize(repeats: Sequence[Repeat]) -> dict[str, Any]:
    """Metrics of a group of repeats (one table, policy and budget)."""
    regrets = [r.regret for r in repeats if r.regret is not None]
    reached = [r.runs_to_bopt for r in repeats if r.runs_to_bopt is not None]
    n = len(repeats)

    def share(limit: float) -> float:
        return sum(1 for g in regrets if g <= limit + _EPS) / n

    return {
        "repeats": n,
        "runs": _mean(r.runs for r in repeats),
        "epochs": _mean(r.epochs for r in repeats),
        "cost": _mean(r.cost for r in repeats),
        "seeds": _mean(r.seeds for r in repeats),
        "pick_test": _mean(100 * r.pick_test for r in repeats if r.pick_test is not None),
        "bopt_test": _mean(100 * r.bopt_test for r in repeats),
        "pick_expected": _mean(100 * r.pick_mean for r in repeats if r.pick_mean is not None),
        "best_expected": _mean(100 * r.best_mean for r in repeats),
        "seed_regret": _mean(r.seed_regret for r in repeats),
        "regret": _mean(regrets),
        "regret_sd": statistics.stdev(regrets) if len(regrets) > 1 else None,
        "within_0_5": share(0.5),
        "within_1": share(1.0),
        "no_pick": n - len(regrets),
        "reached_bopt": len(reached) / n,
        "runs_to_bopt": statistics.median(reached) if reached else None,
    }


def _groups(repeats: Iterable[Repeat]) -> dict[tuple[str, str, str], list[Repeat]]:
    groups: dict[tuple[str, str, str], list[Repeat]] = {}
    for r in repeats:
        groups.setdefault((r.table, r.policy, r.budget), []).append(r)
    return groups


def overall(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (policy, budget): the mean of its per-table rows (each table weighs the same)."""
    by: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        by.setdefault((row["policy"], row["budget"]), []).append(row)
    out = []
    for (policy, budget), group in by.items():
        merged: dict[str, Any] = {"policy": policy, "budget": budget, "tables": len(group)}
        for key, value in group[0].items():
            if key not in ("table", "policy", "budget"):
                merged[key] = _mean(g[key] for g in group) if isinstance(value, (int, float)) or \
                    value is None else value
        merged["repeats"] = sum(g["repeats"] for g in group)
        merged["no_pick"] = sum(g["no_pick"] for g in group)
        out.append(merged)
    return out


def _worst_case(r: Repeat) -> float:
    """Regret for pairing: a search that picked nothing counts as a pick with 0 test accuracy."""
    return r.regret if r.regret is not None else 100.0 * r.best_mean


def compare(groups: dict[tuple[str, str, str], list[Repeat]], policy: str, reference: str,
            budget: str) -> dict[str, Any] | None:
    """Paired comparison of ``policy`` with ``reference`` under one budget, across tables.

    Repeats pair by (table, repeat index): same run seed, same policy seed.
    Cells are (table, run seed): the verdict needs the mean regret lower *and*
    more cells better than worse (the run seeds, not the repeats, are the
    independent units of evidence).
    """
    diffs: list[float] = []
    cells: dict[tuple[str, int], list[float]] = {}
    costs: tuple[list[float | None], list[float | None]] = ([], [])
    tables = {t for (t, p, b) in groups if p == policy and b == budget}
    for table in sorted(tables):
        mine, theirs = groups.get((table, policy, budget)), groups.get((table, reference, budget))
        if not mine or not theirs:
            continue
        ref = {r.repeat: r for r in theirs}
        for r in mine:
            if r.repeat in ref:
                d = _worst_case(r) - _worst_case(ref[r.repeat])
                diffs.append(d)
                cells.setdefault((table, r.run_seed), []).append(d)
        costs[0].append(_mean(r.cost for r in mine))
        costs[1].append(_mean(r.cost for r in theirs))
    if not diffs:
        return None
    cell_means = [sum(v) / len(v) for v in cells.values()]
    better = sum(m < -_EPS for m in cell_means)
    worse = sum(m > _EPS for m in cell_means)
    mean_diff = sum(diffs) / len(diffs)
    verdict = "better" if mean_diff < -_EPS and better > worse else \
        "worse" if mean_diff > _EPS and worse > better else "no clear difference"
    return {"budget": budget, "policy": policy, "reference": reference, "mean_diff": mean_diff,
            "wins": sum(d < -_EPS for d in diffs), "losses": sum(d > _EPS for d in diffs),
            "ties": sum(abs(d) <= _EPS for d in diffs), "cells_better": better,
            "cells_worse": worse, "cells": len(cell_means), "verdict": verdict,
            "cost": _mean(costs[0]), "reference_cost": _mean(costs[1])}


def anytime_points(groups: dict[tuple[str, str, str], list[Repeat]], label_budget: bool
                   ) -> list[dict[str, Any]]:
    """Mean regret of the incumbent after each whole full-run equivalent spent.

    A point is kept only when every repeat has an incumbent by then, so early
    points of a multi-fidelity policy are not averaged over a lucky few.
    """
    points = []
    for (table, policy, budget), repeats in groups.items():
        top = max((t[-1][0] for t in (r.trace for r in repeats) if t), default=0.0)
        for x in range(1, math.ceil(top - _EPS) + 1):
            values = [next((g for c, g in reversed(r.trace) if c <= x + _EPS), None) for r in repeats]
            if values and all(v is not None for v in values):
                points.append({"policy": f"{policy} @ {budget}" if label_budget else policy,
                               "budget": x, "regret": sum(values) / len(values),  # type: ignore[arg-type]
                               "table": table, "budget_label": budget, "repeats": len(values)})
    return points


def _test_se(table: ReplayTable) -> float | None:
    """Binomial standard error, in points, of one run's test accuracy near Bopt's mean accuracy."""
    p = sum(b.test_acc for b in table.bopt.values()) / len(table.bopt)
    return 100 * math.sqrt(p * (1 - p) / table.n_test) if table.n_test else None


def build_report(tables: Sequence[ReplayTable], policies: Sequence[PolicySpec],
                 outcome: ReplayOutcome, *, repeats: int, seed: int, budgets: Sequence[str],
                 command: str, notes: Sequence[str] = ()) -> dict[str, Any]:
    """The whole report as a JSON-ready dict (see docs/policies.md for every field)."""
    groups = _groups(outcome.repeats)
    rows = [{"table": t, "policy": p, "budget": b, **summarize(g)} for (t, p, b), g in groups.items()]
    multi = {r.policy for r in outcome.repeats if r.multi_seed}
    labels = [p.label for p in policies if p.label not in multi]
    comparisons = [c for b in budgets for ref in REFERENCES if ref in labels
                   for p in labels if p not in (ref, "exhaustive")
                   if (c := compare(groups, p, ref, b)) is not None]
    matched = [e for b in budgets for e in equal_runs(policies, rows, groups, b, _worst_case)]
    return {
        **REPLAY_REPORT.marker(),
        "meta": {"command": command, "blockbench_version": __version__,
                 "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
                 "repeats": repeats, "seed": seed, "budgets": list(budgets),
                 "policies": [{"label": p.label, "name": p.name, "options": dict(p.options),
                               **({"seeds": p.seeds} if p.seeds is not None else {}),
                               "multi_seed": p.label in multi} for p in policies],
                 "regret": REGRET},
        "tables": [{"id": t.id, "n_blocks": t.n_blocks, "q4_blocks": len(t.space.in_quarter(4)),
                    "seeds": t.seeds, "full_epochs": t.full_epochs, "eval_epoch": t.eval_epoch,
                    "n_test": t.n_test, "test_se": _test_se(t),
                    "bopt": {str(s): {"target": p.target, "val_acc": p.val_acc, "test_acc": p.test_acc}
                             for s, p in sorted(t.bopt.items())},
                    "best": {"target": t.best[0], "expected_test": t.best[1]},
                    "bl1_expected_test": t.mean_test("bl1"),
                    "signals": sorted(t.signals)} for t in tables],
        "summary": rows,
        "overall": overall(rows),
        "comparisons": comparisons,
        "equal_runs": matched,
        "equal_runs_overall": overall_equal_runs(matched),
        "unavailable": [{"table": t, "policy": p, "budget": b, "reason": why}
                        for t, p, b, why in outcome.unavailable],
        "notes": list(notes),
        "points": anytime_points(groups, label_budget=len(budgets) > 1),
    }
