"""Figures of a leaderboard: accuracy per block, quarters, anytime regret, critical differences
(the racing figure is :mod:`blockbench.report.race_plot`).

matplotlib is an optional extra (``pip install 'blockbench[plots]'``),
imported only when a figure is drawn, always with the headless Agg backend.
Every function writes one PNG or SVG file, chosen by the path's suffix.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from blockbench.core.errors import BlockbenchError, UsageError
from blockbench.core.files import describe_os_error, make_directory
from blockbench.report.leaderboard import Leaderboard
from blockbench.report.regret import RegretPoint, regret_curves
from blockbench.stats.grouping import method_label, short_digests
from blockbench.stats.table_stats import TableStats

SUFFIXES = (".png", ".svg")
_BASELINE_STYLE = {"bl1": ("tab:gray", "--"), "bl2": ("tab:red", ":")}


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend, or a one-line error saying how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise BlockbenchError("plots need matplotlib: pip install 'blockbench[plots]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def check_path(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise UsageError(f"cannot draw {str(path)!r}: use a file name ending in .png or .svg")
    return path


def save_figure(fig: Any, path: Path) -> Path:
    """Write ``fig`` to ``path`` (its directory created) and close it; a bad path is one line."""
    try:
        make_directory(path.parent, "directory of the figure")
        fig.savefig(path, dpi=120, bbox_inches="tight")
    except OSError as exc:
        raise UsageError(f"cannot write figure {str(path)!r}: {describe_os_error(exc)}") from None
    finally:
        pyplot().close(fig)
    return path


def panels(count: int, width: float = 4.5, height: float = 3.2) -> tuple[Any, list[Any]]:
    """A figure of ``count`` panels, at most 3 a row; the unused cells hidden."""
    cols = min(3, count)
    rows = math.ceil(count / cols)
    fig, axes = pyplot().subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax in flat[count:]:
        ax.set_visible(False)
    return fig, flat[:count]


def _title(table: TableStats) -> str:
    """The table's short label: no raw digest, a long variant cut."""
    k = table.key
    variant = k.variant if len(k.variant) <= 32 else k.variant[:31] + "…"
    second = " · ".join(filter(None, [short_digests(k.weights), f"{k.input_size}px", variant]))
    return f"{k.backbone} · {k.dataset} · {k.partition or '-'}\n{second}"


def _tables_with_blocks(board: Leaderboard) -> list[TableStats]:
    tables = [t for t in board.tables if t.blocks]
    if not tables:
        raise BlockbenchError("no block runs in these results: nothing to plot per block")
    return tables


def plot_blocks(board: Leaderboard, path: str | os.PathLike[str]) -> Path:
    """Test accuracy of each block (mean ± sd over seeds) over shaded quarters, BL1 and BL2 as
    horizontal lines, the validation-chosen block and those indistinguishable from it marked."""
    path = check_path(path)
    tables = _tables_with_blocks(board)
    fig, axes = panels(len(tables))
    for ax, table in zip(axes, tables, strict=True):
        index = sorted(table.blocks)
        means = [table.blocks[i][1].mean for i in index]
        sds = [table.blocks[i][1].sd or 0.0 for i in index]
        _shade_quarters(ax, table)
        ax.errorbar(index, means, yerr=sds, fmt="o-", ms=3, capsize=2, color="tab:blue", label="block")
        for ref, (color, style) in _BASELINE_STYLE.items():
            stats = table.method(ref)
            if stats and stats.summary.mean is not None:
                mean, sd = stats.summary.mean, stats.summary.sd or 0.0
                ax.axhline(mean, color=color, linestyle=style, label=method_label(ref))
                ax.axhspan(mean - sd, mean + sd, color=color, alpha=0.12, lw=0)
        _mark_decision(ax, table)
        ax.set(title=_title(table), xlabel="block", ylabel="test accuracy")
        ax.title.set_fontsize(9)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return save_figure(fig, path)


def _shade_quarters(ax: Any, table: TableStats) -> None:
    """Alternate grey bands behind each quarter's blocks, labelled Q1-Q4 at the top."""
    for q in range(1, 5):
        members = [i for i, (quarter, _) in table.blocks.items() if quarter == q]
        if not members:
            continue
        low, high = min(members) - 0.5, max(members) + 0.5
        ax.axvspan(low, high, color="tab:gray", alpha=0.12 if q % 2 else 0.04, lw=0)
        ax.text((low + high) / 2, 0.98, f"Q{q}", transform=ax.get_xaxis_transform(), ha="center",
                va="top", fontsize=7, color="dimgray")


def _mark_decision(ax: Any, table: TableStats) -> None:
    """The validation-chosen block (a star) and the blocks not told apart from it (open circles)."""
    decision = table.decision
    if decision is None or decision.chosen is None:
        return
    def at(target: str) -> tuple[int, float | None]:
        i = int(target.split(":")[1])
        return i, table.blocks[i][1].mean if i in table.blocks else None

    same = [at(i.target) for i in decision.indistinguishable[1:]]
    same = [(i, m) for i, m in same if m is not None]
    if same:
        ax.plot([i for i, _ in same], [m for _, m in same], "o", ms=9, mfc="none", mec="tab:green",
                mew=1.5, label="indistinguishable (val)")
    i, mean = at(decision.chosen)
    if mean is not None:
        ax.plot([i], [mean], "*", ms=13, color="gold", mec="black", mew=0.6,
                label=f"chosen on val (block {i})")


def plot_quarters(board: Leaderboard, path: str | os.PathLike[str]) -> Path:
    """Box plots of per-block mean test accuracy by quarter, beside BL1 and BL2 over seeds."""
    path = check_path(path)
    tables = _tables_with_blocks(board)
    fig, axes = panels(len(tables))
    for ax, table in zip(axes, tables, strict=True):
        data, labels = [], []
        for ref in ("bl1", "bl2"):
            stats = table.method(ref)
            if stats and stats.values:
                data.append(list(stats.values.values()))
                labels.append(method_label(ref))
        for q in range(1, 5):
            values = [s.mean for qq, s in table.blocks.values() if qq == q and s.mean is not None]
            if values:
                data.append(values)
                labels.append(f"Q{q}")
        boxes = ax.boxplot(data, patch_artist=True)
        ax.set_xticks(range(1, len(labels) + 1), labels)
        for patch, label in zip(boxes["boxes"], labels, strict=True):
            patch.set_facecolor("tab:gray" if label.startswith("BL") else "tab:blue")
            patch.set_alpha(0.35)
        ax.set(title=_title(table), ylabel="test accuracy")
        ax.title.set_fontsize(9)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_regret(points: list[RegretPoint], path: str | os.PathLike[str]) -> Path:
    """Anytime regret (mean over tables and seeds) against budget, one line per policy."""
    path = check_path(path)
    curves = regret_curves(points)
    fig, ax = pyplot().subplots(figsize=(6, 4))
    for policy, curve in curves.items():
        budgets = [c[0] for c in curve]
        ax.plot(budgets, [c[1] for c in curve], marker="o", ms=3, label=policy)
        ax.fill_between(budgets, [c[2] for c in curve], [c[3] for c in curve], alpha=0.15)
    ax.set(xlabel="budget", ylabel="regret (best accuracy - pick's accuracy)",
           title="Anytime regret (mean, band: min-max)")
    ax.axhline(0, color="black", lw=0.5)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_critical_difference(board: Leaderboard, path: str | os.PathLike[str]) -> Path:
    """Demšar's critical-difference diagram: average ranks, Nemenyi CD, groups not told apart."""
    path = check_path(path)
    r = board.ranking
    if r.critical_difference is None:
        reason = "; ".join(r.notes) or "the Friedman test was not run"
        raise BlockbenchError(f"no critical-difference diagram: {reason}")
    names, ranks = r.methods, [r.average_ranks[m] for m in r.methods]
    k, cd, half = len(names), r.critical_difference, math.ceil(len(names) / 2)
    cliques = _cliques(ranks, cd)
    top = 0.3 + 0.2 * len(cliques)  # room under the axis for the clique bars
    fig, ax = pyplot().subplots(figsize=(8, 1.4 + 0.3 * half + 0.15 * len(cliques)))
    ax.set_axis_off()
    ax.set_xlim(0.3, k + 0.7)
    ax.set_ylim(-(top + 0.5 + 0.8 * half), 1.4)
    ax.hlines(0, 1, k, color="black")
    for tick in range(1, k + 1):
        ax.vlines(tick, 0, 0.12, color="black")
        ax.text(tick, 0.2, str(tick), ha="center", va="bottom", fontsize=8)
    ax.hlines(0.95, 1, 1 + cd, color="black", lw=2)
    ax.text(1 + cd / 2, 1.05, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=8)
    for i, (name, rank) in enumerate(zip(names, ranks, strict=True)):
        left = i < half
        depth = -(top + 0.8 * (i + 1 if left else k - i))
        edge = 0.4 if left else k + 0.6
        ax.plot([rank, rank, edge], [0, depth, depth], color="black", lw=0.8)
        ax.text(edge, depth + 0.05, f"{method_label(name)} ({rank:.2f})", fontsize=8,
                ha="left" if left else "right", va="bottom")
    for g, (i, j) in enumerate(cliques):
        ax.hlines(-0.2 - 0.2 * g, ranks[i] - 0.05, ranks[j] + 0.05, color="black", lw=2.5)
    p = "not run" if r.p_value is None else f"{r.p_value:.3g}"
    ax.set_title(f"Friedman p = {p}, {len(r.tables)} tables (alpha = {r.alpha})", fontsize=9)
    return save_figure(fig, path)


def _cliques(ranks: list[float], cd: float) -> list[tuple[int, int]]:
    """Maximal runs of sorted ranks spanning no more than the critical difference."""
    groups: list[tuple[int, int]] = []
    for i in range(len(ranks)):
        j = max(j for j in range(i, len(ranks)) if ranks[j] - ranks[i] <= cd)
        if j > i and not any(a <= i and j <= b for a, b in groups):
            groups.append((i, j))
    return groups
