"""The activation cache: exact values, reuse, incremental computation, the memory budget."""

from __future__ import annotations

import numpy as np
import pytest

from blockbench.data.preprocessing import preprocess
from blockbench.train.activations import ActivationCache, default_budget
from blockbench.train.subgraph import segment

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def backbone():
    """conv -> bn -> relu -> conv -> add(skip) -> pool, at 8 x 8."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    a = keras.layers.Conv2D(4, 3, padding="same", name="conv0")(inputs)
    a = keras.layers.BatchNormalization(name="bn0")(a)
    a = keras.layers.ReLU(name="relu0")(a)
    b = keras.layers.Conv2D(4, 3, padding="same", name="conv1")(a)
    s = keras.layers.Add(name="add")([a, b])
    out = keras.layers.MaxPooling2D(name="pool")(s)
    return keras.Model(inputs, out, name="skipnet")


@pytest.fixture
def images() -> np.ndarray:
    images = np.random.default_rng(0).integers(0, 256, size=(10, 8, 8, 3), dtype=np.uint8)
    images.flags.writeable = False
    return images


def _unit(x):
    return preprocess(x, "unit")


def _direct(backbone, cache, images, first):
    """The cut's frontier computed in one pass from the images, without the cache."""
    model = segment(backbone, None, cache.cut(first), name="direct")
    out = model(images.astype("float32") / 255.0, training=False)
    return [np.asarray(t) for t in (out if isinstance(out, list) else [out])]


@pytest.mark.parametrize("first", ["relu0", "conv1", "add", "pool", None])
def test_activations_equal_the_prefix_forward_pass(backbone, images, first):
    cache = ActivationCache(backbone, batch_size=3)  # several batches, a shorter last one
    got = cache.get(images, _unit, "unit", first)
    for g, want in zip(got, _direct(backbone, cache, images, first), strict=True):
        # Graph (cache) and eager (here) execution may round differently.
        np.testing.assert_allclose(np.asarray(g), want, rtol=1e-5, atol=1e-6)
    assert [tuple(t.shape) for t in got] == [(10, *f.shape[1:]) for f in cache.cut(first).frontier]


def test_a_cut_is_computed_once_and_reused(backbone, images):
    cache = ActivationCache(backbone)
    first = cache.get(images, _unit, "unit", "conv1")
    again = cache.get(images, _unit, "unit", "conv1")
    assert cache.computed == 1 and again is first
    cache.get(images, _unit, "tf", "conv1")  # another preprocessing is another key
    assert cache.computed == 2


def test_later_cuts_are_computed_from_the_nearest_cached_one(backbone, images, monkeypatch):
    cache = ActivationCache(backbone)
    cache.get(images, _unit, "unit", "conv1")
    starts = []
    original = cache._compute
    monkeypatch.setattr(cache, "_compute", lambda im, pre, start, target: (
        starts.append(start.cut.first if start else None), original(im, pre, start, target))[1])
    got = cache.get(images, _unit, "unit", "add")  # frontier [a, b]: the skip a passes through
    assert starts == ["conv1"]
    assert got[0] is cache.get(images, _unit, "unit", "conv1")[0]  # passed through, not copied
    for g, want in zip(got, _direct(backbone, cache, images, "add"), strict=True):
        np.testing.assert_allclose(np.asarray(g), want, rtol=1e-6, atol=1e-6)


def test_budget_evicts_least_recently_used_and_refuses_what_cannot_fit(backbone, images):
    probe = ActivationCache(backbone)
    one = probe.frontier_bytes(probe.cut("conv1"), len(images))  # 10 x 8 x 8 x 4 float32
    cache = ActivationCache(backbone, budget_bytes=one)
    assert cache.get(images, _unit, "unit", "conv1") is not None
    assert cache.get(images, _unit, "unit", "add") is None  # two tensors: over the budget
    assert cache.get(images, _unit, "unit", None) is not None  # pooled: fits, evicts conv1
    assert cache.nbytes <= one
    cache.get(images, _unit, "unit", "conv1")
    assert cache.computed == 3  # conv1 had been evicted: computed again


def test_default_budget_is_bounded():
    assert 0 < default_budget() <= 8 << 30
