"""TFDS's real oxford_flowers102 and caltech101 builders prepare tiny archives offline.

Only the network is replaced: ``tensorflow_datasets``' ``downloader._open_url`` serves tiny
archives, written here in the official formats, for the URLs each builder registers in its
``checksums.tsv`` (read through the builder's real ``url_infos``, the code that needed
``importlib_resources``). Tiny archives cannot match the real files' checksums, so the
builder's registered url infos are then replaced by the tiny files' own (same URLs, computed
size and sha256). Everything else runs for real: the download manager and its checksum check,
extraction, the builders' ``_generate_examples``, writing TFRecords, ``tfds.load``, and then
blockbench's dataset factory, decoding, official split and ``compare``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from blockbench.cli.main import cli
from blockbench.core.errors import BlockbenchError, UsageError
from blockbench.core.task import SplitConfig
from blockbench.data import prepare as data
from blockbench.plugin.manager import get_components
from blockbench.testing import DatasetContract

pytestmark = pytest.mark.tf

N_CLASSES = 102
#: Caltech-101 class folders as the real archive spells them (TFDS lower-cases them).
CALTECH_CASE = {"background_google": "BACKGROUND_Google", "faces": "Faces",
                "faces_easy": "Faces_easy", "leopards": "Leopards", "motorbikes": "Motorbikes"}


def _jpeg(label: int, blue: int = 128) -> bytes:
    """An 8x8 solid-colour JPEG whose red and green carry ``label`` in base 16 (JPEG-proof)."""
    from PIL import Image

    out = io.BytesIO()
    colour = (16 * (label // 16) + 8, 16 * (label % 16) + 8, blue)
    Image.new("RGB", (8, 8), colour).save(out, "JPEG", quality=95)
    return out.getvalue()


def _add(tar: tarfile.TarFile, name: str, content: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    tar.addfile(info, io.BytesIO(content))


class _Response:
    """What ``downloader._get_filename`` reads: the url and the headers."""

    def __init__(self, url: str, path: Path) -> None:
        self.url = url
        self.headers = {"content-disposition": f'attachment; filename="{path.name}"',
                        "Content-length": str(path.stat().st_size)}


@contextlib.contextmanager
def _offline_tfds(name: str, files: dict[str, Path]) -> Iterator[dict[str, Any]]:
    """Serve ``files`` (url -> tiny file) for builder ``name``; any other url fails."""
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core.download import checksums, downloader

    cls = tfds.builder_cls(name)
    registered = cls.url_infos  # the real checksums.tsv, through the builder's own code
    assert set(files) <= set(registered), sorted(registered)

    @contextlib.contextmanager
    def open_url(url: str, **_: Any) -> Iterator[tuple[_Response, Iterator[bytes]]]:
        if url not in files:
            raise ConnectionError(f"no network in this test: {url}")
        yield _Response(url, files[url]), iter([files[url].read_bytes()])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(downloader, "_open_url", open_url)
        patch.setattr(cls, "url_infos", {url: checksums.compute_url_info(path)
                                         for url, path in files.items()})
        yield registered


def _flowers_archives(root: Path) -> tuple[dict[str, Path], dict[str, Any]]:
    """``102flowers.tgz`` (an uncompressed tar, as the real one), ``imagelabels.mat``, ``setid.mat``.

    Every class has one image in each official split; classes 0-3 have a second training
    image and classes 4-13 a second test image: 106 / 102 / 112 images, ids shuffled.
    """
    import scipy.io

    per_class = [[c, c, c] for c in range(N_CLASSES)]
    for c in range(4):
        per_class[c].insert(0, c)
    for c in range(4, 14):
        per_class[c].append(c)
    ids = np.random.default_rng(7).permutation(sum(map(len, per_class))) + 1
    labels = np.zeros(len(ids), dtype=np.uint8)  # 1-based in the .mat, as the real file
    setid: dict[str, list[int]] = {"trnid": [], "valid": [], "tstid": []}
    cursor = 0
    for c, members in enumerate(per_class):
        mine = sorted(int(i) for i in ids[cursor:cursor + len(members)])
        cursor += len(members)
        labels[[i - 1 for i in mine]] = c + 1
        extra_train = len(members) == 4 and c < 4
        cut = 2 if extra_train else 1
        setid["trnid"] += mine[:cut]
        setid["valid"] += mine[cut:cut + 1]
        setid["tstid"] += mine[cut + 1:]
    root.mkdir(parents=True)
    with tarfile.open(root / "102flowers.tgz", "w") as tar:
        for image_id in sorted(int(i) for i in ids):
            _add(tar, f"jpg/image_{image_id:05d}.jpg", _jpeg(int(labels[image_id - 1]) - 1))
    scipy.io.savemat(root / "imagelabels.mat", {"labels": labels[None, :]})
    scipy.io.savemat(root / "setid.mat", {k: np.asarray(v, dtype=np.uint16)[None, :]
                                          for k, v in setid.items()})
    base = "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/"
    files = {base + n: root / n for n in ("102flowers.tgz", "imagelabels.mat", "setid.mat")}
    truth = {"labels": {f"image_{i:05d}.jpg": int(labels[i - 1]) - 1 for i in ids},
             "split": {f"image_{i:05d}.jpg": s for s, v in
                       (("train", setid["trnid"]), ("val", setid["valid"]), ("test", setid["tstid"]))
                       for i in v}}
    return files, truth


def _caltech_archive(root: Path) -> tuple[dict[str, Path], dict[str, int]]:
    """``caltech-101.zip`` holding ``caltech-101/101_ObjectCategories.tar.gz``, 31-33 images a class.

    Returns the files and the number of images written per (lower-case) class name.
    """
    import tensorflow_datasets as tfds

    names = tfds.builder("caltech101").info.features["label"].names
    tar_bytes = io.BytesIO()
    counts: dict[str, int] = {}
    with tarfile.open(fileobj=tar_bytes, mode="w:gz") as tar:
        for label, name in enumerate(names):
            counts[name] = 31 + label % 3  # at least 30 train + 1 test, or the builder refuses
            folder = CALTECH_CASE.get(name, name)
            for i in range(counts[name]):
                _add(tar, f"101_ObjectCategories/{folder}/image_{i + 1:04d}.jpg",
                     _jpeg(label, blue=4 * i))
    root.mkdir(parents=True)
    with zipfile.ZipFile(root / "caltech-101.zip", "w") as archive:
        archive.writestr("caltech-101/101_ObjectCategories.tar.gz", tar_bytes.getvalue())
        archive.writestr("caltech-101/show_annotation.m", "% not an image\n")
    url = "https://data.caltech.edu/records/mzrjq-6wc02/files/caltech-101.zip?download=1"
    return {url: root / "caltech-101.zip"}, counts


@pytest.fixture(scope="module")
def flowers(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A data_dir where TFDS's own oxford_flowers102 builder prepared the tiny archives."""
    import tensorflow_datasets as tfds

    tmp = tmp_path_factory.mktemp("flowers")
    files, truth = _flowers_archives(tmp / "archives")
    with _offline_tfds("oxford_flowers102", files) as registered:
        assert set(registered) == set(files)  # the builder asks for exactly these three
        builder = tfds.builder("oxford_flowers102", data_dir=str(tmp / "tfds"))
        builder.download_and_prepare()
    return tmp / "tfds", truth


@pytest.fixture(scope="module")
def caltech(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """A data_dir where TFDS's own caltech101 builder prepared the tiny archive."""
    import tensorflow_datasets as tfds

    tmp = tmp_path_factory.mktemp("caltech")
    files, counts = _caltech_archive(tmp / "archives")
    with _offline_tfds("caltech101", files):
        tfds.builder("caltech101", data_dir=str(tmp / "tfds")).download_and_prepare()
    return tmp / "tfds", counts


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    data.clear_cache()
    yield
    data.clear_cache()


def _label_from_colour(images: np.ndarray) -> np.ndarray:
    red, green = (np.floor(images[..., c].reshape(len(images), -1).mean(axis=1) / 16) for c in (0, 1))
    return (16 * red + green).astype(int)


def test_flowers_prepared_by_the_real_builder_load_with_their_labels_and_official_split(
        flowers: tuple[Path, dict[str, Any]]) -> None:
    data_dir, truth = flowers
    entry = get_components().datasets.get("oxford-flowers102")
    source = entry.factory.load(data_dir=str(data_dir), download=False)
    assert len(source.class_names) == N_CLASSES and source.class_names[0] == "pink primrose"
    assert source.fingerprint == "tfds:oxford_flowers102/2.1.1" and source.has_official_split
    examples = list(source.examples)
    files = [e.ref.split(" (")[1].rstrip(")") for e in examples]
    assert sorted(files) == sorted(truth["labels"])
    assert [e.label for e in examples] == [truth["labels"][f] for f in files]
    assert [e.split for e in examples] == [truth["split"][f] for f in files]

    prepared = data.prepare(entry.name, entry.factory, {"data_dir": str(data_dir),
                                                        "download": False},
                            8, SplitConfig(kind="official"))
    assert {s: len(i) for s, i in prepared.indices.items()} == {"train": 106, "val": 102, "test": 112}
    assert prepared.split_identity == {"kind": "official"}  # the official val, nothing carved
    assert (_label_from_colour(prepared.images) == prepared.labels).all()
    default = data.prepare(entry.name, entry.factory, {"data_dir": str(data_dir), "download": False},
                           8, SplitConfig())
    assert default.split_identity["kind"] == "stratified"  # 70/20/10 stays the default
    # 3 images a class give 1/1/1, 4 give 2/1/1 (largest remainder, every split at least one)
    assert {s: len(i) for s, i in default.indices.items()} == {"train": 116, "val": 102, "test": 102}


def test_caltech_prepared_by_the_real_builder_gets_a_deterministic_carved_validation_set(
        caltech: tuple[Path, dict[str, int]]) -> None:
    data_dir, counts = caltech
    entry = get_components().datasets.get("caltech101")
    options = {"data_dir": str(data_dir), "download": False}
    source = entry.factory.load(**options)
    assert len(source.class_names) == N_CLASSES and "background_google" in source.class_names

    official = SplitConfig(kind="official")
    prepared = data.prepare(entry.name, entry.factory, options, 8, official)
    assert (_label_from_colour(prepared.images) == prepared.labels).all()
    per_class = {s: np.bincount(prepared.labels[i], minlength=N_CLASSES)
                 for s, i in prepared.indices.items()}
    # TFDS samples 30 training images a class; blockbench moves 0.2 / 0.9 of them (7) to val.
    assert (per_class["train"] == 23).all() and (per_class["val"] == 7).all()
    assert per_class["test"].tolist() == [counts[n] - 30 for n in prepared.class_names]
    assert prepared.split_identity == {"kind": "official", "val_from_train": 0.222222, "seed": 0}

    again = data.prepare(entry.name, entry.factory, options, 8, official)
    assert all((again.indices[s] == prepared.indices[s]).all() for s in prepared.indices)
    other = data.prepare(entry.name, entry.factory, options, 8, SplitConfig(kind="official", seed=1))
    assert not (other.indices["val"] == prepared.indices["val"]).all()
    assert (other.indices["test"] == prepared.indices["test"]).all()  # only the carve-out moves


def test_compare_runs_on_the_prepared_flowers_with_the_official_split(
        flowers: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    data_dir, _ = flowers
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, [
        "compare", "-b", "demo-cnn", "-d", "oxford-flowers102", "--dataset-option",
        f"data_dir={data_dir}", "--dataset-option", "download=false", "--official-split",
        "--weights", "none", "--input-size", "32", "--epochs", "1", "--seeds", "1",
        "--policy", "last-block", "--quiet", "--out", str(out)])
    assert result.exit_code == 0, result.output
    runs = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    assert runs and all(r["status"] == "ok" for r in runs)
    assert {r["spec"]["dataset"] for r in runs} == {"oxford-flowers102"}
    assert all(r["spec"]["split"] == {"kind": "official"} for r in runs)
    assert {(r["n_train"], r["n_val"], r["n_test"]) for r in runs} == {(106, 102, 112)}


def _error_line(args: list[str]) -> tuple[int, str]:
    """The exit code and the one line blockbench writes (after TFDS's own download progress)."""
    result = CliRunner().invoke(cli, args)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert "Traceback" not in result.output, result.output
    errors = [line for line in lines if line.startswith("Error: ")]
    assert errors == lines[-1:], result.output
    return result.exit_code, lines[-1].removeprefix("Error: ")


def test_offline_download_is_one_line_that_says_what_to_do(tmp_path: Path) -> None:
    with _offline_tfds("oxford_flowers102", {}):  # serves nothing: every download fails
        code, line = _error_line(["compare", "-b", "demo-cnn", "-d", "oxford-flowers102",
                                  "--dataset-option", f"data_dir={tmp_path / 'tfds'}",
                                  "--epochs", "1", "--seeds", "1", "--out", str(tmp_path / "o")])
        with pytest.raises(BlockbenchError) as raised:
            get_components().datasets.get("caltech101").factory.load(data_dir=str(tmp_path / "c"))
    assert code == BlockbenchError.exit_code
    assert line == ("downloading oxford_flowers102 needs network access; or point `--dataset-option "
                    "data_dir=...` (or `TFDS_DATA_DIR`) at a prepared copy")
    assert str(raised.value).startswith("downloading caltech101 needs network access; ")


def test_not_prepared_without_download_says_where_it_looked(tmp_path: Path) -> None:
    code, line = _error_line(["compare", "-b", "demo-cnn", "-d", "oxford-flowers102",
                              "--dataset-option", f"data_dir={tmp_path / 'given'}",
                              "--dataset-option", "download=false", "--out", str(tmp_path / "o")])
    assert code == UsageError.exit_code
    assert line.startswith(f"oxford_flowers102 is not prepared in "
                           f"{tmp_path / 'given' / 'oxford_flowers102' / '2.1.1'} and download=false; ")
    assert "`--dataset-option download=true`" in line and "`TFDS_DATA_DIR`" in line


def test_tfds_data_dir_is_where_it_looks_without_a_data_dir(tmp_path: Path) -> None:
    """TFDS reads ``TFDS_DATA_DIR`` when it is imported, so this runs in a fresh process."""
    code = ("from blockbench_plugins.tfds_datasets import TFDSDataset\n"
            "try:\n"
            "    TFDSDataset('oxford_flowers102', {'train': 'train'}).load(download=False)\n"
            "except Exception as exc:\n"
            "    print(type(exc).__name__, exc)\n")
    env = {**os.environ, "TFDS_DATA_DIR": str(tmp_path / "env"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True, timeout=300)
    assert (f"UsageError oxford_flowers102 is not prepared in "
            f"{tmp_path / 'env' / 'oxford_flowers102' / '2.1.1'} and download=false") in done.stdout


def test_a_module_missing_on_the_preparation_path_names_the_pip_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tensorflow_datasets as tfds

    def missing(*_: Any, **__: Any) -> None:
        raise ModuleNotFoundError("No module named 'importlib_resources'", name="importlib_resources")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", missing)
    monkeypatch.setattr("socket.getaddrinfo", lambda *_, **__: [])  # as if online
    with pytest.raises(BlockbenchError, match=r"pip install importlib-resources") as raised:
        get_components().datasets.get("oxford-flowers102").factory.load(data_dir=str(tmp_path))
    assert "'importlib_resources'" in str(raised.value) and "\n" not in str(raised.value)


def test_dry_run_plans_from_the_prepared_copy_and_finds_its_runs(
        flowers: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    """The description comes from the prepared copy; the runs a compare stored cost nothing."""
    data_dir, _ = flowers
    entry = get_components().datasets.get("oxford-flowers102")
    summary = entry.factory.describe(data_dir=str(data_dir), download=False)
    assert summary is not None and summary.n_classes == N_CLASSES
    assert dict(summary.examples) == {"train": 106, "val": 102, "test": 112}
    assert summary.fingerprint == "tfds:oxford_flowers102/2.1.1"
    assert str(data_dir) in summary.note
    args = ["compare", "-b", "demo-cnn", "-d", "oxford-flowers102", "--dataset-option",
            f"data_dir={data_dir}", "--dataset-option", "download=false", "--official-split",
            "--weights", "none", "--input-size", "32", "--epochs", "1", "--seeds", "1",
            "--policy", "exhaustive", "--quiet", "--out", str(tmp_path / "out")]
    before = CliRunner().invoke(cli, [*args, "--dry-run", "--format", "json"])
    assert before.exit_code == 0, before.output
    (row,) = json.loads(before.stdout)["rows"]
    assert row["split_sizes"] == {"train": 106, "val": 102, "test": 112} and row["split_sizes_exact"]
    assert row["stored"] == 0 and not (tmp_path / "out").exists()
    assert CliRunner().invoke(cli, [*args, "--seeds", "1"]).exit_code == 0
    after = CliRunner().invoke(cli, [*args, "--seeds", "2", "--dry-run", "--format", "json"])
    (row,) = json.loads(after.stdout)["rows"]
    assert row["runs"] == 2 * (row["blocks"] + 2) and row["stored"] == row["blocks"] + 2


def test_dry_run_of_a_dataset_never_downloaded_uses_its_published_sizes(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, [
        "compare", "-b", "demo-cnn", "-d", "caltech101", "--dataset-option",
        f"data_dir={tmp_path / 'empty'}", "--official-split", "--dry-run", "--format", "json",
        "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["rows"]
    assert row["n_classes"] == 102 and row["split_sizes"]["test"] == 6084
    assert row["split_sizes"]["train"] + row["split_sizes"]["val"] == 3060
    assert "published sizes" in row["data_note"] and not (tmp_path / "empty").exists()


def test_an_unresolvable_download_host_fails_at_once_without_tfds_retries(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline (no DNS), the line comes before TFDS tries (and retries) a single download."""
    import socket

    from tensorflow_datasets.core.download import downloader

    asked: list[str] = []

    def no_dns(host: str, *args: Any, **kwargs: Any) -> Any:
        asked.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("TFDS tried to download although the host does not resolve")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    monkeypatch.setattr(downloader, "_open_url", never)
    factory = get_components().datasets.get("oxford-flowers102").factory
    with pytest.raises(BlockbenchError, match=r"^downloading oxford_flowers102 needs network "
                                              r"access; or point `--dataset-option data_dir"):
        factory.load(data_dir=str(tmp_path / "tfds"))
    assert asked == ["www.robots.ox.ac.uk"]


class _PreparedContract(DatasetContract):
    """The dataset contract on a copy TFDS's real builder prepared from the tiny archives."""

    prepared: str = ""
    plugin_module = "blockbench_plugins.datasets"

    @pytest.fixture(scope="class")
    @classmethod
    def dataset_factory(cls, request: pytest.FixtureRequest) -> Any:
        data_dir, _ = request.getfixturevalue(cls.prepared)
        cls.options = {"data_dir": str(data_dir), "download": False}
        return get_components().datasets.get(cls.registered_name or "").factory


@pytest.mark.tf
class TestFlowers102Contract(_PreparedContract):
    prepared = "flowers"
    registered_name = "oxford-flowers102"


@pytest.mark.tf
class TestCaltech101Contract(_PreparedContract):
    prepared = "caltech"
    registered_name = "caltech101"


def test_a_download_host_behind_a_proxy_is_left_to_the_proxy(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With HTTPS_PROXY set, local DNS may know no outside name: the proxy resolves it."""
    import socket

    from tensorflow_datasets.core.download import downloader

    def no_dns(host: str, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"looked up {host} although a proxy resolves it")

    def proxy_down(url: str, **kwargs: Any) -> Any:
        raise ConnectionError("proxy refused the connection")

    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    monkeypatch.setattr(downloader, "_open_url", proxy_down)
    factory = get_components().datasets.get("oxford-flowers102").factory
    with pytest.raises(BlockbenchError, match=r"^downloading oxford_flowers102 needs network"):
        factory.load(data_dir=str(tmp_path / "tfds"))
