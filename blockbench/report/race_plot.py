"""The racing figure: which candidate blocks survived each round of a racing search.

A racing search (``compare --policy racing``) records its rounds in
``SearchRecord.info["rounds"]``: per round the seed, the survivors evaluated on
it, and the candidates eliminated after it (with why). One panel per racing
search, at most :data:`MAX_PANELS`: x is the round (and its seed), y the
candidate blocks and BL1, the reference arm raced every round.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blockbench.core.errors import UsageError
from blockbench.core.records import SearchRecord
from blockbench.core.spec import parse_target
from blockbench.report.plots import check_path, panels, save_figure
from blockbench.stats.grouping import method_label

#: Most panels in one figure: beyond this the figure is unreadable, and says how many it left out.
MAX_PANELS = 6


@dataclass(frozen=True)
class Round:
    """One round of a race: its seed, who was evaluated, who was eliminated after it (and why)."""

    seed: int | None
    survivors: list[str]
    eliminated: dict[str, str]


def racing_rounds(search: SearchRecord) -> list[Round] | None:
    """The rounds of a racing search, None for a search that is not one (no ``info["rounds"]``)."""
    rounds = search.info.get("rounds")
    if not isinstance(rounds, list) or not rounds or not all(isinstance(r, Mapping) for r in rounds):
        return None
    out = []
    for r in rounds:
        seed = r.get("seed")
        eliminated = r.get("eliminated") or {}
        out.append(Round(seed if isinstance(seed, int) else None,
                         [str(t) for t in r.get("survivors") or []],
                         {str(k): str(v) for k, v in eliminated.items()} if isinstance(eliminated, Mapping) else {}))
    return out


def racing_searches(searches: Iterable[SearchRecord]) -> list[SearchRecord]:
    """The racing searches, in table order."""
    found = [s for s in searches if racing_rounds(s) is not None]
    return sorted(found, key=lambda s: (s.backbone, s.dataset, s.partition, s.seed, s.created_at))


def _order(target: str) -> tuple[int, int]:
    kind, index = parse_target(target)
    return (1, index) if index is not None else (0, 0 if kind == "bl1" else 1)


def _label(target: str) -> str:
    return target.replace("block:", "block ") if target.startswith("block:") else method_label(target)


def plot_race(searches: Sequence[SearchRecord], path: str | os.PathLike[str], source: str = "") -> Path:
    """Survivors per round of each racing search in ``searches``: one panel each (at most
    :data:`MAX_PANELS`); a dot where a candidate ran, a cross where it was eliminated, a star on the pick.

    Raises:
        UsageError: no racing search among ``searches``.
    """
    path = check_path(path)
    races = racing_searches(searches)
    if not races:
        where = f" in {source}" if source else ""
        raise UsageError(f"no racing search with rounds{where}: run 'blockbench compare --policy "
                         "racing' first (plot race draws the rounds that search records)")
    shown = races[:MAX_PANELS]
    tallest = max(len(_candidates(s)) for s in shown)
    fig, axes = panels(len(shown), width=4.8, height=max(3.2, 0.22 * (tallest + 1) + 1.2))
    for ax, search in zip(axes, shown, strict=True):
        _draw(ax, search)
    if len(races) > len(shown):
        fig.suptitle(f"the first {len(shown)} of {len(races)} racing searches", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def _candidates(search: SearchRecord) -> list[str]:
    rounds = racing_rounds(search) or []
    listed = search.info.get("candidates")
    names = {str(t) for t in listed} if isinstance(listed, list) else set()
    names |= {t for r in rounds for t in [*r.survivors, *r.eliminated]}
    names.discard(str(search.info.get("reference", "bl1")))
    return sorted(names, key=_order)


def _draw(ax: Any, search: SearchRecord) -> None:
    rounds = racing_rounds(search) or []
    reference = str(search.info.get("reference", "bl1"))
    rows = [reference, *_candidates(search)]
    y = {target: i for i, target in enumerate(rows)}
    xs = list(range(1, len(rounds) + 1))
    ax.plot(xs, [y[reference]] * len(xs), "s-", ms=4, color="tab:gray", lw=1,
            label=f"{_label(reference)} (reference)")
    ran: dict[str, list[int]] = {}
    out_x, out_y = [], []
    for x, r in zip(xs, rounds, strict=True):
        for target in r.survivors:
            if target in y and target != reference:
                ran.setdefault(target, []).append(x)
        for target in r.eliminated:
            if target in y:
                out_x.append(x)
                out_y.append(y[target])
    for target, at in ran.items():
        ax.plot(at, [y[target]] * len(at), "o-", ms=3, lw=1, color="tab:blue",
                label="survivor" if target == next(iter(ran)) else None)
    if out_x:
        ax.plot(out_x, out_y, "x", ms=7, mew=1.8, color="tab:red", label="eliminated")
    if search.pick in y:
        last = max(ran.get(search.pick) or [xs[-1]])
        ax.plot([last], [y[search.pick]], "*", ms=12, color="gold", mec="black", mew=0.6, label="pick")
    ax.set_yticks(range(len(rows)), [_label(t) for t in rows], fontsize=6 if len(rows) > 16 else 8)
    ax.set_xticks(xs, [f"{x}\n{'s' + str(r.seed) if r.seed is not None else ''}"
                       for x, r in zip(xs, rounds, strict=True)], fontsize=7)
    ax.set_xlim(0.5, len(xs) + 0.5)
    stopped = search.info.get("stopped")
    ax.set(xlabel="round (seed)", title=f"{search.backbone} · {search.dataset} · {search.partition}\n"
           f"{len(rounds)} rounds, {search.runs} runs" + (f", stopped: {stopped}" if stopped else ""))
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
