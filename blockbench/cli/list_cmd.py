"""``blockbench list``: what the loaded plugins provide."""

from __future__ import annotations

import click

from blockbench.cli.output import console, print_json
from blockbench.plugin import manager
from blockbench.plugin.registry import KINDS

_KIND_CHOICES = [k + "s" if k != "policy" else "policies" for k in KINDS]


@click.command("list",
               short_help="List backbones, datasets, partitions and policies, with the plugin of each.")
@click.argument("kind", required=False, type=click.Choice(_KIND_CHOICES, case_sensitive=False))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Output format.")
def list_command(kind: str | None, fmt: str) -> None:
    """List backbones, datasets, partitions and policies, with the plugin of each."""

    components = manager.get_components()
    kinds = [kind.lower()] if kind else _KIND_CHOICES
    if fmt == "json":

        print_json({
            k: [
                {"name": e.name, "aliases": list(e.aliases), "plugin": e.plugin,
                 "description": e.description}
                for e in components.registry(k)
            ]
            for k in kinds
        } | {"errors": components.errors})
        return
    from rich.table import Table

    for k in kinds:
        table = Table(title=k.capitalize(), title_justify="left", expand=False)
        table.add_column("name", style="bold cyan", no_wrap=True)
        table.add_column("aliases")
        table.add_column("plugin", style="green", no_wrap=True)
        table.add_column("description")
        for e in components.registry(k):
            table.add_row(e.name, ", ".join(e.aliases), e.plugin, e.description)
        if not len(components.registry(k)):
            table.add_row("[dim](none)[/dim]", "", "", "")
        console().print(table)
