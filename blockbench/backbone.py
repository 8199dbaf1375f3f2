"""Public import path for plugin authors: re-exports :mod:`blockbench.components.backbone`."""

from blockbench.components.backbone import (
    PREPROCESSING_MODES,
    REQUIRED,
    BackboneFactory,
    Weights,
    check_weights,
)

__all__ = [
    "PREPROCESSING_MODES",
    "REQUIRED",
    "BackboneFactory",
    "Weights",
    "check_weights",
]
