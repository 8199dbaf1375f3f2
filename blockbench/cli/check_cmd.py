"""``blockbench check``: the CI regression gate against a committed JSON leaderboard."""

from __future__ import annotations

import math

import click

from blockbench.cli.output import console
from blockbench.core.errors import UsageError
from blockbench.report.check import DEFAULT_ALPHA, check_regression
from blockbench.report.leaderboard import build_leaderboard, load_leaderboard, read_results
from blockbench.report.writer import num
from blockbench.stats.grouping import short_digests
from blockbench.store.listing import DEFAULT_RESULTS

_STYLES = {"regressed": "bold red", "missing": "bold red", "untestable": "bold red",
           "dropped": "yellow", "improved": "green", "new": "cyan"}


@click.command("check",
               short_help="Fail (exit 1) when an accuracy dropped beyond tolerance, or a table disappeared.")
@click.option("--baseline", required=True, type=click.Path(dir_okay=False), metavar="FILE.json",
              help="Leaderboard written by 'blockbench leaderboard --format json'.")
@click.option("--results", default=DEFAULT_RESULTS, show_default=True, metavar="DIR",
              help="Fresh results directory ('compare --out DIR').")
@click.option("--storage", metavar="URL",
              help="Read the fresh runs from this store instead of --results.")
@click.option("--tolerance", type=float, default=None, metavar="X",
              help="Largest accepted mean drop in accuracy, absolute (e.g. 0.02) "
                   "[default: a one-sided paired t-test on the shared seeds].")
@click.option("--alpha", type=float, default=None, metavar="A",
              help=f"False-alarm rate of the whole check (Bonferroni over BL1, BL2 and Bopt of "
                   f"every table) [default: {DEFAULT_ALPHA}].")
@click.option("--sigmas", type=float, default=None, metavar="K", hidden=True,
              help="Deprecated: --alpha set to the one-sided normal tail of K.")
@click.pass_context
def check_command(ctx: click.Context, baseline: str, results: str, storage: str | None,
                  tolerance: float | None, alpha: float | None, sigmas: float | None) -> None:
    """Fail (exit 1) when an accuracy dropped beyond noise, or a table disappeared.

    Compares, per table, BL1, BL2 and Bopt of the fresh results with the baseline
    leaderboard seed by seed on the seeds both share (a one-sided paired t-test,
    Bonferroni over the gated comparisons); quarter bests and policies are
    compared and reported, never a failure. A gated method with fewer than two
    shared seeds cannot be tested and fails, unless --tolerance is given. New
    tables and methods are reported, never a failure.
    """
    from rich.markup import escape
    from rich.table import Table

    alpha = _alpha(alpha, sigmas)
    base = load_leaderboard(baseline)
    runs, searches = read_results(results, storage=storage)
    result = check_regression(base, build_leaderboard(runs, searches, alpha=base.alpha),
                              tolerance, alpha)
    out = console()
    rule = (f"absolute tolerance {tolerance}" if tolerance is not None else
            f"paired t on shared seeds, alpha {alpha:.3g} ({result.level:.2g} per gated method)")
    if result.moved:
        table = Table(title=f"What moved ({rule})", title_justify="left")
        for column in ("table", "method", "seeds", "baseline", "now", "change", "tolerance", "status"):
            table.add_column(column, justify="left" if column in ("table", "method") else "right")
        for m in result.moved:
            table.add_row(escape(short_digests(m.table)), escape(m.label), str(m.seeds),
                          num(m.baseline), num(m.current),
                          num(m.delta, signed=True), num(m.tolerance),
                          f"[{_STYLES.get(m.status, '')}]{m.status}[/]")
        out.print(table)
    if any(m.status == "untestable" for m in result.movements):
        out.print("[bold red]untestable[/]: a gated method shares fewer than 2 seeds with the baseline; "
                  "rerun the baseline's seeds (at least 2), or pass --tolerance")
    if any(m.status == "dropped" for m in result.movements):
        out.print("[yellow]dropped[/]: beyond tolerance, but quarter bests and policies are not gated")
    for table_id in result.missing_tables:
        out.print(f"[bold red]missing table[/]: {escape(short_digests(table_id))} is in the baseline but not in the results")
    for table_id in result.new_tables:
        out.print(f"[cyan]new table[/]: {escape(short_digests(table_id))} (not in the baseline)")
    compared = sum(m.baseline is not None and m.current is not None for m in result.movements)
    if result.failed:
        bad = sum(m.status in ("regressed", "missing", "untestable") for m in result.movements)
        out.print(f"[bold red]FAILED[/]: {bad} accuracy drop(s), missing or untestable method(s), "
                  f"{len(result.missing_tables)} missing table(s), out of {compared} compared")
        ctx.exit(1)
    out.print(f"[green]passed[/]: no accuracy dropped beyond tolerance ({compared} compared, {rule})")


def _alpha(alpha: float | None, sigmas: float | None) -> float:
    """``--alpha``, or the deprecated ``--sigmas K`` as its one-sided normal tail."""
    if sigmas is None:
        return DEFAULT_ALPHA if alpha is None else alpha
    if alpha is not None:
        raise UsageError("--sigmas is a deprecated alias of --alpha; give only --alpha")
    if not sigmas > 0:
        raise UsageError(f"sigmas {sigmas} is not valid; use a positive number, e.g. 3 "
                         "(deprecated: use --alpha)")
    click.echo("warning: --sigmas is deprecated; use --alpha", err=True)
    return 0.5 * math.erfc(sigmas / math.sqrt(2))
