"""Run identity: everything that determines a run's result, and its hash.

Two runs with the same :class:`RunSpec` produce the same result (on the same
machine), so the hash is the cache key of the results store. The blockbench
version is deliberately *not* part of it: only :data:`PROTOCOL_VERSION`,
bumped when training semantics change, invalidates cached runs.

Training semantics of protocol 1 (see ``docs/performance.md``):

* A frozen layer (``trainable = False``: outside the trained block, or the
  whole backbone in BL1) runs in inference mode: BatchNormalization uses its
  moving statistics, and Dropout-like layers (EfficientNet's stochastic-depth
  ``*_drop`` layers) pass their input through. A frozen prefix is therefore
  deterministic, and training from its cached activations is the same
  computation as training through it.
* No data augmentation. Epoch ``e`` visits the training examples in the
  permutation ``numpy.random.default_rng([seed, e])`` draws; the head is
  initialised and dropout is seeded from the run's seed.
* Adam updates each variable as Keras' Adam does, fused into one kernel per
  variable; Keras' own ``fit`` (the engine's ``keras`` mode) agrees to
  floating-point tolerance only, so keep its records out of a results store.
* ``precision=mixed_float16`` computes in float16 with float32 variables and
  a float32 softmax, with dynamic loss scaling; ``xla=true`` compiles each
  epoch with XLA. Both change results slightly, hence are part of the identity.
* The Keras backend (TensorFlow or JAX) computes the same protocol with
  different kernels, so its numerics differ: the backend is part of the
  identity, and a JAX run is never a cache hit for a TensorFlow one. The hashed
  JSON leaves ``backend`` out when it is TensorFlow, so the hashes of runs made
  before the field existed (all TensorFlow) stay valid. The backend's version
  is recorded beside the identity (``RunRecord.backend_version``), not in it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from blockbench.core.backends import DEFAULT_BACKEND
from blockbench.core.errors import UsageError

#: Bump only when a change alters what a run computes (never for refactors).
PROTOCOL_VERSION = 1

#: The reference protocol's hyper-parameters.
REFERENCE_HPARAMS: dict[str, Any] = {
    "head": "flatten",  # or "gap" (global average pooling)
    "dense_units": 512,
    "dropout": 0.5,
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "batch_size": 24,
    "epochs": 10,
    "eval_epoch": "last",  # or "best-val": restore the epoch with the best validation accuracy
    "precision": "float32",  # or "mixed_float16"
}

#: The valid values of the hyper-parameters that are names (the first is the reference's).
HEADS = ("flatten", "gap")
OPTIMIZERS = ("adam", "sgd", "adamw", "rmsprop")
EVAL_EPOCHS = ("last", "best-val")
PRECISIONS = ("float32", "mixed_float16")

_TARGET_RE = re.compile(r"^(bl1|bl2|block:(\d+))$")


def parse_target(target: str) -> tuple[str, int | None]:
    """Split ``"bl1"``, ``"bl2"`` or ``"block:i"`` into (kind, index)."""
    match = _TARGET_RE.match(target.strip().lower())
    if not match:
        raise UsageError(f"target {target!r} is not valid; use 'bl1', 'bl2' or 'block:<index>'")
    return ("block", int(match.group(2))) if match.group(2) else (match.group(1), None)


def block_target(index: int) -> str:
    return f"block:{index}"


@dataclass(frozen=True)
class RunSpec:
    """The identity of one training run.

    Attributes:
        backbone: registered backbone name.
        backbone_options: e.g. ``{"alpha": 0.25}``.
        weights: weights identity ("imagenet", "none", "sha256:...").
        input_size: image side in pixels.
        preprocessing: preprocessing mode fed to the backbone.
        dataset: registered dataset name.
        dataset_fingerprint: identity of the dataset's content.
        split: how examples were split, e.g. ``{"kind": "stratified", "fractions": [0.7, 0.2, 0.1], "seed": 0}``.
        partition: partition strategy name (None for BL1 and BL2, which no partition affects).
        partition_params: the strategy's parameters.
        partition_digest: digest of the blocks' layer lists.
        target: "bl1", "bl2" or "block:i".
        seed: the run's training seed.
        hparams: training hyper-parameters (see REFERENCE_HPARAMS).
        backend: the Keras backend that trains the run ("tensorflow" or "jax").
        protocol: protocol version.
    """

    backbone: str
    backbone_options: Mapping[str, Any]
    weights: str
    input_size: int
    preprocessing: str
    dataset: str
    dataset_fingerprint: str
    split: Mapping[str, Any]
    partition: str | None
    partition_params: Mapping[str, Any]
    partition_digest: str
    target: str
    seed: int
    hparams: Mapping[str, Any] = field(default_factory=lambda: dict(REFERENCE_HPARAMS))
    backend: str = DEFAULT_BACKEND
    protocol: int = PROTOCOL_VERSION

    def __post_init__(self) -> None:
        kind, _ = parse_target(self.target)
        if kind != "block" and self.partition is not None:
            # Baselines do not depend on the partition: one BL1 serves every partition.
            object.__setattr__(self, "partition", None)
            object.__setattr__(self, "partition_params", {})
            object.__setattr__(self, "partition_digest", "")

    @property
    def block_index(self) -> int | None:
        return parse_target(self.target)[1]

    def to_dict(self) -> dict[str, Any]:
        return json.loads(canonical_json(asdict(self)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSpec:
        return cls(**dict(data))

    @property
    def run_hash(self) -> str:
        """sha256 of the canonical JSON of the identity (see :meth:`hashed`)."""
        return hashlib.sha256(canonical_json(self.hashed()).encode()).hexdigest()

    def hashed(self) -> dict[str, Any]:
        """The identity as hashed: the fields, less ``backend`` when it is the default one
        (runs from before the backend was recorded keep their hashes)."""
        data = asdict(self)
        if data["backend"] == DEFAULT_BACKEND:
            del data["backend"]
        return data

    def with_(self, **changes: Any) -> RunSpec:
        data = asdict(self)
        data.update(changes)
        return RunSpec(**data)


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, floats as repr."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_default)


def _default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"not JSON-serialisable in a run identity: {value!r}")
