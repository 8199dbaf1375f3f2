"""The partition contract: cut a built backbone into an ordered list of blocks.

A strategy returns groups of layer names; :func:`build_partition` validates
them (contiguous in topological order, non-empty, every layer and every
trainable weight in exactly one block) and turns them into :class:`Block` s
with parameter counts and quarters.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import json
import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from blockbench.core.errors import BlockbenchError, UsageError
from blockbench.core.options import REQUIRED as REQUIRED  # re-exported: plugins declare with it
from blockbench.core.options import complete_options

if TYPE_CHECKING:
    import keras


class PartitionError(BlockbenchError):
    """A partition violates the block invariants; the message names the layers."""


def quarter_of(index: int, n_blocks: int) -> int:
    """Quarter (1-4) of block ``index`` (0-based) among ``n_blocks``.

    Block ``i`` lies in quarter ``ceil(4 * (i + 1) / n)``: the blocks are split
    into four runs as equal as possible, and when ``n`` is not a multiple of 4
    the later quarters are the longer ones, so Q4 is never shorter than Q1
    (27 blocks: 6, 7, 7, 7). With fewer than 4 blocks some quarters are empty.
    """
    if not 0 <= index < n_blocks:
        raise ValueError(f"block index {index} out of range for {n_blocks} blocks")
    return max(1, min(4, math.ceil(4 * (index + 1) / n_blocks)))


@dataclass(frozen=True)
class Block:
    """One contiguous group of backbone layers that trains as a unit.

    Attributes:
        index: 0-based position in the partition.
        layers: layer names, in topological order.
        trainable_params: trainable parameters of those layers.
        quarter: 1-4, see :func:`quarter_of`.
    """

    index: int
    layers: tuple[str, ...]
    trainable_params: int
    quarter: int

    @property
    def first_layer(self) -> str:
        return self.layers[0]

    @property
    def last_layer(self) -> str:
        return self.layers[-1]


@dataclass(frozen=True)
class Partition:
    """A validated, ordered list of blocks of one backbone.

    Attributes:
        strategy: registered name of the strategy that made it.
        params: the strategy's options, completed with defaults (a run's identity
            records them as ``partition_params``).
        blocks: the blocks, in topological order.
        total_trainable_params: trainable parameters of the whole backbone.
    """

    strategy: str
    params: Mapping[str, Any]
    blocks: tuple[Block, ...]
    total_trainable_params: int
    digest: str = field(default="")

    def __len__(self) -> int:
        return len(self.blocks)

    def block(self, index: int) -> Block:
        if not 0 <= index < len(self.blocks):
            raise UsageError(
                f"block {index} does not exist; this partition has blocks 0..{len(self.blocks) - 1}"
            )
        return self.blocks[index]

    def quarter(self, q: int) -> list[Block]:
        return [b for b in self.blocks if b.quarter == q]


class PartitionStrategy(abc.ABC):
    """Cuts a backbone into blocks.

    Lifecycle:
        1. Instantiated and registered at plugin load; cheap, no TensorFlow import.
        2. :meth:`check_options` validates the user's options and returns them
           completed with defaults (before any model is built).
        3. :meth:`split` receives a built backbone (all layers trainable) and
           the options as :meth:`check_options` returned them, and returns
           groups of layer names covering every non-input layer exactly once,
           in topological order. It must be deterministic.
           :func:`build_partition` validates the groups and computes the rest.

    Attributes:
        option_defaults: accepted options and their defaults;
            :data:`~blockbench.core.options.REQUIRED` marks one the user must give.
    """

    option_defaults: ClassVar[Mapping[str, Any]] = {}
    #: Set on a subclass written for the old ``check_params`` (routed through it).
    _legacy_check: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "param_defaults" in cls.__dict__ and "option_defaults" not in cls.__dict__:
            warnings.warn(f"{cls.__name__}.param_defaults is deprecated: rename it "
                          "option_defaults; the old name stops working in the next release",
                          DeprecationWarning, stacklevel=3)  # past ABCMeta.__new__
            cls.option_defaults = cls.__dict__["param_defaults"]
        if "check_params" in cls.__dict__ and "check_options" not in cls.__dict__:
            warnings.warn(f"{cls.__name__}.check_params is deprecated: rename it "
                          "check_options; the old name stops working in the next release",
                          DeprecationWarning, stacklevel=3)  # past ABCMeta.__new__
            cls._legacy_check = True
            cls.check_options = _through_check_params  # type: ignore[method-assign]

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Validate options and return them completed with defaults."""
        return complete_options(options, self.option_defaults, "partition")

    def check_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Deprecated name of :meth:`check_options`, kept until the next release."""
        if self._legacy_check:  # a legacy override's super().check_params(): the base check
            return PartitionStrategy.check_options(self, params)
        warnings.warn("PartitionStrategy.check_params is deprecated: call check_options",
                      DeprecationWarning, stacklevel=2)
        return self.check_options(params)

    @abc.abstractmethod
    def split(self, model: keras.Model, **options: Any) -> list[list[str]]:
        """Return the groups of layer names, in topological order."""


def _through_check_params(self: PartitionStrategy, options: Mapping[str, Any]) -> dict[str, Any]:
    """``check_options`` of a legacy subclass: its own ``check_params`` does the checking."""
    return self.check_params(options)


def layer_order(model: keras.Model) -> list[Any]:
    """The model's layers in topological order, without input layers."""
    return [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]


def trainable_count(layer: Any) -> int:
    """Number of trainable parameters a layer owns (BatchNorm gamma/beta count; moving stats do not)."""
    return int(sum(math.prod(w.shape) for w in layer.trainable_weights))


def validate_groups(model: keras.Model, groups: Sequence[Sequence[str]]) -> None:
    """Raise :class:`PartitionError` naming the offending layers if the groups are invalid."""
    order = [layer.name for layer in layer_order(model)]
    position = {name: i for i, name in enumerate(order)}
    empty = [i for i, g in enumerate(groups) if not g]
    if empty:
        raise PartitionError(f"partition has empty block(s) at index {empty}")
    flat = [name for g in groups for name in g]
    unknown = [n for n in flat if n not in position]
    if unknown:
        raise PartitionError(f"partition names layers not in the model: {unknown[:10]}")
    seen: dict[str, int] = {}
    for i, g in enumerate(groups):
        for name in g:
            if name in seen:
                raise PartitionError(
                    f"layer {name!r} is in block {seen[name]} and in block {i}"
                )
            seen[name] = i
    missing = [n for n in order if n not in seen]
    if missing:
        raise PartitionError(f"layers in no block: {missing[:10]}")
    if flat != order:
        for i, g in enumerate(groups):
            pos = [position[n] for n in g]
            if pos != list(range(pos[0], pos[0] + len(pos))):
                raise PartitionError(
                    f"block {i} is not contiguous in topological order: "
                    f"{g[0]!r} .. {g[-1]!r}"
                )
        raise PartitionError("blocks are not in topological order")
    owner: dict[int, str] = {}
    for layer in layer_order(model):
        for w in layer.trainable_weights:
            key = id(w)
            if key in owner and owner[key] != layer.name:
                raise PartitionError(
                    f"trainable weight {w.path!r} is shared by layers {owner[key]!r} and "
                    f"{layer.name!r}"
                )
            owner[key] = layer.name


@contextlib.contextmanager
def _all_layers_trainable(model: keras.Model) -> Iterator[None]:
    """Unfreeze the model's frozen layers for the duration, then freeze them again.

    Strategies see and count trainable weights, which a frozen layer hides; the
    engine reuses a backbone that an earlier block run left partly frozen.
    """
    frozen = [layer for layer in model.layers if not layer.trainable]
    for layer in frozen:
        layer.trainable = True
    try:
        yield
    finally:
        for layer in frozen:
            layer.trainable = False


def build_partition(
    strategy_name: str,
    strategy: PartitionStrategy,
    model: keras.Model,
    options: Mapping[str, Any] | None = None,
) -> Partition:
    """Run ``strategy`` on ``model``, validate the result and return the :class:`Partition`."""
    checked = strategy.check_options(options or {})
    with _all_layers_trainable(model):
        groups = [list(g) for g in strategy.split(model, **checked)]
        validate_groups(model, groups)
        counts = {layer.name: trainable_count(layer) for layer in layer_order(model)}
    n = len(groups)
    blocks = tuple(
        Block(i, tuple(g), sum(counts[name] for name in g), quarter_of(i, n))
        for i, g in enumerate(groups)
    )
    digest = hashlib.sha256(json.dumps(groups).encode()).hexdigest()
    return Partition(strategy_name, dict(checked), blocks, sum(counts.values()), digest)
