"""Cut a functional Keras model at a layer boundary and rebuild the pieces.

A *cut* before layer ``L`` splits a backbone into a prefix (every operation
before ``L`` in topological order) and a suffix (``L`` and everything after).
The prefix's output is its *frontier*: every tensor the prefix produces that
the suffix consumes, or that is a model output. In a plain chain that is one
tensor; a residual connection or a concatenation crossing the cut adds more
(a skip tensor produced before ``L`` and consumed after it). A cut after the
last layer (``first=None``) has the model outputs as its frontier.

:func:`segment` rebuilds the part of a model between two frontiers as a new
functional graph by calling the *original* layer objects on new inputs, so the
segment shares every weight with the model (Keras layers can be called on
several graphs). Keras' own ``Model(intermediate, output)`` does something
similar, but rebuilding explicitly lets us choose the inputs, keep their order
and check that the cut is clean.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from blockbench.core.errors import BlockbenchError

if TYPE_CHECKING:
    import keras


class CutError(BlockbenchError):
    """A model cannot be cut where asked (unknown layer, shared layer across the cut)."""


@dataclass(frozen=True)
class Cut:
    """A boundary in a functional model.

    Attributes:
        first: name of the first layer after the cut (None: after the last layer).
        position: index of ``first`` among the model's non-input layers
            (their number when ``first`` is None).
        frontier: symbolic tensors of the model crossing the cut, in a stable order.
    """

    first: str | None
    position: int
    frontier: tuple[Any, ...]


def topological_nodes(model: keras.Model) -> list[Any]:
    """The nodes of a functional model's own graph, inputs first."""
    by_depth = model._nodes_by_depth  # Keras 3 Functional: depth -> nodes, inputs deepest
    return [node for depth in sorted(by_depth, reverse=True) for node in by_depth[depth]]


def _producer(tensor: Any) -> Any:
    return tensor._keras_history.operation


def _is_input(operation: Any) -> bool:
    return type(operation).__name__ == "InputLayer"


def cut(model: keras.Model, first: str | None) -> Cut:
    """Find the frontier of the prefix that ends just before layer ``first``.

    Raises:
        CutError: ``first`` is not a layer of ``model``, or a prefix operation
            consumes a suffix tensor (a layer shared across the cut).
    """
    operations = [op for op in model.operations if not _is_input(op)]
    names = [op.name for op in operations]
    if first is None:
        position = len(operations)
    elif first in names:
        position = names.index(first)
    else:
        raise CutError(f"layer {first!r} is not in model {model.name!r}")
    prefix = {id(op) for op in operations[:position]}
    prefix.update(id(op) for op in model.operations if _is_input(op))
    frontier: dict[int, Any] = {}
    for node in topological_nodes(model):
        if node.operation is None or node.is_input:
            continue
        in_prefix = id(node.operation) in prefix
        for tensor in node.input_tensors:
            produced_before = id(_producer(tensor)) in prefix
            if in_prefix and not produced_before:
                raise CutError(f"layer {node.operation.name!r} is shared across the cut before "
                               f"{first!r}; the model cannot be cut there")
            if not in_prefix and produced_before:
                frontier.setdefault(id(tensor), tensor)
    for tensor in model.outputs:
        if id(_producer(tensor)) in prefix:
            frontier.setdefault(id(tensor), tensor)
    return Cut(first, position, tuple(frontier.values()))


def rebuild(model: keras.Model, inputs: Sequence[Any], outputs: Sequence[Any]
            ) -> tuple[list[Any], list[Any]]:
    """Re-call the layers of ``model`` between ``inputs`` and ``outputs`` on fresh inputs.

    Args:
        model: a functional model.
        inputs: symbolic tensors of ``model`` (a frontier) to become inputs.
        outputs: symbolic tensors of ``model`` to compute from them.

    Returns:
        (new input tensors, new output tensors), ready for ``keras.Model``. An
        output that is also an input passes straight through.

    Raises:
        CutError: an output depends on a tensor that is not computable from ``inputs``.
    """
    import keras

    values: dict[int, Any] = {}
    new_inputs = []
    for tensor in inputs:
        new = keras.Input(batch_shape=(None, *tensor.shape[1:]), dtype=tensor.dtype)
        values[id(tensor)] = new
        new_inputs.append(new)
    needed = _ancestors(model, outputs, stop={id(t) for t in inputs})
    for node in topological_nodes(model):
        if id(node) not in needed:
            continue
        missing = [t.name for t in node.input_tensors if id(t) not in values]
        if missing:
            raise CutError(f"layer {node.operation.name!r} needs {missing[:3]}, which the "
                           "segment's inputs do not provide")
        args, kwargs = node.arguments.fill_in(values)
        result = node.operation(*args, **kwargs)
        for old, new in zip(node.outputs, keras.tree.flatten(result), strict=True):
            values[id(old)] = new
    return new_inputs, [values[id(t)] for t in outputs]


def _ancestors(model: keras.Model, outputs: Sequence[Any], stop: set[int]) -> set[int]:
    """Ids of the nodes computing ``outputs`` from the tensors in ``stop``."""
    nodes: set[int] = set()
    pending = [t for t in outputs if id(t) not in stop]
    seen: set[int] = set()
    own = {id(node): node for node in topological_nodes(model)}
    while pending:
        tensor = pending.pop()
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        operation, node_index, _ = tensor._keras_history
        node = operation._inbound_nodes[node_index]
        if id(node) not in own or node.is_input:
            raise CutError(f"tensor {tensor.name!r} is not computable from the segment's inputs")
        nodes.add(id(node))
        pending.extend(t for t in node.input_tensors if id(t) not in stop)
    return nodes


def segment(model: keras.Model, start: Cut | None, end: Cut, name: str) -> keras.Model:
    """A model computing ``end``'s frontier from ``start``'s (None: from the model inputs)."""
    import keras

    inputs = list(start.frontier) if start is not None else list(model.inputs)
    new_inputs, new_outputs = rebuild(model, inputs, list(end.frontier))
    return keras.Model(single(new_inputs), single(new_outputs), name=name)


def single(tensors: list[Any]) -> Any:
    """A lone tensor rather than a list of one (how Keras expects single-input models)."""
    return tensors[0] if len(tensors) == 1 else tensors
