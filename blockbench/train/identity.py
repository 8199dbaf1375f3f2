"""What a driver needs of a resolved task, without Keras: its search space and run identities.

A :class:`~blockbench.train.problem.Problem` holds a built backbone and decoded
data; its :class:`ProblemIdentity` holds only what they determine (the data's
fingerprint, the partition's digest, the blocks' quarters...). A driver that
trains elsewhere (``compare --executor ray``) asks a worker to resolve each
task once and keeps the identity: it is small, picklable and enough to
compute every run's hash, so the driver can look runs up in the store and
claim them without importing TensorFlow, JAX or Keras.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from blockbench.components.policy import SearchSpace
from blockbench.core.errors import UsageError
from blockbench.core.spec import RunSpec, parse_target


@dataclass(frozen=True)
class ProblemIdentity:
    """A resolved task as identities: everything a run's hash holds except target and seed.

    Attributes:
        backbone, dataset: registered names.
        backbone_options: the backbone's completed options.
        weights: the weights' identity (``Weights.identity``).
        input_size: image side in pixels.
        preprocessing: the resolved preprocessing mode.
        dataset_fingerprint: the decoded data's content identity.
        split: how the split was made.
        partition: the partition strategy's registered name.
        partition_params: its completed options.
        partition_digest: the cut's digest.
        hparams: the completed hyper-parameters.
        space: the blocks' quarters and trainable parameters.
        backend: the Keras backend that resolved it (runs train on it).
        notes: remarks on the data that every run record carries.
        worker: where it was resolved (``host:pid``), informative only.
    """

    backbone: str
    dataset: str
    backbone_options: Mapping[str, Any]
    weights: str
    input_size: int
    preprocessing: str
    dataset_fingerprint: str
    split: Mapping[str, Any]
    partition: str
    partition_params: Mapping[str, Any]
    partition_digest: str
    hparams: Mapping[str, Any]
    space: SearchSpace
    backend: str
    notes: tuple[str, ...] = ()
    worker: str = field(default="", compare=False)

    @property
    def full_epochs(self) -> int:
        """Epochs of a full run under this problem's protocol."""
        return int(self.hparams["epochs"])

    def spec(self, target: str, seed: int, epochs: int | None = None) -> RunSpec:
        """The identity of running ``target`` with ``seed`` (and optionally fewer epochs)."""
        kind, index = parse_target(target)
        if index is not None and not 0 <= index < self.space.n_blocks:
            raise UsageError(f"block {index} does not exist; this partition has blocks "
                             f"0..{self.space.n_blocks - 1}")
        hparams = dict(self.hparams)
        if epochs is not None:
            hparams["epochs"] = int(epochs)
        return RunSpec(
            backbone=self.backbone, backbone_options=dict(self.backbone_options),
            weights=self.weights, input_size=self.input_size, preprocessing=self.preprocessing,
            dataset=self.dataset, dataset_fingerprint=self.dataset_fingerprint,
            split=dict(self.split), partition=self.partition,
            partition_params=dict(self.partition_params), partition_digest=self.partition_digest,
            target=kind if index is None else target, seed=int(seed), hparams=hparams,
            backend=self.backend,
        )

    def differences(self, other: ProblemIdentity) -> list[str]:
        """The fields in which ``other`` resolved the same task differently (empty: none)."""
        names = ("backbone", "dataset", "backbone_options", "weights", "input_size",
                 "preprocessing", "dataset_fingerprint", "split", "partition", "partition_params",
                 "partition_digest", "hparams", "space", "backend")
        return [f"{name} {getattr(self, name)!r} vs {getattr(other, name)!r}"
                for name in names if getattr(self, name) != getattr(other, name)]
