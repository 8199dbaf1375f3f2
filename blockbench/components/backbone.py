"""The backbone contract: a registered factory that builds a pretrained Keras feature extractor."""

from __future__ import annotations

import abc
import hashlib
import inspect
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from blockbench.core.errors import UsageError
from blockbench.core.options import REQUIRED, complete_options

if TYPE_CHECKING:
    import keras

#: Input preprocessing schemes, applied to float32 RGB images in [0, 255].
#: ``caffe``: RGB->BGR then ImageNet mean subtraction (VGG16);
#: ``tf``: scaled to [-1, 1] (MobileNets, ResNet50V2, Xception, NASNet);
#: ``torch``: [0, 1] then ImageNet mean/std normalisation (DenseNet);
#: ``raw``: left in [0, 255] because the model rescales itself (EfficientNets, RegNets);
#: ``unit``: [0, 1], the reference study's plain scaling.
PREPROCESSING_MODES = ("caffe", "tf", "torch", "raw", "unit")


@dataclass(frozen=True)
class Weights:
    """Which weights a backbone starts from.

    Attributes:
        kind: "imagenet", "none" (random initialisation) or "file".
        path: the weights file when kind is "file".
        identity: what enters a run's hash ("imagenet", "none" or "sha256:<digest>").
    """

    kind: str
    path: str | None
    identity: str

    @classmethod
    def parse(cls, value: str | None) -> Weights:
        """Parse ``imagenet``, ``none`` or a path; a missing path is a one-line error."""
        text = "none" if value is None else str(value).strip()
        if text.lower() in {"imagenet", "none"}:
            return cls(text.lower(), None, text.lower())
        if not os.path.isfile(text):
            raise UsageError(
                f"weights {text!r} is neither 'imagenet', 'none' nor an existing weights file"
            )
        with open(text, "rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        return cls("file", os.path.abspath(text), f"sha256:{digest}")

    @property
    def keras_argument(self) -> str | None:
        """The value for keras.applications' ``weights=`` argument."""
        return {"imagenet": "imagenet", "none": None}.get(self.kind, self.path)


class BackboneFactory(abc.ABC):
    """Builds one backbone architecture.

    Lifecycle:
        1. A plugin instantiates the factory and registers it at load time. This
           must be cheap and must not import TensorFlow.
        2. Before any model is built, the host checks the user's input: the
           input size with :meth:`check_input_size`, the options with
           :meth:`check_options` (which returns them completed with defaults)
           and ``--weights imagenet`` against :attr:`has_pretrained_weights`.
           Bad values raise :class:`~blockbench.core.errors.UsageError`.
        3. :meth:`build` receives the options as :meth:`check_options`
           returned them (every declared option present) and returns a
           ``keras.Model`` without its classification top: input
           ``(input_size, input_size, 3)`` float32 images already
           preprocessed with :attr:`preprocessing`, output a 4-D feature map.
           The engine calls it once per process per identity and keeps the
           initial weights in memory between runs.

    Attributes:
        preprocessing: the scheme the pretrained weights expect (see PREPROCESSING_MODES).
        min_input_size: smallest input side the architecture accepts.
        default_input_size: input side used when the user gives none.
        option_defaults: extra options and their defaults, e.g. ``{"alpha": 1.0}``;
            :data:`~blockbench.core.options.REQUIRED` marks one the user must give.
        has_pretrained_weights: whether ``--weights imagenet`` has weights to load
            (the architecture's pretrained ones, whatever they were trained on);
            False makes the host refuse it at once.
    """

    preprocessing: ClassVar[str] = "tf"
    min_input_size: ClassVar[int] = 32
    default_input_size: ClassVar[int] = 224
    option_defaults: ClassVar[Mapping[str, Any]] = {}
    has_pretrained_weights: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        legacy = cls.__dict__.get("check_options")
        if legacy is not None and _takes_input_size(legacy) and cls.__name__ != "_LegacyBase":
            _adapt_legacy_check(cls, legacy)

    def check_input_size(self, size: int) -> None:
        """Reject an input side this architecture cannot take."""
        if isinstance(size, bool) or not isinstance(size, int):
            raise UsageError(f"input size {size!r} must be a whole number of pixels")
        if size < self.min_input_size:
            raise UsageError(
                f"input size {size} is below this backbone's minimum of "
                f"{self.min_input_size} pixels"
            )

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Validate options and return them completed with defaults."""
        return complete_options(options, self.option_defaults, "backbone")

    @abc.abstractmethod
    def build(self, weights: Weights, input_size: int, **options: Any) -> keras.Model:
        """Build the model (TensorFlow is imported here, lazily)."""


def check_weights(name: str, factory: BackboneFactory, weights: Weights) -> None:
    """Refuse ``imagenet`` for a backbone that declares no pretrained weights, naming it."""
    if weights.kind == "imagenet" and not factory.has_pretrained_weights:
        raise UsageError(f"backbone {name!r} has no pretrained weights; use weights 'none' "
                         "(random initialisation) or a weights file")


def _takes_input_size(method: Any) -> bool:
    """Whether ``method`` has the 0.1 signature ``check_options(self, input_size, options)``."""
    try:
        parameters = list(inspect.signature(method).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) == 3


class _LegacyBase(BackboneFactory):
    """Answers a 0.1 subclass's ``super().check_options(input_size, options)`` as 0.1 did."""

    def check_options(self, input_size: int, options: Mapping[str, Any]  # type: ignore[override]
                      ) -> dict[str, Any]:
        BackboneFactory.check_input_size(self, input_size)
        return BackboneFactory.check_options(self, options)


def _adapt_legacy_check(cls: type[BackboneFactory], legacy: Any) -> None:
    """Keep a 0.1 subclass's ``check_options(input_size, options)`` working, with a warning.

    The host calls the 0.2 methods; they run the subclass's own check, whose
    ``super()`` call reaches :class:`_LegacyBase`. Removed in the next release.
    """
    warnings.warn(
        f"{cls.__name__}.check_options(input_size, options) is deprecated: override "
        "check_input_size(size) and check_options(options) instead (see the changelog of "
        "docs/writing-plugins.md); the old form stops working in the next release",
        DeprecationWarning, stacklevel=4,  # past __init_subclass__ and ABCMeta.__new__
    )
    cls.__bases__ = tuple(_LegacyBase if base is BackboneFactory else base for base in cls.__bases__)

    def check_input_size(self: BackboneFactory, size: int) -> None:
        BackboneFactory.check_input_size(self, size)
        legacy(self, size, {k: v for k, v in self.option_defaults.items() if v is not REQUIRED})

    def check_options(self: BackboneFactory, options: Mapping[str, Any]) -> dict[str, Any]:
        return dict(legacy(self, self.default_input_size, options))

    cls.check_input_size = check_input_size  # type: ignore[method-assign]
    cls.check_options = check_options  # type: ignore[method-assign]
