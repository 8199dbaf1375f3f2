"""RegNetX002/X004 for Keras 3 against tf-keras's own RegNet, offline.

tf-keras builds each reference model (with every weight randomised, so that a layer
loaded out of order would show), saves it in the legacy HDF5 format of the official
ImageNet files and runs it on a fixed input; it does so in a subprocess so that the
two Keras versions never share a process. The Keras 3 port must load that file
unchanged and give the same output.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from blockbench_plugins import regnet

from blockbench.core.errors import UsageError

SIZE = 64
# (variant, include_top): both no-top backbones, and the classifier once.
CASES = [("regnetx002", False), ("regnetx004", False), ("regnetx002", True)]

_REFERENCE_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    from tf_keras.applications import regnet

    out, size, cases = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (2, size, size, 3)).astype("float32")
    np.save(os.path.join(out, "images.npy"), images)
    for variant, include_top in cases:
        build = getattr(regnet, "RegNetX" + variant[-3:])
        model = build(include_top=include_top, weights=None, input_shape=(size, size, 3))
        # Kernels keep their random he_normal values; BN statistics and biases (1-D)
        # get random values too, so that two same-shaped layers swapped would show.
        model.set_weights([w if w.ndim > 1 else rng.uniform(0.5, 1.5, w.shape).astype("float32")
                           for w in model.get_weights()])
        tag = f"{variant}_{'top' if include_top else 'notop'}"
        model.save_weights(os.path.join(out, tag + ".h5"))
        np.save(os.path.join(out, tag + ".npy"), model.predict(images, verbose=0))
        layers = [[type(l).__name__, l.name, [list(w.shape) for w in l.weights]]
                  for l in model.layers]
        with open(os.path.join(out, tag + ".json"), "w") as f:
            json.dump(layers, f)
    """
)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with tf-keras's weight files, outputs and layer lists for ``CASES``."""
    if importlib.util.find_spec("tf_keras") is None:
        pytest.skip("tf_keras is not installed (pip install -e '.[dev]'): no reference RegNet")
    out = tmp_path_factory.mktemp("regnet_reference")
    args = [str(out), str(SIZE), json.dumps(CASES)]
    done = subprocess.run(
        [sys.executable, "-c", _REFERENCE_SCRIPT, *args], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def _weighted(layers: list[tuple[str, str, list[list[int]]]]) -> list[tuple[str, list]]:
    return [(name, shapes) for _, name, shapes in layers if shapes]


def _names(layers: list[tuple[str, str, list[list[int]]]], skip_kinds: set[str]) -> list[str]:
    return [name for kind, name, _ in layers if kind not in skip_kinds]


def _layer_list(model: Any) -> list[tuple[str, str, list[list[int]]]]:
    return [
        (type(layer).__name__, layer.name, [list(w.shape) for w in layer.weights])
        for layer in model.layers
    ]


@pytest.mark.tf
@pytest.mark.slow
@pytest.mark.parametrize(("variant", "include_top"), CASES)
def test_loads_tf_keras_weight_file_unchanged(
    reference: Path, variant: str, include_top: bool
) -> None:
    import numpy as np

    tag = f"{variant}_{'top' if include_top else 'notop'}"
    expected_layers = [tuple(x) for x in json.loads((reference / f"{tag}.json").read_text())]
    build = getattr(regnet, "RegNetX" + variant[-3:])
    model = build(
        include_top=include_top,
        weights=str(reference / f"{tag}.h5"),
        input_shape=(SIZE, SIZE, 3),
        classifier_activation=None,
    )
    layers = _layer_list(model)

    if include_top:
        # tf-keras names its head from a process-wide counter ("1_head_gap", "1head_dense").
        *body, (gap, gap_name, _), (dense, dense_name, dense_shapes) = expected_layers
        assert gap_name.endswith("_head_gap") and dense_name.endswith("head_dense")
        expected_layers = [
            *body,
            (gap, f"{variant}_head_gap", []),
            (dense, f"{variant}_head_dense", dense_shapes),
        ]
    assert _names(layers, {"InputLayer", "Add"}) == _names(
        expected_layers, {"InputLayer", "TFOpLambda"}
    )
    assert len(_names(layers, {"InputLayer"})) == len(_names(expected_layers, {"InputLayer"}))
    assert _weighted(layers) == _weighted(expected_layers)
    assert f"{variant}_Stage_0_XBlock_0_skip_bn" in _names(layers, set())

    images = np.load(reference / "images.npy")
    expected = np.load(reference / f"{tag}.npy")
    assert np.isfinite(expected).all() and np.abs(expected).max() > 0
    got = np.asarray(model.predict(images, verbose=0))
    assert got.shape == expected.shape
    scale = float(np.abs(expected).max())
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * scale)

    if include_top:
        # tf-keras ignores classifier_activation; this port applies it.
        soft = build(
            include_top=True,
            weights=str(reference / f"{tag}.h5"),
            input_shape=(SIZE, SIZE, 3),
        )
        exp = np.exp(got - got.max(axis=1, keepdims=True))
        got_soft = np.asarray(soft.predict(images, verbose=0))
        np.testing.assert_allclose(got_soft, exp / exp.sum(axis=1, keepdims=True), atol=1e-6)


@pytest.mark.tf
@pytest.mark.slow
def test_imagenet_weights_fetch_tf_keras_file_names(
    reference: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keras
    import numpy as np

    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def fake_get_file(*args: Any, **kwargs: Any) -> str:
        calls.append((args, kwargs))
        return str(reference / "regnetx002_notop.h5")

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    model = regnet.RegNetX002(include_top=False, weights="imagenet", input_shape=(SIZE, SIZE, 3))
    url = "https://storage.googleapis.com/tensorflow/keras-applications/regnet/"
    assert calls == [
        (
            ("regnetx002_notop.h5", url + "regnetx002_notop.h5"),
            {"cache_subdir": "models", "file_hash": regnet.CONFIGS["regnetx002"].notop_hash},
        )
    ]
    images = np.load(reference / "images.npy")
    expected = np.load(reference / "regnetx002_notop.npy")
    got = np.asarray(model.predict(images, verbose=0))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * float(np.abs(expected).max()))


@pytest.mark.tf
def test_input_tensor_and_pooling() -> None:
    import keras

    tensor = keras.Input(shape=(32, 32, 3))
    model = regnet.RegNetX002(include_top=False, weights=None, input_tensor=tensor, pooling="avg")
    assert model.inputs[0] is tensor
    assert tuple(model.output.shape) == (None, 368)
    assert model.get_layer("regnetx002_prestem_rescaling").scale == pytest.approx(1 / 255)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"include_top": True, "weights": "imagenet", "classes": 10}, "classes=10"),
        ({"include_top": False, "weights": "/no/such/file.h5"}, "/no/such/file.h5"),
        ({"include_top": False, "weights": None, "pooling": "mean"}, "'mean'"),
        ({"include_top": False, "weights": None, "input_shape": (16, 16, 3)}, "(16, 16, 3)"),
        ({"include_top": False, "weights": None, "input_shape": (64, 64, 1)}, "(64, 64, 1)"),
        ({"weights": "imagenet", "classifier_activation": "relu"}, "'relu'"),
    ],
)
def test_bad_arguments_are_usage_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        regnet.RegNetX004(**kwargs)


def test_module_imports_without_tensorflow() -> None:
    code = (
        "import sys, blockbench_plugins.regnet as r; "
        "assert callable(r.RegNetX002) and callable(r.RegNetX004); "
        "bad = [m for m in ('tensorflow', 'keras', 'tf_keras') if m in sys.modules]; "
        "assert not bad, bad"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
