"""The reference protocol with Keras' own loop: a fresh model, ``compile`` and ``fit`` per run.

The engine's ``keras`` mode (:mod:`blockbench.train.engine`) builds the backbone
again for every run, compiles it, and trains the whole network with
``keras.Model.fit`` on batches that are preprocessed as they are read (a
``tf.data`` pipeline on TensorFlow, a ``keras.utils.PyDataset`` elsewhere: the
step module's ``fit_batches``), then evaluates with ``predict`` (the loss and
accuracy ``evaluate`` would report, and which examples were right): what a plain Keras implementation of the
reference study does, with Keras' own Adam. It shares with the engine's
compiled loop (:mod:`blockbench.train.steps`) only the order of the examples
(:func:`~blockbench.train.loop.epoch_order`) and the dropout seeds, and
reproduces its train step independently: the two agree to floating-point
tolerance (TensorFlow compiles and fuses the two graphs differently, and the
engine's Adam updates each variable in one fused kernel), which training
can amplify into different accuracies.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from blockbench.core.records import RunRecord
from blockbench.core.spec import RunSpec
from blockbench.train.loop import (
    EpochCallback,
    RunFailed,
    RunInputs,
    accuracy,
    check_finite,
    epoch_order,
    fail,
    new_record,
    recorded_failure,
)
from blockbench.train.optimizers import make_optimizer
from blockbench.train.steps import backend_steps


def _dataset(inputs: RunInputs, split: str, batch_size: int) -> Any:
    """One split's preprocessed batches, in index order."""
    data = inputs.data
    return backend_steps().fit_batches(data.images, data.labels, data.n_classes,
                                       [np.asarray(data.indices[split])], batch_size,
                                       inputs.preprocess)


def _train_dataset(inputs: RunInputs, batch_size: int, seed: int, epochs: int) -> Any:
    """Every epoch's batches in :func:`~blockbench.train.loop.epoch_order`, one epoch after another."""
    data = inputs.data
    orders = [epoch_order(data.indices["train"], seed, epoch) for epoch in range(1, epochs + 1)]
    return backend_steps().fit_batches(data.images, data.labels, data.n_classes, orders,
                                       batch_size, inputs.preprocess)


def _evaluate(inputs: RunInputs, split: str, batch_size: int) -> tuple[float, np.ndarray]:
    """(mean loss, per-example hits) of one split, from one prediction pass over it.

    What ``evaluate`` reports (categorical cross-entropy, accuracy), computed from
    the predictions so that each example's hit is kept too.
    """
    import keras

    model = inputs.finetune.model
    p = model.predict(_dataset(inputs, split, batch_size), verbose=0)
    labels = inputs.data.y(split)
    y = keras.ops.one_hot(labels, inputs.data.n_classes)
    losses = keras.ops.convert_to_numpy(keras.losses.categorical_crossentropy(y, p))
    hits = np.argmax(p, axis=-1) == labels
    return (float(np.mean(losses, dtype=np.float32)) if len(hits) else math.nan), hits


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


def fit_run(spec: RunSpec, inputs: RunInputs, on_epoch: EpochCallback | None = None,
            epochs: int | None = None) -> RunRecord:
    """Train ``spec`` with compile + fit; NaN loss and out-of-memory become failed records."""
    import keras

    hp = spec.hparams
    epochs = int(epochs if epochs is not None else hp["epochs"])
    keep_best = hp.get("eval_epoch") == "best-val"  # checked by complete_hparams
    ft = inputs.finetune
    record = new_record(spec, inputs)
    start = time.perf_counter()
    keras.utils.set_random_seed(spec.seed)
    ft.prepare_run(inputs.target_layers, spec.seed)
    record.trainable_params = ft.trainable_params()
    batch = int(hp["batch_size"])
    recorder = _Recorder(inputs, epochs, keep_best, on_epoch)
    try:
        ft.model.compile(optimizer=make_optimizer(hp), loss="categorical_crossentropy",
                         metrics=["accuracy"], jit_compile=bool(hp.get("xla", False)))
        # One iterator over all epochs (steps_per_epoch given), so each epoch gets its order.
        ft.model.fit(_train_dataset(inputs, batch, spec.seed, epochs), epochs=epochs,
                     steps_per_epoch=math.ceil(len(inputs.data.indices["train"]) / batch),
                     validation_data=_dataset(inputs, "val", batch),
                     callbacks=[recorder.callback], shuffle=False, verbose=0)
        if recorder.nan_epoch is not None:
            raise RunFailed(f"loss became NaN or infinite in epoch {recorder.nan_epoch}")
        if recorder.best is not None:
            ft.model.set_weights(recorder.best[2])
            record.best_epoch = recorder.best[1]
        else:
            record.best_epoch = len(recorder.history)
        record.val_loss, val_hits = _evaluate(inputs, "val", batch)
        record.test_loss, test_hits = _evaluate(inputs, "test", batch)
        record.val_acc, record.test_acc = accuracy(val_hits), accuracy(test_hits)
        check_finite(record)
        record.val_correct = RunRecord.encode_correct(val_hits)
        record.test_correct = RunRecord.encode_correct(test_hits)
    except Exception as exc:
        if not recorded_failure(exc):
            raise
        fail(record, exc)
    record.history = recorder.history
    record.epochs_run = len(recorder.history)
    record.wall_seconds = round(time.perf_counter() - start, 3)
    return record
