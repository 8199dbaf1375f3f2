"""RegNetX002 and RegNetX004 for Keras 3, loading tf.keras's ImageNet weight files unchanged.

Keras 3 dropped RegNet; tf-keras (the Keras 2 API) still has it and its ImageNet
weights are legacy HDF5 files. Keras 3 loads such a file by walking the layers
that have weights *in order*, so these models keep tf-keras's layer names, layer
order and weight shapes exactly (``tests/plugins/test_regnet.py`` proves it).

Naming, as in tf-keras: ``{model}_prestem_rescaling``, ``{model}_stem_conv|bn|relu``,
then ``{model}_Stage_{s}_XBlock_{b}_{part}`` with parts ``conv_1x1_1[_bn|_relu]``,
``conv_3x3[_bn|_relu]``, ``conv_1x1_2[_bn]``, ``skip_1x1``/``skip_bn`` (first block of a
stage only, stride 2) and ``exit_relu``. Two deliberate differences, neither touching
a weight: the residual sum is a named ``Add`` layer (``..._XBlock_{b}_add``) instead
of an anonymous ``tf.__operators__.add`` op, and the head layers are
``{model}_head_gap``/``{model}_head_dense`` instead of tf-keras's process-counter names
(``1_head_gap``/``1head_dense``). Unlike tf-keras, which silently ignores it,
``classifier_activation`` is applied to the top layer.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from blockbench.core.errors import UsageError
from blockbench_plugins.weights_cache import WeightsFile, fetch_imagenet

if TYPE_CHECKING:
    import keras

BASE_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/regnet/"
STEM_FILTERS = 32
MIN_INPUT_SIZE = 32
_POOLINGS = (None, "avg", "max")


@dataclass(frozen=True)
class RegNetXConfig:
    """One RegNetX variant: per-stage depths and widths, and its weight files' sha256.

    Attributes:
        depths: X blocks in each of the four stages.
        widths: output channels of each stage.
        group_width: channels per group of the grouped 3x3 convolutions.
        top_hash: sha256 of ``{name}.h5`` (with the 1000-class classifier).
        notop_hash: sha256 of ``{name}_notop.h5``.
    """

    depths: tuple[int, int, int, int]
    widths: tuple[int, int, int, int]
    group_width: int
    top_hash: str
    notop_hash: str


# Architecture and hashes as in tf_keras/src/applications/regnet.py ("x002", "x004").
CONFIGS: dict[str, RegNetXConfig] = {
    "regnetx002": RegNetXConfig(
        depths=(1, 1, 4, 7),
        widths=(24, 56, 152, 368),
        group_width=8,
        top_hash="49fb46e56cde07fdaf57bffd851461a86548f6a3a4baef234dd37290b826c0b8",
        notop_hash="5445b66cd50445eb7ecab094c1e78d4d3d29375439d1a7798861c4af15ffff21",
    ),
    "regnetx004": RegNetXConfig(
        depths=(1, 2, 7, 12),
        widths=(32, 64, 160, 384),
        group_width=16,
        top_hash="3523c7f5ac0dbbcc2fd6d83b3570e7540f7449d3301cc22c29547302114e4088",
        notop_hash="de139bf07a66c9256f2277bf5c1b6dd2d5a3a891a5f8a925a10c8a0a113fd6f3",
    ),
}


def _conv(filters: int, kernel: int, name: str, strides: int = 1, groups: int = 1) -> Any:
    from keras import layers

    return layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        groups=groups,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        name=name,
    )


def _bn(name: str) -> Any:
    from keras import layers

    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=name)


def _x_block(x: Any, filters: int, group_width: int, stride: int, name: str) -> Any:
    """One X block: 1x1 -> grouped 3x3 (carries the stride) -> 1x1, plus the residual."""
    from keras import layers

    def bn(suffix: str) -> Any:
        return _bn(f"{name}_{suffix}")

    skip = x
    if stride != 1:
        skip = bn("skip_bn")(_conv(filters, 1, f"{name}_skip_1x1", strides=stride)(x))
    y = bn("conv_1x1_1_bn")(_conv(filters, 1, f"{name}_conv_1x1_1")(x))
    y = layers.ReLU(name=f"{name}_conv_1x1_1_relu")(y)
    groups = filters // group_width
    y = bn("conv_3x3_bn")(_conv(filters, 3, f"{name}_conv_3x3", stride, groups)(y))
    y = layers.ReLU(name=f"{name}_conv_3x3_relu")(y)
    y = bn("conv_1x1_2_bn")(_conv(filters, 1, f"{name}_conv_1x1_2")(y))
    # Keras orders layers from this graph's shape, so the operand order (tf-keras wrote
    # ``x + skip``) decides where skip_1x1/skip_bn fall among the weighted layers.
    y = layers.Add(name=f"{name}_add")([y, skip])
    return layers.ReLU(name=f"{name}_exit_relu")(y)


def _input_shape(
    input_shape: tuple[int | None, ...] | None, input_tensor: Any, include_top: bool
) -> tuple[int | None, ...]:
    if input_shape is None and input_tensor is not None:
        input_shape = tuple(input_tensor.shape[1:])
    if input_shape is None:
        return (224, 224, 3) if include_top else (None, None, 3)
    shape = tuple(input_shape)
    if (
        len(shape) != 3
        or shape[2] != 3
        or any(s is not None and s < MIN_INPUT_SIZE for s in shape[:2])
    ):
        raise UsageError(
            f"RegNet input_shape {shape!r} is invalid; expected (height, width, 3) "
            f"with height and width >= {MIN_INPUT_SIZE} (or None)."
        )
    return shape


def _check_arguments(
    weights: str | os.PathLike[str] | None,
    include_top: bool,
    pooling: str | None,
    classes: int,
    classifier_activation: Any,
) -> None:
    is_path = isinstance(weights, str | os.PathLike) and os.path.isfile(os.fspath(weights))
    if weights not in (None, "imagenet") and not is_path:
        raise UsageError(
            f"RegNet weights={weights!r} is neither None, 'imagenet' nor an existing weights file."
        )
    if pooling not in _POOLINGS:
        raise UsageError(f"RegNet pooling={pooling!r} is invalid; use None, 'avg' or 'max'.")
    if include_top and (not isinstance(classes, int) or classes < 1):
        raise UsageError(f"RegNet classes={classes!r} is invalid; use a positive integer.")
    if include_top and weights == "imagenet" and classes != 1000:
        raise UsageError(
            f"RegNet classes={classes} with include_top=True and weights='imagenet' is "
            "invalid: the ImageNet classifier has 1000 classes (or use include_top=False)."
        )
    if include_top and weights == "imagenet" and classifier_activation not in (None, "softmax"):
        raise UsageError(
            f"RegNet classifier_activation={classifier_activation!r} is invalid with the "
            "pretrained ImageNet classifier; use None or 'softmax'."
        )


def regnet_x(
    variant: str,
    include_top: bool = True,
    weights: str | os.PathLike[str] | None = "imagenet",
    input_tensor: Any = None,
    input_shape: tuple[int | None, ...] | None = None,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: Any = "softmax",
    include_preprocessing: bool = True,
    model_name: str | None = None,
) -> keras.Model:
    """Build a RegNetX variant (a key of ``CONFIGS``) with keras.applications' arguments.

    With ``include_preprocessing`` the model takes pixels in [0, 255]; ``weights`` is
    None, ``"imagenet"`` (downloaded once into the Keras cache under tf-keras's file
    names) or the path of a weights file. Raises ``UsageError`` for bad arguments.
    """
    if variant not in CONFIGS:
        raise UsageError(f"unknown RegNet variant {variant!r}; known: {', '.join(CONFIGS)}.")
    _check_arguments(weights, include_top, pooling, classes, classifier_activation)
    config, name = CONFIGS[variant], model_name or variant
    shape = _input_shape(input_shape, input_tensor, include_top)

    import keras
    from keras import layers

    if keras.config.image_data_format() != "channels_last":
        raise UsageError("RegNet needs keras.config.image_data_format() == 'channels_last'.")

    if input_tensor is None:
        img_input = keras.Input(shape=shape)
    elif keras.backend.is_keras_tensor(input_tensor):
        img_input = input_tensor
    else:
        img_input = keras.Input(tensor=input_tensor, shape=shape)
    x = img_input
    if include_preprocessing:
        x = layers.Rescaling(1.0 / 255.0, name=f"{name}_prestem_rescaling")(x)
    x = _conv(STEM_FILTERS, 3, f"{name}_stem_conv", strides=2)(x)
    x = _bn(f"{name}_stem_bn")(x)
    x = layers.ReLU(name=f"{name}_stem_relu")(x)
    for stage, (depth, width) in enumerate(zip(config.depths, config.widths, strict=True)):
        for block in range(depth):
            block_name = f"{name}_Stage_{stage}_XBlock_{block}"
            x = _x_block(x, width, config.group_width, 2 if block == 0 else 1, block_name)

    if include_top:
        x = layers.GlobalAveragePooling2D(name=f"{name}_head_gap")(x)
        x = layers.Dense(classes, activation=classifier_activation, name=f"{name}_head_dense")(x)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling2D()(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling2D()(x)
    inputs = img_input if input_tensor is None else keras.utils.get_source_inputs(input_tensor)
    model = keras.Model(inputs, x, name=name)

    if weights == "imagenet":
        file_name = f"{variant}.h5" if include_top else f"{variant}_notop.h5"
        file_hash = config.top_hash if include_top else config.notop_hash
        weights_file = WeightsFile(file_name, BASE_WEIGHTS_URL + file_name, file_hash)
        model.load_weights(fetch_imagenet(weights_file, variant))
    elif weights is not None:
        model.load_weights(os.fspath(weights))
    return model


def _variant(variant: str) -> Callable[..., keras.Model]:
    def build(
        include_top: bool = True,
        weights: str | os.PathLike[str] | None = "imagenet",
        input_tensor: Any = None,
        input_shape: tuple[int | None, ...] | None = None,
        pooling: str | None = None,
        classes: int = 1000,
        classifier_activation: Any = "softmax",
        include_preprocessing: bool = True,
        model_name: str = variant,
    ) -> keras.Model:
        return regnet_x(
            variant,
            include_top=include_top,
            weights=weights,
            input_tensor=input_tensor,
            input_shape=input_shape,
            pooling=pooling,
            classes=classes,
            classifier_activation=classifier_activation,
            include_preprocessing=include_preprocessing,
            model_name=model_name,
        )

    build.__name__ = build.__qualname__ = f"RegNetX{variant[-3:]}"
    build.__doc__ = (
        f"Build {build.__name__} (keras.applications-style arguments, see ``regnet_x``)."
    )
    return build


RegNetX002 = _variant("regnetx002")
RegNetX004 = _variant("regnetx004")
