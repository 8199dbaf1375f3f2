"""Decode and resize images with Pillow: the TensorFlow-free twin of the ``tf.data`` decoder.

A Keras backend other than TensorFlow (JAX) must not need TensorFlow to read an
image folder. This decoder gives what :func:`blockbench.data.prepare.decode_images`
gives: PNG, BMP and GIF to within one grey level, JPEG to within a few (mean
under one: the two libraries' JPEG decoders use different inverse DCTs). RGB (grayscale replicated, alpha dropped
without compositing, a palette expanded, the first frame of an animation),
squashed to S x S without cropping, resized bilinearly *with* antialiasing
(Pillow's bilinear filter widens its support by the downscale factor, as
``tf.image.resize(..., antialias=True)`` does) in float32 per channel, then
rounded to uint8. A file Pillow cannot decode, a truncated one included, is
reported as not decoded, as TensorFlow's decoders refuse one.

The two decoders are not bit-identical (their fixed-point and float paths round
differently), so arrays decoded by one are never served for the other: the
decoded-data cache key names the decoder.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

from blockbench.core.quiet import quiet_section

#: Decoder names, as they enter the decoded-data cache key.
DECODERS = ("tensorflow", "pillow")


def decode_images_pillow(payloads: Sequence[bytes | np.ndarray], input_size: int
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Decode and resize encoded images or uint8 arrays; returns (images, decoded-ok mask)."""
    size = int(input_size)
    out = np.zeros((len(payloads), size, size, 3), dtype=np.uint8)
    ok = np.zeros(len(payloads), dtype=bool)
    # libjpeg reports each corrupt file on descriptor 2; the notes count and name them.
    with quiet_section():
        for i, payload in enumerate(payloads):
            encoded = isinstance(payload, (bytes, bytearray))
            rgb = _decode(payload) if encoded else as_rgb(payload)  # type: ignore[arg-type]
            if rgb is None:
                continue
            out[i] = rgb if rgb.shape[:2] == (size, size) else resize_rgb(rgb, size)
            ok[i] = True
    return out, ok


def _decode(blob: bytes | bytearray) -> np.ndarray | None:
    """An encoded image as uint8 HxWx3, or None when Pillow cannot decode all of it."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(bytes(blob))) as image:
            image.seek(0)  # an animation gives its first frame, as tf.io.decode_image does
            image.load()  # a truncated file raises here (LOAD_TRUNCATED_IMAGES stays off)
            return as_rgb(np.asarray(_rgb_mode(image)))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        return None


def _rgb_mode(image: object) -> object:
    """``image`` in a mode whose array is H x W (x 1, 3 or 4) uint8, without compositing alpha."""
    mode = image.mode  # type: ignore[attr-defined]
    if mode in ("L", "RGB", "RGBA"):
        return image
    if mode == "LA":  # grey and alpha: the grey
        return image.getchannel("L")  # type: ignore[attr-defined]
    if mode == "P":  # palette: its colours (and its transparency as alpha, dropped later)
        return image.convert("RGBA")  # type: ignore[attr-defined]
    if mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit grey: scaled to 8 bits like TF's PNG path
        array = np.asarray(image).astype(np.float64)
        from PIL import Image

        return Image.fromarray(np.round(array / 257.0).clip(0, 255).astype(np.uint8), "L")
    return image.convert("RGB")  # type: ignore[attr-defined]  # CMYK, YCbCr, 1-bit, ...


def as_rgb(array: object) -> np.ndarray | None:
    """A uint8 HxWx3 view of a decoded image, or None if it is not one."""
    a = np.asarray(array)
    if a.dtype != np.uint8:
        return None
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[0] == 0 or a.shape[1] == 0 or a.shape[2] not in (1, 3, 4):
        return None
    if a.shape[2] == 1:
        return np.repeat(a, 3, axis=2)
    return a[..., :3]


def resize_rgb(rgb: np.ndarray, size: int) -> np.ndarray:
    """Antialiased bilinear resize of uint8 HxWx3 to size x size, in float32, rounded to uint8."""
    from PIL import Image

    channels = [
        np.asarray(Image.fromarray(np.ascontiguousarray(rgb[..., c], dtype=np.float32), "F")
                   .resize((size, size), Image.Resampling.BILINEAR, reducing_gap=None))
        for c in range(3)
    ]
    return np.clip(np.round(np.stack(channels, axis=-1)), 0, 255).astype(np.uint8)
