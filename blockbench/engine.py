"""The engine: resolves a task into a search problem and trains its runs.

One :class:`Engine` lives per process. It builds each backbone once, keeps
its pretrained weights in memory, prepares each dataset once per input size,
and cuts each backbone once per partition, so runs only pay for training.

Its ``mode`` says how runs train (see ``docs/performance.md``); for the same
seed the first three give the same results, the fourth the same to
floating-point tolerance:

* ``cached`` (default): a run whose frozen prefix is non-empty (BL1, block
  ``i > 0``) trains the suffix and head on the prefix's activations, computed
  once and kept in an :class:`~blockbench.activations.ActivationCache`; BL2,
  block 0 and cuts over the cache budget train the whole network. Compiled
  epochs and optimizers are reused across runs (:class:`~blockbench.steps.StepCache`).
* ``uncached``: the same compiled loop, always through the whole network.
* ``naive``: the reference protocol done plainly, the benchmark's baseline:
  every run builds the model again, compiles its own loop and trains the
  whole network on the images, with the engine's arithmetic.
* ``keras``: like ``naive`` but with ``compile`` and ``fit``
  (:mod:`blockbench.kerasfit`), Keras' own loop and Adam; TensorFlow fuses and
  orders the arithmetic of that graph differently, and training can amplify
  the rounding differences into different accuracies.
"""

from __future__ import annotations

import logging
import os
import re
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from blockbench.backbone import Weights
from blockbench.errors import UsageError
from blockbench.finetune import PRECISIONS
from blockbench.policy import SearchSpace
from blockbench.records import FAILED, RunRecord
from blockbench.spec import REFERENCE_HPARAMS, RunSpec, parse_target

if TYPE_CHECKING:
    from blockbench.data import PreparedData
    from blockbench.finetune import FineTuneModel
    from blockbench.partition import Partition
    from blockbench.registries import Components
    from blockbench.runtime import Runtime
    from blockbench.split import SplitConfig
    from blockbench.trainer import EpochCallback

log = logging.getLogger(__name__)

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


@dataclass
class Problem:
    """A resolved task: built backbone, prepared data, partition; makes specs and trains them."""

    task: Task
    backbone: str
    dataset: str
    backbone_options: dict[str, Any]
    weights: Weights
    input_size: int
    preprocessing: str
    data: PreparedData
    partition: Partition
    finetune: FineTuneModel
    hparams: dict[str, Any]
    runtime: Runtime | None = field(default=None, repr=False)

    @property
    def space(self) -> SearchSpace:
        blocks = self.partition.blocks
        return SearchSpace(tuple(b.quarter for b in blocks), tuple(b.trainable_params for b in blocks))

    def spec(self, target: str, seed: int, epochs: int | None = None) -> RunSpec:
        """The identity of running ``target`` with ``seed`` (and optionally fewer epochs)."""
        kind, index = parse_target(target)
        if index is not None:
            self.partition.block(index)  # range check with a clear error
        hparams = dict(self.hparams)
        if epochs is not None:
            hparams["epochs"] = int(epochs)
        return RunSpec(
            backbone=self.backbone, backbone_options=self.backbone_options,
            weights=self.weights.identity, input_size=self.input_size,
            preprocessing=self.preprocessing, dataset=self.dataset,
            dataset_fingerprint=self.data.fingerprint, split=self.data.split_identity,
            partition=self.partition.strategy, partition_params=dict(self.partition.params),
            partition_digest=self.partition.digest, target=kind if index is None else target,
            seed=int(seed), hparams=hparams,
        )

    def train(self, spec: RunSpec, on_epoch: EpochCallback | None = None) -> RunRecord:
        """Train one run. Any failure inside training is recorded as a failed run, not raised."""
        from blockbench.preprocessing import preprocess
        from blockbench.trainer import RunInputs, train_run

        _, index = parse_target(spec.target)
        layers: list[str] | None
        block_info = None
        if index is None:
            layers = [] if spec.target == "bl1" else None
        else:
            block = self.partition.block(index)
            layers = list(block.layers)
            block_info = {"index": index, "quarter": block.quarter, "n_blocks": len(self.partition),
                          "first_layer": block.first_layer, "last_layer": block.last_layer,
                          "trainable_params": block.trainable_params}
        mode = self.preprocessing
        inputs = RunInputs(self.finetune, self.data, layers, lambda x: preprocess(x, mode), block_info)
        try:
            if self.runtime is None:
                return train_run(spec, inputs, on_epoch)
            return self.runtime.train(self, spec, inputs, on_epoch)
        except (UsageError, KeyboardInterrupt):
            raise
        except Exception as exc:  # a failed run is recorded and the search goes on
            log.debug("run %s failed:\n%s", spec.target, traceback.format_exc())
            message = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:500]
            return RunRecord(spec=spec, status=FAILED, error=message, block=block_info)


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
        from blockbench.runtime import Runtime

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
        from blockbench.preprocessing import resolve_preprocessing

        entry = self.components.backbones.get(task.backbone)
        size = task.input_size or entry.factory.default_input_size
        entry.factory.check_options(size, dict(task.backbone_options))
        resolve_preprocessing(entry.factory, task.preprocessing)
        self.components.datasets.get(task.dataset).factory.check_options(dict(task.dataset_options))
        self.components.partitions.get(task.partition).factory.check_params(dict(task.partition_params))
        Weights.parse(task.weights)
        complete_hparams(task.hparams)

    def setup(self, task: Task) -> Problem:
        """Resolve ``task``: build (or reuse) the backbone, prepare data, partition."""
        from blockbench.data import prepare
        from blockbench.finetune import FineTuneModel, dtype_policy
        from blockbench.partition import build_partition
        from blockbench.preprocessing import resolve_preprocessing

        self.check(task)
        self._enable_determinism()
        bb = self.components.backbones.get(task.backbone)
        ds = self.components.datasets.get(task.dataset)
        pt = self.components.partitions.get(task.partition)
        size = int(task.input_size or bb.factory.default_input_size)
        options = bb.factory.check_options(size, dict(task.backbone_options))
        weights = Weights.parse(task.weights)
        hparams = complete_hparams(task.hparams)
        precision = hparams["precision"]
        bkey = (bb.name, tuple(sorted(options.items())), weights.identity, size, precision)
        if bkey not in self._backbones:
            self._backbones[bkey] = _build(bb.factory, weights, size, options, precision)
        model = self._backbones[bkey]
        data = prepare(ds.name, ds.factory, ds.factory.check_options(dict(task.dataset_options)),
                       size, task.split, cache_dir=self.data_cache_dir)
        params = pt.factory.check_params(dict(task.partition_params))
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
        from blockbench.finetune import FineTuneModel, dtype_policy

        factory = self.components.backbones.get(problem.backbone).factory
        precision = problem.hparams["precision"]
        backbone = _build(factory, problem.weights, problem.input_size,
                          problem.backbone_options, precision)
        # Random initialisation (weights "none") differs between builds: start from the same.
        backbone.set_weights(problem.finetune.initial_weights)
        with dtype_policy(precision):
            return FineTuneModel(backbone, problem.data.n_classes, problem.hparams)

    def _enable_determinism(self) -> None:
        if not self._determinism:
            import tensorflow as tf

            tf.config.experimental.enable_op_determinism()
            self._determinism = True


def _build(factory: Any, weights: Weights, size: int, options: Mapping[str, Any],
           precision: str) -> Any:
    """Build a backbone under ``precision``'s dtype policy, with canonical layer names."""
    import keras

    from blockbench.finetune import dtype_policy

    # Auto-generated layer names come from a process-wide counter: reset it so a
    # backbone gets the same names (hence partition digest and run hashes) as in a
    # fresh process, whatever was built before. Built models keep working.
    keras.backend.clear_session()
    # "none" means one fixed random initialisation, so that a cached, resumed or
    # distributed run starts from the same weights as one trained in this process.
    keras.utils.set_random_seed(0)
    with dtype_policy(precision):
        return factory.build(weights, size, **dict(options))


def _bytes(text: str) -> int:
    """``2000000``, ``512M`` or ``2G`` (powers of 1024) as a number of bytes."""
    match = re.fullmatch(r"\s*(\d+)\s*([KMG]?)i?B?\s*", text, re.IGNORECASE)
    if not match:
        raise UsageError(f"BLOCKBENCH_CACHE_BYTES={text!r} is not a size; use e.g. 2G, 512M "
                         "or a number of bytes")
    return int(match.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[match.group(2).upper()]
