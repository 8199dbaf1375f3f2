"""The run's optimizer, built the same way on every backend.

``make_optimizer`` maps the hyper-parameters to a Keras optimizer and wraps
it in a ``LossScaleOptimizer`` under mixed precision, as ``Model.compile``
does. The TensorFlow step module passes its fused Adam
(:func:`blockbench.train.steps_tensorflow.fused_adam`); every other backend
uses Keras' own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def make_optimizer(hparams: Mapping[str, Any], adam: type | None = None) -> Any:
    """The run's optimizer (loss-scaled under mixed precision, as ``compile`` does).

    Args:
        hparams: the run's hyper-parameters (``optimizer``, ``learning_rate``, ``precision``).
        adam: the Adam class to use (None: ``keras.optimizers.Adam``).
    """
    import keras

    name = str(hparams.get("optimizer", "adam")).lower()
    lr = float(hparams.get("learning_rate", 1e-3))
    factories = {
        "adam": adam or keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "sgd": lambda learning_rate: keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9),
        "rmsprop": keras.optimizers.RMSprop,
    }
    optimizer = factories[name](learning_rate=lr)
    if hparams.get("precision", "float32") == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def optimizer_key(hparams: Mapping[str, Any]) -> tuple[str, float, str]:
    """What distinguishes two runs' optimizers: (name, learning rate, precision)."""
    return (str(hparams.get("optimizer", "adam")).lower(),
            float(hparams.get("learning_rate", 1e-3)), str(hparams.get("precision", "float32")))
