"""The ``blockbench`` click group: global options, error handling, command registration.

Built-in commands are loaded when they run, not when the group is built: each
command module imports what it needs at its top (statistics, the store, the
engine), and ``blockbench --help`` lists them from :data:`COMMANDS` without
importing any of it. ``tests/cli/test_main.py`` checks that the listed help is
each command's own.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from blockbench import __version__
from blockbench.cli.output import error_line, show_warnings, warn
from blockbench.core.errors import BlockbenchError
from blockbench.plugin import manager
from blockbench.train import backend

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

#: Built-in commands: name -> (module in blockbench.cli, command object, one-line help).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "list": ("list_cmd", "list_command",
        "List backbones, datasets, partitions and policies, with the plugin of each."),
    "blocks": ("blocks_cmd", "blocks_command",
        "Print the blocks a partition strategy cuts BACKBONE into."),
    "compare": ("compare_cmd", "compare_command",
        "Fine-tune BL1, BL2 and the blocks a policy picks; report Bopt on test."),
    "runs": ("runs_cmd", "runs_command",
        "List the runs a store holds: finished ones and those being trained."),
    "leaderboard": ("leaderboard_cmd", "leaderboard_command",
        "BL1, BL2, Bopt and policy picks of stored runs, with paired tests."),
    "check": ("check_cmd", "check_command",
        "Fail (exit 1) when an accuracy dropped beyond tolerance, or a table disappeared."),
    "plot": ("plot_cmd", "plot_command",
        "Draw a figure: blocks, quarters, regret, cd or race."),
    "replay": ("replay_cmd", "replay_command",
        "Replay search policies on exhaustive tables, looking runs up instead of training."),
}


class LazyCommand(click.Command):
    """Stands in for a built-in command in the group until the command is used."""

    def __init__(self, name: str, module: str, attribute: str, short_help: str) -> None:
        super().__init__(name, short_help=short_help, add_help_option=False)
        self.module = module
        self.attribute = attribute

    def load(self) -> click.Command:
        """Import the command's module and return the real command."""
        command = getattr(importlib.import_module(f"blockbench.cli.{self.module}"), self.attribute)
        assert isinstance(command, click.Command)
        return command


class BlockbenchGroup(click.Group):
    """A click group that loads built-in commands on use and turns BlockbenchError into one line.

    An error becomes one line on stderr and its exit code; ``--debug`` shows the traceback.
    """

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        """Run the CLI; click's own usage errors become one line, like blockbench's."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            error_line(" ".join(exc.format_message().split()) + where)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            error_line(" ".join(exc.format_message().split()))
            sys.exit(exc.exit_code)
        except click.Abort:
            error_line("aborted")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        if isinstance(command, LazyCommand):
            command = self.commands[cmd_name] = command.load()
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # The listing reads the stand-ins' help, so --help imports no command module.
        limit = formatter.width - 6 - max((len(n) for n in self.commands), default=0)
        rows = [(name, cmd.get_short_help_str(limit)) for name, cmd in sorted(self.commands.items())
                if not cmd.hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BlockbenchError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            error_line(str(exc))
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            error_line("interrupted; completed runs are kept")
            ctx.exit(130)


@click.group(cls=BlockbenchGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="blockbench")
@click.option("--debug", is_flag=True,
              help="Show full tracebacks on errors (and what --verbose shows).")
@click.option("--verbose", is_flag=True,
              help="Show TensorFlow's start-up and log messages (hidden by default).")
@click.pass_context
def cli(ctx: click.Context, debug: bool, verbose: bool) -> None:
    """Benchmark block-wise fine-tuning of pretrained image backbones.

    Cut a pretrained backbone into blocks, fine-tune one block at a time, and
    find the best block (Bopt) with far fewer training runs than exhaustive
    search, measured honestly: selected on validation, reported on test.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    show_warnings()
    if verbose or debug:
        backend.verbose_startup()
    else:
        backend.quiet_startup()
    for message in manager.get_components().errors:
        warn(message)


def _add_commands(group: click.Group) -> None:
    for name, (module, attribute, short_help) in COMMANDS.items():
        group.add_command(LazyCommand(name, module, attribute, short_help))
    for message in manager.register_commands(group):
        print(f"warning: {message}", file=sys.stderr)


_add_commands(cli)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="blockbench")
