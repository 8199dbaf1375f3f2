"""A dataset's split sizes for a plan: counted exactly, or estimated from a description."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from blockbench.components.dataset import DatasetFactory, DatasetSource, DatasetSummary, Example
from blockbench.core.errors import UsageError
from blockbench.core.task import SplitConfig
from blockbench.data.shape import dataset_shape
from blockbench.data.split import make_split


class Counted(DatasetFactory):
    """Three classes of 10, 20 and 31 examples; never decoded (the bytes are not images)."""

    def load(self, **options: Any) -> DatasetSource:
        def examples() -> Iterator[Example]:
            for label, count in enumerate((10, 20, 31)):
                for i in range(count):
                    yield Example(b"not an image", label, "test" if i < 3 else "train")
        return DatasetSource(["a", "b", "c"], examples(), "counted:v1", has_official_split=True)


class Described(DatasetFactory):
    def load(self, **options: Any) -> DatasetSource:
        raise AssertionError("a described dataset is not loaded")

    def describe(self, **options: Any) -> DatasetSummary:
        return DatasetSummary(102, {"train": 3060, "test": 6084}, "tfds:x/1.0", "published sizes")


def test_loaded_sizes_are_the_runs_sizes() -> None:
    config = SplitConfig()
    shape = dataset_shape("counted", Counted(), {}, config)
    labels = [0] * 10 + [1] * 20 + [2] * 31
    parts = make_split(labels, config)  # type: ignore[arg-type]
    assert shape.sizes == tuple(len(parts[s]) for s in ("train", "val", "test"))
    assert shape.exact and shape.n_classes == 3 and shape.fingerprint == "counted:v1"
    assert shape.split_identity == config.identity()


def test_official_split_with_a_carved_validation_set() -> None:
    config = SplitConfig(kind="official")
    shape = dataset_shape("counted", Counted(), {}, config)
    assert shape.sizes[2] == 9 and sum(shape.sizes) == 61
    assert shape.split_identity == config.identity(carved_val=True)


def test_described_dataset_is_not_loaded() -> None:
    shape = dataset_shape("described", Described(), {}, SplitConfig())
    assert sum(shape.sizes) == 3060 + 6084 and not shape.exact
    assert shape.fingerprint == "tfds:x/1.0" and shape.note == "published sizes"
    official = dataset_shape("described", Described(), {}, SplitConfig(kind="official"))
    assert official.sizes[2] == 6084 and official.sizes[0] + official.sizes[1] == 3060
    assert official.split_identity["kind"] == "official" and "val_from_train" in official.split_identity


def test_no_official_split_is_one_line() -> None:
    class Pooled(Described):
        def describe(self, **options: Any) -> DatasetSummary:
            return DatasetSummary(5, {None: 3670})

    with pytest.raises(UsageError, match="no official train and test split"):
        dataset_shape("pooled", Pooled(), {}, SplitConfig(kind="official"))
