"""The engine: resolves a task into a search problem and trains its runs.

One :class:`Engine` lives per process. It builds each backbone once, keeps
its pretrained weights in memory, prepares each dataset once per input size,
and cuts each backbone once per partition, so runs only pay for training.

Its ``mode`` says how runs train (see ``docs/performance.md``); for the same
seed the first three give the same results, the fourth the same to
floating-point tolerance:

* ``cached`` (default): a run whose frozen prefix is non-empty (BL1, block
  ``i > 0``) trains the suffix and head on the prefix's activations, computed
  once and kept in an :class:`~blockbench.train.activations.ActivationCache`; BL2,
  block 0 and cuts over the cache budget train the whole network. Compiled
  epochs and optimizers are reused across runs (:class:`~blockbench.train.steps.StepCache`).
* ``uncached``: the same compiled loop, always through the whole network.
* ``naive``: the reference protocol done plainly, the benchmark's baseline:
  every run builds the model again, compiles its own loop and trains the
  whole network on the images, with the engine's arithmetic.
* ``keras``: like ``naive`` but with ``compile`` and ``fit``
  (:mod:`blockbench.train.kerasfit`), Keras' own loop and Adam; TensorFlow fuses and
  orders the arithmetic of that graph differently, and training can amplify
  the rounding differences into different accuracies.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from typing import Any

from blockbench.components.backbone import BackboneFactory, Weights, check_weights
from blockbench.components.partition import Partition, build_partition
from blockbench.core.backends import check_backend
from blockbench.core.errors import UsageError
from blockbench.core.options import check_named_options
from blockbench.core.task import Task
from blockbench.core.task_settings import check_split, complete_hparams
from blockbench.data.prepare import prepare
from blockbench.data.preprocessing import resolve_preprocessing
from blockbench.plugin.registry import Components
from blockbench.train.batch_memory import check_training_fits
from blockbench.train.finetune import FineTuneModel, dtype_policy
from blockbench.train.problem import Problem
from blockbench.train.runtime import Runtime
from blockbench.train.steps import backend_steps

log = logging.getLogger(__name__)

class Engine:
    """Process-wide caches of built backbones, prepared data, partitions and heads.

    Args:
        components: the registered components.
        data_cache_dir: where decoded datasets are cached between processes (None: not).
        mode: how runs train: ``cached``, ``uncached``, ``naive`` or ``keras`` (see
            above; None: ``$BLOCKBENCH_ENGINE_MODE``, else ``cached``).
        cache_bytes: activation cache budget per backbone in bytes (None:
            ``$BLOCKBENCH_CACHE_BYTES``, else a quarter of the physical memory, at most 8 GiB).
    """

    def __init__(self, components: Components, data_cache_dir: str | None = None, *,
                 mode: str | None = None, cache_bytes: int | None = None) -> None:

        self.components = components
        self.data_cache_dir = data_cache_dir
        mode = mode or os.environ.get("BLOCKBENCH_ENGINE_MODE", "cached")
        if cache_bytes is None and os.environ.get("BLOCKBENCH_CACHE_BYTES"):
            cache_bytes = _bytes(os.environ["BLOCKBENCH_CACHE_BYTES"])
        self.runtime = Runtime(mode, cache_bytes, rebuild=self._fresh_finetune)
        self._backbones: dict[tuple[Any, ...], Any] = {}
        self._finetunes: dict[tuple[Any, ...], FineTuneModel] = {}
        self._partitions: dict[tuple[Any, ...], Partition] = {}
        self._determinism = False

    def check(self, task: Task) -> None:
        """Validate names and options without importing TensorFlow (fail fast, one line)."""

        check_backend()
        bb = self.components.backbones.get(task.backbone)
        bb.factory.check_input_size(task.input_size or bb.factory.default_input_size)
        check_named_options(bb.factory, dict(task.backbone_options), "backbone", bb.name)
        resolve_preprocessing(bb.factory, task.preprocessing)
        ds = self.components.datasets.get(task.dataset)
        check_named_options(ds.factory, dict(task.dataset_options), "dataset", ds.name)
        pt = self.components.partitions.get(task.partition)
        check_named_options(pt.factory, dict(task.partition_params), "partition", pt.name)
        check_weights(bb.name, bb.factory, Weights.parse(task.weights))
        complete_hparams(task.hparams)
        check_split(task.split)

    def setup(self, task: Task) -> Problem:
        """Resolve ``task``: build (or reuse) the backbone, prepare data, partition."""

        self.check(task)
        self._enable_determinism()
        bb = self.components.backbones.get(task.backbone)
        ds = self.components.datasets.get(task.dataset)
        pt = self.components.partitions.get(task.partition)
        size = int(task.input_size or bb.factory.default_input_size)
        options = bb.factory.check_options(dict(task.backbone_options))
        weights = Weights.parse(task.weights)
        hparams = complete_hparams(task.hparams)
        precision = hparams["precision"]
        bkey = (bb.name, tuple(sorted(options.items())), weights.identity, size, precision)
        if bkey not in self._backbones:
            self._backbones[bkey] = build_backbone(bb.factory, weights, size, options, precision)
        model = self._backbones[bkey]
        on_gpu = self._on_gpu()
        # Activations alone first: no need to decode a dataset for a batch that cannot fit.
        check_training_fits(model, 0, hparams["batch_size"], size, bb.name, on_gpu=on_gpu)
        data = prepare(ds.name, ds.factory, ds.factory.check_options(dict(task.dataset_options)),
                       size, task.split, cache_dir=self.data_cache_dir, decoder=image_decoder())
        check_training_fits(model, data.images.nbytes, hparams["batch_size"], size, bb.name,
                            on_gpu=on_gpu)
        params = pt.factory.check_options(dict(task.partition_params))
        pkey = (bkey, pt.name, tuple(sorted((k, str(v)) for k, v in params.items())))
        if pkey not in self._partitions:
            self._partitions[pkey] = build_partition(pt.name, pt.factory, model, params)
        head = tuple(hparams[k] for k in ("head", "dense_units", "dropout"))
        fkey = (bkey, head, data.n_classes)
        if fkey not in self._finetunes:
            with dtype_policy(precision):
                self._finetunes[fkey] = FineTuneModel(model, data.n_classes, hparams)
        return Problem(task, bb.name, ds.name, options, weights, size,
                       resolve_preprocessing(bb.factory, task.preprocessing), data,
                       self._partitions[pkey], self._finetunes[fkey], hparams, self.runtime)

    def _fresh_finetune(self, problem: Problem) -> FineTuneModel:
        """A newly built backbone and head for ``problem`` (the per-run model of ``naive``)."""

        factory = self.components.backbones.get(problem.backbone).factory
        precision = problem.hparams["precision"]
        backbone = build_backbone(factory, problem.weights, problem.input_size,
                                  problem.backbone_options, precision)
        # Start from the shared model's weights, whatever the factory's initialisers do.
        backbone.set_weights(problem.finetune.initial_weights)
        with dtype_policy(precision):
            return FineTuneModel(backbone, problem.data.n_classes, problem.hparams)

    def _on_gpu(self) -> bool:
        return bool(backend_steps().on_gpu())

    def _enable_determinism(self) -> None:
        if not self._determinism:
            backend_steps().enable_determinism()
            self._determinism = True


def build_backbone(factory: BackboneFactory, weights: Weights, size: int,
                   options: Mapping[str, Any], precision: str = "float32") -> Any:
    """Build a backbone as every run does: canonical layer names, fixed initial weights.

    The engine builds through this function, and ``BackboneContract`` checks a
    factory through it too, so the suite tests the procedure runs rely on.

    Args:
        factory: the backbone factory.
        weights: what to initialise from; with ``Weights.parse("none")`` the
            weights are the random draw that follows ``keras.utils.set_random_seed(0)``.
        size: input side in pixels.
        options: the backbone options, already completed by ``check_options``.
        precision: ``float32`` or ``mixed_float16``: the dtype policy layers are built under.

    Returns:
        The ``keras.Model`` that ``factory.build`` returned.
    """
    import keras

    # Auto-generated layer names come from a process-wide counter: reset it so a
    # backbone gets the same names (hence partition digest and run hashes) as in a
    # fresh process, whatever was built before. Built models keep working.
    keras.backend.clear_session()
    # "none" means one fixed random initialisation, so that a cached, resumed or
    # distributed run starts from the same weights as one trained in this process.
    keras.utils.set_random_seed(0)
    with dtype_policy(precision):
        return factory.build(weights, size, **dict(options))


def image_decoder() -> str:
    """The image decoder for Keras's backend: TensorFlow's own, else Pillow (no TensorFlow)."""
    import keras

    return "tensorflow" if keras.backend.backend() == "tensorflow" else "pillow"


def _bytes(text: str) -> int:
    """``2000000``, ``512M`` or ``2G`` (powers of 1024) as a number of bytes."""
    match = re.fullmatch(r"\s*(\d+)\s*([KMG]?)i?B?\s*", text, re.IGNORECASE)
    if not match:
        raise UsageError(f"BLOCKBENCH_CACHE_BYTES={text!r} is not a size; use e.g. 2G, 512M "
                         "or a number of bytes")
    return int(match.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[match.group(2).upper()]
