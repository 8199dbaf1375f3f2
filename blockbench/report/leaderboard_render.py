"""Leaderboard renderers: rich terminal table, Markdown, HTML, CSV and JSON.

Markdown is for people (``leaderboards/*.md``); JSON (the full data model,
loadable with :func:`blockbench.report.leaderboard.load_leaderboard`) and CSV (one
row per table and method, metadata in leading ``#`` lines: read it with
``pandas.read_csv(path, comment="#")``) are for machines. The tables are drawn
by :mod:`blockbench.report.writer`, from the sections of :mod:`blockbench.report.sections`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blockbench.report import writer
from blockbench.report.leaderboard import Leaderboard
from blockbench.report.sections import describe, sections
from blockbench.report.writer import Document, Section
from blockbench.stats.grouping import BASELINES

if TYPE_CHECKING:
    from rich.console import Console

FORMATS = ("table", "markdown", "json", "csv", "html")
CSV_KEY = ["table", "backbone", "dataset", "partition", "weights", "input_size", "variant"]


def document(board: Leaderboard, details: bool = True, wide: bool = True) -> Document:
    """The leaderboard as a document: the wide summary for files, or one small table per
    leaderboard table for a terminal (``wide=False``)."""
    empty = [] if wide or board.tables else [Section("No successful runs: nothing to rank.")]
    return Document("blockbench leaderboard", [describe(board)],
                    empty + sections(board, details, wide))


def print_leaderboard(board: Leaderboard, console: Console, fmt: str = "table",
                      details: bool = False) -> None:
    """Print ``board`` on ``console``: rich tables for "table", the file text otherwise."""
    if fmt == "table":
        writer.print_document(document(board, details, wide=False), console)
    else:
        console.file.write(format_leaderboard(board, fmt))
        console.file.flush()


def format_leaderboard(board: Leaderboard, fmt: str, details: bool = True) -> str:
    """The leaderboard as text in ``fmt`` (table, markdown, json, csv or html)."""
    writer.check_format(fmt, FORMATS, "leaderboard")
    if fmt == "json":
        return writer.to_json(board.to_dict())
    if fmt == "csv":
        return to_csv(board)
    return writer.render(document(board, details, wide=fmt != "table"), fmt)


def format_for(path: str | os.PathLike[str], fmt: str | None = None) -> str:
    """The leaderboard format: ``fmt`` if given, else guessed from the file suffix."""
    return writer.format_for(path, fmt, FORMATS)


def write_leaderboard(board: Leaderboard, path: str | os.PathLike[str], fmt: str) -> Path:
    """Write ``board`` to ``path`` in ``fmt`` (the directory is created)."""
    return writer.write_text(path, format_leaderboard(board, fmt))


def csv_rows(board: Leaderboard) -> list[dict[str, Any]]:
    """One flat row per table and method, with its comparisons against BL1 and BL2."""
    rows = []
    for table in board.tables:
        best = table.best_method()
        for m in table.methods:
            s = m.summary
            row: dict[str, Any] = {"table": table.key.id, **table.key.to_dict(), "method": m.method,
                                   "label": m.label, "optimistic": m.optimistic, "best": m.method == best,
                                   "n": s.n, "mean": s.mean, "sd": s.sd, "ci_low": s.ci_low,
                                   "ci_high": s.ci_high, "n_test": m.n_test,
                                   "runs_failed": table.runs_failed}
            for ref in BASELINES:
                c = table.comparison(m.method, ref)
                p = c.test if c else None
                row |= {f"diff_vs_{ref}": p and p.diff, f"p_vs_{ref}": p and p.p,
                        f"p_holm_vs_{ref}": c and c.p_holm, f"g_z_vs_{ref}": c and c.g_z,
                        f"verdict_vs_{ref}": c and c.verdict}
            rows.append(row)
    return rows


def to_csv(board: Leaderboard) -> str:
    """The CSV form: provenance in ``#`` lines, then :func:`csv_rows`."""
    meta = {key: getattr(board, key) for key in ("command", "blockbench_version", "generated_at",
                                                 "runs_ok", "runs_failed", "searches")}
    return writer.to_csv(csv_rows(board), [*CSV_KEY, "method", "mean"], meta)
