"""Cutting functional models: frontiers across skips and concatenations, rebuilt segments."""

from __future__ import annotations

import numpy as np
import pytest

from blockbench.train.subgraph import CutError, cut, rebuild, segment, single

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def residual():
    """input -> a -> b -> add(a, b) -> c -> concat(add, c) -> d: a skip and a concatenation."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 2))
    a = keras.layers.Conv2D(3, 3, padding="same", name="a")(inputs)
    b = keras.layers.Conv2D(3, 3, padding="same", name="b")(a)
    s = keras.layers.Add(name="add")([a, b])
    c = keras.layers.Conv2D(3, 1, name="c")(s)
    m = keras.layers.Concatenate(name="cat")([s, c])
    d = keras.layers.Conv2D(2, 1, name="d")(m)
    return keras.Model(inputs, d, name="residual")


def _names(c) -> list[str]:
    return [t._keras_history.operation.name for t in c.frontier]


@pytest.mark.parametrize("first, producers", [
    ("a", ["input_layer"]),
    ("b", ["a"]),            # a feeds b and, as the skip, the add
    ("add", ["a", "b"]),     # the skip crosses the cut
    ("c", ["add"]),          # add feeds c and the concatenation
    ("cat", ["add", "c"]),
    ("d", ["cat"]),
    (None, ["d"]),           # after the last layer: the model output
])
def test_frontier_holds_every_tensor_crossing_the_cut(residual, first, producers):
    c = cut(residual, first)
    got = _names(c)
    assert [name.split("_")[0] if name.startswith("input") else name for name in got] == [
        p.split("_")[0] if p.startswith("input") else p for p in producers]
    assert c.position == (len(residual.layers) - 1 if first is None
                          else [lay.name for lay in residual.layers[1:]].index(first))


@pytest.mark.parametrize("first", ["b", "add", "c", "cat", "d", None])
def test_prefix_then_suffix_equals_the_whole_model(residual, first):
    import keras

    x = np.random.default_rng(0).normal(size=(4, 6, 6, 2)).astype("float32")
    c = cut(residual, first)
    prefix = segment(residual, None, c, name="prefix")
    inputs, outputs = rebuild(residual, c.frontier, residual.outputs)
    suffix = keras.Model(single(inputs), single(outputs))
    np.testing.assert_allclose(suffix(prefix(x)), residual(x), rtol=1e-6, atol=1e-6)
    # The suffix re-calls the original layers: it shares (not copies) their weights.
    ids = {id(v) for v in residual.weights}
    assert all(id(v) in ids for v in suffix.weights)


def test_segment_between_two_cuts_chains(residual):
    x = np.random.default_rng(1).normal(size=(3, 6, 6, 2)).astype("float32")
    start, end = cut(residual, "b"), cut(residual, "cat")
    first = segment(residual, None, start, name="p1")
    second = segment(residual, start, end, name="p2")
    direct = segment(residual, None, end, name="p12")
    for got, want in zip(second(first(x)), direct(x), strict=True):  # frontier [add, c]
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_unknown_layer_is_a_clear_error(residual):
    with pytest.raises(CutError, match="'nope' is not in model 'residual'"):
        cut(residual, "nope")


def test_layer_shared_across_the_cut_is_refused():
    import keras

    inputs = keras.Input((4,))
    shared = keras.layers.Dense(4, name="shared")
    h = shared(inputs)
    h = keras.layers.Dense(4, name="mid")(h)
    out = shared(h)  # the same layer again, after "mid"
    model = keras.Model(inputs, out)
    with pytest.raises(CutError, match="shared"):
        cut(model, "mid")
