"""Compiled epochs and optimizers: fused Adam, resets between runs, the epoch loop."""

from __future__ import annotations

import numpy as np
import pytest

from blockbench.core.errors import UsageError
from blockbench.core.spec import OPTIMIZERS
from blockbench.train import steps_jax, steps_tensorflow
from blockbench.train.steps import STEP_FUNCTIONS
from blockbench.train.steps_tensorflow import ResettableOptimizer, Steps, fused_adam, make_optimizer

pytestmark = pytest.mark.tf


def _variables():
    import keras

    rng = np.random.default_rng(0)
    return [keras.Variable(rng.normal(size=(64, 8)).astype("float32")),
            keras.Variable(np.zeros(8, "float32"))]


def test_fused_adam_follows_keras_adam_to_rounding():
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(1)
    grads = [[tf.constant(rng.normal(size=s).astype("float32")) for s in ((64, 8), (8,))]
             for _ in range(20)]
    finals = []
    for cls in (keras.optimizers.Adam, fused_adam()):
        variables = _variables()
        optimizer = cls(learning_rate=1e-2)
        for g in grads:
            optimizer.apply(g, variables)
        finals.append([v.numpy() for v in variables])
    for a, b in zip(*finals, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.array_equal(finals[0][0], _variables()[0].numpy())  # it did train


def test_reset_optimizer_is_a_fresh_one():
    import tensorflow as tf

    variables = _variables()
    resettable = ResettableOptimizer(object(), {"optimizer": "adam"}, variables)
    before = [v.numpy() for v in resettable.optimizer.variables]
    resettable.optimizer.apply([tf.ones((64, 8)), tf.ones(8)], variables)
    assert int(resettable.optimizer.iterations) == 1
    resettable.reset()
    for v, value in zip(resettable.optimizer.variables, before, strict=True):
        np.testing.assert_array_equal(v.numpy(), value)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_the_hparams_accept_is_built(name):
    # complete_hparams refuses any other name (tests/core/test_task.py); each it accepts is made.
    optimizer = make_optimizer({"optimizer": name, "learning_rate": 0.01})
    assert float(optimizer.learning_rate) == pytest.approx(0.01)


@pytest.mark.parametrize("xla", [False, True])
def test_an_epoch_visits_every_example_once_in_batches(xla):
    import keras
    import tensorflow as tf

    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    optimizer = make_optimizer({})
    optimizer.build(model.trainable_variables)
    steps = Steps(model, model.trainable_variables, optimizer, None, batch_size=4, xla=xla)
    x = tf.constant(np.random.default_rng(0).normal(size=(11, 3)), tf.float32)
    labels = tf.one_hot(np.arange(11) % 2, 2)
    loss, hits = steps.evaluate([x], labels, tf.constant(np.arange(11), tf.int32))
    p = model(x).numpy()
    expected = -np.log(np.clip(p[np.arange(11), np.arange(11) % 2], 1e-7, 1)).sum()
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)
    np.testing.assert_array_equal(hits.numpy(), p.argmax(1) == np.arange(11) % 2)
    order = np.array([10, 3, 7, 0, 5], np.int32)  # per-example hits follow the order given
    _, some = steps.evaluate([x], labels, tf.constant(order))
    np.testing.assert_array_equal(some.numpy(), hits.numpy()[order])
    _, none = steps.evaluate([x], labels, tf.constant(np.zeros(0, np.int32)))
    assert none.shape == (0,)
    steps.train_epoch([x], labels, tf.constant(np.arange(11)[::-1].copy(), tf.int32))
    assert int(optimizer.iterations) == 3  # batches of 4, 4 and 3


@pytest.mark.parametrize("module", [steps_tensorflow, steps_jax], ids=["tensorflow", "jax"])
def test_every_step_module_offers_the_same_functions(module):
    missing = [name for name in STEP_FUNCTIONS if not callable(getattr(module, name, None))]
    assert not missing


def test_a_bad_jax_epoch_loop_is_one_line(monkeypatch):
    pytest.importorskip("jax")
    monkeypatch.setenv("BLOCKBENCH_JAX_EPOCH", "unrolled")
    with pytest.raises(UsageError, match="BLOCKBENCH_JAX_EPOCH='unrolled' is not valid; use scan or steps"):
        steps_jax.epoch_loop()
    monkeypatch.setenv("BLOCKBENCH_JAX_EPOCH", "scan")
    assert steps_jax.epoch_loop() == "scan"
    monkeypatch.delenv("BLOCKBENCH_JAX_EPOCH")
    assert steps_jax.epoch_loop() == "steps"  # on this CPU
