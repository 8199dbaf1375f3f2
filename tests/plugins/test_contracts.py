"""The contract suites on every built-in component, one class per registry entry.

As optuna runs its storage tests over every backend, this module runs the
contract suite of each kind over every component the built-in plugins
register: the classes are generated from the registries, so a new built-in is
checked without a line added here. ``SETTINGS`` holds what a component needs
beyond its defaults; variants with other options live beside each component's
own tests.

Backbones are built with random weights (``weights=none``) at their smallest
input size; the first build is the one the other plugin tests share
(``build_backbone`` in conftest.py), so the suite adds one more build per
backbone, for the determinism checks. The reference backbones are ``slow``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from blockbench_plugins.datasets import TFDSDataset
from blockbench_plugins.gradient_rank import SIGNAL

from blockbench.components.policy import Signal
from blockbench.plugin.manager import GROUP, OWN_DISTRIBUTION, get_components
from blockbench.plugin.registry import Entry
from blockbench.testing import (
    BackboneContract,
    DatasetContract,
    FakeEvaluator,
    PartitionContract,
    PolicyContract,
)

#: The module each built-in plugin's entry point names, by plugin name ("blockbench.demo").
BUILTIN_MODULES = {f"{OWN_DISTRIBUTION}.{ep.name}": ep.module
                   for ep in metadata.entry_points(group=GROUP)
                   if ep.dist is not None and ep.dist.name.lower() == OWN_DISTRIBUTION}

#: Backbones small enough for the default (not slow) run; every other one is slow.
LIGHT_BACKBONES = {"demo-cnn"}


def _builtins(kind: str) -> list[Entry[Any]]:
    return [e for e in get_components().registry(kind) if e.plugin in BUILTIN_MODULES]


def _runs_offline(kind: str, entry: Entry[Any]) -> bool:
    """False for the TFDS collections: they download their data (test_tfds_prepare.py runs
    the contract on copies their real builders prepared offline)."""
    return not (kind == "dataset" and isinstance(entry.factory, TFDSDataset))


def _class_name(kind: str, entry: Entry[Any]) -> str:
    return "Test" + kind.capitalize() + "".join(p.capitalize() for p in entry.name.split("-"))


class SharedBuild(BackboneContract):
    """Takes the first build from the session cache the other plugin tests share."""

    @pytest.fixture(scope="class")
    @classmethod
    def built_backbone(cls, build_backbone: Any, backbone_input_size: int) -> Any:
        assert cls.registered_name is not None and not cls.options
        return build_backbone(cls.registered_name, backbone_input_size)


class GradientSignalContract(PolicyContract):
    """The policy contract with an evaluator that also serves a gradient-norm signal."""

    def evaluator(self, profile: str, failing: Any = ()) -> FakeEvaluator:
        plain = super().evaluator(profile, failing)
        scores = {t: (7 * i) % 11 / 10 for i, t in enumerate(sorted(plain.val_accuracies))}
        signal = Signal(SIGNAL, {}, scores, runs=1, epochs=2)
        return FakeEvaluator(plain.val_accuracies, plain.test_accuracies,
                             full_epochs=plain.full_epochs, failing=failing,
                             signals={SIGNAL: signal})


class ImageFolderContract(DatasetContract):
    """The dataset contract on a tiny generated folder of real JPEG and PNG files."""

    @pytest.fixture(scope="class")
    @classmethod
    def dataset_factory(cls, tmp_path_factory: pytest.TempPathFactory) -> Any:
        cls.options = {"path": str(_tiny_image_folder(tmp_path_factory.mktemp("folder")))}
        return cls.factory


def _tiny_image_folder(root: Path) -> Path:
    """Three classes of four images each, JPEG and PNG, one in a nested folder."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    for c, name in enumerate(["circle", "square", "triangle"]):
        for i in range(4):
            pixels = rng.integers(0, 256, (16 + 3 * i, 20 - c, 3), dtype=np.uint8)
            jpeg = i % 2 == 0
            folder = root / name / ("more" if i == 3 else "")
            folder.mkdir(parents=True, exist_ok=True)
            encoded = tf.io.encode_jpeg(pixels) if jpeg else tf.io.encode_png(pixels)
            (folder / f"{i}.{'jpg' if jpeg else 'png'}").write_bytes(encoded.numpy())
    return root


#: What a component needs beyond its defaults: class attributes, or the base class to use.
SETTINGS: dict[tuple[str, str], dict[str, Any]] = {
    ("dataset", "demo"): {"options": {"n_per_class": 10}},
    ("dataset", "image-folder"): {"base": ImageFolderContract, "pytestmark": [pytest.mark.tf]},
    # The contract's tiny backbone names its units b1_, b2_: no family pattern knows them.
    ("partition", "stage"): {"options": {"pattern": r"^(b\d)_"}},
    ("policy", "gradient-rank"): {"base": GradientSignalContract},
    ("policy", "optuna-gp"): {"pytestmark": [pytest.mark.skipif(
        importlib.util.find_spec("torch") is None,
        reason="optuna-gp needs PyTorch, which is not installed")]},
}


def _contracts() -> Iterator[tuple[str, type]]:
    kinds = [("backbone", BackboneContract, "factory"), ("dataset", DatasetContract, "factory"),
             ("partition", PartitionContract, "strategy"), ("policy", PolicyContract, "factory")]
    for kind, contract, attribute in kinds:
        for entry in _builtins(kind):
            if not _runs_offline(kind, entry):
                continue
            settings = dict(SETTINGS.get((kind, entry.name), {}))
            base = settings.pop("base", SharedBuild if kind == "backbone" else contract)
            if kind == "backbone" and entry.name not in LIGHT_BACKBONES:
                settings["pytestmark"] = [pytest.mark.slow, pytest.mark.tf]
            name = _class_name(kind, entry)
            yield name, type(name, (base,), {
                "__module__": __name__,
                attribute: entry.factory,
                "registered_name": entry.name,
                "plugin_module": BUILTIN_MODULES[entry.plugin],
                **settings,
            })


CONTRACTS = dict(_contracts())
globals().update(CONTRACTS)


def test_every_builtin_component_has_a_contract_class() -> None:
    assert not get_components().errors
    for kind in ("backbone", "dataset", "partition", "policy"):
        expected = {_class_name(kind, e) for e in _builtins(kind) if _runs_offline(kind, e)}
        assert expected and expected <= set(CONTRACTS), kind
    backbones = {name for name, cls in CONTRACTS.items() if issubclass(cls, BackboneContract)}
    assert len(backbones) == 16  # demo-cnn and the 15 reference backbones
    assert {"TestDatasetDemo", "TestDatasetImageFolder"} <= set(CONTRACTS)
