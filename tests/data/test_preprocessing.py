"""Tests of blockbench.data.preprocessing: the modes' arithmetic and the override resolution."""

from __future__ import annotations

import numpy as np
import pytest

from blockbench.components.backbone import PREPROCESSING_MODES, BackboneFactory
from blockbench.core.errors import PluginError, UnknownNameError, UsageError
from blockbench.data.preprocessing import preprocess, resolve_preprocessing


class _Factory(BackboneFactory):
    preprocessing = "torch"

    def build(self, weights, input_size, **options):  # type: ignore[no-untyped-def]
        raise NotImplementedError


class _BrokenFactory(_Factory):
    preprocessing = "imagenet"


def _images(shape: tuple[int, ...] = (2, 4, 5, 3), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, shape).astype(np.float32)


def test_tf_and_unit_map_the_pixel_range() -> None:
    x = np.array([[[[0.0, 127.5, 255.0]]]], dtype=np.float32)
    np.testing.assert_allclose(preprocess(x, "tf"), [[[[-1.0, 0.0, 1.0]]]])
    np.testing.assert_allclose(preprocess(x, "unit"), [[[[0.0, 0.5, 1.0]]]])


def test_raw_returns_the_input_untouched() -> None:
    x = _images()
    assert preprocess(x, "raw") is x


def test_caffe_reverses_channels_and_subtracts_the_bgr_mean() -> None:
    x = np.array([[[[10.0, 20.0, 30.0]]]], dtype=np.float32)
    np.testing.assert_allclose(
        preprocess(x, "caffe"), [[[[30.0 - 103.939, 20.0 - 116.779, 10.0 - 123.68]]]], rtol=1e-6
    )


def test_torch_normalises_with_the_imagenet_statistics() -> None:
    x = np.full((1, 1, 1, 3), 255.0, dtype=np.float32)
    expected = (1.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(preprocess(x, "torch")[0, 0, 0], expected, rtol=1e-6)


@pytest.mark.parametrize("mode", PREPROCESSING_MODES)
def test_float32_stays_float32_for_batches_and_single_images(mode: str) -> None:
    for shape in [(2, 3, 3, 3), (3, 3, 3)]:
        out = preprocess(_images(shape), mode)
        assert out.dtype == np.float32
        assert out.shape == shape


def test_unknown_mode_suggests_the_closest() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'torch'"):
        preprocess(_images(), "troch")


def test_resolve_defaults_to_the_factory_mode() -> None:
    assert resolve_preprocessing(_Factory(), None) == "torch"


def test_resolve_normalises_a_valid_override() -> None:
    assert resolve_preprocessing(_Factory(), " Unit ") == "unit"


def test_resolve_rejects_an_unknown_override_in_one_line() -> None:
    with pytest.raises(UsageError) as info:
        resolve_preprocessing(_Factory(), "caffee")
    message = str(info.value)
    assert "'caffee'" in message and "Did you mean 'caffe'" in message
    assert all(mode in message for mode in PREPROCESSING_MODES)
    assert "\n" not in message


def test_resolve_rejects_a_factory_declaring_an_unknown_mode() -> None:
    with pytest.raises(PluginError, match="_BrokenFactory declares preprocessing 'imagenet'"):
        resolve_preprocessing(_BrokenFactory(), None)


@pytest.mark.tf
@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
def test_matches_keras_preprocess_input_on_numpy_and_tensors(mode: str) -> None:
    import tensorflow as tf
    from keras.applications import imagenet_utils

    x = _images()
    expected = imagenet_utils.preprocess_input(x.copy(), data_format="channels_last", mode=mode)
    np.testing.assert_allclose(preprocess(x, mode), expected, rtol=1e-5, atol=1e-5)

    tensor_out = preprocess(tf.constant(x), mode)
    assert tensor_out.dtype == tf.float32
    np.testing.assert_allclose(tensor_out.numpy(), expected, rtol=1e-5, atol=1e-5)

    dataset = tf.data.Dataset.from_tensor_slices(x).batch(2).map(lambda b: preprocess(b, mode))
    mapped = np.concatenate([batch.numpy() for batch in dataset])
    np.testing.assert_allclose(mapped, expected, rtol=1e-5, atol=1e-5)
