"""Keeping C-level chatter off the user's stderr: TensorFlow's start-up, libjpeg's warnings.

Some libraries write straight to file descriptor 2 from C (TensorFlow's and
absl's start-up lines, libjpeg's "Corrupt JPEG data" while a folder of real
photos is decoded), where no Python logging setting reaches. The CLI turns the
quiet mode on unless ``--verbose`` or ``--debug`` is given; library callers
get everything, as by default.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator

_state = {"quiet": False}


def set_quiet(on: bool) -> None:
    """Whether :func:`quiet_section` captures descriptor 2 (the CLI sets it)."""
    _state["quiet"] = bool(on)


def is_quiet() -> bool:
    """Whether the quiet mode is on."""
    return _state["quiet"]


@contextlib.contextmanager
def quiet_section() -> Iterator[None]:
    """:func:`captured_stderr` in quiet mode; nothing otherwise."""
    if not is_quiet():
        yield
        return
    with captured_stderr():
        yield


@contextlib.contextmanager
def captured_stderr() -> Iterator[None]:
    """Send what anything in this process writes to descriptor 2 into a temporary file.

    The capture is dropped when the block succeeds and written to the real
    stderr when it raises, so a failing import still explains itself.
    """
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 (a detached process): nothing would reach the user anyway
        yield
        return
    with tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        os.dup2(sink.fileno(), 2)
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if failed:
                sink.seek(0)
                os.write(2, sink.read())
