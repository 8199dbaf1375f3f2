"""Train/validation/test splits: stratified per class, or the dataset's official one.

A stratified split shuffles each class with a seeded numpy Generator and cuts
it by largest-remainder rounding, so every class is in every split and the
split sizes match the fractions as closely as whole images allow. An official
split uses the split each example carries; where it has no validation part
(Caltech-101, or an image folder with only ``train/`` and ``test/``), the
validation set is carved out of the official training set, stratified per
class, keeping the stratified protocol's train:validation ratio (by default
0.2 / (0.7 + 0.2), about 22 % of each class's training images).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from blockbench.components.dataset import SPLITS
from blockbench.core.errors import UsageError
from blockbench.core.task import SplitConfig


def make_split(
    labels: np.ndarray,
    config: SplitConfig,
    official: Sequence[str | None] | None = None,
    *,
    class_names: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """Divide example indices into "train", "val" and "test".

    Args:
        labels: class index of every example.
        config: the split to make.
        official: every example's official split ("train", "val", "test"),
            required when ``config.kind`` is "official".
        class_names: names for error messages; also declares classes that
            have no example at all (an error: they cannot be in every split).

    Returns:
        Sorted int64 index arrays, one per split; together they cover every
        example exactly once.

    Raises:
        UsageError: a class too small for every split to get one of its images,
            or an official split that is missing or incomplete.
    """
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    n_classes = max(len(class_names or ()), int(labels.max(initial=-1)) + 1)
    if (class_names and n_classes > len(class_names)) or labels.min(initial=0) < 0:
        raise ValueError(f"labels must lie in [0, {len(class_names or ())}) for the class names given")
    names = list(class_names) if class_names else [str(c) for c in range(n_classes)]
    counts = np.bincount(labels, minlength=n_classes)
    rng = np.random.default_rng(config.seed)
    if config.kind == "stratified":
        parts = _stratified(labels, counts, config.fractions, rng, names)
    else:
        parts = _official(labels, counts, config, official, rng, names)
    return {s: np.sort(np.asarray(parts[s], dtype=np.int64)) for s in SPLITS}


def _stratified(labels: np.ndarray, counts: np.ndarray, fractions: tuple[float, ...],
                rng: np.random.Generator, names: list[str]) -> dict[str, list[int]]:
    parts: dict[str, list[int]] = {s: [] for s in SPLITS}
    for c, count in enumerate(counts):
        if count < len(SPLITS):
            raise UsageError(
                f"class {names[c]!r} has {count} image(s); a stratified split needs at least "
                f"{len(SPLITS)} per class (one for each of train, val and test)"
            )
        members = rng.permutation(np.flatnonzero(labels == c))
        start = 0
        for split, size in zip(SPLITS, split_sizes(int(count), fractions), strict=True):
            parts[split].extend(members[start:start + size].tolist())
            start += size
    return parts


def _official(labels: np.ndarray, counts: np.ndarray, config: SplitConfig,
              official: Sequence[str | None] | None, rng: np.random.Generator,
              names: list[str]) -> dict[str, list[int]]:
    if official is None:
        raise UsageError("this dataset has no official split; use a stratified split instead")
    tags = np.asarray([s if s is not None else "" for s in official], dtype=object)
    if len(tags) != len(labels):
        raise ValueError(f"official has {len(tags)} entries for {len(labels)} labels")
    untagged = int(np.sum(~np.isin(tags, SPLITS)))
    if untagged:
        raise UsageError(f"{untagged} example(s) have no official split (train, val or test); "
                         "use a stratified split instead")
    parts = {s: np.flatnonzero(tags == s).tolist() for s in SPLITS}
    if not parts["val"]:
        parts["train"], parts["val"] = _carve(labels, parts["train"], config.carve_share, rng, names)
    for c, count in enumerate(counts):
        for split in SPLITS:
            if not np.any(labels[parts[split]] == c):
                raise UsageError(f"class {names[c]!r} ({count} image(s)) has no image in the "
                                 f"official {split} split; every class must be in every split")
    return parts


def _carve(labels: np.ndarray, train: list[int], share: float, rng: np.random.Generator,
           names: list[str]) -> tuple[list[int], list[int]]:
    """Move ``share`` of each class's training examples (at least one) to validation."""
    train_idx = np.asarray(train, dtype=np.int64)
    kept: list[int] = []
    val: list[int] = []
    for c in np.unique(labels[train_idx]):
        members = rng.permutation(train_idx[labels[train_idx] == c])
        if len(members) < 2:
            raise UsageError(
                f"class {names[c]!r} has {len(members)} image(s) in the official train split; "
                "at least 2 are needed to carve out a validation set"
            )
        n_val = split_sizes(len(members), (1 - share, share))[1]
        val.extend(members[:n_val].tolist())
        kept.extend(members[n_val:].tolist())
    return kept, val


def split_sizes(count: int, fractions: Sequence[float]) -> list[int]:
    """Whole-image sizes for ``count`` items by largest remainder, each at least 1.

    Ties in the remainders go to the earlier split. Needs ``count >= len(fractions)``.
    """
    exact = [count * f for f in fractions]
    sizes = [int(np.floor(e + 1e-9)) for e in exact]
    # Rounded so that float noise (742 * 0.7 = 519.3999...) does not break a tie.
    remainders = [round(e - s, 9) for e, s in zip(exact, sizes, strict=True)]
    by_remainder = sorted(range(len(exact)), key=lambda i: (-remainders[i], i))
    for i in by_remainder[: count - sum(sizes)]:
        sizes[i] += 1
    for i, size in enumerate(sizes):
        if size == 0:
            # Largest remainder can leave a tiny share empty; take one from the largest split.
            donor = max(range(len(sizes)), key=lambda j: sizes[j])
            sizes[donor] -= 1
            sizes[i] = 1
    return sizes
