"""``blockbench leaderboard``: statistics and rankings of stored runs, for people and machines."""

from __future__ import annotations

import click

from blockbench.cli.output import console, err_console
from blockbench.core.files import check_file
from blockbench.report.leaderboard import build_leaderboard, read_results
from blockbench.report.leaderboard_render import (
    FORMATS,
    format_for,
    print_leaderboard,
    write_leaderboard,
)
from blockbench.store.listing import DEFAULT_RESULTS


@click.command("leaderboard",
               short_help="BL1, BL2, Bopt and policy picks of stored runs, with paired tests.")
@click.option("--results", default=DEFAULT_RESULTS, show_default=True, metavar="DIR",
              help="Results directory written by 'compare --out DIR' (searched recursively).")
@click.option("--storage", metavar="URL",
              help="Read the runs from this store (sqlite:///PATH.db or postgresql://...) "
              "instead of --results.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="Output format [default: table, or guessed from the --out suffix].")
@click.option("--out", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the leaderboard to FILE (e.g. leaderboards/flowers.md) instead of stdout.")
@click.option("--details", is_flag=True,
              help="Also show per-table comparisons (p-values, effect sizes, notes) in the terminal; "
                   "files always have them.")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05,
              show_default=True, help="Significance level of the tests.")
def leaderboard_command(results: str, storage: str | None, fmt: str | None, out: str | None,
                        details: bool, alpha: float) -> None:
    """Leaderboard of stored runs: BL1, BL2, Bopt (chosen on validation, reported on test),
    the best block of each quarter and each policy's pick, with confidence intervals,
    paired tests against the baselines, ranks across tables and the quarter analysis.

    Markdown is for people; JSON and CSV are for machines (the JSON file is the
    baseline format of 'blockbench check').
    """

    if out is not None:
        check_file(out, "output file")  # before the work, not after it
    runs, searches = read_results(results, storage=storage)
    board = build_leaderboard(runs, searches, alpha=alpha)
    if out is None:
        print_leaderboard(board, console(), fmt or "table", details=details)
        return
    path = write_leaderboard(board, out, format_for(out, fmt))
    err_console().print(f"leaderboard of {board.runs_ok} runs ({board.runs_failed} failed) "
                        f"written to {path}", highlight=False)
