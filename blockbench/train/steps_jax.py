"""The JAX step module: compiled epochs, device arrays and gradients on JAX.

The same protocol as :mod:`blockbench.train.steps_tensorflow`, written with
Keras' stateless API: ``model.stateless_call`` for the forward pass,
``jax.value_and_grad`` for the gradients and ``optimizer.stateless_apply``
for the update, all inside ``jax.jit``. The model's variables are read at
the start of every epoch and written back at its end, so everything outside
the epoch (the best-validation snapshot, gradient-rank, the next run's reset)
sees ordinary Keras variables.

Compilation happens once per (model, trainable set, optimizer, batch size):
on an accelerator an epoch is one compiled program, a ``lax.scan`` over the
full batches and one step on the last, shorter batch (its length is the
training split's, so it never changes across epochs, seeds or policies); on
CPU each batch is a call of the compiled step (see :func:`epoch_loop`). Evaluation compiles one
batch function: the last batch is padded to the batch size and the padding
masked out (in inference mode no example affects another, so padding changes
nothing). Everything runs under XLA, so the ``xla`` hyper-parameter changes
nothing here. The optimizer is built on exactly the variables that train and
its initial state is kept, so a run starts from that state without a new
build or trace. Dropout's seed state is a non-trainable variable, carried
through the steps and written back like BatchNormalization's statistics.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from blockbench.core.errors import UsageError
from blockbench.train import optimizers
from blockbench.train.finetune import FineTuneModel

if TYPE_CHECKING:
    import keras

#: Transform applied inside the compiled program to the gathered inputs of a batch.
Transform = Callable[[list[Any]], list[Any]]


def _values(variables: Sequence[Any]) -> list[Any]:
    return [v.value for v in variables]


class Steps:
    """Compiled epoch functions of one model with its currently trainable variables.

    Args:
        model: the model to train (its inputs are the gathered arrays).
        hparams: the run's hyper-parameters (optimizer, learning rate, precision, batch size).
        transform: in-graph map of a batch's gathered inputs (e.g. preprocessing), or None.
    """

    def __init__(self, model: keras.Model, hparams: Mapping[str, Any],
                 transform: Transform | None) -> None:
        import jax
        import jax.numpy as jnp
        import keras

        self.model = model
        self.batch_size = int(hparams["batch_size"])
        self.trainable = list(model.trainable_variables)
        self.non_trainable = list(model.non_trainable_variables)
        optimizer = optimizers.make_optimizer(hparams)
        optimizer.build(self.trainable)
        self.optimizer = optimizer
        self._initial = [jnp.array(v.value) for v in optimizer.variables]
        self._state: list[Any] = list(self._initial)
        loss_fn = keras.losses.CategoricalCrossentropy()
        single = len(model.inputs) == 1

        def gather(arrays: list[Any], labels: Any, index: Any) -> tuple[Any, Any]:
            xs = [jnp.take(a, index, axis=0) for a in arrays]
            if transform is not None:
                xs = transform(xs)
            return (xs[0] if single else xs), jnp.take(labels, index, axis=0)

        def hits_of(y: Any, p: Any) -> Any:
            return jnp.argmax(y, axis=-1) == jnp.argmax(p, axis=-1)

        def loss_and_updates(tv: list[Any], ntv: list[Any], ov: list[Any], x: Any,
                             y: Any) -> tuple[Any, tuple[Any, Any, list[Any]]]:
            p, ntv = model.stateless_call(tv, ntv, x, training=True)
            loss = loss_fn(y, p)
            # The dynamic loss scale (mixed precision) is an optimizer variable.
            with keras.StatelessScope(state_mapping=list(zip(optimizer.variables, ov,
                                                             strict=True))):
                scaled = optimizer.scale_loss(loss)
            return scaled, (loss, p, ntv)

        grad_fn = jax.value_and_grad(loss_and_updates, has_aux=True)

        def train_step(state: tuple[Any, Any, Any], arrays: list[Any], labels: Any,
                       index: Any) -> tuple[tuple[Any, Any, Any], Any, Any]:
            tv, ntv, ov = state
            x, y = gather(arrays, labels, index)
            (_, (loss, p, ntv)), grads = grad_fn(tv, ntv, ov, x, y)
            tv, ov = optimizer.stateless_apply(ov, grads, tv)
            n = jnp.float32(index.shape[0])
            return (tv, ntv, ov), loss * n, jnp.sum(hits_of(y, p).astype(jnp.float32))

        def epoch(state: tuple[Any, Any, Any], arrays: list[Any], labels: Any, full: Any,
                  rest: Any) -> tuple[tuple[Any, Any, Any], Any, Any]:
            def body(carry: Any, index: Any) -> tuple[Any, None]:
                state, total, hits = carry
                state, loss, ok = train_step(state, arrays, labels, index)
                return (state, total + loss, hits + ok), None

            zero = jnp.float32(0.0)
            (state, total, hits), _ = jax.lax.scan(body, (state, zero, zero), full)
            if rest.shape[0]:
                state, loss, ok = train_step(state, arrays, labels, rest)
                total, hits = total + loss, hits + ok
            return state, total, hits

        def eval_batch(tv: list[Any], ntv: list[Any], arrays: list[Any], labels: Any,
                       index: Any, valid: Any) -> tuple[Any, Any]:
            x, y = gather(arrays, labels, index)
            p, _ = model.stateless_call(tv, ntv, x, training=False)
            losses = keras.losses.categorical_crossentropy(y, p)
            return jnp.sum(jnp.where(valid, losses, 0.0)), hits_of(y, p)

        self._epoch = jax.jit(epoch)
        self._step = jax.jit(train_step)
        self._eval_batch = jax.jit(eval_batch)
        self.scan = epoch_loop() == "scan"

    def reset(self) -> None:
        """Start a run: the optimizer's state as new (the weights are the model's)."""
        self._state = list(self._initial)

    def train_epoch(self, arrays: list[Any], labels: Any, order: Any) -> tuple[Any, Any]:
        """(loss sum, hit count) of one epoch over ``order`` (example indices, in order)."""
        order = np.asarray(order, np.int32)
        full = len(order) // self.batch_size * self.batch_size
        state = (_values(self.trainable), _values(self.non_trainable), self._state)
        if self.scan:
            (tv, ntv, ov), total, hits = self._epoch(
                state, arrays, labels, order[:full].reshape(-1, self.batch_size), order[full:])
        else:
            total, hits = 0.0, 0.0
            for begin in range(0, len(order), self.batch_size):
                state, loss, ok = self._step(state, arrays, labels,
                                             order[begin:begin + self.batch_size])
                total, hits = total + loss, hits + ok
            tv, ntv, ov = state
        for variable, value in zip(self.trainable, tv, strict=True):
            variable.assign(value)
        for variable, value in zip(self.non_trainable, ntv, strict=True):
            variable.assign(value)
        self._state = list(ov)
        return total, hits

    def evaluate(self, arrays: list[Any], labels: Any, order: Any) -> tuple[Any, Any]:
        """(loss sum, per-example hits: bool, in the order given) of the examples ``order``."""
        import jax.numpy as jnp

        order = np.asarray(order, np.int32)
        n, size = len(order), self.batch_size
        padded = np.zeros(-(-n // size) * size, np.int32)
        padded[:n] = order
        valid = np.arange(len(padded)) < n
        tv, ntv = _values(self.trainable), _values(self.non_trainable)
        total, parts = jnp.float32(0.0), list[Any]()
        for begin in range(0, len(padded), size):
            loss, hits = self._eval_batch(tv, ntv, arrays, labels, padded[begin:begin + size],
                                          valid[begin:begin + size])
            total = total + loss
            parts.append(hits)
        hits = np.concatenate([np.asarray(h) for h in parts])[:n] if parts else np.zeros(0, bool)
        return total, hits


def epoch_loop() -> str:
    """How an epoch loops over its batches: ``scan`` (one program) or ``steps`` (one call each).

    ``$BLOCKBENCH_JAX_EPOCH`` decides if set; else ``scan`` on accelerators,
    where it saves a dispatch per batch, and ``steps`` on CPU, where XLA runs
    a training step about ten times slower inside a loop than on its own.
    """
    import jax

    choice = os.environ.get("BLOCKBENCH_JAX_EPOCH", "").strip().lower()
    if choice in ("scan", "steps"):
        return choice
    if choice:
        raise UsageError(f"BLOCKBENCH_JAX_EPOCH={choice!r} is not valid; use scan or steps")
    return "steps" if jax.default_backend() == "cpu" else "scan"


def build_steps(finetune: FineTuneModel, model: keras.Model, transform: Transform | None,
                hparams: Mapping[str, Any], shared: dict[Hashable, Any]) -> Steps:
    """Compiled epochs for ``model`` with its currently trainable variables.

    Args:
        finetune: the fine-tune model ``model`` belongs to (unused: each trainable
            set has its own optimizer here).
        model: the model trained (the full network, or a suffix after a cut).
        transform: in-graph map of a batch's gathered inputs, or None.
        hparams: the run's hyper-parameters.
        shared: per-cache state (unused on JAX).
    """
    return Steps(model, hparams, transform)


def to_device(array: np.ndarray) -> Any:
    """``array`` on JAX's default device."""
    import jax

    return jax.device_put(array)


def forward(model: keras.Model, sources: list[Any], transform: Transform | None,
            batch_size: int) -> list[Any]:
    """``model``'s outputs (inference mode) for every row of ``sources``, in batches.

    The last batch is padded to ``batch_size`` (and the padding dropped), so
    the forward pass compiles once.
    """
    import jax
    import jax.numpy as jnp

    single = len(model.inputs) == 1

    def run(tv: list[Any], ntv: list[Any], xs: list[Any]) -> list[Any]:
        if transform is not None:
            xs = transform(xs)
        out, _ = model.stateless_call(tv, ntv, xs[0] if single else xs, training=False)
        return list(out) if isinstance(out, (list, tuple)) else [out]

    compiled = jax.jit(run)
    tv, ntv = _values(model.trainable_variables), _values(model.non_trainable_variables)
    n = int(sources[0].shape[0])
    chunks: list[list[Any]] = []
    for begin in range(0, n, batch_size):
        batch = [s[begin:begin + batch_size] for s in sources]
        short = batch_size - int(batch[0].shape[0])
        if short:
            batch = [jnp.concatenate([b, jnp.zeros((short, *b.shape[1:]), b.dtype)]) for b in batch]
        out = compiled(tv, ntv, batch)
        chunks.append([o[:batch_size - short] for o in out] if short else out)
    return [jnp.concatenate([c[i] for c in chunks], axis=0) for i in range(len(chunks[0]))]


def gradient_square_sums(model: keras.Model, x: Any, y: Any, variables: Sequence[Any]) -> list[float]:
    """Per variable, the sum of squares of the loss gradient (inference mode; 0 where none)."""
    import jax
    import jax.numpy as jnp
    import keras

    loss_fn = keras.losses.CategoricalCrossentropy()
    trainable = list(model.trainable_variables)
    ntv = _values(model.non_trainable_variables)

    def loss(tv: list[Any]) -> Any:
        p, _ = model.stateless_call(tv, ntv, jnp.asarray(x), training=False)
        return loss_fn(jnp.asarray(y), p)

    grads = jax.grad(loss)(_values(trainable))
    by_id = {id(v): g for v, g in zip(trainable, grads, strict=True)}
    return [float(jnp.sum(jnp.square(by_id[id(v)]))) if id(v) in by_id else 0.0
            for v in variables]


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is XLA running out of device memory."""
    import jax

    return isinstance(exc, jax.errors.JaxRuntimeError) and "RESOURCE_EXHAUSTED" in str(exc)


def on_gpu() -> bool:
    import jax

    return any(d.platform == "gpu" for d in jax.devices())


def enable_determinism() -> None:
    """Deterministic GPU kernels, as TensorFlow's op determinism gives (no-op on CPU).

    XLA reads the flag when its GPU client starts, at the first computation,
    so this has to run before anything is computed.
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_gpu_deterministic_ops" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_gpu_deterministic_ops=true".strip()


def fit_batches(images: np.ndarray, labels: np.ndarray, n_classes: int, orders: list[np.ndarray],
                batch_size: int, preprocess: Callable[[Any], Any]) -> Any:
    """A ``keras.utils.PyDataset`` of the batches of each order in turn, preprocessed, for ``fit``.

    A batch never spans two orders (epochs); images are gathered and preprocessed per batch.
    """
    import keras

    onehot = np.eye(n_classes, dtype="float32")[labels]
    batches = [order[i:i + batch_size] for order in orders
               for i in range(0, len(order), batch_size)]

    class Batches(keras.utils.PyDataset):
        def __len__(self) -> int:
            return len(batches)

        def __getitem__(self, i: int) -> tuple[Any, Any]:
            index = batches[i]
            return preprocess(images[index].astype("float32")), onehot[index]

    return Batches()
