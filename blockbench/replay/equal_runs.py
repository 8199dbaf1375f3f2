"""Multi-seed policies against the same budget spent otherwise: ``NAME@k`` matched on runs.

For each table and each multi-seed policy that is not ``NAME@k`` (racing),
every family of ``NAME@k`` rows (``exhaustive@1``, ``exhaustive@2``...) is
represented by the k whose mean runs are nearest the policy's own mean runs
(ties: fewer runs), and the per-seed policies are shown at their own spend.
Differences are paired repeat by repeat (the same seed order at repeat ``r``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from blockbench.replay.runner import PolicySpec, Repeat

Groups = dict[tuple[str, str, str], list[Repeat]]
Score = Callable[[Repeat], float]


def _metrics(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("runs", "regret", "within_0_5", "within_1", "seeds", "repeats")}


def _paired(mine: list[Repeat], theirs: list[Repeat], score: Score) -> dict[str, Any]:
    """Mean regret of ``mine`` minus ``theirs``, and wins/losses, over repeats paired by index."""
    ref = {r.repeat: r for r in theirs}
    diffs = [score(r) - score(ref[r.repeat]) for r in mine if r.repeat in ref]
    eps = 1e-6
    return {"diff": sum(diffs) / len(diffs) if diffs else None,
            "better": sum(d < -eps for d in diffs), "worse": sum(d > eps for d in diffs)}


def equal_runs(policies: Sequence[PolicySpec], rows: Sequence[dict[str, Any]], groups: Groups,
               budget: str, score: Score) -> list[dict[str, Any]]:
    """Per table and multi-seed policy: its row, the matched ``NAME@k`` rows and the per-seed rows.

    Each compared row carries ``vs``: its regret minus the multi-seed policy's,
    paired by repeat (positive: the multi-seed policy did better), with the
    repeats it was better and worse at.
    """
    multi = {p.label for p in policies if p.seeds is None} & {
        r.policy for rs in groups.values() for r in rs if r.multi_seed and r.budget == budget}
    families: dict[str, list[str]] = {}
    for p in policies:
        if p.seeds is not None:
            base = p.label.split("@")[0] if "@" in p.label else p.name
            families.setdefault(f"{base}@k", []).append(p.label)
    single = [p.label for p in policies if p.seeds is None and p.label not in multi]
    by = {(r["table"], r["policy"]): r for r in rows if r["budget"] == budget}
    out = []
    for table in dict.fromkeys(r["table"] for r in rows if r["budget"] == budget):
        for label in [p.label for p in policies if p.label in multi]:
            own = by.get((table, label))
            if own is None:
                continue
            mine = groups[(table, label, budget)]
            compared = []
            for family, labels in families.items():
                candidates = [by[(table, lab)] for lab in labels if (table, lab) in by]
                if not candidates:
                    continue
                near = min(candidates, key=lambda r: (abs(r["runs"] - own["runs"]), r["runs"]))
                compared.append({"policy": near["policy"], "family": family, **_metrics(near),
                                 "vs": _paired(groups[(table, near["policy"], budget)], mine, score)})
            for lab in single:
                if (table, lab) in by:
                    compared.append({"policy": lab, "family": lab, **_metrics(by[(table, lab)]),
                                     "vs": _paired(groups[(table, lab, budget)], mine, score)})
            out.append({"table": table, "budget": budget, "policy": label, **_metrics(own),
                        "compared": compared})
    return out


def overall_equal_runs(entries: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (budget, policy): the mean over tables of its row and of each family's matched row."""
    by: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for entry in entries:
        by.setdefault((entry["budget"], entry["policy"]), []).append(entry)
    out = []
    for (budget, policy), group in by.items():
        families: dict[str, list[dict[str, Any]]] = {}
        for entry in group:
            for c in entry["compared"]:
                families.setdefault(c["family"], []).append(c)
        out.append({"budget": budget, "policy": policy, "tables": len(group), **_mean_of(group),
                    "compared": [{"family": f, "tables": len(cs),
                                  "k": sorted({c["policy"] for c in cs}), **_mean_of(cs),
                                  "better": sum(c["vs"]["better"] for c in cs),
                                  "worse": sum(c["vs"]["worse"] for c in cs),
                                  "diff": _avg(c["vs"]["diff"] for c in cs)}
                                 for f, cs in families.items()]})
    return out


def _avg(values: Any) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def _mean_of(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {k: _avg(r[k] for r in rows) for k in ("runs", "regret", "within_0_5", "within_1", "seeds")}
