"""Stratified and official splits: proportions, determinism, coverage, errors."""

from __future__ import annotations

import numpy as np
import pytest

from blockbench.core.errors import UsageError
from blockbench.core.task import SplitConfig
from blockbench.data.split import make_split, split_sizes


def _labels(*counts: int) -> np.ndarray:
    labels = np.concatenate([np.full(n, c) for c, n in enumerate(counts)])
    return np.random.default_rng(123).permutation(labels)  # interleave classes


def _assert_partition(parts: dict[str, np.ndarray], n: int) -> None:
    joined = np.concatenate([parts["train"], parts["val"], parts["test"]])
    assert sorted(joined.tolist()) == list(range(n))  # full coverage, no overlap
    for split in ("train", "val", "test"):
        assert np.all(np.diff(parts[split]) > 0)  # sorted and unique


def test_stratified_proportions_per_class() -> None:
    counts = (3, 10, 37, 100, 742)
    labels = _labels(*counts)
    parts = make_split(labels, SplitConfig())
    _assert_partition(parts, len(labels))
    for c, n in enumerate(counts):
        got = [int(np.sum(labels[parts[s]] == c)) for s in ("train", "val", "test")]
        assert got == split_sizes(n, (0.7, 0.2, 0.1))
        assert min(got) >= 1
        if n >= 10:
            for size, fraction in zip(got, (0.7, 0.2, 0.1), strict=True):
                assert abs(size - n * fraction) < 1
    assert [len(parts[s]) for s in ("train", "val", "test")] == [624, 178, 90]


def test_split_sizes_largest_remainder() -> None:
    assert split_sizes(10, (0.7, 0.2, 0.1)) == [7, 2, 1]
    assert split_sizes(742, (0.7, 0.2, 0.1)) == [520, 148, 74]  # tie -> earlier split
    assert split_sizes(37, (0.7, 0.2, 0.1)) == [26, 7, 4]
    assert split_sizes(3, (0.7, 0.2, 0.1)) == [1, 1, 1]
    assert split_sizes(5, (0.98, 0.01, 0.01)) == [3, 1, 1]
    assert sum(split_sizes(1016, (0.5, 0.25, 0.25))) == 1016


def test_deterministic_and_seed_sensitive() -> None:
    labels = _labels(50, 60, 70)
    a = make_split(labels, SplitConfig(seed=7))
    b = make_split(labels, SplitConfig(seed=7))
    c = make_split(labels, SplitConfig(seed=8))
    assert all(np.array_equal(a[s], b[s]) for s in a)
    assert not np.array_equal(a["train"], c["train"])
    assert [len(a[s]) for s in a] == [len(c[s]) for s in c]


def test_other_fractions() -> None:
    labels = _labels(40, 40)
    parts = make_split(labels, SplitConfig(fractions=(0.5, 0.25, 0.25)))
    assert [len(parts[s]) for s in ("train", "val", "test")] == [40, 20, 20]


def test_small_class_is_named() -> None:
    with pytest.raises(UsageError, match=r"class 'tulip' has 2 image\(s\).*at least 3"):
        make_split(_labels(5, 2), SplitConfig(), class_names=["rose", "tulip"])


def test_class_without_images_is_named() -> None:
    with pytest.raises(UsageError, match=r"class 'empty' has 0 image"):
        make_split(_labels(5, 5), SplitConfig(), class_names=["a", "b", "empty"])


def test_labels_outside_class_names() -> None:
    with pytest.raises(ValueError, match="labels must lie"):
        make_split(_labels(5, 5, 5), SplitConfig(), class_names=["a", "b"])


def test_identity() -> None:
    assert SplitConfig(seed=3).identity() == {"kind": "stratified", "fractions": [0.7, 0.2, 0.1],
                                              "seed": 3}
    official = SplitConfig(kind="official")
    assert official.identity() == {"kind": "official"}
    assert official.identity(carved_val=True) == {"kind": "official", "val_from_train": 0.222222,
                                                  "seed": 0}
    assert SplitConfig(fractions=[0.6, 0.2, 0.2]).fractions == (0.6, 0.2, 0.2)


def test_official_split_is_used_as_is() -> None:
    labels = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    tags = ["train", "train", "val", "val", "test", "test", "train", "train"]
    parts = make_split(labels, SplitConfig(kind="official"), tags)
    assert parts["train"].tolist() == [0, 1, 6, 7]
    assert parts["val"].tolist() == [2, 3]
    assert parts["test"].tolist() == [4, 5]


def test_official_without_val_carves_it_from_train() -> None:
    labels = np.repeat([0, 1, 2], 40)  # per class: 30 train, 10 test
    tags = (["train"] * 30 + ["test"] * 10) * 3
    config = SplitConfig(kind="official", seed=5)
    parts = make_split(labels, config, tags)
    _assert_partition(parts, len(labels))
    test = {i for i, t in enumerate(tags) if t == "test"}
    assert set(parts["test"].tolist()) == test
    for c in range(3):
        # 30 * 0.2 / 0.9 = 6.67 -> 7 validation images per class
        assert int(np.sum(labels[parts["val"]] == c)) == 7
        assert int(np.sum(labels[parts["train"]] == c)) == 23
    again = make_split(labels, config, tags)
    assert np.array_equal(parts["val"], again["val"])
    other = make_split(labels, SplitConfig(kind="official", seed=6), tags)
    assert not np.array_equal(parts["val"], other["val"])


def test_official_errors() -> None:
    labels = np.array([0, 0, 0, 1, 1, 1])
    config = SplitConfig(kind="official")
    with pytest.raises(UsageError, match="no official split"):
        make_split(labels, config, None)
    with pytest.raises(UsageError, match=r"1 example\(s\) have no official split"):
        make_split(labels, config, ["train", "val", None, "train", "val", "test"])
    with pytest.raises(UsageError, match=r"class 'b' \(3 image\(s\)\) has no image in the official test"):
        make_split(labels, config, ["train", "val", "test", "train", "val", "val"],
                   class_names=["a", "b"])
    with pytest.raises(UsageError, match=r"class 'a' has 1 image\(s\) in the official train split"):
        make_split(labels, config, ["train", "test", "test", "train", "train", "test"],
                   class_names=["a", "b"])
