"""C-level writes to descriptor 2 stay off the user's stderr in quiet mode, unless a step fails."""

from __future__ import annotations

import os

import pytest

from blockbench.core import quiet


@pytest.fixture(autouse=True)
def _restore_mode():
    before = quiet.is_quiet()
    yield
    quiet.set_quiet(before)


def test_quiet_section_drops_what_a_library_writes_to_descriptor_2(capfd) -> None:
    quiet.set_quiet(True)
    with quiet.quiet_section():
        os.write(2, b"Corrupt JPEG data: premature end of data segment\n")
    assert "Corrupt JPEG" not in capfd.readouterr().err


def test_verbose_mode_lets_it_through(capfd) -> None:
    quiet.set_quiet(False)
    with quiet.quiet_section():
        os.write(2, b"Corrupt JPEG data\n")
    assert "Corrupt JPEG data" in capfd.readouterr().err


def test_a_failing_step_shows_what_it_wrote(capfd) -> None:
    quiet.set_quiet(True)
    with pytest.raises(RuntimeError), quiet.quiet_section():
        os.write(2, b"the reason it failed\n")
        raise RuntimeError("boom")
    assert "the reason it failed" in capfd.readouterr().err
