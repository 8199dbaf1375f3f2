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
    code = ("import sys, blockbench_plugins.datasets, blockbench_plugins.tfds_datasets; "
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
    with pytest.raises(BlockbenchError, match=r"pip install tensorflow-datasets$"):
        TFDSDataset("tf_flowers", {"train": "train"}).load()


@pytest.mark.tf
def test_tfds_not_prepared_offline(tmp_path: Path) -> None:
    factory = TFDSDataset("tf_flowers", {"train": "train"})
    with pytest.raises(UsageError, match=rf"^tf_flowers is not prepared in {tmp_path}/tf_flowers/"
                                         r"[0-9.]+ and download=false; .*download=true"):
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
    offline = {"download": False}  # mock data stands in for a prepared copy: nothing to download
    with tfds.testing.mock_data(num_examples=40, policy=tfds.testing.MockPolicy.USE_CODE):
        prepared = data.prepare(entry.name, entry.factory, offline, 16, SplitConfig())
        assert prepared.images.shape == (40, 16, 16, 3) and prepared.n_classes == 5
        assert sum(len(v) for v in prepared.indices.values()) == 40
        assert prepared.fingerprint.startswith("tfds:tf_flowers/")
        with pytest.raises(UsageError, match="dataset 'tf-flowers' has no official split"):
            data.prepare(entry.name, entry.factory, offline, 16, SplitConfig(kind="official"))


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
        "ignored 2 file(s) without an image extension (beta 1, top level 1; images are jpg, jpeg, "
        "png, bmp, gif): README.md, beta/notes.txt",
        "skipped 1 unreadable file(s) (gamma 1): gamma/dangling.jpg",
    ]
    assert source.dropped == {"gamma": {"unreadable": 1}}


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
    assert "skipped 1 undecodable image(s) (dog 1): dog/broken.jpg" in prepared.notes
    assert np.bincount(prepared.labels).tolist() == [4, 3]
    _write(root / "dog" / "3.png", b"also corrupt")  # dog now keeps 3 of 5 files
    _write(root / "dog" / "4.png", b"also corrupt")
    (root / "dog" / "2.jpeg").write_bytes(b"corrupt too")
    with pytest.raises(UsageError, match=r"class 'dog' has 2 image\(s\)"):
        data.prepare("image-folder", ImageFolder(), {"path": str(root)}, 32, SplitConfig())


@pytest.mark.tf
def test_image_folder_official_layout(tmp_path: Path) -> None:
    import tensorflow as tf

    layout = {"train": 4, "val": 1, "test": 2}
    shade = iter(range(255))  # every image distinct: identical ones are kept once
    for split, count in layout.items():
        for name in ("a", "b"):
            for i in range(count):
                pixels = tf.io.encode_png(np.full((4, 4, 3), next(shade), np.uint8)).numpy()
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
    # 4,064 files: 2 sunflowers are byte-identical copies of others (kept once), and 4 roses
    # are byte-identical to 4 tulips (conflicting labels: all 8 left out).
    assert prepared.images.shape == (4054, 64, 64, 3) and prepared.skipped == 0
    assert np.bincount(prepared.labels).tolist() == [742, 1016, 755, 692, 849]
    assert [n.split(" (")[0] for n in prepared.notes] == [
        "left out 2 byte-identical duplicate(s) of an image in the same class, one copy kept",
        "left out 8 image(s) whose identical copies are labelled with different classes, every copy, "
        "as either label may be wrong"]
    assert [len(prepared.indices[s]) for s in ("train", "val", "test")] == [2839, 810, 405]
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


def _photo(path: Path, seed: int, fmt: str = "PNG", size: int = 12) -> bytes:
    """A real, distinct image file (random pixels, encoded by Pillow)."""
    import io

    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt)
    _write(path, buffer.getvalue())
    return buffer.getvalue()


def _photos(root: Path, classes: dict[str, int], start: int = 0) -> None:
    seed = start
    for name, count in classes.items():
        for i in range(count):
            _photo(root / name / f"{i}.png", seed)
            seed += 1


def test_image_folder_follows_each_folder_once(tmp_path: Path) -> None:
    root = tmp_path / "imgs"
    _photos(root, {"a": 4, "b": 4, "c": 4})
    (root / "a" / "loop").symlink_to(".")  # a cycle: the class itself
    (root / "b" / "up").symlink_to("..")  # a parent: the whole image folder
    (root / "c" / "other").symlink_to("../a")  # another class: a repeat
    (root / "again").symlink_to(".")  # at the top level: not a class
    _photo(tmp_path / "outside" / "deep.png", 100)
    (root / "c" / "ext").symlink_to(tmp_path / "outside")  # a folder outside: followed once
    _photo(tmp_path / "lone.png", 101)
    (root / "b" / "lone.png").symlink_to(tmp_path / "lone.png")  # a file outside: followed
    source = ImageFolder().load(path=str(root))
    assert source.class_names == ["a", "b", "c"]
    refs = [e.ref for e in source.examples]
    assert len(refs) == len(set(refs)) == 14
    assert "c/ext/deep.png" in refs and "b/lone.png" in refs
    assert source.notes == [
        "did not follow 4 folder link(s) leading back to a folder already walked (a cycle or a "
        "repeat): again -> the image folder itself, a/loop -> a, b/up -> the image folder itself, "
        "c/other -> a"]


def test_image_folder_link_to_a_parent_outside_is_a_cycle(tmp_path: Path) -> None:
    root = tmp_path / "data" / "imgs"
    _photos(root, {"a": 3, "b": 3})
    _photo(tmp_path / "data" / "beside.png", 50)
    (root / "a" / "top").symlink_to(tmp_path / "data")  # contains the image folder
    source = ImageFolder().load(path=str(root))
    assert len(list(source.examples)) == 6
    assert source.notes[0].endswith(f"a/top -> {tmp_path / 'data'}")


def test_image_folder_keeps_identical_images_once(tmp_path: Path) -> None:
    root = tmp_path / "imgs"
    _photos(root, {"roses": 4, "tulips": 4})
    shutil.copy(root / "roses" / "0.png", root / "roses" / "copy.png")  # same class: keep one
    (root / "roses" / "link.png").symlink_to("1.png")  # a link to a file is a copy too
    shutil.copy(root / "tulips" / "3.png", root / "roses" / "mislabelled.png")  # two labels
    source = ImageFolder().load(path=str(root))
    refs = [e.ref for e in source.examples]
    assert refs == ["roses/0.png", "roses/1.png", "roses/2.png", "roses/3.png",
                    "tulips/0.png", "tulips/1.png", "tulips/2.png"]
    assert source.notes == [
        "left out 2 byte-identical duplicate(s) of an image in the same class, one copy kept "
        "(roses 2): roses/copy.png (= roses/0.png), roses/link.png (= roses/1.png)",
        "left out 2 image(s) whose identical copies are labelled with different classes, every "
        "copy, as either label may be wrong (roses 1, tulips 1): roses/mislabelled.png = "
        "tulips/3.png"]
    assert source.dropped == {"roses": {"duplicates of a file in the same class": 2,
                                        "duplicates of images in class 'tulips'": 1},
                              "tulips": {"duplicates of images in class 'roses'": 1}}
    # What is left is what a folder without the copies holds, and digests alike.
    for name in ("copy.png", "link.png", "mislabelled.png"):
        (root / "roses" / name).unlink()
    (root / "tulips" / "3.png").unlink()
    assert ImageFolder().load(path=str(root)).fingerprint == source.fingerprint


def test_official_split_keeps_the_train_copy_of_a_leaked_image(tmp_path: Path) -> None:
    root = tmp_path / "imgs"
    for split, start in (("train", 0), ("val", 20), ("test", 40)):
        _photos(root / split, {"a": 3, "b": 3}, start)
    shutil.copy(root / "train" / "a" / "0.png", root / "test" / "a" / "leak.png")
    source = ImageFolder().load(path=str(root))
    examples = list(source.examples)
    assert len(examples) == 18
    assert [e.split for e in examples if e.ref.endswith("a/0.png")] == ["train", "val", "test"]
    assert "(a 1): test/a/leak.png (= train/a/0.png)" in source.notes[0]


def test_clean_folder_fingerprint_is_unchanged(tmp_path: Path) -> None:
    """The digest of a folder without links, copies or bad files is what it always was."""
    import hashlib

    root = tmp_path / "imgs"
    _photos(root, {"a": 3, "b": 2})
    _photo(root / "a" / "sub" / "deeper.png", 30)
    _photo(root / "a" / "z.png", 31)
    digest = hashlib.sha256()
    for rel in ("a/0.png", "a/1.png", "a/2.png", "a/z.png", "a/sub/deeper.png", "b/0.png", "b/1.png"):
        content = (root / rel).read_bytes()
        digest.update(f"{rel}\0{len(content)}\0{hashlib.sha256(content).hexdigest()}\n".encode())
    source = ImageFolder().load(path=str(root))
    assert source.fingerprint == f"image-folder:sha256:{digest.hexdigest()}"
    assert [e.ref for e in source.examples][3:5] == ["a/z.png", "a/sub/deeper.png"]
    assert source.notes == []


@pytest.mark.tf
def test_image_folder_counts_bad_files_per_class_and_explains_an_empty_class(tmp_path: Path
                                                                            ) -> None:
    root = tmp_path / "imgs"
    _photos(root, {"roses": 4, "tulips": 4, "violets": 4})
    jpeg = _photo(root / "tulips" / "half.jpg", 60, "JPEG", size=64)
    (root / "tulips" / "half.jpg").write_bytes(jpeg[: len(jpeg) // 2])  # truncated
    _write(root / "violets" / "text.png", b"not an image at all")
    prepared = data.prepare("image-folder", ImageFolder(), {"path": str(root)}, 8, SplitConfig())
    assert np.bincount(prepared.labels).tolist() == [4, 4, 4]
    assert prepared.skipped == 2
    assert ("skipped 2 undecodable image(s) (tulips 1, violets 1): tulips/half.jpg, "
            "violets/text.png") in prepared.notes

    for i in range(4):
        (root / "roses" / f"{i}.png").write_bytes(jpeg[:100] + bytes([i]))
    with pytest.raises(UsageError, match=r"^class 'roses' of dataset 'image-folder' has no usable "
                                         r"image: 4 file\(s\), all undecodable; fix or remove them$"):
        data.prepare("image-folder", ImageFolder(), {"path": str(root)}, 8, SplitConfig())
    for i in range(3):
        shutil.copy(root / "tulips" / f"{i}.png", root / "roses" / f"{i}.png")
    with pytest.raises(UsageError, match=r"class 'roses' .* 4 file\(s\), none usable: 3 duplicates "
                                         r"of images in class 'tulips', 1 undecodable"):
        data.prepare("image-folder", ImageFolder(), {"path": str(root)}, 8, SplitConfig())
    (root / "roses" / "3.png").unlink()
    with pytest.raises(UsageError, match=r"class 'roses' .* 3 file\(s\), all duplicates of images "
                                         r"in class 'tulips'; fix"):
        data.prepare("image-folder", ImageFolder(), {"path": str(root)}, 8, SplitConfig())
