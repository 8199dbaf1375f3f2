"""Frozen-prefix activations: computed once per image, reused by every run that shares them.

In a ``block:i`` run every layer before block ``i`` is frozen, and frozen
layers run in inference mode (see :mod:`blockbench.train.finetune`), so the prefix
maps each image to the same activations in every epoch of every run. Without
data augmentation (the protocol has none) these depend only on the backbone
(architecture, weights, input size, precision), the preprocessing, the images
and the cut, never on the seed, the policy or the split: they are computed
once for every image of the dataset, and a run gathers the rows of its split.
BL1 is the cut after the last layer: the backbone's features.

Activations of a cut are computed from those of the nearest earlier cut in
the cache when there is one (the frontier of cut ``i`` is the frontier of cut
``i - 1`` pushed through the layers in between), else from the images.
They are stored in the precision the prefix computes them in (float32, or
float16 under ``mixed_float16``, where the uncached network also hands
float16 tensors across the cut), so cached training is exact. The cache keeps
at most ``budget_bytes``; the least recently used cuts are dropped first, and
a cut whose activations alone exceed the budget is not cached: its runs train
the whole network instead (recompute, same results).
"""

from __future__ import annotations

import logging
import math
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from blockbench.train.loop import preprocessing
from blockbench.train.steps import Transform, backend_steps
from blockbench.train.subgraph import Cut, cut, segment

if TYPE_CHECKING:
    import keras

log = logging.getLogger(__name__)

#: Largest default budget, whatever the machine's memory.
MAX_DEFAULT_BUDGET = 8 << 30


def default_budget() -> int:
    """A quarter of the physical memory, at most :data:`MAX_DEFAULT_BUDGET` bytes."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return MAX_DEFAULT_BUDGET // 4
    return int(min(MAX_DEFAULT_BUDGET, physical // 4))


@dataclass
class _Entry:
    images: np.ndarray  # held so that id(images) in the key stays unique
    cut: Cut
    tensors: list[Any]
    nbytes: int


class ActivationCache:
    """Frontier activations of one backbone's cuts, within a memory budget.

    Args:
        backbone: the backbone the cuts are taken on.
        budget_bytes: most bytes of activations kept.
        batch_size: images per forward pass when computing activations.
        restore: puts the pretrained weights back into the backbone (an earlier
            run may have trained layers of the prefix); called before computing.
    """

    def __init__(self, backbone: keras.Model, budget_bytes: int | None = None,
                 batch_size: int = 64, restore: Callable[[], None] | None = None) -> None:
        self.backbone = backbone
        self.restore = restore
        self.budget_bytes = default_budget() if budget_bytes is None else int(budget_bytes)
        self.batch_size = batch_size
        self._cuts: dict[str | None, Cut] = {}
        self._entries: OrderedDict[tuple[int, str, str | None], _Entry] = OrderedDict()
        self.computed = 0  # cuts computed so far (for tests and the benchmark)

    @property
    def nbytes(self) -> int:
        return sum(e.nbytes for e in self._entries.values())

    def cut(self, first: str | None) -> Cut:
        """The cut before layer ``first`` (None: after the last layer), memoised."""
        if first not in self._cuts:
            self._cuts[first] = cut(self.backbone, first)
        return self._cuts[first]

    def frontier_bytes(self, c: Cut, n_images: int) -> int:
        per_image = sum(math.prod(t.shape[1:]) * np.dtype(t.dtype).itemsize for t in c.frontier)
        return int(per_image * n_images)

    def get(self, images: np.ndarray, preprocess: Callable[[Any], Any], mode: str,
            first: str | None) -> list[Any] | None:
        """Activations of every image at the cut before ``first``; None past the budget.

        Args:
            images: uint8 images (N, S, S, 3), the prepared data's whole array.
            preprocess: maps a float32 batch in [0, 255] to the backbone's input.
            mode: name of ``preprocess`` (part of the cache key).
            first: the first layer after the cut (None: after the last layer).

        Returns:
            One tensor per frontier tensor, with N rows, in the cut's frontier order.
        """
        target = self.cut(first)
        key = (id(images), mode, first)
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            return entry.tensors
        nbytes = self.frontier_bytes(target, len(images))
        if nbytes > self.budget_bytes:
            log.info("activations before %s need %d bytes, over the %d-byte budget: "
                     "recomputing them in every step", first, nbytes, self.budget_bytes)
            return None
        start = self._nearest_before(images, mode, target.position)
        if self.restore is not None:
            self.restore()
        tensors = self._compute(images, preprocess, start, target)
        while self._entries and self.nbytes + nbytes > self.budget_bytes:
            self._entries.popitem(last=False)
        self._entries[key] = _Entry(images, target, tensors, nbytes)
        self.computed += 1
        return tensors

    def clear(self) -> None:
        self._entries.clear()

    def _nearest_before(self, images: np.ndarray, mode: str, position: int) -> _Entry | None:
        candidates = [e for (image_id, m, _), e in self._entries.items()
                      if image_id == id(images) and m == mode and e.cut.position <= position]
        return max(candidates, key=lambda e: e.cut.position, default=None)

    def _compute(self, images: np.ndarray, preprocess: Callable[[Any], Any],
                 start: _Entry | None, target: Cut) -> list[Any]:
        backend = backend_steps()
        transform: Transform | None
        if start is not None:
            known = {id(t): x for t, x in zip(start.cut.frontier, start.tensors, strict=True)}
            sources, transform = start.tensors, None
        else:
            known = {}
            sources, transform = [backend.to_device(images)], preprocessing(preprocess)

        # Tensors already in the start frontier (skips crossing both cuts) are reused as they are.
        new = [t for t in target.frontier if id(t) not in known]
        if new:
            outputs = Cut(target.first, target.position, tuple(new))
            model = segment(self.backbone, start.cut if start else None, outputs,
                            name=f"{self.backbone.name}_prefix_{target.first or 'all'}")
            computed = backend.forward(model, sources, transform, self.batch_size)
            known.update(zip(map(id, new), computed, strict=True))
        return [known[id(t)] for t in target.frontier]
