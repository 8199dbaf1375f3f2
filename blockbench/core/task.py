"""What to search: a (backbone, dataset) task, its split and its hyper-parameters.

These are plain values: the engine resolves a :class:`Task` into a problem, and
the run identity is derived from what it resolves to.
They are checked where they enter (compare's settings) and by the engine, against
the typed settings of :mod:`blockbench.core.task_settings`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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
        # A list from a file or JSON becomes the tuple the type says (checks: check_split).
        object.__setattr__(self, "fractions", tuple(self.fractions))

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
        hparams: training hyper-parameters (those given; the engine completes them
            from REFERENCE_HPARAMS, see ``complete_hparams``).
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
