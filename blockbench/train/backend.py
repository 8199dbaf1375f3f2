"""A quiet TensorFlow start-up: its C++ start-up lines do not reach the user unless asked for.

TensorFlow and absl print start-up notices from C++ straight to file descriptor 2
while TensorFlow is imported (oneDNN, CUDA drivers, CPU instructions, "All log
messages before absl::InitializeLog() ...") and when the devices are first listed
("failed call to cuInit" on a machine without a GPU). ``TF_CPP_MIN_LOG_LEVEL``
hides only some of them: the lines written before absl's logging is initialised
ignore it. So the CLI calls :func:`quiet_startup`, which sets the level and
redirects descriptor 2 around the first ``import tensorflow`` (whoever imports
it: blockbench, Keras or a plugin) and its first device listing. What TensorFlow
writes there is kept in a temporary file and shown only if the import fails.
``blockbench --verbose`` (or ``--debug``) undoes it with :func:`verbose_startup`.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import logging
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from blockbench.core.quiet import captured_stderr, set_quiet

log = logging.getLogger(__name__)

#: What the quiet start-up sets unless the user set it: TensorFlow's C++ log threshold
#: (2: errors only; the lines printed before it is read are redirected instead).
QUIET_ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "2"}

_set_by_us: dict[str, str] = {}


class _QuietLoader(importlib.abc.Loader):
    """Executes TensorFlow's package with descriptor 2 captured, then lists its devices there."""

    def __init__(self, inner: importlib.abc.Loader) -> None:
        self.inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with captured_stderr():
            self.inner.exec_module(module)
            try:
                # The first device listing initialises CUDA, which reports a missing GPU on fd 2.
                module.config.list_physical_devices()
            except Exception:  # a broken device set-up fails later, where it is used
                log.debug("listing TensorFlow's devices failed", exc_info=True)
        # Hand the module its real loader back (importlib.resources and friends ask it).
        module.__loader__ = self.inner
        if module.__spec__ is not None:
            module.__spec__.loader = self.inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` with the other finders, and wraps its loader (once)."""

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "tensorflow":
            return None
        _uninstall()  # one import only; also keeps find_spec below from finding us again
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


_finder = _QuietFinder()


def _uninstall() -> None:
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)


def quiet_startup() -> None:
    """Keep TensorFlow's and absl's start-up lines from stderr (no-op once TensorFlow is imported)."""
    set_quiet(True)
    for name, value in QUIET_ENVIRONMENT.items():
        if name not in os.environ:
            os.environ[name] = _set_by_us[name] = value
    if "tensorflow" not in sys.modules and _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)


def verbose_startup() -> None:
    """Undo :func:`quiet_startup`: TensorFlow prints what it prints by default."""
    set_quiet(False)
    _uninstall()
    for name, value in list(_set_by_us.items()):
        if os.environ.get(name) == value:
            del os.environ[name]
        del _set_by_us[name]
