"""Built-in backbones: the 15 keras.applications feature extractors of the reference study.

One table row per architecture (:data:`ARCHITECTURES`) and one factory class
(:class:`KerasApplication`) build every backbone without its classification
top. Importing this module is cheap: Keras is imported inside ``build`` only.

ImageNet weights are the official keras.applications files, fetched with
``keras.utils.get_file`` under Keras's own file names, URLs and hashes, so they
share the Keras cache (``$KERAS_HOME/models``, by default ``~/.keras/models``)
with keras.applications (see :mod:`blockbench_plugins.weights_cache`). MobileNet V1 and V2 publish one file per training
resolution; here ``imagenet`` always means the 224 px release, loaded at any
input size (convolution weights do not depend on it), so one weights identity
names one set of weights.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from blockbench.components.backbone import BackboneFactory, Weights
from blockbench.core.errors import UsageError
from blockbench.plugin.hookspecs import hookimpl
from blockbench.plugin.registry import BackboneRegistry
from blockbench_plugins.weights_cache import WeightsFile, fetch_imagenet, first_line

if TYPE_CHECKING:
    import keras


_KERAS_APPS = "https://storage.googleapis.com/tensorflow/keras-applications/"


@dataclass(frozen=True)
class Choice:
    """A backbone option: its default and the values it accepts."""

    default: Any
    valid: tuple[Any, ...]


def _keras_file(folder: str, name: str, file_hash: str | None = None) -> WeightsFile:
    return WeightsFile(name, f"{_KERAS_APPS}{folder}/{name}", file_hash)


_V1_ALPHA_TEXT = {0.25: "2_5", 0.5: "5_0", 0.75: "7_5", 1.0: "1_0"}


def _mobilenet_v1_file(options: Mapping[str, Any]) -> WeightsFile:
    alpha = _V1_ALPHA_TEXT[options["alpha"]]
    return _keras_file("mobilenet", f"mobilenet_{alpha}_224_tf_no_top.h5")


def _mobilenet_v2_file(options: Mapping[str, Any]) -> WeightsFile:
    name = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(options['alpha'])}_224_no_top.h5"
    return _keras_file("mobilenet_v2", name)


_V3_HASHES = {
    "large_224_0.75_float": "40af19a13ebea4e2ee0c676887f69a2e",
    "large_224_1.0_float": "07fb09a5933dd0c8eaafa16978110389",
    "large_minimalistic_224_1.0_float": "ec5221f64a2f6d1ef965a614bdae7973",
    "small_224_0.75_float": "ebdb5cc8e0b497cd13a7c275d475c819",
    "small_224_1.0_float": "d3e8ec802a04aa4fc771ee12a9a9b836",
    "small_minimalistic_224_1.0_float": "cde8136e733e811080d9fcd8a252f7e4",
}


def _mobilenet_v3_file(size: str) -> Callable[[Mapping[str, Any]], WeightsFile]:
    def weights_file(options: Mapping[str, Any]) -> WeightsFile:
        minimal = "_minimalistic" if options["minimalistic"] else ""
        key = f"{size}{minimal}_224_{options['alpha']}_float"
        if key not in _V3_HASHES:
            raise UsageError(
                f"backbone 'mobilenet-v3-{size}' has no ImageNet weights for alpha="
                f"{options['alpha']} with minimalistic={options['minimalistic']}; ImageNet "
                "weights exist for alpha 0.75 and 1.0, and for minimalistic=True only with "
                "alpha 1.0 (or use weights none)"
            )
        return _keras_file("mobilenet_v3", f"weights_mobilenet_v3_{key}_no_top_v2.h5", _V3_HASHES[key])

    return weights_file


@dataclass(frozen=True)
class Architecture:
    """One row of the backbone table.

    Attributes:
        name: registered name.
        title: the Keras class name, e.g. ``MobileNetV2``: a function of ``module``
            with keras.applications' signature.
        year, params_m: for the description (paper year; parameters without top
            at default options, counted with ``count_params``).
        preprocessing: the mode the ImageNet weights expect.
        imagenet: the no-top weights file, or a function of the options giving it.
        module: where ``title`` is defined.
        min_input_size: smallest input side the Keras model builds at.
        options: extra options (keras.applications argument names) and their choices.
        aliases: extra lookup names.
        keras_loads_imagenet: pass ``weights="imagenet"`` to Keras instead of the
            file's path, for models whose graph depends on it.
    """

    name: str
    title: str
    year: int
    params_m: float
    preprocessing: str
    imagenet: WeightsFile | Callable[[Mapping[str, Any]], WeightsFile]
    module: str = "keras.applications"
    min_input_size: int = 32
    options: Mapping[str, Choice] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    keras_loads_imagenet: bool = False

    @property
    def description(self) -> str:
        """One line for ``blockbench list``: paper year, parameters, option ranges."""
        parts = [f"{self.title} ({self.year})", f"{self.params_m:.2f}M params"]
        if "alpha" in self.options:
            valid = self.options["alpha"].valid
            parts.append(f"alpha {min(valid)}-{max(valid)}")
        if self.min_input_size != 32:
            parts.append(f"input >= {self.min_input_size} px")
        return ", ".join(parts)


_REGNET = "blockbench_plugins.regnet"
_EFFICIENTNET = "https://storage.googleapis.com/keras-applications/"
_V1_ALPHA = Choice(1.0, (0.25, 0.5, 0.75, 1.0))
_V2_ALPHA = Choice(1.0, (0.35, 0.5, 0.75, 1.0, 1.3, 1.4))
_V3_OPTIONS = {"alpha": Choice(1.0, (0.75, 1.0)), "minimalistic": Choice(False, (False, True))}


ARCHITECTURES: tuple[Architecture, ...] = (
    Architecture("vgg16", "VGG16", 2014, 14.71, "caffe", _keras_file(
        "vgg16", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "6d6bbae143d832006294945121d1f1fc")),
    Architecture("mobilenet", "MobileNet", 2017, 3.23, "tf", _mobilenet_v1_file,
                 options={"alpha": _V1_ALPHA}, aliases=("mobilenet-v1",)),
    Architecture("mobilenet-v2", "MobileNetV2", 2018, 2.26, "tf", _mobilenet_v2_file,
                 options={"alpha": _V2_ALPHA}),
    # MobileNetV3 rescales [0, 255] to [-1, 1] itself (include_preprocessing, kept on).
    Architecture("mobilenet-v3-small", "MobileNetV3Small", 2019, 0.94, "raw",
                 _mobilenet_v3_file("small"), options=_V3_OPTIONS),
    Architecture("mobilenet-v3-large", "MobileNetV3Large", 2019, 3.00, "raw",
                 _mobilenet_v3_file("large"), options=_V3_OPTIONS),
    Architecture("resnet50-v2", "ResNet50V2", 2016, 23.56, "tf", _keras_file(
        "resnet", "resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "fac2f116257151a9d068a22e544a4917")),
    # RegNets rescale [0, 255] to [0, 1] themselves.
    Architecture("regnetx-002", "RegNetX002", 2020, 2.34, "raw", _keras_file(
        "regnet", "regnetx002_notop.h5",
        "5445b66cd50445eb7ecab094c1e78d4d3d29375439d1a7798861c4af15ffff21"), module=_REGNET),
    Architecture("regnetx-004", "RegNetX004", 2020, 4.81, "raw", _keras_file(
        "regnet", "regnetx004_notop.h5",
        "de139bf07a66c9256f2277bf5c1b6dd2d5a3a891a5f8a925a10c8a0a113fd6f3"), module=_REGNET),
    # Keras adds a variance-fixing Rescaling layer only when given weights="imagenet".
    Architecture("efficientnet-b0", "EfficientNetB0", 2019, 4.05, "raw", WeightsFile(
        "efficientnetb0_notop.h5", f"{_EFFICIENTNET}efficientnetb0_notop.h5",
        "50bc09e76180e00e4465e1a485ddc09d"), keras_loads_imagenet=True),
    Architecture("efficientnet-b1", "EfficientNetB1", 2019, 6.58, "raw", WeightsFile(
        "efficientnetb1_notop.h5", f"{_EFFICIENTNET}efficientnetb1_notop.h5",
        "74c4e6b3e1f6a1eea24c589628592432"), keras_loads_imagenet=True),
    Architecture("efficientnet-v2-b0", "EfficientNetV2B0", 2021, 5.92, "raw", _keras_file(
        "efficientnet_v2", "efficientnetv2-b0_notop.h5", "893217f2bb855e2983157299931e43ff")),
    Architecture("efficientnet-v2-b1", "EfficientNetV2B1", 2021, 6.93, "raw", _keras_file(
        "efficientnet_v2", "efficientnetv2-b1_notop.h5", "0e80663031ca32d657f9caa404b6ec37")),
    Architecture("xception", "Xception", 2017, 20.86, "tf", _keras_file(
        "xception", "xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "b0042744bf5b25fce3cb969f33bebb97"), min_input_size=71),
    Architecture("nasnet-mobile", "NASNetMobile", 2018, 4.27, "tf", WeightsFile(
        "nasnet_mobile_no_top.h5", f"{_KERAS_APPS}nasnet/NASNet-mobile-no-top.h5",
        "1ed92395b5b598bdda52abe5c0dbfd63")),
    Architecture("densenet121", "DenseNet121", 2017, 7.04, "torch", _keras_file(
        "densenet", "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "30ee3e1110167f948a6b9946edeeb738")),
)


def _coerce(backbone: str, key: str, value: Any, choice: Choice) -> Any:
    """Map a user's value (possibly a string from the command line) onto a valid choice."""
    if isinstance(choice.default, bool):
        text = str(value).strip().lower()
        parsed: Any = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(text)
        match = parsed if parsed in choice.valid else None
    else:
        try:
            number = None if isinstance(value, bool) else float(value)
        except (TypeError, ValueError):
            number = None
        match = next((v for v in choice.valid if number is not None and math.isclose(v, number)), None)
    if match is None:
        valid = ", ".join(str(v) for v in choice.valid)
        raise UsageError(f"{key}={value!r} is not valid for backbone {backbone!r}; valid: {valid}")
    return match


class KerasApplication(BackboneFactory):
    """Builds one keras.applications-style architecture from its :class:`Architecture` row."""

    def __init__(self, arch: Architecture) -> None:
        self.arch = arch

    def check_input_size(self, size: int) -> None:
        """Check the input size against this backbone's minimum."""
        name = self.arch.name
        if isinstance(size, bool) or not isinstance(size, int):
            raise UsageError(f"input size {size!r} for backbone {name!r} must be an integer")
        if size < self.min_input_size:
            raise UsageError(
                f"input size {size} is too small for backbone {name!r}: "
                f"its minimum is {self.min_input_size} pixels"
            )

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Complete the options, mapping each value onto one of its valid choices."""
        name = self.arch.name
        unknown = sorted(set(options) - set(self.arch.options))
        if unknown:
            valid = ", ".join(sorted(self.arch.options)) or "none"
            raise UsageError(
                f"unknown option(s) {', '.join(unknown)} for backbone {name!r}; valid: {valid}"
            )
        return {
            key: _coerce(name, key, options[key], choice) if key in options else choice.default
            for key, choice in self.arch.options.items()
        }

    def imagenet_file(self, options: Mapping[str, Any]) -> WeightsFile:
        """The ImageNet weights file for these (checked) options."""
        source = self.arch.imagenet
        return source if isinstance(source, WeightsFile) else source(options)

    def build(self, weights: Weights, input_size: int, **options: Any) -> keras.Model:
        """Build the model without its top, with ``weights`` loaded."""
        self.check_input_size(input_size)
        options = self.check_options(options)
        keras_weights: str | None = None
        load_path = weights.path if weights.kind == "file" else None
        if weights.kind == "imagenet":
            path = fetch_imagenet(self.imagenet_file(options), self.arch.name)
            if self.arch.keras_loads_imagenet:
                keras_weights = "imagenet"  # found in the cache: the same file was just fetched
            else:
                load_path = path
        constructor = getattr(importlib.import_module(self.arch.module), self.arch.title)
        import keras

        # Unnamed layers are numbered by a process-wide counter; resetting it makes layer
        # names (and so partition digests and run hashes) the same in every process.
        keras.backend.clear_session()
        model = constructor(
            include_top=False, weights=keras_weights, input_shape=(input_size, input_size, 3),
            **options,
        )
        if load_path is not None:
            try:
                model.load_weights(load_path)
            except (ValueError, OSError, KeyError) as exc:
                settings = "".join(f", {k}={v}" for k, v in options.items())
                raise UsageError(
                    f"weights file {load_path!r} does not fit backbone {self.arch.name!r}"
                    f"{settings}: {first_line(exc)}"
                ) from exc
        return model


def make_factory(arch: Architecture) -> KerasApplication:
    """A factory for ``arch``, in a subclass whose class attributes carry the row's settings.

    The BackboneFactory contract declares these settings as class variables, so
    each architecture gets its own small class rather than instance overrides.
    """
    attributes = {
        "__doc__": arch.description,
        "__module__": __name__,
        "preprocessing": arch.preprocessing,
        "min_input_size": arch.min_input_size,
        "option_defaults": MappingProxyType({k: c.default for k, c in arch.options.items()}),
    }
    cls = type(f"{arch.title}Factory", (KerasApplication,), attributes)
    return cls(arch)


@hookimpl
def register_backbones(register: BackboneRegistry) -> None:
    """Register the 15 built-in backbones."""
    for arch in ARCHITECTURES:
        register(arch.name, make_factory(arch), description=arch.description, aliases=arch.aliases)
