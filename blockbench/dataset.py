"""Public import path for plugin authors: re-exports :mod:`blockbench.components.dataset`."""

from blockbench.components.dataset import (
    REQUIRED,
    SPLITS,
    DatasetFactory,
    DatasetSource,
    DatasetSummary,
    Example,
)

__all__ = [
    "REQUIRED",
    "SPLITS",
    "DatasetFactory",
    "DatasetSource",
    "DatasetSummary",
    "Example",
]
