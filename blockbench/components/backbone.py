"""The backbone contract: a registered factory that builds a pretrained Keras feature extractor."""

from __future__ import annotations

import abc
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from blockbench.core.errors import UsageError
from blockbench.core.options import complete_options

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
        2. :meth:`check_options` validates and completes the user's options
           (input size, width multiplier, ...) before any model is built; bad
           values raise :class:`~blockbench.core.errors.UsageError`.
        3. :meth:`build` returns a ``keras.Model`` without its classification
           top: input ``(input_size, input_size, 3)`` float32 images already
           preprocessed with :attr:`preprocessing`, output a 4-D feature map.
           The engine calls it once per process per identity and keeps the
           initial weights in memory between runs.

    Attributes:
        preprocessing: the scheme the ImageNet weights expect (see PREPROCESSING_MODES).
        min_input_size: smallest input side the architecture accepts.
        default_input_size: input side used when the user gives none.
        option_defaults: extra options and their defaults, e.g. ``{"alpha": 1.0}``.
    """

    preprocessing: ClassVar[str] = "tf"
    min_input_size: ClassVar[int] = 32
    default_input_size: ClassVar[int] = 224
    option_defaults: ClassVar[Mapping[str, Any]] = {}

    def check_options(self, input_size: int, options: Mapping[str, Any]) -> dict[str, Any]:
        """Validate options and return them completed with defaults."""
        if input_size < self.min_input_size:
            raise UsageError(
                f"input size {input_size} is below this backbone's minimum of "
                f"{self.min_input_size} pixels"
            )

        return complete_options(options, self.option_defaults, "backbone option")

    @abc.abstractmethod
    def build(self, weights: Weights, input_size: int, **options: Any) -> keras.Model:
        """Build the model (TensorFlow is imported here, lazily)."""
