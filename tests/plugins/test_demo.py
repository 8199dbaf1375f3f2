"""Tests of the offline demo: backbone demo-cnn, dataset demo, generator and pretraining script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from blockbench_plugins import demo, demo_data, pretrain_demo

from blockbench.components.backbone import Weights
from blockbench.core.errors import UsageError
from blockbench.core.task import SplitConfig
from blockbench.data.split import make_split
from blockbench.plugin.manager import get_components

WEIGHTS_FILE = Path(demo.__file__).parent / demo.WEIGHTS_RESOURCE


def load(**options: Any) -> tuple[np.ndarray, np.ndarray, Any]:
    source = demo.DemoDataset().load(**options)
    examples = list(source.examples)
    images = np.stack([e.image for e in examples])
    labels = np.array([e.label for e in examples])
    return images, labels, source


def test_demo_components_are_registered_by_the_builtin_plugin() -> None:
    components = get_components()
    assert components.backbones.get("demo-cnn").plugin == "blockbench.demo"
    assert components.datasets.get("demo").plugin == "blockbench.demo"
    assert isinstance(components.backbones.get("DemoCNN").factory, demo.DemoCNN)


def test_importing_the_demo_modules_does_not_import_tensorflow() -> None:
    code = ("import sys, blockbench_plugins.demo, blockbench_plugins.pretrain_demo; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_dataset_is_deterministic_balanced_decoded_and_unsplit() -> None:
    images, labels, source = load(n_per_class=12)
    again, labels_again, source_again = load(n_per_class=12)
    assert np.array_equal(images, again) and np.array_equal(labels, labels_again)
    assert source.fingerprint == source_again.fingerprint
    assert source.fingerprint.startswith(f"demo-v{demo_data.GENERATOR_VERSION}:")
    assert source.class_names == ["tee-up", "tee-down", "ell-up", "ell-down", "vee-up", "vee-down"]
    assert np.bincount(labels).tolist() == [12] * 6
    assert images.shape == (72, demo_data.IMAGE_SIZE, demo_data.IMAGE_SIZE, 3)
    assert images.dtype == np.uint8 and images.std() > 20  # real pictures, not blank
    assert not source.has_official_split and all(e.split is None for e in source.examples)


def test_default_dataset_splits_70_20_10_in_every_class() -> None:
    _, labels, source = load()
    parts = make_split(labels, SplitConfig(), class_names=source.class_names)
    for part, share in zip(("train", "val", "test"), (0.7, 0.2, 0.1), strict=True):
        counts = np.bincount(labels[parts[part]], minlength=6)
        assert counts.tolist() == [round(share * demo.N_PER_CLASS)] * 6


def test_smallest_dataset_still_leaves_a_test_image_per_class() -> None:
    _, labels, source = load(n_per_class=10)
    parts = make_split(labels, SplitConfig(), class_names=source.class_names)
    assert np.bincount(labels[parts["test"]], minlength=6).min() >= 1


def test_options_change_content_and_fingerprint_and_images_are_stable_prefixes() -> None:
    images, _, source = load(n_per_class=10)
    more, _, source_more = load(n_per_class=11)
    other_seed, _, source_seed = load(n_per_class=10, seed=1)
    assert len({source.fingerprint, source_more.fingerprint, source_seed.fingerprint}) == 3
    assert np.array_equal(images[:10], more[:10])  # class 0's first images do not move
    assert not np.array_equal(images, other_seed)


def test_source_and_target_tasks_use_different_shapes() -> None:
    source_shapes = {shape for _, shape, _ in demo_data.TASKS["source"].classes}
    target_shapes = {shape for _, shape, _ in demo_data.TASKS["target"].classes}
    assert len(source_shapes) == 10 and len(target_shapes) == 3
    assert not source_shapes & target_shapes


@pytest.mark.parametrize(
    "options",
    [{"n_per_class": 5}, {"n_per_class": "many"}, {"n_per_class": True}, {"n_per_class": 2.5},
     {"seed": -1}, {"seed": "x"}, {"size": 64}],
)
def test_bad_dataset_options_are_one_line_usage_errors(options: dict[str, Any]) -> None:
    with pytest.raises(UsageError) as info:
        demo.DemoDataset().check_options(options)
    name, value = next(iter(options.items()))
    assert "\n" not in str(info.value) and name in str(info.value)
    assert name == "size" or repr(value) in str(info.value)


def test_dataset_options_given_as_text_are_accepted() -> None:
    assert demo.DemoDataset().check_options({"n_per_class": "20", "seed": "3"}) == {
        "n_per_class": 20, "seed": 3}


def test_pretrain_script_rejects_an_output_name_keras_cannot_write(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        pretrain_demo.main(["--out", "weights.h5"])
    assert info.value.code == 2
    assert "must end in .weights.h5" in capsys.readouterr().err


def test_shipped_weights_file_is_small_and_packaged() -> None:
    assert WEIGHTS_FILE.is_file()
    assert WEIGHTS_FILE.stat().st_size < 1_000_000


@pytest.mark.tf
def test_shipped_file_holds_exactly_the_architecture_variables() -> None:
    import h5py

    model = demo.build_demo_cnn()
    with h5py.File(WEIGHTS_FILE, "r") as handle:
        shapes: list[tuple[int, ...]] = []
        handle.visititems(lambda _, item: shapes.append(item.shape)
                          if isinstance(item, h5py.Dataset) else None)
    assert sorted(shapes) == sorted(tuple(w.shape) for w in model.weights)


@pytest.mark.tf
def test_imagenet_means_the_shipped_pretrained_weights() -> None:
    factory = demo.DemoCNN()
    model = factory.build(Weights.parse("imagenet"), 32)
    assert model.output.shape == (None, 2, 2, 64)
    reference = demo.build_demo_cnn()
    reference.load_weights(str(WEIGHTS_FILE))
    for got, want in zip(model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    random = factory.build(Weights.parse("none"), 32)
    conv = [w for w in model.weights if "kernel" in w.path]
    assert len(conv) == len(demo.STAGES)
    fresh = {w.path: w.numpy() for w in random.weights}
    assert all(not np.allclose(w.numpy(), fresh[w.path]) for w in conv)
    # Pretraining moved the BatchNorm statistics off their initial 0 / 1.
    means = [w.numpy() for w in model.weights if "moving_mean" in w.path]
    assert all(np.abs(m).max() > 0.01 for m in means)
    assert all(np.allclose(w.numpy(), 0) for w in random.weights if "moving_mean" in w.path)


@pytest.mark.tf
@pytest.mark.filterwarnings("ignore:Skipping nested container")  # Keras, before it gives up
def test_file_weights_load_and_a_foreign_file_is_a_usage_error(tmp_path: Path) -> None:
    import keras

    factory = demo.DemoCNN()
    model = factory.build(Weights.parse(str(WEIGHTS_FILE)), 48)
    assert model.output.shape == (None, 3, 3, 64)  # the weights fit any input size
    foreign = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    path = tmp_path / "foreign.weights.h5"
    foreign.save_weights(str(path))
    with pytest.raises(UsageError, match="does not fit demo-cnn") as info:
        factory.build(Weights.parse(str(path)), 32)
    assert "\n" not in str(info.value) and "foreign.weights.h5" in str(info.value)


@pytest.mark.tf
def test_delimiter_partition_makes_one_block_per_conv_stage() -> None:
    from blockbench.components.partition import build_partition

    model = demo.DemoCNN().build(Weights.parse("none"), 32)
    strategy = get_components().partitions.get("delimiter").factory
    partition = build_partition("delimiter", strategy, model)
    assert len(partition) == len(demo.STAGES)
    for k, block in enumerate(partition.blocks, start=1):
        assert {name.split("_")[0] for name in block.layers} == {f"stage{k}"}
        assert block.trainable_params > 0


@pytest.mark.tf
@pytest.mark.slow
def test_pretraining_a_few_steps_writes_weights_demo_cnn_loads(tmp_path: Path) -> None:
    out = tmp_path / "tiny.weights.h5"
    result = pretrain_demo.pretrain(out, n_per_class=3, val_per_class=1, epochs=1,
                                    batch_size=16, verbose=0)
    assert result.path == out and result.sha256 == pretrain_demo.file_sha256(out)
    assert 0.0 <= result.val_accuracy <= 1.0
    model = demo.DemoCNN().build(Weights.parse(str(out)), 32)
    assert len(model.get_weights()) == len(demo.build_demo_cnn().get_weights())
