"""Profiles for the engine benchmark: where a run's time goes, and what bounds BL1.

:func:`run_breakdown` splits a cold engine run (activations computed, epochs
compiled) from a warm one (both reused) and from the naive run; the
difference is the one-time work. :func:`head_profile` times the pieces of a
BL1 step on cached features: the head's forward and backward pass, and
Adam's update of its parameters, which for the reference's Flatten ->
Dense(512) head is proportional to the feature count and independent of the
batch.
"""

from __future__ import annotations

import itertools
import statistics
import time
from typing import Any

STEPS = 50


def _epochs(ends: list[float]) -> tuple[float, float]:
    """(first epoch incl. everything before it, median later epoch) from epoch end times."""
    later = [b - a for a, b in itertools.pairwise(ends)]
    return ends[0], statistics.median(later) if later else float("nan")


def run_breakdown(pair: dict[str, Any], warm: Any) -> dict[str, float]:
    """Seconds of a naive run, a cold engine run and a warm engine run of the same target."""
    naive, cold = pair["naive"], pair["engine"]
    n_first, n_epoch = _epochs(naive.epoch_ends)
    c_first, _c_epoch = _epochs(cold.epoch_ends)
    w_first, w_epoch = _epochs(warm.epoch_ends)
    return {
        "naive_total_s": round(naive.seconds, 2),
        "naive_first_epoch_incl_build_and_trace_s": round(n_first, 2),
        "naive_epoch_s": round(n_epoch, 3),
        "engine_cold_total_s": round(cold.seconds, 2),
        "engine_cold_first_epoch_incl_activations_and_trace_s": round(c_first, 2),
        "engine_warm_total_s": round(warm.seconds, 2),
        "engine_warm_first_epoch_s": round(w_first, 3),
        "engine_epoch_s": round(w_epoch, 3),
        "one_time_work_s": round(cold.seconds - warm.seconds, 2),
    }


def head_profile(problem: Any, batch: int = 24, repeats: int = 3) -> dict[str, Any]:
    """Milliseconds per BL1 step on cached features: forward+backward, Adam update, both.

    The update is timed with the engine's fused Adam and with Keras' own.
    """
    import keras
    import numpy as np
    import tensorflow as tf

    from blockbench.train.steps_tensorflow import make_optimizer

    finetune = problem.finetune
    cache = problem.runtime.activations(problem)
    model = finetune.model_after(cache.cut(None))
    finetune.prepare_run([], seed=0)
    variables = model.trainable_variables
    rng = np.random.default_rng(0)
    x = tf.constant(np.abs(rng.normal(size=(batch, *model.inputs[0].shape[1:]))), tf.float32)
    y = tf.one_hot(rng.integers(0, problem.data.n_classes, batch), problem.data.n_classes)
    loss_fn = keras.losses.CategoricalCrossentropy()

    def grads() -> list[Any]:
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        return tape.gradient(loss, variables)

    @tf.function
    def forward_backward() -> Any:
        total = tf.constant(0.0)
        for _ in tf.range(STEPS):
            total += tf.add_n([tf.reduce_sum(g) for g in grads()])
        return total

    fixed = [tf.constant(g) for g in grads()]
    functions = {"forward_backward": forward_backward}
    for name, fused in (("fused_adam", True), ("keras_adam", False)):
        optimizer = make_optimizer({"optimizer": "adam"}, fused=fused)
        optimizer.build(variables)
        functions[f"{name}_update"] = _loop(lambda o=optimizer: o.apply(fixed, variables))
        functions[f"{name}_full_step"] = _loop(lambda o=optimizer: o.apply(grads(), variables))
    timings: dict[str, Any] = {}
    for name, fn in functions.items():
        fn()  # trace
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            fn().numpy()
            best = min(best, time.perf_counter() - start)
        timings[f"{name}_ms_per_step"] = round(1000 * best / STEPS, 3)
    finetune.prepare_run([], seed=0)
    timings["head_parameters"] = int(sum(int(np.prod(v.shape)) for v in variables))
    timings["features"] = int(np.prod(model.inputs[0].shape[1:]))
    timings["fused_adam_share_of_step"] = round(timings["fused_adam_update_ms_per_step"]
                                                / timings["fused_adam_full_step_ms_per_step"], 2)
    return timings


def _loop(body: Any) -> Any:
    """A tf.function running ``body`` STEPS times."""
    import tensorflow as tf

    @tf.function
    def run() -> Any:
        for _ in tf.range(STEPS):
            body()
        return tf.constant(0)

    return run
