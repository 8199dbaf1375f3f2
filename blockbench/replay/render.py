"""Render a replay report (see :mod:`blockbench.replay.report`) as terminal tables, Markdown or JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from blockbench.core.errors import UsageError

FORMATS = ("table", "markdown", "json")
SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".json": "json", ".txt": "table"}

Section = tuple[str, list[str], list[list[str]]]

_TEXT_COLUMNS = {"table", "policy", "budget", "why", "reference", "verdict", "eval epoch",
                 "Bopt per seed (block: test %)"}

_METRICS = ["policy", "runs", "epochs", "cost", "pick test %", "regret", "regret sd", "≤0.5 pt",
            "≤1 pt", "reached Bopt", "runs to Bopt", "no pick"]


def _num(value: Any, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _metric_row(row: dict[str, Any]) -> list[str]:
    return [row["policy"], _num(row["runs"], 1), _num(row["epochs"], 1), _num(row["cost"], 2),
            _num(row["pick_test"]), _num(row["regret"]), _num(row["regret_sd"]),
            _pct(row["within_0_5"]), _pct(row["within_1"]), _pct(row["reached_bopt"]),
            _num(row["runs_to_bopt"], 1), str(row["no_pick"])]


def sections(report: dict[str, Any], per_table: bool = True) -> list[Section]:
    """The report's tables, in order, as (title, header, rows)."""
    out: list[Section] = []
    tables = report["tables"]
    out.append(("Tables", ["table", "blocks", "Q4 blocks", "seeds", "epochs", "eval epoch",
                           "test images", "test SE (pt)", "Bopt per seed (block: test %)"],
                [[t["id"], str(t["n_blocks"]), str(t["q4_blocks"]), str(len(t["seeds"])),
                  str(t["full_epochs"]), t["eval_epoch"], str(t["n_test"]), _num(t["test_se"], 1),
                  ", ".join(f"{s}: {b['target'].removeprefix('block:')} ({100 * b['test_acc']:.1f})"
                            for s, b in t["bopt"].items())] for t in tables]))
    for budget in report["meta"]["budgets"]:
        rows = [r for r in report["overall"] if r["budget"] == budget]
        n = max((r["tables"] for r in rows), default=0)
        out.append((f"Budget {budget}: overall (mean over {n} table{'s' * (n != 1)})", _METRICS,
                    [_metric_row(r) for r in sorted(rows, key=_order(report))]))
        comps = [c for c in report["comparisons"] if c["budget"] == budget]
        if comps:
            out.append((f"Budget {budget}: against last-quarter and random (paired repeats)",
                        ["policy", "reference", "regret diff", "wins/ties/losses",
                         "seeds better/worse", "cost / reference cost", "verdict"],
                        [[c["policy"], c["reference"], f"{c['mean_diff']:+.2f}",
                          f"{c['wins']}/{c['ties']}/{c['losses']}",
                          f"{c['cells_better']}/{c['cells_worse']} of {c['cells']}",
                          f"{_num(c['cost'])} / {_num(c['reference_cost'])}", c["verdict"]]
                         for c in comps]))
        anytime = _anytime_section(report, budget)
        if anytime:
            out.append(anytime)
        if per_table and len(tables) > 1:
            for t in tables:
                rows = [r for r in report["summary"] if r["budget"] == budget and r["table"] == t["id"]]
                out.append((f"Budget {budget}: {t['id']}", _METRICS,
                            [_metric_row(r) for r in sorted(rows, key=_order(report))]))
    if report["unavailable"]:
        out.append(("Not replayed", ["table", "policy", "budget", "why"],
                    [[u["table"], u["policy"], u["budget"], u["reason"]] for u in report["unavailable"]]))
    return out


def _anytime_section(report: dict[str, Any], budget: str, columns: int = 15) -> Section | None:
    """Mean anytime regret per policy (over the tables that reach each point), x = 1..columns."""
    by: dict[str, dict[int, list[float]]] = {}
    policies = {p["label"] for p in report["meta"]["policies"]}
    for point in report["points"]:
        if point["budget_label"] == budget and point["budget"] <= columns:
            name = point["policy"].removesuffix(f" @ {budget}")
            if name in policies:
                by.setdefault(name, {}).setdefault(int(point["budget"]), []).append(point["regret"])
    if not by:
        return None
    xs = sorted({x for curve in by.values() for x in curve})
    n_tables = len(report["tables"])
    rows = [[name, *(_num(sum(v) / len(v)) if len(v := curve.get(x, [])) == n_tables else "-"
                     for x in xs)]
            for name, curve in sorted(by.items(), key=lambda kv: _order(report)({"policy": kv[0]}))]
    return (f"Budget {budget}: anytime regret after x full-run equivalents", ["policy", *map(str, xs)],
            rows)


def _order(report: dict[str, Any]) -> Any:
    labels = [p["label"] for p in report["meta"]["policies"]]
    return lambda row: labels.index(row["policy"]) if row["policy"] in labels else len(labels)


def to_markdown(report: dict[str, Any]) -> str:
    meta = report["meta"]
    lines = ["# Replay report", "",
             f"Produced by `{meta['command']}` (blockbench {meta['blockbench_version']}, "
             f"{meta['generated_at']}): {meta['repeats']} repeats per policy, table and budget, seed "
             f"{meta['seed']}.", "",
             f"Accuracies and regrets in points (percent). {meta['regret'][0].upper()}{meta['regret'][1:]}. "
             "Cost in full-run equivalents (epochs spent / epochs of a full run). "
             "Definitions: docs/policies.md.", ""]
    for title, header, rows in sections(report):
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |",
                  "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
        lines.append("")
    if report["notes"]:
        lines += ["## Notes", "", *(f"- {n}" for n in report["notes"]), ""]
    return "\n".join(lines)


def to_text(report: dict[str, Any]) -> str:
    """Plain-text tables for a terminal (wide, no colour, reasons wrapped)."""
    import io

    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(record=True, width=200, file=io.StringIO(), color_system=None)
    meta = report["meta"]
    console.print(f"{meta['repeats']} repeats per policy, table and budget (seed {meta['seed']}); "
                  "accuracies and regrets in points; cost in full-run equivalents.", highlight=False)
    for title, header, rows in sections(report, per_table=False):
        table = Table(title=escape(title), title_justify="left", title_style="bold",
                      box=box.SIMPLE_HEAD, pad_edge=False)
        for name in header:
            wraps = name in ("why", "Bopt per seed (block: test %)")
            table.add_column(escape(name), no_wrap=not wraps, overflow="fold",
                             justify="left" if name in _TEXT_COLUMNS else "right")
        for row in rows:
            table.add_row(*(escape(cell) for cell in row))
        console.print(table)
    for note in report["notes"]:
        console.print(f"note: {escape(note)}", highlight=False)
    return console.export_text()


def format_report(report: dict[str, Any], fmt: str) -> str:
    """The report as text in ``fmt``: table, markdown or json."""
    if fmt == "json":
        return json.dumps(report, indent=2, allow_nan=False) + "\n"
    if fmt == "markdown":
        return to_markdown(report) + "\n"
    if fmt == "table":
        return to_text(report)
    raise UsageError(f"replay report format {fmt!r} is not valid; use one of {', '.join(FORMATS)}")


def format_for(path: str | os.PathLike[str], fmt: str | None) -> str:
    """The output format: ``fmt`` if given, else guessed from the file suffix."""
    if fmt:
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise UsageError(f"cannot tell the format of {str(path)!r} from its suffix; use .md, .json "
                         "or .txt, or pass --format")
    return SUFFIXES[suffix]


def write_report(report: dict[str, Any], path: str | os.PathLike[str], fmt: str) -> Path:
    """Write ``report`` to ``path`` in ``fmt`` (the directory is created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(format_report(report, fmt), encoding="utf-8")
    return path
