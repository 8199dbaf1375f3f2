"""Public import path for plugin authors: re-exports :mod:`blockbench.components.backbone`."""

from blockbench.components.backbone import (
    PREPROCESSING_MODES,
    BackboneFactory,
    Weights,
)

__all__ = [
    "PREPROCESSING_MODES",
    "BackboneFactory",
    "Weights",
]
