"""``blockbench runs``: list what a store (or a results directory) holds."""

from __future__ import annotations

import click

from blockbench.cli.output import console, err_console, print_json
from blockbench.store.listing import list_runs

STATUSES = ("ok", "failed", "running")
COLUMNS = ("run_hash", "backbone", "dataset", "partition", "target", "seed", "epochs", "status",
           "val_acc", "test_acc", "wall_seconds", "error")


@click.command("runs",
               short_help="List the runs a store holds: finished ones and those being trained.")
@click.option("--storage", envvar="BLOCKBENCH_STORAGE", metavar="URL",
              help="Store to list: sqlite:///PATH.db or postgresql://... [env BLOCKBENCH_STORAGE].")
@click.option("--results", metavar="DIR",
              help="Results directory ('compare --out DIR'): its store, else its runs.jsonl "
              "[default: blockbench-results].")
@click.option("--backbone", "-b", help="Only runs of this backbone.")
@click.option("--dataset", "-d", help="Only runs on this dataset.")
@click.option("--status", type=click.Choice(STATUSES), help="Only runs with this status.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
@click.pass_context
def runs_command(ctx: click.Context, storage: str | None, results: str | None, backbone: str | None,
                 dataset: str | None, status: str | None, fmt: str) -> None:
    """List the runs a store holds: finished ones with their metrics, and those being trained."""
    import csv
    import sys

    from rich.markup import escape
    from rich.table import Table

    if results and ctx.get_parameter_source("storage") == click.core.ParameterSource.ENVIRONMENT:
        storage = None  # an explicit --results beats the environment's store
    rows, where = list_runs(storage, results, backbone, dataset, status)
    if fmt == "json":
        print_json(rows)
        return
    if fmt == "csv":
        nested = {k for row in rows for k, v in row.items() if isinstance(v, (dict, list))}
        names = dict.fromkeys([*COLUMNS, *(k for row in rows for k in row if k not in nested)])
        writer = csv.DictWriter(sys.stdout, fieldnames=list(names), extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: v for k, v in row.items() if not isinstance(v, (dict, list))}
                         for row in rows)
        return
    table = Table(title=f"{len(rows)} runs in {escape(where)}", title_justify="left")
    for column in COLUMNS:
        table.add_column(column, justify="right" if column in ("seed", "epochs", "val_acc",
                                                               "test_acc", "wall_seconds") else "left")
    for row in rows:
        cells = []
        for column in COLUMNS:
            value = row.get(column)
            if column == "run_hash":
                value = str(value)[:12]
            elif isinstance(value, float):
                value = f"{value:.1f}" if column == "wall_seconds" else f"{value:.4f}"
            elif column == "status" and value == "running" and row.get("worker"):
                value = f"running ({row['worker']})"
            cells.append(escape("" if value is None else str(value)))
        table.add_row(*cells)
    out = console()
    if not out.is_terminal:  # a file or pipe: full cells, not squeezed into 80 columns
        from rich.console import Console

        out = Console(file=sys.stdout, width=1000, highlight=False)
    out.print(table)
    if not rows:
        err_console().print("no runs match", highlight=False)
