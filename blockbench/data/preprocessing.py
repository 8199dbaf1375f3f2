"""Input preprocessing: the pixel scaling each backbone's ImageNet weights expect.

:func:`preprocess` uses only array arithmetic (division, subtraction, a reversed
last axis), so the same code runs on numpy arrays and, inside a ``tf.data``
map, on TensorFlow tensors; this module never imports TensorFlow. The modes
reproduce ``keras.applications.imagenet_utils.preprocess_input`` for
channels-last images.
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np

from blockbench.components.backbone import PREPROCESSING_MODES, BackboneFactory
from blockbench.core.errors import PluginError, UnknownNameError

ArrayT = TypeVar("ArrayT")

# The ImageNet statistics keras.applications uses, in float32 so that float32
# inputs stay float32 in numpy as well as in TensorFlow.
_CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)
_TORCH_MEAN_RGB = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_TORCH_STD_RGB = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def preprocess(images: ArrayT, mode: str) -> ArrayT:
    """Scale float32 RGB images with values in [0, 255], channels last.

    Args:
        images: a batch ``(n, h, w, 3)`` or a single image ``(h, w, 3)``; a
            numpy array or a TensorFlow tensor.
        mode: one of :data:`~blockbench.components.backbone.PREPROCESSING_MODES`:
            ``caffe`` (RGB to BGR, then the ImageNet BGR mean subtracted),
            ``tf`` (scaled to [-1, 1]), ``torch`` (scaled to [0, 1], then the
            ImageNet RGB mean subtracted and divided by the RGB standard
            deviation), ``raw`` (unchanged: the model rescales by itself) or
            ``unit`` (scaled to [0, 1]).

    Returns:
        The scaled images, of the same kind as ``images`` (``raw`` returns
        ``images`` itself).

    Raises:
        UnknownNameError: ``mode`` is not a preprocessing mode.
    """
    x: Any = images
    if mode == "raw":
        return images
    if mode == "unit":
        return x / 255.0
    if mode == "tf":
        return x / 127.5 - 1.0
    if mode == "torch":
        return (x / 255.0 - _TORCH_MEAN_RGB) / _TORCH_STD_RGB
    if mode == "caffe":
        return x[..., ::-1] - _CAFFE_MEAN_BGR
    raise UnknownNameError("preprocessing mode", str(mode), PREPROCESSING_MODES)


def resolve_preprocessing(factory: BackboneFactory, override: str | None) -> str:
    """The preprocessing mode a run uses: ``override`` if given, else the backbone's own.

    Args:
        factory: the backbone's factory, whose ``preprocessing`` is the default.
        override: a mode chosen by the user (any case, surrounding spaces
            ignored), or None.

    Returns:
        A member of :data:`~blockbench.components.backbone.PREPROCESSING_MODES`.

    Raises:
        UnknownNameError: ``override`` is not a mode (with "did you mean").
        PluginError: the factory declares a mode that does not exist.
    """
    if override is None:
        mode = factory.preprocessing
        if mode not in PREPROCESSING_MODES:
            raise PluginError(
                f"backbone factory {type(factory).__name__} declares preprocessing {mode!r}; "
                f"valid modes: {', '.join(PREPROCESSING_MODES)}"
            )
        return mode
    mode = str(override).strip().lower()
    if mode not in PREPROCESSING_MODES:
        raise UnknownNameError("preprocessing mode", str(override), PREPROCESSING_MODES)
    return mode
