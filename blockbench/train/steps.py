"""Compiled training and evaluation epochs, reused across runs.

A whole epoch runs inside one ``tf.function`` (optionally XLA-compiled): the
loop over batches, the gather of each batch from full-dataset tensors, the
forward and backward pass and the optimizer update, so Python is not on the
per-batch path. The step is the one ``keras.Model.fit`` performs (categorical
cross-entropy averaged over the batch, ``optimizer.scale_loss`` then
``optimizer.apply``), and the loss and accuracy are accumulated as Keras'
metrics do (sums weighted by batch size).

:class:`StepCache` keeps the compiled functions per (model, trainable layers,
optimizer, batch size, XLA) and one optimizer per (fine-tune model, optimizer
configuration), built once on every variable that can train; a run resets the
optimizer's state instead of building a new one, so runs with the same
trainable layers (other seeds, other policies) never trace again.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from blockbench.train.finetune import FineTuneModel

if TYPE_CHECKING:
    import keras


#: Transform applied inside the graph to the gathered inputs of a batch.
Transform = Callable[[list[Any]], list[Any]]


_FUSED_ADAM: list[type] = []


def fused_adam() -> type:
    """Keras' Adam with each variable's update in one fused TensorFlow kernel.

    ``ResourceApplyAdam`` computes Keras' formula (the same moments and bias
    correction) in one pass over the variable instead of about ten element-wise
    operations, each a pass over memory: 3 to 4 times faster for the
    reference's large Flatten -> Dense(512) head. The result differs from Keras'
    only by floating-point rounding.
    """
    if not _FUSED_ADAM:
        import keras
        import tensorflow as tf

        class FusedAdam(keras.optimizers.Adam):
            def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
                if self.amsgrad or not isinstance(gradient, tf.Tensor):
                    return super().update_step(gradient, variable, learning_rate)
                dtype = variable.dtype
                index = self._get_variable_index(variable)
                step = tf.cast(self.iterations + 1, dtype)
                beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
                if isinstance(variable, keras.Variable):
                    variable = variable.value  # the tf.Variable
                tf.raw_ops.ResourceApplyAdam(
                    var=variable.handle,
                    m=self._momentums[index].value.handle, v=self._velocities[index].value.handle,
                    beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step),
                    lr=tf.cast(learning_rate, dtype), beta1=beta_1, beta2=beta_2,
                    epsilon=tf.cast(self.epsilon, dtype), grad=gradient)
                return None

        _FUSED_ADAM.append(FusedAdam)
    return _FUSED_ADAM[0]


def make_optimizer(hparams: Mapping[str, Any], fused: bool = True) -> Any:
    """The run's optimizer (loss-scaled under mixed precision, as ``compile`` does).

    Args:
        hparams: the run's hyper-parameters (``optimizer``, ``learning_rate``, ``precision``).
        fused: Adam with fused updates (:func:`fused_adam`); False: Keras' own.
    """
    import keras

    name = str(hparams.get("optimizer", "adam")).lower()
    lr = float(hparams.get("learning_rate", 1e-3))
    factories = {
        "adam": fused_adam() if fused else keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "sgd": lambda learning_rate: keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9),
        "rmsprop": keras.optimizers.RMSprop,
    }
    optimizer = factories[name](learning_rate=lr)
    if hparams.get("precision", "float32") == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


class ResettableOptimizer:
    """An optimizer built once on every trainable-capable variable, reset per run."""

    def __init__(self, owner: Any, hparams: Mapping[str, Any], variables: Sequence[Any]) -> None:
        self.owner = owner  # held so that the cache key id(owner) stays unique
        self.optimizer = make_optimizer(hparams)
        self.optimizer.build(list(variables))
        # Most state starts at zero (moments); keep only the other initial values.
        self._initial = []
        for v in self.optimizer.variables:
            value = v.numpy()
            self._initial.append(None if not value.any() else value)

    def reset(self) -> None:
        for v, value in zip(self.optimizer.variables, self._initial, strict=True):
            v.assign(np.zeros(v.shape, v.dtype) if value is None else value)


class Steps:
    """Compiled epoch functions of one model with fixed trainable variables.

    Args:
        model: the model to train (its inputs are the gathered arrays).
        variables: the variables to train.
        optimizer: a built optimizer that knows ``variables``.
        transform: in-graph map of a batch's gathered inputs (e.g. preprocessing), or None.
        batch_size: training and evaluation batch size.
        xla: compile the epochs with XLA.
    """

    def __init__(self, model: keras.Model, variables: Sequence[Any], optimizer: Any,
                 transform: Transform | None, batch_size: int, xla: bool) -> None:
        import keras
        import tensorflow as tf

        loss_fn = keras.losses.CategoricalCrossentropy()
        variables = list(variables)
        single = len(model.inputs) == 1

        def gather(arrays: list[Any], labels: Any, index: Any) -> tuple[Any, Any]:
            xs = [tf.gather(a, index) for a in arrays]
            if transform is not None:
                xs = transform(xs)
            return (xs[0] if single else xs), tf.gather(labels, index)

        def correct(y: Any, p: Any) -> Any:
            hits = tf.equal(tf.argmax(y, axis=-1), tf.argmax(p, axis=-1))
            return tf.reduce_sum(tf.cast(hits, tf.float32))

        def train_step(arrays: list[Any], labels: Any, index: Any) -> tuple[Any, Any]:
            x, y = gather(arrays, labels, index)
            # Watching only what trains keeps frozen layers off the tape (no useless gradient ops).
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch([v.value for v in variables])  # the tf.Variables under Keras' ones
                p = model(x, training=True)
                loss = loss_fn(y, p)
                scaled = optimizer.scale_loss(loss)
            optimizer.apply(tape.gradient(scaled, variables), variables)
            return loss * tf.cast(tf.shape(index)[0], tf.float32), correct(y, p)

        def eval_step(arrays: list[Any], labels: Any, index: Any) -> tuple[Any, Any]:
            x, y = gather(arrays, labels, index)
            p = model(x, training=False)
            hits = tf.equal(tf.argmax(y, axis=-1), tf.argmax(p, axis=-1))
            return loss_fn(y, p) * tf.cast(tf.shape(index)[0], tf.float32), hits

        def epoch(step: Callable[..., tuple[Any, Any]]) -> Callable[..., tuple[Any, Any]]:
            def run_static(arrays: list[Any], labels: Any, order: Any) -> tuple[Any, Any]:
                # XLA needs static shapes: full batches in the loop, the rest after it.
                full, rest = divmod(int(order.shape[0]), batch_size)
                total, hits = tf.constant(0.0), tf.constant(0.0)
                if full:
                    for b in tf.range(full):
                        index = tf.slice(order, [b * batch_size], [batch_size])
                        loss, ok = step(arrays, labels, index)
                        total, hits = total + loss, hits + ok
                if rest:
                    loss, ok = step(arrays, labels, order[full * batch_size:])
                    total, hits = total + loss, hits + ok
                return total, hits

            def run_dynamic(arrays: list[Any], labels: Any, order: Any) -> tuple[Any, Any]:
                # One traced step for every batch length, and one trace for every split size.
                n = tf.shape(order)[0]
                total, hits = tf.constant(0.0), tf.constant(0.0)
                for b in tf.range((n + batch_size - 1) // batch_size):
                    index = order[b * batch_size:tf.minimum((b + 1) * batch_size, n)]
                    loss, ok = step(arrays, labels, index)
                    total, hits = total + loss, hits + ok
                return total, hits

            if xla:
                return tf.function(functools.partial(run_static), jit_compile=True)
            return _LengthGeneric(run_dynamic)

        def evaluation() -> Callable[..., tuple[Any, Any]]:
            # Like epoch(), but keeping every example's hit (in the order given), not their count.
            def run_static(arrays: list[Any], labels: Any, order: Any) -> tuple[Any, Any]:
                full, rest = divmod(int(order.shape[0]), batch_size)
                total, parts = tf.constant(0.0), []
                if full:
                    batches = tf.TensorArray(tf.bool, size=full, element_shape=[batch_size])
                    for b in tf.range(full):
                        index = tf.slice(order, [b * batch_size], [batch_size])
                        loss, ok = eval_step(arrays, labels, index)
                        total, batches = total + loss, batches.write(b, ok)
                    parts.append(tf.reshape(batches.stack(), [-1]))
                if rest:
                    loss, ok = eval_step(arrays, labels, order[full * batch_size:])
                    total = total + loss
                    parts.append(ok)
                return total, tf.concat(parts, 0) if parts else tf.zeros([0], tf.bool)

            def run_dynamic(arrays: list[Any], labels: Any, order: Any) -> tuple[Any, Any]:
                n = tf.shape(order)[0]
                total = tf.constant(0.0)
                batches = tf.TensorArray(tf.bool, size=0, dynamic_size=True, infer_shape=False,
                                         element_shape=[None])
                for b in tf.range((n + batch_size - 1) // batch_size):
                    index = order[b * batch_size:tf.minimum((b + 1) * batch_size, n)]
                    loss, ok = eval_step(arrays, labels, index)
                    total, batches = total + loss, batches.write(b, ok)
                # One element more than the batches, so that no split is an empty array.
                batches = batches.write(batches.size(), tf.zeros([0], tf.bool))
                return total, batches.concat()

            if xla:
                return tf.function(functools.partial(run_static), jit_compile=True)
            return _LengthGeneric(run_dynamic)

        self.model = model
        self.train_epoch = epoch(train_step)
        #: (loss sum, per-example hits: bool, in the order given) of the examples given.
        self.evaluate = evaluation()


class _LengthGeneric:
    """A tf.function traced once, whatever the number of examples and the length of the order."""

    def __init__(self, fn: Callable[..., tuple[Any, Any]]) -> None:
        self.fn = fn
        self.compiled: Any = None

    def __call__(self, arrays: list[Any], labels: Any, order: Any) -> tuple[Any, Any]:
        import tensorflow as tf

        if self.compiled is None:
            spec = [[tf.TensorSpec((None, *a.shape[1:]), a.dtype) for a in arrays],
                    tf.TensorSpec((None, *labels.shape[1:]), labels.dtype),
                    tf.TensorSpec([None], tf.int32)]
            # Wrapped in a partial: TensorFlow counts traces per code object across all
            # instances and would warn about "retracing" when many blocks each trace once.
            self.compiled = tf.function(functools.partial(self.fn), input_signature=spec)
        return self.compiled(arrays, labels, order)


class StepCache:
    """Optimizers and compiled epochs kept across the runs of a process.

    Args:
        max_entries: compiled function sets kept (least recently used dropped first).
    """

    def __init__(self, max_entries: int = 64) -> None:
        self.max_entries = max_entries
        self._optimizers: dict[Hashable, ResettableOptimizer] = {}
        self._steps: OrderedDict[Hashable, Steps] = OrderedDict()

    def get(self, finetune: FineTuneModel, model: keras.Model, transform: Transform | None,
            transform_key: Hashable, hparams: Mapping[str, Any]) -> Steps:
        """Steps for ``model`` with the currently trainable layers; the optimizer is reset."""
        opt_key = (id(finetune), str(hparams.get("optimizer", "adam")).lower(),
                   float(hparams.get("learning_rate", 1e-3)), hparams.get("precision", "float32"))
        if opt_key not in self._optimizers:
            self._optimizers[opt_key] = ResettableOptimizer(
                finetune, hparams, finetune.all_trainable_variables)
        optimizer = self._optimizers[opt_key]
        optimizer.reset()
        trained = tuple(sorted(layer.name for layer in finetune.trained_layers()))
        key = (opt_key, id(model), transform_key, trained, int(hparams["batch_size"]),
               bool(hparams.get("xla", False)))
        steps = self._steps.get(key)
        if steps is None:
            steps = Steps(model, model.trainable_variables, optimizer.optimizer, transform,
                          int(hparams["batch_size"]), bool(hparams.get("xla", False)))
            self._steps[key] = steps
            while len(self._steps) > self.max_entries:
                self._steps.popitem(last=False)
        self._steps.move_to_end(key)
        return steps
