"""Console helpers shared by the commands: rich consoles and one-line errors."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

_stdout: Console | None = None
_stderr: Console | None = None


def console() -> Console:
    """Console on stdout (plain text when not a terminal)."""
    global _stdout
    if _stdout is None or _stdout.file is not sys.stdout:
        _stdout = Console(file=sys.stdout, highlight=False, soft_wrap=False)
    return _stdout


def err_console() -> Console:
    """Console on stderr, for warnings, errors and progress."""
    global _stderr
    if _stderr is None or _stderr.file is not sys.stderr:
        _stderr = Console(file=sys.stderr, highlight=False)
    return _stderr


def print_json(data: Any) -> None:
    """Machine-readable JSON on stdout, never wrapped or coloured."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def warn(message: str) -> None:
    err_console().print(f"[yellow]warning:[/yellow] {message}", markup=True, highlight=False)


def error_line(message: str) -> None:
    # Escape so that brackets in user values are not taken as rich markup.
    from rich.markup import escape

    err_console().print(f"[bold red]Error:[/bold red] {escape(message)}", soft_wrap=True)
