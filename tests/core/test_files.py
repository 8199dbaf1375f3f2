"""Paths blockbench writes: checked before anything is created, replaced atomically, one-line errors.

Tests run as root, for whom every directory is writable: a read-only directory
is simulated by making ``os.access`` say no, or the real filesystem call raise.
"""

from __future__ import annotations

import errno
import os
import stat

import pytest

from blockbench.core.errors import UsageError
from blockbench.core.files import (
    check_directory,
    check_file,
    describe_os_error,
    make_directory,
    write_atomic,
)


def _one_line(exc: pytest.ExceptionInfo[UsageError]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_a_directory_that_is_a_file_or_under_one_is_refused_and_nothing_is_made(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(UsageError) as info:
        check_directory(tmp_path / "afile", "results directory")
    assert "'" + str(tmp_path / "afile") + "' is a file, not a directory" in _one_line(info)
    with pytest.raises(UsageError) as info:
        make_directory(tmp_path / "afile" / "deeper" / "out", "results directory")
    message = _one_line(info)
    assert message.startswith(f"cannot create results directory '{tmp_path / 'afile' / 'deeper' / 'out'}'")
    assert f"'{tmp_path / 'afile'}' is a file, not a directory" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_a_read_only_parent_is_refused_before_anything_is_made(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(UsageError, match=r"is not writable \(permission denied\)$"):
        check_directory(tmp_path / "out", "results directory")
    with pytest.raises(UsageError, match=r"is not writable \(permission denied\)$"):
        check_file(tmp_path / "lb.md", "output file")
    assert not (tmp_path / "out").exists()


def test_the_real_mkdir_failing_is_one_line_too(tmp_path, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr("pathlib.Path.mkdir", refuse)
    with pytest.raises(UsageError) as info:
        make_directory(tmp_path / "out", "results directory")
    assert _one_line(info) == f"cannot create results directory '{tmp_path / 'out'}': permission denied"


def test_a_file_that_is_a_directory_is_refused(tmp_path):
    with pytest.raises(UsageError, match=r"output file '.*' is a directory, not a file$"):
        check_file(tmp_path, "output file")
    with pytest.raises(UsageError, match=r"is a directory, not a file$"):
        write_atomic(tmp_path, "x", "output file")


def test_write_atomic_replaces_the_file_whole_and_keeps_its_mode(tmp_path):
    target = tmp_path / "sub" / "runs.jsonl"
    write_atomic(target, "one\n")
    assert target.read_text() == "one\n"
    os.chmod(target, 0o640)
    write_atomic(target, "two\n")
    assert target.read_text() == "two\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in target.parent.iterdir()] == ["runs.jsonl"]  # no temporary left


def test_a_failed_replace_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "runs.jsonl"
    target.write_text("old\n")

    def read_only(src, dst):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(os, "replace", read_only)
    with pytest.raises(UsageError) as info:
        write_atomic(target, "new\n", "results file")
    assert _one_line(info) == f"cannot write results file '{target}': it is on a read-only file system"
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["runs.jsonl"]


def test_write_atomic_under_a_file_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(UsageError, match=r"'.*afile' is a file, not a directory$"):
        write_atomic(tmp_path / "afile" / "lb.md", "x", "output file")


@pytest.mark.parametrize(("code", "words"), [(errno.EACCES, "permission denied"),
                                             (errno.ENOSPC, "no space left on the device"),
                                             (errno.EIO, "input/output error")])
def test_os_errors_are_described_in_a_few_words(code, words):
    assert describe_os_error(OSError(code, os.strerror(code))) == words
