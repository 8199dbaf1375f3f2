"""Files and directories blockbench writes: checked before, written atomically, errors in one line.

Every path a command writes (a results directory, a SQLite store, a
leaderboard or report file) is checked before any work starts
(:func:`check_directory`, :func:`check_file`), so that a command refused for
a bad path leaves nothing behind; the real filesystem calls are still
guarded (:func:`make_directory`, :func:`write_atomic`), because a check can
pass where the write fails (root ignores permissions, a disk fills up). A
file is replaced by write-to-temp-then-rename in its own directory, fsynced,
so a crash leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from blockbench.core.errors import UsageError

_REASONS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "it is on a read-only file system",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.ENAMETOOLONG: "the name is too long",
    errno.ELOOP: "too many symbolic links",
}


def describe_os_error(exc: OSError) -> str:
    """What went wrong, in a few words (``permission denied``), for a one-line message."""
    if exc.errno in _REASONS:
        return _REASONS[exc.errno]
    return exc.strerror.lower() if exc.strerror else type(exc).__name__


def _first_existing(path: Path) -> Path:
    """``path`` or its nearest existing ancestor."""
    current = path
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def _check_parents(path: Path, what: str) -> None:
    """Refuse ``path`` when an ancestor that must become a directory is a file, or is not writable."""
    ancestor = _first_existing(path.parent)
    if not ancestor.is_dir():
        raise UsageError(f"cannot create {what} {str(path)!r}: {str(ancestor)!r} is a file, "
                         "not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UsageError(f"cannot create {what} {str(path)!r}: {str(ancestor)!r} is not writable "
                         "(permission denied)")


def check_directory(path: str | os.PathLike[str], what: str) -> Path:
    """Refuse a directory that cannot be created or written, without creating anything.

    Args:
        path: the directory.
        what: what it is, for messages ("results directory").

    Raises:
        UsageError: ``path`` is a file, an ancestor is a file, or it cannot be written.
    """
    path = Path(path).expanduser()
    if path.exists():
        if not path.is_dir():
            raise UsageError(f"{what} {str(path)!r} is a file, not a directory; "
                             "choose a directory (it is created if missing)")
        if not os.access(path, os.W_OK | os.X_OK):
            raise UsageError(f"{what} {str(path)!r} is not writable (permission denied)")
        return path
    _check_parents(path, what)
    return path


def check_file(path: str | os.PathLike[str], what: str) -> Path:
    """Refuse a file that cannot be written (it is a directory, or its directory cannot be made)."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise UsageError(f"{what} {str(path)!r} is a directory, not a file")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise UsageError(f"{what} {str(path)!r} is not writable (permission denied)")
        return path
    _check_parents(path, what)
    return path


def make_directory(path: str | os.PathLike[str], what: str) -> Path:
    """Create ``path`` and its parents (if missing); a filesystem error is one line."""
    path = check_directory(path, what)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UsageError(f"cannot create {what} {str(path)!r}: a file is in the way") from None
    except NotADirectoryError:
        raise UsageError(f"cannot create {what} {str(path)!r}: one of its parents is a file, "
                         "not a directory") from None
    except OSError as exc:
        raise UsageError(f"cannot create {what} {str(path)!r}: {describe_os_error(exc)}") from None
    return path


def write_atomic(path: str | os.PathLike[str], data: str | bytes, what: str = "file") -> Path:
    """Replace ``path`` by ``data`` (text as UTF-8): temporary file, fsync, rename, fsync directory.

    Readers see the old content or the new one, never a mix, even after a crash.

    Raises:
        UsageError: the file or its directory cannot be written (one line naming it and why).
    """
    path = check_file(path, what)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    temp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        _keep_mode(path, temp)
        os.replace(temp, path)
        temp = None
        _fsync_directory(path.parent)
    except (FileExistsError, NotADirectoryError):
        raise UsageError(f"cannot write {what} {str(path)!r}: one of its parents is a file, "
                         "not a directory") from None
    except OSError as exc:
        raise UsageError(f"cannot write {what} {str(path)!r}: {describe_os_error(exc)}") from None
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)
    return path


def _keep_mode(path: Path, temp: str) -> None:
    """Give the new file the old one's permissions, or the usual ones for a new file."""
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(temp, mode)


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry is; not every platform allows it.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
