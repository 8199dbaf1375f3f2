"""Public import path for plugin authors: re-exports :mod:`blockbench.components.dataset`."""

from blockbench.components.dataset import (
    SPLITS,
    DatasetFactory,
    DatasetSource,
    Example,
)

__all__ = [
    "SPLITS",
    "DatasetFactory",
    "DatasetSource",
    "Example",
]
