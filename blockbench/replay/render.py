"""Render a replay report (see :mod:`blockbench.replay.report`) as terminal tables, Markdown or JSON.

The report is a dict (its JSON form); :func:`document` turns it into the
format-neutral document that :mod:`blockbench.report.writer` draws.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from blockbench.report import writer
from blockbench.report.writer import Column, Document, Section, cells

FORMATS = ("table", "markdown", "json")

_TEXT_COLUMNS = {"table", "policy", "budget", "why", "reference", "verdict", "eval epoch",
                 "Bopt per seed (block: test %)", "best (mean test %)", "matched k"}
_WRAP_COLUMNS = {"why", "Bopt per seed (block: test %)", "best (mean test %)", "BL1 (mean test %)"}

_METRICS = ["policy", "runs", "epochs", "cost", "seeds", "pick mean test %", "regret", "regret sd",
            "≤0.5 pt", "≤1 pt", "reached Bopt", "runs to Bopt", "no pick"]
_EQUAL = ["table", "policy", "seeds", "runs", "regret", "≤0.5 pt", "≤1 pt", "regret - racing's",
          "racing better/worse (repeats)"]



def _num(value: float | None, digits: int = 2) -> str:
    return writer.num(value, digits, missing="-")


def _pct(value: float | None) -> str:
    return writer.pct(value, missing="-")


def _section(title: str, headers: Sequence[str], rows: list[list[str]]) -> Section:
    return Section(title, [Column(h, text=h in _TEXT_COLUMNS, wrap=h in _WRAP_COLUMNS) for h in headers],
                   [cells(row) for row in rows])


def _metric_row(row: dict[str, Any]) -> list[str]:
    return [row["policy"], _num(row["runs"], 1), _num(row["epochs"], 1), _num(row["cost"], 2),
            _num(row.get("seeds"), 1), _num(row.get("pick_expected")), _num(row["regret"]),
            _num(row["regret_sd"]),
            _pct(row["within_0_5"]), _pct(row["within_1"]), _pct(row["reached_bopt"]),
            _num(row["runs_to_bopt"], 1), str(row["no_pick"])]


def sections(report: dict[str, Any], per_table: bool = True) -> list[Section]:
    """The report's tables, in order."""
    out: list[Section] = []
    tables = report["tables"]
    out.append(_section("Tables", ["table", "blocks", "Q4 blocks", "seeds", "epochs", "eval epoch",
                                   "test images", "test SE (pt)", "best (mean test %)",
                                   "BL1 (mean test %)", "Bopt per seed (block: test %)"],
                        [[t["id"], str(t["n_blocks"]), str(t["q4_blocks"]), str(len(t["seeds"])),
                          str(t["full_epochs"]), t["eval_epoch"], str(t["n_test"]), _num(t["test_se"], 1),
                          f"{t['best']['target'].removeprefix('block:')} "
                          f"({100 * t['best']['expected_test']:.2f})",
                          _pct_points(t.get("bl1_expected_test")),
                          ", ".join(f"{s}: {b['target'].removeprefix('block:')} ({100 * b['test_acc']:.1f})"
                                    for s, b in t["bopt"].items())] for t in tables]))
    for budget in report["meta"]["budgets"]:
        rows = [r for r in report["overall"] if r["budget"] == budget]
        n = max((r["tables"] for r in rows), default=0)
        out.append(_section(f"Budget {budget}: overall (mean over {n} table{'s' * (n != 1)})", _METRICS,
                            [_metric_row({**r, "policy": r["policy"] + (
                                f" ({r['tables']} of {n} tables)" if r["tables"] < n else "")})
                             for r in sorted(rows, key=_order(report))]))
        comps = [c for c in report["comparisons"] if c["budget"] == budget]
        if comps:
            out.append(_section(f"Budget {budget}: against last-quarter and random (paired repeats)",
                                ["policy", "reference", "regret diff", "wins/ties/losses",
                                 "seeds better/worse", "cost / reference cost", "verdict"],
                                [[c["policy"], c["reference"], f"{c['mean_diff']:+.2f}",
                                  f"{c['wins']}/{c['ties']}/{c['losses']}",
                                  f"{c['cells_better']}/{c['cells_worse']} of {c['cells']}",
                                  f"{_num(c['cost'])} / {_num(c['reference_cost'])}", c["verdict"]]
                                 for c in comps]))
        out += _equal_sections(report, budget, per_table)
        anytime = _anytime_section(report, budget)
        if anytime:
            out.append(anytime)
        if per_table and len(tables) > 1:
            for t in tables:
                rows = [r for r in report["summary"] if r["budget"] == budget and r["table"] == t["id"]]
                out.append(_section(f"Budget {budget}: {t['id']}", _METRICS,
                                    [_metric_row(r) for r in sorted(rows, key=_order(report))]))
    if report["unavailable"]:
        out.append(_section("Not replayed", ["table", "policy", "budget", "why"],
                            [[u["table"], u["policy"], u["budget"], u["reason"]]
                             for u in report["unavailable"]]))
    return out


def _pct_points(fraction: float | None) -> str:
    return "-" if fraction is None else f"{100 * fraction:.2f}"


def _equal_row(table: str, row: dict[str, Any], vs: dict[str, Any] | None) -> list[str]:
    return [table, row["policy"], _num(row["seeds"], 1), _num(row["runs"], 1), _num(row["regret"]),
            _pct(row["within_0_5"]), _pct(row["within_1"]),
            "" if vs is None else _num(vs["diff"], 2) if vs["diff"] is None else f"{vs['diff']:+.2f}",
            "" if vs is None else f"{vs['better']}/{vs['worse']}"]


def _equal_sections(report: dict[str, Any], budget: str, per_table: bool) -> list[Section]:
    """Multi-seed policies against NAME@k matched on runs, and the per-seed policies (one seed)."""
    out = []
    for entry in [e for e in report.get("equal_runs_overall", []) if e["budget"] == budget]:
        rows = [_equal_row(f"mean over {entry['tables']}", entry, None)]
        rows += [[f"mean over {c['tables']}", c["family"], _num(c["seeds"], 1), _num(c["runs"], 1),
                  _num(c["regret"]), _pct(c["within_0_5"]), _pct(c["within_1"]),
                  "-" if c["diff"] is None else f"{c['diff']:+.2f}", f"{c['worse']}/{c['better']}"]
                 for c in entry["compared"]]
        out.append(_section(f"Budget {budget}: {entry['policy']} at equal runs (overall)",
                            [h.replace("racing", entry["policy"]) for h in _EQUAL], rows))
        if not per_table:
            continue
        rows = []
        for e in [e for e in report["equal_runs"] if e["budget"] == budget
                  and e["policy"] == entry["policy"]]:
            rows.append(_equal_row(e["table"], e, None))
            rows += [_equal_row(e["table"], c, {**c["vs"], "better": c["vs"]["worse"],
                                                "worse": c["vs"]["better"]}) for c in e["compared"]]
        out.append(_section(f"Budget {budget}: {entry['policy']} at equal runs, per table",
                            [h.replace("racing", entry["policy"]) for h in _EQUAL], rows))
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
    return _section(f"Budget {budget}: anytime regret after x full-run equivalents",
                    ["policy", *map(str, xs)], rows)


def _order(report: dict[str, Any]) -> Callable[[dict[str, Any]], int]:
    labels = [p["label"] for p in report["meta"]["policies"]]
    return lambda row: labels.index(row["policy"]) if row["policy"] in labels else len(labels)


def document(report: dict[str, Any], terminal: bool = False) -> Document:
    """The report as a document: for a file, or for a terminal (one intro line, no per-table parts)."""
    meta = report["meta"]
    if terminal:
        intro = [f"{meta['repeats']} repeats per policy, table and budget (seed {meta['seed']}); "
                 "accuracies and regrets in points; cost in full-run equivalents."]
    else:
        intro = [f"Produced by `{meta['command']}` (blockbench {meta['blockbench_version']}, "
                 f"{meta['generated_at']}): {meta['repeats']} repeats per policy, table and budget, "
                 f"seed {meta['seed']}.",
                 f"Accuracies and regrets in points (percent). {meta['regret'][0].upper()}"
                 f"{meta['regret'][1:]}. Cost in full-run equivalents (epochs spent / epochs of a "
                 "full run). Definitions: docs/policies.md."]
    notes = [Section("Notes", notes=list(report["notes"]))] if report["notes"] else []
    return Document("Replay report", intro, sections(report, per_table=not terminal) + notes)


def format_report(report: dict[str, Any], fmt: str) -> str:
    """The report as text in ``fmt``: table, markdown or json."""
    writer.check_format(fmt, FORMATS, "replay report")
    if fmt == "json":
        return writer.to_json(report)
    return writer.render(document(report, terminal=fmt == "table"), fmt)


def format_for(path: str | os.PathLike[str], fmt: str | None = None) -> str:
    """The report format: ``fmt`` if given, else guessed from the file suffix."""
    return writer.format_for(path, fmt, FORMATS)


def write_report(report: dict[str, Any], path: str | os.PathLike[str], fmt: str) -> Path:
    """Write ``report`` to ``path`` in ``fmt`` (the directory is created)."""
    return writer.write_text(path, format_report(report, fmt))
