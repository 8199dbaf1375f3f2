"""A dataset's size after the split, for planning a study without decoding (or downloading) it.

A factory that describes itself (:meth:`~blockbench.components.dataset.DatasetFactory.describe`)
is asked first: its counts give split sizes by the split's own rounding,
exact for an official split and to within a few images per split for a
stratified one (which rounds per class). Otherwise the factory loads its
examples, which are counted, not decoded, and split exactly as a run would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from blockbench.components.dataset import DatasetFactory, DatasetSummary
from blockbench.core.errors import UsageError
from blockbench.core.task import SplitConfig
from blockbench.data.split import make_split, split_sizes


@dataclass(frozen=True)
class DataShape:
    """A dataset's classes and split sizes as a study would see them.

    Attributes:
        n_classes: number of classes.
        sizes: (n_train, n_val, n_test).
        fingerprint: the dataset's fingerprint, None when it cannot be known offline.
        split_identity: the split's part of a run's identity.
        exact: whether ``sizes`` are the sizes a run would get (else an estimate).
        note: where the numbers come from.
    """

    n_classes: int
    sizes: tuple[int, int, int]
    fingerprint: str | None
    split_identity: Mapping[str, Any]
    exact: bool
    note: str


def dataset_shape(name: str, factory: DatasetFactory, options: Mapping[str, Any],
                  split: SplitConfig) -> DataShape:
    """The classes and split sizes of dataset ``name`` (options already checked)."""
    summary = factory.describe(**dict(options))
    if summary is not None:
        return _from_summary(name, summary, split)
    source = factory.load(**dict(options))
    labels: list[int] = []
    official: list[str | None] = []
    for example in source.examples:
        labels.append(int(example.label))
        official.append(example.split)
    if not labels:
        raise UsageError(f"dataset {name!r} has no examples; nothing to plan")
    has_official = split.kind == "official"
    parts = make_split(np.asarray(labels), split, official if has_official else None,
                       class_names=source.class_names)
    carved = has_official and "val" not in set(official)
    sizes = (len(parts["train"]), len(parts["val"]), len(parts["test"]))
    return DataShape(len(source.class_names), sizes, source.fingerprint,
                     split.identity(carved_val=carved), True,
                     f"{len(labels):,} examples counted")


def _from_summary(name: str, summary: DatasetSummary, split: SplitConfig) -> DataShape:
    counts = {k: int(v) for k, v in summary.examples.items()}
    total = sum(counts.values())
    carved = False
    if split.kind == "official":
        if None in counts or "train" not in counts or "test" not in counts:
            raise UsageError(f"dataset {name!r} has no official train and test split; "
                             "use a stratified split instead")
        train, val, test = counts["train"], counts.get("val", 0), counts["test"]
        carved = "val" not in counts
        if carved:
            val = round(train * split.carve_share)  # per class in a run: within a few images
            train -= val
        sizes = (train, val, test)
        exact = not carved
    else:
        train, val, test = split_sizes(total, split.fractions)
        sizes, exact = (train, val, test), False
    return DataShape(summary.n_classes, sizes, summary.fingerprint,
                     split.identity(carved_val=carved), exact, summary.note)
