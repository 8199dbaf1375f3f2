"""How ``compare --dry-run`` shows its plan: a table per backbone x dataset, then the totals."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from blockbench.search.plan import Plan, PlanRow

_HEADERS = ("backbone", "dataset", "px", "partition", "blocks", "classes", "train/val/test",
            "seeds", "runs", "in store", "to train", "fwd GFLOP/img", "TFLOP", "GPU-h")


def _cells(plan: Plan, row: PlanRow) -> list[str]:
    approx = "" if row.data.exact else "≈"
    bound = "≤" if row.bound else ""
    return [row.backbone, row.dataset, str(row.input_size), row.partition, str(row.blocks),
            str(row.data.n_classes), approx + "/".join(f"{n:,}" for n in row.data.sizes),
            str(row.seeds), f"{bound}{row.runs:,}", f"{row.stored:,}", f"{bound}{row.to_train:,}",
            _num(row.mflops_per_image / 1e3), _num(row.flops / 1e12),
            _num(plan.gpu_hours(row.flops))]


def _num(value: float) -> str:
    """Three significant digits, thousands separated; 0 as 0."""
    if value == 0:
        return "0"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _total_cells(plan: Plan) -> list[str]:
    totals = plan.totals
    return ["total", "", "", "", "", "", "", "", f"{int(totals['runs']):,}",
            f"{int(totals['stored']):,}", f"{int(totals['to_train']):,}", "",
            _num(totals["flops"] / 1e12), _num(totals["gpu_hours"])]


def notes(plan: Plan) -> list[str]:
    """What the numbers mean and where they come from."""
    lines = [
        f"GPU-h: the runs still to train, at an assumed sustained {plan.tflops:g} TFLOP/s "
        "(--assume-tflops); FLOPs from a model of the cut networks (blockbench/train/flops.py): "
        "forward, backward and optimizer steps of the engine's protocol, each cut's prefix once.",
        "Nothing was trained or downloaded; runs already in the store cost nothing.",
    ]
    if any(r.bound for r in plan.rows):
        lines.append("≤: an adaptive policy's run count is the most its budget allows.")
    for row in plan.rows:
        if not row.data.exact and row.data.note:
            lines.append(f"≈ {row.dataset}: {row.data.note}; split sizes estimated from the "
                         "counts (a run rounds per class).")
    return list(dict.fromkeys(lines))


def print_plan(plan: Plan, out: Console, fmt: str) -> None:
    """Print ``plan`` as a rich table, Markdown or JSON."""
    if fmt == "json":
        out.print_json(json.dumps(plan.to_dict()))
        return
    rows = [_cells(plan, r) for r in plan.rows] + [_total_cells(plan)]
    if fmt == "markdown":
        lines = ["| " + " | ".join(_HEADERS) + " |", "|" + "---|" * len(_HEADERS)]
        lines += ["| " + " | ".join(cells) + " |" for cells in rows]
        out.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)
    else:
        table = Table(title="Plan (dry run: nothing trained)")
        for header in _HEADERS:
            table.add_column(header, justify="left" if header in _HEADERS[:4] else "right")
        for i, cells in enumerate(rows):
            table.add_row(*cells, end_section=i == len(rows) - 2)
        out.print(table)
    for line in notes(plan):
        out.print(f"- {line}", markup=False, highlight=False, soft_wrap=True)
