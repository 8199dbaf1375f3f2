"""Train and evaluate one run: the reference protocol, deterministic, failures recorded."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from blockbench.errors import UsageError
from blockbench.records import FAILED, OK, RunRecord
from blockbench.spec import RunSpec

if TYPE_CHECKING:
    from blockbench.data import PreparedData
    from blockbench.finetune import FineTuneModel

#: Called after every epoch with (epoch, epochs, logs).
EpochCallback = Callable[[int, int, Mapping[str, float]], None]

EVAL_EPOCHS = ("last", "best-val")
OPTIMIZERS = ("adam", "sgd", "adamw", "rmsprop")


class RunFailed(Exception):
    """A run failed in a way that is recorded, not raised (NaN loss, out of memory)."""


@dataclass
class RunInputs:
    """What one run needs besides its spec.

    Attributes:
        finetune: the reusable backbone + head.
        data: the prepared dataset.
        target_layers: layers that train (None: all, empty: none).
        preprocess: maps a float32 batch in [0, 255] to the backbone's input.
        block: block description stored in the record (None for baselines).
    """

    finetune: FineTuneModel
    data: PreparedData
    target_layers: Sequence[str] | None
    preprocess: Callable[[Any], Any]
    block: dict[str, Any] | None = None


def _optimizer(hparams: Mapping[str, Any]) -> Any:
    import keras

    name = str(hparams.get("optimizer", "adam")).lower()
    lr = float(hparams.get("learning_rate", 1e-3))
    factories = {
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "sgd": lambda learning_rate: keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9),
        "rmsprop": keras.optimizers.RMSprop,
    }
    if name not in factories:
        raise UsageError(f"optimizer {name!r} is not valid; use one of {', '.join(OPTIMIZERS)}")
    return factories[name](learning_rate=lr)


def _dataset(inputs: RunInputs, split: str, batch_size: int, seed: int | None) -> Any:
    """A tf.data pipeline over one split; shuffled (seeded, per epoch) when a seed is given."""
    import tensorflow as tf

    data = inputs.data
    x = data.x(split)
    y = tf.one_hot(data.y(split), data.n_classes)
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if seed is not None:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    preprocess = inputs.preprocess
    ds = ds.batch(batch_size).map(
        lambda images, labels: (preprocess(tf.cast(images, tf.float32)), labels),
        num_parallel_calls=None,  # deterministic order
    )
    return ds.prefetch(2)


class _Recorder:
    """Keras callback: history, NaN detection, best-validation weights, progress."""

    def __init__(self, inputs: RunInputs, epochs: int, keep_best: bool,
                 on_epoch: EpochCallback | None) -> None:
        import keras

        recorder = self

        class Callback(keras.callbacks.Callback):
            def on_train_batch_end(self, batch: int, logs: Mapping[str, float] | None = None) -> None:
                loss = (logs or {}).get("loss")
                if loss is not None and not math.isfinite(float(loss)):
                    recorder.nan_epoch = recorder.epoch + 1
                    self.model.stop_training = True

            def on_epoch_begin(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
                recorder.epoch = epoch

            def on_epoch_end(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
                recorder.epoch_end(epoch, dict(logs or {}))

        self.callback = Callback()
        self.inputs, self.epochs, self.keep_best, self.on_epoch = inputs, epochs, keep_best, on_epoch
        self.history: list[dict[str, float]] = []
        self.epoch = 0
        self.nan_epoch: int | None = None
        self.best: tuple[float, int, list[np.ndarray]] | None = None

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self.nan_epoch is not None:
            return
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in logs.items()}}
        self.history.append(row)
        val = row.get("val_accuracy", float("nan"))
        if self.keep_best and (self.best is None or val > self.best[0]):
            self.best = (val, epoch + 1, self.inputs.finetune.weights_snapshot())
        if self.on_epoch:
            self.on_epoch(epoch + 1, self.epochs, row)


def train_run(spec: RunSpec, inputs: RunInputs, on_epoch: EpochCallback | None = None,
              epochs: int | None = None) -> RunRecord:
    """Train ``spec`` and return its record; NaN loss and out-of-memory become failed records."""
    import keras
    import tensorflow as tf

    hp = spec.hparams
    epochs = int(epochs if epochs is not None else hp["epochs"])
    eval_epoch = hp.get("eval_epoch", "last")
    if eval_epoch not in EVAL_EPOCHS:
        raise UsageError(f"eval_epoch {eval_epoch!r} is not valid; use one of {', '.join(EVAL_EPOCHS)}")
    data, ft = inputs.data, inputs.finetune
    record = RunRecord(spec=spec, status=OK, block=inputs.block, n_train=len(data.indices["train"]),
                       n_val=len(data.indices["val"]), n_test=len(data.indices["test"]))
    start = time.perf_counter()
    keras.utils.set_random_seed(spec.seed)
    ft.prepare_run(inputs.target_layers, spec.seed)
    record.trainable_params = ft.trainable_params()
    batch = int(hp["batch_size"])
    recorder = _Recorder(inputs, epochs, eval_epoch == "best-val", on_epoch)
    try:
        ft.model.compile(optimizer=_optimizer(hp), loss="categorical_crossentropy",
                         metrics=["accuracy"], jit_compile=bool(hp.get("xla", False)))
        ft.model.fit(_dataset(inputs, "train", batch, spec.seed), epochs=epochs,
                     validation_data=_dataset(inputs, "val", batch, None),
                     callbacks=[recorder.callback], shuffle=False, verbose=0)
        if recorder.nan_epoch is not None:
            raise RunFailed(f"loss became NaN or infinite in epoch {recorder.nan_epoch}")
        if recorder.best is not None:
            ft.model.set_weights(recorder.best[2])
            record.best_epoch = recorder.best[1]
        else:
            record.best_epoch = len(recorder.history)
        val = ft.model.evaluate(_dataset(inputs, "val", batch, None), verbose=0, return_dict=True)
        test = ft.model.evaluate(_dataset(inputs, "test", batch, None), verbose=0, return_dict=True)
        record.val_loss, record.val_acc = float(val["loss"]), float(val["accuracy"])
        record.test_loss, record.test_acc = float(test["loss"]), float(test["accuracy"])
        if not all(math.isfinite(v) for v in (record.val_loss, record.test_loss)):
            raise RunFailed("evaluation loss is NaN or infinite")
    except (RunFailed, tf.errors.ResourceExhaustedError, MemoryError) as exc:
        record.status = FAILED
        reason = str(exc) if isinstance(exc, RunFailed) else "out of memory"
        record.error = f"{type(exc).__name__}: {reason}".splitlines()[0][:500]
        record.val_acc = record.test_acc = None
    record.history = recorder.history
    record.epochs_run = len(recorder.history)
    record.wall_seconds = round(time.perf_counter() - start, 3)
    return record
