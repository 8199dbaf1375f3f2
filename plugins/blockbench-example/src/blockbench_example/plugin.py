"""The hook implementations blockbench calls; the entry point names this module.

Registration only instantiates factories: nothing here imports TensorFlow,
reads data or builds a model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from blockbench.hookspecs import hookimpl
from blockbench_example.every_n import EveryNWeighted
from blockbench_example.stripes import Stripes

if TYPE_CHECKING:
    import click

    from blockbench.hookspecs import DatasetRegistry, PartitionRegistry


@hookimpl
def register_datasets(register: DatasetRegistry) -> None:
    register("example-stripes", Stripes())


@hookimpl
def register_partitions(register: PartitionRegistry) -> None:
    register("every-n-weighted", EveryNWeighted(), aliases=("every-n",))


@hookimpl
def register_commands(cli: click.Group) -> None:
    from blockbench_example.command import stripes_command

    cli.add_command(stripes_command)
