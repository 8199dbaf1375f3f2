"""Console helpers shared by the commands: rich consoles and one-line errors."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any, TextIO

from rich.console import Console

#: Width of a console that is not a terminal: rich would wrap at 80 columns, cutting lines
#: and squeezing tables for a pipe or a file; this is wide enough never to.
UNWRAPPED_WIDTH = 100_000

_stdout: Console | None = None
_stderr: Console | None = None


def make_console(file: TextIO) -> Console:
    """A console on ``file``: sized to the terminal, or, when not a terminal, never wrapping."""
    out = Console(file=file, highlight=False)
    if not out.is_terminal:
        out.width = UNWRAPPED_WIDTH
    return out


def console() -> Console:
    """Console on stdout (plain text, not wrapped, when not a terminal)."""
    global _stdout
    if _stdout is None or _stdout.file is not sys.stdout:
        _stdout = make_console(sys.stdout)
    return _stdout


def err_console() -> Console:
    """Console on stderr, for warnings, errors and progress (not wrapped when not a terminal)."""
    global _stderr
    if _stderr is None or _stderr.file is not sys.stderr:
        _stderr = make_console(sys.stderr)
    return _stderr


def print_json(data: Any) -> None:
    """Machine-readable JSON on stdout, never wrapped or coloured."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def warn(message: str) -> None:
    err_console().print(f"[yellow]warning:[/yellow] {message}", markup=True, highlight=False)


class _WarningLines(logging.Handler):
    """Blockbench's logged warnings (a skipped line of a records file...) as the CLI's own."""

    def emit(self, record: logging.LogRecord) -> None:
        from rich.markup import escape

        try:
            warn(escape(" ".join(record.getMessage().split())))
        except Exception:
            self.handleError(record)


def show_warnings() -> None:
    """Print the warnings blockbench's modules log as one ``warning:`` line each (once installed)."""
    logger = logging.getLogger("blockbench")
    if not any(isinstance(h, _WarningLines) for h in logger.handlers):
        logger.addHandler(_WarningLines(logging.WARNING))


def error_line(message: str) -> None:
    # Escape so that brackets in user values are not taken as rich markup.
    from rich.markup import escape

    err_console().print(f"[bold red]Error:[/bold red] {escape(message)}", soft_wrap=True)
