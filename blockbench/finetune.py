"""Assemble backbone + classifier head once, and reset it for each run's target.

A :class:`FineTuneModel` is built once per (backbone, head, classes) in a
process. Before every run :meth:`FineTuneModel.prepare_run` restores the
backbone's pretrained weights from memory, re-initialises the head from the
run's seed, resets every dropout seed, and sets which layers train:

* ``bl1``: only the head;
* ``bl2``: every layer;
* ``block:i``: block ``i``'s layers and the head.

A layer with ``trainable = False`` is frozen; a frozen BatchNormalization
layer runs in inference mode (Keras 3 semantics), so its moving statistics
are used and never updated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from blockbench.errors import UsageError

if TYPE_CHECKING:
    import keras

HEAD_PREFIX = "bb_head_"
HEADS = ("flatten", "gap")


def _derived_seed(seed: int, salt: int) -> int:
    """A reproducible 31-bit seed for component ``salt`` of a run."""
    return int(np.random.SeedSequence([seed, salt]).generate_state(1)[0] % (2**31 - 1))


class FineTuneModel:
    """A backbone with the classifier head, reusable across runs.

    Args:
        backbone: the built backbone (its current weights are taken as the pretrained ones).
        n_classes: number of output classes.
        hparams: head configuration (``head``, ``dense_units``, ``dropout``).
    """

    def __init__(self, backbone: keras.Model, n_classes: int, hparams: Mapping[str, Any]) -> None:
        import keras

        head = hparams.get("head", "flatten")
        if head not in HEADS:
            raise UsageError(f"head {head!r} is not valid; use one of {', '.join(HEADS)}")
        self.backbone = backbone
        self.initial_weights = [np.array(w) for w in backbone.get_weights()]
        inputs = keras.Input(backbone.input_shape[1:], name=HEAD_PREFIX + "input")
        x = backbone(inputs)
        if head == "flatten":
            x = keras.layers.Flatten(name=HEAD_PREFIX + "flatten")(x)
        else:
            x = keras.layers.GlobalAveragePooling2D(name=HEAD_PREFIX + "gap")(x)
        x = keras.layers.Dense(int(hparams.get("dense_units", 512)), activation="relu",
                               name=HEAD_PREFIX + "dense")(x)
        x = keras.layers.Dropout(float(hparams.get("dropout", 0.5)), name=HEAD_PREFIX + "dropout")(x)
        # float32 softmax keeps mixed-precision runs numerically stable.
        outputs = keras.layers.Dense(n_classes, activation="softmax", dtype="float32",
                                     name=HEAD_PREFIX + "output")(x)
        self.model = keras.Model(inputs, outputs, name=f"{backbone.name}_finetune")
        self.head_dense = [self.model.get_layer(HEAD_PREFIX + "dense"),
                           self.model.get_layer(HEAD_PREFIX + "output")]
        self._seed_states = [v for v in self.model.variables if "seed_generator_state" in v.path]
        self._layers = {layer.name: layer for layer in backbone.layers}

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

    def trainable_params(self) -> int:
        return int(sum(math.prod(w.shape) for w in self.model.trainable_weights))

    def weights_snapshot(self) -> list[np.ndarray]:
        return [np.array(w) for w in self.model.get_weights()]
