"""What to search: a (backbone, dataset) task, its split and its completed hyper-parameters.

These are plain values: the engine resolves a :class:`Task` into a problem, the
work queue stores it, and the run identity is derived from what it resolves to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from blockbench.core.errors import UsageError
from blockbench.core.spec import PRECISIONS, REFERENCE_HPARAMS

SPLIT_KINDS = ("stratified", "official")


@dataclass(frozen=True)
class SplitConfig:
    """How examples are divided into train, validation and test sets.

    Attributes:
        kind: "stratified" (per-class shuffle and cut) or "official" (the
            dataset's own split).
        fractions: train, validation and test shares; positive, summing to 1.
            An official split uses them only to carve a missing validation set.
        seed: seeds the shuffle of the stratified split and of a carve-out.
    """

    kind: str = "stratified"
    fractions: tuple[float, float, float] = (0.7, 0.2, 0.1)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in SPLIT_KINDS:
            raise UsageError(f"split kind {self.kind!r} is not valid; use one of {', '.join(SPLIT_KINDS)}")
        fractions = tuple(self.fractions)
        if len(fractions) != 3 or not all(isinstance(f, (int, float)) for f in fractions):
            raise UsageError(
                f"split fractions {list(fractions)!r} are not valid; give three numbers "
                "(train, val, test) such as 0.7, 0.2, 0.1"
            )
        fractions = tuple(float(f) for f in fractions)
        if min(fractions) <= 0 or abs(sum(fractions) - 1.0) > 1e-6:
            raise UsageError(
                f"split fractions {list(fractions)!r} are not valid; each must be positive "
                "and together they must sum to 1, like 0.7, 0.2, 0.1"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise UsageError(f"split seed {self.seed!r} is not valid; use a whole number")
        object.__setattr__(self, "fractions", fractions)
        object.__setattr__(self, "seed", int(self.seed))

    @property
    def carve_share(self) -> float:
        """Share of each class's official training images that becomes validation."""
        train, val, _ = self.fractions
        return val / (train + val)

    def identity(self, *, carved_val: bool = False) -> dict[str, Any]:
        """What of this split enters a run's hash.

        Args:
            carved_val: an official split whose validation set was carved out
                of its training set (then the share and seed matter too).
        """
        if self.kind == "stratified":
            return {"kind": "stratified", "fractions": list(self.fractions), "seed": self.seed}
        if carved_val:
            return {"kind": "official", "val_from_train": round(self.carve_share, 6),
                    "seed": self.seed}
        return {"kind": "official"}


#: Hyper-parameters accepted besides REFERENCE_HPARAMS (they enter the run hash only when set).
EXTRA_HPARAMS = ("xla",)


@dataclass(frozen=True)
class Task:
    """One (backbone, dataset) configuration to search.

    Attributes:
        backbone, dataset, partition: registered names (aliases allowed).
        backbone_options, dataset_options, partition_params: their options.
        weights: "imagenet", "none" or a weights file path.
        input_size: image side (None: the backbone's default).
        preprocessing: override of the backbone's preprocessing mode (None: its own).
        split: how to split the dataset.
        hparams: training hyper-parameters, completed from REFERENCE_HPARAMS.
    """

    backbone: str
    dataset: str
    split: SplitConfig
    partition: str = "delimiter"
    weights: str = "imagenet"
    input_size: int | None = None
    preprocessing: str | None = None
    backbone_options: Mapping[str, Any] = field(default_factory=dict)
    dataset_options: Mapping[str, Any] = field(default_factory=dict)
    partition_params: Mapping[str, Any] = field(default_factory=dict)
    hparams: Mapping[str, Any] = field(default_factory=dict)


def complete_hparams(hparams: Mapping[str, Any]) -> dict[str, Any]:
    """Fill in the reference defaults; unknown keys are an error listing the valid ones."""
    unknown = sorted(set(hparams) - set(REFERENCE_HPARAMS) - set(EXTRA_HPARAMS))
    if unknown:
        raise UsageError(
            f"unknown hyper-parameter(s) {', '.join(unknown)}; valid: "
            f"{', '.join(sorted([*REFERENCE_HPARAMS, *EXTRA_HPARAMS]))}"
        )
    merged = {**REFERENCE_HPARAMS, **hparams}
    for key in ("epochs", "batch_size", "dense_units"):
        if int(merged[key]) < 1:
            raise UsageError(f"{key} must be a positive integer, got {merged[key]!r}")
    if not 0 <= float(merged["dropout"]) < 1:
        raise UsageError(f"dropout must be in [0, 1), got {merged['dropout']!r}")
    if merged["precision"] not in PRECISIONS:
        raise UsageError(f"precision {merged['precision']!r} is not valid; use one of "
                         f"{', '.join(PRECISIONS)}")
    if "xla" in merged and not isinstance(merged["xla"], bool):
        raise UsageError(f"xla must be true or false, got {merged['xla']!r}")
    return merged
