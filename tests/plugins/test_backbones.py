"""Tests of the built-in backbones plugin (blockbench_plugins.backbones)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from blockbench_plugins.backbones import ARCHITECTURES, WeightsFile

from blockbench.components.backbone import Weights
from blockbench.core.errors import BlockbenchError, UnknownNameError, UsageError
from blockbench.data.preprocessing import preprocess
from blockbench.plugin.manager import get_components

# name -> (keras.applications class name, keras.applications module, preprocessing)
EXPECTED = {
    "vgg16": ("VGG16", "vgg16", "caffe"),
    "mobilenet": ("MobileNet", "mobilenet", "tf"),
    "mobilenet-v2": ("MobileNetV2", "mobilenet_v2", "tf"),
    "mobilenet-v3-small": ("MobileNetV3Small", "mobilenet_v3", "raw"),
    "mobilenet-v3-large": ("MobileNetV3Large", "mobilenet_v3", "raw"),
    "resnet50-v2": ("ResNet50V2", "resnet_v2", "tf"),
    "regnetx-002": ("RegNetX002", None, "raw"),
    "regnetx-004": ("RegNetX004", None, "raw"),
    "efficientnet-b0": ("EfficientNetB0", "efficientnet", "raw"),
    "efficientnet-b1": ("EfficientNetB1", "efficientnet", "raw"),
    "efficientnet-v2-b0": ("EfficientNetV2B0", "efficientnet_v2", "raw"),
    "efficientnet-v2-b1": ("EfficientNetV2B1", "efficientnet_v2", "raw"),
    "xception": ("Xception", "xception", "tf"),
    "nasnet-mobile": ("NASNetMobile", "nasnet", "tf"),
    "densenet121": ("DenseNet121", "densenet", "torch"),
}
MOBILENET_FILE = "mobilenet_2_5_224_tf_no_top.h5"


def factory(name: str) -> Any:
    return get_components().backbones.get(name).factory


def test_the_fifteen_backbones_are_registered_by_the_builtin_plugin() -> None:
    backbones = get_components().backbones
    assert set(backbones.names()) >= set(EXPECTED)
    for name in EXPECTED:
        assert backbones.get(name).plugin == "blockbench.backbones"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_keras_class_names_resolve(name: str) -> None:
    assert get_components().backbones.get(EXPECTED[name][0]).name == name


@pytest.mark.parametrize(
    ("alias", "name"),
    [("mobilenet-v1", "mobilenet"), ("MobileNetV1", "mobilenet"), ("mobilenet_v2", "mobilenet-v2"),
     ("RESNET50V2", "resnet50-v2"), ("regnetx_002", "regnetx-002")],
)
def test_aliases_and_spellings_resolve(alias: str, name: str) -> None:
    assert get_components().backbones.get(alias).name == name


def test_unknown_backbone_suggests_close_names() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'mobilenet-v2'"):
        get_components().backbones.get("mobilenet-v22")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_description_is_one_line_with_params_and_year(name: str) -> None:
    description = get_components().backbones.get(name).description
    assert "\n" not in description
    assert "M params" in description and "(20" in description
    assert factory(name).preprocessing == EXPECTED[name][2]


def test_loading_the_plugin_does_not_import_tensorflow() -> None:
    code = (
        "import sys; from blockbench.plugin.registry import Registry; "
        "from blockbench_plugins import backbones; registry = Registry('backbone'); "
        "backbones.register_backbones(register=registry); assert len(registry) == 15; "
        "sys.exit(int(any(m in sys.modules for m in ('tensorflow', 'keras'))))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.parametrize(("name", "minimum"), [("xception", 71), ("mobilenet", 32), ("nasnet-mobile", 32)])
def test_input_below_the_minimum_is_a_one_line_usage_error(name: str, minimum: int) -> None:
    factory(name).check_input_size(minimum)
    with pytest.raises(UsageError) as info:
        factory(name).check_input_size(minimum - 1)
    message = str(info.value)
    assert repr(name) in message and str(minimum - 1) in message and str(minimum) in message
    assert "\n" not in message


def test_input_size_must_be_an_integer() -> None:
    with pytest.raises(UsageError, match="'96' for backbone 'vgg16' must be an integer"):
        factory("vgg16").check_input_size("96")  # type: ignore[arg-type]


@pytest.mark.parametrize("alpha", [0.3, "wide", True, 2.0])
def test_bad_alpha_lists_the_valid_values(alpha: Any) -> None:
    with pytest.raises(UsageError) as info:
        factory("mobilenet").check_options({"alpha": alpha})
    assert f"alpha={alpha!r}" in str(info.value)
    assert str(info.value).endswith("valid: 0.25, 0.5, 0.75, 1.0")


def test_unknown_option_names_the_backbone_and_the_valid_options() -> None:
    with pytest.raises(UsageError, match=r"unknown option.* alpha for backbone 'vgg16'; valid: none"):
        factory("vgg16").check_options({"alpha": 0.5})
    with pytest.raises(UsageError, match="valid: alpha, minimalistic"):
        factory("mobilenet-v3-small").check_options({"depth": 2})


def test_options_are_completed_and_normalised() -> None:
    assert factory("mobilenet").check_options({"alpha": "0.25"}) == {"alpha": 0.25}
    assert factory("mobilenet-v2").check_options({"alpha": 1}) == {"alpha": 1.0}
    assert factory("mobilenet-v2").check_options({}) == {"alpha": 1.0}
    assert factory("mobilenet-v3-large").check_options({"minimalistic": "true"}) == {
        "alpha": 1.0, "minimalistic": True,
    }
    assert factory("densenet121").check_options({}) == {}


def test_imagenet_files_follow_the_options() -> None:
    assert factory("mobilenet").imagenet_file({"alpha": 0.25}).name == MOBILENET_FILE
    assert factory("mobilenet-v2").imagenet_file({"alpha": 0.35}).name == (
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
    )
    small = factory("mobilenet-v3-small").imagenet_file({"alpha": 1.0, "minimalistic": True})
    assert small.name == "weights_mobilenet_v3_small_minimalistic_224_1.0_float_no_top_v2.h5"


def test_v3_minimalistic_at_alpha_075_has_no_imagenet_weights() -> None:
    with pytest.raises(UsageError, match=r"no ImageNet weights for alpha=0\.75 with minimalistic=True"):
        factory("mobilenet-v3-large").imagenet_file({"alpha": 0.75, "minimalistic": True})


def _tf_keras_regnet_source() -> str:
    spec = importlib.util.find_spec("tf_keras")  # a top-level find_spec imports nothing
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("tf-keras is not installed")
    return (Path(spec.submodule_search_locations[0]) / "src/applications/regnet.py").read_text()


@pytest.mark.parametrize("name", ["regnetx-002", "regnetx-004"])
def test_regnet_weights_files_match_tf_keras(name: str) -> None:
    source = _tf_keras_regnet_source()
    file = factory(name).imagenet_file({})
    assert file.file_hash is not None and f'"{file.file_hash}"' in source
    assert file.origin.removesuffix(file.name) in source


@pytest.mark.tf
def test_weights_files_match_the_keras_sources() -> None:
    """Name, URL and hash are the ones keras.applications uses, so the cache is shared."""
    import inspect

    from keras.src.applications import (
        densenet,
        efficientnet,
        efficientnet_v2,
        mobilenet_v3,
        nasnet,
        resnet,
        vgg16,
        xception,
    )

    def check(name: str, origin: str, file_hash: str, module: Any) -> None:
        file: WeightsFile = factory(name).imagenet_file(factory(name).check_options({}))
        assert (file.origin, file.file_hash) == (origin, file_hash)
        assert f'"{file.name}"' in inspect.getsource(module) or origin.endswith(file.name)

    check("vgg16", vgg16.WEIGHTS_PATH_NO_TOP, "6d6bbae143d832006294945121d1f1fc", vgg16)
    check("xception", xception.WEIGHTS_PATH_NO_TOP, "b0042744bf5b25fce3cb969f33bebb97", xception)
    check("densenet121", densenet.DENSENET121_WEIGHT_PATH_NO_TOP,
          "30ee3e1110167f948a6b9946edeeb738", densenet)
    check("nasnet-mobile", nasnet.NASNET_MOBILE_WEIGHT_PATH_NO_TOP,
          "1ed92395b5b598bdda52abe5c0dbfd63", nasnet)
    for module, short in [(efficientnet, "b0"), (efficientnet, "b1")]:
        check(f"efficientnet-{short}", f"{module.BASE_WEIGHTS_PATH}efficientnet{short}_notop.h5",
              module.WEIGHTS_HASHES[short][1], module)
    for short in ["b0", "b1"]:
        check(f"efficientnet-v2-{short}", f"{efficientnet_v2.BASE_WEIGHTS_PATH}efficientnetv2-{short}_notop.h5",
              efficientnet_v2.WEIGHTS_HASHES[short][1], efficientnet_v2)
    check("resnet50-v2", f"{resnet.BASE_WEIGHTS_PATH}resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
          resnet.WEIGHTS_HASHES["resnet50v2"][1], resnet)
    for key, (_, notop_hash) in mobilenet_v3.WEIGHTS_HASHES.items():
        size, minimalistic = key.split("_")[0], "minimalistic" in key
        options = {"alpha": float(key.split("_")[-2]), "minimalistic": minimalistic}
        file = factory(f"mobilenet-v3-{size}").imagenet_file(options)
        assert file.file_hash == notop_hash
        assert file.origin == f"{mobilenet_v3.BASE_WEIGHT_PATH}weights_mobilenet_v3_{key}_no_top_v2.h5"


@pytest.mark.tf
@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if e[1]))
def test_declared_preprocessing_matches_keras_preprocess_input(name: str) -> None:
    module = importlib.import_module(f"keras.applications.{EXPECTED[name][1]}")
    x = np.random.default_rng(1).uniform(0, 255, (2, 6, 6, 3)).astype(np.float32)
    ours = preprocess(x.copy(), factory(name).preprocessing)
    np.testing.assert_allclose(ours, module.preprocess_input(x.copy()), rtol=1e-5, atol=1e-5)


@pytest.mark.tf
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_backbone_builds_with_random_weights(name: str, build_backbone: Any) -> None:
    import keras

    model = build_backbone(name)
    size = factory(name).min_input_size
    assert tuple(model.input.shape) == (None, size, size, 3)
    assert model.input.dtype == "float32"
    assert len(model.output.shape) == 4 and all(d >= 1 for d in model.output.shape[1:])
    arch = next(a for a in ARCHITECTURES if a.name == name)
    # Parameter counts do not depend on the input size: the description's number holds.
    assert model.count_params() / 1e6 == pytest.approx(arch.params_m, abs=0.005)
    if arch.preprocessing == "raw":  # the model rescales [0, 255] itself
        assert any(isinstance(layer, keras.layers.Rescaling) for layer in model.layers[:3])


def _h5_kernel(path: Path, layer: str) -> np.ndarray:
    import h5py

    with h5py.File(path, "r") as handle:
        return np.asarray(handle[f"{layer}/{layer}/kernel:0"])


def _assert_has_file_weights(model: Any, path: Path) -> None:
    for layer in ["conv1", "conv_pw_7", "conv_pw_13"]:
        np.testing.assert_array_equal(model.get_layer(layer).kernel.numpy(), _h5_kernel(path, layer))


@pytest.mark.tf
@pytest.mark.assets
def test_weights_file_loads_at_any_size_and_a_mismatch_is_a_usage_error(assets_dir: Path) -> None:
    path = assets_dir / "keras-models" / MOBILENET_FILE
    weights = Weights.parse(str(path))
    mobilenet = factory("mobilenet")
    _assert_has_file_weights(mobilenet.build(weights, 96, alpha=0.25), path)
    with pytest.raises(UsageError) as info:
        mobilenet.build(weights, 96, alpha=0.5)
    assert MOBILENET_FILE in str(info.value) and "alpha=0.5" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.fixture
def keras_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Keras cache where any download attempt fails, as offline."""
    import urllib.error

    from keras.src.backend import config
    from keras.src.utils import file_utils

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    # Keras reads KERAS_HOME once, when it is first imported; point it at the new cache.
    monkeypatch.setattr(config, "_KERAS_DIR", str(tmp_path))

    def offline(url: str, *args: Any, **kwargs: Any) -> None:
        raise urllib.error.URLError(f"offline test: no download of {url}")

    monkeypatch.setattr(file_utils, "urlretrieve", offline)
    (tmp_path / "models").mkdir()
    return tmp_path


@pytest.mark.tf
@pytest.mark.assets
@pytest.mark.slow
def test_imagenet_mobilenet_025_loads_from_the_keras_cache_at_224_and_128(
    assets_dir: Path, keras_home: Path
) -> None:
    import keras

    cached = keras_home / "models" / MOBILENET_FILE
    shutil.copy(assets_dir / "keras-models" / MOBILENET_FILE, cached)
    imagenet = Weights.parse("imagenet")
    at_224 = factory("mobilenet").build(imagenet, 224, alpha=0.25)
    _assert_has_file_weights(at_224, cached)
    # keras.applications itself resolves "imagenet" to the same cached file.
    reference = keras.applications.MobileNet(
        input_shape=(224, 224, 3), alpha=0.25, include_top=False, weights="imagenet"
    )
    for ours, theirs in zip(at_224.weights, reference.weights, strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    # Keras would look for a 128 px file; the 224 px release loads at any size.
    _assert_has_file_weights(factory("mobilenet").build(imagenet, 128, alpha=0.25), cached)


@pytest.mark.tf
def test_a_failed_download_is_one_clear_line(keras_home: Path) -> None:
    with pytest.raises(BlockbenchError) as info:
        factory("vgg16").build(Weights.parse("imagenet"), 64)
    message = str(info.value)
    assert "'vgg16'" in message and "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert f"the Keras cache folder {keras_home / 'models'}," in message and "\n" not in message
    assert "--weights PATH" in message and "offline test" in message
    assert not list((keras_home / "models").iterdir())  # nothing half-downloaded left behind
