"""``blockbench blocks``: show how a partition strategy cuts a backbone into blocks."""

from __future__ import annotations

from typing import Any

import click

from blockbench.cli.flags import component_option
from blockbench.cli.output import console, print_json
from blockbench.components.backbone import Weights, check_weights
from blockbench.components.partition import Partition, build_partition
from blockbench.core.options import check_named_options, parse_assignments
from blockbench.plugin import manager
from blockbench.search.settings import COMMAND_LINE, Settings
from blockbench.stats.grouping import short_digests
from blockbench.train.engine import build_backbone


@click.command("blocks",
               short_help="Print the blocks a partition strategy cuts BACKBONE into.")
@click.argument("backbone")
@click.option("--partition", "-p", default="delimiter", show_default=True,
              help="Partition strategy (see 'blockbench list partitions').")
@component_option("partition", "k=12 or delimiters=maxpool,activation", "--param")
@click.option("--weights", default="none", show_default=True,
              help="imagenet, none or a weights file. Blocks do not depend on the weights, "
                   "so the default 'none' (random initialisation) works offline and gives "
                   "the same blocks.")
@click.option("--input-size", type=int, help="Image side in pixels [default: the backbone's].")
@component_option("backbone", "alpha=0.25", "--option")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Output format; json lists every block's layers.")
def blocks_command(backbone: str, partition: str, partition_options: tuple[str, ...], weights: str,
                   input_size: int | None, backbone_options: tuple[str, ...], fmt: str) -> None:
    """Print the blocks a partition strategy cuts BACKBONE into.

    One row per block: its index, quarter, first and last layer, number of
    layers, trainable parameters and their share of the backbone's trainable
    parameters; then a summary line.
    """

    Settings().update({"input_size": input_size}, COMMAND_LINE)  # the flag as compare checks it
    components = manager.get_components()
    bb = components.backbones.get(backbone)
    pt = components.partitions.get(partition)
    checked_params = check_named_options(
        pt.factory, parse_assignments(partition_options, "--partition-option"), "partition", pt.name)
    size = int(input_size or bb.factory.default_input_size)
    bb.factory.check_input_size(size)
    checked_options = check_named_options(
        bb.factory, parse_assignments(backbone_options, "--backbone-option"), "backbone", bb.name)
    parsed_weights = Weights.parse(weights)
    check_weights(bb.name, bb.factory, parsed_weights)

    # Built as a run builds it, so the layer names and blocks are the ones runs use.
    model = build_backbone(bb.factory, parsed_weights, size, checked_options)
    result = build_partition(pt.name, pt.factory, model, checked_params)
    context = {"backbone": bb.name, "options": checked_options, "input_size": size,
               "weights": parsed_weights.identity}
    if fmt == "json":
        print_json(partition_json(result, context))
    else:
        print_table(result, context)


def _share(params: int, total: int) -> float:
    return params / total if total else 0.0


def partition_json(result: Partition, context: dict[str, Any]) -> dict[str, Any]:
    """The partition as JSON-ready data, with every block's full layer list."""
    total = result.total_trainable_params
    return {
        **context,
        "partition": result.strategy,
        "params": dict(result.params),
        "digest": result.digest,
        "n_blocks": len(result),
        "total_trainable_params": total,
        "blocks": [
            {"index": b.index, "quarter": b.quarter, "first_layer": b.first_layer,
             "last_layer": b.last_layer, "n_layers": len(b.layers),
             "trainable_params": b.trainable_params,
             "share": round(_share(b.trainable_params, total), 6), "layers": list(b.layers)}
            for b in result.blocks
        ],
    }


def _describe_params(params: dict[str, Any]) -> str:
    def show(value: Any) -> str:
        return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)

    shown = [f"{k}={show(v)}" for k, v in sorted(params.items()) if v not in ("", None)]
    return f" ({'; '.join(shown)})" if shown else ""


def print_table(result: Partition, context: dict[str, Any]) -> None:
    """A rich table of the blocks, then one summary line."""
    from rich.table import Table

    total = result.total_trainable_params
    table = Table(expand=False)
    for column in ("block", "Q", "first layer", "last layer", "layers", "params", "share"):
        if column in ("first layer", "last layer"):
            table.add_column(column, overflow="fold")  # full names, folded when narrow
        else:
            table.add_column(column, justify="left" if column == "Q" else "right", no_wrap=True)
    for b in result.blocks:
        table.add_row(str(b.index), f"Q{b.quarter}", b.first_layer, b.last_layer,
                      str(len(b.layers)), f"{b.trainable_params:,}",
                      f"{100 * _share(b.trainable_params, total):.1f}%")
    out = console()
    out.print(table)
    options = "".join(f", {k}={v}" for k, v in sorted(context["options"].items()))
    out.print(
        f"{context['backbone']} (input {context['input_size']}{options}, weights "
        f"{short_digests(context['weights'])}): partition {result.strategy}{_describe_params(dict(result.params))}, "
        f"{len(result)} blocks, {total:,} trainable parameters",
        markup=False, soft_wrap=True,
    )
