"""A resolved task: the built backbone, prepared data and partition of one search.

A :class:`Problem` turns targets into run identities (:meth:`Problem.spec`) and
trains them (:meth:`Problem.train`), through the engine's shared run machinery
when it has one (any :class:`RunTrainer`, normally a
:class:`~blockbench.train.runtime.Runtime`).
"""

from __future__ import annotations

import logging
import os
import platform
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from blockbench.components.backbone import Weights
from blockbench.components.partition import Partition
from blockbench.components.policy import SearchSpace, Signal
from blockbench.core.backends import check_backend
from blockbench.core.errors import UsageError
from blockbench.core.records import FAILED, RunRecord
from blockbench.core.spec import RunSpec, parse_target
from blockbench.core.task import Task
from blockbench.data.prepare import PreparedData
from blockbench.data.preprocessing import preprocess
from blockbench.train.finetune import FineTuneModel
from blockbench.train.identity import ProblemIdentity
from blockbench.train.loop import EpochCallback, RunInputs, train_run

log = logging.getLogger(__name__)


class RunTrainer(Protocol):
    """Trains a run of a problem with machinery shared across runs (caches, compiled steps)."""

    def train(self, problem: Problem, spec: RunSpec, inputs: RunInputs,
              on_epoch: EpochCallback | None) -> RunRecord:
        """Train ``spec`` on ``inputs`` and return its record."""
        ...


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
    runtime: RunTrainer | None = field(default=None, repr=False)

    @property
    def space(self) -> SearchSpace:
        blocks = self.partition.blocks
        return SearchSpace(tuple(b.quarter for b in blocks), tuple(b.trainable_params for b in blocks))

    @property
    def identity(self) -> ProblemIdentity:
        """This problem as identities only (what a driver needs; see :mod:`blockbench.train.identity`)."""
        return ProblemIdentity(
            backbone=self.backbone, dataset=self.dataset,
            backbone_options=dict(self.backbone_options), weights=self.weights.identity,
            input_size=self.input_size, preprocessing=self.preprocessing,
            dataset_fingerprint=self.data.fingerprint, split=dict(self.data.split_identity),
            partition=self.partition.strategy, partition_params=dict(self.partition.params),
            partition_digest=self.partition.digest, hparams=dict(self.hparams), space=self.space,
            backend=check_backend(), notes=tuple(self.data.notes),
            worker=f"{platform.node()}:{os.getpid()}")

    def spec(self, target: str, seed: int, epochs: int | None = None) -> RunSpec:
        """The identity of running ``target`` with ``seed`` (and optionally fewer epochs)."""
        _, index = parse_target(target)
        if index is not None:
            self.partition.block(index)  # range check with a clear error
        return self.identity.spec(target, seed, epochs)

    def measure(self, measure: Callable[..., Signal], seed: int, params: Mapping[str, Any]) -> Signal:
        """Measure a per-block signal of this problem: ``measure(problem, seed, **params)``."""
        return measure(self, seed, **dict(params))

    def train(self, spec: RunSpec, on_epoch: EpochCallback | None = None) -> RunRecord:
        """Train one run. Any failure inside training is recorded as a failed run, not raised."""
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
            return RunRecord(spec=spec, status=FAILED, error=message, block=block_info,
                             data_notes=list(self.data.notes))
