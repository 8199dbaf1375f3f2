"""The Pillow decoder against the ``tf.data`` one: the same images in, the same arrays out."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from blockbench.components.dataset import DatasetSource, Example
from blockbench.data import prepare as data
from blockbench.data.pillow_decode import as_rgb, decode_images_pillow, resize_rgb

RNG = np.random.default_rng(0)


def photo(h: int, w: int) -> np.ndarray:
    """Gradients plus noise: smooth enough for JPEG, busy enough that resizing matters."""
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 / max(w - 1, 1), y * 255 / max(h - 1, 1),
                     (x + y) * 127 / max(h + w - 2, 1)], -1)
    return np.clip(base + RNG.normal(0, 25, (h, w, 3)), 0, 255).astype(np.uint8)


def encode(array: np.ndarray, fmt: str, mode: str | None = None) -> bytes:
    image = Image.fromarray(array)
    if mode:
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


SHAPES = [(64, 48), (300, 200), (20, 20), (128, 128), (97, 301)]
LOSSLESS = [("PNG", None), ("PNG", "RGBA"), ("PNG", "L"), ("PNG", "P"), ("PNG", "LA"),
            ("BMP", None)]
JPEG = [("JPEG", None), ("JPEG", "L")]


def payloads() -> tuple[list[bytes | np.ndarray], list[str]]:
    items: list[bytes | np.ndarray] = []
    names: list[str] = []
    for h, w in SHAPES:
        a = photo(h, w)
        for fmt, mode in LOSSLESS + JPEG:
            items.append(encode(a, fmt, mode))
            names.append(f"{fmt}-{mode or 'RGB'}")
        items += [a, a[..., 0], a[..., :1], np.dstack([a, a[..., :1]])]
        names += ["array", "array-2d", "array-1ch", "array-rgba"]
    frames = [Image.fromarray(photo(40, 40)) for _ in range(2)]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:])
    items += [gif.getvalue(), encode(photo(50, 50), "JPEG")[:600], b"not an image",
              photo(8, 8).astype(np.float32), np.zeros((0, 4, 3), np.uint8)]
    names += ["GIF-animated", "JPEG-truncated", "garbage", "array-float", "array-empty"]
    return items, names


@pytest.mark.tf
@pytest.mark.parametrize("size", [32, 128])
def test_pillow_gives_what_tensorflow_gives(size: int) -> None:
    items, names = payloads()
    tf_images, tf_ok = data.decode_images(items, size)
    pil_images, pil_ok = decode_images_pillow(items, size)
    assert tf_ok.tolist() == pil_ok.tolist()  # the same files refused
    refused = {n for n, ok in zip(names, pil_ok, strict=True) if not ok}
    assert refused == {"JPEG-truncated", "garbage", "array-float", "array-empty"}
    diff = np.abs(tf_images.astype(int) - pil_images.astype(int))
    for i, name in enumerate(names):
        if not pil_ok[i]:
            continue
        if name.startswith("JPEG"):  # the libraries' JPEG decoders use different inverse DCTs
            assert diff[i].max() <= 4 and diff[i].mean() < 1.0, name
        else:
            assert diff[i].max() <= 1, name


def test_resize_is_antialiased_and_keeps_constant_images() -> None:
    flat = np.full((90, 70, 3), 137, np.uint8)
    assert (resize_rgb(flat, 16) == 137).all()
    stripes = np.zeros((64, 64, 3), np.uint8)
    stripes[:, ::2] = 255  # one-pixel stripes: point sampling would give black or white
    small = resize_rgb(stripes, 8)
    assert np.abs(small[:, 1:-1].astype(int) - 128).max() <= 1  # the borders see one side only


def test_array_conversions() -> None:
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    rgb = as_rgb(grey)
    assert rgb is not None and rgb.shape == (3, 4, 3) and (rgb[..., 2] == grey).all()
    assert as_rgb(np.zeros((3, 4, 2), np.uint8)) is None  # as the TensorFlow path refuses it
    assert as_rgb(np.zeros((3, 4, 3), np.int32)) is None


def test_prepare_keeps_each_decoders_arrays_apart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The decoded-data cache never serves one decoder's arrays for the other."""
    examples = [Example(encode(photo(30, 30), "PNG"), label, None, f"{label}/{i}")
                for label in range(2) for i in range(4)]
    key_tf = data.cache_key("d", "fp", {}, 16)
    key_pil = data.cache_key("d", "fp", {}, 16, "pillow")
    assert key_tf != key_pil and key_tf == data.cache_key("d", "fp", {}, 16, "tensorflow")
    decoded = data.decode_source(DatasetSource(["a", "b"], examples, "fp"), 16, decoder="pillow")
    assert decoded.images.shape == (8, 16, 16, 3) and decoded.labels.tolist() == [0] * 4 + [1] * 4
