"""How the engine trains a run: pick the feed, reuse what earlier runs built.

:class:`Runtime` holds what runs of one process share: one
:class:`~blockbench.train.activations.ActivationCache` per built backbone, the
:class:`~blockbench.train.steps.StepCache`, and the decoded images as tensors. For
each run it chooses what to train on (see :mod:`blockbench.train.engine` for the
modes): a cut's cached activations when the run's frozen prefix is not empty
and fits the budget, else the images through the whole network.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from blockbench.components.partition import layer_order
from blockbench.core.errors import UsageError
from blockbench.core.records import RunRecord
from blockbench.core.spec import RunSpec, parse_target
from blockbench.train.activations import ActivationCache
from blockbench.train.kerasfit import fit_run
from blockbench.train.loop import EpochCallback, Feed, RunInputs, image_feed, train_run
from blockbench.train.problem import Problem
from blockbench.train.steps import StepCache, backend_steps
from blockbench.train.subgraph import CutError

log = logging.getLogger(__name__)

MODES = ("cached", "uncached", "naive", "keras")


class Runtime:
    """Shared run machinery of one engine.

    Args:
        mode: ``cached``, ``uncached``, ``naive`` or ``keras``.
        cache_bytes: activation cache budget per backbone (None: the default,
            see :func:`blockbench.train.activations.default_budget`).
        rebuild: builds a fresh fine-tune model for a problem (the per-run model
            of the ``naive`` and ``keras`` modes).
    """

    def __init__(self, mode: str = "cached", cache_bytes: int | None = None,
                 rebuild: Callable[[Problem], Any] | None = None) -> None:

        if mode not in MODES:
            raise UsageError(f"engine mode {mode!r} is not valid; use one of {', '.join(MODES)}")
        self.mode = mode
        self.cache_bytes = cache_bytes
        self.rebuild = rebuild
        self.steps = StepCache()
        self._activations: dict[int, ActivationCache] = {}
        self._images: dict[int, tuple[Any, Any]] = {}

    def activations(self, problem: Problem) -> ActivationCache:
        """The activation cache of ``problem``'s backbone."""

        finetune = problem.finetune
        backbone = finetune.backbone
        if id(backbone) not in self._activations:
            self._activations[id(backbone)] = ActivationCache(
                backbone, self.cache_bytes,
                restore=lambda: backbone.set_weights(finetune.initial_weights))
        return self._activations[id(backbone)]

    def train(self, problem: Problem, spec: RunSpec, inputs: RunInputs,
              on_epoch: EpochCallback | None) -> RunRecord:

        if self.mode in ("naive", "keras"):
            return self._train_fresh(problem, spec, inputs, on_epoch)
        start = time.perf_counter()
        inputs.feed = self.feed(problem, spec, inputs)
        inputs.steps = self.steps
        record = train_run(spec, inputs, on_epoch)
        record.wall_seconds = round(time.perf_counter() - start, 3)  # activations included
        return record

    def clear(self) -> None:
        """Forget cached activations, compiled epochs and image tensors."""

        self._activations.clear()
        self._images.clear()
        self.steps = StepCache()

    def feed(self, problem: Problem, spec: RunSpec, inputs: RunInputs) -> Feed:
        """Cached activations of the run's frozen prefix when worth it, else the images."""

        kind, index = parse_target(spec.target)
        if self.mode == "cached" and kind != "bl2":
            first = None if index is None else problem.partition.block(index).first_layer
            cache = self.activations(problem)
            try:
                if cache.cut(first).position > 0:  # else the prefix is empty: nothing to save
                    mode = problem.preprocessing
                    tensors = cache.get(problem.data.images, inputs.preprocess, mode, first)
                    if tensors is not None:
                        model = problem.finetune.model_after(cache.cut(first))
                        return Feed(model, tensors, None, ("cut", first))
            except CutError as exc:
                log.info("training %s through the whole network: %s", spec.target, exc)
        return self._image_feed(problem, inputs)

    def _image_feed(self, problem: Problem, inputs: RunInputs) -> Feed:
        images = problem.data.images
        if id(images) not in self._images:  # the array is held, so its id stays unique
            self._images[id(images)] = (images, backend_steps().to_device(images))
        return image_feed(problem.finetune, self._images[id(images)][1], inputs.preprocess,
                          ("images", problem.preprocessing))

    def _train_fresh(self, problem: Problem, spec: RunSpec, inputs: RunInputs,
                     on_epoch: EpochCallback | None) -> RunRecord:
        """A run on a freshly built model, compiled for this run only."""

        if self.rebuild is None:
            raise UsageError(f"the {self.mode} mode needs a way to rebuild models")
        finetune = self.rebuild(problem)
        if inputs.target_layers is not None:
            # A fresh build may name layers differently; map them by position.
            old = [layer.name for layer in layer_order(problem.finetune.backbone)]
            new = [layer.name for layer in layer_order(finetune.backbone)]
            inputs.target_layers = [new[old.index(name)] for name in inputs.target_layers]
        inputs.finetune = finetune
        if self.mode == "keras":
            return fit_run(spec, inputs, on_epoch)
        inputs.feed = image_feed(finetune, problem.data.images, inputs.preprocess, None)
        return train_run(spec, inputs, on_epoch)
