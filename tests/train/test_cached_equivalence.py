"""Cached, uncached, naive and Keras-fit training give the same results for the same seed.

On every Keras backend: tests/train/test_jax_backend.py reruns this module under JAX.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from blockbench.components.backbone import BackboneFactory, Weights
from blockbench.components.partition import PartitionStrategy
from blockbench.core.task import SplitConfig, Task
from blockbench.train.engine import Engine
from tests.engine_fixtures import components

pytestmark = pytest.mark.tf

HP = {"epochs": 2, "batch_size": 8, "dense_units": 16}


class DropNet(BackboneFactory):
    """Like tiny-net, with a Dropout (EfficientNet's stochastic depth) ending block 0."""

    preprocessing = "unit"
    min_input_size = 8
    default_input_size = 16

    def build(self, weights: Weights, input_size: int, **options: Any) -> Any:
        import keras

        keras.utils.set_random_seed(5)  # "pretrained": the same weights in every build
        inputs = keras.Input((input_size, input_size, 3))
        x = keras.layers.Conv2D(4, 3, padding="same", name="conv0")(inputs)
        x = keras.layers.ReLU(name="relu0")(x)
        x = keras.layers.Dropout(0.5, name="drop0")(x)
        x = keras.layers.Conv2D(4, 3, padding="same", name="conv1")(x)
        x = keras.layers.ReLU(name="relu1")(x)
        return keras.Model(inputs, keras.layers.MaxPooling2D(name="pool")(x), name="dropnet")


class TwoHalves(PartitionStrategy):
    def split(self, model: Any, **params: Any) -> list[list[str]]:
        names = [layer.name for layer in model.layers[1:]]
        return [names[:3], names[3:]]


def _registry():
    registry = components()
    registry.backbones.add("drop-net", DropNet())
    registry.partitions.add("halves", TwoHalves())
    return registry


def _task(**changes: Any) -> Task:
    base = dict(backbone="tiny-net", dataset="blobs", split=SplitConfig(), partition="by-stage",
                weights="none", hparams=HP)
    base.update(changes)
    return Task(**base)


def _runs(registry, task: Task, targets, modes=("uncached", "cached"), seed: int = 0):
    """{(mode, target): (record, weights after training)} from one engine per mode."""
    import keras

    out = {}
    for mode in modes:
        keras.utils.set_random_seed(11)  # weights "none": every engine starts from the same
        problem = Engine(registry, mode=mode).setup(task)
        for target in targets:
            record = problem.train(problem.spec(target, seed=seed))
            out[mode, target] = (record, [v.numpy() for v in problem.finetune.model.weights])
    return out


def _assert_same(a, b, weights: bool = True) -> None:
    (ra, wa), (rb, wb) = a, b
    assert ra.status == rb.status == "ok", (ra.error, rb.error)
    assert (ra.val_acc, ra.test_acc, ra.best_epoch) == (rb.val_acc, rb.test_acc, rb.best_epoch)
    assert (ra.val_correct, ra.test_correct) == (rb.val_correct, rb.test_correct)
    assert ra.test_correct is not None and ra.val_correct is not None
    assert len(ra.history) == len(rb.history)
    for ha, hb in zip(ra.history, rb.history, strict=True):
        assert ha.keys() == hb.keys()
        np.testing.assert_allclose([ha[k] for k in ha], [hb[k] for k in ha], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ra.test_loss, rb.test_loss, rtol=1e-5)
    if weights:
        for x, y in zip(wa, wb, strict=True):
            np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("eval_epoch, modes", [("last", ("keras", "naive", "uncached", "cached")),
                                               ("best-val", ("uncached", "cached"))])
def test_tiny_net_every_target_in_every_mode(eval_epoch, modes):
    targets = ["bl1", "block:1", "block:0", "bl2"]
    task = _task(hparams={**HP, "epochs": 3, "eval_epoch": eval_epoch})
    runs = _runs(components(), task, targets, modes=modes)
    for target in targets:
        for mode in modes[:-1]:  # Keras' fit included (it matches exactly on this tiny net)
            _assert_same(runs[mode, target], runs["cached", target],
                         weights=mode not in ("naive", "keras"))


def test_frozen_dropout_is_off_so_caching_is_exact():
    import keras

    runs = _runs(_registry(), _task(backbone="drop-net", partition="halves"), ["block:1", "bl1"])
    _assert_same(runs["uncached", "block:1"], runs["cached", "block:1"])
    _assert_same(runs["uncached", "bl1"], runs["cached", "bl1"])
    problem = Engine(_registry()).setup(_task(backbone="drop-net", partition="halves"))
    problem.finetune.prepare_run(["conv1", "relu1", "pool"], seed=0)
    x = np.ones((2, 16, 16, 3), "float32")
    backbone = problem.finetune.backbone
    np.testing.assert_array_equal(backbone(x, training=True), backbone(x, training=False))
    problem.finetune.prepare_run(None, seed=0)  # BL2: the dropout trains, so it drops
    keras.utils.set_random_seed(0)
    assert not np.array_equal(backbone(x, training=True), backbone(x, training=False))


def test_runs_sharing_a_prefix_share_activations_and_compiled_epochs():
    engine = Engine(components())
    problem = engine.setup(_task())
    for seed in (0, 1, 2):
        assert problem.train(problem.spec("block:1", seed=seed)).ok
    assert engine.runtime.activations(problem).computed == 1
    assert len(engine.runtime.steps._steps) == 1


def test_mixed_precision_caches_float16_and_matches():
    task = _task(hparams={**HP, "precision": "mixed_float16"})
    runs = _runs(components(), task, ["block:1"])
    _assert_same(runs["uncached", "block:1"], runs["cached", "block:1"])
    engine = Engine(components())
    problem = engine.setup(task)
    problem.train(problem.spec("block:1", seed=0))
    (cached,) = engine.runtime.activations(problem)._entries.values()
    assert [t.dtype.name for t in cached.tensors] == ["float16"]


@pytest.mark.slow
def test_xla_runs_agree_to_tolerance():
    # Under op determinism XLA has no max-pooling gradient, so only BL1 trains here.
    runs = _runs(components(), _task(hparams={**HP, "xla": True}), ["bl1"])
    (a, _), (b, _) = runs["uncached", "bl1"], runs["cached", "bl1"]
    assert a.ok and b.ok, (a.error, b.error)
    np.testing.assert_allclose([h["loss"] for h in a.history], [h["loss"] for h in b.history],
                               rtol=1e-4)


@pytest.mark.slow
def test_mobilenet_v2_blocks_crossed_by_a_skip_connection():
    """A real keras.applications backbone with residual connections, random weights, 32 px."""
    from blockbench.plugin.manager import get_components

    registry = components()
    registry.backbones.add("mobilenet-v2", get_components().backbones.get("mobilenet-v2").factory)
    registry.partitions.add("delimiter", get_components().partitions.get("delimiter").factory)
    task = _task(backbone="mobilenet-v2", backbone_options={"alpha": 0.35}, partition="delimiter",
                 input_size=32)
    problem = Engine(registry).setup(task)
    cache = problem.runtime.activations(problem)
    skips = [b.index for b in problem.partition.blocks if len(cache.cut(b.first_layer).frontier) > 1]
    crossed = skips[0]  # the first block whose boundary a residual connection crosses
    targets = ["bl1", f"block:{crossed}", f"block:{crossed + 1}", f"block:{len(problem.partition) - 1}"]
    runs = _runs(registry, task, targets)
    for target in targets:
        _assert_same(runs["uncached", target], runs["cached", target])
