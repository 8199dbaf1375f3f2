"""Leaderboard renderers: rich terminal table, Markdown, HTML, CSV and JSON.

Markdown is for people (``leaderboards/*.md``); JSON (the full data model,
loadable with :func:`blockbench.report.leaderboard.load_leaderboard`) and CSV (one
row per table and method, metadata in leading ``#`` lines: read it with
``pandas.read_csv(path, comment="#")``) are for machines.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blockbench.core.errors import UsageError
from blockbench.report.leaderboard import Leaderboard
from blockbench.report.sections import Section, describe, sections
from blockbench.stats.grouping import BASELINES

if TYPE_CHECKING:
    from rich.console import Console



def print_leaderboard(board: Leaderboard, console: Console, fmt: str = "table",
                      details: bool = False) -> None:
    """Print ``board`` on ``console``: rich tables for "table", the file text otherwise."""
    if fmt == "table":
        _print_rich(board, console, details)
    else:
        console.file.write(format_leaderboard(board, fmt))
        console.file.flush()


def format_leaderboard(board: Leaderboard, fmt: str, details: bool = True) -> str:
    """The leaderboard as text in ``fmt`` (table, markdown, json, csv or html)."""
    if fmt == "json":
        return json.dumps(_finite(board.to_dict()), indent=2, allow_nan=False) + "\n"
    if fmt == "csv":
        return to_csv(board)
    if fmt == "markdown":
        return to_markdown(board, details)
    if fmt == "html":
        return to_html(board, details)
    if fmt == "table":
        from rich.console import Console

        console = Console(record=True, width=200, file=io.StringIO(), color_system=None)
        _print_rich(board, console, details)
        return console.export_text()
    raise UsageError(f"leaderboard format {fmt!r} is not valid; use table, markdown, json, csv or html")


def _finite(value: Any) -> Any:
    """NaN and infinities become null, so the JSON stays standard (and loadable everywhere)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def write_leaderboard(board: Leaderboard, path: str | os.PathLike[str], fmt: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(format_leaderboard(board, fmt), encoding="utf-8")
    return path


def _print_rich(board: Leaderboard, console: Console, details: bool) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    console.print(Text(describe(board), style="dim"))
    if not board.tables:
        console.print("No successful runs: nothing to rank.")
    for section in sections(board, details, wide=False):
        if section.headers:
            table = Table(title=escape(section.title), title_justify="left", title_style="bold",
                          box=box.SIMPLE_HEAD, pad_edge=False)
            for i, header in enumerate(section.headers):
                table.add_column(escape(header), no_wrap=i > 0 and not section.wrap, justify="left" if i < 1 else "right")
            for row in section.rows:
                table.add_row(*(Text.assemble((c.text, "bold" if c.bold else "dim" if c.dim else ""),
                                              c.suffix) for c in row))
            console.print(table)
        else:
            console.print(Text(section.title, style="bold"))
        for note in section.notes:
            console.print(f"[dim]{escape(note)}[/dim]")


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(board: Leaderboard, details: bool = True) -> str:
    lines = ["# blockbench leaderboard", "", _md(describe(board)), ""]
    for section in sections(board, details):
        lines += ["#" * section.level + " " + _md(section.title), ""]
        if section.headers:
            lines.append("| " + " | ".join(_md(h) for h in section.headers) + " |")
            lines.append("|" + "---|" * len(section.headers))
            for row in section.rows:
                cells = [(f"**{_md(c.text)}**" if c.bold and c.text else _md(c.text)) + c.suffix
                         for c in row]
                lines.append("| " + " | ".join(cells) + " |")
            lines.append("")
        lines += [f"- {_md(note)}" for note in section.notes]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _html_section(section: Section) -> list[str]:
    out = [f"<h{section.level}>{html.escape(section.title)}</h{section.level}>"]
    if section.headers:
        out.append("<table>")
        out.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in section.headers) + "</tr>")
        for row in section.rows:
            cells = []
            for c in row:
                text = html.escape(c.text)
                cls = ' class="best"' if c.bold else ' class="dim"' if c.dim else ""
                cells.append(f"<td{cls}>{f'<b>{text}</b>' if c.bold else text}"
                             f"{html.escape(c.suffix)}</td>")
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</table>")
    if section.notes:
        out.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in section.notes) + "</ul>")
    return out


def to_html(board: Leaderboard, details: bool = True) -> str:
    style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}"
             "td:first-child,th:first-child{text-align:left}.dim{color:#888}")
    body = [f"<p>{html.escape(describe(board))}</p>"]
    for section in sections(board, details):
        body += _html_section(section)
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>blockbench leaderboard"
            f"</title><style>{style}</style></head><body>\n<h1>blockbench leaderboard</h1>\n"
            + "\n".join(body) + "\n</body></html>\n")


CSV_KEY = ["table", "backbone", "dataset", "partition", "weights", "input_size", "variant"]


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
                p = c.paired if c else None
                row |= {f"diff_vs_{ref}": p and p.mean_diff, f"t_p_holm_vs_{ref}": p and p.t_p_holm,
                        f"wilcoxon_p_holm_vs_{ref}": p and p.wilcoxon_p_holm,
                        f"d_z_vs_{ref}": p and p.cohens_dz, f"verdict_vs_{ref}": c and c.verdict}
            rows.append(row)
    return rows


def to_csv(board: Leaderboard) -> str:
    buffer = io.StringIO()
    for key in ("command", "blockbench_version", "generated_at", "runs_ok", "runs_failed", "searches"):
        buffer.write(f"# {key}: {getattr(board, key)}\n")
    rows = csv_rows(board)
    fields = list(rows[0]) if rows else [*CSV_KEY, "method", "mean"]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
