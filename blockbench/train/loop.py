"""Train and evaluate one run: the reference protocol, deterministic, failures recorded.

A run trains the model of a :class:`Feed` on full-dataset tensors: either the
decoded images, preprocessed inside the graph (the whole network trains, as
in the reference protocol), or the cached frontier activations of a frozen
prefix (only the suffix and the head run; see :mod:`blockbench.train.activations`).
Both gather the same examples in the same order (:func:`epoch_order`, which
the Keras implementation :mod:`blockbench.train.kerasfit` uses too), and the step
is the one ``keras.Model.fit`` performs (:mod:`blockbench.train.steps`), so for the
same seed both feeds give the same result to floating-point tolerance (in
practice the same bits: frozen layers compute the same values either way).

Validation runs after every epoch; the record's validation metrics are those
of the evaluated epoch (the last, or the best one with ``eval_epoch=best-val``,
whose weights are restored before testing).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from blockbench.core.backends import backend_version
from blockbench.core.records import FAILED, OK, RunRecord
from blockbench.core.spec import RunSpec
from blockbench.data.prepare import PreparedData
from blockbench.train.finetune import FineTuneModel
from blockbench.train.steps import StepCache, Transform, backend_steps

if TYPE_CHECKING:
    import keras


#: Called after every epoch with (epoch, epochs, logs).
EpochCallback = Callable[[int, int, Mapping[str, float]], None]


class RunFailed(Exception):
    """A run failed in a way that is recorded, not raised (NaN loss, out of memory)."""


@dataclass
class Feed:
    """Full-dataset tensors a run gathers its batches from, and the model they feed.

    Attributes:
        model: the model trained; its inputs are ``arrays`` after ``transform``.
        arrays: tensors with one row per example of the prepared data.
        transform: in-graph map of a gathered batch (None: none).
        key: identifies (model, transform) for reusing compiled epochs.
    """

    model: keras.Model
    arrays: list[Any]
    transform: Transform | None
    key: Hashable


@dataclass
class RunInputs:
    """What one run needs besides its spec.

    Attributes:
        finetune: the reusable backbone + head.
        data: the prepared dataset.
        target_layers: layers that train (None: all, empty: none).
        preprocess: maps a float32 batch in [0, 255] to the backbone's input.
        block: block description stored in the record (None for baselines).
        feed: what to train on (None: the images through the whole network).
        steps: compiled epochs to reuse (None: compile for this run only).
    """

    finetune: FineTuneModel
    data: PreparedData
    target_layers: Sequence[str] | None
    preprocess: Callable[[Any], Any]
    block: dict[str, Any] | None = None
    feed: Feed | None = None
    steps: StepCache | None = field(default=None, repr=False)


def image_feed(finetune: FineTuneModel, images: Any, preprocess: Callable[[Any], Any],
               key: Hashable) -> Feed:
    """Feed the whole network with uint8 images, cast and preprocessed inside the graph.

    ``images`` may already be on the device (then it is used as it is).
    """
    return Feed(finetune.model, [backend_steps().to_device(images)], preprocessing(preprocess), key)


def preprocessing(preprocess: Callable[[Any], Any]) -> Transform:
    """The in-graph transform of uint8 image batches: cast to float32, then ``preprocess``."""
    import keras

    def transform(xs: list[Any]) -> list[Any]:
        return [preprocess(keras.ops.cast(xs[0], "float32"))]

    return transform


def new_record(spec: RunSpec, inputs: RunInputs) -> RunRecord:
    data = inputs.data
    return RunRecord(spec=spec, status=OK, block=inputs.block, n_train=len(data.indices["train"]),
                     n_val=len(data.indices["val"]), n_test=len(data.indices["test"]),
                     data_notes=list(data.notes), backend_version=backend_version(spec.backend))


def fail(record: RunRecord, exc: BaseException) -> None:
    """Mark ``record`` failed by ``exc`` (NaN, out of memory)."""
    record.status = FAILED
    reason = str(exc) if isinstance(exc, RunFailed) else "out of memory"
    # The exception type leads: it tells whether a retry may help (blockbench.core.failures).
    record.error = f"{type(exc).__name__}: {reason}".splitlines()[0][:500]
    record.val_acc = record.test_acc = None
    record.val_correct = record.test_correct = None


def recorded_failure(exc: BaseException) -> bool:
    """Whether ``exc`` fails the run in a recorded way (NaN loss, out of memory)."""
    return isinstance(exc, (RunFailed, MemoryError)) or backend_steps().is_out_of_memory(exc)


def check_finite(record: RunRecord) -> None:
    """Raise :class:`RunFailed` if an evaluated loss or accuracy is NaN or infinite.

    A NaN accuracy in an ok record would win every comparison it is in (or lose
    every one): the run fails instead, and its record says why.
    """
    values = {"validation loss": record.val_loss, "test loss": record.test_loss,
              "validation accuracy": record.val_acc, "test accuracy": record.test_acc}
    bad = [name for name, value in values.items() if value is None or not math.isfinite(value)]
    if bad:
        raise RunFailed(f"evaluation gave a NaN or infinite {' and '.join(bad)}")


def accuracy(hits: np.ndarray) -> float:
    """The fraction of ``hits`` that are true, in float32 as Keras' accuracy metric reports it."""
    if len(hits) == 0:
        return math.nan
    return float(np.float32(np.count_nonzero(hits)) / np.float32(len(hits)))


def epoch_order(indices: np.ndarray, seed: int, epoch: int) -> np.ndarray:
    """The training examples of epoch ``epoch`` (1-based), in the order they are seen.

    A seeded permutation per (seed, epoch), independent of any framework's
    global random state: setting TensorFlow's global seed would also clear
    its kernel caches and cost every compiled epoch a re-instantiation.
    """
    order = np.random.default_rng([seed, epoch]).permutation(len(indices))
    return np.asarray(indices, np.int32)[order]


def train_run(spec: RunSpec, inputs: RunInputs, on_epoch: EpochCallback | None = None,
              epochs: int | None = None) -> RunRecord:
    """Train ``spec`` and return its record; NaN loss and out-of-memory become failed records."""
    import keras

    hp = spec.hparams
    epochs = int(epochs if epochs is not None else hp["epochs"])
    keep_best = hp.get("eval_epoch") == "best-val"  # checked by complete_hparams
    data, ft = inputs.data, inputs.finetune
    record = new_record(spec, inputs)
    start = time.perf_counter()
    ft.prepare_run(inputs.target_layers, spec.seed)
    record.trainable_params = ft.trainable_params()
    history: list[dict[str, float]] = []
    try:
        feed = inputs.feed or image_feed(ft, data.images, inputs.preprocess, None)
        steps = (inputs.steps or StepCache()).get(ft, feed.model, feed.transform, feed.key, hp)
        labels = keras.ops.one_hot(data.labels, data.n_classes)
        index = {s: np.asarray(data.indices[s], np.int32) for s in ("val", "test")}
        mutable = [v for layer in ft.trained_layers() for v in layer.weights]
        best: tuple[float, int, list[np.ndarray]] | None = None
        val_hits: list[np.ndarray] = []  # per epoch: which validation examples were right
        for epoch in range(1, epochs + 1):
            order = epoch_order(data.indices["train"], spec.seed, epoch)
            loss, acc = _means(steps.train_epoch(feed.arrays, labels, order), record.n_train)
            if not math.isfinite(loss):
                raise RunFailed(f"loss became NaN or infinite in epoch {epoch}")
            val_loss, hits = _evaluate(steps, feed.arrays, labels, index["val"])
            val_hits.append(hits)
            val_acc = accuracy(hits)
            row = {"epoch": epoch, "loss": loss, "accuracy": acc,
                   "val_loss": val_loss, "val_accuracy": val_acc}
            history.append(row)
            if keep_best and (best is None or val_acc > best[0]):
                best = (val_acc, epoch, [v.numpy() for v in mutable])
            if on_epoch:
                on_epoch(epoch, epochs, row)
        chosen = history[-1]
        if best is not None:
            for variable, value in zip(mutable, best[2], strict=True):
                variable.assign(value)
            chosen = history[best[1] - 1]
        record.best_epoch = int(chosen["epoch"])
        # Evaluation is deterministic, so the chosen epoch's validation metrics are final.
        record.val_loss, record.val_acc = chosen["val_loss"], chosen["val_accuracy"]
        record.test_loss, test_hits = _evaluate(steps, feed.arrays, labels, index["test"])
        record.test_acc = accuracy(test_hits)
        check_finite(record)
        record.val_correct = RunRecord.encode_correct(val_hits[record.best_epoch - 1])
        record.test_correct = RunRecord.encode_correct(test_hits)
    except Exception as exc:
        if not recorded_failure(exc):
            raise
        fail(record, exc)
    record.history = history
    record.epochs_run = len(history)
    record.wall_seconds = round(time.perf_counter() - start, 3)
    return record


def _evaluate(steps: Any, arrays: list[Any], labels: Any, index: Any) -> tuple[float, np.ndarray]:
    """(mean loss, per-example hits) of the examples ``index``, in its order."""
    total, hits = steps.evaluate(arrays, labels, index)
    hits = np.asarray(hits, dtype=bool)
    n = len(hits)
    return (float(np.float32(total) / np.float32(n)) if n else math.nan), hits


def _means(sums: tuple[Any, Any], n: int) -> tuple[float, float]:
    """(mean loss, accuracy) from the (loss sum, hit count) of ``n`` examples."""
    if n == 0:
        return math.nan, math.nan
    # float32 division, as Keras' Mean metric reports it
    count = np.float32(n)
    return float(np.float32(sums[0]) / count), float(np.float32(sums[1]) / count)
