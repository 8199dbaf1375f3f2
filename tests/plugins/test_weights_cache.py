"""ImageNet weights from the Keras cache without network, and one clear line when they are missing.

Every test here runs offline by construction: Keras's download function and every
socket connection raise, and each attempt is counted. The weights a cache is
pre-populated with are generated (a model built with ``weights=None``, saved in the
legacy HDF5 layout of keras.applications' files), so no real download is needed.
"""

from __future__ import annotations

import json
import socket
import urllib.error
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from blockbench_plugins import regnet
from blockbench_plugins.backbones import ARCHITECTURES
from blockbench_plugins.weights_cache import keras_cache_folder
from click.testing import CliRunner

from blockbench.cli.main import cli
from blockbench.components.backbone import Weights
from blockbench.core.errors import UsageError
from blockbench.plugin.manager import get_components

MOBILENET_FILE = "mobilenet_2_5_224_tf_no_top.h5"  # MobileNet V1 alpha 0.25: Keras checks no hash
VGG16_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"  # Keras checks its md5
SIZE = 32


def factory(name: str) -> Any:
    return get_components().backbones.get(name).factory


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """An empty Keras cache in ``tmp_path/keras`` and no network; returns the download attempts."""
    from keras.src.backend import config
    from keras.src.utils import file_utils

    home = tmp_path / "keras"
    home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(home))
    # Keras reads KERAS_HOME once, when it is first imported; point it at the new cache.
    monkeypatch.setattr(config, "_KERAS_DIR", str(home))
    attempts: list[str] = []

    def no_download(url: str, *args: Any, **kwargs: Any) -> None:
        attempts.append(url)
        raise urllib.error.URLError("offline test")

    def no_connection(self: socket.socket, address: Any) -> None:
        attempts.append(repr(address))
        raise OSError("offline test")

    monkeypatch.setattr(file_utils, "urlretrieve", no_download)
    monkeypatch.setattr(socket.socket, "connect", no_connection)
    return attempts


def _save_generated_mobilenet(path: Path) -> list[np.ndarray]:
    """Random MobileNet alpha 0.25 weights, saved as keras.applications' legacy HDF5 file."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    model = factory("mobilenet").build(Weights.parse("none"), SIZE, alpha=0.25)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, model)
    return [np.asarray(w) for w in model.get_weights()]


def _assert_weights(model: Any, expected: list[np.ndarray]) -> None:
    got = model.get_weights()
    assert len(got) == len(expected)
    for ours, saved in zip(got, expected, strict=True):
        np.testing.assert_array_equal(ours, saved)


def _assert_one_line_naming(message: str, name: str, folder: Path) -> None:
    assert "\n" not in message and "Traceback" not in message
    assert name in message
    assert f"the Keras cache folder {folder}" in message
    assert "--weights PATH" in message


@pytest.mark.tf
def test_cache_folder_is_the_one_keras_get_file_uses(offline: list[str], tmp_path: Path) -> None:
    import keras

    folder = tmp_path / "keras" / "models"
    assert keras_cache_folder() == str(folder)
    with pytest.raises(Exception, match="offline test"):
        keras.utils.get_file("x.h5", "https://example.invalid/x.h5", cache_subdir="models")
    assert offline == ["https://example.invalid/x.h5"]
    assert folder.is_dir()


@pytest.mark.tf
def test_an_unwritable_keras_home_falls_back_to_tmp_as_keras_does(
    offline: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from keras.src.utils import file_utils

    home = str(tmp_path / "keras")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: p != home and real_access(p, mode))
    targets: list[str] = []

    def record(url: str, target: str, *args: Any) -> None:
        targets.append(target)
        raise urllib.error.URLError("offline test")

    monkeypatch.setattr(file_utils, "urlretrieve", record)
    with pytest.raises(UsageError) as info:
        factory("mobilenet").build(Weights.parse("imagenet"), SIZE, alpha=0.25)
    assert keras_cache_folder() != os.path.join(home, "models")
    assert targets == [os.path.join(keras_cache_folder(), MOBILENET_FILE)]
    assert f"the Keras cache folder {keras_cache_folder()}," in str(info.value)


@pytest.mark.tf
def test_imagenet_loads_a_cached_file_of_the_expected_name_without_network(
    offline: list[str], tmp_path: Path
) -> None:
    cached = tmp_path / "keras" / "models" / MOBILENET_FILE
    saved = _save_generated_mobilenet(cached)
    fresh = factory("mobilenet").build(Weights.parse("none"), SIZE, alpha=0.25)
    differ = [not np.array_equal(a, b) for a, b in zip(fresh.get_weights(), saved, strict=True)]
    assert any(differ), "random initialisations must differ for the comparison to mean something"

    model = factory("mobilenet").build(Weights.parse("imagenet"), SIZE, alpha=0.25)
    _assert_weights(model, saved)
    assert offline == []


@pytest.mark.tf
def test_blocks_with_imagenet_weights_loads_the_cached_file_offline(
    offline: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from blockbench.cli import blocks_cmd

    saved = _save_generated_mobilenet(tmp_path / "keras" / "models" / MOBILENET_FILE)
    built: list[Any] = []
    build = blocks_cmd.build_backbone

    def build_and_keep(*args: Any) -> Any:
        built.append(build(*args))
        return built[-1]

    monkeypatch.setattr(blocks_cmd, "build_backbone", build_and_keep)
    result = CliRunner().invoke(cli, ["blocks", "mobilenet", "--backbone-option", "alpha=0.25",
                                      "--weights", "imagenet", "--input-size", str(SIZE),
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["weights"] == "imagenet"
    _assert_weights(built[0], saved)
    assert offline == []


@pytest.mark.tf
@pytest.mark.slow
def test_compare_with_imagenet_weights_trains_from_the_cached_file_offline(
    offline: list[str], tmp_path: Path
) -> None:
    _save_generated_mobilenet(tmp_path / "keras" / "models" / MOBILENET_FILE)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, [
        "compare", "-b", "mobilenet", "--backbone-option", "alpha=0.25", "--weights", "imagenet",
        "-d", "demo", "--input-size", str(SIZE), "--epochs", "1", "--seeds", "1",
        "--policy", "last-block", "--quiet", "--out", str(out)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    assert records and all(r["status"] == "ok" for r in records), records
    assert {r["spec"]["weights"] for r in records} == {"imagenet"}
    assert offline == []


@pytest.mark.tf
@pytest.mark.parametrize("arch", ARCHITECTURES, ids=lambda a: a.name)
def test_every_backbone_offline_with_an_empty_cache_is_one_line(
    arch: Any, offline: list[str], tmp_path: Path
) -> None:
    backbone = factory(arch.name)
    options = backbone.check_options({})
    with pytest.raises(UsageError) as info:
        backbone.build(Weights.parse("imagenet"), backbone.min_input_size, **options)
    name = backbone.imagenet_file(options).name
    _assert_one_line_naming(str(info.value), name, tmp_path / "keras" / "models")
    assert f"backbone {arch.name!r}" in str(info.value)
    assert len(offline) == 1  # one download attempt, refused
    assert not list((tmp_path / "keras" / "models").iterdir())  # nothing half-downloaded


@pytest.mark.tf
def test_regnet_called_directly_offline_is_one_line(offline: list[str], tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        regnet.RegNetX002(include_top=False, weights="imagenet", input_shape=(SIZE, SIZE, 3))
    _assert_one_line_naming(str(info.value), "regnetx002_notop.h5", tmp_path / "keras" / "models")


@pytest.mark.tf
def test_a_cached_file_with_the_wrong_hash_is_named_when_it_cannot_be_downloaded_again(
    offline: list[str], tmp_path: Path
) -> None:
    cached = tmp_path / "keras" / "models" / VGG16_FILE
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"not the official file")
    with pytest.raises(UsageError) as info:
        factory("vgg16").build(Weights.parse("imagenet"), SIZE)
    message = str(info.value)
    _assert_one_line_naming(message, VGG16_FILE, cached.parent)
    assert f"the cached file {cached} does not match the expected hash" in message
    assert "6d6bbae143d832006294945121d1f1fc" in message
    assert ("Keras removed it" in message) == (not cached.exists())


@pytest.mark.tf
@pytest.mark.parametrize("command", ["blocks", "compare"])
def test_cli_offline_with_an_empty_cache_is_one_line_exit_2(
    command: str, offline: list[str], tmp_path: Path
) -> None:
    flags = ["--backbone-option", "alpha=0.25", "--weights", "imagenet", "--input-size", str(SIZE)]
    if command == "blocks":
        args = ["blocks", "mobilenet", *flags]
    else:
        args = ["compare", "-b", "mobilenet", *flags, "-d", "demo", "--epochs", "1", "--seeds",
                "1", "--policy", "last-block", "--quiet", "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(cli, args)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1, result.output
    _assert_one_line_naming(lines[0], MOBILENET_FILE, tmp_path / "keras" / "models")


@pytest.mark.tf
def test_a_download_says_once_what_it_fetched_and_where(
        offline: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Keras's own progress is silenced, so a successful download is announced in one line."""
    from blockbench_plugins.weights_cache import WeightsFile, fetch_imagenet
    from keras.src.utils import file_utils

    def serve(url: str, filename: str, *args: Any, **kwargs: Any) -> None:
        Path(filename).write_bytes(b"\0" * 2048)

    monkeypatch.setattr(file_utils, "urlretrieve", serve)
    file = WeightsFile("fake_no_top.h5", "https://example.invalid/fake_no_top.h5")
    path = fetch_imagenet(file, "fake")
    assert Path(path).read_bytes() == b"\0" * 2048
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"downloaded the ImageNet weights of backbone 'fake': fake_no_top.h5 "
                   f"(0.0 MiB) into {keras_cache_folder()}"]
    fetch_imagenet(file, "fake")  # cached now: nothing to say
    assert capsys.readouterr().err == ""
