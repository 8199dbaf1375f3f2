"""Assemble backbone + classifier head once, and reset it for each run's target.

A :class:`FineTuneModel` is built once per (backbone, head, classes) in a
process. Before every run :meth:`FineTuneModel.prepare_run` restores the
backbone's pretrained weights from memory, re-initialises the head from the
run's seed, resets every dropout seed, and sets which layers train:

* ``bl1``: only the head;
* ``bl2``: every layer;
* ``block:i``: block ``i``'s layers and the head.

A layer with ``trainable = False`` is frozen, and a frozen layer runs in
inference mode: a frozen BatchNormalization uses and keeps its moving
statistics (Keras 3 does that by itself), and a frozen Dropout-like layer
(EfficientNet's stochastic-depth ``*_drop`` layers) passes its input through,
which plain Keras would not do. So everything frozen is deterministic, which
is what lets the engine compute a frozen prefix once (see
:mod:`blockbench.train.activations`).

:meth:`FineTuneModel.model_after` gives, for a cut of the backbone, the
suffix + head as a model whose inputs are the cut's frontier tensors; it
shares every layer (and weight) with :attr:`FineTuneModel.model`.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from blockbench.components.partition import layer_order
from blockbench.core.errors import UsageError
from blockbench.train.subgraph import Cut, rebuild, single

if TYPE_CHECKING:
    import keras


HEAD_PREFIX = "bb_head_"


def _derived_seed(seed: int, salt: int) -> int:
    """A reproducible 31-bit seed for component ``salt`` of a run."""
    return int(np.random.SeedSequence([seed, salt]).generate_state(1)[0] % (2**31 - 1))


@contextlib.contextmanager
def dtype_policy(precision: str) -> Iterator[None]:
    """Build layers under ``precision`` (``float32`` or ``mixed_float16``), then restore."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def inference_when_frozen(layer: Any) -> None:
    """Make ``layer`` run in inference mode whenever it is frozen (idempotent)."""
    if getattr(layer, "_bb_inference_when_frozen", False):
        return
    original = layer.call
    signature = inspect.signature(original)
    if "training" not in signature.parameters:
        return

    @functools.wraps(original)
    def call(*args: Any, **kwargs: Any) -> Any:
        if layer.trainable:
            return original(*args, **kwargs)
        bound = signature.bind(*args, **kwargs)
        bound.arguments["training"] = False
        return original(*bound.args, **bound.kwargs)

    layer.call = call
    layer._bb_inference_when_frozen = True


class FineTuneModel:
    """A backbone with the classifier head, reusable across runs.

    Args:
        backbone: the built backbone (its current weights are taken as the pretrained ones).
        n_classes: number of output classes.
        hparams: head configuration (``head``, ``dense_units``, ``dropout``); the
            caller builds it under the run's dtype policy (see :func:`dtype_policy`).
    """

    def __init__(self, backbone: keras.Model, n_classes: int, hparams: Mapping[str, Any]) -> None:
        import keras

        head = hparams.get("head", "flatten")  # checked by complete_hparams, like the others
        self.backbone = backbone
        self.initial_weights = [np.array(w) for w in backbone.get_weights()]
        for layer in backbone.layers:
            inference_when_frozen(layer)
        pool = (keras.layers.Flatten(name=HEAD_PREFIX + "flatten") if head == "flatten"
                else keras.layers.GlobalAveragePooling2D(name=HEAD_PREFIX + "gap"))
        self.head_layers = [
            pool,
            keras.layers.Dense(int(hparams.get("dense_units", 512)), activation="relu",
                               name=HEAD_PREFIX + "dense"),
            keras.layers.Dropout(float(hparams.get("dropout", 0.5)), name=HEAD_PREFIX + "dropout"),
            # float32 softmax keeps mixed-precision runs numerically stable.
            keras.layers.Dense(n_classes, activation="softmax", dtype="float32",
                               name=HEAD_PREFIX + "output"),
        ]
        inputs = keras.Input(backbone.input_shape[1:], name=HEAD_PREFIX + "input")
        self.model = keras.Model(inputs, self._head(backbone(inputs)),
                                 name=f"{backbone.name}_finetune")
        self.head_dense = [self.head_layers[1], self.head_layers[3]]
        self._seed_states = [v for v in self.model.variables if "seed_generator_state" in v.path]
        self._layers = {layer.name: layer for layer in layer_order(backbone)}
        self._suffixes: dict[str | None, keras.Model] = {}
        with self._all_trainable():
            self.all_trainable_variables = list(self.model.trainable_variables)

    def _head(self, x: Any) -> Any:
        for layer in self.head_layers:
            x = layer(x)
        return x

    @contextlib.contextmanager
    def _all_trainable(self) -> Iterator[None]:
        flags = {name: layer.trainable for name, layer in self._layers.items()}
        for layer in self._layers.values():
            layer.trainable = True
        try:
            yield
        finally:
            for name, flag in flags.items():
                self._layers[name].trainable = flag

    def model_after(self, cut: Cut) -> keras.Model:
        """The backbone after ``cut`` plus the head, fed with the cut's frontier tensors."""
        import keras

        if cut.first not in self._suffixes:
            inputs, outputs = rebuild(self.backbone, cut.frontier, self.backbone.outputs)
            name = f"{self.backbone.name}_after_{cut.first or 'all'}"
            self._suffixes[cut.first] = keras.Model(single(inputs), self._head(outputs[0]),
                                                    name=name)
        return self._suffixes[cut.first]

    def prepare_run(self, target_layers: Sequence[str] | None, seed: int) -> None:
        """Reset weights and seeds, and set what trains.

        Args:
            target_layers: backbone layer names that train; ``None`` means all (BL2),
                an empty sequence means none (BL1).
            seed: the run's seed.
        """
        import keras

        self.backbone.set_weights(self.initial_weights)
        for i, layer in enumerate(self.head_dense):
            kernel_init = keras.initializers.GlorotUniform(seed=_derived_seed(seed, i))
            layer.kernel.assign(kernel_init(layer.kernel.shape))
            layer.bias.assign(np.zeros(layer.bias.shape, dtype="float32"))
        for i, state in enumerate(self._seed_states):
            state.assign(np.array([_derived_seed(seed, 1000 + i), 0], dtype=state.dtype))
        trainable = None if target_layers is None else set(target_layers)
        unknown = set() if trainable is None else trainable - set(self._layers)
        if unknown:
            raise UsageError(f"layers not in the backbone: {sorted(unknown)[:5]}")
        for name, layer in self._layers.items():
            layer.trainable = trainable is None or name in trainable

    def trained_layers(self) -> list[Any]:
        """Layers whose state a run changes: the unfrozen backbone layers and the head."""
        return [*(lay for lay in self._layers.values() if lay.trainable), *self.head_layers]

    def trainable_params(self) -> int:
        return int(sum(math.prod(w.shape) for w in self.model.trainable_weights))

    def weights_snapshot(self) -> list[np.ndarray]:
        return [np.array(w) for w in self.model.get_weights()]
