"""ImageNet weights files in the Keras cache: where Keras keeps them, and one line when missing.

``fetch_imagenet`` goes through ``keras.utils.get_file`` (same file names, URLs,
hashes and cache folder as keras.applications), so a file downloaded or copied
there once serves both. Offline, or when a cached file fails its hash and cannot
be downloaded again, the error names the file, the folder Keras looked in, and
``--weights PATH`` as the alternative.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from dataclasses import dataclass

from blockbench.core.errors import UsageError


@dataclass(frozen=True)
class WeightsFile:
    """An official ImageNet weights file, as keras.applications downloads it.

    Attributes:
        name: file name in the Keras cache's ``models`` folder.
        origin: download URL.
        file_hash: md5 or sha256 that Keras checks, or None where Keras checks none.
    """

    name: str
    origin: str
    file_hash: str | None = None


def first_line(exc: BaseException) -> str:
    """The exception's type and the first line of its message."""
    return (f"{type(exc).__name__}: {exc}".strip().splitlines() or [""])[0]


def keras_cache_folder() -> str:
    """The folder ``keras.utils.get_file(..., cache_subdir="models")`` reads and writes.

    As Keras 3 resolves it: ``$KERAS_HOME`` (read when Keras is imported), else
    ``~/.keras``; where that is not writable, ``/tmp/.keras``; then ``models``.
    """
    import tempfile

    try:
        from keras.src.backend.config import keras_home

        home = keras_home()
    except ImportError:  # a Keras without the private accessor: its documented default
        home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    base = os.path.expanduser(home)
    if not os.access(base, os.W_OK):
        base = os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")
    return os.path.join(base, "models")


def _matches(path: str, file_hash: str) -> bool:
    """Whether ``path`` has ``file_hash`` (sha256 when 64 hex digits, else md5, as Keras checks)."""
    digest = hashlib.sha256() if len(file_hash) == 64 else hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest() == file_hash


def _download_failure(exc: BaseException) -> str:
    """Why a download failed: Keras's "URL fetch failure on URL: CODE -- REASON" made short."""
    found = re.fullmatch(r"URL fetch failure on \S+: (.*?) -- (.*)", str(exc).strip(), re.DOTALL)
    if found is None:
        return first_line(exc)
    code, reason = found.groups()
    return (reason if code == "None" else f"{code} {reason}").splitlines()[0]


def fetch_imagenet(file: WeightsFile, backbone: str) -> str:
    """The path of ``file`` in the Keras cache, downloading it if needed.

    Raises:
        UsageError: one line when it cannot be had (offline, say): the file name,
            the cache folder Keras looks in, and ``--weights PATH`` as the alternative.
    """
    import keras

    folder = keras_cache_folder()
    cached = os.path.join(folder, file.name)
    stale = (file.file_hash is not None and os.path.isfile(cached)
             and not _matches(cached, file.file_hash))
    # Keras would print "Downloading data from ..." (and its re-download notice) to stdout:
    # offline, a second line before the one that says what to do.
    interactive = keras.config.is_interactive_logging_enabled()
    keras.config.disable_interactive_logging()
    present = os.path.isfile(cached) and not stale
    try:
        path = str(keras.utils.get_file(
            file.name, file.origin, cache_subdir="models", file_hash=file.file_hash
        ))
    except Exception as exc:  # Keras raises a bare Exception for network failures
        reason = _download_failure(exc)
        if stale:  # Keras re-downloads a cached file whose hash differs, and removes it on failure
            gone = "" if os.path.exists(cached) else ", so Keras removed it"
            problem = (f"the cached file {cached} does not match the expected hash {file.file_hash}"
                       f" and downloading it again from {file.origin} failed ({reason}){gone}")
        else:
            problem = f"could not download {file.origin} ({reason})"
        raise UsageError(
            f"no ImageNet weights for backbone {backbone!r}: {problem}; put {file.name} into "
            f"the Keras cache folder {folder}, or pass --weights PATH with a weights file"
        ) from exc
    finally:
        if interactive:
            keras.config.enable_interactive_logging()
    if not present:  # Keras's own progress was silenced: say once what was fetched, and where
        size = os.path.getsize(path) / 2**20
        print(f"downloaded the ImageNet weights of backbone {backbone!r}: {file.name} "
              f"({size:.1f} MiB) into {folder}", file=sys.stderr)
    return path
