"""Decoding, resizing, skip accounting, caches and splits of ``blockbench.data.prepare``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from blockbench.components.dataset import DatasetFactory, DatasetSource, Example
from blockbench.core.errors import BlockbenchError, UsageError
from blockbench.core.task import SplitConfig
from blockbench.data import prepare as data

pytestmark = pytest.mark.tf

# A valid 1x1 white GIF (hand-assembled: TensorFlow cannot encode GIF).
GIF_1X1 = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00"
           b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


def png(array: np.ndarray) -> bytes:
    import tensorflow as tf

    return tf.io.encode_png(array).numpy()


def jpeg(array: np.ndarray) -> bytes:
    import tensorflow as tf

    return tf.io.encode_jpeg(array, quality=95).numpy()


def solid(color: tuple[int, ...], size: tuple[int, int] = (20, 30)) -> np.ndarray:
    return np.broadcast_to(np.array(color, np.uint8), (*size, len(color))).copy()


class FakeFactory(DatasetFactory):
    """Serves fixed examples and counts how often they are consumed."""

    option_defaults = {"variant": "a"}

    def __init__(self, examples: list[Example], class_names: list[str], *,
                 official: bool = False, fingerprint: str = "fake:1") -> None:
        self.examples, self.class_names = examples, class_names
        self.official, self.fingerprint, self.consumed = official, fingerprint, 0

    def load(self, **options: Any) -> DatasetSource:
        return DatasetSource(self.class_names, self._iterate(), self.fingerprint,
                             has_official_split=self.official, skipped=1, notes=["factory note"])

    def _iterate(self) -> Iterator[Example]:
        self.consumed += 1
        yield from self.examples


def colored_examples(per_class: int = 5) -> list[Example]:
    colors = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    return [Example(png(solid(color)), label, ref=f"c{label}/{i}.png")
            for label, color in enumerate(colors) for i in range(per_class)]


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    data.clear_cache()
    yield
    data.clear_cache()


def test_decode_formats_and_conversions() -> None:
    rng = np.random.default_rng(0)
    picture = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, (16, 16, 1), dtype=np.uint8)
    rgba = np.concatenate([picture, np.full((16, 16, 1), 7, np.uint8)], axis=2)
    payloads: list[bytes | np.ndarray] = [
        png(picture), png(gray), png(rgba), jpeg(solid((200, 100, 50))), GIF_1X1,
        picture, gray[..., 0], rgba, solid((9, 9, 9), (40, 10)),
        b"not an image", jpeg(picture)[:60], picture.astype(np.float32),
    ]
    images, ok = data.decode_images(payloads, 16)
    assert images.shape == (12, 16, 16, 3) and images.dtype == np.uint8
    assert ok.tolist() == [True] * 9 + [False] * 3
    assert np.array_equal(images[0], picture)  # same size: resizing is the identity
    assert np.array_equal(images[1], np.repeat(gray, 3, axis=2))  # grayscale -> RGB
    assert np.array_equal(images[2], picture)  # alpha dropped
    assert np.abs(images[3].astype(int) - [200, 100, 50]).max() <= 3  # JPEG is lossy
    assert np.all(images[4] == 255)  # GIF first frame, upscaled
    assert np.array_equal(images[5], picture)  # decoded arrays take the same path
    assert np.array_equal(images[6], np.repeat(gray, 3, axis=2))
    assert np.array_equal(images[7], picture)
    assert np.all(images[8] == 9)  # resized solid colour stays exact after rounding


def test_bytes_and_arrays_resize_alike() -> None:
    picture = np.random.default_rng(1).integers(0, 256, (37, 23, 3), dtype=np.uint8)
    images, ok = data.decode_images([png(picture), picture], 12)
    assert ok.all()
    assert np.array_equal(images[0], images[1])


def test_prepare_skips_counts_and_splits() -> None:
    examples = colored_examples()
    examples.insert(3, Example(b"garbage", 0, ref="c0/bad.png"))
    factory = FakeFactory(examples, ["red", "green", "blue"])
    prepared = data.prepare("fake", factory, {}, 8, SplitConfig(seed=1))
    assert prepared.images.shape == (15, 8, 8, 3)
    assert prepared.labels.tolist() == [0] * 5 + [1] * 5 + [2] * 5
    assert prepared.skipped == 2  # one counted by the factory, one undecodable
    assert prepared.notes == ["factory note", "skipped 1 undecodable image(s) (red 1): c0/bad.png"]
    assert prepared.n_classes == 3 and prepared.class_names == ["red", "green", "blue"]
    assert prepared.fingerprint == "fake:1"
    assert prepared.split_identity == {"kind": "stratified", "fractions": [0.7, 0.2, 0.1],
                                       "seed": 1}
    assert [len(prepared.indices[s]) for s in ("train", "val", "test")] == [9, 3, 3]
    x, y = prepared.x("train"), prepared.y("train")
    assert x.shape == (9, 8, 8, 3) and sorted(np.bincount(y).tolist()) == [3, 3, 3]
    assert np.all(x[y == 1] == [0, 255, 0])
    assert not prepared.images.flags.writeable
    with pytest.raises(UsageError, match="unknown split 'validation'"):
        prepared.x("validation")


def test_memory_cache_decodes_once_per_key() -> None:
    factory = FakeFactory(colored_examples(), ["r", "g", "b"])
    first = data.prepare("fake", factory, {}, 8, SplitConfig())
    second = data.prepare("fake", factory, {}, 8, SplitConfig(seed=4))
    assert factory.consumed == 1 and second.images is first.images
    data.prepare("fake", factory, {}, 10, SplitConfig())
    data.prepare("fake", factory, {"variant": "b"}, 8, SplitConfig())
    assert factory.consumed == 3


def test_cache_key_components() -> None:
    base = data.cache_key("fake", "fp", {"a": 1}, 32)
    assert base == data.cache_key("fake", "fp", {"a": 1}, 32)
    others = {data.cache_key("fake", "fp2", {"a": 1}, 32), data.cache_key("fake", "fp", {"a": 2}, 32),
              data.cache_key("fake", "fp", {"a": 1}, 64), data.cache_key("other", "fp", {"a": 1}, 32)}
    assert base not in others and len(others) == 4


def test_disk_cache_round_trip_and_repair(tmp_path: Path) -> None:
    examples = colored_examples()
    examples.append(Example(b"garbage", 2, ref="c2/bad.png"))
    factory = FakeFactory(examples, ["r", "g", "b"])
    first = data.prepare("fake", factory, {}, 8, SplitConfig(), cache_dir=tmp_path)
    data.clear_cache()
    second = data.prepare("fake", factory, {}, 8, SplitConfig(), cache_dir=tmp_path)
    assert factory.consumed == 1
    assert np.array_equal(first.images, second.images)
    assert np.array_equal(first.labels, second.labels)
    assert (second.skipped, second.notes) == (first.skipped, first.notes)
    for split in first.indices:
        assert np.array_equal(first.indices[split], second.indices[split])
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", ".npy"]

    next(tmp_path.glob("*.npy")).write_bytes(b"truncated")
    data.clear_cache()
    third = data.prepare("fake", factory, {}, 8, SplitConfig(), cache_dir=tmp_path)
    assert factory.consumed == 2 and np.array_equal(first.images, third.images)


def test_official_split_and_its_absence() -> None:
    examples = [Example(e.image, e.label, split, e.ref)
                for e, split in zip(colored_examples(4), ["train", "train", "val", "test"] * 3,
                                    strict=True)]
    official = FakeFactory(examples, ["r", "g", "b"], official=True)
    prepared = data.prepare("fake", official, {}, 8, SplitConfig(kind="official"))
    assert prepared.indices["train"].tolist() == [0, 1, 4, 5, 8, 9]
    assert prepared.indices["val"].tolist() == [2, 6, 10]
    assert prepared.split_identity == {"kind": "official"}
    plain = FakeFactory(colored_examples(), ["r", "g", "b"], fingerprint="fake:2")
    with pytest.raises(UsageError, match="dataset 'plain' has no official split"):
        data.prepare("plain", plain, {}, 8, SplitConfig(kind="official"))


def test_errors() -> None:
    factory = FakeFactory(colored_examples(), ["r", "g", "b"])
    with pytest.raises(UsageError, match="input size 0 is not valid"):
        data.prepare("fake", factory, {}, 0, SplitConfig())
    with pytest.raises(UsageError, match=r"unknown dataset option.*colour; valid: variant"):
        data.prepare("fake", factory, {"colour": "red"}, 8, SplitConfig())
    broken = FakeFactory([Example(b"x", 0), Example(b"y", 1)], ["r", "g"], fingerprint="fake:3")
    with pytest.raises(BlockbenchError, match=r"dataset 'broken' has no decodable image \(3 skipped\)"):
        data.prepare("broken", broken, {}, 8, SplitConfig())
    mislabelled = FakeFactory([Example(png(solid((1, 2, 3))), 5, ref="z.png")], ["r", "g"],
                              fingerprint="fake:4")
    with pytest.raises(BlockbenchError, match=r"gave label 5 for z\.png; it has 2 classes"):
        data.prepare("bad", mislabelled, {}, 8, SplitConfig())
    small = FakeFactory(colored_examples(2), ["r", "g", "b"], fingerprint="fake:5")
    with pytest.raises(UsageError, match=r"class 'r' has 2 image\(s\)"):
        data.prepare("small", small, {}, 8, SplitConfig())


def test_truncated_jpeg_is_undecodable_not_grey_filled() -> None:
    import io

    from PIL import Image

    ramp = np.linspace(0, 255, 48, dtype=np.uint8)  # smooth, so JPEG keeps it close
    picture = np.stack(np.broadcast_arrays(ramp[:, None], ramp[None, :], 128), axis=-1).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, "JPEG", quality=90)
    whole = buffer.getvalue()
    images, ok = data.decode_images([whole, whole[: len(whole) // 2], whole[:-2]], 48)
    assert ok.tolist() == [True, False, False]
    assert np.abs(images[0].astype(int) - picture).mean() < 3


class DroppingFactory(FakeFactory):
    """A factory that left files out itself, and says so per class."""

    def load(self, **options: Any) -> DatasetSource:
        source = super().load(**options)
        source.dropped = {"green": {"unreadable": 2}, "blue": {"unreadable": 1}}
        return source


def test_undecodable_images_are_counted_per_class_and_an_emptied_class_is_refused() -> None:
    examples = [e for e in colored_examples() if e.label != 1]
    examples.insert(2, Example(b"garbage", 0, ref="c0/bad.png"))
    examples.append(Example(b"junk", 1, ref="c1/junk.png"))
    factory = DroppingFactory(examples, ["red", "green", "blue"])
    with pytest.raises(UsageError, match=r"^class 'green' of dataset 'fake' has no usable image: "
                                         r"3 file\(s\), none usable: 2 unreadable, 1 undecodable; "
                                         r"fix or remove them$"):
        data.prepare("fake", factory, {}, 8, SplitConfig())
    examples.append(Example(png(solid((0, 255, 0))), 1, ref="c1/ok.png"))
    examples += [Example(png(solid((0, 250 - i, 0))), 1, ref=f"c1/{i}.png") for i in range(3)]
    prepared = data.prepare("fake", DroppingFactory(examples, ["red", "green", "blue"],
                                                    fingerprint="fake:6"), {}, 8, SplitConfig())
    assert prepared.notes[-1] == ("skipped 2 undecodable image(s) (red 1, green 1): c0/bad.png, "
                                  "c1/junk.png")
    assert prepared.skipped == 3 and np.bincount(prepared.labels).tolist() == [5, 4, 5]
