"""``blockbench plot``: figures of stored results (needs the 'plots' extra, matplotlib)."""

from __future__ import annotations

import click

from blockbench.cli.output import err_console
from blockbench.core.errors import UsageError
from blockbench.core.files import check_file
from blockbench.report import plots, race_plot
from blockbench.report.leaderboard import build_leaderboard, read_results
from blockbench.report.regret import load_points
from blockbench.store.listing import DEFAULT_RESULTS

KINDS = ("blocks", "quarters", "regret", "cd", "race")


@click.command("plot",
               short_help="Draw a figure: blocks, quarters, regret, cd or race.")
@click.argument("kind", type=click.Choice(KINDS))
@click.option("--results", default=DEFAULT_RESULTS, show_default=True, metavar="DIR",
              help="Results directory ('compare --out DIR'); blocks, quarters, cd and race.")
@click.option("--replay", type=click.Path(dir_okay=False), metavar="FILE.json",
              help='Regret report for "regret": a list of {"policy", "budget", "regret"} points.')
@click.option("--out", required=True, type=click.Path(dir_okay=False), metavar="FILE.png|svg",
              help="Figure file; the suffix picks PNG or SVG.")
def plot_command(kind: str, results: str, replay: str | None, out: str) -> None:
    """Draw a figure: blocks, quarters, regret, cd or race.

    \b
    blocks    test accuracy per block (mean ± sd over seeds) over shaded quarters, BL1 and
              BL2 as lines, the validation-chosen block and its indistinguishable set marked
    quarters  box plots of block accuracy by quarter beside BL1 and BL2
    regret    anytime regret against budget per policy (from --replay FILE.json)
    cd        critical-difference diagram of the average ranks across tables
    race      survivors per round of each racing search (compare --policy racing)
    """

    check_file(plots.check_path(out), "figure file")
    plots.pyplot()  # fail on a missing matplotlib before reading any results
    if kind == "regret":
        if replay is None:
            raise UsageError("plot regret needs --replay FILE.json (a list of policy/budget/regret points)")

        path = plots.plot_regret(load_points(replay), out)
    else:
        if replay is not None:
            raise UsageError(f"--replay is only for 'plot regret', not 'plot {kind}'")

        runs, searches = read_results(results)
        if kind == "race":
            path = race_plot.plot_race(searches, out, results)
        else:
            draw = {"blocks": plots.plot_blocks, "quarters": plots.plot_quarters,
                    "cd": plots.plot_critical_difference}[kind]
            path = draw(build_leaderboard(runs, searches), out)
    err_console().print(f"{kind} plot written to {path}", highlight=False)
