"""The group loads built-in commands on use, and lists them with their own help."""

from __future__ import annotations

import os
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from blockbench.cli.main import COMMANDS, LazyCommand, cli


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_listed_help_is_the_commands_own(name: str) -> None:
    module, attribute, short_help = COMMANDS[name]
    command = LazyCommand(name, module, attribute, short_help).load()
    assert command.name == name
    assert command.short_help == short_help


def test_help_lists_every_command_without_loading_one() -> None:
    script = (
        "import sys\nfrom blockbench.cli.main import cli\n"
        "try:\n    cli.main(['--help'], prog_name='blockbench')\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('blockbench.cli.') and "
        "m.endswith('_cmd')))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    *help_lines, loaded = done.stdout.strip().splitlines()
    assert loaded == "[]"
    text = "\n".join(help_lines)
    for name, (_, _, short_help) in COMMANDS.items():
        assert f"{name} " in text and short_help.split(";")[0][:40] in text


def test_a_command_is_loaded_when_used() -> None:
    result = CliRunner().invoke(cli, ["list", "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: cli list" in result.output or "Usage: blockbench list" in result.output
    assert isinstance(cli.commands["list"], click.Command)
    assert not isinstance(cli.commands["list"], LazyCommand)
