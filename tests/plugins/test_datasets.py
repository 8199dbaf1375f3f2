"""The built-in datasets: registration, TFDS collections (mocked, offline) and image folders."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from blockbench_plugins.datasets import ImageFolder, TFDSDataset

from blockbench.core.errors import BlockbenchError, UsageError
from blockbench.core.task import SplitConfig
from blockbench.data import prepare as data
from blockbench.testing import DatasetContract


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    data.clear_cache()
    yield
    data.clear_cache()


def test_registered_names_and_alias() -> None:
    from blockbench.plugin.manager import get_components

    datasets = get_components().datasets
    for name in ("oxford-flowers102", "caltech101", "tf-flowers", "image-folder"):
        assert name in datasets.names()
    assert datasets.get("flowers102").name == "oxford-flowers102"
    assert datasets.get("tf_flowers").factory.tfds_name == "tf_flowers"


def test_module_import_does_not_load_tensorflow() -> None:
    code = ("import sys, blockbench_plugins.datasets; "
            "assert 'tensorflow' not in sys.modules and 'tensorflow_datasets' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_tfds_options() -> None:
    factory = TFDSDataset("tf_flowers", {"train": "train"})
    assert factory.check_options({}) == {"data_dir": None, "download": True}
    assert factory.check_options({"download": "false"})["download"] is False
    assert factory.check_options({"data_dir": "~/d"})["data_dir"] == str(Path("~/d").expanduser())
    with pytest.raises(UsageError, match="download='maybe' is not valid; use true or false"):
        factory.check_options({"download": "maybe"})
    with pytest.raises(UsageError, match=r"unknown dataset option.*path; valid: data_dir, download"):
        factory.check_options({"path": "x"})


def test_tfds_missing_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)
    with pytest.raises(UsageError, match=r"pip install 'blockbench\[tfds\]'"):
        TFDSDataset("tf_flowers", {"train": "train"}).load()


@pytest.mark.tf
def test_tfds_not_prepared_offline(tmp_path: Path) -> None:
    factory = TFDSDataset("tf_flowers", {"train": "train"})
    with pytest.raises(BlockbenchError, match=r"could not load TFDS dataset 'tf_flowers'.*download=true"):
        factory.load(data_dir=str(tmp_path), download=False)


@pytest.mark.tf
@pytest.mark.parametrize(
    ("tfds_name", "n_classes", "splits"),
    [("oxford_flowers102", 102, ["train", "val", "test"]),
     ("caltech101", 102, ["train", "test"]),
     ("tf_flowers", 5, [None])],
)
def test_tfds_load_and_decode_mocked(tfds_name: str, n_classes: int, splits: list) -> None:
    import tensorflow_datasets as tfds

    from blockbench.plugin.manager import get_components

    factory = get_components().datasets.get(tfds_name).factory
    with tfds.testing.mock_data(num_examples=4, policy=tfds.testing.MockPolicy.USE_CODE):
        source = factory.load(data_dir="/nonexistent/tfds", download=False)
        assert len(source.class_names) == n_classes
        assert source.fingerprint == f"tfds:{tfds.builder(tfds_name).info.full_name}"
        assert source.has_official_split == (splits != [None])
        examples = list(source.examples)
    assert [e.split for e in examples] == [s for s in splits for _ in range(4)]
    assert all(isinstance(e.image, bytes) for e in examples)  # SkipDecoding kept them encoded
    assert examples[0].ref.startswith(f"{tfds_name}/train#0")
    source.examples = examples
    decoded = data.decode_source(source, 24, name=tfds_name)
    assert decoded.images.shape == (len(examples), 24, 24, 3) and decoded.skipped == 0
    assert decoded.labels.tolist() == [e.label for e in examples]


@pytest.mark.tf
def test_tf_flowers_prepare_mocked() -> None:
    import tensorflow_datasets as tfds

    from blockbench.plugin.manager import get_components

    entry = get_components().datasets.get("tf-flowers")
    with tfds.testing.mock_data(num_examples=40, policy=tfds.testing.MockPolicy.USE_CODE):
        prepared = data.prepare(entry.name, entry.factory, {}, 16, SplitConfig())
        assert prepared.images.shape == (40, 16, 16, 3) and prepared.n_classes == 5
        assert sum(len(v) for v in prepared.indices.values()) == 40
        assert prepared.fingerprint.startswith("tfds:tf_flowers/")
        with pytest.raises(UsageError, match="dataset 'tf-flowers' has no official split"):
            data.prepare(entry.name, entry.factory, {}, 16, SplitConfig(kind="official"))


def _write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Three classes of tiny images (raw bytes: nothing is decoded until prepare)."""
    root = tmp_path / "imgs"
    for name, count in (("alpha", 4), ("beta", 3), ("gamma", 5)):
        for i in range(count):
            _write(root / name / f"{i}.png", f"{name}-{i}".encode())
    _write(root / "beta" / "deep" / "x.JPG", b"jpeg-like")
    _write(root / "beta" / "notes.txt", b"not an image")
    _write(root / "alpha" / ".hidden.png", b"ignored")
    _write(root / ".cache" / "z.png", b"ignored")
    _write(root / "README.md", b"ignored")
    (root / "gamma" / "dangling.jpg").symlink_to(tmp_path / "missing.jpg")
    return root


def test_image_folder_scan(folder: Path) -> None:
    source = ImageFolder().load(path=str(folder))
    assert source.class_names == ["alpha", "beta", "gamma"]
    examples = list(source.examples)
    assert [e.label for e in examples] == [0] * 4 + [1] * 4 + [2] * 5
    assert "beta/deep/x.JPG" in [e.ref for e in examples]
    assert examples[0].image == b"alpha-0" and examples[0].split is None
    assert not source.has_official_split
    assert source.skipped == 1
    assert source.notes == [
        "ignored 2 file(s) without an image extension (jpg, jpeg, png, bmp, gif), e.g. README.md",
        "skipped 1 unreadable file(s): gamma/dangling.jpg",
    ]


def test_image_folder_fingerprint(folder: Path, tmp_path: Path) -> None:
    base = ImageFolder().load(path=str(folder)).fingerprint
    moved = tmp_path / "elsewhere"
    shutil.copytree(folder, moved, symlinks=True)
    assert ImageFolder().load(path=str(moved)).fingerprint == base
    (moved / "alpha" / "0.png").write_bytes(b"alpha-X")  # same size, other content
    edited = ImageFolder().load(path=str(moved)).fingerprint
    assert edited != base
    (moved / "alpha" / "0.png").rename(moved / "alpha" / "9.png")
    assert ImageFolder().load(path=str(moved)).fingerprint not in {base, edited}


def test_image_folder_errors(tmp_path: Path) -> None:
    factory = ImageFolder()
    with pytest.raises(UsageError, match="needs the option path"):
        factory.check_options({})
    with pytest.raises(UsageError, match="does not exist"):
        factory.load(path=str(tmp_path / "nope"))
    _write(tmp_path / "file.png", b"x")
    with pytest.raises(UsageError, match="is not a folder"):
        factory.load(path=str(tmp_path / "file.png"))
    with pytest.raises(UsageError, match=r"unknown dataset option.*size; valid: max_per_class, path"):
        factory.check_options({"path": str(tmp_path), "size": 3})
    _write(tmp_path / "one" / "only" / "a.png", b"x")
    with pytest.raises(UsageError, match=r"has 1 class folder\(s\) \(only\); at least 2"):
        factory.load(path=str(tmp_path / "one"))
    _write(tmp_path / "two" / "full" / "a.png", b"x")
    _write(tmp_path / "two" / "empty" / "a.txt", b"x")
    with pytest.raises(UsageError, match=r"class 'empty' in image folder .* has 0 image files"):
        factory.load(path=str(tmp_path / "two"))
    for split in ("train", "test", "extra"):
        _write(tmp_path / "three" / split / "c" / "a.png", b"x")
    with pytest.raises(UsageError, match="also extra; use only train, val, test"):
        factory.load(path=str(tmp_path / "three"))


@pytest.mark.tf
def test_image_folder_prepare_with_corrupt_file(tmp_path: Path) -> None:
    import tensorflow as tf

    root = tmp_path / "imgs"
    rng = np.random.default_rng(0)
    for name, count in (("cat", 4), ("dog", 3)):
        for i in range(count):
            pixels = rng.integers(0, 256, (12 + i, 9, 3), dtype=np.uint8)
            encode = tf.io.encode_png if i % 2 else tf.io.encode_jpeg
            _write(root / name / f"{i}.{'png' if i % 2 else 'jpeg'}", encode(pixels).numpy())
    _write(root / "dog" / "broken.jpg", b"\xff\xd8\xff\xe0 corrupt")
    _write(root / "dog" / "notes.txt", b"hello")
    prepared = data.prepare("image-folder", ImageFolder(), {"path": str(root)}, 32, SplitConfig())
    assert prepared.images.shape == (7, 32, 32, 3)
    assert prepared.skipped == 1
    assert "skipped 1 undecodable image(s): dog/broken.jpg" in prepared.notes
    assert np.bincount(prepared.labels).tolist() == [4, 3]
    _write(root / "dog" / "3.png", b"also corrupt")  # dog now keeps 3 of 5 files
    _write(root / "dog" / "4.png", b"also corrupt")
    (root / "dog" / "2.jpeg").write_bytes(b"corrupt too")
    with pytest.raises(UsageError, match=r"class 'dog' has 2 image\(s\)"):
        data.prepare("image-folder", ImageFolder(), {"path": str(root)}, 32, SplitConfig())


@pytest.mark.tf
def test_image_folder_official_layout(tmp_path: Path) -> None:
    import tensorflow as tf

    pixels = tf.io.encode_png(np.zeros((4, 4, 3), np.uint8)).numpy()
    layout = {"train": 4, "val": 1, "test": 2}
    for split, count in layout.items():
        for name in ("a", "b"):
            for i in range(count):
                _write(tmp_path / "full" / split / name / f"{i}.png", pixels)
    prepared = data.prepare("image-folder", ImageFolder(), {"path": str(tmp_path / "full")}, 8,
                            SplitConfig(kind="official"))
    assert {s: len(v) for s, v in prepared.indices.items()} == {"train": 8, "val": 2, "test": 4}
    assert prepared.split_identity == {"kind": "official"}
    stratified = data.prepare("image-folder", ImageFolder(), {"path": str(tmp_path / "full")}, 8,
                              SplitConfig())
    assert sum(len(v) for v in stratified.indices.values()) == 14

    shutil.copytree(tmp_path / "full", tmp_path / "noval")
    shutil.rmtree(tmp_path / "noval" / "val")
    carved = data.prepare("image-folder", ImageFolder(), {"path": str(tmp_path / "noval")}, 8,
                          SplitConfig(kind="official"))
    assert {s: len(v) for s, v in carved.indices.items()} == {"train": 6, "val": 2, "test": 4}
    assert carved.split_identity["val_from_train"] == pytest.approx(0.2 / 0.9, abs=1e-6)


@pytest.mark.tf
@pytest.mark.slow
@pytest.mark.assets
def test_flowers5_folder(assets_dir: Path) -> None:
    prepared = data.prepare("image-folder", ImageFolder(), {"path": str(assets_dir / "flowers5")},
                            64, SplitConfig())
    assert prepared.class_names == ["daisy", "dandelion", "rose", "sunflower", "tulip"]
    assert prepared.images.shape == (4064, 64, 64, 3) and prepared.skipped == 0
    assert np.bincount(prepared.labels).tolist() == [742, 1016, 759, 694, 853]
    assert [len(prepared.indices[s]) for s in ("train", "val", "test")] == [2845, 813, 406]
    assert 60 < prepared.images.mean() < 200  # real photos, not blank arrays


@pytest.mark.slow
@pytest.mark.assets
class TestImageFolderContract(DatasetContract):
    """The shared dataset contract, on the real flowers5 folder."""

    factory = ImageFolder()
    plugin_module = "blockbench_plugins.datasets"
    registered_name = "image-folder"

    @pytest.fixture(scope="class")
    @classmethod
    def dataset_factory(cls, assets_dir: Path) -> ImageFolder:
        cls.options = {"path": str(assets_dir / "flowers5")}
        return ImageFolder()

    def test_check_options_completes_defaults(self, dataset_factory: ImageFolder) -> None:
        # path is required, so check_options({}) is an error rather than the defaults.
        with pytest.raises(UsageError, match="needs the option path"):
            dataset_factory.check_options({})
        assert dataset_factory.check_options(self.options) == {**self.options, "max_per_class": None}


def test_image_folder_max_per_class_subsamples_deterministically(assets_dir):
    from blockbench_plugins.datasets import ImageFolder

    from blockbench.core.errors import UsageError

    folder = ImageFolder()
    path = str(assets_dir / "flowers5")
    a = folder.load(path=path, max_per_class=40)
    b = folder.load(path=path, max_per_class=40)
    full = folder.load(path=path)
    assert a.fingerprint == b.fingerprint != full.fingerprint
    refs_a = [e.ref for e in a.examples]
    assert len(refs_a) == 5 * 40 and refs_a == [e.ref for e in b.examples]
    with pytest.raises(UsageError, match="max_per_class"):
        folder.check_options({"path": path, "max_per_class": 1})
