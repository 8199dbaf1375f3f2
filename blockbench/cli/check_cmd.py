"""``blockbench check``: the CI regression gate against a committed JSON leaderboard."""

from __future__ import annotations

import click

from blockbench.cli.output import console
from blockbench.report.check import DEFAULT_SIGMAS, check_regression
from blockbench.report.leaderboard import build_leaderboard, load_leaderboard, read_results
from blockbench.report.writer import num
from blockbench.stats.grouping import short_digests
from blockbench.store.listing import DEFAULT_RESULTS

_STYLES = {"regressed": "bold red", "missing": "bold red", "improved": "green", "new": "cyan"}


@click.command("check",
               short_help="Fail (exit 1) when an accuracy dropped beyond tolerance, or a table disappeared.")
@click.option("--baseline", required=True, type=click.Path(dir_okay=False), metavar="FILE.json",
              help="Leaderboard written by 'blockbench leaderboard --format json'.")
@click.option("--results", default=DEFAULT_RESULTS, show_default=True, metavar="DIR",
              help="Fresh results directory ('compare --out DIR').")
@click.option("--storage", metavar="URL",
              help="Read the fresh runs from this store instead of --results.")
@click.option("--tolerance", type=float, default=None, metavar="X",
              help="Largest accepted drop in accuracy, absolute (e.g. 0.02) "
                   "[default: derived from the baseline's seed and test-set noise].")
@click.option("--sigmas", type=float, default=DEFAULT_SIGMAS, show_default=True, metavar="K",
              help="Derived tolerance: K standard errors of the difference.")
@click.pass_context
def check_command(ctx: click.Context, baseline: str, results: str, storage: str | None,
                  tolerance: float | None, sigmas: float) -> None:
    """Fail (exit 1) when an accuracy dropped beyond tolerance, or a table disappeared.

    Compares, per table and method (BL1, BL2, Bopt, quarter bests, policies), the
    mean test accuracy of the fresh results with the baseline leaderboard, and
    prints what moved. New tables and methods are reported, never a failure.
    """
    from rich.markup import escape
    from rich.table import Table

    base = load_leaderboard(baseline)
    runs, searches = read_results(results, storage=storage)
    result = check_regression(base, build_leaderboard(runs, searches, alpha=base.alpha),
                              tolerance, sigmas)
    out = console()
    rule = f"absolute tolerance {tolerance}" if tolerance is not None else f"tolerance {sigmas:g} SE"
    if result.moved:
        table = Table(title=f"What moved ({rule})", title_justify="left")
        for column in ("table", "method", "baseline", "now", "change", "tolerance", "status"):
            table.add_column(column, justify="left" if column in ("table", "method") else "right")
        for m in result.moved:
            table.add_row(escape(short_digests(m.table)), escape(m.label), num(m.baseline), num(m.current),
                          num(m.delta, signed=True), num(m.tolerance),
                          f"[{_STYLES.get(m.status, '')}]{m.status}[/]")
        out.print(table)
    for table_id in result.missing_tables:
        out.print(f"[bold red]missing table[/]: {escape(short_digests(table_id))} is in the baseline but not in the results")
    for table_id in result.new_tables:
        out.print(f"[cyan]new table[/]: {escape(short_digests(table_id))} (not in the baseline)")
    compared = sum(m.baseline is not None and m.current is not None for m in result.movements)
    if result.failed:
        bad = sum(m.status in ("regressed", "missing") for m in result.movements)
        out.print(f"[bold red]FAILED[/]: {bad} accuracy drop(s) or missing method(s), "
                  f"{len(result.missing_tables)} missing table(s), out of {compared} compared")
        ctx.exit(1)
    out.print(f"[green]passed[/]: no accuracy dropped beyond tolerance ({compared} compared, {rule})")
