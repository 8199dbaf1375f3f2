"""The Keras backend a process trains on: its name, whether blockbench supports it, its version.

Keras 3 picks its backend once, when it is first imported: ``$KERAS_BACKEND``
if set, else the ``"backend"`` of ``keras.json`` in the Keras home, else
TensorFlow. The backend changes what a run computes, so it is part of a run's
identity (:class:`~blockbench.core.spec.RunSpec`); it is resolved here without
importing Keras, so that a bad one is refused before any heavy import.
"""

from __future__ import annotations

import json
import os
import sys
from importlib import metadata
from pathlib import Path

from blockbench.core.errors import UsageError

#: The Keras backends blockbench trains on.
SUPPORTED_BACKENDS = ("tensorflow", "jax")
#: Keras' own default, and the backend every run before backends were recorded used.
DEFAULT_BACKEND = "tensorflow"

#: The distributions whose versions describe each backend, in the order shown.
_PACKAGES = {"tensorflow": ("tensorflow",), "jax": ("jax", "jaxlib"), "torch": ("torch",)}


def keras_home() -> Path:
    """The Keras home directory, as Keras 3 resolves it (``$KERAS_HOME``, else ``~/.keras``,
    else ``/tmp/.keras`` when the home directory is not writable)."""
    if "KERAS_HOME" in os.environ:
        return Path(os.path.expanduser(os.environ["KERAS_HOME"]))
    base = os.path.expanduser("~")
    if not os.access(base, os.W_OK):
        base = "/tmp"
    return Path(base) / ".keras"


def keras_backend_name() -> str:
    """The backend Keras uses in this process, or will use once imported (not lower-cased)."""
    keras = sys.modules.get("keras")
    if keras is not None:  # already chosen: the environment no longer matters
        return str(keras.backend.backend())
    if os.environ.get("KERAS_BACKEND"):  # Keras ignores an empty value
        return os.environ["KERAS_BACKEND"]
    try:
        config = json.loads((keras_home() / "keras.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):  # no file, or one Keras would ignore too
        return DEFAULT_BACKEND
    backend = config.get("backend", DEFAULT_BACKEND) if isinstance(config, dict) else None
    return str(backend) if backend else DEFAULT_BACKEND


def _source() -> str:
    """Where :func:`keras_backend_name` found the backend, for messages."""
    if "keras" in sys.modules:
        return "keras.config.backend()"
    if os.environ.get("KERAS_BACKEND"):
        return "KERAS_BACKEND"
    return str(keras_home() / "keras.json")


def check_backend(name: str | None = None) -> str:
    """The backend ``name`` (default: :func:`keras_backend_name`), lower-cased, if supported.

    Raises:
        UsageError: one line naming the backend and the supported ones.
    """
    where = f" ({_source()})" if name is None else ""
    found = keras_backend_name() if name is None else name
    backend = found.strip().lower()
    if backend in SUPPORTED_BACKENDS:
        return backend
    valid = " or ".join(SUPPORTED_BACKENDS)
    if backend == "torch":
        raise UsageError(f"Keras backend {found!r}{where} is not supported yet; use {valid}")
    raise UsageError(f"Keras backend {found!r}{where} is not supported by blockbench; use {valid}")


def backend_version(name: str) -> str:
    """The versions of ``name``'s packages and of Keras, e.g. ``"jax 0.10.2, jaxlib 0.10.2,
    keras 3.15.1"``, read from the installed distributions (nothing is imported); packages
    that are not installed are left out."""
    parts = []
    for package in (*_PACKAGES.get(name, (name,)), "keras"):
        try:
            parts.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(parts)
