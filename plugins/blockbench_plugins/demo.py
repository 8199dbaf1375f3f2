"""The offline demo: backbone ``demo-cnn`` (weights shipped) and dataset ``demo`` (synthetic).

A bare ``blockbench compare`` runs on these two with no network and no
downloads. ``demo-cnn`` is a small VGG-style CNN (five conv -> BN -> ReLU
stages, 70k parameters) whose pretrained weights were trained by
:mod:`blockbench_plugins.pretrain_demo` on a *source* task (name one of ten
shapes shown at any angle) and ship in ``blockbench_plugins/data``. ``demo`` is
the *target* task rendered by :mod:`blockbench_plugins.demo_data`: three shapes
the source never shows, each upright or upside down. See ``docs/demo.md``.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from blockbench.components.backbone import BackboneFactory, Weights
from blockbench.components.dataset import DatasetFactory, DatasetSource, Example
from blockbench.core.errors import BlockbenchError, UsageError
from blockbench.plugin.hookspecs import hookimpl
from blockbench_plugins import demo_data

if TYPE_CHECKING:
    import keras

#: (filters, followed by 2x2 max pooling) of each conv -> BN -> ReLU stage, i.e. of each block.
STAGES: tuple[tuple[int, bool], ...] = ((16, True), (32, True), (32, False), (64, True), (64, True))
WEIGHTS_RESOURCE = "data/demo_cnn.weights.h5"
#: Default images per class of the demo dataset (see docs/demo.md for the choice).
N_PER_CLASS = 120


def build_demo_cnn(input_size: int = 32) -> keras.Model:
    """The demo-cnn architecture with freshly initialised weights (no classification top).

    Each stage is a separate Conv2D (no bias, no activation), BatchNormalization
    and ReLU, then 2x2 max pooling where :data:`STAGES` says, so a delimiter
    partition makes one block per stage. Layers are named ``stage<k>_conv|bn|relu|pool``.
    """
    import keras

    inputs = keras.Input((input_size, input_size, 3), name="demo_input")
    x = inputs
    for k, (filters, pool) in enumerate(STAGES, start=1):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"stage{k}_conv")(x)
        x = keras.layers.BatchNormalization(name=f"stage{k}_bn")(x)
        x = keras.layers.ReLU(name=f"stage{k}_relu")(x)
        if pool:
            x = keras.layers.MaxPooling2D(2, name=f"stage{k}_pool")(x)
    return keras.Model(inputs, x, name="demo_cnn")


@contextmanager
def shipped_weights() -> Iterator[Path]:
    """Path of the pretrained weights shipped in the package (a real file while in use)."""
    resource = importlib.resources.files("blockbench_plugins").joinpath(WEIGHTS_RESOURCE)
    if not resource.is_file():
        raise BlockbenchError(
            f"the demo-cnn weights {WEIGHTS_RESOURCE!r} are missing from the installed package; "
            "rebuild them with 'python -m blockbench_plugins.pretrain_demo' or use --weights none"
        )
    with importlib.resources.as_file(resource) as path:
        yield path


def load_weights(model: keras.Model, path: Path | str) -> None:
    """Load a demo-cnn weights file, or fail with one line naming it."""
    try:
        model.load_weights(str(path))
    except Exception as exc:  # keras raises ValueError, KeyError or OSError depending on the mismatch
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"weights file {str(path)!r} does not fit demo-cnn: {first}") from exc


class DemoCNN(BackboneFactory):
    """Tiny 5-stage CNN (70k params) pretrained on synthetic shapes; weights ship with blockbench."""

    preprocessing: ClassVar[str] = "unit"
    min_input_size: ClassVar[int] = 32
    default_input_size: ClassVar[int] = demo_data.IMAGE_SIZE
    #: ``--weights imagenet`` loads the weights pretrained on the source task, shipped in the package.
    has_pretrained_weights: ClassVar[bool] = True

    def build(self, weights: Weights, input_size: int, **options: Any) -> keras.Model:
        model = build_demo_cnn(input_size)
        if weights.kind == "imagenet":
            with shipped_weights() as path:
                load_weights(model, path)
        elif weights.kind == "file":
            assert weights.path is not None
            load_weights(model, weights.path)
        return model


def _whole_number(name: str, value: Any, low: int, high: int) -> int:
    """``value`` as an int in [low, high] (strings of digits accepted, as the CLI passes them)."""
    text = str(value).strip()
    if isinstance(value, bool) or not (isinstance(value, int) or text.isdigit()) \
            or not low <= int(text) <= high:
        raise UsageError(f"dataset option {name}={value!r} must be a whole number from {low} to {high}")
    return int(text)


class DemoDataset(DatasetFactory):
    """Six synthetic classes: three unseen shapes, each upright or upside down (offline)."""

    option_defaults: ClassVar[Mapping[str, Any]] = {"n_per_class": N_PER_CLASS, "seed": 0}

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        checked = super().check_options(options)
        # 10 images per class is the least a 70/20/10 split leaves a test image of each class.
        checked["n_per_class"] = _whole_number("n_per_class", checked["n_per_class"], 10, 5000)
        checked["seed"] = _whole_number("seed", checked["seed"], 0, 2**31 - 1)
        return checked

    def load(self, **options: Any) -> DatasetSource:
        opts = self.check_options(options)
        task = demo_data.make_task("target", opts["n_per_class"], opts["seed"])
        examples = [
            Example(image, int(label), None, f"demo:{task.class_names[label]}:{i}")
            for i, (image, label) in enumerate(zip(task.images, task.labels, strict=True))
        ]
        return DatasetSource(list(task.class_names), examples, demo_data.fingerprint(task))


@hookimpl
def register_backbones(register) -> None:  # type: ignore[no-untyped-def]
    register("demo-cnn", DemoCNN(), description=(DemoCNN.__doc__ or "").splitlines()[0])


@hookimpl
def register_datasets(register) -> None:  # type: ignore[no-untyped-def]
    register("demo", DemoDataset(), description=(DemoDataset.__doc__ or "").splitlines()[0])
