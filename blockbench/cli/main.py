"""The ``blockbench`` click group: global options, error handling, command registration."""

from __future__ import annotations

import sys
from typing import Any

import click

from blockbench import __version__
from blockbench.errors import BlockbenchError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class BlockbenchGroup(click.Group):
    """A click group that turns BlockbenchError into one line on stderr (traceback with --debug)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BlockbenchError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            from blockbench.cli.output import error_line

            error_line(str(exc))
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            from blockbench.cli.output import error_line

            error_line("interrupted; completed runs are kept")
            ctx.exit(130)


@click.group(cls=BlockbenchGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="blockbench")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Benchmark block-wise fine-tuning of pretrained image backbones.

    Cut a pretrained backbone into blocks, fine-tune one block at a time, and
    find the best block (Bopt) with far fewer training runs than exhaustive
    search, measured honestly: selected on validation, reported on test.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    from blockbench.cli.output import warn
    from blockbench.plugins import get_components

    for message in get_components().errors:
        warn(message)


def _add_builtin_commands() -> None:
    from blockbench.cli import blocks_cmd, compare_cmd, list_cmd

    cli.add_command(blocks_cmd.blocks_command)

    cli.add_command(compare_cmd.compare_command)

    cli.add_command(list_cmd.list_command)

    from blockbench.cli import check_cmd, leaderboard_cmd, plot_cmd

    cli.add_command(leaderboard_cmd.leaderboard_command)
    cli.add_command(check_cmd.check_command)
    cli.add_command(plot_cmd.plot_command)

    from blockbench.cli import replay_cmd

    cli.add_command(replay_cmd.replay_command)

    from blockbench.cli import runs_cmd, worker_cmd

    cli.add_command(runs_cmd.runs_command)
    cli.add_command(worker_cmd.worker_command)


def _add_plugin_commands() -> None:
    from blockbench.plugins import register_commands

    for message in register_commands(cli):
        print(f"warning: {message}", file=sys.stderr)


_add_builtin_commands()
_add_plugin_commands()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="blockbench")
