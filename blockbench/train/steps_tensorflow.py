"""The TensorFlow step module: compiled epochs, device arrays and gradients on TensorFlow.

A whole epoch runs inside one ``tf.function`` (optionally XLA-compiled): the
loop over batches, the gather of each batch from full-dataset tensors, the
forward and backward pass and the optimizer update, so Python is not on the
per-batch path. The step is the one ``keras.Model.fit`` performs (categorical
cross-entropy averaged over the batch, ``optimizer.scale_loss`` then
``optimizer.apply``), and the loss and accuracy are accumulated as Keras'
metrics do (sums weighted by batch size).

One optimizer per (fine-tune model, optimizer configuration) is built once on
every variable that can train (:class:`ResettableOptimizer`); a run resets its
state instead of building a new one, so runs with the same trainable layers
(other seeds, other policies) never trace again. Every other module of the
training package is backend-neutral Keras; this module and
:mod:`blockbench.train.steps_jax` offer the same functions
(:mod:`blockbench.train.steps` picks one).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from blockbench.train import optimizers
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
    """The run's optimizer on TensorFlow: :func:`~blockbench.train.optimizers.make_optimizer`.

    Args:
        hparams: the run's hyper-parameters (``optimizer``, ``learning_rate``, ``precision``).
        fused: Adam with fused updates (:func:`fused_adam`); False: Keras' own.
    """
    return optimizers.make_optimizer(hparams, fused_adam() if fused else None)


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
        self.optimizer = optimizer
        self._train_epoch = epoch(train_step)
        self._evaluate = evaluation()

    def train_epoch(self, arrays: list[Any], labels: Any, order: Any) -> tuple[Any, Any]:
        """(loss sum, hit count) of one epoch over ``order`` (example indices, in order)."""
        import tensorflow as tf

        return self._train_epoch(arrays, labels, tf.constant(order, tf.int32))

    def evaluate(self, arrays: list[Any], labels: Any, order: Any) -> tuple[Any, Any]:
        """(loss sum, per-example hits: bool, in the order given) of the examples ``order``."""
        import tensorflow as tf

        return self._evaluate(arrays, labels, tf.constant(order, tf.int32))


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


class _SharedSteps:
    """Compiled epochs of one trainable set, on the optimizer shared by a fine-tune model."""

    def __init__(self, steps: Steps, optimizer: ResettableOptimizer) -> None:
        self.steps, self.optimizer = steps, optimizer
        self.train_epoch, self.evaluate = steps.train_epoch, steps.evaluate

    def reset(self) -> None:
        """Start a run: the optimizer's state as new (the weights are the model's)."""
        self.optimizer.reset()


def build_steps(finetune: FineTuneModel, model: keras.Model, transform: Transform | None,
                hparams: Mapping[str, Any], shared: dict[Hashable, Any]) -> _SharedSteps:
    """Compiled epochs for ``model`` with its currently trainable variables.

    Args:
        finetune: the fine-tune model ``model`` belongs to (owns the shared optimizer).
        model: the model trained (the full network, or a suffix after a cut).
        transform: in-graph map of a batch's gathered inputs, or None.
        hparams: the run's hyper-parameters.
        shared: per-cache state: the optimizers, one per (fine-tune model, configuration).
    """
    key = (id(finetune), *optimizers.optimizer_key(hparams))
    if key not in shared:
        shared[key] = ResettableOptimizer(finetune, hparams, finetune.all_trainable_variables)
    optimizer = shared[key]
    steps = Steps(model, model.trainable_variables, optimizer.optimizer, transform,
                  int(hparams["batch_size"]), bool(hparams.get("xla", False)))
    return _SharedSteps(steps, optimizer)


def to_device(array: np.ndarray) -> Any:
    """``array`` as a tensor on TensorFlow's default device."""
    import tensorflow as tf

    return tf.convert_to_tensor(array)


def forward(model: keras.Model, sources: list[Any], transform: Transform | None,
            batch_size: int) -> list[Any]:
    """``model``'s outputs (inference mode) for every row of ``sources``, in batches."""
    import tensorflow as tf

    single = len(model.inputs) == 1

    def run(xs: list[Any]) -> list[Any]:
        if transform is not None:
            xs = transform(xs)
        out = model(xs[0] if single else xs, training=False)
        return list(out) if isinstance(out, (list, tuple)) else [out]

    # One trace for every batch length, the last (shorter) one included.
    forward_fn = tf.function(functools.partial(run), input_signature=[  # see _LengthGeneric
        [tf.TensorSpec((None, *s.shape[1:]), s.dtype) for s in sources]])
    n = int(sources[0].shape[0])
    chunks: list[list[Any]] = []
    for begin in range(0, n, batch_size):
        chunks.append(forward_fn([s[begin:begin + batch_size] for s in sources]))
    return [tf.concat([c[i] for c in chunks], axis=0) for i in range(len(chunks[0]))]


def gradient_square_sums(model: keras.Model, x: Any, y: Any, variables: Sequence[Any]) -> list[float]:
    """Per variable, the sum of squares of the loss gradient (inference mode; 0 where none)."""
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.CategoricalCrossentropy()
    with tf.GradientTape() as tape:
        loss = loss_fn(tf.convert_to_tensor(y), model(x, training=False))
    grads = tape.gradient(loss, list(variables))
    return [0.0 if g is None else float(tf.reduce_sum(tf.square(g))) for g in grads]


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is TensorFlow running out of device memory."""
    import tensorflow as tf

    return isinstance(exc, tf.errors.ResourceExhaustedError)


def on_gpu() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def enable_determinism() -> None:
    """Deterministic kernels: the same seed gives the same bits."""
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()


def fit_batches(images: np.ndarray, labels: np.ndarray, n_classes: int, orders: list[np.ndarray],
                batch_size: int, preprocess: Callable[[Any], Any]) -> Any:
    """A ``tf.data`` pipeline of the batches of each order in turn, preprocessed, for ``fit``.

    A batch never spans two orders (epochs); images are gathered and preprocessed per batch.
    """
    import tensorflow as tf

    images_t = tf.constant(images)
    onehot = tf.one_hot(labels, n_classes)
    ds = tf.data.Dataset.from_tensor_slices(orders[0]).batch(batch_size)
    for order in orders[1:]:
        ds = ds.concatenate(tf.data.Dataset.from_tensor_slices(order).batch(batch_size))

    def prepare(index: Any) -> tuple[Any, Any]:
        return preprocess(tf.cast(tf.gather(images_t, index), tf.float32)), tf.gather(onehot, index)

    return ds.map(prepare, num_parallel_calls=None).prefetch(2)
