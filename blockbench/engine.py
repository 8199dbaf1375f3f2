"""The engine: resolves a task into a search problem and trains its runs.

One :class:`Engine` lives per process. It builds each backbone once, keeps
its pretrained weights in memory, prepares each dataset once per input size,
and cuts each backbone once per partition, so runs only pay for training.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from blockbench.backbone import Weights
from blockbench.errors import BlockbenchError, UsageError
from blockbench.policy import SearchSpace
from blockbench.records import FAILED, RunRecord
from blockbench.spec import REFERENCE_HPARAMS, RunSpec, parse_target

if TYPE_CHECKING:
    from blockbench.data import PreparedData
    from blockbench.finetune import FineTuneModel
    from blockbench.partition import Partition
    from blockbench.registries import Components
    from blockbench.split import SplitConfig
    from blockbench.trainer import EpochCallback

log = logging.getLogger(__name__)


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
    unknown = sorted(set(hparams) - set(REFERENCE_HPARAMS) - {"xla"})
    if unknown:
        raise UsageError(
            f"unknown hyper-parameter(s) {', '.join(unknown)}; valid: "
            f"{', '.join(sorted([*REFERENCE_HPARAMS, 'xla']))}"
        )
    merged = {**REFERENCE_HPARAMS, **hparams}
    for key in ("epochs", "batch_size", "dense_units"):
        if int(merged[key]) < 1:
            raise UsageError(f"{key} must be a positive integer, got {merged[key]!r}")
    if not 0 <= float(merged["dropout"]) < 1:
        raise UsageError(f"dropout must be in [0, 1), got {merged['dropout']!r}")
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
            return train_run(spec, inputs, on_epoch)
        except (UsageError, KeyboardInterrupt):
            raise
        except Exception as exc:  # a failed run is recorded and the search goes on
            log.debug("run %s failed:\n%s", spec.target, traceback.format_exc())
            message = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:500]
            return RunRecord(spec=spec, status=FAILED, error=message, block=block_info)


class Engine:
    """Process-wide caches of built backbones, prepared data, partitions and heads."""

    def __init__(self, components: Components, data_cache_dir: str | None = None) -> None:
        self.components = components
        self.data_cache_dir = data_cache_dir
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
        from blockbench.finetune import FineTuneModel
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
        bkey = (bb.name, tuple(sorted(options.items())), weights.identity, size)
        if bkey not in self._backbones:
            import keras

            # Auto-generated layer names come from a process-wide counter: reset it so a
            # backbone gets the same names (hence partition digest and run hashes) as in a
            # fresh process, whatever was built before. Built models keep working.
            keras.backend.clear_session()
            self._backbones[bkey] = bb.factory.build(weights, size, **options)
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
            self._finetunes[fkey] = FineTuneModel(model, data.n_classes, hparams)
        if hparams.get("precision") not in ("float32", None):
            raise BlockbenchError("mixed precision is not supported yet; use precision float32")
        return Problem(task, bb.name, ds.name, options, weights, size,
                       resolve_preprocessing(bb.factory, task.preprocessing), data,
                       self._partitions[pkey], self._finetunes[fkey], hparams)

    def _enable_determinism(self) -> None:
        if not self._determinism:
            import tensorflow as tf

            tf.config.experimental.enable_op_determinism()
            self._determinism = True
